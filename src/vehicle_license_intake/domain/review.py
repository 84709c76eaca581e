"""Human review (SPEC §11): which uploads wait for a person, which field each review reason is
about, and what a reviewer may decide. Pure Python: the review API and the page's live checks use
these rules and `validate_license`, nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from vehicle_license_intake.domain.fields import FIELD_MAX_CHARS, LICENSE_FIELDS


class QueueKind(StrEnum):
    """Why an upload waits for a human; the review index's partition key."""

    NEEDS_REVIEW = "NEEDS_REVIEW"  # SUCCEEDED with review reasons
    UNRECOGNIZED = "UNRECOGNIZED"  # the recognizer could not read it (5021)
    REJECTED = "REJECTED"  # it failed the local checks, never sent


class ReviewStatus(StrEnum):
    PENDING = "PENDING"
    IN_REVIEW = "IN_REVIEW"
    APPROVED = "APPROVED"
    CORRECTED = "CORRECTED"
    REJECTED = "REJECTED"


DECIDED = frozenset({ReviewStatus.APPROVED, ReviewStatus.CORRECTED, ReviewStatus.REJECTED})


class Action(StrEnum):
    """What a reviewer does; each is one entry of the audit trail."""

    CLAIM = "claim"
    RELEASE = "release"
    APPROVE = "approve"  # the recognised values are right as they are
    CORRECT = "correct"  # some recognised values were wrong: the corrected ones are kept
    ENTER = "enter"  # nothing was recognised: the reviewer typed the fields from the image
    REJECT = "reject"  # the upload is not usable


DECISIONS = frozenset({Action.APPROVE, Action.CORRECT, Action.ENTER, Action.REJECT})


class RejectReason(StrEnum):
    NOT_A_LICENSE = "NOT_A_LICENSE"
    ILLEGIBLE = "ILLEGIBLE"
    SUSPECTED_TAMPERING = "SUSPECTED_TAMPERING"
    WRONG_PAGE = "WRONG_PAGE"
    OTHER = "OTHER"


NOTE_MAX_CHARS = 500


class InvalidDecision(ValueError):
    """A decision the rules refuse (unknown field, value too long, approve without fields...).
    The message names fields and rules, never a value."""


def queue_kind(status: str, needs_review: bool) -> QueueKind | None:
    """The queue an outcome waits in, or None when no human needs to look at it."""
    if status == "SUCCEEDED":
        return QueueKind.NEEDS_REVIEW if needs_review else None
    if status == "UNRECOGNIZED":
        return QueueKind.UNRECOGNIZED
    if status == "REJECTED":
        return QueueKind.REJECTED
    return None


# Reasons about more than one field, or named without one (validation.py adds them).
_REASON_FIELDS: dict[str, tuple[str, ...]] = {
    "PLATE_FORMAT": ("plate_number",),
    "VIN_FORMAT": ("vin",),
    "VIN_CHECK_DIGIT": ("vin",),
    "VIN_MODEL_YEAR": ("vin", "register_date"),
    "ISSUE_BEFORE_REGISTER": ("register_date", "issue_date"),
    "MASS_INCONSISTENT": ("total_mass", "curb_weight", "ratified_load_capacity"),
    "USE_CHARACTER_UNKNOWN": ("use_character",),
    "PLATE_TYPE_MISMATCH": ("plate_number", "vehicle_type"),
    "TRACTION_MASS_UNEXPECTED": ("traction_mass", "vehicle_type"),
    "PROVINCE_MISMATCH": ("plate_number", "address"),
    "INSPECTION_EXPIRED": ("inspection_record",),
}


def reason_fields(code: str) -> tuple[str, ...]:
    """The fields a review reason is about: `MISSING:owner` -> owner; `VIN_CHECK_DIGIT` -> vin;
    () for a reason about the whole upload."""
    if ":" in code:
        name = code.split(":", 1)[1]
        return (name,) if name in LICENSE_FIELDS else ()
    return _REASON_FIELDS.get(code, ())


def reasons_by_field(codes: list[str]) -> dict[str, list[str]]:
    """Each field with the reasons shown on it, in the order of the 20 fields."""
    found: dict[str, list[str]] = {}
    for code in codes:
        for name in reason_fields(code):
            found.setdefault(name, []).append(code)
    return {name: found[name] for name in LICENSE_FIELDS if name in found}


def checked_fields(values: Any, *, complete: bool) -> dict[str, str]:
    """The reviewer's values, checked: only the 20 keys, text only, each within its bound.
    `complete`: all 20 must be there (hand entry); otherwise the keys given are corrections."""
    if not isinstance(values, Mapping):
        raise InvalidDecision("license must be an object of the 20 fields")
    unknown = sorted(str(k) for k in values if k not in LICENSE_FIELDS)
    if unknown:
        raise InvalidDecision(f"unknown fields: {', '.join(unknown[:5])}")
    checked: dict[str, str] = {}
    for name in LICENSE_FIELDS:
        if name not in values:
            if complete:
                checked[name] = ""
            continue
        value = values[name]
        if not isinstance(value, str):
            raise InvalidDecision(f"{name} must be text")
        if len(value) > FIELD_MAX_CHARS[name]:
            raise InvalidDecision(f"{name} is longer than {FIELD_MAX_CHARS[name]} characters")
        if any(ord(c) < 32 and c not in "\t" for c in value):
            raise InvalidDecision(f"{name} holds control characters")
        checked[name] = value.strip()
    return checked


def reject_reason(reason: Any, note: Any) -> tuple[RejectReason, str]:
    try:
        code = RejectReason(str(reason))
    except ValueError:
        raise InvalidDecision(f"reason must be one of {', '.join(r.value for r in RejectReason)}") from None
    text = note if isinstance(note, str) else ""
    if note is not None and not isinstance(note, str):
        raise InvalidDecision("note must be text")
    if len(text) > NOTE_MAX_CHARS:
        raise InvalidDecision(f"note is longer than {NOTE_MAX_CHARS} characters")
    if code is RejectReason.OTHER and not text.strip():
        raise InvalidDecision("a rejection for another reason needs a note")
    return code, text.strip()


def changes(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Per field, the value before and after, for the fields that differ (the audit trail)."""
    return {
        name: {"before": before.get(name, ""), "after": after.get(name, "")}
        for name in LICENSE_FIELDS
        if before.get(name, "") != after.get(name, "")
    }
