"""From the upstream's 20 strings to typed values and the reasons a human should look again.

Every rule here is a review reason, never a rejection: the raw strings are stored untouched
beside the normalised values, and a reason code's meaning never changes (README lists them).

Codes added for answers outside the upstream's contract (the value in `license` is then not
exactly what the upstream sent, and the reason says why):

- `FIELD_NOT_TEXT:<field>` — the value was not a string or a number (an object, a list, a
  boolean); `license` holds "" for it.
- `FIELD_TRUNCATED:<field>` — the value was longer than any license prints
  (`fields.FIELD_MAX_CHARS`); `license` holds its first characters.
- `FIELD_INVALID_TEXT:<field>` — the value held lone UTF-16 surrogates, which cannot be stored;
  each is replaced by U+FFFD.
- `NUMBER_OUT_OF_RANGE:<field>` — a number with more digits than any license prints; its
  normalised value is null.
- `RESULT_NOT_STORABLE` — the table refused the recognised values; the item keeps the outcome
  with every field empty, and the image must be looked at again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from vehicle_license_intake.domain import dates, plate, vin
from vehicle_license_intake.domain.fields import is_not_applicable, license_fields_from

USE_CHARACTERS: frozenset[str] = frozenset(
    [
        "非营运",
        "公路客运",
        "公交客运",
        "出租客运",
        "旅游客运",
        "货运",
        "租赁",
        "警用",
        "消防",
        "救护",
        "工程救险",
        "营转非",
        "出租转非",
        "教练",
        "幼儿校车",
        "小学生校车",
        "初中生校车",
        "危化品运输",
        "中小学生校车",
        "预约出租客运",
        "预约出租转非",
    ]
)

REQUIRED_FIELDS: tuple[str, ...] = ("plate_number", "vehicle_type", "owner", "vin", "register_date")

TEXT_FIELDS: tuple[str, ...] = (
    "vehicle_type",
    "owner",
    "address",
    "use_character",
    "model",
    "engine_number",
    "license_issuing_authority",
    "document_id",
    "remarks",
)

MASS_FIELDS: dict[str, str] = {
    "total_mass": "total_mass_kg",
    "curb_weight": "curb_weight_kg",
    "ratified_load_capacity": "ratified_load_kg",
    "traction_mass": "traction_mass_kg",
}

# A number on a license (kilograms, millimetres, seats) never has more digits than this; a longer one
# is not stored (NUMBER_OUT_OF_RANGE), so that `normalized` always fits a DynamoDB number.
MAX_NUMBER_DIGITS = 9
# The table refused the recognised values (see the module docstring).
RESULT_NOT_STORABLE = "RESULT_NOT_STORABLE"

# Below this per-field confidence (offline recognizer only) a field is worth a second look.
LOW_CONFIDENCE_THRESHOLD = 0.80

_MASS = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)\s*(?:kg|KG|Kg|千克|公斤)?$")
_PASSENGERS = re.compile(r"^(\d+)(?:\s*\+\s*(\d+))?\s*人?$")
_GABARITE = re.compile(r"^(\d+)\s*[×xX*✕]\s*(\d+)\s*[×xX*✕]\s*(\d+)\s*(?:mm|MM)?$")


@dataclass
class ValidatedLicense:
    """`normalized` and `review_reasons` exactly as SPEC §4 stores them."""

    normalized: dict[str, Any]
    review_reasons: list[str] = field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        return bool(self.review_reasons)


class _Review:
    """Collects reason codes once each, in the order they were found."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def add(self, code: str) -> None:
        if code not in self.reasons:
            self.reasons.append(code)


def validate_license(
    raw: Mapping[str, Any],
    *,
    today: date,
    confidence: Mapping[str, float] | None = None,
    boundary_reasons: Iterable[str] = (),
) -> ValidatedLicense:
    """Normalise the upstream's 20 fields and list what a human should check. `boundary_reasons`
    say what bounding the upstream's values changed (fields.bounded_license_fields); they come first."""
    fields = license_fields_from(raw)
    review = _Review()
    for reason in boundary_reasons:
        review.add(reason)
    out: dict[str, Any] = {}

    for name in REQUIRED_FIELDS:
        if is_not_applicable(fields[name]):
            review.add(f"MISSING:{name}")

    for name in TEXT_FIELDS:
        out[name] = _text(fields[name])

    _normalize_plate(fields, out, review)
    register_date = _date_field(fields, "register_date", out, review, today)
    issue_date = _date_field(fields, "issue_date", out, review, today)
    if register_date and issue_date and issue_date < register_date:
        review.add("ISSUE_BEFORE_REGISTER")
    _normalize_vin(fields, out, review, register_date, today)
    _normalize_numbers(fields, out, review)
    _normalize_inspection(fields, out, review, today)
    _cross_check(out, review)

    for name, score in sorted((confidence or {}).items()):
        if score < LOW_CONFIDENCE_THRESHOLD and not is_not_applicable(fields.get(name, "")):
            review.add(f"LOW_CONFIDENCE:{name}")

    return ValidatedLicense(normalized=out, review_reasons=review.reasons)


def _text(value: str) -> str | None:
    return None if is_not_applicable(value) else re.sub(r"\s+", " ", value.strip())


def _normalize_plate(fields: dict[str, str], out: dict[str, Any], review: _Review) -> None:
    out["plate_number"] = out["plate_kind"] = None
    if is_not_applicable(fields["plate_number"]):
        return
    number = plate.normalize_plate(fields["plate_number"])
    if is_not_applicable(number):  # only separators: nothing is left of the plate
        review.add("MISSING:plate_number")
        return
    kind = plate.plate_kind(number)
    out["plate_number"], out["plate_kind"] = number, kind
    if kind == "unknown":
        review.add("PLATE_FORMAT")


def _date_field(
    fields: dict[str, str], name: str, out: dict[str, Any], review: _Review, today: date
) -> date | None:
    out[name] = None
    if is_not_applicable(fields[name]):
        return None
    try:
        parsed = dates.parse_date(fields[name])
    except dates.InvalidDate:
        review.add(f"DATE_INVALID:{name}")
        return None
    out[name] = parsed.isoformat()
    if parsed > today:
        review.add(f"DATE_IN_FUTURE:{name}")
    return parsed


def _normalize_vin(
    fields: dict[str, str],
    out: dict[str, Any],
    review: _Review,
    register_date: date | None,
    today: date,
) -> None:
    out.update(vin=None, vin_check_digit_valid=None, vin_model_year=None, vin_suggestion=None)
    if is_not_applicable(fields["vin"]):
        return
    number = vin.normalize_vin(fields["vin"])
    if is_not_applicable(number):  # only separators: nothing is left of the VIN
        review.add("MISSING:vin")
        return
    out["vin"] = number
    out["vin_suggestion"] = vin.single_confusion_suggestion(number)
    if not vin.is_well_formed(number):
        review.add("VIN_FORMAT")
        return
    out["vin_check_digit_valid"] = vin.has_valid_check_digit(number)
    if not out["vin_check_digit_valid"]:
        review.add("VIN_CHECK_DIGIT")
    latest = (register_date.year if register_date else today.year) + 1
    out["vin_model_year"] = vin.model_year(number, latest)
    if out["vin_model_year"] is None:
        review.add("VIN_MODEL_YEAR")


def _normalize_numbers(fields: dict[str, str], out: dict[str, Any], review: _Review) -> None:
    out["approved_passengers"] = None
    text = fields["approved_passengers_capacity"].strip()
    if not is_not_applicable(text):
        match = _PASSENGERS.match(text)
        if match and _too_long(*match.groups()):
            review.add("NUMBER_OUT_OF_RANGE:approved_passengers_capacity")
        elif match:
            out["approved_passengers"] = sum(int(part) for part in match.groups() if part)
        else:
            review.add("NUMBER_INVALID:approved_passengers_capacity")

    for source, target in MASS_FIELDS.items():
        out[target] = None
        text = fields[source].strip()
        if is_not_applicable(text):
            continue
        match = _MASS.match(text)
        if match and _too_long(match.group(1).replace(",", "")):
            review.add(f"NUMBER_OUT_OF_RANGE:{source}")
        elif match:
            out[target] = int(match.group(1).replace(",", ""))
        else:
            review.add(f"NUMBER_INVALID:{source}")

    out["length_mm"] = out["width_mm"] = out["height_mm"] = None
    text = fields["gabarite"].strip()
    if not is_not_applicable(text):
        match = _GABARITE.match(text)
        if match and _too_long(*match.groups()):
            review.add("NUMBER_OUT_OF_RANGE:gabarite")
        elif match:
            out["length_mm"], out["width_mm"], out["height_mm"] = (int(g) for g in match.groups())
        else:
            review.add("NUMBER_INVALID:gabarite")


def _too_long(*digits: str | None) -> bool:
    return any(part is not None and len(part.lstrip("0")) > MAX_NUMBER_DIGITS for part in digits)


def _normalize_inspection(fields: dict[str, str], out: dict[str, Any], review: _Review, today: date) -> None:
    out["inspection_valid_until"] = None
    latest = dates.latest_year_month(fields["inspection_record"])
    if latest is None:
        return
    out["inspection_valid_until"] = f"{latest[0]:04d}-{latest[1]:02d}"
    if latest < (today.year, today.month):
        review.add("INSPECTION_EXPIRED")


def _cross_check(out: dict[str, Any], review: _Review) -> None:
    total, curb = out["total_mass_kg"], out["curb_weight_kg"]
    if total is not None and curb is not None and total <= curb:
        review.add("MASS_INCONSISTENT")

    use = out["use_character"]
    if use is not None and use not in USE_CHARACTERS:
        review.add("USE_CHARACTER_UNKNOWN")

    kind = out["plate_kind"]
    vehicle_type = out["vehicle_type"] or ""
    if kind not in (None, "unknown") and (
        (vehicle_type and (kind == "trailer") != ("挂车" in vehicle_type))
        or (use and (kind == "coach") != (use == "教练"))
        or (use and (kind == "police") != (use == "警用"))
    ):
        review.add("PLATE_TYPE_MISMATCH")

    if out["traction_mass_kg"] and vehicle_type and "牵引" not in vehicle_type:
        review.add("TRACTION_MASS_UNEXPECTED")

    province = plate.plate_province(out["plate_number"] or "")
    authority = out["license_issuing_authority"]
    if province and authority and province not in authority:
        review.add("PROVINCE_MISMATCH")
