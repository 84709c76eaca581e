"""The issuing authority, read from the red round seal (发证机关印章).

The seal's text runs along an arc, which line OCR cannot read. The seal is found by its redness,
unwrapped with a polar transform (starting at the bottom, so the top arc is one straight line),
and the strip is read by the recognition model alone. The authority's name follows a fixed
pattern (…公安局交通警察总队/支队/大队/局), which repairs misread characters of the fixed part;
a repaired name gets a low confidence, so the record asks for a human look.
"""

from __future__ import annotations

import re
from typing import Any

from vehicle_license_intake.domain.plate import PROVINCES
from vehicle_license_recognizer.extraction import edit_distance_at_most_one

SEAL_RADIUS_PX = 220  # the seal is scaled to this radius before unwrapping
_SUFFIXES = ("总队", "支队", "大队", "局")
_MUNICIPALITIES = ("北京", "上海", "天津", "重庆")
_AUTONOMOUS_REGIONS = ("内蒙古", "广西", "西藏", "宁夏", "新疆")
_PLACE_STARTS = (*PROVINCES.values(),)
_PATTERN = re.compile(r"([\u4e00-\u9fff]{2,12}?)公安局交通警察(总队|支队|大队|局)")


def read_authority(rgb: Any, recognize_line: Any) -> tuple[str, float] | None:
    """(authority, confidence) from an RGB array holding one page's seal, or None."""
    import cv2
    import numpy as np

    r, g, b = (rgb[:, :, i].astype(np.int16) for i in range(3))
    redness = r - (g + b) // 2
    ys, xs = np.nonzero(redness > 60)
    if len(xs) < 300:
        return None
    x0, x1 = np.percentile(xs, 1), np.percentile(xs, 99)
    y0, y1 = np.percentile(ys, 1), np.percentile(ys, 99)
    radius = max(x1 - x0, y1 - y0) / 2
    if radius < 20:
        return None
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = max(0, int(cx - radius - 4)), max(0, int(cy - radius - 4))
    region = redness[top : int(cy + radius + 4), left : int(cx + radius + 4)]
    # the seal's own strongest red is full ink: a small, blurred seal keeps its contrast
    strongest = max(60.0, float(np.percentile(region, 99)))
    crop = (255 - np.clip((region - 20) * (255 / (strongest - 20)), 0, 255)).astype(np.uint8)
    scale = SEAL_RADIUS_PX / radius
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    centre = ((cx - left) * scale, (cy - top) * scale)
    rows = int(2 * np.pi * SEAL_RADIUS_PX)
    polar = cv2.warpPolar(
        crop, (SEAL_RADIUS_PX, rows), centre, SEAL_RADIUS_PX, cv2.WARP_POLAR_LINEAR + cv2.INTER_LINEAR
    )
    band = polar[:, int(0.6 * SEAL_RADIUS_PX) : int(0.93 * SEAL_RADIUS_PX)]
    band = np.concatenate([band[rows // 4 :], band[: rows // 4]])  # start at the bottom
    strip = np.ascontiguousarray(np.rot90(band, 1))
    read = recognize_line(np.stack([strip] * 3, axis=-1))
    if read is None:
        return None
    text, score = read
    return repair_authority(text, score)


def _province_form(name: str) -> str:
    return name + ("市" if name in _MUNICIPALITIES else "自治区" if name in _AUTONOMOUS_REGIONS else "省")


def _repair_province(place: str) -> str | None:
    """The province (省) or municipality (市) name one character away from the start of the
    place, nearest the start first: the place with that name repaired."""
    found: list[tuple[int, int, str, int]] = []  # (start, -width, expected, end)
    for name in _PLACE_STARTS:
        for expected in (_province_form(name),):
            for start in range(3):
                for width in (len(expected) + 1, len(expected), len(expected) - 1):
                    window = place[start : start + width]
                    if window != expected and edit_distance_at_most_one(window, expected):
                        found.append((start, -width, expected, start + width))
    if not found:
        return None
    _, _, expected, end = min(found)
    return expected + place[end:]


def repair_authority(text: str, score: float) -> tuple[str, float] | None:
    """The authority's name from what was read; any repair lowers the confidence."""
    compact = re.sub(r"[^\u4e00-\u9fff]", "", text)
    anchor = compact.find("公安")
    if anchor < 2:
        return None
    place, rest = compact[:anchor], compact[anchor:]
    # The strip may start with a stroke of the seal's star or its bottom line: the name starts
    # with a province or municipality when one is there.
    starts = [place.find(name) for name in _PLACE_STARTS if name in place]
    repaired = False
    if starts and min(starts) > 0:
        place, repaired = place[min(starts) :], True
    if not any(place.startswith(_province_form(name)) for name in _PLACE_STARTS):
        fixed = _repair_province(place)
        place, repaired = fixed or place, repaired or fixed is not None
    match = _PATTERN.fullmatch(place + rest[: len("公安局交通警察") + 2]) or _PATTERN.fullmatch(place + rest)
    if match and not repaired:
        return match.group(0), score
    suffix = next((s for s in _SUFFIXES[:3] if s in rest), None)
    if suffix is None:  # the seal's last characters were lost: the usual suffix for the place
        suffix = "总队" if place[:2] in _MUNICIPALITIES else "支队" if "省" in place else "局"
    return f"{place}公安局交通警察{suffix}", min(score, 0.5)
