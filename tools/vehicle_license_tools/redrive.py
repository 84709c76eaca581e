"""Redrive: replay the uploads waiting in the dead-letter queue, or in the failure and parking
queues, so that each is really attempted again, and delete each message only once its replay is
sent.

A final item is never worked on again for the same object version (SPEC §6), so each replay says
it is wanted: a reprocess token is written onto the item first (ResultsTable.request_reprocess)
and the replayed record carries it. The token is derived from the message (its body, which SQS
keeps as it was sent), so a redrive that was interrupted and is run again uses the same token, and
so do two copies of the same message: a replay already attempted is not paid again (its token is
spent), a replay sent but not yet attempted may be sent twice and is still attempted once. A new
dead letter for the same upload (its replay was unrecognised again) is another message, with a
token of its own. A message whose replay could not be sent stays in its queue.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from vehicle_license_intake.events import Ignored, Upload, parse_record
from vehicle_license_intake.results import ReprocessRequest
from vehicle_license_tools.ops import OperationError, Operations, hand_back, records_of

SOURCES = ("dead-letters", "failures")
# A received message stays hidden this long: time to replay its records and delete it.
RECEIVE_VISIBILITY_SECONDS = 300


class Outcome(StrEnum):
    """What became of one message (the report's words)."""

    REPLAYED = "replayed"  # replay sent, message deleted
    WOULD_REPLAY = "would replay"  # --dry-run
    ALREADY_REPLAYED = "already replayed"  # an earlier run's replay was attempted: message deleted
    NOTHING_TO_REPLAY = "nothing to replay"  # no upload in it (a test event...): message deleted
    WOULD_DELETE = "would delete"  # --dry-run, nothing to replay in it
    BUSY = "busy"  # being processed now: left in the queue
    SUPERSEDED = "superseded"  # the table holds another version of the key: left in the queue
    NOT_SENT = "not sent"  # the replay could not be sent: left in the queue


# A message with one of these stays in its queue (for a later run, or a human).
LEFT_IN_QUEUE = frozenset({Outcome.BUSY, Outcome.SUPERSEDED, Outcome.NOT_SENT})


@dataclass
class MessageReport:
    queue: str
    message_id: str
    outcome: Outcome
    image_uris: list[str] = field(default_factory=list)
    detail: str = ""
    deleted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "message_id": self.message_id,
            "outcome": self.outcome.value,
            "image_uris": self.image_uris,
            "detail": self.detail,
            "deleted": self.deleted,
        }


@dataclass
class RedriveReport:
    source: str
    dry_run: bool
    messages: list[MessageReport] = field(default_factory=list)
    interrupted: bool = False

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for message in self.messages:
            counts[message.outcome.value] = counts.get(message.outcome.value, 0) + 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "interrupted": self.interrupted,
            "counts": self.counts(),
            "messages": [m.as_dict() for m in self.messages],
        }


# Called as each message goes: "replayed" once its replay is sent (before the delete), "done"
# when it is finished with (deleted, or left in the queue).
Progress = Callable[[MessageReport, str], None]


def redrive_token(body: str, index: int) -> str:
    """The same message (and record in it) always gets the same token."""
    return "redrive-" + hashlib.sha256(f"{body}\x1f{index}".encode()).hexdigest()[:40]


class Redrive:
    def __init__(
        self,
        ops: Operations,
        source: str,
        *,
        dry_run: bool = False,
        max_messages: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        if source not in SOURCES:
            raise OperationError(f"unknown source {source!r}: one of {', '.join(SOURCES)}")
        self.ops = ops
        self.source = source
        self.dry_run = dry_run
        self.max_messages = max_messages
        self._progress = progress or (lambda _report, _stage: None)
        self._sqs = ops.aws.client("sqs")

    def queues(self) -> list[tuple[str, str, str]]:
        """(label, url, kind) of each queue to read."""
        wanted = (
            [("dead-letter queue", "DeadLetterQueueUrl", "dead-letters")]
            if self.source == "dead-letters"
            else [
                ("failure queue", "FailureQueueUrl", "failures"),
                ("parking queue", "ParkingQueueUrl", "parking"),
            ]
        )
        return [
            (label, url, kind) for label, output, kind in wanted if (url := self.ops.stack.queue_url(output))
        ]

    def waiting(self) -> int:
        """Messages in the source queues now (SQS's approximate count)."""
        total = 0
        for _label, url, _kind in self.queues():
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            total += int(attributes.get("ApproximateNumberOfMessages", 0))
        return total

    def run(self) -> RedriveReport:
        report = RedriveReport(self.source, self.dry_run)
        try:
            for label, url, kind in self.queues():
                self._drain(report, label, url, kind)
        except KeyboardInterrupt:
            report.interrupted = True
            raise
        return report

    def _drain(self, report: RedriveReport, label: str, url: str, kind: str) -> None:
        held: dict[str, Mapping[str, Any]] = {}  # received, not deleted: handed back at the end
        try:
            while self.max_messages is None or len(report.messages) < self.max_messages:
                room = 10 if self.max_messages is None else min(10, self.max_messages - len(report.messages))
                batch = self._sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=room,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                    VisibilityTimeout=RECEIVE_VISIBILITY_SECONDS,
                ).get("Messages", [])
                fresh = [m for m in batch if m["MessageId"] not in held]
                held.update({m["MessageId"]: m for m in batch})
                if not fresh:
                    break
                for message in fresh:
                    if self.max_messages is not None and len(report.messages) >= self.max_messages:
                        break
                    entry = self._one(label, url, kind, message)
                    report.messages.append(entry)
                    if entry.deleted:
                        held.pop(message["MessageId"], None)
                    self._progress(entry, "done")
        finally:
            # Interrupted or done: whatever was received and not deleted is visible again now.
            hand_back(self._sqs, url, held.values())

    def _one(self, label: str, url: str, kind: str, message: Mapping[str, Any]) -> MessageReport:
        message_id = str(message["MessageId"])
        entry = MessageReport(label, message_id, Outcome.NOTHING_TO_REPLAY)
        try:
            body = json.loads(message.get("Body") or "")
        except ValueError:
            body = None
        uploads: list[tuple[int, Upload, Mapping[str, Any]]] = []
        ignored: list[str] = []
        for index, record in enumerate(records_of(body, kind)):
            parsed = parse_record(record)
            if isinstance(parsed, Ignored):
                ignored.append(parsed.reason)
            else:
                uploads.append((index, parsed, record))
        entry.image_uris = [u.image_uri for _, u, _ in uploads]
        if not uploads:
            entry.detail = ", ".join(ignored) or "no S3 record in the message"
            if self.dry_run:
                entry.outcome = Outcome.WOULD_DELETE
            else:
                self._delete(url, message, entry)
            return entry

        outcomes = [
            self._replay(upload, record, redrive_token(str(message.get("Body")), index))
            for index, upload, record in uploads
        ]
        left = [o for o in outcomes if o in LEFT_IN_QUEUE]
        if left:
            entry.outcome = left[0]
        elif self.dry_run:
            entry.outcome = (
                Outcome.WOULD_REPLAY if Outcome.WOULD_REPLAY in outcomes else Outcome.ALREADY_REPLAYED
            )
        else:
            entry.outcome = Outcome.REPLAYED if Outcome.REPLAYED in outcomes else Outcome.ALREADY_REPLAYED
        entry.detail = {
            Outcome.SUPERSEDED: "the table holds another version of this key now",
            Outcome.BUSY: "an invocation is processing it now: run again later",
            Outcome.NOT_SENT: "the replay could not be sent: run again",
        }.get(entry.outcome, ", ".join(o.value for o in outcomes) if len(outcomes) > 1 else "")
        if not left and not self.dry_run:
            self._progress(entry, "replayed")
            self._delete(url, message, entry)
        return entry

    def _delete(self, url: str, message: Mapping[str, Any], entry: MessageReport) -> None:
        self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        entry.deleted = True

    def _replay(self, upload: Upload, record: Mapping[str, Any], token: str) -> Outcome:
        if self.dry_run:
            item = self.ops.item(upload.image_uri)
            if item and item.get("identity") != upload.identity:
                return Outcome.SUPERSEDED
            if item and token in (item.get("reprocess_tokens_used") or []):
                return Outcome.ALREADY_REPLAYED
            return Outcome.WOULD_REPLAY
        written = self.ops.results.request_reprocess(upload.image_uri, upload.identity, token)
        if written is ReprocessRequest.ALREADY_SPENT:
            return Outcome.ALREADY_REPLAYED
        if written is ReprocessRequest.BUSY:
            return Outcome.BUSY
        if written is ReprocessRequest.OTHER_VERSION:
            return Outcome.SUPERSEDED
        # WRITTEN, or NO_ITEM (expired): the replay claims anew and spends the token there.
        try:
            self.ops.replay(record, token)
        except Exception:  # an AWS error: the message stays, a later run sends it (same token)
            return Outcome.NOT_SENT
        return Outcome.REPLAYED
