"""The story of one event for vehicle records (SPEC §12).

An event (`License Recognized`, `License Needs Review`, `License Reviewed`) says that an upload
changed, never what it says. The upload is read from the results table as it is now; when the
item is no longer the upload of the event (a newer upload or attempt replaced it), the event
contributes nothing: the newer one has an event of its own. Otherwise its reading goes into the
record of its plate (domain/vehicle.py), out of the record it was in before if that is another
one (a corrected plate, a rejection), near matches are marked, and a record that became complete
publishes `Vehicle Record Complete` once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from vehicle_license_intake.domain import vehicle
from vehicle_license_intake.domain.vehicle import PageReading, Withdrawn
from vehicle_license_intake.notifications import DetailType, Event, EventPublisher, stable_event_id
from vehicle_license_intake.observability import logger, metrics
from vehicle_license_intake.outcomes import FINAL_STATUSES
from vehicle_license_records.store import ResultsReader, VehicleTable, upload_key

DETAIL_TYPES = frozenset({DetailType.RECOGNIZED, DetailType.NEEDS_REVIEW, DetailType.REVIEWED})
# The one-page records compared for near matches at most (the Waiting index, one page of them).
NEAR_MATCH_LOOKUP_LIMIT = 1000


@dataclass(frozen=True)
class Applied:
    """What one event did: the record it went into (None: nothing) and whether it completed."""

    record: dict[str, Any] | None
    published: bool = False
    ignored: str = ""


class VehicleRecords:
    def __init__(
        self,
        results: ResultsReader,
        vehicles: VehicleTable,
        publisher: EventPublisher | None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retention_days: int = 0,
    ) -> None:
        self._results = results
        self._vehicles = vehicles
        self._publisher = publisher
        self._clock = clock
        self._retention_days = retention_days

    # -- the SQS batch ----------------------------------------------------------------------
    def handle_batch(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Each message on its own; the failed ones are reported so only they come back."""
        failures: list[dict[str, str]] = []
        messages = event.get("Records") or []
        metrics.add_metric(name="VehicleEventsReceived", unit=MetricUnit.Count, value=len(messages))
        for record in messages:
            try:
                self.handle_message(json.loads(record["body"]))
            except Exception:
                logger.exception("vehicle record not updated", extra={"message_id": record.get("messageId")})
                metrics.add_metric(name="VehicleRecordsFailed", unit=MetricUnit.Count, value=1)
                failures.append({"itemIdentifier": str(record.get("messageId"))})
        return {"batchItemFailures": failures}

    def handle_message(self, message: Mapping[str, Any]) -> Applied:
        detail_type = str(message.get("detail-type") or "")
        detail = message.get("detail")
        if detail_type not in DETAIL_TYPES or not isinstance(detail, Mapping) or not detail.get("image_uri"):
            logger.info("event ignored", extra={"detail_type": detail_type})
            return Applied(None, ignored="not an upload event")
        return self.apply(detail)

    # -- one upload ---------------------------------------------------------------------------
    def apply(self, detail: Mapping[str, Any]) -> Applied:
        image_uri = str(detail["image_uri"])
        item = self._results.get(image_uri)
        if item is None or not _same_upload(item, detail):
            metrics.add_metric(name="VehicleEventsStale", unit=MetricUnit.Count, value=1)
            logger.info("event of a replaced upload ignored", extra={"image_uri": image_uri})
            return Applied(None, ignored="replaced")
        if str(item.get("status")) not in FINAL_STATUSES:
            # Worked on again (a reprocess): what it gave stays until its new outcome's event.
            logger.info("event of an upload in progress ignored", extra={"image_uri": image_uri})
            return Applied(None, ignored="in progress")
        reading = vehicle.reading_from_item(item)
        pointer = self._vehicles.get(upload_key(image_uri))
        new_key = reading.record_key if isinstance(reading, PageReading) else None
        before = str(pointer["record"]) if pointer and pointer.get("record") else None
        if before and before != new_key:
            # The upload's values leave the record they were in (a corrected plate, a rejection).
            self._update_forgetting_near_matches(
                before, lambda r: vehicle.withdraw_upload(r, image_uri) if r else None
            )
        if isinstance(reading, Withdrawn) or new_key is None:
            if pointer:
                self._vehicles.update(upload_key(image_uri), lambda p: {**(p or {}), "record": ""})
            return Applied(None, ignored="no values")
        record = self._update_forgetting_near_matches(new_key, lambda r: self._merged(r, new_key, reading))
        assert record is not None
        self._vehicles.update(
            upload_key(image_uri),
            lambda p: {**(p or {}), "record": new_key, "identity": reading.identity, **self._expiry()},
        )
        record = self._mark_near_matches(record)
        published = self._publish_completion(record)
        logger.info(
            "vehicle record updated",
            extra={
                "image_uri": image_uri,
                "pages": list(reading.pages),
                "complete": bool(record.get("complete")),
                "vehicle_id": record.get("vehicle_id"),
            },
        )
        return Applied(record, published)

    def _merged(self, stored: dict[str, Any] | None, key: str, reading: PageReading) -> dict[str, Any]:
        record = vehicle.merge_reading(stored or vehicle.empty_record(key), reading)
        now = self._clock()
        record["updated_at"] = _iso(now)
        record.update(self._expiry())
        if record["complete"] and not record.get("complete_event_id") and not key.startswith("unmatched#"):
            completed_at = _iso(self._clock())
            record["completed_at"] = completed_at
            record["complete_event_id"] = stable_event_id(record["vehicle_id"], "complete")
            record["complete_published"] = False
        return record

    def _expiry(self) -> dict[str, int]:
        """With a retention, DynamoDB's TTL removes an item that long after its last change."""
        if not self._retention_days:
            return {}
        return {"expires_at": int(self._clock().timestamp()) + self._retention_days * 86400}

    # -- near matches ---------------------------------------------------------------------------
    def _mark_near_matches(self, record: dict[str, Any]) -> dict[str, Any]:
        waiting = record.get("waiting_for")
        if waiting not in vehicle.PAGES:
            return record
        held = vehicle.SECONDARY if waiting == vehicle.MAIN else vehicle.MAIN
        # The one-page records that miss the page this one holds: they hold the one it misses.
        others = self._vehicles.waiting(held, limit=NEAR_MATCH_LOOKUP_LIMIT)
        if len(others) >= NEAR_MATCH_LOOKUP_LIMIT:
            # Only the first ones (by plate) were compared: a near match beyond them is missed.
            logger.warning("near-match lookup truncated", extra={"limit": NEAR_MATCH_LOOKUP_LIMIT})
            metrics.add_metric(name="VehicleNearMatchLookupTruncated", unit=MetricUnit.Count, value=1)
        candidates = vehicle.near_match_candidates(record, others)
        fresh = [p for p in candidates if p not in (record.get("near_matches") or [])]
        if not fresh:
            return record
        plate = str(record["plate"])
        for other in fresh:
            self._vehicles.update(
                other,
                lambda r: vehicle.set_near_matches(r, [plate]) if r and r.get("waiting_for") else None,
            )
        metrics.add_metric(name="VehicleNearMatches", unit=MetricUnit.Count, value=len(fresh))
        updated = self._vehicles.update(
            plate, lambda r: vehicle.set_near_matches(r, fresh) if r and r.get("waiting_for") else None
        )
        return updated or record

    def _update_forgetting_near_matches(
        self, key: str, change: Callable[[dict[str, Any] | None], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Update the record; the near matches it no longer has (it was completed or emptied)
        forget it too."""
        read: list[Mapping[str, Any]] = [{}]

        def remembering(stored: dict[str, Any] | None) -> dict[str, Any] | None:
            read[0] = stored or {}
            return change(stored)

        after = self._vehicles.update(key, remembering)
        gone = set(read[0].get("near_matches") or []) - set((after or {}).get("near_matches") or [])
        for other in sorted(gone):
            self._vehicles.update(other, lambda r: vehicle.drop_near_matches(r, [key]) if r else None)
        return after

    # -- the event --------------------------------------------------------------------------------
    def _publish_completion(self, record: dict[str, Any]) -> bool:
        """Publish `Vehicle Record Complete` when the record says it is due and not yet flipped:
        a failure raises (the message comes back, and this invocation's retry publishes it)."""
        if not record.get("complete_event_id") or record.get("complete_published") is not False:
            return False
        if self._publisher is None:
            return False
        self._publisher.publish([complete_event(record)])
        self._vehicles.mark_complete_published(str(record["plate"]), str(record["complete_event_id"]))
        metrics.add_metric(name="VehicleRecordsCompleted", unit=MetricUnit.Count, value=1)
        return True


def complete_event(record: Mapping[str, Any]) -> Event:
    """`Vehicle Record Complete`: ids only, no value (plate and VIN are personal data)."""
    pages = record.get("pages") or {}
    return Event(
        DetailType.VEHICLE_RECORD_COMPLETE,
        {
            "event_id": str(record["complete_event_id"]),
            "vehicle_id": str(record["vehicle_id"]),
            "main_page": {"image_uri": str(pages[vehicle.MAIN]["image_uri"])},
            "secondary_page": {"image_uri": str(pages[vehicle.SECONDARY]["image_uri"])},
            "review_reasons": [str(r) for r in record.get("review_reasons") or []],
            "needs_review": bool(record.get("review_reasons")),
            "completed_at": str(record["completed_at"]),
        },
    )


def _same_upload(item: Mapping[str, Any], detail: Mapping[str, Any]) -> bool:
    """Whether the item is still the upload (and the attempt) the event was published for."""
    return item.get("version_id") == detail.get("version_id") and str(item.get("processed_at")) == str(
        detail.get("processed_at")
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
