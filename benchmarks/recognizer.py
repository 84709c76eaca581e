"""`make bench-recognizer`: the offline recognizer on generated licenses with ground truth.

Field-level exact match (all 20 fields, empty fields included) per degradation and overall,
seconds per image and the process's peak memory (with MALLOC_ARENA_MAX=2, as the container image
sets it: onnxruntime's threads otherwise fragment memory into 700-850 MB peaks that vary run to
run); the table goes to benchmarks/recognizer-results.md.
`--package-size` also measures what the recognizer adds to a Lambda package (downloads wheels).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from sizes import folder_size, install_for_lambda, zip_size
from vehicle_license_intake.domain.fields import LICENSE_FIELDS
from vehicle_license_recognizer import LocalRecognizer
from vehicle_license_tools import synthetic

HERE = Path(__file__).resolve().parent


def package_size() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "t"
        install_for_lambda(target, "rapidocr>=3.10,<4", "onnxruntime>=1.20", "numpy", "pillow")
        unzipped, zipped = folder_size(target), zip_size(target)
        return (
            f"recognizer dependencies for python3.13/arm64: {unzipped / 1e6:.0f} MB unzipped, "
            f"{zipped / 1e6:.0f} MB zipped (Lambda zip limit: 250 MB unzipped, 50 MB upload)"
        )


def main() -> int:
    if "MALLOC_ARENA_MAX" not in os.environ:  # measured as Dockerfile.recognizer runs it
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "MALLOC_ARENA_MAX": "2"})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images", type=int, default=220, help="how many (at least 200 for the README's figures)"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--package-size", action="store_true")
    args = parser.parse_args()

    cases = synthetic.corpus(args.images, seed=args.seed)
    recognizer = LocalRecognizer()
    recognizer.read(synthetic.render(cases[0]["fields"], "main", random.Random(0)))  # load the models
    exact: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_field: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    seconds: list[float] = []
    started = time.perf_counter()
    for case in cases:
        image = synthetic.render(
            case["fields"], case["page"], random.Random(case["seed"]), case["degradation"]
        )
        truth = synthetic.page_fields(case["fields"], case["page"])
        began = time.perf_counter()
        result = recognizer.read(image)
        seconds.append(time.perf_counter() - began)
        got = result.extraction.fields if result else {}
        for name in LICENSE_FIELDS:
            hit = int(got.get(name, "") == truth[name])
            for key in (
                case["degradation"],
                "overall",
                "mild" if case["degradation"] in synthetic.MILD else "harsh",
            ):
                exact[key][0] += hit
                exact[key][1] += 1
            per_field[name][0] += hit
            per_field[name][1] += 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def pct(key: str, table: dict[str, list[int]] = exact) -> str:
        hit, total = table[key]
        return f"{100 * hit / total:.1f} %" if total else "-"

    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, Python {platform.python_version()}: "
        f"{len(cases)} generated images (seed {args.seed}), {time.perf_counter() - started:.0f} s in all.",
        "",
        "| degradation | images | fields exact |",
        "|---|---|---|",
    ]
    counts = defaultdict(int)
    for case in cases:
        counts[case["degradation"]] += 1
    for degradation in synthetic.DEGRADATIONS:
        lines.append(f"| {degradation} | {counts[degradation]} | {pct(degradation)} |")
    lines += [
        f"| **clean and mild** ({', '.join(sorted(synthetic.MILD))}) | {sum(counts[d] for d in synthetic.MILD)} | {pct('mild')} |",
        f"| **overall** | {len(cases)} | {pct('overall')} |",
        "",
        f"Seconds per image: mean {statistics.mean(seconds):.2f}, median {statistics.median(seconds):.2f}, "
        f"p95 {sorted(seconds)[int(0.95 * len(seconds)) - 1]:.2f}; peak memory (RSS) {peak:.0f} MB.",
        "",
        "| field | exact |",
        "|---|---|",
    ]
    lines += [f"| {name} | {pct(name, per_field)} |" for name in LICENSE_FIELDS]
    if args.package_size:
        try:
            lines += ["", package_size()]
        except subprocess.CalledProcessError as error:
            lines += ["", f"package size not measured: pip failed ({error.returncode})"]
    table = "\n".join(lines) + "\n"
    print(table)
    output = args.output or HERE / "recognizer-results.md"
    output.write_text("# Offline recognizer benchmark\n\n" + table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
