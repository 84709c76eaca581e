"""pyproject.toml is the single source of dependencies; what SAM builds from is derived from it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sam_requirements_are_derived_from_pyproject() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync_requirements.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_runtime_dependencies_are_the_three_the_function_imports() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = sorted(d.split(">")[0].split("[")[0] for d in dependencies)
    assert names == ["aws-lambda-powertools", "boto3", "requests"]
    requirements = (ROOT / "src" / "requirements.txt").read_text().splitlines()
    shipped = [line for line in requirements if line and not line.startswith("#")]
    assert not any(line.startswith(("boto3", "moto", "pytest", "aws-sam-translator")) for line in shipped)


def test_the_function_package_imports_nothing_from_the_local_tooling() -> None:
    code = (
        "import sys, vehicle_license_intake.handler; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('moto', 'samtranslator', 'PIL')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_domain_code_imports_neither_boto3_nor_requests() -> None:
    code = (
        "import sys, vehicle_license_intake.domain; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'requests')]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
