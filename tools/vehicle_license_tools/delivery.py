"""S3 event notifications as S3 produces them, delivered to the real handler in-process.

Moto keeps the bucket's notification configuration but cannot run a Lambda function without
Docker; this module plays the part of S3's notifier: it honours the bucket's configuration
(event type, prefix and suffix filters) and invokes the handler with the record S3 would send:
URL-encoded key, size, eTag, versionId and a sequencer that grows with every event.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

if TYPE_CHECKING:
    from vehicle_license_tools.stack import LocalStack

DEFAULT_TIMEOUT_SECONDS = 150


@dataclass
class LocalContext:
    """What Lambda passes as `context`, for invoking the handler in-process.

    A Lambda retry of an asynchronous invocation keeps its request id; so does `retry()`.
    """

    function_name: str = "vli-local-intake"
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/vli-local-intake"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))

    def retry(self) -> LocalContext:
        return LocalContext(self.function_name, self.timeout_seconds, self.aws_request_id)


_sequence = itertools.count(1)


def next_sequencer() -> str:
    """Hex, growing with every call in this process, like S3's per-key sequencers."""
    return f"{time.time_ns():016X}{next(_sequence) % 256:02X}"


def s3_record(
    bucket: str,
    key: str,
    *,
    size: int,
    etag: str,
    version_id: str | None,
    sequencer: str | None = None,
    event_name: str = "ObjectCreated:Put",
    region: str = "us-east-1",
) -> dict[str, Any]:
    """One record of an S3 notification, as S3 writes it (key URL-encoded, `+` for spaces)."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    s3_object: dict[str, Any] = {
        "key": quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag.strip('"'),
        "sequencer": sequencer or next_sequencer(),
    }
    if version_id:
        s3_object["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": now,
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDALOCALDEMO"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
            "x-amz-id-2": uuid.uuid4().hex,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "IntakeFunctionUpload",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "LOCALDEMO"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": s3_object,
        },
    }


def s3_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


@dataclass
class Delivery:
    key: str
    event: dict[str, Any]
    context: LocalContext
    result: Any = None
    error: BaseException | None = None


class S3Notifier:
    """Uploads to the bucket and delivers the notifications its configuration asks for."""

    def __init__(self, s3_client: Any, bucket: str, handler: Callable[[dict[str, Any], Any], Any]) -> None:
        self._s3 = s3_client
        self.bucket = bucket
        self._handler = handler
        configuration = s3_client.get_bucket_notification_configuration(Bucket=bucket)
        self._targets = configuration.get("LambdaFunctionConfigurations", [])

    def wants(self, key: str, event_name: str = "ObjectCreated:Put") -> bool:
        for target in self._targets:
            kinds = target.get("Events", [])
            if not any(_event_matches(kind, event_name) for kind in kinds):
                continue
            rules = {
                r["Name"].lower(): r["Value"]
                for r in target.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            }
            if key.startswith(rules.get("prefix", "")) and key.endswith(rules.get("suffix", "")):
                return True
        return False

    def upload(self, key: str, body: bytes) -> Delivery | None:
        """Put the object; when the bucket's configuration asks for it, deliver its event."""
        response = self._s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        if not self.wants(key):
            return None
        record = s3_record(
            self.bucket, key, size=len(body), etag=response["ETag"], version_id=response.get("VersionId")
        )
        return self.deliver(Delivery(key, s3_event(record), LocalContext()))

    def deliver(self, delivery: Delivery) -> Delivery:
        try:
            delivery.result, delivery.error = self._handler(delivery.event, delivery.context), None
        except Exception as error:  # what Lambda would record as a failed invocation
            delivery.error = error
        return delivery


def _event_matches(pattern: str, event_name: str) -> bool:
    pattern = pattern.removeprefix("s3:")
    return pattern == event_name or (pattern.endswith("*") and event_name.startswith(pattern[:-1]))


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """The event Lambda's SQS event source mapping hands the function for these messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": message.get("Attributes", {}).get(
                        "ApproximateReceiveCount", "1"
                    ),
                    "SentTimestamp": message.get("Attributes", {}).get("SentTimestamp", "0"),
                    "SenderId": "AIDALOCAL",
                    "ApproximateFirstReceiveTimestamp": message.get("Attributes", {}).get(
                        "ApproximateFirstReceiveTimestamp", "0"
                    ),
                },
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


@dataclass
class BatchResult:
    messages: int
    deleted: int
    failures: int
    error: BaseException | None = None
    result: Any = None
    bodies: list[str] = field(default_factory=list)  # the messages' bodies, as delivered


class QueueConsumer:
    """Plays Lambda's SQS event source mapping for a queue (the intake queue, the vehicle events
    queue): receives a batch, invokes the handler with it, and deletes the messages the handler
    did not report as failures (all of them stay when the invocation raised). Failed messages
    come back when their visibility timeout ends, as in AWS. Moto cannot run the mapping itself
    without Docker."""

    def __init__(
        self,
        sqs_client: Any,
        queue_url: str,
        handler: Callable[[dict[str, Any], Any], Any],
        *,
        batch_size: int = 5,
        visibility_timeout: int | None = None,
    ) -> None:
        self._sqs = sqs_client
        self.queue_url = queue_url
        self._handler = handler
        self._batch_size = batch_size
        self._visibility = visibility_timeout
        attributes = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]

    def poll_once(self, wait_seconds: int = 0) -> BatchResult | None:
        """One batch, if any message is visible: what became of it."""
        extra = {"VisibilityTimeout": self._visibility} if self._visibility is not None else {}
        messages = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            **extra,
        ).get("Messages", [])
        if not messages:
            return None
        bodies = [str(m["Body"]) for m in messages]
        try:
            result = self._handler(sqs_event(messages, self.queue_arn), LocalContext())
        except Exception as error:  # the whole batch comes back
            return BatchResult(len(messages), 0, len(messages), error=error, bodies=bodies)
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        return BatchResult(len(messages), len(done), len(failed), result=result, bodies=bodies)

    def drain(self, max_batches: int = 1000) -> list[BatchResult]:
        """Every batch visible now, until the queue answers none."""
        results: list[BatchResult] = []
        for _ in range(max_batches):
            batch = self.poll_once()
            if batch is None:
                break
            results.append(batch)
        return results

    @classmethod
    def for_stack(
        cls, deployed: LocalStack, sqs_client: Any, handler: Callable[[dict[str, Any], Any], Any]
    ) -> QueueConsumer:
        """The consumer of a deployed stack's intake queue, configured as its event source mapping."""
        if deployed.intake_queue_url is None:
            raise ValueError(f"stack {deployed.name} has no intake queue (IntakePath=direct)")
        batch_size = int((deployed.event_source or {}).get("batch_size", 5))
        return cls(sqs_client, deployed.intake_queue_url, handler, batch_size=batch_size)

    @classmethod
    def for_vehicle_events(
        cls, deployed: LocalStack, sqs_client: Any, handler: Callable[[dict[str, Any], Any], Any]
    ) -> QueueConsumer:
        """The consumer of a deployed stack's vehicle events queue (the records function's),
        configured as its event source mapping."""
        batch_size = int((deployed.records_event_source or {}).get("batch_size", 10))
        return cls(sqs_client, deployed.vehicle_events_queue_url, handler, batch_size=batch_size)


class LiveIntake:
    """The intake queue read continuously in a background thread, as Lambda does in AWS: any
    upload to the bucket, made with any S3 client, is processed while it runs."""

    def __init__(
        self, consumer: QueueConsumer, on_batch: Callable[[BatchResult], None] | None = None
    ) -> None:
        self._consumer = consumer
        self._on_batch = on_batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-intake", daemon=True)

    def __enter__(self) -> LiveIntake:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._consumer.poll_once(wait_seconds=1)
            except Exception:  # the emulated AWS is going away: stop quietly
                if self._stop.wait(1):
                    return
                continue
            if batch is not None and self._on_batch is not None:
                self._on_batch(batch)
