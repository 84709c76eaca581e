"""Derive src/requirements.txt (what `sam build` installs) from pyproject.toml.

pyproject.toml's [project].dependencies is the single source. boto3 (and botocore) are left out
of the Lambda artifact: the python3.13 runtime provides them, and bundling them would add ~20 MB.

    python scripts/sync_requirements.py          # write src/requirements.txt
    python scripts/sync_requirements.py --check  # exit 1 when it differs
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROVIDED_BY_RUNTIME = {"boto3", "botocore"}
HEADER = (
    "# Derived from pyproject.toml [project].dependencies by `make requirements`; do not edit.\n"
    "# boto3 and botocore are provided by the Lambda runtime and left out of the artifact.\n"
)


def requirement_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def derive(pyproject: Path = ROOT / "pyproject.toml") -> str:
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    kept = [d for d in dependencies if requirement_name(d) not in PROVIDED_BY_RUNTIME]
    return HEADER + "\n".join(kept) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    target = ROOT / "src" / "requirements.txt"
    expected = derive()
    if args.check:
        if not target.exists() or target.read_text(encoding="utf-8") != expected:
            print("src/requirements.txt is out of date: run `make requirements`", file=sys.stderr)
            return 1
        return 0
    target.write_text(expected, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
