"""Measurements that need a process of their own (run by benchmarks/run.py, not by hand).

child.py import-boto3            seconds to `import boto3`
child.py cold-start EVENT_FILE   seconds to import the handler, and to serve the first event
child.py memory WARM_FILE EVENT_FILE   peak memory of one invocation over the idle baseline:
    Python allocations (tracemalloc) and resident memory (sampled every 2 ms)
"""

from __future__ import annotations

import json
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    mode = sys.argv[1]
    if mode == "import-boto3":
        started = time.perf_counter()
        import boto3  # noqa: F401

        print(json.dumps({"import_s": time.perf_counter() - started}))
        return

    started = time.perf_counter()
    from vehicle_license_intake import handler
    from vehicle_license_tools.delivery import LocalContext

    imported = time.perf_counter()
    if mode == "cold-start":
        event = json.loads(Path(sys.argv[2]).read_text())
        handler.lambda_handler(event, LocalContext())
        print(
            json.dumps({"import_s": imported - started, "first_invocation_s": time.perf_counter() - imported})
        )
        return

    if mode == "memory":
        warm: Any = json.loads(Path(sys.argv[2]).read_text())
        event = json.loads(Path(sys.argv[3]).read_text())
        handler.lambda_handler(warm, LocalContext())  # clients, key cache, connections: warm
        baseline_rss = rss_bytes()
        peak_rss = [baseline_rss]
        done = threading.Event()

        def sample() -> None:  # RSS every 2 ms while the invocation runs
            while not done.is_set():
                peak_rss[0] = max(peak_rss[0], rss_bytes())
                time.sleep(0.002)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        tracemalloc.start()
        handler.lambda_handler(event, LocalContext())
        _, peak_traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        done.set()
        sampler.join()
        print(
            json.dumps(
                {"traced_peak_bytes": peak_traced, "rss_peak_over_idle_bytes": peak_rss[0] - baseline_rss}
            )
        )
        return
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
