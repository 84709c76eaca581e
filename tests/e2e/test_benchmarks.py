"""A quick run of every benchmark (tiny sizes) so the scripts cannot rot. Numbers are not
asserted here: performance is measured by `make bench`, not by timing assertions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_benchmark_runs_and_reports_a_row(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = output.read_text(encoding="utf-8")
    for row in (
        "cold start, tracing on: import handler",
        "cold start, tracing off: import handler",
        "per-record time",
        "throughput",
        "calls above the limit",
        "lost uploads",
        "memory",
        "package",
        "burst, intake queue: wall time",
        "burst, intake queue: upstream calls",
        "burst, intake queue: lost (not completed)",
        "burst, direct: wall time",
        "burst, direct: lost (not completed)",
    ):
        assert f"| {row}" in table or f"|   {row}" in table, row
    assert "lost uploads | 0 |" in table
