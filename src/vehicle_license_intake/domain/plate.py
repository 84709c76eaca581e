"""Plate numbers (号牌号码, GA 36)."""

from __future__ import annotations

import re
import unicodedata

PROVINCES: dict[str, str] = {
    "京": "北京",
    "津": "天津",
    "沪": "上海",
    "渝": "重庆",
    "冀": "河北",
    "豫": "河南",
    "云": "云南",
    "辽": "辽宁",
    "黑": "黑龙江",
    "湘": "湖南",
    "皖": "安徽",
    "鲁": "山东",
    "新": "新疆",
    "苏": "江苏",
    "浙": "浙江",
    "赣": "江西",
    "鄂": "湖北",
    "桂": "广西",
    "甘": "甘肃",
    "晋": "山西",
    "蒙": "内蒙古",
    "陕": "陕西",
    "吉": "吉林",
    "闽": "福建",
    "贵": "贵州",
    "粤": "广东",
    "青": "青海",
    "藏": "西藏",
    "川": "四川",
    "宁": "宁夏",
    "琼": "海南",
}

_P = "[" + "".join(PROVINCES) + "]"
_L = "[A-HJ-NP-Z]"
_LD = "[A-HJ-NP-Z0-9]"
_E = "[DABCEFGHJK]"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("hong_kong_macau", re.compile(rf"^粤Z{_LD}{{4}}[港澳]$")),
    ("consular", re.compile(rf"^{_P}{_L}{_LD}{{4}}领$")),
    ("embassy", re.compile(r"^(使[0-9]{6}|[0-9]{6}使)$")),
    ("new_energy_small", re.compile(rf"^{_P}{_L}{_E}{_LD}[0-9]{{4}}$")),
    ("new_energy_large", re.compile(rf"^{_P}{_L}[0-9]{{5}}{_E}$")),
    ("trailer", re.compile(rf"^{_P}{_L}{_LD}{{4}}挂$")),
    ("coach", re.compile(rf"^{_P}{_L}{_LD}{{4}}学$")),
    ("police", re.compile(rf"^{_P}{_L}{_LD}{{4}}警$")),
    ("ordinary", re.compile(rf"^{_P}{_L}{_LD}{{5}}$")),
)

PLATE_KINDS: tuple[str, ...] = (*(kind for kind, _ in _PATTERNS), "unknown")


def normalize_plate(raw: str) -> str:
    """Strip separators, fold full-width characters to half-width, upper-case.

    Repeated until nothing changes: removing a separator can bring a letter and a combining mark
    together, which NFKC then composes; the result is the same however often it is normalised.
    """
    value = raw
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", value)
        stripped = unicodedata.normalize("NFKC", re.sub(r"[·•・.\s\-]", "", folded).upper())
        if stripped == value:
            break
        value = stripped
    return value


def plate_kind(plate: str) -> str:
    """The kind of a normalised plate, `unknown` when it matches no pattern."""
    for kind, pattern in _PATTERNS:
        if pattern.match(plate):
            return kind
    return "unknown"


def plate_province(plate: str) -> str | None:
    return PROVINCES.get(plate[:1]) if plate else None
