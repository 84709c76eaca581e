"""Derive the requirements files the builds install from pyproject.toml.

pyproject.toml is the single source:

- src/requirements.txt (what `sam build` installs into the function's zip) from
  [project].dependencies. boto3 (and botocore) are left out: the python3.13 runtime provides
  them, and bundling them would add ~22 MB (17 MB zipped).
- recognizer/requirements.txt (what Dockerfile.recognizer installs beside the function's) from
  the `recognizer` extra.

    python scripts/sync_requirements.py          # write both files
    python scripts/sync_requirements.py --check  # exit 1 when either differs
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROVIDED_BY_RUNTIME = {"boto3", "botocore"}
FUNCTION_HEADER = (
    "# Derived from pyproject.toml [project].dependencies by `make requirements`; do not edit.\n"
    "# boto3 and botocore are provided by the Lambda runtime and left out of the artifact.\n"
)
RECOGNIZER_HEADER = (
    "# Derived from pyproject.toml [project.optional-dependencies].recognizer by `make requirements`;\n"
    "# do not edit. Dockerfile.recognizer installs it beside src/requirements.txt.\n"
)


def requirement_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def _project(pyproject: Path) -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return project


def _render(header: str, requirements: list[str]) -> str:
    kept = [r for r in requirements if requirement_name(r) not in PROVIDED_BY_RUNTIME]
    return header + "\n".join(kept) + "\n"


def derive(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """src/requirements.txt: the function's runtime dependencies without the AWS SDK."""
    return _render(FUNCTION_HEADER, _project(pyproject)["dependencies"])


def derive_recognizer(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """recognizer/requirements.txt: the `recognizer` extra."""
    return _render(RECOGNIZER_HEADER, _project(pyproject)["optional-dependencies"]["recognizer"])


def targets(root: Path = ROOT) -> dict[Path, str]:
    pyproject = root / "pyproject.toml"
    return {
        root / "src" / "requirements.txt": derive(pyproject),
        root / "recognizer" / "requirements.txt": derive_recognizer(pyproject),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a file is out of date")
    args = parser.parse_args()
    stale = []
    for target, expected in targets().items():
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != expected:
                stale.append(target.relative_to(ROOT).as_posix())
        else:
            target.write_text(expected, encoding="utf-8")
    if stale:
        print(f"{', '.join(stale)} out of date: run `make requirements`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
