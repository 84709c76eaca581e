"""The template deployed into a moto *server* on 127.0.0.1, for the operations CLI's tests: the CLI
reaches it by `--endpoint-url`, as an operator reaches a local stack, and the function runs
in-process, fed by the intake queue as Lambda's event source mapping would feed it."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from conftest import API_KEY, LICENSE, jpeg
from moto_harness import _empty_bucket, _empty_table, _purge
from vehicle_license_intake import handler
from vehicle_license_intake.results import plain
from vehicle_license_tools import aws, cli, stack
from vehicle_license_tools.delivery import BatchResult, QueueConsumer
from vehicle_license_tools.emulator import GroundTruthRecognizer, UpstreamEmulator

STACK_NAME = "vli-ops"


@dataclass
class CliRun:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class LiveStack:
    endpoint: str
    session: boto3.session.Session
    stack: stack.LocalStack
    upstream: UpstreamEmulator
    recognizer: GroundTruthRecognizer

    def cli(self, *args: str) -> CliRun:
        """`vehicle-license-intake --endpoint-url ... --stack ... ARGS`, in this process."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["--endpoint-url", self.endpoint, "--stack", self.stack.name, *args])
        return CliRun(code, out.getvalue(), err.getvalue())

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)

    def consumer(self) -> QueueConsumer:
        return QueueConsumer.for_stack(self.stack, self.client("sqs"), handler.lambda_handler)

    def drain(self) -> list[BatchResult]:
        """The function takes every message of the intake queue (S3's notifications, replays)."""
        return self.consumer().drain()

    def put(self, key: str, body: bytes) -> dict[str, Any]:
        """Upload under the prefix: S3 (moto) notifies the intake queue."""
        response: dict[str, Any] = self.client("s3").put_object(
            Bucket=self.stack.bucket, Key=f"{self.stack.upload_prefix}{key}", Body=body
        )
        return response

    def recognizable(self, label: str, **fields: str) -> bytes:
        body = jpeg(label)
        self.recognizer.add(body, {**LICENSE, **fields})
        return body

    def item(self, key: str) -> dict[str, Any] | None:
        table = self.session.resource("dynamodb", endpoint_url=self.endpoint).Table(self.stack.table)
        uri = f"s3://{self.stack.bucket}/{self.stack.upload_prefix}{key}"
        found = table.get_item(Key={"image_uri": uri}, ConsistentRead=True).get("Item")
        return plain(found) if found else None

    def uri(self, key: str) -> str:
        return f"s3://{self.stack.bucket}/{self.stack.upload_prefix}{key}"

    def queue_size(self, url: str) -> int:
        """Messages in the queue, visible or in flight."""
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def clean(self) -> None:
        resources = self.stack.template["Resources"]
        dynamodb = self.session.resource("dynamodb", endpoint_url=self.endpoint)
        sqs = self.client("sqs")
        for logical_id, resource in resources.items():
            physical = self.stack.physical_ids.get(logical_id)
            if resource["Type"] == "AWS::DynamoDB::Table" and physical:
                _empty_table(dynamodb.Table(physical))
            if resource["Type"] == "AWS::SQS::Queue" and physical:
                _purge(sqs, physical)
        _empty_bucket(self.client("s3"), self.stack.bucket)


@contextlib.contextmanager
def live_stack() -> Iterator[LiveStack]:
    recognizer = GroundTruthRecognizer()
    with aws.emulated_aws() as endpoint, UpstreamEmulator(recognizer, [API_KEY]) as upstream:
        session = aws.session()
        deployed = stack.deploy_with_upstream(
            session, stack_name=STACK_NAME, upstream_url=upstream.url, api_key=API_KEY
        )
        yield LiveStack(endpoint, session, deployed, upstream, recognizer)


def use_stack(live: LiveStack, monkeypatch: pytest.MonkeyPatch) -> LiveStack:
    """Clean stack; this process plays the function (its environment, the emulated AWS)."""
    live.clean()
    for name, value in live.stack.function_environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", live.endpoint)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    handler.reset()
    return live
