"""An emulated AWS on 127.0.0.1: moto's server in a thread, and the environment that points the
SDK at it (AWS_ENDPOINT_URL, throwaway credentials). Nothing here reaches a real AWS account."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def quiet_emulator_logs() -> None:
    """Moto warns about resource types its CloudFormation lacks (filled by stack.fill_gaps) and
    tries Docker for S3->Lambda notifications (delivered by local.delivery instead)."""
    warnings.filterwarnings("ignore", module=r"moto\..*")
    warnings.filterwarnings("ignore", message=r".*not supported by moto.*")
    for name in ("moto", "werkzeug", "docker", "urllib3", "samtranslator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    from moto import settings

    with contextlib.redirect_stdout(io.StringIO()):  # moto probes Docker once, printing its failure
        settings.moto_server_host()
    s3_notifications_as_s3_writes_them()


def s3_notifications_as_s3_writes_them() -> None:
    """Moto's S3 -> SQS notifications lack what S3 puts in every record and the function relies
    on (SPEC §6): the object's versionId (in a versioned bucket) and a sequencer that orders the
    events of a key. Add both, so the local intake queue receives what AWS would send."""
    from moto.s3 import notifications

    from vehicle_license_tools.delivery import next_sequencer

    original = getattr(notifications, "_vli_original_get_s3_event", notifications._get_s3_event)
    if original is not notifications._get_s3_event:
        return  # already applied in this process

    def get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event: dict[str, Any] = original(event_name, bucket, key, notification_id)
        s3_object = event["Records"][0]["s3"]["object"]
        version_id = getattr(key, "version_id", None)
        if version_id and version_id != "null":
            s3_object["versionId"] = version_id
        s3_object["sequencer"] = next_sequencer()
        return event

    notifications._vli_original_get_s3_event = original  # type: ignore[attr-defined]
    notifications._get_s3_event = get_s3_event


@contextmanager
def emulated_aws(port: int = 0) -> Iterator[str]:
    """Serve moto on 127.0.0.1 and point this process's SDK at it; yields the endpoint URL."""
    from moto.server import ThreadedMotoServer

    quiet_emulator_logs()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    endpoint = f"http://{host}:{bound_port}"
    # Moto's state lives in this process: start from an empty account every time.
    _post(endpoint, "/moto-api/reset", {})
    # S3 -> Lambda notifications are delivered by local.delivery; moto must not try Docker.
    _post(endpoint, "/moto-api/config", {"lambda": {"use_docker": False}, "batch": {"use_docker": False}})
    saved = {name: os.environ.get(name) for name in (*FAKE_CREDENTIALS, "AWS_ENDPOINT_URL")}
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    try:
        yield endpoint
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _post(endpoint, "/moto-api/reset", {})
        server.stop()


def _post(endpoint: str, path: str, document: dict[str, object]) -> None:
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        f"{endpoint}{path}",
        data=json.dumps(document).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - our own loopback server
        pass


def session() -> boto3.session.Session:
    return boto3.session.Session(region_name=os.environ.get("AWS_DEFAULT_REGION", REGION))


def read_queue(
    sqs: Any, queue_url: str, *, visibility_timeout: int = 60, delete: bool = False
) -> list[dict[str, Any]]:
    """Every message now in the queue (body parsed as JSON, message attributes), in batches of
    ten until the queue answers none. The messages stay in the queue, hidden for
    `visibility_timeout` seconds, so each is read once; with `delete`, they are removed."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=visibility_timeout,
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(
            {"body": json.loads(m["Body"]), "attributes": m.get("MessageAttributes", {})} for m in batch
        )
        if delete:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
