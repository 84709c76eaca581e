"""template.yaml's vehicle records (SPEC §12) as SAM translates them, and as the local stack deploys
them: the table and its indexes, the rule, its queue and dead-letter queue, the function with
exactly the grants its code uses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Intake
from vehicle_license_intake.config import load_from_env
from vehicle_license_records.config import RecordsSettings
from vehicle_license_tools import stack


@pytest.fixture
def translated() -> dict[str, Any]:
    return stack.translate(stack.load_sam_template())


def statements_of(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def test_the_vehicle_table_is_keyed_by_plate_with_a_vin_index_and_a_sparse_waiting_index(
    translated: dict[str, Any],
) -> None:
    table = translated["Resources"]["VehicleTable"]
    props = table["Properties"]
    assert table["DeletionPolicy"] == "Retain"
    assert props["BillingMode"] == "PAY_PER_REQUEST" and props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["KeySchema"] == [{"AttributeName": "plate", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    environment = translated["Resources"]["VehicleRecordsFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["RESULT_RETENTION_DAYS"] == {"Ref": "ResultRetentionDays"}, (
        "records expire like uploads"
    )
    indexes = {
        i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in props["GlobalSecondaryIndexes"]
    }
    assert indexes == {"ByVin": ["vin"], "Waiting": ["waiting_for", "plate"]}


def test_the_rule_sends_the_upload_events_to_the_records_queue_and_only_it_may(
    translated: dict[str, Any],
) -> None:
    resources = translated["Resources"]
    rule = resources["VehicleEventsRule"]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["vehicle-license-intake"],
        "detail-type": ["License Recognized", "License Needs Review", "License Reviewed"],
    }
    assert rule["Targets"] == [
        {"Id": "VehicleEventsQueue", "Arn": {"Fn::GetAtt": ["VehicleEventsQueue", "Arn"]}}
    ]
    queue = resources["VehicleEventsQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["VehicleEventsDeadLetterQueue", "Arn"]
    }
    assert queue["VisibilityTimeout"] >= 6 * resources["VehicleRecordsFunction"]["Properties"]["Timeout"]
    allow, deny = resources["VehicleEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["VehicleEventsRule", "Arn"]}}
    }
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    mapping = next(
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and r["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["VehicleEventsQueue", "Arn"]}
    )
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    alarm = resources["VehicleEventsDeadLetterQueueAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["VehicleEventsDeadLetterQueue", "QueueName"]}


def test_the_records_function_grants_exactly_what_its_code_calls(translated: dict[str, Any]) -> None:
    function = translated["Resources"]["VehicleRecordsFunction"]["Properties"]
    assert function["Handler"] == "vehicle_license_records.handler.lambda_handler"
    assert function["Runtime"] == "python3.13" and function["Architectures"] == ["arm64"]
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "VehicleRecordsFunctionLogGroup"}}
    grants = {
        (action, json.dumps(statement["Resource"], sort_keys=True))
        for statement in statements_of(translated["Resources"]["VehicleRecordsFunctionRole"])
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    vehicles = json.dumps(
        [{"Fn::GetAtt": ["VehicleTable", "Arn"]}, {"Fn::Sub": "${VehicleTable.Arn}/index/*"}], sort_keys=True
    )
    queue = json.dumps({"Fn::GetAtt": ["VehicleEventsQueue", "Arn"]})
    assert grants == {
        ("dynamodb:GetItem", json.dumps({"Fn::GetAtt": ["ResultsTable", "Arn"]})),
        *(
            (action, vehicles)
            for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query")
        ),
        *(
            (f"sqs:{a}", queue)
            for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes", "ChangeMessageVisibility")
        ),
        ("events:PutEvents", json.dumps({"Fn::GetAtt": ["EventBus", "Arn"]})),
    }
    outputs = translated["Outputs"]
    assert {"VehicleTableName", "VehicleEventsQueueUrl", "VehicleEventsDeadLetterQueueUrl"} <= set(outputs)


def test_the_local_stack_gives_the_records_function_its_environment_and_takes_over_its_queue(
    intake: Intake,
) -> None:
    deployed = intake.stack
    settings = load_from_env(RecordsSettings, deployed.records_function_environment)
    assert settings.vehicle_table_name == deployed.vehicle_table
    assert settings.results_table_name == deployed.table and settings.event_bus_name == deployed.event_bus
    assert deployed.records_event_source is not None
    assert deployed.records_event_source["report_batch_item_failures"] is True
    mappings = intake.session.client("lambda").list_event_source_mappings(
        FunctionName=deployed.records_function_name
    )["EventSourceMappings"]
    assert [m["State"] for m in mappings] == ["Disabled"], "the tests and the local stack play Lambda"
    rules = intake.session.client("events").list_rules(EventBusName=deployed.event_bus)["Rules"]
    (rule,) = [r for r in rules if "VehicleEventsRule" in r["Name"]]
    targets = intake.session.client("events").list_targets_by_rule(
        Rule=rule["Name"], EventBusName=deployed.event_bus
    )
    queue_arn = intake.session.client("sqs").get_queue_attributes(
        QueueUrl=deployed.vehicle_events_queue_url, AttributeNames=["QueueArn", "Policy"]
    )["Attributes"]
    assert [t["Arn"] for t in targets["Targets"]] == [queue_arn["QueueArn"]]
    policy = json.loads(queue_arn["Policy"])
    assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == rule["Arn"]
