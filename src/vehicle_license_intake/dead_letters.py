"""The dead-letter queue (SPEC §5): unrecognisable and rejected uploads, for a human or a redrive.

Every message can be sent: its body is JSON text without the characters SQS refuses (lone
surrogates, U+FFFE, U+FFFF are written as JSON escapes, the same string to a JSON reader), and
within SQS's size limit (an S3 record padded beyond it is replaced by the fields a redrive needs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from vehicle_license_intake.events import Upload
from vehicle_license_intake.outcomes import PendingOutcome

# SQS's limit on a message is 256 KiB (1 MiB in some regions since 2025): kept to the smaller.
MAX_MESSAGE_BYTES = 256 * 1024
# Characters SQS refuses in a message; in JSON text they occur only inside strings.
_UNSENDABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")


def dead_letter_message(upload: Upload, outcome: PendingOutcome) -> dict[str, Any]:
    message: dict[str, Any] = {
        "image_uri": upload.image_uri,
        "bucket": upload.bucket,
        "object_key": upload.key,
        "version_id": upload.version_id,
        "etag": upload.etag,
        "sequencer": upload.sequencer,
        "status": outcome.status.value,
        "error": outcome.error.as_item(),
        "request_id": outcome.request_id,
        "failed_at": outcome.failed_at,
        "s3_record": dict(upload.record),
    }
    if len(message_body(message).encode("utf-8")) > MAX_MESSAGE_BYTES:
        message["s3_record"] = replayable_record(upload)
        message["s3_record_reduced"] = True
    return message


def replayable_record(upload: Upload) -> dict[str, Any]:
    """What a redrive needs of the S3 record: the values the function reads, as S3 wrote them."""
    record, s3 = upload.record, upload.record["s3"]
    s3_object = {
        name: s3["object"][name]
        for name in ("key", "size", "eTag", "versionId", "sequencer")
        if name in s3["object"]
    }
    return {
        "eventVersion": record.get("eventVersion") if isinstance(record.get("eventVersion"), str) else "2.1",
        "eventSource": "aws:s3",
        "eventTime": upload.event_time,
        "eventName": upload.event_name,
        "s3": {"bucket": {"name": upload.bucket}, "object": s3_object},
    }


def message_body(message: Mapping[str, Any]) -> str:
    text = json.dumps(message, ensure_ascii=False, default=str)
    return _UNSENDABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


class DeadLetterQueue:
    """The SQS adapter of the DeadLetterSink port (ports.py)."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self.queue_url = queue_url

    def send(self, message: Mapping[str, Any]) -> str:
        response = self._sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message_body(message),
            MessageAttributes={
                "error_code": {"DataType": "String", "StringValue": str(message["error"]["code"])}
            },
        )
        return str(response["MessageId"])
