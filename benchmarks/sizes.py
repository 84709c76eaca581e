"""Sizes of a folder as files and as the zip Lambda would receive; the function's artifact in the
variants the benchmarks compare, and the time python3.13 takes to import its handler."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from build_function import (  # noqa: E402
    RUNTIME_PYTHON,
    build,
    folder_size,
    lambda_python,
    lambda_runtime_sdk,
    zip_size,
)

__all__ = ["VARIANTS", "Artifact", "folder_size", "install_for_lambda", "lambda_python", "zip_size"]

TRACER = "aws-lambda-powertools[tracer]>=3.0,<4"
BOTO3 = "boto3>=1.34"
# The function's zip: (a) as shipped; (b) as before, Powertools with its tracer extra (X-Ray SDK,
# which brings botocore); (c) boto3 bundled as well.
VARIANTS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "a": ("no AWS SDK, no X-Ray SDK (as shipped)", ()),
    "b": ("Powertools[tracer]: X-Ray SDK and botocore (before)", (TRACER,)),
    "c": ("Powertools[tracer] and boto3 bundled", (TRACER, BOTO3)),
}

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
        RUNTIME_PYTHON,
        "--only-binary=:all:",
        *requirements,
    ]
    subprocess.run(command, check=True)


@dataclass
class Artifact:
    variant: str
    folder: Path

    @property
    def label(self) -> str:
        return VARIANTS[self.variant][0]

    @classmethod
    def build(cls, variant: str, folder: Path, wheelhouse: Path) -> Artifact:
        build(folder, wheelhouse, VARIANTS[variant][1])
        return cls(variant, folder)

    def sizes(self) -> tuple[int, int]:
        """(unzipped, zipped) bytes."""
        return folder_size(self.folder), zip_size(self.folder)

    def precompiled(self, folder: Path, python: str) -> Artifact:
        """A copy with bytecode for the runtime's Python, valid whatever the files' times."""
        shutil.copytree(self.folder, folder)
        compile_for(python, folder)
        return Artifact(self.variant, folder)


def compile_for(python: str, folder: Path) -> None:
    subprocess.run(
        [python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(folder)], check=True
    )


def runtime_sdk(folder: Path, python: str) -> Path:
    """What /var/runtime holds: boto3, botocore and their dependencies, compiled for the runtime."""
    lambda_runtime_sdk(folder, copy=True)
    compile_for(python, folder)
    return folder


IMPORT = """
import json, sys, time
sys.path[:0] = {paths!r}
started = time.perf_counter()
import {module}
print(json.dumps({{"import_s": time.perf_counter() - started,
                  "xray": "aws_xray_sdk.core" in sys.modules}}))
"""


def import_seconds(python: str, paths: list[Path], module: str, env: Mapping[str, str]) -> tuple[float, bool]:
    """Seconds to import `module` in a fresh interpreter started as Lambda starts one (task root,
    then the runtime's packages, no site packages, no bytecode written: /var/task is read-only),
    and whether the X-Ray SDK got imported."""
    code = IMPORT.format(paths=[str(p) for p in paths], module=module)
    result = subprocess.run(
        [python, "-B", "-S", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", **env},
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    return float(measured["import_s"]), bool(measured["xray"])


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000
