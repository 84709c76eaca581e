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


def statements_of(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_template_is_cfn_lint_clean() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_function_matches_spec_entry_point_runtime_and_limits(translated: dict[str, Any]) -> None:
    function = translated["Resources"]["IntakeFunction"]
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
    assert set(resources_of(translated, "AWS::IAM::Role")) == {
        "IntakeFunctionRole",
        "ReviewFunctionRole",
        "VehicleRecordsFunctionRole",
    }
    statements = statements_of(translated["Resources"]["IntakeFunctionRole"])
    actions = {a for s in statements for a in actions_of(s)}
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
    for role in resources_of(translated, "AWS::IAM::Role").values():
        for statement in statements_of(role):
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
    for name in ("ResultsTable", "ReviewTrailTable"):
        table = translated["Resources"][name]["Properties"]
        assert table["BillingMode"] == "PAY_PER_REQUEST" and table["SSESpecification"] == {"SSEEnabled": True}
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    table = translated["Resources"]["ResultsTable"]["Properties"]
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
    assert queues == {"DeadLetterQueue", "FailureQueue", "ParkingQueue", "VehicleEventsDeadLetterQueue"}
    functions = {
        a["Properties"]["Dimensions"][0]["Value"]["Ref"]
        for a in alarms.values()
        if a["Properties"]["Namespace"] == "AWS/Lambda"
    }
    assert functions == {"IntakeFunction", "ReviewFunction"}
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
    for function in resources_of(translated, "AWS::Lambda::Function").values():
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


# The review desk (SPEC §11, issue 13): Cognito, the HTTP API and its function.

STATIC_ROUTES = {"GET /", "GET /desk.js", "GET /desk.css", "GET /config.json"}


def routes_of(api: dict[str, Any]) -> dict[str, list[dict[str, list[str]]]]:
    """Each route of the HTTP API's OpenAPI body ("METHOD /path") and its security."""
    methods = {"x-amazon-apigateway-any-method": "ANY"}
    return {
        f"{methods.get(method, method.upper())} {path}": operation["security"]
        for path, operations in api["Properties"]["Body"]["paths"].items()
        for method, operation in operations.items()
    }


def test_review_api_authorizes_every_api_route_with_the_jwt_and_only_the_static_page_is_public(
    translated: dict[str, Any],
) -> None:
    api = translated["Resources"]["ReviewApi"]
    assert api["Type"] == "AWS::ApiGatewayV2::Api"
    routes = routes_of(api)
    assert set(routes) == {"ANY /api/{proxy+}", *STATIC_ROUTES}
    public = {route for route, security in routes.items() if security == [{"NONE": []}]}
    assert public == STATIC_ROUTES
    assert routes["ANY /api/{proxy+}"] == [{"ReviewerJwt": []}]
    # Every route calls the review function, payload v2.
    for operations in api["Properties"]["Body"]["paths"].values():
        for operation in operations.values():
            integration = operation["x-amazon-apigateway-integration"]
            assert "${ReviewFunction.Arn}" in integration["uri"]["Fn::Sub"]
            assert integration["payloadFormatVersion"] == "2.0"
    scheme = api["Properties"]["Body"]["components"]["securitySchemes"]["ReviewerJwt"]
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "jwt" and authorizer["identitySource"] == "$request.header.Authorization"
    assert authorizer["jwtConfiguration"] == {
        "issuer": {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${ReviewerPool}"},
        "audience": [{"Ref": "ReviewDeskClient"}],
    }
    sam = stack.load_sam_template()["Resources"]["ReviewApi"]["Properties"]
    assert sam["Auth"]["DefaultAuthorizer"] == "ReviewerJwt"
    # The function may be invoked by this API only.
    permissions = {
        name: r["Properties"]
        for name, r in resources_of(translated, "AWS::Lambda::Permission").items()
        if r["Properties"]["FunctionName"] == {"Ref": "ReviewFunction"}
    }
    assert len(permissions) == 5
    for permission in permissions.values():
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert permission["SourceArn"]["Fn::Sub"][1]["__ApiId__"] == {"Ref": "ReviewApi"}
    stage = translated["Resources"]["ReviewApiApiGatewayDefaultStage"]["Properties"]
    log_format = stage["AccessLogSettings"]["Format"]
    assert stage["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["ReviewApiLogGroup", "Arn"]}
    assert "$context.routeKey" in log_format and "$context.path" not in log_format  # no file names
    json.loads(log_format)


def test_review_api_has_no_cors_by_default_and_only_the_desk_origin_when_one_is_set() -> None:
    sam = stack.load_sam_template()
    assert sam["Parameters"]["ReviewDeskOrigin"]["Default"] == ""
    by_default = stack.translate(sam)["Resources"]["ReviewApi"]["Properties"]["Body"]
    condition, cors, otherwise = by_default["x-amazon-apigateway-cors"]["Fn::If"]
    assert sam["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReviewDeskOrigin"}, ""]}]}
    assert otherwise == {"Ref": "AWS::NoValue"}  # no origin: no CORS configuration at all

    origin = "https://desk.example.com"
    body = stack.translate(sam, {"ReviewDeskOrigin": origin})["Resources"]["ReviewApi"]["Properties"]["Body"]
    _, cors, _ = body["x-amazon-apigateway-cors"]["Fn::If"]
    assert cors["allowOrigins"] == [origin]
    assert sorted(cors["allowMethods"]) == ["GET", "POST"]
    assert sorted(cors["allowHeaders"]) == ["Authorization", "Content-Type"]
    assert not cors.get("allowCredentials")
    assert "*" not in json.dumps(cors)


def test_review_function_grants_exactly_what_the_desk_calls_on_exactly_those_resources(
    translated: dict[str, Any],
) -> None:
    role = translated["Resources"]["ReviewFunctionRole"]
    grants = {
        (action, json.dumps(statement["Resource"], sort_keys=True))
        for statement in statements_of(role)
        for action in actions_of(statement)
    }
    assert all(statement["Effect"] == "Allow" for statement in statements_of(role))
    results = json.dumps({"Fn::GetAtt": ["ResultsTable", "Arn"]})
    queue = json.dumps({"Fn::Sub": "${ResultsTable.Arn}/index/ReviewQueue"})
    trail = json.dumps({"Fn::GetAtt": ["ReviewTrailTable", "Arn"]})
    uploads = json.dumps(
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::StackName}-uploads-${AWS::AccountId}/${UploadPrefix}*"}
    )
    bus = json.dumps({"Fn::GetAtt": ["EventBus", "Arn"]})
    vehicles = json.dumps({"Fn::GetAtt": ["VehicleTable", "Arn"]})
    by_vin = json.dumps({"Fn::Sub": "${VehicleTable.Arn}/index/ByVin"})
    assert grants == {
        ("dynamodb:GetItem", results),
        ("dynamodb:UpdateItem", results),
        ("dynamodb:Query", queue),
        ("dynamodb:PutItem", trail),
        ("dynamodb:Query", trail),
        ("s3:GetObject", uploads),
        ("s3:GetObjectVersion", uploads),
        ("events:PutEvents", bus),
        # SPEC §12: the vehicle record of an upload's plate, or of a VIN, read only
        ("dynamodb:GetItem", vehicles),
        ("dynamodb:Query", by_vin),
    }
    # Only the logs and traces every function of the template gets besides.
    assert (
        role["Properties"]["ManagedPolicyArns"]
        == (translated["Resources"]["IntakeFunctionRole"]["Properties"]["ManagedPolicyArns"])
    )


def test_no_role_may_rewrite_the_review_trail(translated: dict[str, Any]) -> None:
    """The audit trail is appended to and read, never updated or deleted (SPEC §11)."""
    for role in resources_of(translated, "AWS::IAM::Role").values():
        for statement in statements_of(role):
            if "ReviewTrailTable" in json.dumps(statement["Resource"]):
                assert set(actions_of(statement)) <= {"dynamodb:PutItem", "dynamodb:Query"}
    trail = translated["Resources"]["ReviewTrailTable"]
    assert trail["DeletionPolicy"] == trail["UpdateReplacePolicy"] == "Retain"
    assert trail["Properties"]["KeySchema"] == [
        {"AttributeName": "image_uri", "KeyType": "HASH"},
        {"AttributeName": "entry", "KeyType": "RANGE"},
    ]
    assert "TimeToLiveSpecification" not in trail["Properties"]  # nothing expires it either


def test_results_table_indexes_the_uploads_waiting_for_a_human(translated: dict[str, Any]) -> None:
    table = translated["Resources"]["ResultsTable"]["Properties"]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index == {
        "IndexName": "ReviewQueue",
        "KeySchema": [
            {"AttributeName": "review_queue", "KeyType": "HASH"},
            {"AttributeName": "review_since", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    assert types == {"image_uri": "S", "review_queue": "S", "review_since": "S"}


def test_reviewers_sign_in_to_an_admin_made_pool_through_a_browser_client(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    pool = resources["ReviewerPool"]
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert props["UsernameConfiguration"] == {"CaseSensitive": False}
    assert props["DeletionProtection"] == "ACTIVE" and pool["DeletionPolicy"] == "Retain"
    password = props["Policies"]["PasswordPolicy"]
    assert password["MinimumLength"] >= 12
    assert all(password[f"Require{kind}"] for kind in ("Lowercase", "Uppercase", "Numbers", "Symbols"))
    group = resources["ReviewersGroup"]["Properties"]
    assert group == {
        "UserPoolId": {"Ref": "ReviewerPool"},
        "GroupName": "reviewers",
        "Description": group["Description"],
    }
    client = resources["ReviewDeskClient"]["Properties"]
    assert client["UserPoolId"] == {"Ref": "ReviewerPool"}
    assert client["GenerateSecret"] is False
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["PreventUserExistenceErrors"] == "ENABLED" and client["EnableTokenRevocation"] is True
    assert (client["AccessTokenValidity"], client["TokenValidityUnits"]["AccessToken"]) == (1, "hours")
    assert not {"CallbackURLs", "AllowedOAuthFlows", "AllowedOAuthFlowsUserPoolClient"} & set(client)


def test_review_function_is_the_intake_artifact_with_its_own_handler_and_environment(
    translated: dict[str, Any],
) -> None:
    sam = stack.load_sam_template()
    review, intake = (sam["Resources"][name]["Properties"] for name in ("ReviewFunction", "IntakeFunction"))
    assert review["CodeUri"] == intake["CodeUri"] == "src/"
    function = translated["Resources"]["ReviewFunction"]["Properties"]
    assert function["Handler"] == "vehicle_license_review.handler.lambda_handler"
    assert function["Runtime"] == "python3.13" and function["Architectures"] == ["arm64"]
    assert (function["Timeout"], function["MemorySize"]) == (10, 256)
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "ReviewFunctionLogGroup"}}
    log_group = translated["Resources"]["ReviewFunctionLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    variables = function["Environment"]["Variables"]
    assert variables == {
        "RESULTS_TABLE_NAME": {"Ref": "ResultsTable"},
        "REVIEW_TRAIL_TABLE_NAME": {"Ref": "ReviewTrailTable"},
        "EVENT_BUS_NAME": {"Fn::GetAtt": ["EventBus", "Name"]},
        "REVIEWERS_GROUP": "reviewers",
        "REVIEW_CLAIM_SECONDS": {"Ref": "ReviewClaimSeconds"},
        "IMAGE_URL_SECONDS": "300",
        "COGNITO_USER_POOL_ID": {"Ref": "ReviewerPool"},
        "COGNITO_CLIENT_ID": {"Ref": "ReviewDeskClient"},
        "COGNITO_REGION": {"Ref": "AWS::Region"},
        "DESK_ORIGIN": {"Ref": "ReviewDeskOrigin"},
        "VEHICLE_TABLE_NAME": {"Ref": "VehicleTable"},
        "POWERTOOLS_SERVICE_NAME": "vehicle-license-review",
        "POWERTOOLS_METRICS_NAMESPACE": "VehicleLicenseIntake",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": {"Fn::If": ["TracingOn", "false", "true"]},
    }
    assert sam["Parameters"]["ReviewClaimSeconds"]["Default"] == 900
    outputs = set(translated["Outputs"])
    assert {
        "ReviewDeskUrl",
        "ReviewApiId",
        "ReviewerPoolId",
        "ReviewDeskClientId",
        "ReviewTrailTableName",
        "ReviewFunctionName",
    } <= outputs


def test_review_function_environment_names_every_review_setting_with_its_default() -> None:
    """The review API's settings (vehicle_license_review.config) are what the template gives the
    function, defaults written once there (as test_template_defaults_are_the_settings_defaults)."""
    from dataclasses import MISSING, fields

    config = pytest.importorskip("vehicle_license_review.config")
    sam = stack.load_sam_template()
    variables = sam["Resources"]["ReviewFunction"]["Properties"]["Environment"]["Variables"]
    settings = {f.name.upper(): f for f in fields(config.ReviewSettings)}
    local_only = {"COGNITO_ENDPOINT_URL"}  # the local desk's Cognito; AWS's is the region's
    assert set(settings) - local_only <= set(variables)
    checked = 0
    for name, setting in settings.items():
        value = variables.get(name)
        if isinstance(value, dict) and value.get("Ref") in sam["Parameters"]:
            value = sam["Parameters"][value["Ref"]].get("Default")
        if setting.default is MISSING or isinstance(value, dict) or value is None:
            continue
        assert str(value) == str(setting.default), name
        checked += 1
    assert checked >= 4
