"""Label-anchored key-value extraction over OCR lines (pure Python: no image, no engine).

Labels are found first (exactly or one edit away, longest first); a line that glued a label and
its value together is split; every other line goes to the label on its left whose row it is on
(measured along the label's own direction, so skew does not matter), nearest first. Each field's
candidates are then cleaned and checked against the field's format (DOMAIN.md), which also drops
fragments of the red seal's text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from vehicle_license_intake.domain.fields import (
    LICENSE_FIELDS,
    MAIN_PAGE_FIELDS,
    SECONDARY_PAGE_FIELDS,
    is_not_applicable,
)
from vehicle_license_intake.domain.plate import normalize_plate, plate_kind
from vehicle_license_intake.domain.validation import USE_CHARACTERS
from vehicle_license_intake.domain.vin import VIN_PATTERN
from vehicle_license_recognizer.form import ENGLISH_LABELS, LABELS, TITLE

Point = tuple[float, float]

# Fields that tell the pages apart (the plate and the authority's seal say nothing).
MAIN_ONLY = frozenset(MAIN_PAGE_FIELDS) - {"plate_number", "license_issuing_authority"}
SECONDARY_ONLY = frozenset(SECONDARY_PAGE_FIELDS) - {"plate_number"}
NOT_APPLICABLE_FIELDS = frozenset({"ratified_load_capacity", "traction_mass", "remarks"})
ROW_TOLERANCE = 1.3  # label heights


@dataclass(frozen=True)
class Line:
    """One OCR detection: its text, quadrilateral (clockwise from top-left) and score."""

    text: str
    box: tuple[Point, Point, Point, Point]
    score: float

    @property
    def height(self) -> float:
        (x0, y0), _, _, (x3, y3) = self.box
        return max(1.0, math.hypot(x3 - x0, y3 - y0))

    @property
    def center(self) -> Point:
        return (sum(p[0] for p in self.box) / 4, sum(p[1] for p in self.box) / 4)


@dataclass
class Extraction:
    fields: dict[str, str]
    confidence: dict[str, float]
    labels_found: int
    page: str  # main, secondary, both, none
    valid_fields: int = 0


@dataclass
class _Label:
    name: str
    line: Line
    start: Point  # left end of the label's baseline direction
    direction: Point  # unit vector along the text
    right: float  # where the label ends, along `direction`, from `start`
    candidates: list[tuple[float, str, float]] = field(default_factory=list)  # (along, text, score)


def edit_distance_at_most_one(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    shorter, longer = sorted((a, b), key=len)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def _match_label(text: str) -> tuple[str, int] | None:
    """(label, characters of `text` it covers) when the line starts with a label."""
    compact = re.sub(r"\s+", "", text)
    for label in sorted(LABELS, key=len, reverse=True):
        if compact.startswith(label):
            return label, len(label)
    for label in sorted(LABELS, key=len, reverse=True):
        if len(label) >= 3:
            for width in (len(label) - 1, len(label), len(label) + 1):
                if edit_distance_at_most_one(compact[:width], label):
                    # a mismatch in the last character must not eat the value's first one
                    return label, width
    return None


def _is_english_label(text: str) -> bool:
    lowered = re.sub(r"[^a-z ]", "", text.lower()).strip()
    if not lowered or re.search(r"[0-9\u4e00-\u9fff]", text):
        return False
    return any(lowered.startswith(e[:5]) or edit_distance_at_most_one(lowered, e) for e in ENGLISH_LABELS)


def _split_box(line: Line, fraction: float) -> tuple[Point, Point]:
    """The point `fraction` of the way along the line's top and its direction."""
    (x0, y0), (x1, y1), _, (x3, y3) = line.box
    length = max(1.0, math.hypot(x1 - x0, y1 - y0))
    direction = ((x1 - x0) / length, (y1 - y0) / length)
    mid_left = ((x0 + x3) / 2, (y0 + y3) / 2)
    return (
        mid_left[0] + direction[0] * length * fraction,
        mid_left[1] + direction[1] * length * fraction,
    ), direction


def extract(lines: Sequence[Line]) -> Extraction:
    labels: list[_Label] = []
    values: list[tuple[Line, str, Point]] = []  # (line, text, left point)
    for line in lines:
        text = line.text.strip()
        if not text or TITLE in text or _is_english_label(text):
            continue
        matched = _match_label(text)
        compact = re.sub(r"\s+", "", text)
        if matched is None:
            left, _ = _split_box(line, 0.0)
            values.append((line, text, left))
            continue
        label_text, covered = matched
        fraction = covered / max(1, len(compact))
        start, direction = _split_box(line, 0.0)
        end, _ = _split_box(line, fraction)
        right = (end[0] - start[0]) * direction[0] + (end[1] - start[1]) * direction[1]
        entry = _Label(LABELS[label_text], line, start, direction, right)
        labels.append(entry)
        rest = compact[covered:]
        if rest:
            entry.candidates.append((right + 1, rest, line.score))

    for line, text, left in values:
        best: tuple[float, float, _Label] | None = None
        centre = line.center
        for label in labels:
            dx, dy = left[0] - label.start[0], left[1] - label.start[1]
            along = dx * label.direction[0] + dy * label.direction[1]
            across = -dx * label.direction[1] + dy * label.direction[0]
            centre_along = (centre[0] - label.start[0]) * label.direction[0] + (
                centre[1] - label.start[1]
            ) * label.direction[1]
            # the value's middle lies beyond the label's end (its box may overlap the label a
            # little: a stray glyph), on the label's row
            if centre_along < label.right or abs(across) > ROW_TOLERANCE * label.line.height:
                continue
            key = (max(0.0, along - label.right), abs(across))
            if best is None or key < best[:2]:
                best = (key[0], key[1], label)
        if best is not None:
            best[2].candidates.append((best[0] + best[2].right, text, line.score))

    fields = dict.fromkeys(LICENSE_FIELDS, "")
    confidence: dict[str, float] = {}
    found = {label.name for label in labels}
    for label in labels:
        if fields[label.name]:
            continue  # both pages in one photo: the plate appears twice
        cleaned = _value_for(label.name, label.candidates)
        if cleaned is not None:
            fields[label.name], confidence[label.name] = cleaned
    pages = {(True, True): "both", (True, False): "main", (False, True): "secondary", (False, False): "none"}
    page = pages[(bool(found & MAIN_ONLY), bool(found & SECONDARY_ONLY))]
    valid = sum(
        1
        for name in found
        if (fields[name] and FIELD_CHECKS.get(name, _any)(fields[name]))
        or (name in NOT_APPLICABLE_FIELDS and name in confidence)
    )
    return Extraction(fields, confidence, len(found), page, valid)


# Fields whose value may be split into several boxes on its row: their texts are joined.
JOINED_FIELDS = frozenset(
    {
        "address",
        "model",
        "remarks",
        "inspection_record",
        "owner",
        "total_mass",
        "curb_weight",
        "ratified_load_capacity",
        "traction_mass",
        "gabarite",
    }
)


def _value_for(name: str, candidates: list[tuple[float, str, float]]) -> tuple[str, float] | None:
    ordered = sorted(candidates)
    clean = CLEANERS.get(name, _clean_text)
    check = FIELD_CHECKS.get(name, _any)
    if name in JOINED_FIELDS:
        # free text may be split into several boxes on its row: join those that are text, not seal
        if name == "owner":  # one name; other boxes on its row are seal text
            parts = [(_clean_text(t), s) for _, t, s in ordered if check(_clean_text(t))][:1]
        else:
            parts = [(_clean_text(t), s) for _, t, s in ordered if _clean_text(t)]
        if not parts:
            return ("", 0.9) if name in NOT_APPLICABLE_FIELDS else None
        joined = clean("".join(text for text, _ in parts))
        if not joined:
            return ("", 0.9) if name in NOT_APPLICABLE_FIELDS else None
        return joined, min(score for _, score in parts)
    for _, text, score in ordered:
        value = clean(text)
        if value and check(value):
            return value, score
    for _, text, score in ordered:
        value = clean(text)
        if value:
            return value, min(score, 0.5)  # something was read, but it fails the field's format
    return ("", 0.9) if name in NOT_APPLICABLE_FIELDS else None


def _any(_: str) -> bool:
    return True


def _clean_text(text: str) -> str:
    text = re.sub(r"\s+", "", text).strip(":：")
    return "" if is_not_applicable(text) else text


_LATIN = str.maketrans({"О": "O", "Ｏ": "O", "：": ":"})


def _clean_code(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", _clean_text(text).translate(_LATIN).upper())


def _clean_stamped_code(text: str) -> str:
    """Engine and file numbers: like VINs and model codes, stamped codes avoid the letters O and I
    (they are read as the digits 0 and 1)."""
    return _clean_code(text).replace("O", "0").replace("I", "1")


def _clean_vin(text: str) -> str:
    code = _clean_code(text)
    match = re.search(r"[0-9A-Z]{17}", code)
    return match.group(0) if match else code


def _clean_plate(text: str) -> str:
    # plates use no letter O or I (GA 36): what reads as one is the digit
    plate = normalize_plate(_clean_text(text)).replace("O", "0").replace("I", "1")
    match = re.search(r"[\u4e00-\u9fff]?[A-Z0-9]{5,7}[\u4e00-\u9fff]?", plate)
    return match.group(0) if match else plate


_DATE = re.compile(r"(\d{4})\s*[-.=/年_~一]?\s*(\d{1,2})\s*[-.=/月_~一]?\s*(\d{1,2})")


def _clean_model(text: str) -> str:
    """Brand (Chinese) then a model code; model codes, like VINs, use no letter O or I."""
    value = _clean_text(text)
    match = re.match(r"([\u4e00-\u9fff]*)(.*)", value)
    brand, code = match.groups() if match else ("", value)
    return brand + code.upper().replace("O", "0").replace("I", "1")


def _clean_date(text: str) -> str:
    match = _DATE.search(_clean_text(text))
    if not match:
        return ""
    year, month, day = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def _clean_unit(unit: str) -> Callable[[str], str]:
    def clean(text: str) -> str:
        value = _clean_text(text).replace("KG", "kg").replace("Kg", "kg")
        match = re.search(r"\d[\d+]*\s*" + re.escape(unit), value) or re.search(r"\d+", value)
        if not match:
            return ""
        number = match.group(0)
        return number if number.endswith(unit) else number + unit

    return clean


def _clean_gabarite(text: str) -> str:
    value = _clean_text(text).replace("x", "×").replace("X", "×").replace("*", "×")
    match = re.search(r"(\d{3,5})×(\d{3,5})×(\d{3,5})", value)
    return f"{match.group(1)}×{match.group(2)}×{match.group(3)}mm" if match else ""


def _clean_use(text: str) -> str:
    value = _clean_text(text)
    if value in USE_CHARACTERS:
        return value
    close = [u for u in USE_CHARACTERS if edit_distance_at_most_one(value, u)]
    return close[0] if len(close) == 1 else value


CLEANERS: dict[str, Callable[[str], str]] = {
    "plate_number": _clean_plate,
    "vin": _clean_vin,
    "engine_number": _clean_stamped_code,
    "document_id": _clean_stamped_code,
    "register_date": _clean_date,
    "issue_date": _clean_date,
    "approved_passengers_capacity": _clean_unit("人"),
    "total_mass": _clean_unit("kg"),
    "curb_weight": _clean_unit("kg"),
    "ratified_load_capacity": _clean_unit("kg"),
    "traction_mass": _clean_unit("kg"),
    "gabarite": _clean_gabarite,
    "use_character": _clean_use,
    "model": _clean_model,
}
FIELD_CHECKS: dict[str, Callable[[str], bool]] = {
    "plate_number": lambda v: plate_kind(v) != "unknown",
    "vin": lambda v: bool(VIN_PATTERN.match(v)),
    "vehicle_type": lambda v: v.endswith("车") and 2 < len(v) <= 10,
    "owner": lambda v: bool(re.fullmatch(r"[\u4e00-\u9fff·（）()A-Za-z]{2,30}", v)),
    "use_character": lambda v: v in USE_CHARACTERS,
    "engine_number": lambda v: 5 <= len(v) <= 20,
    "register_date": lambda v: bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)),
    "issue_date": lambda v: bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)),
    "document_id": lambda v: 8 <= len(v) <= 16,
    "approved_passengers_capacity": lambda v: bool(re.fullmatch(r"\d+(\+\d+)?人", v)),
    "gabarite": lambda v: bool(v),
}
