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
    assert props["ReservedConcurrentExecutions"] == 1, "one instance keeps the fleet at OCR_MAX_RPS"
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


def test_alarms_watch_both_queues_and_function_errors(translated: dict[str, Any]) -> None:
    alarms = resources_of(translated, "AWS::CloudWatch::Alarm")
    watched = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms.values()}
    assert watched == {("AWS/SQS", "ApproximateNumberOfMessagesVisible"), ("AWS/Lambda", "Errors")}
    assert len(alarms) == 3


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
