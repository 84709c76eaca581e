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
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from vehicle_license_intake.dead_letters import dead_letter_message
from vehicle_license_intake.domain import license_fields_from, validate_license
from vehicle_license_intake.domain.validation import RESULT_NOT_STORABLE
from vehicle_license_intake.events import Ignored, Upload, uploads_in
from vehicle_license_intake.image_checks import ImageRejected
from vehicle_license_intake.observability import logger, metrics
from vehicle_license_intake.outcomes import (
    ErrorInfo,
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
    ObjectSource,
    Recognition,
    Recognizer,
    ResultsRepository,
)
from vehicle_license_intake.results import utc_now_iso
from vehicle_license_intake.upstream.client import AttemptRecord
from vehicle_license_intake.upstream.contract import UpstreamRecognition
from vehicle_license_intake.upstream.errors import UpstreamError, UpstreamRejectedImage

# How long a claim outlives the invocation's own deadline before another may take it.
LEASE_MARGIN_SECONDS = 30
DEFAULT_LEASE_SECONDS = 900  # Lambda's longest timeout, when the context cannot say


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
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.objects = objects
        self.results = results
        self.dead_letters = dead_letters
        self.recognizer = recognizer
        self.input_type = input_type
        self._today = today

    # -- the event ------------------------------------------------------------------------
    def handle_event(self, event: Any, context: Any) -> dict[str, Any]:
        """Every record on its own; raise at the end if any record FAILED (Lambda retries)."""
        outcomes: list[Outcome] = []
        for item in uploads_in(event):
            if isinstance(item, Ignored):
                logger.info("record ignored", extra={"reason": item.reason, "detail": item.detail})
                # Counted, so an invocation of only ignored records still publishes its metrics.
                metrics.add_metric(name="RecordsIgnored", unit=MetricUnit.Count, value=1)
                outcomes.append(Outcome("", Skipped.IGNORED))
                continue
            logger.append_keys(image_uri=item.image_uri, sequencer=item.sequencer)
            try:
                outcome = self.process(item, context)
            except Exception as error:  # an AWS error: the retry of this event completes it
                logger.exception("record failed", extra={"error_type": type(error).__name__})
                metrics.add_metric(name="UploadsFailed", unit=MetricUnit.Count, value=1)
                outcome = Outcome(item.image_uri, Status.FAILED)
            finally:
                logger.remove_keys(["image_uri", "sequencer", "status", "request_id", "attempt"])
            outcomes.append(outcome)
        summary = {str(result): count for result, count in Counter(o.result for o in outcomes).items()}
        logger.info("event done", extra={"outcomes": summary})
        if summary.get(Status.FAILED):
            raise RecordsFailed(
                f"{summary[Status.FAILED]} of {len(outcomes)} records failed; retrying the event"
            )
        return {"outcomes": summary}

    # -- one upload -----------------------------------------------------------------------
    def process(self, upload: Upload, context: Any) -> Outcome:
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
                recognition = self.recognizer.recognize(payload, deadline)
            except UpstreamRejectedImage as unrecognized:
                return self._unrecognized(upload, claim, unrecognized)
            except UpstreamError as failed:
                return self._failed(upload, claim, failed)
            return self._succeeded(upload, claim, recognition)
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
        metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=1)
        skipped = Skipped.DUPLICATE if claim.state is ClaimState.DUPLICATE else Skipped.IN_PROGRESS
        return Outcome(upload.image_uri, skipped)

    def _succeeded(self, upload: Upload, claim: Claim, recognition: Recognition) -> Outcome:
        validated = validate_license(
            recognition.fields,
            today=self._today(),
            confidence=recognition.confidence,
            # What bounding changed in an answer from outside the contract (FIELD_TRUNCATED...).
            boundary_reasons=(
                recognition.review_reasons if isinstance(recognition, UpstreamRecognition) else ()
            ),
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
        try:
            finished = self.results.finish_upload(upload, claim, status, attributes, attempts=attempts)
        except OutcomeNotStorable as refused:
            # Deterministic: raising would make Lambda retry the event and pay the upstream again
            # for the same refusal. The outcome is final now, minimal, and says so.
            self._note_refused(refused)
            minimal = self._minimal_attributes(status, attributes)
            finished = self.results.finish_upload(upload, claim, status, minimal, attempts=attempts)
        if finished:
            return Outcome(upload.image_uri, status, attempts)
        return self._superseded(upload, attempts)

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
