"""Shared fixtures: the template deployed into moto, the upstream emulator on 127.0.0.1, and an
`Intake` helper that uploads objects and delivers their S3 events to the real handler."""

from __future__ import annotations

import json
import os
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# The suite runs on two workers on two cores: one inference thread each (two each would spin
# against one another). Set before the recognizer is imported, and inherited by the servers the
# tests start.
os.environ.setdefault("RECOGNIZER_THREADS", "1")

import boto3
import jsonschema
import pytest
from hypothesis import settings

from moto_harness import EmulatedAccount, atomic_dynamodb_requests
from vehicle_license_intake import handler
from vehicle_license_intake.app import build_pipeline
from vehicle_license_intake.config import Settings
from vehicle_license_intake.observability import metrics
from vehicle_license_intake.pipeline import Pipeline, RecordsFailed
from vehicle_license_intake.results import plain
from vehicle_license_tools import aws, stack
from vehicle_license_tools.delivery import LocalContext, s3_event, s3_record, sqs_event
from vehicle_license_tools.emulator import GroundTruthRecognizer, UpstreamEmulator

# CI runs the property tests on a fixed set of examples (a red build must be reproducible);
# local runs explore new ones.
settings.register_profile("ci", derandomize=True, max_examples=300, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

API_KEY = "test-key-0123456789"
OWNER = "王测试"

LICENSE = {
    "plate_number": "沪A12345",
    "vehicle_type": "小型轿车",
    "owner": OWNER,
    "address": "上海市测试路1号",
    "use_character": "非营运",
    "model": "丰田CAMRY",
    "vin": "LSVWY4180KN246094",
    "engine_number": "4A123456",
    "register_date": "2020-06-01",
    "issue_date": "2020-06-05",
    "license_issuing_authority": "上海市公安局交通警察总队",
    "document_id": "310012345678",
    "approved_passengers_capacity": "5人",
    "total_mass": "1945",
    "curb_weight": "1495",
    "ratified_load_capacity": "",
    "gabarite": "4885x1840x1455",
    "traction_mass": "",
    "remarks": "",
    "inspection_record": "检验有效期至2099年06月沪A(01)",
}


def jpeg(label: str = "", size: int = 2048) -> bytes:
    """Bytes that sniff as JPEG and are unique per label (the emulator answers by digest)."""
    seed = (label or uuid.uuid4().hex).encode()
    body = (seed * (size // max(1, len(seed)) + 1))[: max(0, size - 4)]
    return b"\xff\xd8\xff\xe0" + body


def png(label: str = "") -> bytes:
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + (label or uuid.uuid4().hex).encode()


def bmp(label: str = "") -> bytes:
    return b"BM" + struct.pack("<I", 70) + b"\x00" * 8 + (label or uuid.uuid4().hex).encode()


@pytest.fixture(scope="session", autouse=True)
def _atomic_dynamodb() -> Iterator[None]:
    """Each emulated DynamoDB request is atomic, as in DynamoDB (moto_harness)."""
    with atomic_dynamodb_requests():
        yield


@pytest.fixture(scope="session")
def emulated_account() -> EmulatedAccount:
    """Moto with the template deployed, once per worker process (moto_harness)."""
    return EmulatedAccount(API_KEY)


@pytest.fixture(autouse=True)
def _offline_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in aws.FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "VehicleLicenseIntakeTests")
    aws.quiet_emulator_logs()
    handler.reset()
    metrics.clear_metrics()  # what a test's direct pipeline calls recorded is not the next test's


@pytest.fixture
def recognizer() -> GroundTruthRecognizer:
    return GroundTruthRecognizer()


@pytest.fixture
def upstream(recognizer: GroundTruthRecognizer) -> Iterator[UpstreamEmulator]:
    with UpstreamEmulator(recognizer, [API_KEY]) as emulator:
        yield emulator


@dataclass
class Intake:
    """The deployed stack, the emulator, and what a test does with them."""

    stack: stack.LocalStack
    upstream: UpstreamEmulator
    recognizer: GroundTruthRecognizer
    session: boto3.session.Session
    monkeypatch: pytest.MonkeyPatch
    # How S3 events reach the function (SPEC §9): "direct" S3 -> Lambda, or "queue": through the
    # intake queue and its event source mapping. Guarantee tests run on both.
    path: str = "direct"

    def configure(self, **overrides: str) -> None:
        """The function's environment from the template, with test overrides; fresh handler."""
        for name, value in {**self.stack.function_environment, **overrides}.items():
            self.monkeypatch.setenv(name, value)
        handler.reset()

    def pipeline(self) -> Pipeline:
        """A separate function instance (its own clients, cache and rate limiter)."""
        return build_pipeline(Settings.from_env())

    def put(self, key: str, body: bytes) -> dict[str, Any]:
        """Upload the object; the S3 record its notification would carry."""
        response = self.s3.put_object(Bucket=self.stack.bucket, Key=key, Body=body)
        return s3_record(
            self.stack.bucket,
            key,
            size=len(body),
            etag=response["ETag"],
            version_id=response.get("VersionId"),
        )

    def recognizable(self, body: bytes, **fields: str) -> bytes:
        self.recognizer.add(body, {**LICENSE, **fields})
        return body

    def invoke(self, *records: dict[str, Any], context: LocalContext | None = None) -> dict[str, Any]:
        """Deliver the records as the path does. On the queue path a failed message raises
        RecordsFailed here too (in AWS it comes back to the function later), so one test
        states the guarantee for both paths."""
        if self.path == "queue":
            return self._invoke_from_queue(records, context or LocalContext())
        return handler.lambda_handler(s3_event(*records), context or LocalContext())  # type: ignore[no-any-return]

    def _invoke_from_queue(
        self, records: tuple[dict[str, Any], ...], context: LocalContext
    ) -> dict[str, Any]:
        sqs, url = self.session.client("sqs"), self.stack.intake_queue_url
        assert url is not None, "the template's default path has an intake queue"
        while stale := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            # moto's own notifications of the test's puts: the test delivers its records itself
            sqs.delete_message_batch(QueueUrl=url, Entries=_entries(stale))
        for record in records:  # S3 sends one record per message
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(s3_event(record)))
        messages: list[dict[str, Any]] = []
        while len(messages) < len(records):
            messages.extend(
                sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
            )
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        result: dict[str, Any] = handler.lambda_handler(sqs_event(messages, arn), context)
        failed = {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:  # what Lambda deletes after the batch
            sqs.delete_message_batch(QueueUrl=url, Entries=_entries(done))
        if failed:
            raise RecordsFailed(
                f"{len(failed)} of {len(messages)} records failed; their messages come back later"
            )
        return {"outcomes": result["outcomes"]}

    def upload(self, key: str, body: bytes) -> dict[str, Any]:
        """Put and deliver; the record (for redeliveries)."""
        record = self.put(key, body)
        self.invoke(record)
        return record

    @property
    def s3(self) -> Any:
        return self.session.client("s3")

    def item(self, key: str) -> dict[str, Any] | None:
        table = self.session.resource("dynamodb").Table(self.stack.table)
        item = table.get_item(Key={"image_uri": f"s3://{self.stack.bucket}/{key}"}, ConsistentRead=True).get(
            "Item"
        )
        return plain(item) if item else None

    def dead_letters(self) -> list[dict[str, Any]]:
        """The messages in the dead-letter queue, taken out of it: a test (or a hypothesis
        example) never sees a message an earlier one read, however long it runs."""
        return aws.read_queue(self.session.client("sqs"), self.stack.dead_letter_queue_url, delete=True)

    def put_secret(self, secret_string: str) -> None:
        self.session.client("secretsmanager").put_secret_value(
            SecretId=self.stack.secret_id, SecretString=secret_string
        )


def _entries(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]


@pytest.fixture
def intake(
    request: pytest.FixtureRequest,
    emulated_account: EmulatedAccount,
    upstream: UpstreamEmulator,
    recognizer: GroundTruthRecognizer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Intake]:
    """The template deployed into moto, clean, its function pointed at this test's emulator.
    The deployment is shared by the tests of a worker process; a test marked `own_stack`
    (it breaks its stack on purpose) gets one of its own."""
    if request.node.get_closest_marker("own_stack"):
        deployment = emulated_account.own_stack(upstream.url)
    else:
        deployment = emulated_account.shared_stack()
    with deployment as (session, deployed):
        environment = {**deployed.function_environment, "OCR_ENDPOINT_URL": upstream.url}
        helper = Intake(
            replace(deployed, function_environment=environment),
            upstream,
            recognizer,
            session,
            monkeypatch,
            path=getattr(request, "param", "direct"),
        )
        helper.configure()
        yield helper
    handler.reset()


SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "events"


@pytest.fixture
def published(intake: Intake) -> Iterator[Any]:
    """The events put on the stack's bus, captured by a rule into a queue of the test's own."""
    session = intake.session
    sqs, events = session.client("sqs"), session.client("events")
    url = sqs.create_queue(QueueName="captured-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="capture",
        EventBusName=intake.stack.event_bus,
        EventPattern=json.dumps({"source": ["vehicle-license-intake"]}),
    )
    events.put_targets(Rule="capture", EventBusName=intake.stack.event_bus, Targets=[{"Id": "q", "Arn": arn}])

    def read() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            found.extend(json.loads(m["Body"]) for m in batch)
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        return found

    yield read
    events.remove_targets(Rule="capture", EventBusName=intake.stack.event_bus, Ids=["q"])
    events.delete_rule(Name="capture", EventBusName=intake.stack.event_bus)
    sqs.delete_queue(QueueUrl=url)


def valid_event(event: dict[str, Any]) -> dict[str, Any]:
    schema = json.loads((SCHEMAS / f"{event['detail-type'].lower().replace(' ', '-')}.json").read_text())
    jsonschema.validate(event["detail"], schema)
    return event
