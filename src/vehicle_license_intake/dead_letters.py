"""The dead-letter queue (SPEC §5): unrecognisable and rejected uploads, for a human or a redrive."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vehicle_license_intake.events import Upload
from vehicle_license_intake.outcomes import PendingOutcome


def dead_letter_message(upload: Upload, outcome: PendingOutcome) -> dict[str, Any]:
    return {
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


class DeadLetterQueue:
    """The SQS adapter of the DeadLetterSink port (ports.py)."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self.queue_url = queue_url

    def send(self, message: Mapping[str, Any]) -> str:
        response = self._sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(message, ensure_ascii=False, default=str),
            MessageAttributes={
                "error_code": {"DataType": "String", "StringValue": str(message["error"]["code"])}
            },
        )
        return str(response["MessageId"])
