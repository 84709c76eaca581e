"""Sizes of a folder as files and as the zip Lambda would receive."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def zip_size(folder: Path) -> int:
    with tempfile.TemporaryFile() as handle:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(folder))
        return handle.tell()


LAMBDA_PLATFORMS = ("manylinux_2_28_aarch64", "manylinux_2_27_aarch64", "manylinux2014_aarch64")


def install_for_lambda(target: Path, *requirements: str) -> None:
    """pip-install wheels for the function's runtime (python3.13, arm64) into `target`."""
    platforms = [arg for tag in LAMBDA_PLATFORMS for arg in ("--platform", tag)]
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--target",
        str(target),
        *platforms,
        "--implementation",
        "cp",
        "--python-version",
        "3.13",
        "--only-binary=:all:",
        *requirements,
    ]
    subprocess.run(command, check=True)
