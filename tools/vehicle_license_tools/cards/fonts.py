"""The faces the realistic cards are printed with: committed glyph subsets of openly licensed
fonts (fonts/README says which, their licences and how scripts/subset_font.py makes them), so
rendering needs nothing installed.

A `Face` pairs a face for Chinese with one for Latin text, as a card's printer does: the form's
labels are a Song (serif) face with Times-like English sub-labels; the values, printed in a second
pass, are monospaced, a serif, or the same sheared (italic) or sampled on a dot grid (dot matrix).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

FONTS = Path(__file__).resolve().parents[1] / "fonts"
HEI = FONTS / "wqy-microhei-subset.ttf"  # WenQuanYi Micro Hei (Apache-2.0 / GPLv3)
HEI_MONO = FONTS / "wqy-microhei-mono-subset.ttf"  # its monospaced face
SONG = FONTS / "noto-serif-sc-subset.otf"  # Noto Serif CJK SC (OFL-1.1)
SERIF = FONTS / "liberation-serif-subset.ttf"  # Liberation Serif (OFL-1.1), metric-compatible with Times
MONO = FONTS / "liberation-mono-subset.ttf"  # Liberation Mono (OFL-1.1)
ALL_FACES = (HEI, HEI_MONO, SONG, SERIF, MONO)


@functools.lru_cache(maxsize=512)
def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), max(4, size))


@dataclass(frozen=True)
class Face:
    """Chinese text in `cjk`, ASCII (and ×) in `latin`; `italic` shears, `dot_matrix` samples."""

    cjk: Path
    latin: Path
    italic: float = 0.0  # horizontal shear, 0.2 ~ 11 degrees
    dot_matrix: bool = False
    bold: int = 0  # stroke width in pixels at size 48

    def font_for(self, character: str) -> Path:
        return self.latin if ord(character) < 128 or character == "×" else self.cjk


LABEL_FACE = Face(SONG, SERIF)
MONO_FACE = Face(HEI_MONO, HEI_MONO)
# The printers seen on real cards: a monospaced sans (values like 京AA5599), a Song with a Times
# for Latin (穆高寒, 47CB521VL), an italic mono and a dot-matrix mono (LFGGF53W0WH228343).
PRINT_FACES: dict[str, Face] = {
    "mono": Face(HEI_MONO, HEI_MONO, bold=1),
    "serif": Face(SONG, SERIF),
    "italic": Face(HEI_MONO, MONO, italic=0.2),
    "dot_matrix": Face(HEI_MONO, MONO, italic=0.12, dot_matrix=True, bold=1),
}
