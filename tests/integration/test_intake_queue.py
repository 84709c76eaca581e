"""SPEC §9 and §10 through the real handler and the deployed stack: the intake-queue path (SQS
batches, partial batch failures, delays), DEFERRED uploads under a spent quota or an open breaker,
the direct path's behaviour under the same conditions, and the events each outcome publishes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from conftest import LICENSE, OWNER, Intake, jpeg, valid_event
from vehicle_license_intake import handler
from vehicle_license_intake.upstream.guard import CHINA_STANDARD_TIME, QUOTA_KEY_PREFIX
from vehicle_license_tools.delivery import LocalContext, s3_event, sqs_event
from vehicle_license_tools.emulator import Reply


def deliver_from_queue(
    intake: Intake, *records: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each record as S3 sends it to the intake queue (one S3 event per message), received and
    handed to the handler as the event source mapping does. The handler's answer, the messages."""
    sqs = intake.session.client("sqs")
    url = intake.stack.intake_queue_url
    assert url is not None
    discard_notifications(sqs, url)
    for record in records:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(s3_event(record)))
    messages: list[dict[str, Any]] = []
    while len(messages) < len(records):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []
        )
        assert batch, "every message sent is received"
        messages.extend(batch)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    result = handler.lambda_handler(sqs_event(messages, arn), LocalContext())
    return result, messages


def discard_notifications(sqs: Any, url: str) -> None:
    """The notifications moto itself queued for the test's puts: the test sends its own records
    (whose sequencers it knows) instead, so each upload is delivered exactly as the test says."""
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )


def visible_messages(intake: Intake) -> int:
    sqs = intake.session.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=intake.stack.intake_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


# -- the intake-queue path ------------------------------------------------------------------


def test_a_batch_from_the_intake_queue_is_processed_message_by_message(intake: Intake) -> None:
    good = intake.put("uploads/q1.jpg", intake.recognizable(jpeg("q1")))
    other = intake.put("uploads/q2.jpg", intake.recognizable(jpeg("q2")))

    result, _ = deliver_from_queue(intake, good, other)

    assert result["batchItemFailures"] == []
    assert result["outcomes"] == {"SUCCEEDED": 2}
    assert intake.item("uploads/q1.jpg")["status"] == "SUCCEEDED"  # type: ignore[index]
    assert intake.item("uploads/q2.jpg")["status"] == "SUCCEEDED"  # type: ignore[index]


def test_the_s3_test_event_in_the_queue_is_ignored(intake: Intake) -> None:
    sqs = intake.session.client("sqs")
    url = intake.stack.intake_queue_url
    assert url is not None
    discard_notifications(sqs, url)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}))
    message = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    result = handler.lambda_handler(sqs_event(message, arn), LocalContext())

    assert result == {"batchItemFailures": [], "outcomes": {"IGNORED": 1}}


def test_a_failed_record_fails_only_its_message_which_comes_back_later(intake: Intake) -> None:
    intake.configure(OCR_MAX_ATTEMPTS="1")
    failing = intake.recognizable(jpeg("q-fails"))
    intake.upstream.script(failing, Reply.error(5020))
    ok = intake.put("uploads/q-ok.jpg", intake.recognizable(jpeg("q-ok")))
    bad = intake.put("uploads/q-bad.jpg", failing)

    result, messages = deliver_from_queue(intake, ok, bad)  # never raises on the queue path

    bad_message = next(m for m in messages if "q-bad" in m["Body"])
    assert result["batchItemFailures"] == [{"itemIdentifier": bad_message["MessageId"]}]
    assert intake.item("uploads/q-bad.jpg")["status"] == "FAILED"  # type: ignore[index]
    assert intake.item("uploads/q-ok.jpg")["status"] == "SUCCEEDED"  # type: ignore[index]
    assert visible_messages(intake) == 0, "the failed message is delayed, not visible at once"

    again, _ = deliver_from_queue(intake, bad)  # it comes back: the upstream answers now

    assert again["batchItemFailures"] == []
    assert intake.item("uploads/q-bad.jpg")["status"] == "SUCCEEDED"  # type: ignore[index]
    assert intake.upstream.calls_for(failing) == 2


def test_a_duplicate_from_the_queue_makes_no_second_call(intake: Intake) -> None:
    image = intake.recognizable(jpeg("q-dup"))
    record = intake.put("uploads/q-dup.jpg", image)
    deliver_from_queue(intake, record)

    result, _ = deliver_from_queue(intake, record)

    assert result["outcomes"] == {"DUPLICATE": 1} and result["batchItemFailures"] == []
    assert intake.upstream.calls_for(image) == 1


# -- the daily quota ------------------------------------------------------------------------


def test_a_spent_quota_defers_the_upload_without_an_attempt_until_the_next_day(intake: Intake) -> None:
    intake.configure(UPSTREAM_DAILY_QUOTA="1")
    first = intake.put("uploads/quota-1.jpg", intake.recognizable(jpeg("quota-1")))
    second_image = intake.recognizable(jpeg("quota-2"))
    second = intake.put("uploads/quota-2.jpg", second_image)
    deliver_from_queue(intake, first)

    result, messages = deliver_from_queue(intake, second)

    item = intake.item("uploads/quota-2.jpg")
    assert item is not None and item["status"] == "DEFERRED" and item["deferred_reason"] == "quota"
    assert "attempts" not in item, "a deferred upload costs no attempt"
    tomorrow = (datetime.now(CHINA_STANDARD_TIME) + timedelta(days=1)).date()
    retry_after = datetime.fromisoformat(item["retry_after"].replace("Z", "+00:00"))
    assert retry_after.astimezone(CHINA_STANDARD_TIME).date() == tomorrow
    assert retry_after.astimezone(CHINA_STANDARD_TIME).hour == 0
    assert intake.upstream.calls_for(second_image) == 0
    assert result["batchItemFailures"] == [{"itemIdentifier": messages[0]["MessageId"]}]
    assert visible_messages(intake) == 0, "the message waits until retry_after"

    # The next day (the day's counter is what a new day does not have): the message comes back.
    control = intake.session.resource("dynamodb").Table(intake.stack.control_table)
    today = datetime.now(CHINA_STANDARD_TIME).date().isoformat()
    control.delete_item(Key={"pk": f"{QUOTA_KEY_PREFIX}{today}"})
    again, _ = deliver_from_queue(intake, second)

    assert again["batchItemFailures"] == []
    assert intake.item("uploads/quota-2.jpg")["status"] == "SUCCEEDED"  # type: ignore[index]
    assert intake.upstream.calls_for(second_image) == 1


def test_on_the_direct_path_a_spent_quota_fails_the_record_and_lambda_retries_it(intake: Intake) -> None:
    from vehicle_license_intake.pipeline import RecordsFailed

    intake.configure(UPSTREAM_DAILY_QUOTA="1")
    intake.upload("uploads/direct-1.jpg", intake.recognizable(jpeg("direct-1")))
    image = intake.recognizable(jpeg("direct-2"))
    record = intake.put("uploads/direct-2.jpg", image)

    with pytest.raises(RecordsFailed):
        intake.invoke(record)

    item = intake.item("uploads/direct-2.jpg")
    assert item is not None and item["status"] == "FAILED"
    assert item["error"]["code"] == "QUOTA_EXHAUSTED" and intake.upstream.calls_for(image) == 0


# -- the circuit breaker --------------------------------------------------------------------


def test_an_open_breaker_defers_the_uploads_after_the_one_that_failed(intake: Intake) -> None:
    intake.configure(
        OCR_MAX_ATTEMPTS="2", UPSTREAM_BREAKER_THRESHOLD="2", UPSTREAM_BREAKER_COOLDOWN_SECONDS="600"
    )
    down = intake.recognizable(jpeg("breaker-down"))
    intake.upstream.script(down, Reply.error(5020), Reply.error(5020))
    waiting = intake.recognizable(jpeg("breaker-waiting"))

    first, _ = deliver_from_queue(intake, intake.put("uploads/b1.jpg", down))
    second, _ = deliver_from_queue(intake, intake.put("uploads/b2.jpg", waiting))

    assert intake.item("uploads/b1.jpg")["status"] == "FAILED"  # type: ignore[index]  # its own attempts
    item = intake.item("uploads/b2.jpg")
    assert item is not None and item["status"] == "DEFERRED" and item["deferred_reason"] == "breaker"
    assert intake.upstream.calls_for(waiting) == 0, "no call while the breaker is open"
    assert len(first["batchItemFailures"]) == 1 and len(second["batchItemFailures"]) == 1


def test_on_the_direct_path_an_open_breaker_holds_no_call(intake: Intake) -> None:
    from vehicle_license_intake.pipeline import RecordsFailed

    intake.configure(
        OCR_MAX_ATTEMPTS="2", UPSTREAM_BREAKER_THRESHOLD="2", UPSTREAM_BREAKER_COOLDOWN_SECONDS="600"
    )
    down = intake.recognizable(jpeg("direct-breaker-down"))
    intake.upstream.script(down, Reply.error(5020), Reply.error(5020))
    with pytest.raises(RecordsFailed):
        intake.upload("uploads/db1.jpg", down)
    image = intake.recognizable(jpeg("direct-breaker-next"))

    intake.upload("uploads/db2.jpg", image)

    assert intake.item("uploads/db2.jpg")["status"] == "SUCCEEDED"  # type: ignore[index]
    assert intake.upstream.calls_for(image) == 1


# -- events ---------------------------------------------------------------------------------


def test_each_final_outcome_publishes_one_event_matching_its_schema(intake: Intake, published: Any) -> None:
    intake.upload("uploads/e-clean.jpg", intake.recognizable(jpeg("e-clean")))
    intake.upload("uploads/e-review.jpg", intake.recognizable(jpeg("e-review"), vin="LSVWY4180KN246095"))
    intake.upload("uploads/e-unknown.jpg", jpeg("e-unknown"))
    intake.upload("uploads/e-rejected.jpg", b"not an image at all")

    events = [valid_event(e) for e in published()]

    assert sorted(e["detail-type"] for e in events) == [
        "License Needs Review",
        "License Recognized",
        "License Rejected",
        "License Unrecognized",
    ]
    assert all(e["source"] == "vehicle-license-intake" for e in events)
    review = next(e for e in events if e["detail-type"] == "License Needs Review")
    assert "VIN_CHECK_DIGIT" in review["detail"]["review_reasons"]
    text = json.dumps(events, ensure_ascii=False)
    for value in (OWNER, LICENSE["address"], LICENSE["vin"], "LSVWY4180KN246095", LICENSE["plate_number"]):
        assert value not in text, "no personal data, no field value in any event"


def test_a_duplicate_delivery_publishes_nothing(intake: Intake, published: Any) -> None:
    record = intake.upload("uploads/e-dup.jpg", intake.recognizable(jpeg("e-dup")))
    assert len(published()) == 1

    intake.invoke(record)

    assert published() == []
    assert "event_pending" not in intake.item("uploads/e-dup.jpg")  # type: ignore[operator]


@pytest.mark.own_stack
def test_an_event_the_bus_refused_is_published_by_the_retry_without_paying_again(intake: Intake) -> None:
    from vehicle_license_intake.pipeline import RecordsFailed

    events = intake.session.client("events")
    events.delete_event_bus(Name=intake.stack.event_bus)  # the bus is gone mid-flight
    image = intake.recognizable(jpeg("e-outbox"))
    record = intake.put("uploads/e-outbox.jpg", image)

    with pytest.raises(RecordsFailed):
        intake.invoke(record)
    item = intake.item("uploads/e-outbox.jpg")
    assert item is not None and item["status"] == "SUCCEEDED" and item["event_pending"] is True

    events.create_event_bus(Name=intake.stack.event_bus)
    intake.invoke(record, context=LocalContext().retry())  # Lambda's retry: a duplicate now

    assert "event_pending" not in intake.item("uploads/e-outbox.jpg")  # type: ignore[operator]
    assert intake.upstream.calls_for(image) == 1


def test_a_failed_probe_stops_its_own_upload_too_and_it_waits_deferred(intake: Intake) -> None:
    """After the cool-down one upload probes; when the probe fails, calls stop again for every
    instance, that upload's own retries included (found by the burst benchmark)."""
    import time

    intake.configure(
        OCR_MAX_ATTEMPTS="3", UPSTREAM_BREAKER_THRESHOLD="1", UPSTREAM_BREAKER_COOLDOWN_SECONDS="1"
    )
    down = intake.recognizable(jpeg("probe-down"))
    intake.upstream.script(down, *[Reply.error(5020)] * 3)
    deliver_from_queue(intake, intake.put("uploads/p1.jpg", down))  # FAILED: the breaker is open
    time.sleep(1.2)  # the cool-down is over: the next upload is the probe
    probe = intake.recognizable(jpeg("probe-upload"))
    intake.upstream.script(probe, Reply.error(5020), Reply.error(5020), Reply.error(5020))

    result, _ = deliver_from_queue(intake, intake.put("uploads/p2.jpg", probe))

    assert intake.upstream.calls_for(probe) == 1, "the failed probe is not retried"
    item = intake.item("uploads/p2.jpg")
    assert item is not None and item["status"] == "DEFERRED" and item["deferred_reason"] == "breaker"
    assert len(result["batchItemFailures"]) == 1
