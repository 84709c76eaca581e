"""S3 event notifications as S3 produces them, delivered to the real handler in-process.

Moto keeps the bucket's notification configuration but cannot run a Lambda function without
Docker; this module plays the part of S3's notifier: it honours the bucket's configuration
(event type, prefix and suffix filters) and invokes the handler with the record S3 would send:
URL-encoded key, size, eTag, versionId and a sequencer that grows with every event.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

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
