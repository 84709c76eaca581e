"""`make bench`: cold start, per-record overhead, throughput against the rate limit, memory and
package size, each measured in the same run as its reference. Prints one table and writes it to
benchmarks/results.md. `--quick` runs tiny sizes (the test suite does, so the scripts cannot rot).
The burst benchmark (benchmarks/burst.py: the intake queue under a rate limit, a spent quota and an
outage, and the direct path beside it) runs last; its full size takes most of the run.

Everything runs offline: moto served on 127.0.0.1, the upstream emulator on 127.0.0.1. The
package-size measurement builds the function's zip from the wheelhouse that `make wheelhouse`
downloads (skipped with --quick), and imports its handler with python3.13 when there is one.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

# Before the package is imported: its Logger and Metrics read these once.
os.environ.update(
    POWERTOOLS_LOG_LEVEL="ERROR", POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_TRACE_DISABLED="true"
)

import burst
from sizes import (
    RUNTIME_PYTHON,
    VARIANTS,
    Artifact,
    import_seconds,
    lambda_python,
    median_ms,
    runtime_sdk,
    zip_size,
)
from vehicle_license_intake import handler
from vehicle_license_intake.config import Settings
from vehicle_license_tools import aws, stack
from vehicle_license_tools.delivery import LocalContext, s3_event, s3_record
from vehicle_license_tools.emulator import GroundTruthRecognizer, Reply, UpstreamEmulator

ROOT = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).resolve().parent / "child.py"
API_KEY = "bench-key"
FIELDS = json.loads((ROOT / "samples" / "main-page.json").read_text(encoding="utf-8"))["fields"]
WHEELHOUSE = ROOT / ".wheelhouse"
LOAD_SAMPLE_SECONDS = 15.0


@dataclass
class Row:
    benchmark: str
    measured: str
    reference: str
    ratio: str
    target: str
    met: str


def image(label: str, size: int) -> bytes:
    seed = label.encode()
    return b"\xff\xd8\xff\xe0" + (seed * (size // len(seed) + 1))[: size - 4]


class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.recognizer = GroundTruthRecognizer()
        self.session = aws.session()
        self.rows: list[Row] = []

    # -- helpers ----------------------------------------------------------------------------
    def deploy(self, name: str, upstream: UpstreamEmulator, **env: str) -> stack.LocalStack:
        deployed = stack.deploy_with_upstream(
            self.session, stack_name=name, upstream_url=upstream.url, api_key=API_KEY
        )
        deployed.function_environment.update(env)
        return deployed

    def upload(self, deployed: stack.LocalStack, key: str, body: bytes) -> dict[str, Any]:
        response = self.session.client("s3").put_object(Bucket=deployed.bucket, Key=key, Body=body)
        return s3_record(
            deployed.bucket, key, size=len(body), etag=response["ETag"], version_id=response.get("VersionId")
        )

    def child(self, *args: str, env: dict[str, str]) -> dict[str, Any]:
        result = subprocess.run(
            [sys.executable, str(CHILD), *args],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env, "POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"},
        )
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))

    # -- 1. cold start ----------------------------------------------------------------------
    def cold_start(self, upstream: UpstreamEmulator) -> None:
        """Median of interleaved runs, with tracing on (the template's default) and off."""
        runs = 2 if self.quick else 7
        deployed = self.deploy("bench-cold", upstream)
        env = {**deployed.function_environment, "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"]}
        modes = {"tracing on": "false", "tracing off": "true"}  # POWERTOOLS_TRACE_DISABLED
        boto3_s: list[float] = []
        handler_s: dict[str, list[float]] = {mode: [] for mode in modes}
        first_s: dict[str, list[float]] = {mode: [] for mode in modes}
        with tempfile.TemporaryDirectory() as folder:
            for run in range(runs):  # interleaved, so every variant sees the same machine
                boto3_s.append(self.child("import-boto3", env=env)["import_s"])
                for mode, disabled in modes.items():
                    body = self.known(f"cold {run} {mode}", 20_000)
                    event_file = Path(folder) / f"event-{run}-{disabled}.json"
                    record = self.upload(deployed, f"uploads/cold-{run}-{disabled}.jpg", body)
                    event_file.write_text(json.dumps(s3_event(record)))
                    measured = self.child(
                        "cold-start", str(event_file), env={**env, "POWERTOOLS_TRACE_DISABLED": disabled}
                    )
                    handler_s[mode].append(measured["import_s"])
                    first_s[mode].append(measured["first_invocation_s"])
        b = statistics.median(boto3_s)
        for mode in modes:
            h, f = statistics.median(handler_s[mode]), statistics.median(first_s[mode])
            self.rows.append(
                Row(
                    f"cold start, {mode}: import handler (dev venv, X-Ray SDK installed)",
                    f"{h * 1000:.0f} ms",
                    f"import boto3 {b * 1000:.0f} ms",
                    f"{h / b:.2f}x",
                    "<= 1.5x",
                    "yes" if h / b <= 1.5 else "no",
                )
            )
            self.rows.append(
                Row(f"cold start, {mode}: first invocation", f"{f * 1000:.0f} ms", "-", "-", "report", "-")
            )

    def known(self, label: str, size: int) -> bytes:
        body = image(label, size)
        self.recognizer.add(body, FIELDS)
        return body

    # -- 2. per-record overhead ----------------------------------------------------------------
    def overhead(self, upstream: UpstreamEmulator) -> None:
        count = 10 if self.quick else 200
        deployed = self.deploy("bench-overhead", upstream, OCR_MAX_RPS="100000", UPSTREAM_MAX_RPS="100000")
        s3 = self.session.client("s3")
        table = self.session.resource("dynamodb").Table(deployed.table)
        http = requests.Session()

        def naive(record: dict[str, Any]) -> None:
            obj = record["s3"]["object"]
            body = s3.get_object(Bucket=deployed.bucket, Key=obj["key"], VersionId=obj["versionId"])[
                "Body"
            ].read()
            answer = http.post(
                upstream.url,
                json={"input_type": "base64", "input_data": base64.b64encode(body).decode()},
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=15,
            ).json()
            table.put_item(
                Item={
                    "image_uri": f"s3://{deployed.bucket}/{obj['key']}",
                    "status": "SUCCEEDED",
                    "license": answer["data"],
                }
            )

        def ours(record: dict[str, Any]) -> None:
            handler.lambda_handler(s3_event(record), LocalContext())

        stack.use_function_environment(deployed)
        ours(self.upload(deployed, "uploads/warm-a.jpg", self.known("warm a", 50_000)))  # warm both paths
        naive(self.upload(deployed, "uploads/warm-b.jpg", self.known("warm b", 50_000)))
        timings: dict[str, list[float]] = {"naive": [], "ours": []}
        for round_ in range(2):
            for name, process in (("naive", naive), ("ours", ours)):
                records = [
                    self.upload(
                        deployed,
                        f"uploads/{name}-{round_}-{i}.jpg",
                        self.known(f"{name} {round_} {i}", 50_000),
                    )
                    for i in range(count)
                ]
                started = time.perf_counter()
                for record in records:
                    process(record)
                timings[name].append((time.perf_counter() - started) / count)
        naive_s, ours_s = min(timings["naive"]), min(timings["ours"])
        self.rows.append(
            Row(
                f"per-record time ({count} uploads, 50 kB)",
                f"{ours_s * 1000:.1f} ms",
                f"naive get/post/put {naive_s * 1000:.1f} ms",
                f"{ours_s / naive_s:.2f}x",
                "<= 1.5x",
                "yes" if ours_s / naive_s <= 1.5 else "no",
            )
        )

    # -- 3. throughput against the rate limit ---------------------------------------------------
    def throughput(self) -> None:
        count, latency = (4, 0.05) if self.quick else (40, 0.3)
        with UpstreamEmulator(self.recognizer, [API_KEY], max_rps=2) as limited:
            deployed = self.deploy("bench-throughput", limited, OCR_MAX_RPS="2")
            stack.use_function_environment(deployed)
            records = []
            for i in range(count):
                body = self.known(f"throughput {i}", 20_000)
                limited.script(body, Reply.slow(latency))
                records.append(self.upload(deployed, f"uploads/rate-{i}.jpg", body))
            started = time.perf_counter()
            for record in records:
                with contextlib.suppress(Exception):  # a FAILED record counts as lost below
                    handler.lambda_handler(s3_event(record), LocalContext())
            elapsed = time.perf_counter() - started
            table = self.session.resource("dynamodb").Table(deployed.table)
            stored = sum(
                1
                for i in range(count)
                if table.get_item(Key={"image_uri": f"s3://{deployed.bucket}/uploads/rate-{i}.jpg"})
                .get("Item", {})
                .get("status")
                == "SUCCEEDED"
            )
            rate = len(limited.calls) / elapsed
            over = sum(1 for c in limited.calls if c.code == 429)
            worst = limited.max_calls_in_any_second()
        # 2 calls per window of 1 s + the margin: the most the guard lets through
        margin = Settings.from_env(deployed.function_environment).upstream_rate_margin_seconds
        self.rows.append(
            Row(
                f"throughput ({count} uploads, upstream {latency * 1000:.0f} ms, limit 2/s)",
                f"{rate:.2f} req/s",
                f"limit 2 req/s (2 per 1 s + the {margin:.2f} s margin: {2 / (1 + margin):.2f} req/s)",
                f"{rate / 2:.0%}",
                ">= 95% (1.9/s)",
                "yes" if rate >= 1.9 else "no",
            )
        )
        self.rows.append(
            Row(
                "  calls above the limit",
                f"{over} answered 429; max {worst} in any 1 s",
                "0; <= 2",
                "-",
                "0",
                "yes" if over == 0 and worst <= 2 else "no",
            )
        )
        self.rows.append(
            Row(
                "  lost uploads",
                f"{count - stored}",
                f"of {count}",
                "-",
                "0",
                "yes" if stored == count else "no",
            )
        )

    # -- 4. memory ---------------------------------------------------------------------------
    def memory(self, upstream: UpstreamEmulator) -> None:
        size = 1_000_000 if self.quick else 10_000_000
        deployed = self.deploy("bench-memory", upstream)
        env = {**deployed.function_environment, "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"]}
        with tempfile.TemporaryDirectory() as folder:
            warm, event = Path(folder) / "warm.json", Path(folder) / "event.json"
            warm.write_text(
                json.dumps(
                    s3_event(self.upload(deployed, "uploads/warm.jpg", self.known("mem warm", 20_000)))
                )
            )
            event.write_text(
                json.dumps(s3_event(self.upload(deployed, "uploads/big.jpg", self.known("mem big", size))))
            )
            measured = self.child("memory", str(warm), str(event), env=env)
        traced, rss = measured["traced_peak_bytes"], measured["rss_peak_over_idle_bytes"]
        self.rows.append(
            Row(
                f"memory, {size / 1e6:.0f} MB image, base64 mode",
                f"{traced / 1e6:.1f} MB traced peak",
                f"image {size / 1e6:.0f} MB",
                f"{traced / size:.2f}x",
                "<= 3x",
                "yes" if traced <= 3 * size else "no",
            )
        )
        self.rows.append(
            Row(
                "  same, resident memory over idle",
                f"{rss / 1e6:.1f} MB",
                f"image {size / 1e6:.0f} MB",
                f"{rss / size:.2f}x",
                "report",
                "-",
            )
        )

    # -- 5. package size, and the cold start of what ships ------------------------------------
    def package_size(self) -> None:
        """The function's zip built as `sam build` does (scripts/build_function.py, offline from the
        wheelhouse) in three variants, and python3.13 importing the handler from (a) and (b)."""
        if self.quick:
            with tempfile.TemporaryDirectory() as folder:
                target = Path(folder) / "package"
                shutil.copytree(
                    ROOT / "src" / "vehicle_license_intake",
                    target / "vehicle_license_intake",
                    ignore=shutil.ignore_patterns("__pycache__"),
                )
                own = zip_size(target)
            self.rows.append(Row("package: own code (zip)", f"{own / 1e6:.2f} MB", "-", "-", "report", "-"))
            return
        if not any(WHEELHOUSE.glob("*.whl")):
            raise SystemExit(f"no wheels in {WHEELHOUSE}: run `make wheelhouse`")
        with tempfile.TemporaryDirectory() as folder:
            artifacts = {v: Artifact.build(v, Path(folder) / v, WHEELHOUSE) for v in VARIANTS}
            sizes = {v: artifact.sizes() for v, artifact in artifacts.items()}
            before = sizes["b"][1]
            for variant, (unzipped, zipped) in sizes.items():
                shipped = variant == "a"
                self.rows.append(
                    Row(
                        f"package ({variant}): {artifacts[variant].label}",
                        f"{zipped / 1e6:.1f} MB zip, {unzipped / 1e6:.1f} MB unzipped",
                        f"(b) {before / 1e6:.1f} MB zip" if shipped else "-",
                        f"{zipped / before:.2f}x" if shipped else "-",
                        "lean (< 5 MB zip)" if shipped else "report",
                        ("yes" if zipped < 5e6 else "no") if shipped else "-",
                    )
                )
            python = lambda_python()
            if python is None:
                self.rows.append(
                    Row("cold start from the zip", f"no python{RUNTIME_PYTHON} here", "-", "-", "-", "-")
                )
                return
            self.artifact_cold_start(python, artifacts, Path(folder))

    def artifact_cold_start(self, python: str, artifacts: dict[str, Artifact], folder: Path) -> None:
        """Median of interleaved fresh python3.13 processes importing the handler from the task root
        (no bytecode: sam ships none and /var/task is read-only), the runtime's SDK behind it."""
        runs = 7
        runtime = runtime_sdk(folder / "runtime", python)
        compiled = artifacts["a"].precompiled(folder / "a-compiled", python)
        cases = {
            f"({v}), tracing {mode}": (artifacts[v], disabled)
            for v in ("a", "b")
            for mode, disabled in (("on", "false"), ("off", "true"))
        }
        cases["(a) with bytecode compiled for 3.13, tracing on"] = (compiled, "false")
        boto3_s: list[float] = []
        handler_s: dict[str, list[float]] = {case: [] for case in cases}
        xray: dict[str, bool] = {}
        for _ in range(runs):
            boto3_s.append(import_seconds(python, [runtime], "boto3", {})[0])
            for case, (artifact, disabled) in cases.items():
                env = {"LAMBDA_TASK_ROOT": str(artifact.folder), "POWERTOOLS_TRACE_DISABLED": disabled}
                seconds, xray[case] = import_seconds(
                    python, [artifact.folder, runtime], "vehicle_license_intake.handler", env
                )
                handler_s[case].append(seconds)
        b = median_ms(boto3_s)
        for case in cases:
            h = median_ms(handler_s[case])
            self.rows.append(
                Row(
                    f"cold start from the zip {case}: import handler (python{RUNTIME_PYTHON}"
                    f"{', X-Ray SDK imported' if xray[case] else ''})",
                    f"{h:.0f} ms",
                    f"import boto3 {b:.0f} ms",
                    f"{h / b:.2f}x",
                    "<= 1.5x",
                    "yes" if h / b <= 1.5 else "no",
                )
            )

    # -- 6. a burst through the intake queue, and the direct path beside it -------------------
    def burst(self) -> None:
        """benchmarks/burst.py: its module docstring says what plays what, and how time is scaled."""
        self.rows += [Row(*values) for values in burst.run(self.quick, FIELDS, API_KEY)]


def render(rows: list[Row], seconds: float, quick: bool, load: list[float]) -> str:
    loaded = (
        f"; load average (1 min) {min(load):.1f}-{max(load):.1f} during the run, sampled every "
        f"{LOAD_SAMPLE_SECONDS:.0f} s (the machine is shared: on a loaded one seconds are longer)"
        if load
        else ""
    )
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, Python {platform.python_version()}"
        f"{' (quick sizes)' if quick else ''}; {seconds:.0f} s in all{loaded}.",
        "",
        "| benchmark | measured | reference | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.benchmark} | {r.measured} | {r.reference} | {r.ratio} | {r.target} | {r.met} |" for r in rows
    ]
    return "\n".join(lines) + "\n"


def sample_load() -> list[float]:
    """The 1-minute load average, now and every LOAD_SAMPLE_SECONDS while the process lives."""
    samples: list[float] = []

    def sample() -> None:
        while True:
            samples.append(os.getloadavg()[0])
            time.sleep(LOAD_SAMPLE_SECONDS)

    threading.Thread(target=sample, name="load", daemon=True).start()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the scripts run")
    parser.add_argument(
        "--output", type=Path, default=None, help="where to write the table (default: benchmarks/results.md)"
    )
    args = parser.parse_args()
    for name, value in aws.FAKE_CREDENTIALS.items():
        os.environ[name] = value
    os.environ.update(
        POWERTOOLS_LOG_LEVEL="ERROR", POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_TRACE_DISABLED="true"
    )
    started = time.perf_counter()
    load = sample_load()
    with aws.emulated_aws():
        bench = Bench(args.quick)
        with UpstreamEmulator(bench.recognizer, [API_KEY]) as upstream:
            steps: list[Callable[[], None]] = [
                lambda: bench.cold_start(upstream),
                lambda: bench.overhead(upstream),
                bench.throughput,
                lambda: bench.memory(upstream),
                bench.package_size,
                bench.burst,
            ]
            for step in steps:
                with contextlib.redirect_stdout(io.StringIO()):  # the function's EMF lines
                    step()
    table = render(bench.rows, time.perf_counter() - started, args.quick, list(load))
    print(table)
    output = args.output or (None if args.quick else Path(__file__).resolve().parent / "results.md")
    if output is not None:
        output.write_text("# Benchmark results\n\n" + table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
