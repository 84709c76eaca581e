"""template.yaml and the code agree: the template deployed into moto (gaps filled), the function's
own environment from it a valid configuration, and an upload under the prefix run through the
handler."""

from __future__ import annotations

import json

from conftest import API_KEY, Intake, jpeg
from vehicle_license_intake.config import Settings


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
    assert len(alarms) == 7
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
