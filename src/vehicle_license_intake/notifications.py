"""Events for downstream systems (SPEC §10): one per final outcome, on the stack's EventBridge bus.

An event says *that* something happened to an upload, never *what the license says*: no field
value, owner, address, VIN or plate. Consumers read the item with their own permission.
`detail.event_id` is stable per outcome, so a consumer de-duplicates the at-least-once delivery.
The JSON Schema of each detail-type is committed in `schemas/events/` and checked by the tests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from vehicle_license_intake.outcomes import Status

SOURCE = "vehicle-license-intake"


class DetailType(StrEnum):
    RECOGNIZED = "License Recognized"
    NEEDS_REVIEW = "License Needs Review"
    UNRECOGNIZED = "License Unrecognized"
    REJECTED = "License Rejected"
    FAILED = "License Failed"
    REVIEWED = "License Reviewed"
    VEHICLE_RECORD_COMPLETE = "Vehicle Record Complete"


@dataclass(frozen=True)
class Event:
    detail_type: DetailType
    detail: dict[str, Any]


class EventPublisher(Protocol):
    """Publishes events; raises when any of them was not accepted."""

    def publish(self, events: Sequence[Event]) -> None: ...


def stable_event_id(*parts: object) -> str:
    """The same outcome always gets the same id, whichever invocation publishes it."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def outcome_event(item: Mapping[str, Any], *, identity: str, reprocess_token: str | None = None) -> Event:
    """The event for a final outcome, from the item as stored (SPEC §4 attributes only). A new
    attempt asked for on purpose (`reprocess_token`, operations CLI) is another outcome of the
    same version, with an id of its own."""
    status = Status(str(item["status"]))
    reasons = [str(r) for r in item.get("review_reasons") or []]
    needs_review = bool(item.get("needs_review"))
    detail_type = {
        Status.SUCCEEDED: DetailType.NEEDS_REVIEW if needs_review else DetailType.RECOGNIZED,
        Status.UNRECOGNIZED: DetailType.UNRECOGNIZED,
        Status.REJECTED: DetailType.REJECTED,
        Status.FAILED: DetailType.FAILED,
    }[status]
    detail: dict[str, Any] = {
        "event_id": stable_event_id(
            item["image_uri"], identity, status, item.get("attempts", 0), *filter(None, [reprocess_token])
        ),
        "image_uri": str(item["image_uri"]),
        "bucket": str(item["bucket"]),
        "object_key": str(item["object_key"]),
        "version_id": item.get("version_id"),
        "status": status.value,
        "review_reasons": reasons,
        "needs_review": needs_review,
        "processed_at": str(item["processed_at"]),
    }
    error = item.get("error")
    if status is not Status.SUCCEEDED and isinstance(error, Mapping):
        code = error.get("code")
        detail["error"] = {
            "code": code if isinstance(code, int) and not isinstance(code, bool) else str(code),
            "status": str(error.get("status", "")),
        }
    return Event(detail_type, detail)


class EventBridgePublisher:
    """The EventBridge adapter of EventPublisher."""

    def __init__(self, events_client: Any, bus_name: str) -> None:
        self._events = events_client
        self.bus_name = bus_name

    def publish(self, events: Sequence[Event]) -> None:
        for start in range(0, len(events), 10):  # PutEvents takes ten entries at most
            batch = events[start : start + 10]
            response = self._events.put_events(
                Entries=[
                    {
                        "Source": SOURCE,
                        "DetailType": event.detail_type.value,
                        "Detail": json.dumps(event.detail, ensure_ascii=False),
                        "EventBusName": self.bus_name,
                    }
                    for event in batch
                ]
            )
            if response.get("FailedEntryCount"):
                codes = sorted(
                    {str(e.get("ErrorCode")) for e in response.get("Entries", []) if e.get("ErrorCode")}
                )
                raise EventsNotPublished(
                    f"{response['FailedEntryCount']} event(s) not accepted: {', '.join(codes)}"
                )


class EventsNotPublished(Exception):
    """EventBridge refused some entries; the outcome stays marked unpublished and is retried."""
