"""Vehicle records (SPEC §12): the two pages of one license joined by their normalised plate.

Pure rules on plain dicts (a record is stored as it is returned here): no boto3, no I/O.

A *reading* is what one upload says about one or both pages: the values of the results item
(`reviewed_license` once a reviewer approved or corrected it, `license` before), which pages they
show (`pages_shown`), and when (`processed_at`, or `decided_at` for a reviewed reading).

A *record* (one per normalised plate) remembers every upload it was given (`uploads`, by key: the
upload's identity, version, when it was read or reviewed, which pages it showed and their values)
and holds a slot per page (`pages`): the upload that wins the page and that page's values;
`fields` says, per value, which upload and page it came from. `merge_reading` puts a reading in:

- a page is won by the best upload showing it: a reviewed reading over any raw one, then the
  later one (a raw slot is replaced by a newer raw reading or any reviewed one; a reviewed slot
  only by a newer reviewed one); the key breaks ties, so the order of arrival does not matter;
- a newer upload of a key replaces what the key gave before (the old version, and its review,
  are gone from the results table);
- the same reading applied twice changes nothing;
- `withdraw_upload` takes an upload out (a rejected review, a plate corrected to another
  record's): its pages fall back to the best other upload of the page;
- the conflicts are computed from all the uploads remembered, whatever the order of arrival:
  `VIN_MISMATCH` (two main pages under one plate with different VINs) and
  `DOCUMENT_ID_MISMATCH` (two secondary pages with different document ids);
- `PLATE_NEAR_MATCH:<plate>` marks two one-page records, one with only the main page and one with
  only the secondary page, whose plates differ in exactly one character: probably one license
  whose plate was misread on one page. They are never joined automatically (a reviewer corrects
  the plate, and the corrected reading moves to the right record); the mark goes from both when
  either record no longer has exactly one page.

A page whose plate cannot be read waits in a record of its own, keyed `unmatched#<image_uri>`.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vehicle_license_intake.domain.fields import (
    LICENSE_FIELDS,
    MAIN_PAGE_FIELDS,
    SECONDARY_PAGE_FIELDS,
    is_not_applicable,
)
from vehicle_license_intake.domain.plate import normalize_plate
from vehicle_license_intake.domain.vin import normalize_vin

MAIN = "main"
SECONDARY = "secondary"
PAGES: tuple[str, ...] = (MAIN, SECONDARY)
PAGE_FIELDS: dict[str, tuple[str, ...]] = {MAIN: MAIN_PAGE_FIELDS, SECONDARY: SECONDARY_PAGE_FIELDS}
# A page is shown when at least one of its own fields (the plate is on both) has a value.
_OWN_FIELDS: dict[str, frozenset[str]] = {
    page: frozenset(fields) - {"plate_number"} for page, fields in PAGE_FIELDS.items()
}

VIN_MISMATCH = "VIN_MISMATCH"
DOCUMENT_ID_MISMATCH = "DOCUMENT_ID_MISMATCH"
PLATE_NEAR_MATCH = "PLATE_NEAR_MATCH"

UNMATCHED_PREFIX = "unmatched#"
# `waiting_for` (the sparse index's key): the page a one-page record misses, or "plate" for a page
# whose plate could not be read. Absent on a complete (or empty) record.
WAITING_FOR_PLATE = "plate"

REVIEWED_STATUSES = frozenset({"APPROVED", "CORRECTED"})


@dataclass(frozen=True)
class PageReading:
    """What one upload, as stored now, says about the license's pages."""

    image_uri: str
    identity: str
    version_id: str | None
    processed_at: str
    reviewed: bool
    decided_at: str | None
    values: Mapping[str, str]
    pages: tuple[str, ...]
    plate: str | None

    @property
    def order(self) -> tuple[bool, str]:
        """Reviewed readings win over raw ones; among each, the later one."""
        return (self.reviewed, (self.decided_at if self.reviewed else self.processed_at) or "")

    @property
    def record_key(self) -> str:
        return self.plate or f"{UNMATCHED_PREFIX}{self.image_uri}"


class Withdrawn:
    """An item that contributes nothing: no license, a rejected review."""


def pages_shown(values: Mapping[str, Any]) -> tuple[str, ...]:
    """Which pages the values show: a page is shown when one of its own fields has a value."""
    present = {
        name for name, value in values.items() if isinstance(value, str) and not is_not_applicable(value)
    }
    return tuple(page for page in PAGES if present & _OWN_FIELDS[page])


def record_plate(raw: str) -> str | None:
    """The record's key for a plate as read: the normalised plate, None when there is none."""
    if not isinstance(raw, str) or is_not_applicable(raw):
        return None
    plate = normalize_plate(raw)
    return plate or None


def vehicle_id(plate: str) -> str:
    """A stable id of the record that does not show the plate (events carry no personal data)."""
    return hashlib.sha256(f"vehicle-record\x1f{plate}".encode()).hexdigest()[:32]


def reading_from_item(item: Mapping[str, Any]) -> PageReading | Withdrawn:
    """The reading of a results item as stored now: the reviewed values once a reviewer approved
    or corrected them, the recognised ones of a SUCCEEDED upload before; a rejected review, or an
    item without values, contributes nothing."""
    review = item.get("review") if isinstance(item.get("review"), Mapping) else {}
    review_status = str((review or {}).get("status") or "")
    if review_status == "REJECTED":
        return Withdrawn()
    reviewed = review_status in REVIEWED_STATUSES and isinstance(item.get("reviewed_license"), Mapping)
    if reviewed:
        source = item["reviewed_license"]
    elif item.get("status") == "SUCCEEDED" and isinstance(item.get("license"), Mapping):
        source = item["license"]
    else:
        return Withdrawn()
    values = {name: str(source.get(name) or "") for name in LICENSE_FIELDS}
    pages = pages_shown(values)
    if not pages:
        return Withdrawn()
    return PageReading(
        image_uri=str(item["image_uri"]),
        identity=str(item.get("identity") or ""),
        version_id=item.get("version_id"),
        processed_at=str(item.get("processed_at") or ""),
        reviewed=reviewed,
        decided_at=str((review or {}).get("decided_at") or "") if reviewed else None,
        values=values,
        pages=pages,
        plate=record_plate(values["plate_number"]),
    )


def empty_record(key: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "plate": key,
        "pages": {},
        "uploads": {},
        "fields": {},
        "review_reasons": [],
        "near_matches": [],
        "complete": False,
        "version": 0,
    }
    if not key.startswith(UNMATCHED_PREFIX):
        record["vehicle_id"] = vehicle_id(key)
    return record


def merge_reading(record: Mapping[str, Any], reading: PageReading) -> dict[str, Any]:
    """The record with the reading put in (see the module). Unchanged when the reading adds
    nothing new (a duplicate, an older reading of the same upload)."""
    merged = copy.deepcopy(dict(record))
    uploads: dict[str, Any] = merged.setdefault("uploads", {})
    seen = uploads.get(reading.image_uri)
    if _wins(reading, seen):
        uploads[reading.image_uri] = _upload_entry(reading)
    return _derive(merged)


def withdraw_upload(record: Mapping[str, Any], image_uri: str) -> dict[str, Any]:
    """The record without anything an upload gave it (a rejected review, a plate corrected to
    another record's): the pages it held fall back to the best other upload of the page."""
    merged = copy.deepcopy(dict(record))
    merged.get("uploads", {}).pop(image_uri, None)
    return _derive(merged)


def set_near_matches(record: Mapping[str, Any], plates: Iterable[str]) -> dict[str, Any]:
    """The record with these other records' plates as near matches (kept only while it has one
    page)."""
    merged = copy.deepcopy(dict(record))
    merged["near_matches"] = sorted(set(merged.get("near_matches") or []) | set(plates))
    return _derive(merged)


def drop_near_matches(record: Mapping[str, Any], plates: Iterable[str]) -> dict[str, Any]:
    """The record without these near matches (the other record was completed or emptied)."""
    merged = copy.deepcopy(dict(record))
    merged["near_matches"] = sorted(set(merged.get("near_matches") or []) - set(plates))
    return _derive(merged)


def one_character_apart(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


def near_match_candidates(record: Mapping[str, Any], others: Iterable[Mapping[str, Any]]) -> list[str]:
    """The plates of the one-page records that miss the page this one-page record has, and hold
    the page it misses, one character apart from its plate."""
    waiting = record.get("waiting_for")
    if waiting not in PAGES:
        return []
    plate = str(record["plate"])
    return sorted(
        str(other["plate"])
        for other in others
        if other.get("waiting_for") in PAGES
        and other.get("waiting_for") != waiting
        and one_character_apart(plate, str(other["plate"]))
    )


def is_complete(record: Mapping[str, Any]) -> bool:
    return all(page in (record.get("pages") or {}) for page in PAGES)


def same_content(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two versions of a record say the same (bookkeeping attributes aside)."""
    ignore = {"version", "updated_at", "expires_at"}
    return {k: v for k, v in a.items() if k not in ignore} == {k: v for k, v in b.items() if k not in ignore}


def record_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as it is shown (operations CLI, review desk): each value once, with the upload
    and page it came from (`fields`); the pages and uploads without their copies of the values."""
    return {
        "plate": record.get("plate"),
        "vehicle_id": record.get("vehicle_id"),
        "complete": bool(record.get("complete")),
        "waiting_for": record.get("waiting_for"),
        "review_reasons": list(record.get("review_reasons") or []),
        "completed_at": record.get("completed_at"),
        "complete_published": record.get("complete_published"),
        "updated_at": record.get("updated_at"),
        "pages": {
            page: {k: v for k, v in slot.items() if k != "values"}
            for page, slot in (record.get("pages") or {}).items()
        },
        "uploads": {
            uri: {k: v for k, v in entry.items() if k not in ("values", "vin", "document_id")}
            for uri, entry in (record.get("uploads") or {}).items()
        },
        "fields": {name: dict(field) for name, field in (record.get("fields") or {}).items()},
    }


def lookup_keys(plate_or_vin: str) -> tuple[str | None, str | None]:
    """What to look a record up by: the normalised plate (a record's key) and the VIN (its
    index), for a text that may be either."""
    text = plate_or_vin.strip()
    vin = normalize_vin(text)
    return record_plate(text), vin if len(vin) == 17 else None


# -- internals ------------------------------------------------------------------------------------
def _wins(reading: PageReading, seen: Mapping[str, Any] | None) -> bool:
    if seen is None:
        return True
    if seen.get("identity") != reading.identity:
        return True  # the events only ever give the key's current upload: it is the newer one
    return reading.order > _order(seen)


def _order(entry: Mapping[str, Any]) -> tuple[bool, str]:
    return (bool(entry.get("reviewed")), str(entry.get("at") or ""))


def _upload_entry(reading: PageReading) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "identity": reading.identity,
        "version_id": reading.version_id,
        "processed_at": reading.processed_at,
        "reviewed": reading.reviewed,
        "at": reading.order[1],
        "pages": list(reading.pages),
        "values": {
            name: reading.values.get(name, "")
            for name in LICENSE_FIELDS
            if any(name in PAGE_FIELDS[page] for page in reading.pages)
        },
    }
    if reading.reviewed:
        entry["decided_at"] = reading.decided_at
    if MAIN in reading.pages and not is_not_applicable(reading.values.get("vin", "")):
        entry["vin"] = normalize_vin(reading.values["vin"])
    if SECONDARY in reading.pages and not is_not_applicable(reading.values.get("document_id", "")):
        entry["document_id"] = reading.values["document_id"].strip()
    return entry


def _slots(uploads: Mapping[str, Any]) -> dict[str, Any]:
    """Per page, the upload that wins it: reviewed before raw, then the latest; the key breaks
    a tie, so the result does not depend on the order of arrival."""
    slots: dict[str, Any] = {}
    for page in PAGES:
        holders = [(uri, entry) for uri, entry in uploads.items() if page in (entry.get("pages") or [])]
        if not holders:
            continue
        uri, entry = max(holders, key=lambda held: (_order(held[1]), held[0]))
        slot = {
            "image_uri": uri,
            "identity": entry.get("identity"),
            "version_id": entry.get("version_id"),
            "processed_at": entry.get("processed_at"),
            "reviewed": bool(entry.get("reviewed")),
            "values": {name: (entry.get("values") or {}).get(name, "") for name in PAGE_FIELDS[page]},
        }
        if entry.get("reviewed"):
            slot["decided_at"] = entry.get("decided_at")
        slots[page] = slot
    return slots


def _derive(record: dict[str, Any]) -> dict[str, Any]:
    """What follows from the slots and the uploads seen: fields, conflicts, completeness, the
    index keys."""
    uploads: dict[str, Any] = record.get("uploads") or {}
    slots = _slots(uploads)
    record["pages"] = slots
    fields: dict[str, Any] = {}
    for page in (SECONDARY, MAIN):  # the main page's plate wins over the secondary's
        slot = slots.get(page)
        if slot is None:
            continue
        for name, value in slot["values"].items():
            if isinstance(value, str) and not is_not_applicable(value):
                fields[name] = {
                    "value": value,
                    "image_uri": slot["image_uri"],
                    "page": page,
                    "reviewed": bool(slot.get("reviewed")),
                }
    record["fields"] = {name: fields[name] for name in LICENSE_FIELDS if name in fields}
    reasons: list[str] = []
    if _distinct(uploads, MAIN, "vin") > 1:
        reasons.append(VIN_MISMATCH)
    if _distinct(uploads, SECONDARY, "document_id") > 1:
        reasons.append(DOCUMENT_ID_MISMATCH)
    complete = is_complete(record)
    if len(slots) != 1:  # near matches concern one-page records only
        record["near_matches"] = []
    reasons.extend(f"{PLATE_NEAR_MATCH}:{plate}" for plate in record.get("near_matches") or [])
    record["review_reasons"] = reasons
    record["complete"] = complete
    vin = (fields.get("vin") or {}).get("value") if MAIN in slots else None
    if vin:
        record["vin"] = normalize_vin(str(vin))
    else:
        record.pop("vin", None)
    key = str(record.get("plate", ""))
    if key.startswith(UNMATCHED_PREFIX):
        waiting: str | None = WAITING_FOR_PLATE if slots else None
    elif len(slots) == 1:
        (held,) = slots
        waiting = SECONDARY if held == MAIN else MAIN
    else:
        waiting = None
    if waiting:
        record["waiting_for"] = waiting
    else:
        record.pop("waiting_for", None)
    return record


def _distinct(uploads: Mapping[str, Any], page: str, name: str) -> int:
    return len({u[name] for u in uploads.values() if page in (u.get("pages") or []) and u.get(name)})
