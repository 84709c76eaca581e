"""SPEC §12 against the deployed stack: uploads read by the intake handler, their events routed by
the template's rule into the vehicle events queue, read by the records handler into the vehicle
table; reviews made through the review API."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from conftest import LICENSE, Intake, valid_event
from vehicle_license_intake.config import load_from_env
from vehicle_license_intake.domain.vehicle import vehicle_id
from vehicle_license_intake.notifications import EventBridgePublisher
from vehicle_license_records.records import VehicleRecords
from vehicle_license_records.store import ResultsReader, VehicleTable
from vehicle_license_review.api import upload_id
from vehicle_license_review.app import build_api
from vehicle_license_review.config import ReviewSettings
from vehicle_license_tools.delivery import QueueConsumer, sqs_event
from vehicle_records_stack import (
    PLATE,
    Vehicles,
    both_pages,
    complete_events,
    main_page,
    no_personal_data,
    secondary_page,
)

OTHER_VIN = "LFWSRXNH6AAD38754"


@pytest.fixture
def vehicles(intake: Intake) -> Vehicles:
    helper = Vehicles(intake)
    helper.configure()
    return helper


def test_main_then_secondary_page_make_one_complete_record_with_each_value_traced(
    vehicles: Vehicles, published: Callable[[], list[dict[str, Any]]]
) -> None:
    vehicles.upload("uploads/main.jpg", main_page())
    vehicles.deliver()
    waiting = vehicles.record()
    assert waiting["complete"] is False and waiting["waiting_for"] == "secondary"

    vehicles.upload("uploads/secondary.jpg", secondary_page())
    vehicles.deliver()

    record = vehicles.record()
    assert record["complete"] is True and "waiting_for" not in record
    assert record["fields"]["vin"] == {
        "value": LICENSE["vin"],
        "image_uri": vehicles.uri("uploads/main.jpg"),
        "page": "main",
        "reviewed": False,
    }
    assert record["fields"]["gabarite"]["image_uri"] == vehicles.uri("uploads/secondary.jpg")
    assert record["pages"]["secondary"]["version_id"]
    assert record["vin"] == LICENSE["vin"] and record["vehicle_id"] == vehicle_id(PLATE)
    complete = complete_events(published())
    assert len(complete) == 1
    detail = valid_event(complete[0])["detail"]
    assert detail["main_page"] == {"image_uri": vehicles.uri("uploads/main.jpg")}
    assert detail["secondary_page"] == {"image_uri": vehicles.uri("uploads/secondary.jpg")}
    assert detail["vehicle_id"] == record["vehicle_id"] and detail["review_reasons"] == []
    no_personal_data(complete[0])
    assert record["complete_published"] is True and record["complete_event_id"] == detail["event_id"]


def test_with_a_retention_a_record_expires_that_long_after_its_last_change(vehicles: Vehicles) -> None:
    vehicles.intake.monkeypatch.setenv("RESULT_RETENTION_DAYS", "30")
    vehicles.configure()
    vehicles.upload("uploads/main.jpg", main_page())
    vehicles.deliver()
    assert abs(vehicles.record()["expires_at"] - (time.time() + 30 * 86400)) < 120
    pointer = vehicles.item(f"upload#{vehicles.uri('uploads/main.jpg')}")
    assert pointer is not None and abs(pointer["expires_at"] - vehicles.record()["expires_at"]) <= 2
    ttl = vehicles.intake.session.client("dynamodb").describe_time_to_live(
        TableName=vehicles.intake.stack.vehicle_table
    )["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_secondary_then_main_page_make_the_same_record(vehicles: Vehicles) -> None:
    vehicles.upload("uploads/secondary.jpg", secondary_page())
    vehicles.deliver()
    assert vehicles.record()["waiting_for"] == "main"
    vehicles.upload("uploads/main.jpg", main_page())
    vehicles.deliver()

    record = vehicles.record()
    assert record["complete"] is True
    assert {page: slot["image_uri"] for page, slot in record["pages"].items()} == {
        "main": vehicles.uri("uploads/main.jpg"),
        "secondary": vehicles.uri("uploads/secondary.jpg"),
    }


def test_one_photo_with_both_pages_completes_the_record_and_publishes_once(
    vehicles: Vehicles, published: Callable[[], list[dict[str, Any]]]
) -> None:
    vehicles.upload("uploads/both.jpg", both_pages())
    vehicles.deliver()

    record = vehicles.record()
    assert record["complete"] is True
    assert {slot["image_uri"] for slot in record["pages"].values()} == {vehicles.uri("uploads/both.jpg")}
    (event,) = complete_events(published())
    assert valid_event(event)["detail"]["main_page"] == event["detail"]["secondary_page"]


def test_the_same_event_twice_changes_nothing_and_publishes_nothing_more(
    vehicles: Vehicles, published: Callable[[], list[dict[str, Any]]]
) -> None:
    vehicles.upload("uploads/main.jpg", main_page())
    vehicles.upload("uploads/secondary.jpg", secondary_page())
    bodies = vehicles.take_messages()
    assert len(bodies) == 2
    vehicles.send(*bodies)
    vehicles.deliver()
    before = vehicles.record()
    published()

    vehicles.send(*bodies)  # EventBridge delivers at least once: the same events again
    vehicles.deliver()

    assert vehicles.record() == before
    assert complete_events(published()) == []


def test_a_duplicate_s3_delivery_publishes_no_second_upload_event(vehicles: Vehicles) -> None:
    record = vehicles.intake.put(
        "uploads/main.jpg", vehicles.intake.recognizable(b"\xff\xd8\xff\xe0dup", **main_page())
    )
    vehicles.intake.invoke(record)
    vehicles.intake.invoke(record)
    assert len(vehicles.take_messages()) == 1


def test_every_order_of_arrival_gives_the_same_record(vehicles: Vehicles) -> None:
    uploads = {
        "uploads/a-main.jpg": main_page(),
        "uploads/b-secondary.jpg": secondary_page(),
        "uploads/c-secondary-again.jpg": secondary_page(),
    }
    for key, values in uploads.items():
        vehicles.upload(key, values)
    bodies = vehicles.take_messages()
    assert len(bodies) == 3
    seen: list[dict[str, Any]] = []
    for order in itertools.permutations(bodies):
        _empty_vehicle_table(vehicles)
        for body in order:  # one at a time, in this order
            vehicles.send(body)
            vehicles.deliver()
        seen.append(_content(vehicles.record()))
    assert all(record == seen[0] for record in seen[1:])
    # the later of the two secondary uploads holds the page
    assert seen[0]["pages"]["secondary"]["image_uri"] == vehicles.uri("uploads/c-secondary-again.jpg")


def test_a_reupload_of_a_page_replaces_its_values_and_a_stale_event_contributes_nothing(
    vehicles: Vehicles,
) -> None:
    vehicles.upload("uploads/main.jpg", main_page(engine_number="OLD1234"), label="first")
    stale = vehicles.take_messages()
    vehicles.upload("uploads/main.jpg", main_page(engine_number="NEW5678"), label="second")
    vehicles.deliver()
    assert vehicles.record()["fields"]["engine_number"]["value"] == "NEW5678"

    vehicles.send(*stale)
    vehicles.deliver()
    assert vehicles.record()["fields"]["engine_number"]["value"] == "NEW5678"


def test_an_upload_worked_on_again_keeps_its_page_until_its_new_outcome(vehicles: Vehicles) -> None:
    vehicles.upload("uploads/both.jpg", both_pages())
    bodies = vehicles.take_messages()
    vehicles.send(*bodies)
    vehicles.deliver()
    before = vehicles.record()
    results = vehicles.intake.session.resource("dynamodb").Table(vehicles.intake.stack.table)
    results.update_item(  # what a reprocess's claim leaves while the upstream is asked again
        Key={"image_uri": vehicles.uri("uploads/both.jpg")},
        UpdateExpression="SET #s = :p REMOVE #l",
        ExpressionAttributeNames={"#s": "status", "#l": "license"},
        ExpressionAttributeValues={":p": "PROCESSING"},
    )

    vehicles.send(*bodies)  # an event delivered again meanwhile
    vehicles.deliver()

    assert vehicles.record() == before


def test_reviewed_values_win_over_raw_ones(vehicles: Vehicles) -> None:
    vehicles.upload("uploads/main.jpg", main_page(engine_number="RAW0001", owner=""))  # MISSING:owner
    vehicles.deliver()
    desk = _desk(vehicles)
    key = "uploads/main.jpg"
    identity = desk("GET", key)["identity"]
    desk("POST", f"{key}/claim", {"identity": identity})
    desk(
        "POST",
        f"{key}/decision",
        {
            "identity": identity,
            "action": "correct",
            "license": {"owner": "王测试", "engine_number": "REV0001"},
        },
    )
    vehicles.deliver()  # License Reviewed

    record = vehicles.record()
    assert record["fields"]["engine_number"] == {
        "value": "REV0001",
        "image_uri": vehicles.uri(key),
        "page": "main",
        "reviewed": True,
    }
    # a newer raw upload of the main page does not replace the reviewed values
    vehicles.upload("uploads/main-later.jpg", main_page(engine_number="RAW0002"))
    vehicles.deliver()
    assert vehicles.record()["fields"]["engine_number"]["value"] == "REV0001"


def test_a_license_entered_by_hand_for_an_unrecognized_upload_joins_its_record(vehicles: Vehicles) -> None:
    vehicles.intake.upload("uploads/blurred.jpg", b"\xff\xd8\xff\xe0 not known to the upstream")
    vehicles.deliver()  # License Unrecognized is not for the records: nothing yet
    assert vehicles.item(PLATE) is None
    desk = _desk(vehicles)
    identity = desk("GET", "uploads/blurred.jpg")["identity"]
    desk("POST", "uploads/blurred.jpg/claim", {"identity": identity})
    desk(
        "POST",
        "uploads/blurred.jpg/decision",
        {"identity": identity, "action": "enter", "license": both_pages()},
    )
    vehicles.deliver()

    record = vehicles.record()
    assert record["complete"] is True
    assert all(field["reviewed"] for field in record["fields"].values())


def test_a_rejected_upload_leaves_the_record(vehicles: Vehicles) -> None:
    vehicles.upload("uploads/main.jpg", main_page(owner=""))
    vehicles.deliver()
    desk = _desk(vehicles)
    identity = desk("GET", "uploads/main.jpg")["identity"]
    desk("POST", "uploads/main.jpg/claim", {"identity": identity})
    desk(
        "POST", "uploads/main.jpg/decision", {"identity": identity, "action": "reject", "reason": "ILLEGIBLE"}
    )
    vehicles.deliver()
    assert vehicles.record()["pages"] == {}


def test_a_plate_corrected_on_review_moves_the_page_to_its_record(vehicles: Vehicles) -> None:
    misread = PLATE[:-1] + ("6" if PLATE[-1] != "6" else "7")
    vehicles.upload("uploads/main.jpg", main_page())
    vehicles.upload("uploads/secondary.jpg", secondary_page(plate_number=misread, document_id=""))
    vehicles.deliver()
    assert vehicles.record()["review_reasons"] == [f"PLATE_NEAR_MATCH:{misread}"]
    assert vehicles.record(misread)["review_reasons"] == [f"PLATE_NEAR_MATCH:{PLATE}"]
    assert vehicles.record()["complete"] is False, "never joined automatically"

    desk = _desk(vehicles)
    key = "uploads/secondary.jpg"
    identity = desk("GET", key)["identity"]
    desk("POST", f"{key}/claim", {"identity": identity})
    desk(
        "POST",
        f"{key}/decision",
        {
            "identity": identity,
            "action": "correct",
            "license": {"plate_number": PLATE, "document_id": LICENSE["document_id"]},
        },
    )
    vehicles.deliver()

    record = vehicles.record()
    assert record["complete"] is True and record["review_reasons"] == []
    assert record["pages"]["secondary"]["reviewed"] is True
    stray = vehicles.record(misread)
    assert stray["pages"] == {} and stray["review_reasons"] == [] and "waiting_for" not in stray


def test_a_near_match_is_forgotten_by_both_when_one_record_completes(vehicles: Vehicles) -> None:
    other = PLATE[:-1] + ("6" if PLATE[-1] != "6" else "7")
    vehicles.upload("uploads/main.jpg", main_page())
    vehicles.upload("uploads/other-secondary.jpg", secondary_page(plate_number=other))
    vehicles.deliver()
    assert vehicles.record(other)["review_reasons"] == [f"PLATE_NEAR_MATCH:{PLATE}"]

    vehicles.upload("uploads/secondary.jpg", secondary_page())
    vehicles.deliver()

    assert vehicles.record()["complete"] is True and vehicles.record()["review_reasons"] == []
    assert vehicles.record(other)["review_reasons"] == [] and vehicles.record(other)["waiting_for"] == "main"


def test_two_main_pages_with_different_vins_are_a_vin_mismatch(vehicles: Vehicles) -> None:
    vehicles.upload("uploads/main-1.jpg", main_page())
    vehicles.upload("uploads/main-2.jpg", main_page(vin=OTHER_VIN))
    vehicles.deliver()
    assert vehicles.record()["review_reasons"] == ["VIN_MISMATCH"]


def test_two_secondary_pages_with_different_document_ids_are_a_document_id_mismatch(
    vehicles: Vehicles, published: Callable[[], list[dict[str, Any]]]
) -> None:
    vehicles.upload("uploads/secondary-1.jpg", secondary_page())
    vehicles.upload("uploads/secondary-2.jpg", secondary_page(document_id="310099999999"))
    vehicles.upload("uploads/main.jpg", main_page())
    vehicles.deliver()
    assert vehicles.record()["review_reasons"] == ["DOCUMENT_ID_MISMATCH"]
    (event,) = complete_events(published())
    assert valid_event(event)["detail"]["review_reasons"] == ["DOCUMENT_ID_MISMATCH"]
    assert event["detail"]["needs_review"] is True


def test_a_page_without_a_plate_waits_visibly(vehicles: Vehicles) -> None:
    vehicles.upload("uploads/no-plate.jpg", secondary_page(plate_number=""))
    vehicles.deliver()

    waiting = vehicles.item(f"unmatched#{vehicles.uri('uploads/no-plate.jpg')}")
    assert waiting is not None and waiting["waiting_for"] == "plate"
    assert waiting["pages"]["secondary"]["image_uri"] == vehicles.uri("uploads/no-plate.jpg")
    table = VehicleTable(
        vehicles.intake.session.resource("dynamodb").Table(vehicles.intake.stack.vehicle_table)
    )
    assert [r["plate"] for r in table.waiting("plate")] == [waiting["plate"]]


def test_both_pages_arriving_at_once_lose_nothing_and_publish_once(
    vehicles: Vehicles, published: Callable[[], list[dict[str, Any]]]
) -> None:
    """Two instances of the records function, each with one page's event, both read the record
    before either writes it (a barrier before their first PutItem): one write loses the race
    and is merged again."""
    vehicles.upload("uploads/main.jpg", main_page())
    vehicles.upload("uploads/secondary.jpg", secondary_page())
    bodies = vehicles.take_messages()
    assert len(bodies) == 2
    barrier = threading.Barrier(2, timeout=10)
    puts: list[str] = []

    def instance() -> VehicleRecords:
        session = boto3.session.Session(region_name="us-east-1")
        first = [True]

        def wait_for_the_other(params: dict[str, Any], **_: Any) -> None:
            puts.append(str(params["Item"]["plate"]))
            if first[0]:
                first[0] = False
                barrier.wait()

        session.events.register("provide-client-params.dynamodb.PutItem", wait_for_the_other)
        dynamodb = session.resource("dynamodb")
        return VehicleRecords(
            ResultsReader(dynamodb.Table(vehicles.intake.stack.table)),
            VehicleTable(dynamodb.Table(vehicles.intake.stack.vehicle_table)),
            EventBridgePublisher(session.client("events"), vehicles.intake.stack.event_bus),
        )

    arn = vehicles.consumer.queue_arn
    raw = [{"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": body} for n, body in enumerate(bodies)]
    answers: list[Any] = []

    def run(message: dict[str, Any], records: VehicleRecords) -> None:
        answers.append(records.handle_batch(sqs_event([message], arn)))

    threads = [threading.Thread(target=run, args=(message, instance())) for message in raw]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert answers == [{"batchItemFailures": []}] * 2
    record = vehicles.record()
    assert record["complete"] is True and set(record["pages"]) == {"main", "secondary"}
    assert puts.count(PLATE) == 3, "both wrote the new record at once; the loser merged again"
    assert len(complete_events(published())) == 1


def test_an_event_the_bus_refused_is_published_by_the_retry(
    vehicles: Vehicles, published: Callable[[], list[dict[str, Any]]]
) -> None:
    vehicles.upload("uploads/both.jpg", both_pages())
    vehicles.intake.monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    from vehicle_license_records import handler

    handler.reset()
    # the message comes back at once (visibility timeout 0), as it would after 180 s
    consumer = QueueConsumer(
        vehicles.intake.session.client("sqs"),
        vehicles.intake.stack.vehicle_events_queue_url,
        handler.lambda_handler,
        visibility_timeout=0,
    )
    failed = consumer.poll_once()
    assert failed is not None and failed.failures == 1
    assert vehicles.record()["complete_published"] is False

    vehicles.configure()
    vehicles.deliver()
    assert vehicles.record()["complete_published"] is True
    assert len(complete_events(published())) == 1


# -- helpers ----------------------------------------------------------------------------------
def _desk(vehicles: Vehicles) -> Callable[..., Any]:
    settings = load_from_env(ReviewSettings, vehicles.intake.stack.review_function_environment)
    api = build_api(settings, clock=lambda: time.time())

    def call(method: str, path: str, body: Any = None) -> Any:
        key, _, verb = path.partition(".jpg")
        full = f"/api/uploads/{upload_id(vehicles.uri(key + '.jpg'))}{verb}"
        claims = {
            "sub": "sub-alice",
            "username": "alice",
            "token_use": "access",
            "cognito:groups": "[reviewers]",
        }
        answer = api.handle(
            {
                "version": "2.0",
                "rawPath": full,
                "requestContext": {
                    "http": {"method": method, "path": full},
                    "authorizer": {"jwt": {"claims": claims}},
                },
                "body": None if body is None else json.dumps(body),
                "isBase64Encoded": False,
            }
        )
        assert answer["statusCode"] == 200, answer["body"]
        return json.loads(answer["body"])

    return call


def _content(record: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in record.items()
        if k not in ("version", "updated_at", "completed_at", "complete_published", "complete_event_id")
    }


def _empty_vehicle_table(vehicles: Vehicles) -> None:
    table = vehicles.intake.session.resource("dynamodb").Table(vehicles.intake.stack.vehicle_table)
    for item in table.scan(ProjectionExpression="plate")["Items"]:
        table.delete_item(Key={"plate": item["plate"]})
