"""The functions' zip as `sam build` makes it for template.yaml (scripts/build_function.py, offline
from the wheelhouse that `make wheelhouse` downloads): what it holds, what its three handlers (the
intake function's, the review API's and the vehicle records function's, which share CodeUri src/)
import, its size, and the runtime's Python importing it. No network: pip reads only the wheelhouse."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_function.py"
WHEELHOUSE = ROOT / ".wheelhouse"
PACKAGE = "vehicle_license_intake"
REVIEW_PACKAGE = "vehicle_license_review"
RECORDS_PACKAGE = "vehicle_license_records"
PACKAGES = (PACKAGE, REVIEW_PACKAGE, RECORDS_PACKAGE)
# The handler of each function of template.yaml whose CodeUri is src/.
HANDLERS = (
    "vehicle_license_intake.handler",
    "vehicle_license_review.handler",
    "vehicle_license_records.handler",
)
# Never in the zip: the tooling, the offline recognizer and its stack (container image only),
# the emulated AWS, the AWS SDK (the runtime provides it) and the X-Ray SDK (the `tracing` extra).
FORBIDDEN = (
    "vehicle_license_tools",
    "vehicle_license_recognizer",
    "moto",
    "samtranslator",
    "PIL",
    "numpy",
    "rapidocr",
    "onnxruntime",
    "openvino",
    "cv2",
    "boto3",
    "botocore",
    "s3transfer",
    "aws_xray_sdk",
    "wrapt",
)
# Measured 2026-11-24: 6.1 MB unzipped, 1.8 MB zipped; with the X-Ray SDK (botocore) 29 / 19 MB.
MAX_UNZIPPED = 10_000_000
MAX_ZIPPED = 4_000_000

PROBE = """
import importlib, json, sys
sys.path[:0] = sys.argv[2:]
handler = importlib.import_module(sys.argv[1])
print(json.dumps({
    "package": {n: m.__file__ for n, m in sys.modules.items()
                if n.split(".")[0] in ("vehicle_license_intake", "vehicle_license_review",
                                       "vehicle_license_records")},
    "origins": {n.split(".")[0]: getattr(m, "__file__", None) for n, m in list(sys.modules.items())
                if n.split(".")[0] not in sys.stdlib_module_names and "." not in n},
    "tracer": type(getattr(handler, "tracer", None)).__name__,
}))
"""


def load_build_function() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_function", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_function = load_build_function()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not any(WHEELHOUSE.glob("*.whl")):
        pytest.fail(
            f"no wheels in {WHEELHOUSE}: run `make wheelhouse` (downloads the function's wheels once; "
            "the tests build the artifact from them offline)",
            pytrace=False,
        )
    target = tmp_path_factory.mktemp("artifact") / "function"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(target), "--wheelhouse", str(WHEELHOUSE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return target


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stands in for /var/runtime: the test venv's boto3, botocore and their dependencies."""
    folder: Path = build_function.lambda_runtime_sdk(tmp_path_factory.mktemp("runtime"))
    return folder


def import_handler(
    python: str, artifact: Path, runtime: Path, tracing: bool, handler: str = HANDLERS[0]
) -> dict[str, object]:
    """Import the handler as Lambda does: the task root, then the runtime's SDK; no site packages
    (-S), no PYTHON* variables (-I), no bytecode written (-B)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LAMBDA_TASK_ROOT": str(artifact),
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
    }
    result = subprocess.run(
        [python, "-I", "-S", "-B", "-c", PROBE, handler, str(artifact), str(runtime)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, f"{python} cannot import the handler from the artifact:\n{result.stderr}"
    loaded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def package_modules(artifact: Path) -> set[str]:
    modules = set()
    for package in PACKAGES:
        for path in (artifact / package).rglob("*.py"):
            parts = path.relative_to(artifact).with_suffix("").parts
            modules.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def top_level_names(artifact: Path) -> Iterator[str]:
    for path in artifact.iterdir():
        if path.suffix in (".dist-info", ".data"):
            continue
        yield path.name.removesuffix(".py").split(".")[0]


def test_the_artifact_is_the_function_and_its_dependencies_without_any_sdk(artifact: Path) -> None:
    names = set(top_level_names(artifact))
    assert {*PACKAGES, "aws_lambda_powertools", "requests"} <= names
    page = {p.name for p in (artifact / REVIEW_PACKAGE / "web").iterdir()}
    assert page == {"index.html", "desk.js", "desk.css"}, "the review desk's page is served by its function"
    assert not names & set(FORBIDDEN), sorted(names & set(FORBIDDEN))
    assert not list(artifact.rglob("__pycache__")), "sam ships no bytecode"
    assert not list(artifact.glob("*.egg-info")), "sam leaves CodeUri's egg-info out"


@pytest.mark.parametrize("tracing", [True, False], ids=["tracing on", "tracing off"])
def test_the_handlers_import_every_module_of_the_packages_and_nothing_outside_the_artifact(
    artifact: Path, runtime: Path, tracing: bool
) -> None:
    imported: dict[str, object] = {}
    for handler in HANDLERS:
        loaded = import_handler(sys.executable, artifact, runtime, tracing, handler)
        package = loaded["package"]
        assert isinstance(package, dict)
        imported.update(package)
        if handler.startswith(PACKAGE):
            assert not [n for n in package if n.startswith(REVIEW_PACKAGE)], (
                "the intake never loads the review API"
            )
            # Without the X-Ray SDK, tracing on means Lambda's own segment: the Tracer's stand-in.
            assert loaded["tracer"] == "Untraced"
        _assert_only_from_the_artifact(loaded, artifact, runtime)

    outside = {name: file for name, file in imported.items() if not str(file).startswith(str(artifact))}
    assert not outside, f"package modules not loaded from the artifact: {outside}"
    present = package_modules(artifact)
    assert not present - set(imported), (
        f"in the zip but never imported by a handler: {present - set(imported)}"
    )
    assert not set(imported) - present, f"imported but not in the zip: {set(imported) - present}"


def _assert_only_from_the_artifact(loaded: dict[str, object], artifact: Path, runtime: Path) -> None:
    origins = loaded["origins"]
    assert isinstance(origins, dict)
    assert not set(origins) & (set(FORBIDDEN) - {"boto3", "botocore", "s3transfer"}), origins
    strays = {
        name: file
        for name, file in origins.items()
        if file is not None and not str(file).startswith((str(artifact), str(runtime)))
    }
    assert not strays, f"imported from outside the task root and the runtime: {strays}"


def test_the_artifact_is_small(artifact: Path) -> None:
    unzipped, zipped = build_function.folder_size(artifact), build_function.zip_size(artifact)
    measured = f"{unzipped / 1e6:.1f} MB unzipped, {zipped / 1e6:.1f} MB zipped"
    print(f"function artifact: {measured}")
    assert unzipped < MAX_UNZIPPED, measured
    assert zipped < MAX_ZIPPED, measured


def test_the_runtime_python_imports_the_handler_from_the_artifact(artifact: Path, runtime: Path) -> None:
    python = build_function.lambda_python()
    if python is None:
        pytest.skip(f"no python{build_function.RUNTIME_PYTHON} on this machine")
    for tracing in (True, False):
        loaded = import_handler(python, artifact, runtime, tracing)
        assert loaded["tracer"] == "Untraced"
        assert "aws_xray_sdk" not in loaded["origins"]  # type: ignore[operator]
    review = import_handler(python, artifact, runtime, False, HANDLERS[1])
    assert "vehicle_license_review.api" in review["package"]  # type: ignore[operator]
