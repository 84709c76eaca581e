"""The story of one upload: event → claim → object checks → recognition → results / dead letters.

Where is 5021 handled? `_unrecognized` below: the outcome is recorded as pending, the dead letter
is sent, then the item is finished as UNRECOGNIZED — so a 5021 is never recorded without its
message, and a retry after a crash in between sends the message without paying the upstream again.

The pipeline talks to the results table, the object store, the dead-letter queue and the
recognizer only through the ports in `ports.py`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from vehicle_license_intake.dead_letters import dead_letter_message
from vehicle_license_intake.domain import license_fields_from, validate_license
from vehicle_license_intake.domain.validation import RESULT_NOT_STORABLE
from vehicle_license_intake.events import (
    Ignored,
    IntakeMessage,
    Upload,
    intake_messages,
    is_queue_batch,
    uploads_in,
)
from vehicle_license_intake.image_checks import ImageRejected
from vehicle_license_intake.notifications import EventPublisher, EventsNotPublished, outcome_event
from vehicle_license_intake.observability import logger, metrics
from vehicle_license_intake.outcomes import (
    ErrorInfo,
    ErrorSource,
    Outcome,
    OutcomeNotStorable,
    PendingOutcome,
    Skipped,
    Status,
)
from vehicle_license_intake.ports import (
    Claim,
    ClaimState,
    DeadLetterSink,
    IntakeQueue,
    ObjectSource,
    Recognition,
    Recognizer,
    ResultsRepository,
)
from vehicle_license_intake.results import utc_now_iso
from vehicle_license_intake.upstream.client import AttemptRecord
from vehicle_license_intake.upstream.errors import UpstreamError, UpstreamRejectedImage
from vehicle_license_intake.upstream.guard import UpstreamHeld

# How long a claim outlives the invocation's own deadline before another may take it.
LEASE_MARGIN_SECONDS = 30
DEFAULT_LEASE_SECONDS = 900  # Lambda's longest timeout, when the context cannot say
# SQS holds a message back at most 12 hours; a FAILED record's message comes back after a backoff.
MAX_DELAY_SECONDS = 43200
FAILED_RETRY_BASE_SECONDS = 30
FAILED_RETRY_CAP_SECONDS = 900


class RecordsFailed(Exception):
    """Raised after every record was handled, so that Lambda retries the event."""


class ContextDeadline:
    """The invocation's remaining time, from the Lambda context."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self._fallback_end = time.monotonic() + DEFAULT_LEASE_SECONDS

    def remaining_seconds(self) -> float:
        remaining = getattr(self._context, "get_remaining_time_in_millis", None)
        if callable(remaining):
            return float(remaining()) / 1000.0
        return self._fallback_end - time.monotonic()


class Pipeline:
    def __init__(
        self,
        *,
        objects: ObjectSource,
        results: ResultsRepository,
        dead_letters: DeadLetterSink,
        recognizer: Recognizer,
        input_type: str,
        events: EventPublisher | None = None,
        intake_queue: IntakeQueue | None = None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.objects = objects
        self.results = results
        self.dead_letters = dead_letters
        self.recognizer = recognizer
        self.input_type = input_type
        self.events = events
        self.intake_queue = intake_queue
        self._today = today
        self._clock = clock

    # -- the event ------------------------------------------------------------------------
    def handle_event(self, event: Any, context: Any) -> dict[str, Any]:
        """A direct S3 event: every record on its own, then raise if any FAILED (Lambda retries
        the event). A batch from the intake queue (SPEC §9): never raises; the messages of FAILED
        and DEFERRED records are reported as batch item failures and come back after a delay."""
        if is_queue_batch(event):
            return self._handle_queue_batch(event, context)
        outcomes = self._handle_records(uploads_in(event), context, may_defer=False)
        summary = _summary(outcomes)
        if summary.get(Status.FAILED):
            raise RecordsFailed(
                f"{summary[Status.FAILED]} of {len(outcomes)} records failed; retrying the event"
            )
        return {"outcomes": summary}

    def _handle_queue_batch(self, event: Any, context: Any) -> dict[str, Any]:
        outcomes: list[Outcome] = []
        failures: list[dict[str, str]] = []
        for message in intake_messages(event):
            results = self._handle_records(message.items, context, may_defer=True)
            outcomes.extend(results)
            delay = self._redelivery_delay(message, results)
            if delay is not None:
                failures.append({"itemIdentifier": message.message_id})
                self._delay_message(message, delay)
        return {"batchItemFailures": failures, "outcomes": _summary(outcomes)}

    def _redelivery_delay(self, message: IntakeMessage, outcomes: list[Outcome]) -> int | None:
        """None: the message is done. Otherwise seconds until it should come back: a DEFERRED
        upload at its `retry_after`, a FAILED one after a backoff that grows with each receive."""
        delays: list[float] = []
        for outcome in outcomes:
            if outcome.result is Status.DEFERRED and outcome.retry_after is not None:
                delays.append(outcome.retry_after - self._clock())
            elif outcome.result is Status.FAILED:
                backoff = FAILED_RETRY_BASE_SECONDS * 2 ** min(10, message.receive_count - 1)
                delays.append(min(FAILED_RETRY_CAP_SECONDS, backoff))
        if not delays:
            return None
        return int(min(MAX_DELAY_SECONDS, max(0.0, max(delays))))

    def _delay_message(self, message: IntakeMessage, seconds: int) -> None:
        if self.intake_queue is None:
            return
        try:
            self.intake_queue.delay(message, seconds)
        except Exception:  # it comes back after the queue's own visibility timeout instead
            logger.warning("could not delay the message", extra={"message_id": message.message_id})

    def _handle_records(
        self, records: Iterable[Upload | Ignored], context: Any, *, may_defer: bool
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for item in records:
            if isinstance(item, Ignored):
                logger.info("record ignored", extra={"reason": item.reason, "detail": item.detail})
                # Counted, so an invocation of only ignored records still publishes its metrics.
                metrics.add_metric(name="RecordsIgnored", unit=MetricUnit.Count, value=1)
                outcomes.append(Outcome("", Skipped.IGNORED))
                continue
            logger.append_keys(image_uri=item.image_uri, sequencer=item.sequencer)
            try:
                outcome = self.process(item, context, may_defer=may_defer)
            except Exception as error:  # an AWS error: the retry of this event completes it
                logger.exception("record failed", extra={"error_type": type(error).__name__})
                metrics.add_metric(name="UploadsFailed", unit=MetricUnit.Count, value=1)
                outcome = Outcome(item.image_uri, Status.FAILED)
            finally:
                logger.remove_keys(["image_uri", "sequencer", "status", "request_id", "attempt"])
            outcomes.append(outcome)
        logger.info("records done", extra={"outcomes": _summary(outcomes)})
        return outcomes

    # -- one upload -----------------------------------------------------------------------
    def process(self, upload: Upload, context: Any, *, may_defer: bool = False) -> Outcome:
        deadline = ContextDeadline(context)
        owner = str(getattr(context, "aws_request_id", "") or "local")
        lease = deadline.remaining_seconds() + LEASE_MARGIN_SECONDS
        claim = self.results.claim_upload(upload, owner=owner, lease_seconds=lease)
        if claim.state is not ClaimState.CLAIMED:
            return self._not_claimed(upload, claim)

        try:
            if claim.pending_outcome:
                logger.info("finishing an outcome decided by an earlier attempt")
                return self._send_dead_letter_and_finish(upload, claim, claim.pending_outcome)
            try:
                payload = self.objects.payload_for(upload, self.input_type)
            except ImageRejected as rejected:
                error = ErrorInfo.rejected(rejected.code, rejected.message)
                return self._dead_letter(upload, claim, Status.REJECTED, error, None, attempts=0)
            try:
                recognition = self.recognizer.recognize(payload, deadline, may_defer=may_defer)
            except UpstreamRejectedImage as unrecognized:
                return self._unrecognized(upload, claim, unrecognized)
            except UpstreamError as failed:
                return self._failed(upload, claim, failed)
            except UpstreamHeld as held:
                return self._held(upload, claim, held, may_defer=may_defer)
            return self._succeeded(upload, claim, recognition)
        except EventsNotPublished:
            raise  # the outcome is stored; a retry of the event publishes it (a duplicate)
        except Exception as error:
            self._record_failure(upload, claim, error)
            raise

    def _not_claimed(self, upload: Upload, claim: Claim) -> Outcome:
        if claim.state is ClaimState.STALE:
            logger.info("older than the stored event: ignored", extra={"stored_status": claim.stored_status})
            metrics.add_metric(name="StaleEvents", unit=MetricUnit.Count, value=1)
            return Outcome(upload.image_uri, Skipped.STALE)
        logger.info(
            "duplicate delivery: no upstream call",
            extra={"claim": claim.state.value, "stored_status": claim.stored_status},
        )
        if claim.unpublished is not None:
            logger.info("publishing the event an earlier delivery could not")
            self._publish(upload, claim.unpublished)
        metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=1)
        skipped = Skipped.DUPLICATE if claim.state is ClaimState.DUPLICATE else Skipped.IN_PROGRESS
        return Outcome(upload.image_uri, skipped)

    def _succeeded(self, upload: Upload, claim: Claim, recognition: Recognition) -> Outcome:
        validated = validate_license(
            recognition.fields,
            today=self._today(),
            confidence=recognition.confidence,
            # What bounding changed in an answer from outside the contract (FIELD_TRUNCATED...).
            boundary_reasons=recognition.review_reasons,
        )
        attributes: dict[str, Any] = {
            "license": recognition.fields,
            "normalized": validated.normalized,
            "review_reasons": validated.review_reasons,
            "needs_review": validated.needs_review,
            "recognized_by": recognition.source,
        }
        if recognition.request_id:
            attributes["request_id"] = recognition.request_id
        if recognition.confidence:
            attributes["confidence"] = {k: str(round(v, 4)) for k, v in recognition.confidence.items()}
        if recognition.boxes:
            # Where each value was read on the image ([x0, y0, x1, y1] pixels): the review desk
            # draws it over the image.
            attributes["boxes"] = {k: [int(c) for c in box] for k, box in recognition.boxes.items()}
        outcome = self._finish(upload, claim, Status.SUCCEEDED, attributes, recognition.attempts)
        if outcome.result is Status.SUCCEEDED:
            metrics.add_metric(name="UploadsSucceeded", unit=MetricUnit.Count, value=1)
            if validated.needs_review:
                metrics.add_metric(name="UploadsNeedingReview", unit=MetricUnit.Count, value=1)
            logger.info(
                "upload recognised",
                extra={
                    "status": Status.SUCCEEDED,
                    "request_id": recognition.request_id,
                    "review_reasons": validated.review_reasons,
                },
            )
        return outcome

    def _unrecognized(self, upload: Upload, claim: Claim, error: UpstreamRejectedImage) -> Outcome:
        return self._dead_letter(
            upload,
            claim,
            Status.UNRECOGNIZED,
            _error_info(error, self.recognizer.source),
            error.request_id,
            attempts=error.attempts,
        )

    def _failed(self, upload: Upload, claim: Claim, error: UpstreamError) -> Outcome:
        attributes: dict[str, Any] = {"error": _error_info(error, self.recognizer.source).as_item()}
        if error.request_id:
            attributes["request_id"] = error.request_id
        outcome = self._finish(upload, claim, Status.FAILED, attributes, error.attempts)
        logger.warning(
            "upstream failed",
            extra={
                "status": Status.FAILED,
                "code": str(error.code),
                "upstream_status": error.status,
                "request_id": error.request_id,
                "attempt": error.attempts,
            },
        )
        if outcome.result is Status.FAILED:
            metrics.add_metric(name="UploadsFailed", unit=MetricUnit.Count, value=1)
        return outcome

    def _dead_letter(
        self,
        upload: Upload,
        claim: Claim,
        status: Status,
        error: ErrorInfo,
        request_id: str | None,
        *,
        attempts: int,
    ) -> Outcome:
        pending = PendingOutcome(status, error, request_id, attempts, failed_at=utc_now_iso(time.time()))
        try:
            recorded = self.results.record_pending_outcome(upload, claim, pending)
        except OutcomeNotStorable as refused:
            self._note_refused(refused)
            pending = pending.minimal()
            recorded = self.results.record_pending_outcome(upload, claim, pending)
        if not recorded:
            return self._superseded(upload, attempts)
        return self._send_dead_letter_and_finish(upload, claim, pending)

    def _send_dead_letter_and_finish(self, upload: Upload, claim: Claim, pending: PendingOutcome) -> Outcome:
        self.dead_letters.send(dead_letter_message(upload, pending))
        attributes: dict[str, Any] = {"error": pending.error.as_item()}
        if pending.request_id:
            attributes["request_id"] = pending.request_id
        outcome = self._finish(upload, claim, pending.status, attributes, pending.attempts)
        metric = "UploadsUnrecognized" if pending.status is Status.UNRECOGNIZED else "UploadsRejected"
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
        logger.info(
            "upload sent to the dead-letter queue",
            extra={
                "status": pending.status,
                "code": str(pending.error.code),
                "request_id": pending.request_id,
            },
        )
        return outcome

    def _finish(
        self, upload: Upload, claim: Claim, status: Status, attributes: dict[str, Any], attempts: int
    ) -> Outcome:
        """Store the outcome if the claim is still ours, then publish its event (SPEC §10)."""
        attributes = {**attributes, "processed_at": utc_now_iso(self._clock())}
        outbox = self.events is not None and status is not Status.FAILED
        try:
            finished = self.results.finish_upload(
                upload, claim, status, attributes, attempts=attempts, event_pending=outbox
            )
        except OutcomeNotStorable as refused:
            # Deterministic: raising would make Lambda retry the event and pay the upstream again
            # for the same refusal. The outcome is final now, minimal, and says so.
            self._note_refused(refused)
            attributes = {
                **self._minimal_attributes(status, attributes),
                "processed_at": attributes["processed_at"],
            }
            finished = self.results.finish_upload(
                upload, claim, status, attributes, attempts=attempts, event_pending=outbox
            )
        if not finished:
            return self._superseded(upload, attempts)
        total_attempts = claim.prior_attempts + attempts
        stored = {**_object_facts(upload), **attributes, "status": status}
        if total_attempts:
            stored["attempts"] = total_attempts
        self._publish(upload, stored, best_effort=not outbox)
        return Outcome(upload.image_uri, status, attempts)

    def _publish(self, upload: Upload, item: Mapping[str, Any], *, best_effort: bool = False) -> None:
        """The outcome's event, then the item marked published. A FAILED outcome is published
        best effort (it is retried anyway); a final one raises EventsNotPublished, so the retry of
        the event, a duplicate, publishes it (at least once)."""
        if self.events is None:
            return
        # A duplicate publishing an earlier outcome: the item says which replay, if any, made it.
        spent = item.get("reprocess_tokens_used") or []
        token = str(spent[-1]) if spent else upload.reprocess_token
        try:
            self.events.publish([outcome_event(item, identity=upload.identity, reprocess_token=token)])
        except Exception as error:
            metrics.add_metric(name="EventsNotPublished", unit=MetricUnit.Count, value=1)
            logger.warning("event not published", extra={"error_type": type(error).__name__})
            if best_effort:
                return
            raise EventsNotPublished(type(error).__name__) from None
        if not best_effort:
            self.results.mark_event_published(upload)

    def _held(self, upload: Upload, claim: Claim, held: UpstreamHeld, *, may_defer: bool) -> Outcome:
        """The fleet's guard held the call back (SPEC §9). From the intake queue: DEFERRED, no
        attempt counted, the message comes back at `retry_after`. On the direct path only a spent
        daily quota holds a call: the record ends FAILED and Lambda's retries complete it."""
        metrics.add_metric(name="UploadsHeldBack", unit=MetricUnit.Count, value=1)
        retry_after = utc_now_iso(held.retry_after)
        if may_defer:
            logger.info(
                "upstream held back: deferred", extra={"reason": held.reason, "retry_after": retry_after}
            )
            metrics.add_metric(name="UploadsDeferred", unit=MetricUnit.Count, value=1)
            if not self.results.defer_upload(upload, claim, retry_after=held.retry_after, reason=held.reason):
                return self._superseded(upload, held.attempts)
            return Outcome(upload.image_uri, Status.DEFERRED, held.attempts, retry_after=held.retry_after)
        error = ErrorInfo(
            ErrorSource.LOCAL,
            "QUOTA_EXHAUSTED" if held.reason == "quota" else "CIRCUIT_OPEN",
            "UPSTREAM_HELD",
            f"the upstream is held back ({held.reason}) until {retry_after}",
        )
        outcome = self._finish(upload, claim, Status.FAILED, {"error": error.as_item()}, held.attempts)
        if outcome.result is Status.FAILED:
            metrics.add_metric(name="UploadsFailed", unit=MetricUnit.Count, value=1)
        return outcome

    def _minimal_attributes(self, status: Status, attributes: dict[str, Any]) -> dict[str, Any]:
        """The outcome without anything the upstream said: always storable, still SPEC §4."""
        minimal = {name: attributes[name] for name in ("recognized_by",) if name in attributes}
        if status is Status.SUCCEEDED:
            return {
                **minimal,
                "license": license_fields_from({}),
                "normalized": validate_license({}, today=self._today()).normalized,
                "review_reasons": [RESULT_NOT_STORABLE],
                "needs_review": True,
            }
        return {**minimal, "error": ErrorInfo.from_item(attributes["error"]).without_message().as_item()}

    def _note_refused(self, refused: OutcomeNotStorable) -> None:
        logger.warning(
            "the table refused the outcome: a minimal one is stored", extra={"reason": str(refused)}
        )
        metrics.add_metric(name="OutcomesNotStorable", unit=MetricUnit.Count, value=1)

    def _superseded(self, upload: Upload, attempts: int) -> Outcome:
        logger.warning("claim lost to a newer event or an expired lease: outcome not stored")
        metrics.add_metric(name="StaleEvents", unit=MetricUnit.Count, value=1)
        return Outcome(upload.image_uri, Skipped.SUPERSEDED, attempts)

    def _record_failure(self, upload: Upload, claim: Claim, error: Exception) -> None:
        """Best effort after an AWS error: the item says FAILED (keeping an outcome already
        decided), so Lambda's retry of the event finishes it without a second upstream call. If
        even that write fails, the claim is released, or at worst expires with its lease."""
        try:
            if self.results.record_failure(upload, claim, ErrorInfo.from_aws_error(error)):
                return
        except Exception:  # the table itself may be what fails
            logger.warning("could not record the failure; releasing the claim")
        self._release_quietly(upload, claim)

    def _release_quietly(self, upload: Upload, claim: Claim) -> None:
        try:
            self.results.release_claim(upload, claim)
        except Exception:  # the lease expires on its own; the original error matters more
            logger.warning("could not release the claim; it expires with its lease")


def _summary(outcomes: Iterable[Outcome]) -> dict[str, int]:
    return {str(result): count for result, count in Counter(o.result for o in outcomes).items()}


def _object_facts(upload: Upload) -> dict[str, Any]:
    """What an event needs of the object version (the item holds the same)."""
    return {
        "image_uri": upload.image_uri,
        "bucket": upload.bucket,
        "object_key": upload.key,
        "version_id": upload.version_id,
    }


def _error_info(error: UpstreamError, source: str) -> ErrorInfo:
    return ErrorInfo(source, error.code, error.status, error.message, error.message_truncated)


def observe_attempt(record: AttemptRecord) -> None:
    """Log and measure one upstream call (never the key, never a field value)."""
    metrics.add_metric(name="UpstreamLatency", unit=MetricUnit.Milliseconds, value=record.latency_ms)
    logger.info(
        "upstream call",
        extra={
            "attempt": record.attempt,
            "outcome": record.outcome,
            "request_id": record.request_id,
            "latency_ms": round(record.latency_ms, 1),
        },
    )


GUARD_METRICS = {
    "opened": "UpstreamCircuitOpened",
    "closed": "UpstreamCircuitClosed",
    "probe": "UpstreamProbes",
    "quota_exhausted": "UpstreamQuotaExhausted",
    # a call that could not start on its slot took a new one (often: raise the rate margin)
    "late_for_slot": "UpstreamLateSlots",
}


def observe_guard(event: str) -> None:
    """Measure what the fleet's guard decided (the alarms watch these)."""
    metrics.add_metric(name=GUARD_METRICS.get(event, "UpstreamGuardEvents"), unit=MetricUnit.Count, value=1)
    logger.info("upstream guard", extra={"guard_event": event})
