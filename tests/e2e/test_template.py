"""template.yaml as SAM would translate it: cfn-lint clean, and the function, policies, storage
and alarms SPEC asks for. The deployed stack's agreement with it is in
tests/integration/test_template_agreement.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vehicle_license_tools import stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def translated() -> dict[str, Any]:
    return stack.translate(stack.load_sam_template())


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_template_is_cfn_lint_clean() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_function_matches_spec_entry_point_runtime_and_limits(translated: dict[str, Any]) -> None:
    (function,) = resources_of(translated, "AWS::Lambda::Function").values()
    props = function["Properties"]
    assert props["Handler"] == "vehicle_license_intake.handler.lambda_handler"
    assert props["Runtime"] == "python3.13" and props["Architectures"] == ["arm64"]
    # The fleet shares one rate and quota through the control table (SPEC §9); reserved
    # concurrency is the event source mapping's maximum on the queue path, one instance direct.
    assert props["ReservedConcurrentExecutions"] == {"Fn::If": ["QueuePath", {"Ref": "MaxConcurrency"}, 1]}
    sam = stack.load_sam_template()
    defaults = {k: v.get("Default") for k, v in sam["Parameters"].items()}
    worst_case = (
        sam["Parameters"]["OcrMaxAttempts"]["MaxValue"] * sam["Parameters"]["OcrTimeoutSeconds"]["MaxValue"]
    )
    assert (
        props["Timeout"] > worst_case > int(defaults["OcrMaxAttempts"]) * int(defaults["OcrTimeoutSeconds"])
    )


def test_policies_name_their_resources_and_grant_only_what_the_code_calls(translated: dict[str, Any]) -> None:
    (role,) = resources_of(translated, "AWS::IAM::Role").values()
    statements = [
        s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]
    ]
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
        "secretsmanager:GetSecretValue",
        # SPEC §9: the intake queue (event source mapping, delays), the control table; §10: events
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ChangeMessageVisibility",
        "events:PutEvents",
    }
    for statement in statements:
        assert statement["Resource"] != "*" and "*" not in json.dumps(statement["Resource"]).replace(
            "/*", ""
        ).replace("}*", "")


def test_storage_is_encrypted_and_the_bucket_private_versioned_and_tls_only(
    translated: dict[str, Any],
) -> None:
    bucket = translated["Resources"]["UploadBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    policy = translated["Resources"]["UploadBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert policy["Effect"] == "Deny" and policy["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    table = translated["Resources"]["ResultsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST" and table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["KeySchema"] == [{"AttributeName": "image_uri", "KeyType": "HASH"}]
    for queue in resources_of(translated, "AWS::SQS::Queue").values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert queue["Properties"]["MessageRetentionPeriod"] == 1209600


def test_alarms_watch_the_queues_function_errors_the_breaker_and_the_quota(
    translated: dict[str, Any],
) -> None:
    alarms = resources_of(translated, "AWS::CloudWatch::Alarm")
    watched = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms.values()}
    assert watched == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/Lambda", "Errors"),
        ("VehicleLicenseIntake", "UpstreamCircuitOpened"),
        ("VehicleLicenseIntake", "UpstreamQuotaExhausted"),
    }
    queues = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms.values()
        if a["Properties"]["Namespace"] == "AWS/SQS"
    }
    assert queues == {"DeadLetterQueue", "FailureQueue", "ParkingQueue"}
    for alarm in alarms.values():  # each says what to do
        assert len(alarm["Properties"]["AlarmDescription"]) > 40


def test_the_intake_queue_is_the_default_path_and_the_direct_path_an_option(
    translated: dict[str, Any],
) -> None:
    resources = translated["Resources"]
    mapping = resources["IntakeEventSourceMapping"]
    assert mapping["Condition"] == "QueuePath"
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "MaxConcurrency"}}
    intake = resources["IntakeQueue"]["Properties"]
    assert intake["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["ParkingQueue", "Arn"]}
    assert intake["VisibilityTimeout"] >= 6 * resources["IntakeFunction"]["Properties"]["Timeout"]
    sam = stack.load_sam_template()
    assert sam["Parameters"]["IntakePath"]["Default"] == "queue"
    notification = resources["UploadBucket"]["Properties"]["NotificationConfiguration"]["Fn::If"]
    assert notification[0] == "QueuePath"
    assert notification[1]["QueueConfigurations"][0]["Queue"] == {"Fn::GetAtt": ["IntakeQueue", "Arn"]}
    assert notification[2]["LambdaConfigurations"][0]["Function"] == {"Fn::GetAtt": ["IntakeFunction", "Arn"]}
    statements = resources["IntakeQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allow = next(s for s in statements if s["Effect"] == "Allow")
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert "aws:SourceArn" in allow["Condition"]["ArnEquals"]
    variables = resources["IntakeFunction"]["Properties"]["Environment"]["Variables"]
    assert {"CONTROL_TABLE_NAME", "UPSTREAM_MAX_RPS", "UPSTREAM_DAILY_QUOTA", "EVENT_BUS_NAME"} <= set(
        variables
    )
    assert resources["ControlTable"]["Properties"]["SSESpecification"] == {"SSEEnabled": True}


def test_tracing_can_be_switched_off_and_then_the_xray_sdk_is_not_imported() -> None:
    translated = stack.translate(stack.load_sam_template(), {"EnableTracing": "false"})
    (function,) = resources_of(translated, "AWS::Lambda::Function").values()
    assert function["Properties"]["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingOn", "false", "true"]
    }
    code = "import sys, vehicle_license_intake.handler as h; print('aws_xray_sdk.core' in sys.modules)"
    for disabled, imported in (("true", "False"), ("false", "True")):
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "POWERTOOLS_TRACE_DISABLED": disabled},
        )
        assert result.stdout.strip() == imported


def test_template_defaults_are_the_settings_defaults() -> None:
    """Defaults are written once, in Settings; the template's parameters that feed a variable
    must default to the same value (CloudFormation cannot import them)."""
    from dataclasses import MISSING, fields

    from vehicle_license_intake.config import Settings

    sam = stack.load_sam_template()
    variables = sam["Resources"]["IntakeFunction"]["Properties"]["Environment"]["Variables"]
    defaults = {f.name.upper(): f.default for f in fields(Settings) if f.default is not MISSING}
    checked = 0
    for variable, value in variables.items():
        parameter = value.get("Ref") if isinstance(value, dict) else None
        if (
            parameter in sam["Parameters"]
            and variable in defaults
            and "Default" in sam["Parameters"][parameter]
        ):
            default = defaults[variable]
            assert str(sam["Parameters"][parameter]["Default"]) == str(
                int(default) if isinstance(default, float) and default.is_integer() else default
            ), f"{parameter} and Settings.{variable.lower()}"
            checked += 1
    assert checked >= 7
