"""Build the function's zip content as `sam build` does for template.yaml, or fetch its wheels.

    python scripts/build_function.py DIR                          # from the package index
    python scripts/build_function.py DIR --wheelhouse .wheelhouse  # offline, from the wheelhouse
    python scripts/build_function.py --download [--wheelhouse .wheelhouse]

A build pip-installs src/requirements.txt for the runtime (python3.13, arm64: binary wheels only)
into DIR, then copies the CodeUri folder (src/) into it without the patterns sam leaves out. Like
sam, which unpacks the wheels, it writes no bytecode and no console scripts (bin/).
`--with REQUIREMENT` adds requirements (the benchmarks measure the artifact with the X-Ray SDK or
boto3 bundled).

`--download` fills the wheelhouse with the wheels of every requirement a build may need: the
function's, the `tracing` extra and boto3 (the benchmarks' variants). It is the only step that
uses the network (`make wheelhouse`); builds from a wheelhouse read nothing else.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE_URI = ROOT / "src"
REQUIREMENTS = CODE_URI / "requirements.txt"
DEFAULT_WHEELHOUSE = ROOT / ".wheelhouse"
RUNTIME_PYTHON = "3.13"
PLATFORM_FLAGS = (
    "--platform",
    "manylinux2014_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    RUNTIME_PYTHON,
    "--only-binary=:all:",
)
# What sam's Python workflow (aws-lambda-builders, PythonPipWorkflow) leaves out of CodeUri.
SAM_EXCLUDED = (
    ".aws-sam",
    ".chalice",
    ".git",
    ".gitignore",
    "*.pyc",
    "__pycache__",
    "*.so",
    ".Python",
    "*.egg-info",
    "*.egg",
    "pip-log.txt",
    "pip-delete-this-directory.txt",
    "htmlcov",
    ".tox",
    ".nox",
    ".coverage",
    ".cache",
    ".pytest_cache",
    ".python-version",
    ".mypy_cache",
    ".dmypy.json",
    ".pyre",
    ".env",
    ".venv",
    "venv",
    "venv.bak",
    "env.bak",
    "ENV",
    "env",
    ".vscode",
    ".idea",
)
# What the Lambda python3.13 runtime provides (/var/runtime), after the function's own folder.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")


class BuildError(Exception):
    pass


def _pip(*args: str, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise BuildError(f"{' '.join(command)}\n{result.stdout[-2000:]}{result.stderr[-3000:]}")


def _offline_env() -> dict[str, str]:
    """pip reads the wheelhouse and nothing else: no configured index or find-links."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def build(
    target: Path,
    wheelhouse: Path | None = None,
    extra: Sequence[str] = (),
    requirements: Path = REQUIREMENTS,
    code_uri: Path = CODE_URI,
) -> None:
    """Install the requirements for the runtime into `target` and copy CodeUri's content in."""
    target.mkdir(parents=True, exist_ok=True)
    source: tuple[str, ...] = ()
    env = None
    if wheelhouse is not None:
        if not any(wheelhouse.glob("*.whl")):
            raise BuildError(f"no wheels in {wheelhouse}: run `make wheelhouse`")
        source = ("--no-index", "--find-links", str(wheelhouse))
        env = _offline_env()
    try:
        _pip(
            "install",
            "-q",
            "--no-compile",
            "-r",
            str(requirements),
            *extra,
            "--target",
            str(target),
            *PLATFORM_FLAGS,
            *source,
            env=env,
        )
    except BuildError as error:
        hint = f"\n{wheelhouse} lacks a wheel: run `make wheelhouse`" if wheelhouse is not None else ""
        raise BuildError(f"{error}{hint}") from None
    # pip writes console scripts (normalizer, jp.py) to bin/; sam unpacks the wheels without them.
    shutil.rmtree(target / "bin", ignore_errors=True)
    shutil.copytree(code_uri, target, ignore=shutil.ignore_patterns(*SAM_EXCLUDED), dirs_exist_ok=True)


def wheelhouse_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """Every requirement a build may install: the function's own (boto3 included) and `tracing`."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["tracing"]]


def download(wheelhouse: Path = DEFAULT_WHEELHOUSE) -> None:
    wheelhouse.mkdir(parents=True, exist_ok=True)
    _pip("download", "-q", "--dest", str(wheelhouse), *PLATFORM_FLAGS, *wheelhouse_requirements())


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def zip_size(folder: Path) -> int:
    """Bytes of the zip Lambda would receive (deflated, as sam packages it)."""
    with tempfile.TemporaryFile() as handle:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(folder))
        return handle.tell()


def lambda_runtime_sdk(folder: Path, names: Iterable[str] = RUNTIME_PROVIDED, copy: bool = False) -> Path:
    """A folder standing in for the runtime's /var/runtime: links to (or copies of, without
    bytecode) this interpreter's packages that the runtime provides. They are pure Python, so any
    Python 3 imports them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise BuildError(f"{name} is not installed in {sys.executable}")
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        destination = folder / source.name
        if destination.exists():
            continue
        if not copy:
            destination.symlink_to(source, target_is_directory=source.is_dir())
        elif source.is_dir():
            shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination)
    return folder


def lambda_python() -> str | None:
    """A python3.13 interpreter (the runtime's version), if this machine has one."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(pyenv_root.glob(f"versions/{RUNTIME_PYTHON}*/bin/python{RUNTIME_PYTHON}"))
    on_path = shutil.which(f"python{RUNTIME_PYTHON}")
    for candidate in [*map(str, candidates), *([on_path] if on_path else [])]:
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path, nargs="?", help="the folder to build the artifact into")
    parser.add_argument(
        "--wheelhouse", type=Path, default=None, help="build offline from (or --download into) it"
    )
    parser.add_argument("--download", action="store_true", help="download the wheels, build nothing")
    parser.add_argument("--with", dest="extra", action="append", default=[], metavar="REQUIREMENT")
    parser.add_argument("--clean", action="store_true", help="empty the target folder first")
    args = parser.parse_args()
    try:
        if args.download:
            download(args.wheelhouse or DEFAULT_WHEELHOUSE)
            return 0
        if args.target is None:
            parser.error("give the folder to build into (or --download)")
        if args.clean and args.target.exists():
            shutil.rmtree(args.target)
        build(args.target, args.wheelhouse, args.extra)
    except BuildError as error:
        print(error, file=sys.stderr)
        return 1
    print(
        f"{args.target}: {folder_size(args.target) / 1e6:.1f} MB unzipped, "
        f"{zip_size(args.target) / 1e6:.1f} MB zipped"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
