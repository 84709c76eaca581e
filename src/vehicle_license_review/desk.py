"""What a reviewer can do (SPEC §11), as rules over the stored upload: claim it with a lease,
release it, and decide (approve, correct, enter by hand, reject). Each action is conditional on
the upload still being the one the reviewer saw (`identity`: a newer upload of the key starts a
fresh review) and, for a decision, on the reviewer's claim being live."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from vehicle_license_intake.domain import validate_license
from vehicle_license_intake.domain.fields import license_fields_from
from vehicle_license_intake.domain.review import (
    Action,
    InvalidDecision,
    QueueKind,
    ReviewStatus,
    changes,
    checked_fields,
    reasons_by_field,
    reject_reason,
)
from vehicle_license_intake.notifications import DetailType, Event, EventPublisher, stable_event_id
from vehicle_license_intake.results import utc_now_iso
from vehicle_license_review.store import QueuePage, ReviewConflict, ReviewTables, event_pending_attribute

CHINA_STANDARD_TIME = timezone(timedelta(hours=8))


class NotFound(Exception):
    pass


class Refused(Exception):
    """The action is not possible now; `code` says why (CLAIMED_BY_OTHER, NOT_CLAIMED,
    CLAIM_EXPIRED, NEWER_UPLOAD, NOT_WAITING) and `item` is the upload as it is."""

    def __init__(self, code: str, message: str, item: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.item = item


@dataclass(frozen=True)
class Validation:
    normalized: dict[str, Any]
    review_reasons: list[str]
    field_reasons: dict[str, list[str]]


def validate(values: Mapping[str, Any], today: date) -> Validation:
    """The same rules the function applied, on the reviewer's values (the page's live check)."""
    checked = checked_fields(values, complete=True)
    validated = validate_license(checked, today=today)
    return Validation(
        validated.normalized, validated.review_reasons, reasons_by_field(validated.review_reasons)
    )


class ReviewDesk:
    def __init__(
        self,
        tables: ReviewTables,
        publisher: EventPublisher | None,
        *,
        claim_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tables = tables
        self._publisher = publisher
        self._claim_seconds = claim_seconds
        self._clock = clock

    def today(self) -> date:
        return datetime.fromtimestamp(self._clock(), CHINA_STANDARD_TIME).date()

    # -- reading --------------------------------------------------------------------------
    def queue(self, kind: QueueKind | None, reason: str | None, limit: int, cursor: str | None) -> QueuePage:
        kinds = [kind] if kind else list(QueueKind)
        page = self._tables.queue(kinds, reason=reason, limit=limit, cursor=cursor)
        page.counts = {k.value: self._tables.count(k) for k in QueueKind}
        now = utc_now_iso(self._clock())
        for item in page.items:
            review = item.get("review") or {}
            item["available"] = _available(review, now)
        return page

    def upload(self, image_uri: str) -> dict[str, Any]:
        item = self._tables.get(image_uri)
        if item is None:
            raise NotFound(image_uri)
        item["trail"] = self._tables.trail(image_uri)
        item["field_reasons"] = reasons_by_field(list(item.get("review_reasons") or []))
        if item.get("reviewed_reasons") is not None:
            item["reviewed_field_reasons"] = reasons_by_field(list(item["reviewed_reasons"]))
        item["available"] = _available(item.get("review") or {}, utc_now_iso(self._clock()))
        return item

    # -- the lease ------------------------------------------------------------------------
    def claim(self, image_uri: str, identity: str, actor: str) -> dict[str, Any]:
        """Hold the upload for `claim_seconds` (again: the lease is renewed). Refused when another
        reviewer's claim is live, the review is decided, or a newer upload replaced it."""
        now = self._clock()
        at, until = utc_now_iso(now), utc_now_iso(now + self._claim_seconds)
        return self._change(
            image_uri,
            identity,
            actor,
            Action.CLAIM,
            update="SET #review.#status = :in_review, #review.claimed_by = :me, #review.claim_expires_at = :until",
            condition=(
                "attribute_exists(review_queue) AND (#review.#status = :pending OR "
                "(#review.#status = :in_review AND (#review.claim_expires_at < :now OR #review.claimed_by = :me)))"
            ),
            values={
                ":in_review": ReviewStatus.IN_REVIEW.value,
                ":pending": ReviewStatus.PENDING.value,
                ":until": until,
                ":now": at,
            },
            at=at,
        )

    def release(self, image_uri: str, identity: str, actor: str) -> dict[str, Any]:
        at = utc_now_iso(self._clock())
        return self._change(
            image_uri,
            identity,
            actor,
            Action.RELEASE,
            update="SET #review.#status = :pending REMOVE #review.claimed_by, #review.claim_expires_at",
            condition="#review.#status = :in_review AND #review.claimed_by = :me",
            values={":pending": ReviewStatus.PENDING.value, ":in_review": ReviewStatus.IN_REVIEW.value},
            at=at,
        )

    # -- decisions ------------------------------------------------------------------------
    def decide(
        self, image_uri: str, identity: str, actor: str, action: Action, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        item = self._tables.get(image_uri)
        if item is None:
            raise NotFound(image_uri)
        if item.get("identity") != identity:
            raise Refused("NEWER_UPLOAD", "a newer upload of this key replaced the one you saw", item)
        review = item.get("review") or {}
        if item.get(event_pending_attribute()) and review.get("decided_by") == actor:
            # Our decision is stored but its event was not accepted: asking again publishes it.
            self._publish_decision(item)
            return item
        recognized = item.get("status") == "SUCCEEDED"
        raw = license_fields_from(item.get("license") or {})
        values: dict[str, Any] = {":in_review": ReviewStatus.IN_REVIEW.value}
        entry: dict[str, Any] = {}
        if action is Action.REJECT:
            code, note = reject_reason(body.get("reason"), body.get("note"))
            status, reviewed = ReviewStatus.REJECTED, None
            values[":reason"] = code.value
            entry.update(reason=code.value, note=note)
        elif action is Action.APPROVE:
            if not recognized:
                raise InvalidDecision("nothing was recognised to approve: enter the fields by hand")
            status, reviewed = ReviewStatus.APPROVED, raw
        elif action is Action.CORRECT:
            if not recognized:
                raise InvalidDecision("nothing was recognised to correct: enter the fields by hand")
            corrections = checked_fields(body.get("license"), complete=False)
            reviewed = {**raw, **corrections}
            if reviewed == raw:
                raise InvalidDecision("no field was changed: approve instead")
            status = ReviewStatus.CORRECTED
        elif action is Action.ENTER:
            if recognized:
                raise InvalidDecision("the fields were recognised: correct them instead")
            reviewed = checked_fields(body.get("license"), complete=True)
            if not any(reviewed.values()):
                raise InvalidDecision("no field was entered")
            status = ReviewStatus.CORRECTED
        else:
            raise InvalidDecision(f"{action.value} is not a decision")

        at = utc_now_iso(self._clock())
        sets = [
            "#review.#status = :decided",
            "#review.decided_by = :me",
            "#review.decided_at = :now",
            "#pending = :true",
        ]
        values.update({":decided": status.value, ":true": True})
        if action is Action.REJECT:
            sets.append("#review.reason = :reason")
        if reviewed is not None:
            validated = validate_license(reviewed, today=self.today())
            sets += [
                "reviewed_license = :reviewed",
                "reviewed_normalized = :normalized",
                "reviewed_reasons = :reasons",
            ]
            values.update(
                {
                    ":reviewed": reviewed,
                    ":normalized": validated.normalized,
                    ":reasons": validated.review_reasons,
                }
            )
            entry["changes"] = changes(raw if recognized else {}, reviewed)
        # Decided: it leaves the queue (the index keys go) and the lease ends.
        update = f"SET {', '.join(sets)} REMOVE review_queue, review_since, #review.claim_expires_at"
        stored = self._change(
            image_uri,
            identity,
            actor,
            action,
            update=update,
            condition=(
                "#review.#status = :in_review AND #review.claimed_by = :me AND #review.claim_expires_at > :now"
            ),
            values=values,
            at=at,
            entry=entry,
            extra_names={"#pending": event_pending_attribute()},
        )
        self._publish_decision(stored)
        return stored

    def _publish_decision(self, item: Mapping[str, Any]) -> None:
        """License Reviewed (SPEC §10): once per decision, no value of any field."""
        if self._publisher is None:
            return
        self._publisher.publish([reviewed_event(item)])
        self._tables.mark_event_published(str(item["image_uri"]), str(item["identity"]))

    def republish_pending(self, item: Mapping[str, Any]) -> bool:
        """A decision whose event was not accepted (the API answered 502): publish it again."""
        if not item.get(event_pending_attribute()):
            return False
        self._publish_decision(item)
        return True

    def _change(
        self,
        image_uri: str,
        identity: str,
        actor: str,
        action: Action,
        *,
        update: str,
        condition: str,
        values: Mapping[str, Any],
        at: str,
        entry: Mapping[str, Any] | None = None,
        extra_names: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        condition = f"#identity = :identity AND {condition}"
        expressions = f"{update} {condition}"
        names = {"#review": "review", "#status": "status", "#identity": "identity", **(extra_names or {})}
        every_value = {":now": at, **values, ":identity": identity, ":me": actor}
        try:
            return self._tables.change_review(
                image_uri,
                update=update,
                condition=condition,
                # DynamoDB refuses names and values an expression does not use.
                names={k: v for k, v in names.items() if k in expressions},
                values={k: v for k, v in every_value.items() if re.search(rf"{k}\b", expressions)},
                entry={
                    "at": at,
                    "actor": actor,
                    "action": action.value,
                    "identity": identity,
                    **(entry or {}),
                },
            )
        except ReviewConflict as conflict:
            raise _explain(conflict.item, identity, actor, at) from None


def reviewed_event(item: Mapping[str, Any]) -> Event:
    review = item.get("review") or {}
    changed = sorted((item.get("reviewed_license") or {}).keys() & _changed_fields(item))
    detail: dict[str, Any] = {
        "event_id": stable_event_id(
            item["image_uri"], item["identity"], "reviewed", review.get("decided_at")
        ),
        "image_uri": str(item["image_uri"]),
        "bucket": str(item["bucket"]),
        "object_key": str(item["object_key"]),
        "version_id": item.get("version_id"),
        "status": str(item["status"]),
        "review_status": str(review.get("status")),
        "decided_at": str(review.get("decided_at")),
        "corrected_fields": changed,
        "review_reasons": [str(r) for r in item.get("reviewed_reasons") or []],
        "needs_review": False,
        "processed_at": str(item["processed_at"]),
    }
    if review.get("reason"):
        detail["reject_reason"] = str(review["reason"])
    return Event(DetailType.REVIEWED, detail)


def _changed_fields(item: Mapping[str, Any]) -> set[str]:
    reviewed = item.get("reviewed_license") or {}
    raw = item.get("license") or {}
    return {name for name, value in reviewed.items() if raw.get(name, "") != value}


def _available(review: Mapping[str, Any], now: str) -> bool:
    status = review.get("status")
    if status == ReviewStatus.PENDING:
        return True
    return status == ReviewStatus.IN_REVIEW and str(review.get("claim_expires_at", "")) < now


def _explain(item: dict[str, Any] | None, identity: str, actor: str, now: str) -> Exception:
    if item is None:
        return NotFound("the upload is gone")
    if item.get("identity") != identity:
        return Refused("NEWER_UPLOAD", "a newer upload of this key replaced the one you saw", item)
    review = item.get("review") or {}
    status = review.get("status")
    if status is None or status in (ReviewStatus.APPROVED, ReviewStatus.CORRECTED, ReviewStatus.REJECTED):
        return Refused("NOT_WAITING", "this upload does not wait for a review (decided already?)", item)
    if status == ReviewStatus.IN_REVIEW and review.get("claimed_by") != actor:
        if str(review.get("claim_expires_at", "")) >= now:
            return Refused("CLAIMED_BY_OTHER", "another reviewer holds this upload", item)
        return Refused("NOT_CLAIMED", "claim the upload first", item)
    if status == ReviewStatus.IN_REVIEW and str(review.get("claim_expires_at", "")) <= now:
        return Refused("CLAIM_EXPIRED", "your claim expired: claim the upload again", item)
    return Refused("NOT_CLAIMED", "claim the upload first", item)
