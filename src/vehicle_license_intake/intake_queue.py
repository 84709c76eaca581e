"""The intake queue (SPEC §9): S3 notifications wait here for the function, and a message whose
upload must wait (DEFERRED, or FAILED and retried) is held back by its visibility timeout."""

from __future__ import annotations

from typing import Any

from vehicle_license_intake.events import IntakeMessage


class SqsIntakeQueue:
    """The SQS adapter of the IntakeQueue port (ports.py)."""

    def __init__(self, sqs_client: Any) -> None:
        self._sqs = sqs_client
        self._urls: dict[str, str] = {}

    def delay(self, message: IntakeMessage, seconds: int) -> None:
        self._sqs.change_message_visibility(
            QueueUrl=self._url(message.queue_arn),
            ReceiptHandle=message.receipt_handle,
            VisibilityTimeout=seconds,
        )

    def _url(self, queue_arn: str) -> str:
        """arn:aws:sqs:region:account:name -> the queue's URL (looked up once per queue)."""
        if queue_arn not in self._urls:
            *_, account, name = queue_arn.split(":")
            response = self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
            self._urls[queue_arn] = str(response["QueueUrl"])
        return self._urls[queue_arn]
