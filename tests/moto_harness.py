"""What the tests add to moto, and only the tests: DynamoDB requests applied atomically, and the
template deployed once per worker process and handed to each test clean."""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from vehicle_license_tools import aws, stack

STACK_NAME = "vli-test"
# The shared stack is deployed before any test's emulator exists: its function is pointed at
# a port nothing listens on, and each test points it at its own emulator (Intake.configure).
UNREACHABLE_UPSTREAM = "http://127.0.0.1:9/api/ocr-vehicle-license"


@contextmanager
def atomic_dynamodb_requests() -> Iterator[None]:
    """DynamoDB applies each request atomically: a conditional write sees the item as the last
    completed write left it. Moto answers requests from several threads (a test's concurrent
    deliveries, the threaded server of the demo) without a lock, so two `attribute_not_exists`
    puts can both succeed. Here each DynamoDB request, from reading the item to writing it, runs
    under one lock."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    lock = threading.RLock()

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]


class EmulatedAccount:
    """Moto's in-process AWS for one worker process, with the template deployed once.

    Between tests moto is switched off but keeps its state; a test switches it on and gets the
    stack back as deployed: no items, no messages, no objects, the test key in the secret. A
    test that resets moto (a plain `mock_aws()`, the demo's server) removes the stack with
    everything else: the next test finds it gone and deploys it again.
    """

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self._stack: stack.LocalStack | None = None
        self._stack_id = ""
        self._session: boto3.session.Session | None = None

    @property
    def session(self) -> boto3.session.Session:
        """One SDK session for every test of the process: a new one loads every service model
        again (a third of a second for DynamoDB's resource alone)."""
        if self._session is None:
            self._session = aws.session()
        return self._session

    @contextmanager
    def shared_stack(self) -> Iterator[tuple[boto3.session.Session, stack.LocalStack]]:
        with _switched_on():
            if self._stack is not None and self._still_deployed():
                self._clean(self._stack)
            else:
                from moto.core.base_backend import BackendDict

                BackendDict.reset()  # whatever is left: the stack's names must be free
                self._stack = stack.deploy_with_upstream(
                    self.session,
                    stack_name=STACK_NAME,
                    upstream_url=UNREACHABLE_UPSTREAM,
                    api_key=self.api_key,
                )
                self._stack_id = _stack_id(self.session, STACK_NAME)
            yield self.session, self._stack

    @contextmanager
    def beside_the_stack(self) -> Iterator[boto3.session.Session]:
        """Moto switched on without emptying it, for a test that creates resources of its own
        (and deletes them): the shared stack survives it."""
        with _switched_on():
            yield self.session

    @contextmanager
    def own_stack(self, upstream_url: str) -> Iterator[tuple[boto3.session.Session, stack.LocalStack]]:
        """A deployment of its own, in an emptied moto, for a test that breaks its stack."""
        self._stack = None
        with mock_aws():
            yield (
                self.session,
                stack.deploy_with_upstream(
                    self.session, stack_name=STACK_NAME, upstream_url=upstream_url, api_key=self.api_key
                ),
            )

    def _still_deployed(self) -> bool:
        """Whether moto still holds the shared stack (a reset removes it)."""
        try:
            return _stack_id(self.session, STACK_NAME) == self._stack_id
        except ClientError:  # no such stack
            return False

    def _clean(self, deployed: stack.LocalStack) -> None:
        """The state the tests leave behind: items, messages, objects, the secret's value, the
        reviewers' accounts."""
        session = self.session
        kinds = {name: resource["Type"] for name, resource in deployed.template["Resources"].items()}
        dynamodb = session.resource("dynamodb")
        for logical_id, kind in kinds.items():
            if kind == "AWS::DynamoDB::Table":
                _empty_table(dynamodb.Table(deployed.physical_ids[logical_id]))
        sqs = session.client("sqs")
        for logical_id, kind in kinds.items():
            if kind == "AWS::SQS::Queue":
                _purge(sqs, deployed.physical_ids[logical_id])
        _empty_bucket(session.client("s3"), deployed.bucket)
        if "ReviewerPoolId" in deployed.outputs:  # the reviewers a test added (stack.add_reviewer)
            _remove_users(session.client("cognito-idp"), deployed.user_pool_id)
        session.client("secretsmanager").put_secret_value(
            SecretId=deployed.secret_id, SecretString=json.dumps({"api_key": self.api_key})
        )


@contextmanager
def _switched_on() -> Iterator[None]:
    """mock_aws on for the block, and off again, without emptying moto either way."""
    from moto.core.custom_responses_mock import reset_responses_mock
    from moto.core.models import responses_mock

    # Each start registers moto's URL patterns with its `responses` mock again: without this
    # reset they would pile up, test after test.
    reset_responses_mock(responses_mock)
    mock = mock_aws()
    mock.start(reset=False)
    try:
        yield
    finally:
        mock.stop(remove_data=False)


def _stack_id(session: boto3.session.Session, name: str) -> str:
    return str(session.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackId"])


def _empty_table(table: Any) -> None:
    keys = [entry["AttributeName"] for entry in table.key_schema]
    names = {f"#k{i}": key for i, key in enumerate(keys)}
    scan: dict[str, Any] = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
    while True:
        page = table.scan(**scan)
        with table.batch_writer() as batch:
            for item in page["Items"]:
                batch.delete_item(Key={key: item[key] for key in keys})
        if "LastEvaluatedKey" not in page:
            return
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _remove_users(cognito: Any, user_pool_id: str) -> None:
    for page in cognito.get_paginator("list_users").paginate(UserPoolId=user_pool_id):
        for user in page["Users"]:
            cognito.admin_delete_user(UserPoolId=user_pool_id, Username=user["Username"])


def _purge(sqs: Any, queue_url: str) -> None:
    """Every message, in flight or not. AWS allows one purge a minute; moto only when told not
    to enforce it, a setting it reads on each call."""
    setting = "MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"
    saved = os.environ.get(setting)
    os.environ[setting] = "false"
    try:
        sqs.purge_queue(QueueUrl=queue_url)
    finally:
        if saved is None:
            os.environ.pop(setting, None)
        else:
            os.environ[setting] = saved


def _empty_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        if versions:
            s3.delete_objects(
                Bucket=bucket,
                Delete={
                    "Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions],
                    "Quiet": True,
                },
            )
