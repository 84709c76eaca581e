"""template.yaml and the code agree: the template deployed into moto (gaps filled), the function's
own environment from it a valid configuration, and an upload under the prefix run through the
handler; the review desk's tables, user pool, group and app client (moto's CloudFormation has no
model for Cognito: the local stack creates them from the template) and a reviewer who signs in."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from conftest import API_KEY, Intake, jpeg
from vehicle_license_intake.config import Settings, load_from_env
from vehicle_license_tools import stack

REVIEWER_PASSWORD = "Correct-Horse-Battery-9"


def test_function_environment_from_the_template_is_a_valid_configuration(intake: Intake) -> None:
    settings = Settings.from_env(intake.stack.function_environment)
    assert settings.results_table_name == intake.stack.table
    assert settings.dead_letter_queue_url == intake.stack.dead_letter_queue_url
    assert settings.api_key_secret_id == intake.stack.secret_id
    assert settings.ocr_max_rps == 2 and settings.ocr_provider == "upstream"
    environment = intake.stack.function_environment
    assert API_KEY not in json.dumps(environment), "the key lives only in Secrets Manager"
    assert [name for name in environment if "KEY" in name] == ["API_KEY_SECRET_ID"]


def test_deployed_stack_matches_the_template_where_moto_ignores_it(intake: Intake) -> None:
    session, deployed = intake.session, intake.stack
    s3 = session.client("s3")
    assert s3.get_bucket_versioning(Bucket=deployed.bucket)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=deployed.bucket)["PublicAccessBlockConfiguration"].values())
    notification = s3.get_bucket_notification_configuration(Bucket=deployed.bucket)["QueueConfigurations"]
    rules = [
        (n["Events"], [(r["Name"].lower(), r["Value"]) for r in n["Filter"]["Key"]["FilterRules"]])
        for n in notification
    ]
    assert rules == [(["s3:ObjectCreated:*"], [("prefix", "uploads/")])]
    dynamodb = session.client("dynamodb")
    ttl = dynamodb.describe_time_to_live(TableName=deployed.table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    backups = dynamodb.describe_continuous_backups(TableName=deployed.table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert (
        session.client("secretsmanager").describe_secret(SecretId=deployed.secret_id)["Name"]
        == deployed.secret_id
    )
    alarms = session.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert {a["MetricName"] for a in alarms} == {
        "ApproximateNumberOfMessagesVisible",
        "Errors",
        "UpstreamCircuitOpened",
        "UpstreamQuotaExhausted",
    }
    assert len(alarms) == 8  # the vehicle events dead-letter queue's (SPEC §12) included
    invoke_config = session.client("lambda").get_function_event_invoke_config(
        FunctionName=deployed.function_name
    )
    assert invoke_config["MaximumRetryAttempts"] == 2
    failure_arn = session.client("sqs").get_queue_attributes(
        QueueUrl=deployed.failure_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == failure_arn


def test_upload_under_the_prefix_reaches_the_handler_and_one_outside_does_not(intake: Intake) -> None:
    """S3 itself (moto) puts the notification into the intake queue; the queue is read as the
    event source mapping the template declares would read it."""
    from vehicle_license_intake import handler
    from vehicle_license_tools.delivery import QueueConsumer

    consumer = QueueConsumer.for_stack(intake.stack, intake.session.client("sqs"), handler.lambda_handler)
    intake.s3.put_object(
        Bucket=intake.stack.bucket, Key="uploads/in.jpg", Body=intake.recognizable(jpeg("inside"))
    )
    intake.s3.put_object(Bucket=intake.stack.bucket, Key="elsewhere/out.jpg", Body=jpeg("outside"))

    batches = consumer.drain()

    assert sum(b.messages for b in batches) == 1 and all(b.error is None for b in batches)
    assert intake.item("uploads/in.jpg")["status"] == "SUCCEEDED"  # type: ignore[index]
    assert intake.item("elsewhere/out.jpg") is None
    assert len(intake.upstream.calls) == 1
    assert intake.stack.event_source is not None and intake.stack.event_source["report_batch_item_failures"]


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def test_review_desk_storage_is_deployed_as_the_template_says(intake: Intake) -> None:
    session, deployed = intake.session, intake.stack
    dynamodb = session.client("dynamodb")
    (index,) = dynamodb.describe_table(TableName=deployed.table)["Table"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "ReviewQueue" and index["Projection"] == {"ProjectionType": "ALL"}
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["review_queue", "review_since"]
    trail = dynamodb.describe_table(TableName=deployed.trail_table)["Table"]
    assert [k["AttributeName"] for k in trail["KeySchema"]] == ["image_uri", "entry"]
    # Encryption at rest is the template's (tests/e2e/test_template.py): moto's CloudFormation
    # reads SSESpecification.Enabled where CloudFormation says SSEEnabled, and shows none.
    backups = dynamodb.describe_continuous_backups(TableName=deployed.trail_table)[
        "ContinuousBackupsDescription"
    ]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_local_stack_creates_the_reviewer_pool_its_group_and_the_desk_client(intake: Intake) -> None:
    session, deployed = intake.session, intake.stack
    cognito = session.client("cognito-idp")
    pool = cognito.describe_user_pool(UserPoolId=deployed.user_pool_id)["UserPool"]
    assert pool["Name"] == f"{deployed.name}-reviewers"
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["UsernameConfiguration"] == {"CaseSensitive": False}
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    groups = cognito.list_groups(UserPoolId=deployed.user_pool_id)["Groups"]
    assert [g["GroupName"] for g in groups] == ["reviewers"]
    client = cognito.describe_user_pool_client(
        UserPoolId=deployed.user_pool_id, ClientId=deployed.desk_client_id
    )["UserPoolClient"]
    assert client["ClientName"] == "review-desk" and "ClientSecret" not in client
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    # The review function is configured with the pool and client really created.
    environment = deployed.review_function_environment
    assert environment["COGNITO_USER_POOL_ID"] == deployed.user_pool_id
    assert environment["COGNITO_CLIENT_ID"] == deployed.desk_client_id
    assert environment["COGNITO_REGION"] == session.region_name
    assert environment["RESULTS_TABLE_NAME"] == deployed.table
    assert environment["REVIEW_TRAIL_TABLE_NAME"] == deployed.trail_table
    assert environment["EVENT_BUS_NAME"] == deployed.event_bus
    assert (environment["REVIEW_CLAIM_SECONDS"], environment["DESK_ORIGIN"]) == ("900", "")
    emulated = session.client("lambda").get_function_configuration(FunctionName=deployed.review_function_name)
    assert emulated["Environment"]["Variables"] == environment
    assert emulated["Handler"] == "vehicle_license_review.handler.lambda_handler"
    # The HTTP API is not emulated (the local desk server plays its part): no output names it.
    assert "ReviewApiId" not in deployed.outputs and "ReviewDeskUrl" not in deployed.outputs
    # ... and it is a valid configuration of the review API (once its code exists).
    review = pytest.importorskip("vehicle_license_review.config")
    settings = load_from_env(review.ReviewSettings, environment)
    assert (settings.cognito_user_pool_id, settings.cognito_client_id) == (
        deployed.user_pool_id,
        deployed.desk_client_id,
    )
    assert settings.review_claim_seconds == 900 and settings.image_url_seconds == 300


def test_an_added_reviewer_signs_in_with_a_password_and_carries_the_reviewers_group(intake: Intake) -> None:
    session, deployed = intake.session, intake.stack
    stack.add_reviewer(session, deployed, "reviewer-1", REVIEWER_PASSWORD)
    cognito = session.client("cognito-idp")

    answer = cognito.initiate_auth(
        ClientId=deployed.desk_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "reviewer-1", "PASSWORD": REVIEWER_PASSWORD},
    )

    assert "ChallengeName" not in answer  # a permanent password: no NEW_PASSWORD_REQUIRED
    access = claims(answer["AuthenticationResult"]["AccessToken"])
    assert access["cognito:groups"] == ["reviewers"]
    assert access["client_id"] == deployed.desk_client_id and access["token_use"] == "access"
    assert access["iss"] == f"https://cognito-idp.{session.region_name}.amazonaws.com/{deployed.user_pool_id}"
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.initiate_auth(
            ClientId=deployed.desk_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "reviewer-1", "PASSWORD": REVIEWER_PASSWORD + "x"},
        )


def test_add_reviewer_refuses_a_weak_password_and_leaves_no_user(intake: Intake) -> None:
    session, deployed = intake.session, intake.stack
    cognito = session.client("cognito-idp")
    with pytest.raises(cognito.exceptions.InvalidPasswordException):
        stack.add_reviewer(session, deployed, "weak", "password")
    assert cognito.list_users(UserPoolId=deployed.user_pool_id)["Users"] == []
