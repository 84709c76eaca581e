"""The issuing authority, read from the red stamp (发证机关章) of the main page.

Real cards carry a rectangular stamp with the name in three short horizontal lines (北京市公 /
安局公安 / 交通管理局). The stamp is found by its redness where the form prints it (or anywhere
on the page when the page could not be aligned), its ink is turned black on white, and its lines
are detected and read, top to bottom. A round seal with its name along an arc (our older drawings)
falls back to the polar reader in seal.py.

The name follows a fixed pattern (place + 公安局 + 交通警察总队/支队/大队, 公安交通管理局, …), which
repairs misread characters of the fixed part; a repaired name gets a low confidence, so the record
asks for a human look.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from vehicle_license_intake.domain.plate import PROVINCES
from vehicle_license_recognizer.chinese import to_simplified
from vehicle_license_recognizer.form import STAMP_BOX
from vehicle_license_recognizer.places import UNKNOWN_PLACE, in_order, nearest_place, place_distance

if TYPE_CHECKING:
    from vehicle_license_recognizer.layout import PageFit
    from vehicle_license_recognizer.ocr import OcrEngine, Quad

MIN_RED_FRACTION = 0.01  # of the region searched: less red than this is no stamp
STAMP_LINE_HEIGHT = 64  # pixels: the stamp is scaled so its lines are read at this height
MIN_REDNESS = 20.0  # the least redness that is stamp ink (a washed-out photo's stamp reaches ~35)
BLACK_IN_RED = 0.55  # of the region's light level in the red channel: darker is black print
NOT_RED = 12  # redness (red minus the mean of green and blue) below which a pixel is no stamp ink

_SUFFIXES = (
    "公安局公安交通管理局",
    "公安局交通警察总队",
    "公安局交通警察支队",
    "公安局交通警察大队",
    "公安局交通管理局",
    "公安交通管理局",
    "公安局交通警察局",
)
_MUNICIPALITIES = ("北京", "上海", "天津", "重庆")
_AUTONOMOUS_REGIONS = ("内蒙古", "广西", "西藏", "宁夏", "新疆")
_PLACE_STARTS = (*PROVINCES.values(),)
_SUFFIX_CHARACTERS = "".join(sorted(set("".join(_SUFFIXES))))
REPAIRED = 0.5
HOME_COST = 2.5  # a place read too badly to be known, taken as the owner's home (the address's)
BANNER_COVER = 0.85
STAMP_REGION_PX = 160  # a stamp region smaller than this (pixels high) is enlarged towards it
BAND_LEVEL = 0.2  # of the way from the ink profile's floor to its peak: a row of text


@dataclass(frozen=True)
class StampReading:
    authority: str
    confidence: float
    box: Quad  # on the image it was read from


def read_stamp(
    rgb: Any,
    main_page: PageFit | None,
    ocr: OcrEngine,
    plate_province: str | None = None,
    home: str | None = None,
) -> StampReading | None:
    """The authority from an upright RGB image of a main page (or both pages); the plate's
    province (北京, 广东, …), when read, breaks ties between places, and the owner's home (the
    address's place) stands for a place read too badly to be known."""
    import cv2
    import numpy as np

    height, width = rgb.shape[:2]
    if main_page is not None:
        corners = main_page.quad(STAMP_BOX)
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        left, top = max(0, int(min(xs))), max(0, int(min(ys)))
        right, bottom = min(width, int(max(xs)) + 1), min(height, int(max(ys)) + 1)
    else:
        left, top, right, bottom = 0, 0, width, height
    if right - left < 20 or bottom - top < 20:
        return None
    region = rgb[top:bottom, left:right]
    # a small photo's stamp is enlarged first: its ink and the redness that tells it apart are
    # found at a scale where a stroke is more than a pixel or two (JPEG keeps colour at half size)
    enlarge = max(1.0, min(3.0, STAMP_REGION_PX / max(1, bottom - top)))
    if enlarge > 1.2:
        region = cv2.resize(region, None, fx=enlarge, fy=enlarge, interpolation=cv2.INTER_CUBIC)
    else:
        enlarge = 1.0
    region = region.astype(np.int16)
    redness = region[:, :, 0] - (region[:, :, 1] + region[:, :, 2]) // 2
    # a red banner across the photo is no stamp: rows (or columns, on a page turned in the photo)
    # red from edge to edge are left out (the stamp's own rules span less than the region)
    red = redness > 35
    redness[red.mean(axis=1) > BANNER_COVER, :] = 0
    redness[:, red.mean(axis=0) > BANNER_COVER] = 0
    strongest = float(np.percentile(redness, 99.5))
    threshold = max(MIN_REDNESS, 0.45 * strongest)
    mask = (redness > threshold).astype(np.uint8)
    if int(mask.sum()) < max(40, MIN_RED_FRACTION * mask.size):
        return None
    # the stamp: the largest cluster of red ink (characters merged by a dilation)
    size = max(3, int(min(region.shape[:2]) * 0.07))
    merged = cv2.dilate(mask, np.ones((size, size), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(merged)
    if count < 2:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[biggest, :4])
    # The stamp's characters, or pieces of it cut by a holographic strip or a glare band, are
    # joined: every large enough piece within about a character of the stamp so far, repeatedly.
    pieces = [tuple(int(v) for v in stats[index]) for index in range(1, count)]
    smallest = 0.08 * max(piece[4] for piece in pieces)
    reach = int(1.5 * float(np.median([piece[3] for piece in pieces]))) + size
    grown = True
    while grown:
        grown = False
        for px, py, pw, ph, area in pieces:
            inside = px >= x and py >= y and px + pw <= x + w and py + ph <= y + h
            near = (
                px <= x + w + reach and px + pw >= x - reach and py <= y + h + reach and py + ph >= y - reach
            )
            if near and not inside and area >= smallest:
                right, bottom = max(x + w, px + pw), max(y + h, py + ph)
                x, y = min(x, px), min(y, py)
                w, h = right - x, bottom - y
                grown = True
    if w < 20 or h < 20:
        return None
    margin = max(2, size // 3)
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(region.shape[1], x + w + margin), min(region.shape[0], y + h + margin)
    # Red ink is dark in the green channel, the pale pink and blue background is light: the green
    # channel keeps the strokes' shapes where a redness map blurs faded ink into blobs.
    green = region[y0:y1, x0:x1, 1].astype(np.float32)
    dark, light = np.percentile(green, 1), np.percentile(green, 90)
    stretched = np.clip((green - dark) * (255.0 / max(1.0, light - dark)), 0, 255).astype(np.uint8)
    box: Quad = (
        (left + x0 / enlarge, top + y0 / enlarge),
        (left + x1 / enlarge, top + y0 / enlarge),
        (left + x1 / enlarge, top + y1 / enlarge),
        (left + x0 / enlarge, top + y1 / enlarge),
    )
    # Black print beside or under the stamp (a label's first character) is no part of it: it is
    # what is not red. A washed-out or blurred stamp's faint strokes are barely red too: where
    # that mask loses them, black print is told apart by its red channel instead (dark in every
    # channel, where red ink stays light in red), and the name read so asks for a look.
    reds = region[y0:y1, x0:x1, 0]

    def black_print(attempt: int) -> Any:
        if attempt == 0:
            return redness[y0:y1, x0:x1] < NOT_RED
        return reds < BLACK_IN_RED * np.percentile(reds, 90)

    for attempt in range(2):
        ink = stretched.copy()
        ink[black_print(attempt)] = 255
        read = _read_lines(ink, ocr)
        repaired = repair_authority(*read, plate_province, home) if read is not None else None
        if repaired is not None:
            confidence = min(repaired[1], REPAIRED) if attempt else repaired[1]
            return StampReading(repaired[0], confidence, box)
    from vehicle_license_recognizer.seal import read_round_seal

    round_read = read_round_seal(rgb[top:bottom, left:right], ocr.read_single_line)
    if round_read is None:
        return None
    return StampReading(round_read[0], round_read[1], box)


def _read_lines(ink: Any, ocr: OcrEngine) -> tuple[str, float] | None:
    """The stamp's horizontal lines, top to bottom, joined. The lines are found by the ink's row
    profile (the frame's rules excluded) and each is read from border to border, so a faint first
    or last character is read too."""
    import cv2
    import numpy as np

    scale = 3.6 * STAMP_LINE_HEIGHT / max(1, ink.shape[0])
    if abs(scale - 1) > 0.1:
        ink = cv2.resize(ink, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    height, width = ink.shape
    dark = ink < 128
    inner = dark[:, int(0.08 * width) : int(0.92 * width)]
    # smoothed over a few rows: a line of widely spaced characters is light but never empty
    window = max(3, height // 24)
    profile = np.convolve(inner.mean(axis=1), np.ones(window) / window, mode="same")
    floor = float(np.percentile(profile, 20))
    peak = float(np.percentile(profile, 90))  # not the frame's rules, which are darker than text
    if peak - floor < 0.05:
        return None
    text_rows = profile > floor + BAND_LEVEL * (peak - floor)
    bands: list[tuple[int, int]] = []
    y = 0
    while y < height:
        if not text_rows[y]:
            y += 1
            continue
        end = y
        while end < height and (text_rows[end] or text_rows[min(height - 1, end + 1)]):
            end += 1
        bands.append((y, end))
        y = end + 1
    bands = [(a, b) for a, b in bands if b - a >= 0.07 * height]  # not the frame's rules
    if not bands:
        return None
    columns = np.nonzero(dark[:, :width].mean(axis=0) < 0.6)[0]  # not the frame's vertical rules
    left, right = (int(columns[0]), int(columns[-1])) if len(columns) else (0, width)
    pad = int(0.02 * height)
    crops = [
        np.stack([ink[max(0, a - pad) : min(height, b + pad), left : right + 1]] * 3, axis=-1)
        for a, b in bands
    ]
    texts = ocr.recognize(crops)
    parts = [(re.sub(r"[^\u4e00-\u9fff]", "", to_simplified(t)), s) for t, s in texts]
    parts = [(t, s) for t, s in parts if t]
    if not parts:
        return None
    return "".join(t for t, _ in parts), min(s for _, s in parts)


def _province_form(name: str) -> str:
    return name + ("市" if name in _MUNICIPALITIES else "自治区" if name in _AUTONOMOUS_REGIONS else "省")


def _repair_province(place: str) -> str | None:
    """The province (省) or municipality (市) name one character away from the start of the
    place, nearest the start first: the place with that name repaired."""
    from vehicle_license_recognizer.extraction import edit_distance_at_most_one

    found: list[tuple[int, int, str, int]] = []  # (start, -width, expected, end)
    for name in _PLACE_STARTS:
        expected = _province_form(name)
        for start in range(3):
            for width in (len(expected) + 1, len(expected), len(expected) - 1):
                window = place[start : start + width]
                if window != expected and edit_distance_at_most_one(window, expected):
                    found.append((start, -width, expected, start + width))
    if not found:
        return None
    _, _, expected, end = min(found)
    return expected + place[end:]


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


# Authorities whose full name is known: Beijing's licenses carry one stamp (the real sample's).
KNOWN_SUFFIXES = {"北京市": "公安局公安交通管理局"}


def _usual_suffix(place: str) -> str:
    if place in KNOWN_SUFFIXES:
        return KNOWN_SUFFIXES[place]
    if place[:2] in _MUNICIPALITIES:
        return "公安局交通警察总队"
    return "公安局交通警察大队" if place.endswith("县") else "公安局交通警察支队"


LOST = 0.5  # a character of the fixed part not read at all (faint ink, glare, a banner over it)


@lru_cache(maxsize=16384)
def _suffix_distance(rest: str, suffix: str) -> float:
    """Edit distance from what was read after the place to a suffix, where a character of the
    suffix that was not read costs LOST: a stamp's faint or covered characters are lost, not
    misread (通察支队 is 公安局交通警察支队 with five characters lost)."""
    previous = [LOST * k for k in range(len(suffix) + 1)]
    for i, x in enumerate(rest, 1):
        current = [float(i)]
        for j, y in enumerate(suffix, 1):
            current.append(min(previous[j] + 1, current[j - 1] + LOST, previous[j - 1] + (x != y)))
        previous = current
    distance = previous[-1]
    if len(rest) < len(suffix):  # a read that stops early (the stamp's last line lost)
        distance = min(distance, _distance(rest, suffix[: len(rest)]) + 0.5)
    return distance


_PLACE_ENDS = "市县区州盟旗"


def repair_authority(
    text: str, score: float, plate_province: str | None = None, home: str | None = None
) -> tuple[str, float] | None:
    """The authority's name from what was read; any repair lowers the confidence. A stamp whose
    place was lost entirely (公安管理局) is the municipality's when the plate is one's: a
    municipality's vehicles are registered by its own administration."""
    named = _repair_authority(text, score, plate_province, home)
    compact = re.sub(r"[^\u4e00-\u9fff]", "", to_simplified(text))
    lost = named is None and plate_province in _MUNICIPALITIES and len(compact) >= 3
    if lost and plate_province and not compact.startswith(plate_province[:1]):
        named = _repair_authority(f"{plate_province}市{compact}", min(score, REPAIRED), plate_province)
    return named


def _repair_authority(
    text: str, score: float, plate_province: str | None, home: str | None = None
) -> tuple[str, float] | None:
    """The read is split where the fixed part (公安局交通警察支队, …) best matches what follows and the
    place before it best matches a known place (places.py: a city lost a character, a province
    misread or lost; the plate's province breaks ties), so a misread 公 or 安 still finds the fixed
    part; a place in no list is repaired to start with its province. A place read too badly to
    be known is the owner's home (`home`, the address's place), when given: vehicles are
    registered by the administration of the owner's residence.
    """
    compact = re.sub(r"[^\u4e00-\u9fff]", "", to_simplified(text))
    # the stamp's bottom rule read as characters after the name's last one (支队二二)
    compact = re.sub(f"(?<=[队局])[^{_SUFFIX_CHARACTERS}]{{1,2}}$", "", compact)
    # total cost, suffix distance, place end unlikely, -split, split, the known place (or None)
    best: tuple[float, float, bool, int, int, str | None] | None = None
    for split in range(0 if home else 2, len(compact) - 3):
        place, rest = compact[:split], compact[split:]
        distance = min(_suffix_distance(rest, suffix) for suffix in _SUFFIXES)
        near, cost = nearest_place(place, plate_province) if split >= 2 else (place, UNKNOWN_PLACE)
        home_cost = min(HOME_COST, place_distance(place, home)) if home else UNKNOWN_PLACE
        if home and home_cost < cost:
            near, cost = home, home_cost
        known = near if cost < UNKNOWN_PLACE else None
        key = (distance + cost, distance, place[-1:] not in _PLACE_ENDS, -split, split, known)
        if best is None or key[:4] < best[:4]:
            best = key
    if best is None:
        return None
    place, rest = compact[: best[4]], compact[best[4] :]
    repaired = False
    if best[5] is not None:
        place, repaired = best[5], best[5] != place
    else:
        # The read may start with a stroke of the stamp's border or a seal's star: the name starts
        # with a province or municipality when one is there.
        starts = [place.find(name) for name in _PLACE_STARTS if name in place]
        if starts and min(starts) > 0:
            place, repaired = place[min(starts) :], True
        if not any(place.startswith(_province_form(name)) for name in _PLACE_STARTS):
            fixed = _repair_province(place)
            place, repaired = fixed or place, repaired or fixed is not None
        # a name that does not start with its province or municipality lost its first characters
        repaired = repaired or not any(place.startswith(name) for name in _PLACE_STARTS)
    usual = _usual_suffix(place)
    distance, _, _, suffix = min((_suffix_distance(rest, s), s != usual, -len(s), s) for s in _SUFFIXES)
    lost_line = _suffix_distance(rest, usual) <= len(usual) // 2 and (
        in_order(rest, usual) or _suffix_distance(rest, usual) <= distance + 1.0
    )
    if place in KNOWN_SUFFIXES and suffix != usual and (lost_line or distance > 0):
        # a line of the stamp lost, or the fixed part misread: the place's one authority (a
        # misread name is repaired all the same, and asks for a look)
        distance, suffix = (_suffix_distance(rest, usual) if lost_line else distance), usual
    # a place known and read whole lets more of the fixed part be misread (a banner over it)
    # (or a known place in the province the plate names: two readings agree)
    known_place = best[5] is not None and (
        best[0] - best[1] <= 1.0
        or bool(plate_province and best[5].startswith(plate_province))
        or best[5] == home
    )
    if distance > (len(suffix) // 2 if known_place else max(2, len(suffix) // 3)):
        return None
    repaired = repaired or distance > 0
    if place[-1:] not in _PLACE_ENDS:  # 济南 -> 济南市: the place's last character was lost
        place, repaired = place + "市", True
    return place + suffix, (min(score, REPAIRED) if repaired else score)
