"""The 20 fields the upstream returns, in the order of its documentation, and how a value from
outside becomes one of them: always a bounded string, whatever was sent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LICENSE_FIELDS: tuple[str, ...] = (
    "plate_number",
    "vehicle_type",
    "owner",
    "address",
    "use_character",
    "model",
    "vin",
    "engine_number",
    "register_date",
    "issue_date",
    "license_issuing_authority",
    "document_id",
    "approved_passengers_capacity",
    "total_mass",
    "curb_weight",
    "ratified_load_capacity",
    "gabarite",
    "traction_mass",
    "remarks",
    "inspection_record",
)

# Which page of the license prints which field (DOMAIN.md); the plate is on both.
MAIN_PAGE_FIELDS: tuple[str, ...] = LICENSE_FIELDS[:11]
SECONDARY_PAGE_FIELDS: tuple[str, ...] = ("plate_number", *LICENSE_FIELDS[11:])

# Markers a license (or a vendor) prints for "not applicable".
NOT_APPLICABLE: frozenset[str] = frozenset({"", "-", "--", "---", "—", "——", "/", "无", "－", "－－"})


# Free text that can be long on a real license; every other field is a short code, number or date.
LONG_TEXT_FIELDS: frozenset[str] = frozenset(
    {"owner", "address", "model", "license_issuing_authority", "remarks", "inspection_record"}
)
# The most characters kept of a value: far beyond any real license, small enough that the 20 values
# (and their normalised copies) always fit in one DynamoDB item and one dead-letter message.
FIELD_MAX_CHARS: dict[str, int] = {
    name: 1_000 if name in LONG_TEXT_FIELDS else 128 for name in LICENSE_FIELDS
}

# What bounding did to a value, as review reasons (validation.py documents every code).
FIELD_NOT_TEXT = "FIELD_NOT_TEXT"  # not a string or a number (object, list, boolean): stored as ""
FIELD_TRUNCATED = "FIELD_TRUNCATED"  # longer than FIELD_MAX_CHARS: cut to that length
FIELD_INVALID_TEXT = "FIELD_INVALID_TEXT"  # held lone UTF-16 surrogates: each replaced by U+FFFD

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT_CHARACTER = "\ufffd"


@dataclass(frozen=True)
class BoundedFields:
    """The 20 values as bounded strings, and a review reason for each value that was changed."""

    fields: dict[str, str]
    review_reasons: tuple[str, ...] = ()


def bounded_license_fields(data: Mapping[str, Any]) -> BoundedFields:
    """Exactly the 20 upstream keys, each a string of at most FIELD_MAX_CHARS characters that can
    be stored anywhere (no lone surrogates). Missing or null values become "" (the documented
    contract); numbers their decimal text; anything else "" with FIELD_NOT_TEXT. Keys outside the
    20 are ignored."""
    fields: dict[str, str] = {}
    reasons: list[str] = []
    for name in LICENSE_FIELDS:
        value = data.get(name)
        if value is None:
            fields[name] = ""
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            fields[name] = ""
            reasons.append(f"{FIELD_NOT_TEXT}:{name}")
            continue
        text, replaced = text_without_surrogates(value if isinstance(value, str) else str(value))
        if replaced:
            reasons.append(f"{FIELD_INVALID_TEXT}:{name}")
        text, truncated = truncated_text(text, FIELD_MAX_CHARS[name])
        if truncated:
            reasons.append(f"{FIELD_TRUNCATED}:{name}")
        fields[name] = text
    return BoundedFields(fields, tuple(reasons))


def license_fields_from(data: Mapping[str, Any]) -> dict[str, str]:
    """The 20 values of `bounded_license_fields`, without saying what bounding changed."""
    return bounded_license_fields(data).fields


def text_without_surrogates(text: str) -> tuple[str, bool]:
    """The text with each lone UTF-16 surrogate (JSON can carry them; UTF-8 cannot) replaced by
    U+FFFD, and whether there was one."""
    if _SURROGATE.search(text) is None:
        return text, False
    return _SURROGATE.sub(REPLACEMENT_CHARACTER, text), True


def truncated_text(text: str, max_chars: int) -> tuple[str, bool]:
    """At most `max_chars` characters of the text, and whether it was cut."""
    return (text, False) if len(text) <= max_chars else (text[:max_chars], True)


def is_not_applicable(value: str) -> bool:
    return value.strip() in NOT_APPLICABLE


def mask_personal(value: str) -> str:
    """Enough of a name or address to tell records apart in a report, not to identify anyone."""
    text = value.strip()
    if not text:
        return ""
    keep = 1 if len(text) <= 4 else 3
    return text[:keep] + "*" * min(6, len(text) - keep)
