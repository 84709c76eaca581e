"""The interfaces the pipeline talks through (ports), and the values that cross them.

The pipeline knows only these: DynamoDB, S3, SQS and HTTP live in the adapters that implement
them (results, objects, dead_letters, upstream), and the unit tests hold in-memory fakes of them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from vehicle_license_intake.outcomes import ErrorInfo, PendingOutcome, Status

if TYPE_CHECKING:
    from vehicle_license_intake.events import IntakeMessage, Upload


class Deadline(Protocol):
    """How long the invocation has left."""

    def remaining_seconds(self) -> float: ...


@dataclass
class ImagePayload:
    """What a recognizer is given: the image bytes (base64 mode) or a presigned URL (url mode)."""

    input_type: str
    image: bytes | bytearray | None = None
    url: str | None = None

    def json_body(self) -> bytes | bytearray:
        """The upstream's request body, built once, in place, without intermediate copies of the
        image; the image itself is released, so the process holds the image or its body, not both."""
        if self.input_type == "url":
            return json.dumps({"input_type": "url", "input_data": self.url}).encode()
        assert self.image is not None
        head = b'{"input_type":"base64","input_data":"'
        tail = b'"}'
        encoded_length = 4 * ((len(self.image) + 2) // 3)
        body = bytearray(len(head) + encoded_length + len(tail))
        body[: len(head)] = head
        chunk = 3 * 64 * 1024
        view = memoryview(self.image)
        position = len(head)
        for start in range(0, len(self.image), chunk):
            piece = base64.b64encode(view[start : start + chunk])
            body[position : position + len(piece)] = piece
            position += len(piece)
        body[position:] = tail
        self.image = None
        return body


@dataclass
class Recognition:
    """The 20 fields as the recognizer returned them, and who answered."""

    fields: dict[str, str]
    request_id: str | None = None
    source: str = "upstream"
    attempts: int = 1
    confidence: dict[str, float] | None = None
    # Where each field was read on the image (offline recognizer): [x0, y0, x1, y1] in pixels.
    boxes: dict[str, list[int]] = field(default_factory=dict)
    # What bounding an answer from outside the contract changed (FIELD_TRUNCATED:<field>...).
    review_reasons: list[str] = field(default_factory=list)


class Recognizer(Protocol):
    """The upstream client, or the offline recognizer in-process (OCR_PROVIDER=local).
    Raises an UpstreamError (upstream.errors) for every outcome that is not the 20 fields, and
    UpstreamHeld (upstream.guard) when the fleet's guard holds the call back; an open breaker
    holds it back only when `may_defer` (the upload can wait in the intake queue)."""

    source: str

    def recognize(
        self, payload: ImagePayload, deadline: Deadline, *, may_defer: bool = False
    ) -> Recognition: ...


class ObjectSource(Protocol):
    """The uploaded object version. Raises ImageRejected when a local check fails."""

    def payload_for(self, upload: Upload, input_type: str) -> ImagePayload: ...


class DeadLetterSink(Protocol):
    def send(self, message: Mapping[str, Any]) -> str: ...


class ClaimState(StrEnum):
    CLAIMED = "claimed"
    DUPLICATE = "duplicate"  # this object version already reached a final status
    IN_PROGRESS = "in_progress"  # another live invocation holds the claim for this version
    STALE = "stale"  # the table holds a newer event for this object key


@dataclass(frozen=True)
class Claim:
    """The right to work on one object version, or why it was not granted."""

    state: ClaimState
    token: str | None = None
    # An outcome an earlier attempt decided but could not finish (its dead letter unsent).
    pending_outcome: PendingOutcome | None = None
    stored_status: str | None = None
    # Upstream calls already made for this object version by earlier invocations.
    prior_attempts: int = 0
    # A duplicate whose final outcome's event was never published (the item, to publish it).
    unpublished: Mapping[str, Any] | None = None


class ResultsRepository(Protocol):
    """The results table (SPEC §4): claims and outcomes, each write conditional on the claim."""

    def claim_upload(self, upload: Upload, owner: str, lease_seconds: float) -> Claim: ...

    def record_pending_outcome(self, upload: Upload, claim: Claim, outcome: PendingOutcome) -> bool: ...

    def finish_upload(
        self,
        upload: Upload,
        claim: Claim,
        status: Status,
        attributes: Mapping[str, Any],
        *,
        attempts: int = 0,
        event_pending: bool = False,
    ) -> bool: ...

    def record_failure(self, upload: Upload, claim: Claim, error: ErrorInfo) -> bool: ...

    def release_claim(self, upload: Upload, claim: Claim) -> bool: ...

    def defer_upload(self, upload: Upload, claim: Claim, *, retry_after: float, reason: str) -> bool:
        """DEFERRED (SPEC §9): no attempt counted, taken again when the message comes back."""
        ...

    def mark_event_published(self, upload: Upload) -> None:
        """The outcome's event reached the bus: a duplicate delivery no longer publishes it."""
        ...


class IntakeQueue(Protocol):
    """The intake queue a batch came from (SPEC §9)."""

    def delay(self, message: IntakeMessage, seconds: int) -> None:
        """The message comes back `seconds` from now (its visibility timeout)."""
        ...
