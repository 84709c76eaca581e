"""The 20 fields the upstream returns, in the order of its documentation."""

from __future__ import annotations

from collections.abc import Mapping
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


def license_fields_from(data: Mapping[str, Any]) -> dict[str, str]:
    """Exactly the 20 upstream keys; missing or null values become "", other types their str()."""
    fields: dict[str, str] = {}
    for name in LICENSE_FIELDS:
        value = data.get(name)
        fields[name] = "" if value is None else value if isinstance(value, str) else str(value)
    return fields


def is_not_applicable(value: str) -> bool:
    return value.strip() in NOT_APPLICABLE


def mask_personal(value: str) -> str:
    """Enough of a name or address to tell records apart in a report, not to identify anyone."""
    text = value.strip()
    if not text:
        return ""
    keep = 1 if len(text) <= 4 else 3
    return text[:keep] + "*" * min(6, len(text) - keep)
