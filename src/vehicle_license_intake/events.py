"""S3 notifications (SPEC §6): which records are uploads to process, and which are ignored.

They arrive in one of two shapes (SPEC §9): a direct S3 event, or a batch of SQS messages from
the intake queue, each message's body an S3 event (or S3's test event).

A record is an upload only when every value the function uses has the type and the bounds S3
gives it (a key is a string of at most 1,024 UTF-8 bytes, a size a whole number...); anything else
is an unknown shape, ignored with a log line: never `s3://bucket/None`, never a value that could
not be stored in the results table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

# S3 compares sequencers as hex strings after right-padding the shorter one with zeros.
# Stored padded to this width, DynamoDB can compare them in a condition expression.
SEQUENCER_WIDTH = 64
MAX_KEY_BYTES = 1024  # S3's limit on an object key
MAX_OBJECT_BYTES = 10**15  # beyond any S3 object
MAX_ATTRIBUTE_CHARS = 1024  # eTag, versionId, eventTime, eventName: short strings in S3's events
MAX_DETAIL_CHARS = 64  # of a value quoted in the "record ignored" log line
# Bucket names: 3 to 63 characters today; up to 255 with capitals and underscores for legacy ones.
_BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]")
_SEQUENCER = re.compile(rf"[0-9A-Fa-f]{{1,{SEQUENCER_WIDTH}}}")
# A replay that asks for a new attempt of a version already final (the operations CLI's redrive
# and reprocess) carries this field in its record, beside S3's own; the token it holds must be the
# one written onto the item (results.ResultsTable.claim_upload).
REPROCESS_TOKEN_FIELD = "vliReprocessToken"  # noqa: S105 - a field name, not a secret
_REPROCESS_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,128}")


@dataclass(frozen=True)
class Upload:
    """One object version that S3 says was created."""

    bucket: str
    key: str
    size: int
    etag: str
    event_time: str
    event_name: str
    version_id: str | None
    sequencer: str | None
    record: Mapping[str, Any]
    # Set on a replay asked for on purpose (REPROCESS_TOKEN_FIELD): it may retake a final item.
    reprocess_token: str | None = None

    @property
    def image_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def sequencer_order(self) -> str | None:
        """The sequencer in a form whose string order is S3's event order."""
        if not self.sequencer:
            return None
        return self.sequencer.upper().ljust(SEQUENCER_WIDTH, "0")

    @property
    def identity(self) -> str:
        """What makes two deliveries the same object version (SPEC §6 duplicates)."""
        if self.sequencer_order:  # two sequencers equal after padding name the same event
            return f"seq:{self.sequencer_order.rstrip('0')}"
        return f"ver:{self.version_id or ''}:etag:{self.etag}"


@dataclass(frozen=True)
class Ignored:
    """A record that is not an upload to process, and why."""

    reason: str
    detail: str = ""


@dataclass(frozen=True)
class IntakeMessage:
    """One message of an intake-queue batch and the records its S3 event holds."""

    message_id: str
    receipt_handle: str
    queue_arn: str
    receive_count: int
    items: tuple[Upload | Ignored, ...]


def is_queue_batch(event: Any) -> bool:
    """An SQS event source mapping's event: records whose source is aws:sqs."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records)
    )


def intake_messages(event: Mapping[str, Any]) -> Iterator[IntakeMessage]:
    """Every message of the batch, each with the uploads (or ignored records) of its body."""
    for record in event["Records"]:
        attributes = record.get("attributes") if isinstance(record.get("attributes"), Mapping) else {}
        try:
            receive_count = int(attributes.get("ApproximateReceiveCount", 1))
        except (TypeError, ValueError):
            receive_count = 1
        try:
            body = json.loads(record.get("body") or "")
        except (TypeError, ValueError):
            body = None
        items = (
            tuple(uploads_in(body))
            if body is not None
            else (Ignored("unknown_event_shape", "body not JSON"),)
        )
        yield IntakeMessage(
            message_id=str(record.get("messageId", "")),
            receipt_handle=str(record.get("receiptHandle", "")),
            queue_arn=str(record.get("eventSourceARN", "")),
            receive_count=receive_count,
            items=items,
        )


def uploads_in(event: Any) -> Iterator[Upload | Ignored]:
    """Every record of the event, each on its own: an Upload or the reason it is ignored."""
    if not isinstance(event, Mapping):
        yield Ignored("unknown_event_shape", type(event).__name__)
        return
    if event.get("Event") == "s3:TestEvent":
        yield Ignored("s3_test_event")
        return
    records = event.get("Records")
    if not isinstance(records, list):
        yield Ignored("unknown_event_shape", "no Records list")
        return
    for record in records:
        yield parse_record(record)


def parse_record(record: Any) -> Upload | Ignored:
    if not isinstance(record, Mapping):
        return Ignored("unknown_record_shape", type(record).__name__)
    if record.get("eventSource") != "aws:s3":
        return Ignored("not_s3", _quoted(record.get("eventSource")))
    try:
        event_name = _string(record.get("eventName"))
        if not event_name.startswith("ObjectCreated:"):
            return Ignored("not_object_created", _quoted(event_name))
        s3 = _mapping(record.get("s3"))
        bucket = _string(_mapping(s3.get("bucket")).get("name"))
        s3_object = _mapping(s3.get("object"))
        key = unquote_plus(
            _string(s3_object.get("key"), MAX_KEY_BYTES * 3), encoding="utf-8", errors="strict"
        )
        size = _size(s3_object.get("size", 0))
        etag = _string(s3_object.get("eTag", ""))
        event_time = _string(record.get("eventTime", ""))
        version_id = _string(s3_object.get("versionId") or "") or None
        sequencer = _string(s3_object.get("sequencer") or "") or None
        reprocess_token = _string(record.get(REPROCESS_TOKEN_FIELD) or "") or None
    except (TypeError, ValueError) as error:  # UnicodeError is a ValueError
        return Ignored("unknown_record_shape", type(error).__name__)
    if not _BUCKET_NAME.fullmatch(bucket) or not key or len(key.encode("utf-8", "replace")) > MAX_KEY_BYTES:
        return Ignored("unknown_record_shape", "no bucket name or key as S3 writes them")
    if sequencer is not None and not _SEQUENCER.fullmatch(sequencer):
        return Ignored("unknown_record_shape", "a sequencer that is not hexadecimal")
    if reprocess_token is not None and not _REPROCESS_TOKEN.fullmatch(reprocess_token):
        return Ignored("unknown_record_shape", "a reprocess token that is not one")
    if key.endswith("/") and size == 0:
        return Ignored("folder_marker")
    return Upload(
        bucket=bucket,
        key=key,
        size=size,
        etag=etag,
        event_time=event_time,
        event_name=event_name,
        version_id=version_id,
        sequencer=sequencer,
        record=record,
        reprocess_token=reprocess_token,
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError("not an object")
    return value


def _string(value: Any, max_chars: int = MAX_ATTRIBUTE_CHARS) -> str:
    """A string S3 could have written: bounded, and valid Unicode (UnicodeEncodeError otherwise)."""
    if not isinstance(value, str):
        raise TypeError("not a string")
    if len(value) > max_chars:
        raise ValueError("longer than S3 writes it")
    value.encode("utf-8")  # a lone surrogate cannot be stored, sent or logged
    return value


def _size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_OBJECT_BYTES:
        raise ValueError("not an object size")
    return value


def _quoted(value: Any) -> str:
    """A value for the "record ignored" log line: short, and only if it is a plain string."""
    if not isinstance(value, str):
        return type(value).__name__
    return value[:MAX_DETAIL_CHARS].encode("utf-8", "replace").decode("utf-8")
