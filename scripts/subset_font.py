"""Re-make the committed font subsets after the generator learns new characters.

Needs fontTools (dev extra) and the full fonts (Debian: fonts-wqy-microhei, fonts-noto-cjk,
fonts-liberation2):

    python scripts/subset_font.py [--wqy PATH] [--noto-serif PATH] [--liberation DIR]

The Chinese faces keep every character the generators print (`synthetic.characters()`, the
shipped samples' texts); the Latin faces keep printable ASCII and ×. Liberation's subsets are
renamed (Intake Serif, Intake Mono): a subset is a Modified Version under the OFL, and
"Liberation" is a Reserved Font Name. Licences: tools/vehicle_license_tools/fonts/README.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from vehicle_license_tools import synthetic
from vehicle_license_tools.cards import fonts

ROOT = Path(__file__).resolve().parents[1]
LATIN = "".join(chr(c) for c in range(32, 127)) + "×·"
RENAMED = {fonts.SERIF: "Intake Serif", fonts.MONO: "Intake Mono"}


def subset(source: str, number: int, characters: str, output: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        text = Path(folder) / "characters.txt"
        text.write_text(characters, encoding="utf-8")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "fontTools.subset",
                source,
                f"--font-number={number}",
                f"--text-file={text}",
                f"--output-file={output}",
                "--layout-features=*",
                "--no-hinting",
                "--drop-tables+=FFTM",
            ],
            check=True,
        )
    if output in RENAMED:
        rename(output, RENAMED[output])
    print(f"{output.name}: {len(set(characters))} characters, {output.stat().st_size} bytes")


def rename(path: Path, family: str) -> None:
    from fontTools.ttLib import TTFont

    font = TTFont(str(path))
    style = font["name"].getDebugName(2) or "Regular"
    names = {
        1: family,
        3: f"{family} {style}; subset",
        4: f"{family} {style}",
        6: family.replace(" ", "") + "-" + style,
    }
    for record in font["name"].names:
        if record.nameID in names:
            record.string = names[record.nameID]
        elif record.nameID in (16, 17, 18, 21, 22):
            record.string = family if record.nameID in (16, 21) else style
    font.save(str(path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wqy", default="/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
    parser.add_argument("--noto-serif", default="/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
    parser.add_argument("--liberation", default="/usr/share/fonts/truetype/liberation2")
    args = parser.parse_args()
    characters = set(synthetic.characters())
    for truth in (ROOT / "samples").glob("*.json"):  # the shipped samples' texts too
        characters |= set(json.dumps(json.loads(truth.read_text(encoding="utf-8")), ensure_ascii=False))
    chinese = "".join(sorted(characters))
    subset(args.wqy, 0, chinese, synthetic.SUBSET_FONT)
    subset(args.wqy, 1, chinese, fonts.HEI_MONO)  # WenQuanYi Micro Hei Mono
    subset(args.noto_serif, 2, chinese, fonts.SONG)  # index 2: Noto Serif CJK SC
    subset(f"{args.liberation}/LiberationSerif-Regular.ttf", 0, LATIN, fonts.SERIF)
    subset(f"{args.liberation}/LiberationMono-Regular.ttf", 0, LATIN, fonts.MONO)
    total = sum(path.stat().st_size for path in fonts.ALL_FACES)
    print(f"all faces: {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
