"""The console script works from an installed wheel, not only from an editable checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("vehicle_license_intake-*.whl")
    return wheel


def test_the_wheel_carries_the_template_and_samples_the_command_needs(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    target = tmp_path / "installed"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(target)

    assert "vehicle_license_tools/project/template.yaml" in names
    packaged = target / "vehicle_license_tools" / "project"
    assert (packaged / "template.yaml").read_bytes() == (ROOT / "template.yaml").read_bytes()
    shipped_samples = sorted(p.name for p in (packaged / "samples").iterdir())
    assert shipped_samples == sorted(p.name for p in (ROOT / "samples").iterdir())
    assert any(name.startswith("vehicle_license_tools/fonts/") for name in names)
    assert "vehicle-license-intake = vehicle_license_tools.cli:main" in archive_text(
        wheel, "entry_points.txt"
    )

    # From the unpacked wheel (not the checkout), the tooling finds its files inside the package.
    probe = (
        "import sys; from vehicle_license_tools import resources as r; "
        "print(r.TEMPLATE.is_file() and r.SAMPLES.is_dir() and str(r.TEMPLATE).startswith(sys.argv[1]))"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(target)!r}); " + probe,
            str(target),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "True"


def archive_text(wheel: Path, suffix: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(suffix)]
        return archive.read(name).decode()
