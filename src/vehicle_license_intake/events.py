"""S3 notifications (SPEC §6): which records are uploads to process, and which are ignored."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

# S3 compares sequencers as hex strings after right-padding the shorter one with zeros.
# Stored padded to this width, DynamoDB can compare them in a condition expression.
SEQUENCER_WIDTH = 64


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
    try:
        if record.get("eventSource") != "aws:s3":
            return Ignored("not_s3", str(record.get("eventSource")))
        event_name = str(record["eventName"])
        if not event_name.startswith("ObjectCreated:"):
            return Ignored("not_object_created", event_name)
        bucket = str(record["s3"]["bucket"]["name"])
        s3_object = record["s3"]["object"]
        key = unquote_plus(str(s3_object["key"]), encoding="utf-8", errors="strict")
        size = int(s3_object.get("size", 0))
        etag = str(s3_object.get("eTag", ""))
        event_time = str(record.get("eventTime", ""))
        version_id = s3_object.get("versionId") or None
        sequencer = s3_object.get("sequencer") or None
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        return Ignored("unknown_record_shape", type(error).__name__)
    if not bucket or not key:
        return Ignored("unknown_record_shape", "empty bucket or key")
    if key.endswith("/") and size == 0:
        return Ignored("folder_marker")
    return Upload(
        bucket=bucket,
        key=key,
        size=size,
        etag=etag,
        event_time=event_time,
        event_name=event_name,
        version_id=str(version_id) if version_id else None,
        sequencer=str(sequencer) if sequencer else None,
        record=record,
    )
