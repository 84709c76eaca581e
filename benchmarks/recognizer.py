"""`make bench-recognizer`: the offline recognizer on real photos and on realistic generated cards.

First the real samples (`../shared/real-samples/`, not in this repository: photos of real cards
with their fields transcribed by eye), card by card with the fields missed; then `--count`
realistic generated photos (tools/vehicle_license_tools/cards: the printed form, misregistered
values, the red stamp, sleeve glare, hands, seats, both pages, quarter turns, 400-4000 px, JPEG,
watermarks, banners, blur) and other cards that must be answered 5021. Reported: fields exact per
card, per condition, per print face and per field; how often a field reported with confidence
>= 0.8 is wrong; seconds per image (median, p95, max), the process's CPU seconds per image beside
them (what a shared, loaded machine does not inflate) and its peak memory (with
MALLOC_ARENA_MAX=2, as the container image sets it). Written to benchmarks/recognizer-results.md.

A field counts as exact when it equals what the card prints; the not-applicable markers ("", -,
--, —, /, 无) count as one another (they are all stored as null). Fields a banner or a thumb hides
are left out of the counts. The images are generated in a child process first, so the memory
measured is the recognizer's.

    python benchmarks/recognizer.py [--count 330] [--seed 2026] [--quick] [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sizes import folder_size, install_for_lambda, zip_size
from vehicle_license_intake.domain.fields import (
    LICENSE_FIELDS,
    MAIN_PAGE_FIELDS,
    NOT_APPLICABLE,
    SECONDARY_PAGE_FIELDS,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REAL_SAMPLES = ROOT.parent / "shared" / "real-samples"
TRUSTED = 0.8  # the pipeline's LOW_CONFIDENCE threshold
TRUSTED_WRONG_AT_MOST = 0.02  # the target: no field's confident values wrong more often
SLOWEST = 3  # photos named in the report, slowest first, with what they show
SHOWN = {"main": MAIN_PAGE_FIELDS, "secondary": SECONDARY_PAGE_FIELDS, "both": LICENSE_FIELDS, "none": ()}


def same(got: str, truth: str) -> bool:
    return got == truth or (got.strip() in NOT_APPLICABLE and truth.strip() in NOT_APPLICABLE)


# -- the corpus, drawn in a child process -------------------------------------------------------
def generate(count: int, seed: int, folder: str) -> None:
    """Write each image and one manifest line per image (its truth, conditions, drawing time)."""
    from vehicle_license_tools import synthetic

    with open(Path(folder) / "manifest.jsonl", "w", encoding="utf-8") as manifest:
        for case in synthetic.realistic_cases(count, seed):
            began = time.perf_counter()
            item = synthetic.render_realistic(case)
            drawn = time.perf_counter() - began
            name = f"{case.index:04d}.jpg"
            (Path(folder) / name).write_bytes(item.image)
            record = {
                "file": name,
                "kind": case.kind,
                "page": case.page,
                "conditions": list(case.conditions),
                "style": case.style,
                "fields": item.fields,
                "expected_code": item.expected_code,
                "occluded": list(item.occluded),
                "size": list(item.size),
                "draw_seconds": drawn,
            }
            manifest.write(json.dumps(record, ensure_ascii=False) + "\n")


# -- scoring ------------------------------------------------------------------------------------


def shown(record: dict[str, Any]) -> str:
    """What a photo shows: a license's page(s), or the other card."""
    if record["kind"] != "vehicle_license":
        return str(record["kind"]).replace("_", " ")
    return "both pages" if record["page"] == "both" else f"{record['page']} page"


@dataclass
class Tally:
    exact: int = 0
    total: int = 0
    images: int = 0
    all_exact: int = 0

    def add(self, hits: int, of: int) -> None:
        self.exact += hits
        self.total += of
        self.images += 1
        self.all_exact += int(hits == of)

    def pct(self) -> str:
        return f"{100 * self.exact / self.total:.1f} %" if self.total else "-"


@dataclass
class Score:
    conditions: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    fields: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    trusted: list[int] = field(default_factory=lambda: [0, 0])  # wrong, reported with confidence >= 0.8
    trusted_by_field: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    returned: int = 0  # values returned, not empty and not a not-applicable marker
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)  # the process's CPU time per image
    seconds_by_size: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    negatives: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    missed_licenses: int = 0
    spurious: int = 0  # values returned for fields of a page not in the photo


def judge(
    fields: dict[str, str] | None, confidence: dict[str, float], truth: dict[str, str], names: tuple[str, ...]
) -> tuple[dict[str, bool], list[tuple[str, bool]]]:
    """Per field shown: exact or not; and each value reported with confidence >= 0.8: right or not."""
    got = fields or {}
    verdicts = {name: same(got.get(name, ""), truth[name]) for name in names}
    trusted = [
        (name, verdicts.get(name, same(got[name], truth.get(name, ""))))
        for name in got
        if got[name] and got[name].strip() not in NOT_APPLICABLE and confidence.get(name, 0.0) >= TRUSTED
    ]
    return verdicts, trusted


def size_class(conditions: list[str]) -> str:
    return next((c for c in ("small", "medium", "large") if c in conditions), "medium")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


# -- the run ------------------------------------------------------------------------------------
def main() -> int:
    if "MALLOC_ARENA_MAX" not in os.environ:  # measured as Dockerfile.recognizer runs it
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "MALLOC_ARENA_MAX": "2"})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=330, help="realistic images (300+ for the README)")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 14 images, nothing written unless --output"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--real", type=Path, default=REAL_SAMPLES, help="folder of real photos + .json truths"
    )
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--package-size", action="store_true")
    args = parser.parse_args()
    count = min(args.count, 14) if args.quick else args.count
    output = args.output or (None if args.quick else HERE / "recognizer-results.md")
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(target=generate, args=(count, args.seed, folder))
        child.start()
        child.join()
        if child.exitcode != 0:
            print(f"generating the corpus failed ({child.exitcode})", file=sys.stderr)
            return 1
        drawing = time.perf_counter() - began
        records = [
            json.loads(line) for line in (Path(folder) / "manifest.jsonl").read_text("utf-8").splitlines()
        ]

        from vehicle_license_recognizer import LocalRecognizer

        recognizer = LocalRecognizer()
        recognizer.read_license((Path(folder) / records[0]["file"]).read_bytes())  # load the models
        reference = [reference_seconds(reference_runs(args))]
        started = time.perf_counter()
        real_lines, real_trusted = read_real_samples(recognizer, args.real)
        score = Score()
        for record in records:
            image = (Path(folder) / record["file"]).read_bytes()
            before, cpu_before = time.perf_counter(), time.process_time()
            recognition = recognizer.read_license(image)
            elapsed = time.perf_counter() - before
            score.cpu_seconds.append(time.process_time() - cpu_before)
            score.seconds.append(elapsed)
            score.seconds_by_size[size_class(record["conditions"])].append(elapsed)
            tally(score, record, recognition)
        reading = time.perf_counter() - started
        reference.append(reference_seconds(reference_runs(args)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load_after = os.getloadavg()
    report = render_report(
        args,
        records,
        score,
        real_lines,
        real_trusted,
        peak,
        drawing,
        reading,
        load_before,
        load_after,
        reference,
        recognizer._ocr.runtime or "",
    )
    if args.package_size:
        try:
            report += "\n" + package_size() + "\n"
        except subprocess.CalledProcessError as error:
            report += f"\npackage size not measured: pip failed ({error.returncode})\n"
    print(report)
    if output:
        output.write_text("# Offline recognizer benchmark\n\n" + report, encoding="utf-8")
    return 0


def read_real_samples(recognizer: Any, folder: Path) -> tuple[list[str], list[int]]:
    lines = [
        "| real sample | fields exact | missed (read → printed) | seconds | CPU seconds |",
        "|---|---|---|---|---|",
    ]
    trusted = [0, 0]
    photos = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    photos = [p for p in photos if p.with_suffix(".json").exists()]
    if not photos:
        return [f"No real samples found in {folder}: their figures are missing from this run."], trusted
    exact_sum = total_sum = 0
    for photo in photos:
        truth = json.loads(photo.with_suffix(".json").read_text(encoding="utf-8"))
        before, cpu_before = time.perf_counter(), time.process_time()
        recognition = recognizer.read_license(photo.read_bytes())
        elapsed = time.perf_counter() - before
        cpu = time.process_time() - cpu_before
        fields = recognition.fields if recognition else None
        confidence = (recognition.confidence or {}) if recognition else {}
        verdicts, reported = judge(fields, confidence, truth, tuple(LICENSE_FIELDS))
        missed = [
            f"{name}: {(fields or {}).get(name, '') or '∅'} → {truth[name] or '∅'}"
            for name, ok in verdicts.items()
            if not ok
        ]
        exact_sum += sum(verdicts.values())
        total_sum += len(verdicts)
        trusted[0] += sum(not ok for _, ok in reported)
        trusted[1] += len(reported)
        shown = "none (answered 5021)" if recognition is None else "; ".join(missed) or "—"
        lines.append(
            f"| {photo.name} | {sum(verdicts.values())} / {len(verdicts)} | {shown} | {elapsed:.1f} | {cpu:.1f} |"
        )
    lines.append(
        f"| **all real samples** | **{exact_sum} / {total_sum}** ({100 * exact_sum / total_sum:.1f} %) | | | |"
    )
    return lines, trusted


def tally(score: Score, record: dict[str, Any], recognition: Any) -> None:
    if record["expected_code"]:
        score.negatives[record["kind"]][0] += int(recognition is None)
        score.negatives[record["kind"]][1] += 1
        return
    if recognition is None:
        score.missed_licenses += 1
    fields = recognition.fields if recognition else None
    confidence = (recognition.confidence or {}) if recognition else {}
    names = tuple(n for n in SHOWN[record["page"]] if n not in record["occluded"])
    verdicts, reported = judge(fields, confidence, record["fields"], names)
    hits = sum(verdicts.values())
    for key in (*record["conditions"], "overall", f"page: {record['page']}", f"print: {record['style']}"):
        score.conditions[key].add(hits, len(names))
    for name, ok in verdicts.items():
        score.fields[name].add(int(ok), 1)
    score.returned += sum(
        1 for value in (fields or {}).values() if value and value.strip() not in NOT_APPLICABLE
    )
    for name, ok in reported:
        score.trusted[0] += int(not ok)
        score.trusted[1] += 1
        score.trusted_by_field[name][0] += int(not ok)
        score.trusted_by_field[name][1] += 1
    shown = set(SHOWN[record["page"]])
    score.spurious += sum(1 for name, value in (fields or {}).items() if value and name not in shown)


def render_report(
    args: argparse.Namespace,
    records: list[dict[str, Any]],
    score: Score,
    real_lines: list[str],
    real_trusted: list[int],
    peak: float,
    drawing: float,
    reading: float,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    reference: list[float],
    runtime: str,
) -> str:
    from vehicle_license_recognizer.ocr import THREADS
    from vehicle_license_tools.cards.corpus import CONDITIONS

    licenses = [r for r in records if not r["expected_code"]]
    negatives = [r for r in records if r["expected_code"]]
    # The load after includes this run's own inference threads: other work is what is beyond them.
    busy = max(load_before[0], load_after[0] - THREADS) >= 1
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{THREADS} inference thread{'s' if THREADS > 1 else ''} (RECOGNIZER_THREADS) on {runtime} "
        "(RECOGNIZER_RUNTIME), "
        f"load average {load_before[0]:.1f} before and {load_after[0]:.1f} after"
        + (" (the machine was shared and busy: seconds are slower than on an idle one)" if busy else "")
        + f": the real samples, then {len(records)} realistic generated images (seed {args.seed}; "
        f"{len(licenses)} licenses, {len(negatives)} other cards), read in {reading:.0f} s "
        f"(drawn in {drawing:.0f} s beforehand). Command: `python benchmarks/recognizer.py "
        f"--count {args.count} --seed {args.seed}`.",
        "",
        "## Real cards",
        "",
        *real_lines,
        "",
        "## Realistic generated cards",
        "",
        f"Fields exact: **{score.conditions['overall'].pct()}** of the fields printed on the pages shown "
        f"({score.conditions['overall'].total} fields, {score.conditions['overall'].images} licenses; "
        f"{score.conditions['overall'].all_exact} licenses read entirely right). "
        f"Licenses answered 5021 by mistake: {score.missed_licenses}. "
        f"Values returned for a page not in the photo: {score.spurious}.",
        "",
        "Other cards answered 5021: "
        + ", ".join(
            f"{kind.replace('_', ' ')} {ok} of {n}" for kind, (ok, n) in sorted(score.negatives.items())
        )
        + ".",
        "",
        "| condition | images | fields exact | licenses entirely right |",
        "|---|---|---|---|",
    ]
    groups = [
        ["overall"],
        [f"page: {page}" for page in ("main", "secondary", "both")],
        list(CONDITIONS),
        [f"print: {style}" for style in ("mono", "serif", "italic", "dot_matrix")],
    ]
    for group in groups:
        for key in group:
            t = score.conditions.get(key)
            if t and t.images:
                name = f"**{key}**" if key == "overall" else key
                lines.append(f"| {name} | {t.images} | {t.pct()} | {t.all_exact} |")
    wrong, reported = score.trusted
    over = [
        f"{name} {bad} of {of}"
        for name, (bad, of) in score.trusted_by_field.items()
        if of and bad / of > TRUSTED_WRONG_AT_MOST
    ]
    lines += [
        "",
        f"Trust: of {reported} values reported with confidence ≥ {TRUSTED}, {wrong} are wrong "
        f"({100 * wrong / reported if reported else 0:.1f} %)"
        + (f"; on the real samples {real_trusted[0]} of {real_trusted[1]}." if real_trusted[1] else ".")
        + f" Fields wrong in more than {100 * TRUSTED_WRONG_AT_MOST:.0f} % of their confident values: "
        + (", ".join(over) if over else "none")
        + f". Of the {score.returned} values returned,"
        f" {100 * reported / score.returned if score.returned else 0:.0f} % are reported"
        f" with confidence ≥ {TRUSTED}; the rest ask a reviewer to look.",
        "",
        "| field | fields exact | wrong among confidence ≥ 0.8 |",
        "|---|---|---|",
    ]
    for name in LICENSE_FIELDS:
        t = score.fields.get(name)
        bad, of = score.trusted_by_field.get(name, [0, 0])
        rate = f" ({100 * bad / of:.1f} %)" if of else ""
        lines.append(f"| {name} | {t.pct() if t else '-'} ({t.total if t else 0}) | {bad} of {of}{rate} |")
    seconds = score.seconds
    draws = [r["draw_seconds"] for r in records if "large" in r["conditions"]]
    lines += [
        "",
        f"Seconds per image: median {statistics.median(seconds):.2f}, p95 {percentile(seconds, 0.95):.2f}, "
        f"max {max(seconds):.2f}; "
        + ", ".join(
            f"{size} {statistics.median(score.seconds_by_size[size]):.2f} median"
            for size in ("small", "medium", "large")
            if score.seconds_by_size.get(size)
        )
        + f". CPU seconds per image (the process's own, all its threads: other processes' work does not count, but this virtual machine's host speed varies, by up to half within one day on 2026-12-06: compare runs by the reference below): "
        f"median {statistics.median(score.cpu_seconds):.2f}, p95 {percentile(score.cpu_seconds, 0.95):.2f}, "
        f"max {max(score.cpu_seconds):.2f}. Peak memory (RSS) {peak:.0f} MB.",
        "",
        f"Reference (this host's speed: the detection model on onnxruntime, on one fixed {REFERENCE_SIZE[1]}×{REFERENCE_SIZE[0]} px "
        f"image, median of {reference_runs(args)}): {reference[0]:.3f} s before the photos, {reference[-1]:.3f} s after. "
        f"In references ({statistics.mean(reference):.3f} s): median "
        f"{statistics.median(seconds) / statistics.mean(reference):.1f}, max "
        f"{max(seconds) / statistics.mean(reference):.1f} per image.",
        "",
        "Slowest: "
        + "; ".join(
            f"{record['file']} {elapsed:.2f} s ({record['size'][0]}×{record['size'][1]} px, "
            f"{shown(record)}, {', '.join(record['conditions'])})"
            for elapsed, record in sorted(zip(seconds, records, strict=True), key=lambda pair: -pair[0])[
                :SLOWEST
            ]
        )
        + ".",
        "",
        (
            f"Drawing a 3000-4000 px photo took {statistics.median(draws):.2f} s (median), "
            f"{max(draws):.2f} s at most."
            if draws
            else ""
        ),
    ]
    return "\n".join(lines).rstrip() + "\n"


REFERENCE_SIZE = (960, 1280)  # rows, columns
REFERENCE_RUNS = 5


def reference_runs(args: argparse.Namespace) -> int:
    """Runs of the reference workload: one in a quick run (the test suite's)."""
    return 1 if args.quick else REFERENCE_RUNS


def reference_seconds(runs: int) -> float:
    """This host's speed, apart from the recognizer's own code: the detection model, on
    onnxruntime whatever the recognizer runs on (the reference of every earlier run), on one fixed
    image (grey paper with dark bars in rows, like lines of print), the median of `runs`. Seconds
    per photo divided by it compare across hours on a host whose speed varies. Timed in a child
    process, so that its model adds nothing to the memory measured here."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return float(pool.apply(_reference_workload, (runs,)))


def _reference_workload(runs: int) -> float:
    import numpy as np

    from vehicle_license_recognizer.ocr import OcrEngine

    engine = OcrEngine(runtime="onnxruntime")
    image = np.full((*REFERENCE_SIZE, 3), 215, np.uint8)
    for row in range(60, REFERENCE_SIZE[0] - 60, 80):
        for column in range(60, REFERENCE_SIZE[1] - 300, 400):
            image[row : row + 28, column : column + 40 * (1 + (row // 80 + column // 400) % 6)] = 40
    engine.detect(image)  # the model loaded
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        engine.detect(image)
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds)


def package_size() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "t"
        install_for_lambda(target, "rapidocr>=3.10,<4", "onnxruntime>=1.20", "numpy", "pillow")
        unzipped, zipped = folder_size(target), zip_size(target)
        return (
            f"recognizer dependencies for python3.13/arm64: {unzipped / 1e6:.0f} MB unzipped, "
            f"{zipped / 1e6:.0f} MB zipped (Lambda zip limit: 250 MB unzipped, 50 MB upload)"
        )


if __name__ == "__main__":
    sys.exit(main())
