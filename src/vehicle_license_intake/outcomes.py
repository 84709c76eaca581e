"""What an upload can end as (SPEC §4), typed: statuses, the error an item carries, and an
outcome decided but not yet finished (its dead letter unsent)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """The item's `status` attribute (SPEC §4)."""

    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    UNRECOGNIZED = "UNRECOGNIZED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    # SPEC §9, intake-queue path only: the upstream's quota is spent or its breaker open; the
    # upload costs no attempt and comes back by itself after `retry_after`. Never final.
    DEFERRED = "DEFERRED"


# A final status is never worked on again for the same object version (SPEC §6 duplicates).
FINAL_STATUSES: frozenset[Status] = frozenset({Status.SUCCEEDED, Status.UNRECOGNIZED, Status.REJECTED})
# The statuses that send a dead letter (SPEC §5).
DEAD_LETTER_STATUSES: frozenset[Status] = frozenset({Status.UNRECOGNIZED, Status.REJECTED})


class Skipped(StrEnum):
    """Why a record was not processed: nothing was written and nothing was paid."""

    DUPLICATE = "DUPLICATE"  # this object version already reached a final status
    IN_PROGRESS = "IN_PROGRESS"  # another live invocation holds the claim
    STALE = "STALE"  # the table holds a newer event for this object key
    SUPERSEDED = "SUPERSEDED"  # a newer event (or an expired lease) took the item meanwhile
    IGNORED = "IGNORED"  # not an upload (SPEC §6: test events, folders, unknown shapes)


class ErrorSource(StrEnum):
    UPSTREAM = "upstream"  # the OCR endpoint answered
    LOCAL = "local"  # this function decided (local checks, AWS errors) or the offline recognizer


class OutcomeNotStorable(Exception):
    """The results table refused an outcome's values (DynamoDB's ValidationException: an item too
    large, a number out of range...) or they could not be serialised. Deterministic: writing the
    same values again fails the same way, so the pipeline stores a minimal outcome instead of
    letting Lambda retry the event (and pay the upstream) for nothing. The message never quotes
    a value."""


@dataclass(frozen=True)
class ErrorInfo:
    """The item's `error` map (SPEC §4). `status` names the kind of failure: the upstream's own
    status name (UPSTREAM_INVALID, RATE_LIMITED...), REJECTED for a local check, AWS_ERROR.
    `message_truncated` (stored only when true): the message is the beginning of a longer one."""

    source: str
    code: int | str
    status: str
    message: str
    message_truncated: bool = False

    def as_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "source": self.source,
            "code": self.code,
            "status": self.status,
            "message": self.message,
        }
        if self.message_truncated:
            item["message_truncated"] = True
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ErrorInfo:
        code = item.get("code", "")
        return cls(
            source=str(item.get("source", "")),
            code=code if isinstance(code, int) and not isinstance(code, bool) else str(code),
            status=str(item.get("status", "")),
            message=str(item.get("message", "")),
            message_truncated=item.get("message_truncated") is True,
        )

    def without_message(self) -> ErrorInfo:
        """The same error with nothing of its message: what is stored when the table refused it."""
        return ErrorInfo(self.source, self.code, self.status, "", message_truncated=bool(self.message))

    @classmethod
    def rejected(cls, code: str, message: str) -> ErrorInfo:
        """A local check failed (SPEC §4 REJECTED codes); no upstream call was made."""
        return cls(ErrorSource.LOCAL, code, Status.REJECTED, message)

    @classmethod
    def from_aws_error(cls, error: Exception) -> ErrorInfo:
        """What failed, without the exception's text (it could quote data)."""
        response = getattr(error, "response", None)
        code = str(response.get("Error", {}).get("Code", "")) if isinstance(response, Mapping) else ""
        code = code or type(error).__name__
        operation = str(getattr(error, "operation_name", "") or "")
        what = f"{operation} failed" if operation else "processing failed"
        return cls(
            ErrorSource.LOCAL, code, "AWS_ERROR", f"{what}: {code}; the retry of the event completes it"
        )


@dataclass(frozen=True)
class PendingOutcome:
    """An outcome decided before its side effect (the dead letter) was sent. Stored on the item
    first, so a retry after a crash sends the message without paying the upstream again."""

    status: Status
    error: ErrorInfo
    request_id: str | None
    attempts: int
    failed_at: str

    def as_item(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "error": self.error.as_item(),
            "request_id": self.request_id,
            "attempts": self.attempts,
            "failed_at": self.failed_at,
        }

    def minimal(self) -> PendingOutcome:
        """What can always be stored: the decision without the upstream's words."""
        return PendingOutcome(self.status, self.error.without_message(), None, self.attempts, self.failed_at)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> PendingOutcome:
        request_id = item.get("request_id")
        return cls(
            status=Status(str(item["status"])),
            error=ErrorInfo.from_item(item["error"]),
            request_id=str(request_id) if request_id else None,
            attempts=int(item.get("attempts") or 0),
            failed_at=str(item.get("failed_at", "")),
        )


@dataclass(frozen=True)
class Outcome:
    """What became of one record of an event."""

    image_uri: str
    result: Status | Skipped
    upstream_calls: int = 0
    retry_after: float | None = None  # DEFERRED: when to try again (epoch seconds)
