"""Re-make the committed font subset after synthetic.py learns new characters.

Needs fontTools (dev extra) and the full WenQuanYi Micro Hei (Debian: fonts-wqy-microhei):

    python scripts/subset_font.py [--font /usr/share/fonts/truetype/wqy/wqy-microhei.ttc]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from vehicle_license_tools import synthetic

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--font", default="/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
    args = parser.parse_args()
    characters = set(synthetic.characters())
    for truth in (ROOT / "samples").glob("*.json"):  # the shipped samples' texts too
        characters |= set(json.dumps(json.loads(truth.read_text(encoding="utf-8")), ensure_ascii=False))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as text:
        text.write("".join(sorted(characters)))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fontTools.subset",
            args.font,
            "--font-number=0",
            f"--text-file={text.name}",
            f"--output-file={synthetic.SUBSET_FONT}",
            "--layout-features=*",
            "--no-hinting",
        ],
        check=True,
    )
    print(
        f"{synthetic.SUBSET_FONT}: {len(characters)} characters, {synthetic.SUBSET_FONT.stat().st_size} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
