"""`make bench-recognizer` cannot rot: a two-image quick run reports every section. Figures are
not asserted here (the benchmark measures them, a test would only make them flaky)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rapidocr")

from vehicle_license_tools import synthetic

ROOT = Path(__file__).resolve().parents[2]


def test_a_quick_run_reports_real_samples_conditions_fields_seconds_and_memory(tmp_path: Path) -> None:
    real = tmp_path / "real"  # the real photos are not in the repository: one stand-in with its truth
    real.mkdir()
    item = next(iter(synthetic.realistic_corpus(1, seed=4)))
    (real / "stand-in.jpg").write_bytes(item.image)
    (real / "stand-in.json").write_text(json.dumps(item.fields, ensure_ascii=False), encoding="utf-8")
    output = tmp_path / "results.md"

    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "recognizer.py"),
            "--quick",
            "--count",
            "2",
            "--real",
            str(real),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text(encoding="utf-8")
    assert report.index("## Real cards") < report.index("## Realistic generated cards")
    assert "| stand-in.jpg |" in report
    for row in (
        "| **overall** |",
        "| plate_number |",
        "Trust: of ",
        "Seconds per image: median",
        "Peak memory",
        "Reference (this host's speed",
    ):
        assert row in report, row
    slowest = re.search(r"^Slowest: (\d{4}\.jpg) [\d.]+ s \((\d+)×(\d+) px, ([^,]+),", report, re.MULTILINE)
    assert slowest is not None, report  # the slowest photos named, with their size and what they show
    assert slowest.group(4) in {"main page", "secondary page", "both pages", "driving license", "id card"}
    assert 400 <= max(int(slowest.group(2)), int(slowest.group(3))) <= 4000
