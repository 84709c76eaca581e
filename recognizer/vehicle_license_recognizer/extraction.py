"""From OCR lines to the 20 fields (pure Python: no image, no engine).

1. Lines are folded to simplified Chinese and cut where a label starts (a label glued to its value,
   `号牌号码沪A12345`, or two fields merged into one detection, `注册日期…发证日期…`).
2. The labels, English sub-labels and title that were read anchor each page to the printed form
   (layout.py): a photo of both pages is split into its pages, and a label too faint to read gets
   its printed place.
3. On each page, every other line goes to the label on its left whose row it is on (measured along
   the label's own direction, so skew does not matter), nearest first; values printed in a second
   pass, off their row or over the label's last characters, still find their label.
4. Each field's candidates are cleaned and checked against the field's format (DOMAIN.md): VIN
   check digit, plate patterns, dates, enumerations. A value repaired by its format, or failing
   it, is reported with a confidence below 0.8 so the record asks for a human look.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace

from vehicle_license_intake.domain.fields import (
    LICENSE_FIELDS,
    MAIN_PAGE_FIELDS,
    SECONDARY_PAGE_FIELDS,
    is_not_applicable,
)
from vehicle_license_intake.domain.plate import PROVINCES, normalize_plate, plate_kind
from vehicle_license_intake.domain.validation import LOW_CONFIDENCE_THRESHOLD, USE_CHARACTERS
from vehicle_license_intake.domain.vin import (
    OCR_CONFUSIONS,
    VIN_PATTERN,
    has_valid_check_digit,
    single_confusion_suggestion,
)
from vehicle_license_recognizer.chinese import to_simplified
from vehicle_license_recognizer.form import (
    BARCODE_BOX,
    CARD_MM,
    ENGLISH_LABELS,
    LABELS,
    PAGES,
    TITLE,
)
from vehicle_license_recognizer.layout import PageFit, anchors_of, english_label, fit_pages
from vehicle_license_recognizer.ocr import Line, Point, Quad
from vehicle_license_recognizer.places import (
    BRANDS,
    CITIES,
    GIVEN_NAME_CHARACTERS,
    ORGANISATION_ENDS,
    PROVINCE_NAMES,
    SURNAMES,
    VEHICLE_TYPES,
    city_of_address,
    in_order,
    known_brand,
    place_of_address,
    places,
)

__all__ = ["Extraction", "Line", "edit_distance_at_most_one", "extract"]

# Fields that tell the pages apart (the plate and the authority's stamp say nothing).
MAIN_ONLY = frozenset(MAIN_PAGE_FIELDS) - {"plate_number", "license_issuing_authority"}
SECONDARY_ONLY = frozenset(SECONDARY_PAGE_FIELDS) - {"plate_number"}
PAGE_FIELDS = {"main": MAIN_PAGE_FIELDS, "secondary": SECONDARY_PAGE_FIELDS}
NOT_APPLICABLE_FIELDS = frozenset({"ratified_load_capacity", "traction_mass", "remarks"})
ROW_TOLERANCE = 1.3  # label heights
# Web copies carry watermarks and banners: a line with a web address or a sample mark is no value.
WATERMARK = re.compile(r"(?i)www\.|https?:|\.(com|cn|net)\b|样本|样例|仅供|供参考?|sample")
ACROSS_WEIGHT = 2.0  # a value's distance off its label's row counts this much more than along it
VIRTUAL_COST = 0.5  # label heights: a label read beats one placed from the form at equal distance
# Both below validation's LOW_CONFIDENCE_THRESHOLD (0.8): the record asks a human to look.
REPAIRED = 0.6  # a value changed by its format's rules
FAILED_FORMAT = 0.5  # a value that fails its field's format
# The recognition model's probability for a value's least certain character overstates how often
# the value is right: CERTAIN is the probability reported as 0.80 (calibrated(), below).
CERTAIN = 0.97
# Values checked against something besides their own reading keep the model's probability: a VIN
# by its check digit, the use and the vehicle type by their closed lists, the authority by the
# stamp reader's own measure (stamp.py).
CHECKED_ELSEWHERE = frozenset({"vin", "use_character", "vehicle_type", "license_issuing_authority"})


@dataclass
class Extraction:
    fields: dict[str, str]
    confidence: dict[str, float]
    labels_found: int
    page: str  # main, secondary, both, none
    valid_fields: int = 0
    boxes: dict[str, Quad] = field(default_factory=dict)  # where each value was read
    fits: dict[str, PageFit] = field(default_factory=dict)  # each page aligned to the form
    shifts: dict[str, Point] = field(default_factory=dict)  # each page's print offset, card units


@dataclass
class _Label:
    name: str  # the field
    chinese: str
    page: str | None
    line: Line
    start: Point  # left end of the label's middle line
    direction: Point  # unit vector along the text
    right: float  # where the label ends, along `direction`, from `start`
    missing: str = ""  # label characters not read with it: a value line may start with them
    virtual: bool = False  # not read: placed where the form prints it
    candidates: list[tuple[float, str, float, Quad]] = field(default_factory=list)


@dataclass
class _Value:
    line: Line
    text: str


def edit_distance_at_most_one(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    shorter, longer = sorted((a, b), key=len)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


_BY_LENGTH = sorted(LABELS, key=len, reverse=True)


def _match_label(text: str) -> tuple[str, int] | None:
    """(label, characters of `text` it covers) when the text starts with a label."""
    for label in _BY_LENGTH:
        if text.startswith(label):
            return label, len(label)
    for label in _BY_LENGTH:
        if len(label) >= 3:
            for width in (len(label) - 1, len(label), len(label) + 1):
                if edit_distance_at_most_one(text[:width], label):
                    # a mismatch in the last character must not eat the value's first one
                    return label, width
    for label in _BY_LENGTH:
        # a long label with two characters misread (品单引总质量 for 准牵引总质量) is still that
        # label: no value reads as four of its six characters in place
        misread = sum(a != b for a, b in zip(text, label, strict=False))
        if len(label) >= LONG_LABEL and len(text) >= len(label) and misread <= 2:
            return label, len(label)
    return None


LONG_LABEL = 6


def _label_inside(text: str) -> tuple[int, str] | None:
    """The first label printed in full inside the text (not at its start)."""
    found = [(text.find(label, 1), -len(label), label) for label in _BY_LENGTH if len(label) >= 3]
    found = [f for f in found if f[0] > 0]
    if not found:
        return None
    position, _, label = min(found)
    return position, label


def _is_english(text: str) -> bool:
    lowered = re.sub(r"[^a-z ]", "", text.lower()).strip()
    if not lowered or re.search(r"[0-9\u4e00-\u9fff]", text):
        return False
    if re.search(r"republic|people|licen[cs]e of|china", lowered):
        return True  # the title's English line
    return bool(english_label(text)) or any(lowered.startswith(e[:5]) for e in ENGLISH_LABELS)


def _width(char: str) -> float:
    return 1.0 if ord(char) > 0x2E80 else 0.55


def _fraction(text: str, index: int) -> float:
    total = sum(_width(c) for c in text) or 1.0
    return sum(_width(c) for c in text[:index]) / total


def _part(line: Line, start: float, end: float) -> Quad:
    """The part of the line's quadrilateral from `start` to `end` (fractions of its length)."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = line.box

    def along(a: Point, b: Point, t: float) -> Point:
        return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)

    return (
        along((x0, y0), (x1, y1), start),
        along((x0, y0), (x1, y1), end),
        along((x3, y3), (x2, y2), end),
        along((x3, y3), (x2, y2), start),
    )


def _label_entry(name: str, chinese: str, page: str | None, quad: Quad, read: str, virtual: bool) -> _Label:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    length = max(1.0, math.hypot(x1 - x0, y1 - y0))
    direction = ((x1 - x0) / length, (y1 - y0) / length)
    start = ((x0 + x3) / 2, (y0 + y3) / 2)
    end = ((x1 + x2) / 2, (y1 + y2) / 2)
    right = (end[0] - start[0]) * direction[0] + (end[1] - start[1]) * direction[1]
    missing = "".join(c for c in chinese if c not in read)
    return _Label(name, chinese, page, Line(chinese, quad, 0.0), start, direction, right, missing, virtual)


def _tokens(lines: Sequence[Line]) -> tuple[list[tuple[str, Line, float]], list[_Value]]:
    """Labels (label text, its part of the line, fraction of the line it covers) and values."""
    labels: list[tuple[str, Line, float]] = []
    values: list[_Value] = []
    for line in lines:
        scores_read = (
            line.char_scores if len(line.char_scores) == len(line.text) else (line.score,) * len(line.text)
        )
        runners_read = (
            line.alternatives if len(line.alternatives) == len(line.text) else ("",) * len(line.text)
        )
        kept = [
            (c, p, to_simplified(r))
            for c, p, r in zip(to_simplified(line.text), scores_read, runners_read, strict=True)
            if not c.isspace()
        ]
        text = "".join(c for c, _, _ in kept)
        scores = tuple(p for _, p, _ in kept)
        runners_up = tuple(r for _, _, r in kept)
        title = TITLE in text or (len(text) >= 4 and text in TITLE)  # the title, or a piece of it
        if not text or title or _is_english(line.text) or WATERMARK.search(text):
            continue
        position = 0
        while position < len(text):
            rest = text[position:]
            matched = _match_label(rest)
            if matched is not None:
                label, covered = matched
                start, end = _fraction(text, position), _fraction(text, position + covered)
                labels.append((label, Line(rest[:covered], _part(line, start, end), line.score), end - start))
                position += covered
                continue
            inside = _label_inside(rest)
            stop = position + inside[0] if inside else len(text)
            for a, b in _pieces(text, position, stop):
                start, end = _fraction(text, a), _fraction(text, b)
                piece = Line(text[a:b], _part(line, start, end), line.score, scores[a:b], runners_up[a:b])
                values.append(_Value(piece, text[a:b]))
            position = stop
    return labels, values


def _certainty(text: str, scores: Sequence[float]) -> float:
    """The least certain letter, digit or Chinese character's probability (punctuation and specks
    that the field's cleaner drops do not count)."""
    counted = [p for c, p in zip(text, scores, strict=False) if c.isalnum()]
    return min(counted, default=min(scores, default=0.0))


def _pieces(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    """One value, or two dates merged into one detection (the register and issue dates share a
    row): each date apart."""
    dates = list(_DATE.finditer(text, start, stop))
    if len(dates) < 2:
        return [(start, stop)]
    cuts = [start, *(match.start() for match in dates[1:]), stop]
    return list(itertools.pairwise(cuts))


def extract(lines: Sequence[Line]) -> Extraction:
    labels_read, values = _tokens(lines)
    anchors = anchors_of([(label, line, 1.0) for label, line, _ in labels_read], lines)
    fits = fit_pages(anchors)

    def page_of(point: Point) -> str | None:
        if not fits:
            return None
        if len(fits) == 1:
            # one page: everything read is on it (a card whose print strays from the form's
            # places must not lose a value that strays further than its label)
            return next(iter(fits))
        inside = [page for page, fit in fits.items() if fit.contains(point)]
        if len(inside) == 1:
            return inside[0]

        def distance(fit: PageFit) -> float:
            x, y = fit.card_point(point)
            return math.hypot(max(0.0, -x, x - 1), max(0.0, -y, y - 1))

        return min(fits, key=lambda page: distance(fits[page]))

    labels: list[_Label] = []
    for label, line, _ in labels_read:
        page = page_of(line.center)
        labels.append(_label_entry(LABELS[label], label, page, line.box, line.text, virtual=False))

    # labels not read: where the form prints them on each aligned page
    for page, fit in fits.items():
        present = {label.name for label in labels if label.page == page}
        for form_label in PAGES[page]:
            if form_label.field not in present:
                quad = fit.quad(form_label.box)
                labels.append(
                    _label_entry(form_label.field, form_label.chinese, page, quad, "", virtual=True)
                )

    placed: list[tuple[_Value, str | None]] = []
    for value in values:
        centre = value.line.center
        page = page_of(centre)
        if page == "secondary" and _inside(fits[page].card_point(centre), BARCODE_BOX):
            continue
        placed.append((value, page))

    shifts = _print_shifts(placed, labels, fits)
    fields, confidence, boxes = _read_fields(placed, labels, fits, shifts)
    _pair_dates(fields, confidence)
    _split_dimensions(fields, confidence)
    _tidy_remarks(fields, confidence)
    _repair_inspection(fields, confidence)
    _repair_address_start(fields, confidence)
    _check_masses(fields, confidence)
    _repair_company(fields, confidence)
    _repair_plate(fields, confidence)
    found = {label.name for label in labels if not label.virtual}
    pages = {(True, True): "both", (True, False): "main", (False, True): "secondary", (False, False): "none"}
    page = pages[(bool(found & MAIN_ONLY), bool(found & SECONDARY_ONLY))]
    valid = sum(
        1
        for name in found
        if (fields[name] and FIELD_CHECKS.get(name, _any)(fields[name]))
        or (name in NOT_APPLICABLE_FIELDS and name in confidence)
    )
    return Extraction(fields, confidence, len(found), page, valid, boxes, fits, shifts)


# The second printing pass can sit off the form by up to a line (misregistration): each page's
# values are tried against its labels moved by these offsets (card units), and the offset whose
# fields pass their formats best is kept (no offset unless one does better by a whole field).
SHIFTS_DOWN = tuple(round(0.01 * step, 2) for step in range(-7, 8))
SHIFTS_ACROSS = (-0.025, 0.025)
SHIFT_GAIN = 1.0
# How much a field passing its format says about the offset: strict formats say more.
FORMAT_WEIGHT = dict.fromkeys(("owner", "address", "engine_number", "plate_number"), 0.5)


def _read_fields(
    placed: Sequence[tuple[_Value, str | None]],
    labels: Sequence[_Label],
    fits: dict[str, PageFit],
    shifts: dict[str, Point],
) -> tuple[dict[str, str], dict[str, float], dict[str, Quad]]:
    """Each value to its label (each page's labels moved by its print offset), then each field's
    value from its label's candidates."""
    moved: list[_Label] = []
    for label in labels:
        shift = shifts.get(label.page or "", (0.0, 0.0))
        start = label.start
        if shift != (0.0, 0.0) and label.page in fits:
            start = _moved(fits[label.page], label.start, shift)
        moved.append(replace(label, start=start, candidates=[]))
    for value, page in placed:
        _assign(value, [label for label in moved if label.page == page])

    fields = dict.fromkeys(LICENSE_FIELDS, "")
    confidence: dict[str, float] = {}
    boxes: dict[str, Quad] = {}
    # The plate is printed on both pages: the main page's is taken unless only the other one's
    # passes the plate's format; a read label before a placed one.
    plates: list[tuple[str, float, list[Quad]]] = []  # each plate label's reading, in that order
    for entry in sorted(moved, key=lambda label: (label.page != "main", label.virtual)):
        cleaned = _value_for(entry.name, entry.candidates)
        if cleaned is None:
            continue
        if entry.name == "plate_number" and cleaned[0]:
            plates.append(cleaned)
        if entry.virtual and not cleaned[0]:
            continue  # a label neither read nor given a value says nothing
        if entry.name in confidence and fields[entry.name]:
            check = FIELD_CHECKS.get(entry.name, _any)
            if check(fields[entry.name]) or not check(cleaned[0]):
                continue
        fields[entry.name], confidence[entry.name], quads = cleaned
        if quads:
            boxes[entry.name] = _union(quads)
    letter = registration_province(fields)
    # a page's plate whose province character was misread or lost passes with the address's:
    # taken as that page's reading, before the other page's (the main page's first)
    for plate, score, quads in plates:
        if letter is None or _plate_ok(plate):
            break
        repaired = plate_with_province(plate, letter)
        if repaired is not None:
            fields["plate_number"] = repaired
            confidence["plate_number"] = min(score, REPAIRED)
            if quads:
                boxes["plate_number"] = _union(quads)
            break
    return fields, confidence, boxes


_PROVINCE_LETTERS = {name: letter for letter, name in PROVINCES.items()}


def calibrated(name: str, score: float) -> float:
    """A value's confidence on the scale validation reads (below 0.80: a human looks).

    A value's score is its least certain character's probability, capped by its format's rules
    (REPAIRED, FAILED_FORMAT). Measured on three generated seeds (2026-2028, 909 licenses), values
    scored 0.80-0.97 were wrong 58 times in 682 (8.5 %: the model is sure of a 6 read for an 8),
    those scored 0.97 or more 45 times in 6541 (0.7 %). So CERTAIN maps to 0.80, 1.0 stays 1.0,
    and scores between the format caps and CERTAIN fall below 0.80, in the same order. Scores at
    or under REPAIRED, and fields CHECKED_ELSEWHERE, are unchanged.
    """
    if name in CHECKED_ELSEWHERE or score <= REPAIRED:
        return score
    if score >= CERTAIN:
        return LOW_CONFIDENCE_THRESHOLD + (score - CERTAIN) * (1.0 - LOW_CONFIDENCE_THRESHOLD) / (
            1.0 - CERTAIN
        )
    return REPAIRED + (score - REPAIRED) * (LOW_CONFIDENCE_THRESHOLD - REPAIRED) / (CERTAIN - REPAIRED)


def registration_province(fields: dict[str, str], sources: Sequence[str] = ("address",)) -> str | None:
    """The plate's province character of the place that registered the vehicle: the first of the
    sources (the authority's stamp, the owner's address) that starts with a province's name."""
    for source in sources:
        text = fields.get(source, "")
        province = next((name for name in _PROVINCE_LETTERS if text.startswith(name)), None)
        if province is not None:
            return _PROVINCE_LETTERS[province]
    return None


def plate_with_province(plate: str, letter: str) -> str | None:
    """A plate whose province character was misread (泽EC91406) or not read (UE25623), with the
    registering province's: when that passes the plate's patterns. Eight Latin letters and digits
    are one too many for a plate without its province: the first is the province read as a
    letter (B for 鲁)."""
    if "\u4e00" <= plate[0] <= "\u9fff" and plate[0] not in PROVINCES:
        repaired = letter + plate[1:]
    elif plate.isascii():
        repaired = letter + (plate[1:] if len(plate) >= MAX_PLATE_LENGTH else plate)
    else:
        return None
    return repaired if _plate_ok(repaired) else None


MAX_PLATE_LENGTH = 8  # a new-energy plate: province, office letter and six


def _pair_dates(fields: dict[str, str], confidence: dict[str, float]) -> None:
    """The register and issue dates share a row and are most often the same day: a date that is
    no date (month 66, year 2817) a digit or two away from the other, valid one is that one.
    First a date that is no date is restored on its own where a digit's shape decides it (a
    month's or the decade's 0 read as 8, a year's 2 as 7)."""
    for name in ("register_date", "issue_date"):
        restored = _restore_date(fields.get(name, ""))
        if restored:
            fields[name] = restored
            confidence[name] = min(confidence.get(name, 1.0), REPAIRED)
    for name, other in (("register_date", "issue_date"), ("issue_date", "register_date")):
        value, model = fields.get(name, ""), fields.get(other, "")
        if not value or _date_ok(value) or not _date_ok(model) or len(value) != len(model):
            continue
        if sum(a != b for a, b in zip(value, model, strict=True)) <= 2:
            fields[name] = model
            confidence[name] = min(confidence.get(name, 1.0), REPAIRED)
    # A day read with one digit (a digit lost: 2009-03-2) in the same month as the other date,
    # whose day has that digit, is the other date's day.
    for name, other in (("register_date", "issue_date"), ("issue_date", "register_date")):
        value, model = fields.get(name, ""), fields.get(other, "")
        lost = confidence.get(name, 1.0) <= REPAIRED < confidence.get(other, 0.0)
        same_month = _date_ok(value) and _date_ok(model) and value != model and value[:8] == model[:8]
        if lost and same_month and value[-2] == "0" and value[-1] in model[-2:]:
            fields[name] = model


# the multiplication sign between a gabarite's numbers, and what it is read as in faint, specked
# or dot-matrix print: x, *, =, ≈, <, +, …
_TIMES = "×xX*=≈<>+÷хХ"
_STATION = re.compile(r"(\d{4})年(\d{2})月(.?)([A-Z0-9])\((\d{2})\)")
# a letter read as the digit it resembles (the station's code is a plate letter): the VIN's
# confusions of a digit for a letter, and 6 for G
_LETTER_FOR_DIGIT = str.maketrans(
    {**{digit: letters[0] for digit, letters in OCR_CONFUSIONS.items() if digit.isdigit()}, "6": "G"}
)


_DIMENSIONS_AFTER = re.compile(rf"(?<=[\u4e00-\u9fff])(\d{{3,5}}[{_TIMES}]\d{{3,5}}[{_TIMES}]\d{{3,5}}mm)$")


def _split_dimensions(fields: dict[str, str], confidence: dict[str, float]) -> None:
    """Both pages photographed side by side: the secondary page's gabarite (外廓尺寸) is printed on
    the main page's address row, and with the secondary page's labels unread it is joined to the
    address. An address ends in Chinese (号, 室): a length×width×height after it is the gabarite."""
    address = fields.get("address", "")
    match = _DIMENSIONS_AFTER.search(address)
    if not match:
        return
    fields["address"] = address[: match.start()]
    if not fields.get("gabarite"):
        fields["gabarite"] = _clean_gabarite(match.group(1))
        confidence["gabarite"] = min(confidence.get("address", 1.0), REPAIRED)


_RECORD_IN_REMARKS = re.compile(r"\d{4}年\d{1,2}月.{0,2}[A-Z0-9]\(\d{2}\)")
_DIMENSIONS = re.compile(rf"\d{{3,5}}[{_TIMES}]\d{{3,5}}")
_LABEL_TEXTS = tuple(LABELS)


def _tidy_remarks(fields: dict[str, str], confidence: dict[str, float]) -> None:
    """The remarks (备注) row is free text with no label of its own on the value's right, so what
    strays onto it is read as a remark: the inspection stamp printed over it (检验有效期至…年…月
    川D(08)) is the inspection record (taken when that field is empty or fails its format), a
    gabarite's numbers are the gabarite (taken when it is empty), and a label's characters, a
    lone character, a speck or Latin letters alone (a watermark's) are no remark."""
    value = fields.get("remarks", "")
    if not value:
        return
    record = FIELD_CHECKS["inspection_record"]
    if _RECORD_IN_REMARKS.search(value):
        if not record(fields.get("inspection_record", "")):
            fields["inspection_record"] = value
            confidence["inspection_record"] = min(confidence.get("remarks", 1.0), REPAIRED)
    elif _DIMENSIONS.search(value):
        size = _clean_gabarite(value)
        if size and not fields.get("gabarite"):
            fields["gabarite"] = size
            confidence["gabarite"] = min(confidence.get("remarks", 1.0), REPAIRED)
    elif (
        len(_letters_of(value)) > 1
        and not any(_letters_of(value) in label for label in _LABEL_TEXTS)
        and re.search(r"[\u4e00-\u9fff0-9]", value)  # Latin letters alone: a watermark's (sam)
    ):
        return
    fields["remarks"] = ""
    confidence["remarks"] = REPAIRED


def _letters_of(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


_ZERO_LIKE = "689"  # digits a faint or dot-matrix 0 is read as


def _month_restored(month: str) -> str:
    """A month that is none (83, 91) whose leading 0 was read as a digit it resembles: 03, 01."""
    if not 1 <= int(month) <= 12 and month[0] in _ZERO_LIKE and month[1] != "0":
        return "0" + month[1]
    return month


def _restore_date(value: str) -> str | None:
    """A date failing its format whose year or month passes once one digit is read as the one it
    resembles: the decade's 0 read as 8 or 9 (2908), the century's 2 as 7 (7024), a month's 0
    (2024-91-12). None when no such reading makes it a date."""
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value)
    if not match or _date_ok(value):
        return None
    year, month, day = match.groups()
    if not _date_ok(f"{year}-01-01"):
        if year[1] in _ZERO_LIKE and year[0] == "2":
            year = "20" + year[2:]
        elif year[0] == "7" and year[1] == "0":
            year = "2" + year[1:]
    restored = f"{year}-{_month_restored(month)}-{day}"
    return restored if _date_ok(restored) else None


def _repair_inspection(fields: dict[str, str], confidence: dict[str, float]) -> None:
    """An inspection record failing its format whose date and station code were read: the
    stamp's fixed words (检验有效期至) restored, a station province that is no province taken from
    the plate (the vehicle is inspected where it is registered), a digit where the station's letter
    is printed read as that letter, a month's leading 0 read as 8 (83月) restored, anything read
    after the record dropped."""
    value = fields.get("inspection_record", "")
    check = FIELD_CHECKS["inspection_record"]
    match = _STATION.search(value)
    if not value or check(value) or not match:
        return
    year, month, province, letter, number = match.groups()
    month = _month_restored(month)  # 83月: a month's leading 0 read as the digit it resembles
    if year[:1] == "2" and year[1] != "0":
        year = "20" + year[2:]  # 2826年: the century's 0 read as the digit it resembles
    plate = fields.get("plate_number", "")
    if province not in PROVINCES and plate[:1] in PROVINCES:
        province = plate[:1]
    repaired = f"检验有效期至{year}年{month}月{province}{letter.translate(_LETTER_FOR_DIGIT)}({number})"
    if check(repaired):
        fields["inspection_record"] = repaired
        confidence["inspection_record"] = min(confidence.get("inspection_record", 1.0), REPAIRED)


def _repair_address_start(fields: dict[str, str], confidence: dict[str, float]) -> None:
    """An address whose province or city was lost before its first 市 (浙市高新区…, 省绵阳市…,
    市海淀区…) starts with the place the issuing authority's stamp names, when what was read
    before 市 is part of that place, in order: a vehicle is registered where its owner lives.
    Without such a stamp, a city read whole names its province (a city name is unique)."""
    address = fields.get("address", "")
    end = address.find("市")
    if not address or address.startswith(PROVINCE_NAMES) or not 0 <= end <= 4:
        return
    read = address[:end]
    stamped = place_of_address(fields.get("license_issuing_authority", ""))
    if stamped is not None and in_order(read, stamped[:-1]):
        place = stamped
    else:
        named = [
            place
            for place, _, city in places()
            if len(city) >= 2 and read.endswith(city) and place.endswith(read + "市")
        ]
        if len(named) != 1:
            return
        place = named[0]
    fields["address"] = place + address[end + 1 :]
    confidence["address"] = min(confidence.get("address", 1.0), REPAIRED)


MIN_MASS_KG = 400  # the lightest cars weigh over 500 kg
LIGHT_VEHICLES = ("摩托", "三轮", "低速", "拖拉机", "残疾人")  # kinds that may weigh less


def contradicted_masses(fields: dict[str, str]) -> set[str]:
    """A vehicle's total mass is its curb weight and what it carries: read no greater, one of the
    two lost or misread a digit. The one with fewer digits lost one (845kg beside 2300kg); with as
    many, either may be wrong: both. A mass too light for the vehicle type read (136kg for a
    car) lost a digit whatever the other says."""
    masses = {name: _kg(fields, name) for name in ("total_mass", "curb_weight")}
    kind = fields.get("vehicle_type", "")
    if kind and not any(light in kind for light in LIGHT_VEHICLES):
        # a motor vehicle weighs some hundreds of kilograms at the least: 136kg lost a digit
        light = {name for name, mass in masses.items() if mass is not None and mass < MIN_MASS_KG}
        if light:
            return light
    total, curb = masses["total_mass"], masses["curb_weight"]
    if total is None or curb is None or total > curb:
        return set()
    digits = {"total_mass": len(str(total)), "curb_weight": len(str(curb))}
    return {name for name, count in digits.items() if count == min(digits.values())}


def _kg(fields: dict[str, str], name: str) -> int | None:
    """A mass field's kilograms, when it reads as a number of them."""
    match = re.fullmatch(r"(\d+)kg", fields.get(name, ""))
    return int(match.group(1)) if match else None


OCCUPANT_KG = 65  # GB 7258: each seat's occupant, in a total mass
MASS_SLACK_KG = 1000  # what a total may hold besides the load and the occupants (luggage, rounding)
PASSENGER_TYPES = ("客车", "轿车", "面包车")  # DOMAIN.md: the kinds that carry people, not a load


def unbalanced_masses(fields: dict[str, str]) -> set[str]:
    """The masses that do not add up, each with its format passed: a total is the curb weight, the
    ratified load and the occupants. With a load read, total - curb - load outside 0..1000 kg;
    without one, total - curb more than the seats' occupants and the slack; a load on a vehicle
    type that carries people. One of them was misread, or read from another line (a banner over
    the total, the document number's end taken for it): all of them ask for a look."""
    total, curb, load = (
        _kg(fields, name) for name in ("total_mass", "curb_weight", "ratified_load_capacity")
    )
    seats = sum(int(n) for n in re.findall(r"\d+", fields.get("approved_passengers_capacity", ""))) or None
    kind = fields.get("vehicle_type", "")
    odd: set[str] = set()
    if load is not None and any(people in kind for people in PASSENGER_TYPES):
        odd.add("ratified_load_capacity")
    if total is not None and curb is not None:
        if load is not None and not 0 <= total - curb - load <= MASS_SLACK_KG:
            odd |= {"total_mass", "curb_weight", "ratified_load_capacity"}
        elif load is None and seats is not None and total - curb > OCCUPANT_KG * seats + MASS_SLACK_KG:
            odd |= {"total_mass", "curb_weight"}
    return odd


def _check_masses(fields: dict[str, str], confidence: dict[str, float]) -> None:
    """A mass the other contradicts fails its format's confidence."""
    for name in contradicted_masses(fields):
        confidence[name] = min(confidence.get(name, 1.0), FAILED_FORMAT)


def _repair_company(fields: dict[str, str], confidence: dict[str, float]) -> None:
    """A company is named after the city it is registered in, most often the owner's address's:
    an owner company that starts with the end of that city's name (津恒通运输有限公司 beside an
    address in 天津市) lost the city's first characters; one that starts with that name but for
    one character (晋岛汇丰物流有限公司 beside 青岛市) misread it."""
    owner, address = fields.get("owner", ""), fields.get("address", "")
    if not owner.endswith("公司"):
        return
    city = city_of_address(address)
    if city is None or len(city) < 2 or owner.startswith(city):
        return
    if sum(a != b for a, b in zip(owner, city, strict=False)) == 1:
        fields["owner"] = city + owner[len(city) :]
        confidence["owner"] = min(confidence.get("owner", 1.0), REPAIRED)
        return
    for lost in range(1, len(city)):
        if owner.startswith(city[lost:]):
            fields["owner"] = city[:lost] + owner
            confidence["owner"] = min(confidence.get("owner", 1.0), REPAIRED)
            return


# the letters a digit is read for that no other letter is (6 is read for G and for B: left)
_PLATE_LETTER_READ_AS = {digit: letters[0] for digit, letters in OCR_CONFUSIONS.items() if digit.isdigit()}


def _repair_plate(fields: dict[str, str], confidence: dict[str, float]) -> None:
    """A plate that fails its patterns but passes them without one of its characters (a speck or
    a stray letter read beside it), or with its office letter read as a digit, is that plate."""
    plate = fields.get("plate_number", "")
    if not plate or _plate_ok(plate):
        return
    shorter = {plate[:i] + plate[i + 1 :] for i in range(len(plate))}
    valid = [candidate for candidate in shorter if _plate_ok(candidate)]
    if not valid and plate[:1] in PROVINCES and plate[1:2] in _PLATE_LETTER_READ_AS:
        # the office's letter after the province read as the digit it resembles (沪561E5E)
        valid = [plate[0] + _PLATE_LETTER_READ_AS[plate[1]] + plate[2:]]
        valid = [candidate for candidate in valid if _plate_ok(candidate)]
    if len(valid) == 1:
        fields["plate_number"] = valid[0]
        confidence["plate_number"] = min(confidence.get("plate_number", 1.0), REPAIRED)


def _moved(fit: PageFit, point: Point, shift: Point) -> Point:
    """A point of the image moved by an offset in card units, along the page's own axes."""
    x, y = fit.card_point(point)
    return fit.to_image(((x + shift[0]) * CARD_MM[0], (y + shift[1]) * CARD_MM[1]))


def _format_score(fields: dict[str, str], names: frozenset[str]) -> float:
    score = 0.0
    for name in names:
        value = fields.get(name, "")
        if not value or not FIELD_CHECKS.get(name, _any)(value):
            continue
        if name == "vin" and not has_valid_check_digit(value):
            score += 0.5
        else:
            score += FORMAT_WEIGHT.get(name, 1.0)
    return score


def _print_shifts(
    placed: Sequence[tuple[_Value, str | None]], labels: Sequence[_Label], fits: dict[str, PageFit]
) -> dict[str, Point]:
    """Each aligned page's print offset: down first, then across."""
    shifts: dict[str, Point] = {}
    for page in fits:
        own = [(value, where) for value, where in placed if where == page]
        own_labels = [label for label in labels if label.page == page]
        names = frozenset(PAGE_FIELDS[page])

        def score(shift: Point) -> float:
            fields, _, _ = _read_fields(own, own_labels, fits, {page: shift})  # noqa: B023 - used at once
            return _format_score(fields, names)  # noqa: B023

        still = score((0.0, 0.0))
        best, down = still, 0.0
        for dy in sorted(SHIFTS_DOWN, key=abs):
            found = score((0.0, dy)) if dy else still
            if found >= best + (SHIFT_GAIN if best == still else 0.01):
                best, down = found, dy
        dx = 0.0
        for across in SHIFTS_ACROSS:
            found = score((across, down))
            if found >= best + SHIFT_GAIN:
                best, dx = found, across
        shifts[page] = (dx, down)
    return shifts


def _inside(point: Point, box: tuple[float, float, float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def _assign(value: _Value, labels: Sequence[_Label]) -> None:
    line = value.line
    (x0, y0), _, _, (x3, y3) = line.box
    left = ((x0 + x3) / 2, (y0 + y3) / 2)
    centre = line.center
    best: tuple[float, float, _Label] | None = None
    for label in labels:
        dx, dy = left[0] - label.start[0], left[1] - label.start[1]
        along = dx * label.direction[0] + dy * label.direction[1]
        across = -dx * label.direction[1] + dy * label.direction[0]
        centre_along = (centre[0] - label.start[0]) * label.direction[0] + (
            centre[1] - label.start[1]
        ) * label.direction[1]
        # the value's middle lies beyond the label's end (its box may overlap the label: a
        # stray glyph, or a second-pass print over the label), on the label's row
        if centre_along < label.right or abs(across) > ROW_TOLERANCE * label.line.height:
            continue
        # nearest along the row first, but a label on the value's own row beats one a row away
        gap = max(0.0, along - label.right)
        cost = (gap + ACROSS_WEIGHT * abs(across)) / label.line.height + (
            VIRTUAL_COST if label.virtual else 0
        )
        if best is None or cost < best[1]:
            best = (gap, cost, label)
    if best is None:
        return
    label = best[2]
    scores = line.char_scores or (line.score,) * len(value.text)
    runners_up = line.alternatives if len(line.alternatives) == len(value.text) else ("",) * len(value.text)
    read = _read_for(label.name, label.missing, value.text, scores, runners_up)
    if read is None:
        return
    text, certainty = read
    label.candidates.append((best[0] + label.right, text, certainty, line.box))


@functools.lru_cache(maxsize=4096)
def _read_for(
    name: str, missing: str, text: str, scores: tuple[float, ...], runners_up: tuple[str, ...]
) -> tuple[str, float] | None:
    """(text, certainty) of a value read beside the label of field `name`: None when the value is
    only the label's unread characters. The same value is assigned to the same label for each
    print offset tried, so the answer is kept."""
    if missing and name != "inspection_record":
        # the label's unread characters, printed before the value (a second-pass print
        # overlapping its label): not part of it
        stripped = text.lstrip(missing)
        if not stripped:
            return None
        scores = scores[len(text) - len(stripped) :]
        runners_up = runners_up[len(text) - len(stripped) :]
        text = stripped
    certainty = _certainty(text, scores)
    repair = RUNNER_UP_REPAIRS.get(name)
    if repair is not None and _clean_text(text) == text:
        repaired = repair(text, runners_up)
        if repaired is not None:
            text, certainty = repaired, min(certainty, REPAIRED)
    return text, certainty


def _personal_name(name: str, runners_up: Sequence[str]) -> bool:
    """A person's name in Chinese characters (not an organisation's, not one in Latin letters),
    with a runner-up list for each character."""
    if not 2 <= len(name) <= 4 or len(runners_up) < len(name) or re.search(r"[A-Za-z·]", name):
        return False
    return _owner_shape(name) and not name.endswith(ORGANISATION_ENDS)


def _surname_from_runners_up(name: str, runners_up: Sequence[str]) -> str | None:
    """A person's name whose first character is no surname, where one of the model's runners-up
    for that character is (淄 read, 潘 second): the name with that surname. An organisation, a
    name in Latin letters or one the runners-up say nothing of is left as read."""
    if not _personal_name(name, runners_up) or name[0] in SURNAMES:
        return None
    surname = next((c for c in runners_up[0] if c in SURNAMES), None)
    return surname + name[1:] if surname else None


def _given_name_from_runners_up(name: str, runners_up: Sequence[str]) -> str | None:
    """A person's name (a surname first) with a character of the given name that is no common
    one (卢强器), where one of the model's runners-up there is (磊): the name with it. Rare
    characters the runners-up say nothing of are left as read."""
    if not _personal_name(name, runners_up) or name[0] not in SURNAMES:
        return None
    given = [
        next((c for c in others if c in GIVEN_NAME_CHARACTERS), read)
        if read not in GIVEN_NAME_CHARACTERS
        else read
        for read, others in zip(name[1:], runners_up[1:], strict=False)
    ]
    repaired = name[0] + "".join(given)
    return repaired if repaired != name else None


def _name_from_runners_up(name: str, runners_up: Sequence[str]) -> str | None:
    """The owner's surname, then given name, taken from the runners-up where read as none."""
    surname = _surname_from_runners_up(name, runners_up)
    given = _given_name_from_runners_up(surname or name, runners_up)
    return given or surname


def _size_from_runners_up(kind: str, runners_up: Sequence[str]) -> str | None:
    """A vehicle type whose size class was misread (属型厢式货车), where one of the model's
    runners-up for that character is a size class (重): the type in that size, when GA 802 names
    it. Otherwise the cleaner's rules apply (the usual size, asked to be looked at)."""
    if len(kind) < 4 or len(runners_up) < len(kind) or kind[1] != "型" or kind[0] in _SIZE_CLASSES:
        return None
    size = next((c for c in runners_up[0] if c in _SIZE_CLASSES), None)
    if size is None:
        return None
    named = _clean_vehicle_type(size + kind[1:])
    return named if named in VEHICLE_TYPES and named[0] == size else None


def _one_runner_up(
    text: str,
    runners_up: Sequence[str],
    read: Callable[[str], str],
    passes: Callable[[str], bool],
    usable: Callable[[str, str], bool],
) -> str | None:
    """The text with one character replaced by a runner-up of the model's there (one `usable` in
    place of the character read), when exactly one value `read` from such a text `passes`; None
    when none or several do."""
    repaired: dict[str, str] = {}
    for index, others in enumerate(runners_up[: len(text)]):
        for other in (c for c in others if usable(text[index], c)):
            candidate = text[:index] + other + text[index + 1 :]
            value = read(candidate)
            if value and passes(value):
                repaired.setdefault(value, candidate)
    return next(iter(repaired.values())) if len(repaired) == 1 else None


def _vin_from_runners_up(text: str, runners_up: Sequence[str]) -> str | None:
    """A VIN of seventeen characters whose check digit fails, where exactly one VIN with a valid
    check digit differs from it by one character the model ranked second or lower at that place
    (LZZ291FD4NSTPUACV with 5 behind the S): the text with that character. The check digit, not
    a list of usual confusions, decides; a VIN that two runners-up would make valid is left as
    read."""
    vin = _read_vin(text)
    if not VIN_PATTERN.match(vin) or has_valid_check_digit(vin) or len(runners_up) < len(text):
        return None
    return _one_runner_up(
        text,
        [others.upper() for others in runners_up],
        _read_vin,
        lambda candidate: bool(VIN_PATTERN.match(candidate)) and has_valid_check_digit(candidate),
        lambda _, other: "0" <= other <= "9" or "A" <= other <= "Z",
    )


def _plate_from_runners_up(text: str, runners_up: Sequence[str]) -> str | None:
    """A plate that fails its patterns, where exactly one plate that passes them differs from it
    by one character the model ranked second or lower there (鄂6320A7 with 8 and B behind the 6:
    鄂B320A7, an office letter being no digit): the text with that character. Only a runner-up in
    the read character's script: a Chinese character read where a letter is printed (京L818E位)
    says the crop was unclear, and reading the plate's place again does better."""
    if len(runners_up) < len(text) or _plate_ok(_clean_plate(text)):
        return None
    return _one_runner_up(
        text, runners_up, _clean_plate, _plate_ok, lambda read, other: other.isascii() is read.isascii()
    )


# Fields whose misread character a runner-up of the model's restores: (text read, runners-up) ->
# the repaired text, or None.
RUNNER_UP_REPAIRS: dict[str, Callable[[str, Sequence[str]], str | None]] = {
    "owner": _name_from_runners_up,
    "vehicle_type": _size_from_runners_up,
    "vin": _vin_from_runners_up,
    "plate_number": _plate_from_runners_up,
}


def _union(quads: Sequence[Quad]) -> Quad:
    xs = [p[0] for quad in quads for p in quad]
    ys = [p[1] for quad in quads for p in quad]
    return ((min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys)))


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


def _value_for(
    name: str, candidates: list[tuple[float, str, float, Quad]]
) -> tuple[str, float, list[Quad]] | None:
    ordered = tuple((text, score, quad) for _, text, score, quad in sorted(candidates, key=lambda c: c[0]))
    found = _value_of(name, ordered)
    return None if found is None else (found[0], found[1], list(found[2]))


@functools.lru_cache(maxsize=4096)
def _value_of(
    name: str, ordered: tuple[tuple[str, float, Quad], ...]
) -> tuple[str, float, tuple[Quad, ...]] | None:
    """A field's value from its label's candidates, nearest first. The print offsets tried give
    most labels the same candidates again, so the answer is kept."""
    clean = CLEANERS.get(name, _clean_text)
    check = FIELD_CHECKS.get(name, _any)
    empty: tuple[str, float, tuple[Quad, ...]] | None = (
        ("", 0.9, ()) if name in NOT_APPLICABLE_FIELDS else None
    )
    if name in JOINED_FIELDS:
        if name == "owner":  # one name; other boxes on its row are stamp text
            parts = [(_clean_text(t), s, q) for t, s, q in ordered if _owner_shape(_clean_text(t))][:1]
        else:
            parts = [(_clean_text(t), s, q) for t, s, q in ordered if _clean_text(t)]
        if not parts:
            return empty
        raw = "".join(text for text, _, _ in parts)
        joined = clean(raw)
        if not joined:
            return empty
        score = min(min(score for _, score, _ in parts), ADJUST.get(name, _unchanged)(raw, joined))
        if not check(joined):
            score = min(score, FAILED_FORMAT)
        return joined, score, tuple(q for _, _, q in parts)
    for text, score, quad in ordered:
        value = clean(text)
        if value and check(value):
            return value, min(score, ADJUST.get(name, _unchanged)(text, value)), (quad,)
    for text, score, quad in ordered:
        value = clean(text)
        if value:
            return value, min(score, FAILED_FORMAT), (quad,)
    return empty


def _any(_: str) -> bool:
    return True


def _unchanged(_: str, __: str) -> float:
    return 1.0


# The end of a watermark (样例图片) read into the value it crosses, and a web address's (ww.che,
# WW.CHES: www. with a w lost): no license value holds a web address.
WATERMARK_TAIL = re.compile(
    r"样?例图片$|(?i:w{2,3})\.[A-Za-z]{2,}[A-Za-z.]*$|(?<![A-Za-z])w\.[a-z]{2,}[a-z.]*$"
)


def _clean_text(text: str) -> str:
    text = WATERMARK_TAIL.sub("", re.sub(r"\s+", "", to_simplified(text))).strip(":：")
    return "" if is_not_applicable(text) else text


_LATIN = str.maketrans({"О": "O", "Ｏ": "O", "：": ":"})


def _clean_code(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", _clean_text(text).translate(_LATIN).upper())


def _clean_stamped_code(text: str) -> str:
    """Engine numbers: like VINs and model codes, stamped codes avoid the letters O and I
    (they are read as the digits 0 and 1)."""
    return _clean_code(text).replace("O", "0").replace("I", "1")


# a letter read for the digit it resembles (the VIN's confusions, and G for 6)
_DIGIT_FOR_LETTER = str.maketrans(
    {**{letter: digits[0] for letter, digits in OCR_CONFUSIONS.items() if letter.isalpha()}, "G": "6"}
)


def _clean_document_id(text: str) -> str:
    """A file number is digits only: a letter read for the digit it resembles (B86493434426) is
    that digit."""
    code = _clean_code(text)
    digits = code.translate(_DIGIT_FOR_LETTER)
    return digits if digits.isdigit() else code


def _read_vin(text: str) -> str:
    code = _clean_code(text).replace("O", "0").replace("Q", "0").replace("I", "1")
    match = re.search(r"[0-9A-Z]{17}", code)
    return match.group(0) if match else code


def _clean_vin(text: str) -> str:
    """Seventeen characters; a check digit off by one usual confusion (B/8, S/5, Z/2, D/0) is
    repaired when exactly one substitution makes it valid."""
    vin = _read_vin(text)
    if len(vin) == VIN_LENGTH - 1 and not vin.startswith("L") and has_valid_check_digit("L" + vin):
        return "L" + vin  # the first character lost: vehicles made in China carry VINs from L
    if VIN_PATTERN.match(vin) and not has_valid_check_digit(vin):
        return single_confusion_suggestion(vin) or vin
    return vin


VIN_LENGTH = 17


def _vin_confidence(text: str, value: str) -> float:
    if not has_valid_check_digit(value):
        return 0.75  # imported vehicles may carry none, but misreads do too
    return REPAIRED if _read_vin(text) != value else 1.0


def _clean_plate(text: str) -> str:
    """As printed (a lower-case letter stays lower-case), without separators; plates use no
    letter O or I (GA 36): what reads as one is the digit."""
    text = re.sub(r"[^0-9A-Za-z\u4e00-\u9fff]", "", _clean_text(text))  # slashes, quotes, specks
    plate = normalize_plate(text)
    if plate:
        # normalize_plate upper-cases; the printed case of each letter is kept
        raw = text
        if len(raw) == len(plate):
            plate = "".join(r if r.upper() == p else p for r, p in zip(raw, plate, strict=True))
    plate = re.sub(r"[Oo]", "0", plate).replace("I", "1")
    # a province (or 使) and at most seven more; without one, eight (the province read as a letter)
    match = re.search(
        r"[\u4e00-\u9fff][A-Za-z0-9]{5,7}[\u4e00-\u9fff]?|[A-Za-z0-9]{5,8}[\u4e00-\u9fff]?", plate
    )
    return match.group(0) if match else plate


def plate_without_sub_label_letter(plate: str) -> str | None:
    """A plate that fails its format for a lower-case letter read after it (a letter of the
    sub-label, Plate No., under a plate printed low): the plate without it. Applied last: a plate
    that fails its format is read again from its place first, which mostly reads it whole."""
    if not _plate_ok(plate) and len(plate) > 2 and plate[-1].islower() and _plate_ok(plate[:-1]):
        return plate[:-1]
    return None


def _plate_ok(value: str) -> bool:
    return plate_kind(value.upper()) != "unknown"


_DATE = re.compile(r"(\d{4})\s*[-.=/年_~一:：,]?\s*(\d{1,2})\s*[-.=/月_~一:：,]?\s*(\d{1,2})")


def _clean_model(text: str) -> str:
    """Brand (Chinese) then a model code; model codes, like VINs, use no letter O or I. A brand
    that lost or misread a character is the one known brand it reads as (places.BRANDS)."""
    value = _clean_text(text)
    match = re.match(r"([\u4e00-\u9fff]*)(.*)", value)
    brand, code = match.groups() if match else ("", value)
    brand = (known_brand(brand) or _brand_after_label(brand) or brand) if brand else brand
    code = _model_code_as_read(code)
    return brand + (_model_code_by_its_format(code) or code)


def _model_code_as_read(code: str) -> str:
    """Model codes, like VINs, use no letter O or I: what reads as one is the digit."""
    return code.upper().replace("O", "0").replace("I", "1").replace("Θ", "0")


# GB 9417: the maker's two or three letters, the category digit, two digits of the main parameter
# (engine displacement, length or mass) and one of sequence, then the maker's own suffix
# (SGM7247ATA, GHA7150JAD5B, DFM7160). Imported vehicles' codes need not follow it.
MODEL_CODE = re.compile(r"[A-Z]{2,3}\d{4}[0-9A-Z\-]*")


def _model_code_by_its_format(code: str) -> str | None:
    """A model code that breaks GB 9417's form for characters read as what they resemble (5VW7183,
    SVW71B3): the form the usual confusions make of it with the fewest characters changed, the
    maker's code taken as two letters and as three. None when it follows the form already, or
    when no form is made or both are, with as many changes (SVD718B: SV0718B or SVD7188)."""
    if MODEL_CODE.fullmatch(code):
        return None
    made: dict[str, int] = {}
    for letters in (2, 3):
        head = code[:letters].translate(_LETTER_FOR_DIGIT)
        digits = code[letters : letters + 4].translate(_DIGIT_FOR_LETTER)
        candidate = head + digits + code[letters + 4 :]
        if MODEL_CODE.fullmatch(candidate):
            made[candidate] = sum(a != b for a, b in zip(candidate, code, strict=True))
    fewest = sorted(made, key=made.__getitem__)
    if not fewest or (len(fewest) == 2 and made[fewest[0]] == made[fewest[1]]):
        return None
    return fewest[0]


def _brand_after_label(read: str) -> str | None:
    """A known brand read after pieces of its label (晶牌型导奥迪牌: 品牌型号 misread, printed
    under the value): the brand."""
    ends = [
        brand for brand in BRANDS if read.endswith(brand) and re.search("[品牌型号]", read[: -len(brand)])
    ]
    return max(ends, key=len) if ends else None


def _model_confidence(text: str, value: str) -> float:
    """A brand restored from the list, a code its format repaired or a code that does not follow
    GB 9417's form asks for a look; so does a brand that does not end in 牌, as licenses print
    every brand (别克牌SGM7247ATA): its first characters or the 牌 were lost (田CN6V64ESP,
    长53SRCL)."""

    def brand(model: str) -> str:
        return re.sub(r"[^\u4e00-\u9fff].*", "", model)

    def code(model: str) -> str:
        return model[len(brand(model)) :]

    read = _clean_text(text)
    changed = brand(read) != brand(value) or code(value) != _model_code_as_read(code(read))
    unchecked = not MODEL_CODE.fullmatch(code(value))  # cut short (UV619), or an import's own code
    return (
        REPAIRED if changed or unchecked or not brand(value).endswith("牌") or len(brand(value)) < 3 else 1.0
    )


def _clean_date(text: str) -> str:
    digits = _clean_text(text).replace("O", "0").replace("o", "0")
    match = _DATE.search(digits)
    if not match:
        return ""
    year, month, day = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def _date_ok(value: str) -> bool:
    from datetime import date

    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value)
    if not match:
        return False
    try:
        parsed = date(*(int(part) for part in match.groups()))
    except ValueError:
        return False
    return 1950 <= parsed.year <= date.today().year


_UNITS = ("人", "kg", "mm", "×")
MAX_PASSENGERS = 150


# a mass's k read as a digit (18759g for 1875kg): a number has four digits or more before it
_K_READ_AS_DIGIT = re.compile(r"(?<=\d{4})\dg$")


def _mass_confidence(text: str, value: str) -> float:
    """A mass whose k was read as a digit asks for a look (a k lost beside a five-digit mass reads
    the same)."""
    return REPAIRED if _K_READ_AS_DIGIT.search(_clean_text(text)) else 1.0


def _clean_unit(unit: str) -> Callable[[str], str]:
    def clean(text: str) -> str:
        value = _clean_text(text).replace("KG", "kg").replace("Kg", "kg").replace("k9", "kg")
        if any(other in value for other in _UNITS if other != unit):
            return ""  # another field's value (a mass read beside the passengers' label)
        if re.match(r"[^0-9]*[A-Za-z]", value):
            return ""  # letters before the number: a plate or a code, not a count or a mass
        value = re.sub(r"(?<=\d)[.,·'](?=\d)", "", value)  # dot-matrix specks between digits
        if unit == "kg":
            value = _K_READ_AS_DIGIT.sub("kg", value)
        match = re.search(r"\d[\d+]*\s*" + re.escape(unit), value) or re.search(r"\d[\d+]*", value)
        if not match:
            return ""
        number = match.group(0)
        if unit == "人" and any(int(part) > MAX_PASSENGERS for part in re.findall(r"\d+", number)):
            return ""  # no vehicle seats that many: a mass or a number read beside the label
        return number if number.endswith(unit) else number + unit

    return clean


_DIMENSION_SEPARATORS = re.compile(rf"(?<=\d)[{_TIMES}](?=\d)")
MAX_LENGTH_MM = 25000  # a road vehicle's length (GB 1589 allows 22 m for a road train)


def _clean_gabarite(text: str) -> str:
    value = _DIMENSION_SEPARATORS.sub("×", _clean_text(text))
    match = re.search(r"(\d{3,5})×(\d{3,5})×(\d{3,5})", value)
    if not match:
        return ""
    length = match.group(1)
    if len(length) == 5 and int(length) > MAX_LENGTH_MM:
        length = length[1:]  # no vehicle is that long: a speck read before the length
    return f"{length}×{match.group(2)}×{match.group(3)}mm"


MAX_WIDTH_MM = 3000  # GB 1589 allows 2550 (2600 refrigerated): a width beyond is a misread
MAX_HEIGHT_MM = 4500  # it allows 4000
MIN_HEIGHT_MM = 900  # the lowest cars stand over a metre, a two-wheeler about as high
MIN_LENGTH_PER_WIDTH = 1.4  # the shortest cars are 1.6 times as long as they are wide


def _gabarite_ok(value: str) -> bool:
    """Length × width × height in mm, each a road vehicle's (5668×25668×2497mm: a number read
    twice into the width fails; 1916×1887×3643mm, a length that lost its first digit, and
    8181×2383×160mm, a height that lost its last, fail too)."""
    match = re.fullmatch(r"(\d{3,5})×(\d{3,5})×(\d{3,5})mm", value)
    if not match:
        return False
    length, width, height = (int(part) for part in match.groups())
    return (
        MIN_LENGTH_PER_WIDTH * width <= length <= MAX_LENGTH_MM
        and width <= MAX_WIDTH_MM
        and MIN_HEIGHT_MM <= height <= MAX_HEIGHT_MM
    )


def _clean_use(text: str) -> str:
    value = _clean_text(text)
    if value in USE_CHARACTERS:
        return value
    close = [u for u in USE_CHARACTERS if edit_distance_at_most_one(value, u)]
    if len(close) == 1:
        return close[0]
    if len(value) >= 4 and (nearest := _nearest(value, USE_CHARACTERS, 2)):
        return nearest
    # the rest of the value lost (非 for 非营运): the one use it begins
    begun = [u for u in USE_CHARACTERS if value and u.startswith(value)]
    return begun[0] if len(begun) == 1 else value


def _use_confidence(text: str, value: str) -> float:
    return 1.0 if _clean_text(text) == value else REPAIRED


_SIZE_CLASSES = "微小中大重轻"


def _clean_vehicle_type(text: str) -> str:
    """Vehicle types start with a size class and 型 (小型轿车, 重型半挂牵引车): a misread 型 is
    restored; a type near exactly one of GA 802's names (places.VEHICLE_TYPES) is that name. Only
    Chinese is kept (the title's English line printed over it is no part of it)."""
    value = re.sub(r"[^\u4e00-\u9fff]", "", _clean_text(text)).replace("箱式", "厢式")  # 厢式: a common slip
    if len(value) >= 2 and value[-1] not in _TYPE_CHARACTERS:
        value = value[:-1] + "车"  # every name ends in 车: a character no name holds is it misread (军)
    if len(value) >= 4 and value[0] in _SIZE_CLASSES and value[1] != "型" and value.endswith("车"):
        value = value[0] + "型" + value[2:]
    elif len(value) >= 3 and value[0] in _SIZE_CLASSES and value[1] != "型" and value[1:].endswith("车"):
        value = value[0] + "型" + value[1:]  # 型 not read at all
    if value in VEHICLE_TYPES or len(value) < 2:
        return value
    nearest = _nearest(value, VEHICLE_TYPES, 2)
    if nearest is None and value.endswith("车"):
        # the size class lost or misread (型轿车, 董型厢式货车): the size most such vehicles are
        # registered in, to be confirmed by a look
        kind = value[2:] if len(value) > 3 and value[1] == "型" else value[1:] if value[0] == "型" else value
        nearest = _usual_size(kind) + kind if _usual_size(kind) + kind in VEHICLE_TYPES else None
    if nearest is None and len(value) >= 2:
        # characters lost inside the name (越野车, 型面): the one kind of vehicle whose names hold
        # what was read in order, in the size read (重…) or the usual one
        fits = [name for name in VEHICLE_TYPES if in_order(value, name)]
        kinds = {name[2:] if name[1:2] == "型" else name for name in fits}
        if len(kinds) == 1:
            kind = kinds.pop()
            size = value[0] + "型" if value[0] in _SIZE_CLASSES else _usual_size(kind)
            nearest = size + kind if size + kind in fits else None
    return nearest or value


_TYPE_CHARACTERS = frozenset("".join(VEHICLE_TYPES))


def _usual_size(kind: str) -> str:
    """The size most vehicles of a kind are registered in (a look confirms it)."""
    return "重型" if re.search("挂车|牵引车", kind) else "轻型" if "货" in kind else "小型"


def _vehicle_type_ok(value: str) -> bool:
    """A GA 802 name, or one of its shape (a size class, 型, a kind of vehicle)."""
    return value in VEHICLE_TYPES or bool(re.fullmatch(f"[{_SIZE_CLASSES}]型[\u4e00-\u9fff]{{1,8}}车", value))


def _nearest(value: str, names: Collection[str], most: int) -> str | None:
    """The one name within `most` edits of the value and nearer than any other, or None."""
    from vehicle_license_recognizer.stamp import _distance

    scored = sorted((_distance(value, name), name) for name in names if abs(len(name) - len(value)) <= most)
    if not scored or scored[0][0] > most or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1]


def _clean_inspection(text: str) -> str:
    value = _clean_text(text)
    start = value.find("检验有效期")
    value = value[start:] if start > 0 else value
    return re.sub(r"(?<=\))[A-Za-z]+$", "", value)  # a watermark's letters after the record


def _clean_address(text: str) -> str:
    """Chinese addresses end in Chinese (号, 室, 巷): Latin letters after it are a watermark's. An
    address names its province first: what was read before the province is another line's (the
    owner's name, a label's last character)."""
    value = re.sub(r"(?<=[\u4e00-\u9fff])[A-Za-z]{2,}$", "", _clean_text(text))
    starts = [value.find(name) for name in PROVINCE_NAMES if value.find(name) > 0]
    value = value[min(starts) :] if starts else value
    if re.search(r"[路街道巷弄]\d{1,4}$", value):
        value += "号"  # a road's number ends in 号: the last character was lost
    # a flat is 号, then building 栋 and room 室: one of those two misread as a character it
    # resembles (东 for 栋, 宣 for 室) where the other and the numbers around it were read
    value = re.sub(r"(?<=号\d)(\d{0,2})[东冻陈拣炼练](?=\d{1,4}室$)", r"\1栋", value)
    value = re.sub(r"(?<=栋\d)(\d{0,3})[宣至空宝宦]$", r"\1室", value)
    return _repair_address_place(value)


def _repair_address_place(value: str) -> str:
    """The province or municipality an address starts with, its first character lost (津市 for
    天津市) or one misread (属庆市); then the city after a province, one character misread, when
    exactly one of that province's cities is that near (山东省哥岛市)."""
    if not value.startswith(PROVINCE_NAMES):
        lost = {name for name in PROVINCE_NAMES if len(name) >= 3 and value.startswith(name[1:])}
        misread = {
            name
            for name in PROVINCE_NAMES
            if sum(a != b for a, b in zip(value[: len(name)], name, strict=False)) == 1
            and len(value) > len(name)
        }
        if len(lost) == 1:
            name = lost.pop()
            value = name + value[len(name) - 1 :]
        elif len(misread) == 1:
            name = misread.pop()
            value = name + value[len(name) :]
    province = next((name for name in CITIES if value.startswith(name)), None)
    end = value.find("市", len(province or ""))
    if province and end > len(province):
        city = value[len(province) : end]
        cities = CITIES[province].split()
        near = [
            c
            for c in cities
            if len(c) == len(city) and sum(a != b for a, b in zip(c, city, strict=True)) == 1
        ]
        if city not in cities and len(near) == 1:
            value = province + near[0] + value[end:]
    return value


def _owner_shape(value: str) -> bool:
    return bool(re.fullmatch(r"[\u4e00-\u9fff·（）()A-Za-z]{2,30}", value))


def _owner_ok(value: str) -> bool:
    """A person (a common surname first; a minority's or a foreigner's name as written) or an
    organisation (named by what it is: 有限公司, 厂, …)."""
    if not _owner_shape(value):
        return False
    if "·" in value or re.search(r"[A-Za-z]", value):
        return True
    if len(value) > 4:
        return value.endswith(ORGANISATION_ENDS)
    return value[0] in SURNAMES


CLEANERS: dict[str, Callable[[str], str]] = {
    "plate_number": _clean_plate,
    "vin": _clean_vin,
    "engine_number": _clean_stamped_code,
    "document_id": _clean_document_id,
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
    "vehicle_type": _clean_vehicle_type,
    "inspection_record": _clean_inspection,
    "address": _clean_address,
}
FIELD_CHECKS: dict[str, Callable[[str], bool]] = {
    "plate_number": _plate_ok,
    "vin": lambda v: bool(VIN_PATTERN.match(v)),
    "vehicle_type": _vehicle_type_ok,
    "owner": _owner_ok,
    "use_character": lambda v: v in USE_CHARACTERS,
    "engine_number": lambda v: 5 <= len(v) <= 20,
    "register_date": _date_ok,
    "issue_date": _date_ok,
    "document_id": lambda v: 8 <= len(v) <= 16 and v.isdigit(),
    # a vehicle seats one or more (0人: a digit misread)
    "approved_passengers_capacity": lambda v: bool(re.fullmatch(r"[1-9]\d*(\+[1-9]\d*)?人", v)),
    "total_mass": lambda v: bool(re.fullmatch(r"[1-9]\d{2,5}kg", v)),  # no leading 0: a digit lost
    "curb_weight": lambda v: bool(re.fullmatch(r"[1-9]\d{2,5}kg", v)),
    "gabarite": _gabarite_ok,
    # a brand, then a model code of five characters or more (a shorter one lost its end)
    "model": lambda v: bool(re.fullmatch(r"[\u4e00-\u9fff]{1,8}牌?[0-9A-Z\-]{5,}", v)),
    "address": lambda v: len(v) >= 4 and bool(re.match(r"[\u4e00-\u9fff]", v)),
    # 检验有效期至2024年10月川C(04): the date, then the station's plate prefix and number
    "inspection_record": lambda v: bool(
        (m := re.fullmatch(r"检验有效期至20\d{2}年(\d{2})月([\u4e00-\u9fff])[A-Z]\(\d{2}\)", v))
        and 1 <= int(m.group(1)) <= 12
        and m.group(2) in PROVINCES
    ),
}


# Fields whose format leaves no room for a piece of the value: read and passing it, the value is
# whole (a VIN by its check digit, a plate by its pattern, a date, a GA 802 vehicle type name, the
# inspection record's station). A mass, a count, a name or an address read in part still passes.
WHOLE_FORMATS: dict[str, Callable[[str], bool]] = {
    **{name: FIELD_CHECKS[name] for name in ("plate_number", "register_date", "issue_date", "use_character")},
    "inspection_record": FIELD_CHECKS["inspection_record"],
    "vin": lambda v: bool(VIN_PATTERN.match(v)) and has_valid_check_digit(v),
    "vehicle_type": lambda v: v in VEHICLE_TYPES,
}


def read_whole(name: str, text: str) -> bool:
    """Whether one line read as `text` holds the field's whole value by its format."""
    check = WHOLE_FORMATS.get(name)
    value = CLEANERS.get(name, _clean_text)(text) if check else ""
    return bool(value) and check is not None and check(value)


def _date_confidence(text: str, value: str) -> float:
    """Cards print two-digit months and days: one digit means a digit was lost."""
    match = _DATE.search(_clean_text(text).replace("O", "0").replace("o", "0"))
    return REPAIRED if match is None or len(match.group(2)) < 2 or len(match.group(3)) < 2 else 1.0


def _address_confidence(raw: str, value: str) -> float:
    """An address ending in a number lost its last character (号, 室, 栋); one that does not start
    with its province or municipality lost its first ones (or never printed them); one broken
    inside (_BROKEN_ADDRESS) lost some in the middle; one that names its province twice holds
    another line's reading; one whose city is followed by no district or county (南开民路 for
    南开区人民路), a road with no name before its number (西湖区长0号, 高新区路550号), or that
    ends inside a word (高新区银 for 高新区银杏路235号), lost characters a glare or a fold took:
    worth a look. (A real address may lack a district: a look costs less
    than a wrong address trusted.)"""
    lost_start = not value.startswith(PROVINCE_NAMES)
    broken = bool(_BROKEN_ADDRESS.search(value)) or bool(_UNNAMED_ROAD.search(value))
    twice = any(value.count(name) > 1 for name in PROVINCE_NAMES if value.startswith(name))
    place = next(((name, city) for name, _, city in places() if value.startswith(name)), None)
    no_county = (
        place is not None and place[1] not in NO_COUNTIES and not _COUNTY.match(value[len(place[0]) :])
    )
    cut = value[-1:] not in ADDRESS_ENDS  # a digit too: 号, 室 or 栋 lost
    number = re.search(r"\d+号", value)  # a road's number follows the road (or a place) by its name
    before = value[number.start() - 1 : number.start()] if number is not None else ""
    unnamed = bool(before) and before not in ADDRESS_ENDS and before not in "甲乙丙丁之"
    suspect = lost_start or broken or twice or no_county or cut or unnamed or _city_out_of_place(value)
    return REPAIRED if suspect or _clean_text(raw) != value else 1.0


def _city_out_of_place(address: str) -> bool:
    """After its province, a city the province does not have (浙江省泸州市: 温 misread), or one of
    its cities without its 市 (湖北省武汉区: 市 and more lost). A place in no list (an autonomous
    prefecture, a county-level city under the province) is not suspected."""
    province = next((name for name in CITIES if address.startswith(name)), None)
    if province is None:
        return False
    rest = address[len(province) :]
    own = CITIES[province].split()
    if any(rest.startswith(city) for city in own):
        return not any(rest.startswith(f"{city}市") for city in own)
    named = re.match(r"[\u4e00-\u9fff]{2,4}?市", rest)
    return named is not None and named.group(0)[:-1] in _ALL_CITIES


_ALL_CITIES = frozenset(city for cities in CITIES.values() for city in cities.split())


# what a whole address does not hold: a 大道's or 大街's 大 at the end (建设大; a road or lane
# may end one, 北大街财苑巷), a 号, 栋, 室 or 单元 with no number before it (东风号30栋,
# 人民栋2634室: the road and its number lost), a building after a road's number with no 号
# between (学院路393栋)
_BROKEN_ADDRESS = re.compile(r"大$|(?<![\d甲乙丙丁之])(号|栋|室|单元)|[路街道巷弄]\d+[栋室]")
# a road with no name, right after the district (高新区路550号: 人民 lost)
_UNNAMED_ROAD = re.compile(r"[区县][路街巷弄]\d")
# a county-level unit right after the city (or municipality): a district, county, county-level
# city or banner
_COUNTY = re.compile(r"[\u4e00-\u9fff]{1,8}?[区县市旗]")
# prefecture-level cities with no county level: towns come right after the city
NO_COUNTIES = frozenset({"东莞", "中山", "儋州", "嘉峪关", "三沙"})
# the last characters an address ends with: a number's unit, a place or a building
ADDRESS_ENDS = frozenset(
    "号室栋楼层元户区县市旗镇乡村组社路街道巷弄里院苑园城庄屯湾坊门厦座队场舍所站寓府居墅山岭桥寨营铺堡店集口河港塘田坝岗埠沟寺"
)


def _plate_confidence(_: str, value: str) -> float:
    """A lower-case letter is printed on some cards, but is more often a misread: worth a look."""
    return REPAIRED if value != value.upper() else 1.0


ADJUST: dict[str, Callable[[str, str], float]] = {
    # free text no format checks (a banner's advertisement reads as well as a remark): a look
    "remarks": lambda _, __: REPAIRED,
    "plate_number": _plate_confidence,
    "register_date": _date_confidence,
    "issue_date": _date_confidence,
    "address": _address_confidence,
    "vin": _vin_confidence,
    "use_character": _use_confidence,
    "vehicle_type": lambda text, value: 1.0 if _clean_text(text) == value else REPAIRED,
    "model": _model_confidence,
    "document_id": lambda text, value: 1.0 if _clean_code(text) == value else REPAIRED,
    "total_mass": _mass_confidence,
    "curb_weight": _mass_confidence,
    "ratified_load_capacity": _mass_confidence,
}
