"""SPEC §6: nothing lost, nothing paid twice. One test per guarantee, through the real handler."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from typing import Any

import pytest

from conftest import API_KEY, Intake, jpeg
from vehicle_license_intake.events import Upload, parse_record
from vehicle_license_intake.pipeline import RecordsFailed
from vehicle_license_tools.delivery import LocalContext, s3_event, s3_record
from vehicle_license_tools.emulator import Reply

# Every guarantee on both paths (SPEC §9): S3 -> Lambda, and S3 -> intake queue -> Lambda.
pytestmark = pytest.mark.parametrize("intake", ["direct", "queue"], indirect=True)


def test_duplicate_event_makes_no_second_upstream_call(intake: Intake) -> None:
    image = intake.recognizable(jpeg("dup"))
    record = intake.upload("uploads/dup.jpg", image)
    first = intake.item("uploads/dup.jpg")

    result = intake.invoke(record)  # S3 delivers at least once

    assert result["outcomes"] == {"DUPLICATE": 1}
    assert intake.upstream.calls_for(image) == 1
    assert intake.item("uploads/dup.jpg") == first


def test_duplicate_of_an_unrecognized_event_sends_no_second_dead_letter(intake: Intake) -> None:
    image = jpeg("not a license")
    record = intake.upload("uploads/nope.jpg", image)
    intake.invoke(record)
    intake.invoke(record)

    assert intake.upstream.calls_for(image) == 1
    assert len(intake.dead_letters()) == 1


def test_duplicate_without_sequencer_is_recognised_by_version_and_etag(intake: Intake) -> None:
    image = intake.recognizable(jpeg("no sequencer"))
    record = intake.put("uploads/noseq.jpg", image)
    del record["s3"]["object"]["sequencer"]
    intake.invoke(record)
    intake.invoke(record)

    assert intake.upstream.calls_for(image) == 1
    item = intake.item("uploads/noseq.jpg")
    assert item is not None and item["status"] == "SUCCEEDED" and "sequencer" not in item


def test_two_concurrent_deliveries_of_the_same_record_make_one_upstream_call(intake: Intake) -> None:
    image = intake.recognizable(jpeg("concurrent"))
    intake.upstream.script(image, Reply.slow(0.6))  # the first call is slow: the second arrives meanwhile
    record = intake.put("uploads/twice.jpg", image)
    instances = [intake.pipeline(), intake.pipeline()]  # two function instances
    start = threading.Barrier(2)
    results: list[Any] = []

    def deliver(index: int) -> None:
        start.wait()
        results.append(instances[index].handle_event(s3_event(record), LocalContext()))

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert intake.upstream.calls_for(image) == 1
    assert sorted(next(iter(r["outcomes"])) for r in results) == ["IN_PROGRESS", "SUCCEEDED"]
    item = intake.item("uploads/twice.jpg")
    assert item is not None and item["status"] == "SUCCEEDED"


def test_older_sequencer_never_overwrites_a_newer_one(intake: Intake) -> None:
    old_image = intake.recognizable(jpeg("old"), plate_number="沪A11111")
    new_image = intake.recognizable(jpeg("new"), plate_number="沪A22222")
    old = intake.put("uploads/car.jpg", old_image)
    new = intake.put("uploads/car.jpg", new_image)
    intake.invoke(new)

    result = intake.invoke(old)  # delivered late

    assert result["outcomes"] == {"STALE": 1}
    assert intake.upstream.calls_for(old_image) == 0
    item = intake.item("uploads/car.jpg")
    assert item is not None and item["license"]["plate_number"] == "沪A22222"
    assert item["sequencer"] == new["s3"]["object"]["sequencer"]


def test_newer_event_replaces_the_stored_result(intake: Intake) -> None:
    intake.upload("uploads/car.jpg", jpeg("first: not a license"))
    intake.upload("uploads/car.jpg", intake.recognizable(jpeg("second: a license")))

    item = intake.item("uploads/car.jpg")
    assert item is not None and item["status"] == "SUCCEEDED"
    assert "error" not in item, "the older outcome's attributes are gone"


def test_sequencers_of_different_lengths_compare_after_right_padding_with_zeros(intake: Intake) -> None:
    # "123" pads to "1230000": older than "1230001"; "12300010" pads equal to "1230001": the same event.
    image = intake.recognizable(jpeg("padding"))
    response = intake.s3.put_object(Bucket=intake.stack.bucket, Key="uploads/pad.jpg", Body=image)

    def record(sequencer: str) -> dict[str, Any]:
        return s3_record(
            intake.stack.bucket,
            "uploads/pad.jpg",
            size=len(image),
            etag=response["ETag"],
            version_id=response["VersionId"],
            sequencer=sequencer,
        )

    intake.invoke(record("1230001"))

    assert intake.invoke(record("123"))["outcomes"] == {"STALE": 1}
    assert intake.invoke(record("12300010"))["outcomes"] == {"DUPLICATE": 1}
    assert intake.invoke(record("1230002"))["outcomes"] == {"SUCCEEDED": 1}
    assert intake.upstream.calls_for(image) == 2


def test_failed_record_is_completed_by_lambdas_retry_of_the_event(intake: Intake) -> None:
    image = intake.recognizable(jpeg("flaky"))
    intake.upstream.script(image, *[Reply.error(5020)] * 3)
    record = intake.put("uploads/flaky.jpg", image)
    context = LocalContext()
    with pytest.raises(Exception, match="records failed"):
        intake.invoke(record, context=context)

    intake.invoke(record, context=context.retry())

    item = intake.item("uploads/flaky.jpg")
    assert item is not None and item["status"] == "SUCCEEDED" and "error" not in item
    assert item["attempts"] == 4 == intake.upstream.calls_for(image)


@pytest.mark.parametrize(
    "reply",
    [
        Reply.error(5020),
        Reply.error(503, http_status=503),
        Reply.html_502(),
        Reply.not_json(),
    ],
    ids=["5020", "5xx", "html-502", "not-json"],
)
def test_transient_failures_are_retried_inside_the_invocation(intake: Intake, reply: Reply) -> None:
    image = intake.recognizable(jpeg(f"transient {reply}"))
    intake.upstream.script(image, reply)
    intake.upload("uploads/retry.jpg", image)

    item = intake.item("uploads/retry.jpg")
    assert item is not None and item["status"] == "SUCCEEDED" and item["attempts"] == 2
    assert intake.upstream.calls_for(image) == 2


def test_a_429_stops_calls_so_from_the_queue_the_upload_waits_for_the_probe(intake: Intake) -> None:
    """The upstream's own "too many" opens the fleet's breaker (SPEC §9). On the direct path
    nothing can wait, so the upload's retry is made; from the intake queue the upload waits
    DEFERRED for the probe instead of calling again while the breaker is open."""
    image = intake.recognizable(jpeg("too many"))
    intake.upstream.script(image, Reply.error(429, http_status=429))
    if intake.path == "direct":
        intake.upload("uploads/429.jpg", image)
        item = intake.item("uploads/429.jpg")
        assert item is not None and item["status"] == "SUCCEEDED" and item["attempts"] == 2
        assert intake.upstream.calls_for(image) == 2
        return
    with pytest.raises(RecordsFailed):  # its message comes back after retry_after
        intake.upload("uploads/429.jpg", image)
    item = intake.item("uploads/429.jpg")
    assert item is not None and item["status"] == "DEFERRED" and item["deferred_reason"] == "breaker"
    assert intake.upstream.calls_for(image) == 1, "no call while the breaker is open"


def test_json_code_decides_the_outcome_whatever_the_http_status(intake: Intake) -> None:
    image = jpeg("5021 with HTTP 500")
    intake.upstream.script(image, Reply.error(5021, http_status=500))
    intake.upload("uploads/odd.jpg", image)

    item = intake.item("uploads/odd.jpg")
    assert item is not None and item["status"] == "UNRECOGNIZED"
    assert intake.upstream.calls_for(image) == 1


def test_slow_upstream_times_out_and_is_retried(intake: Intake) -> None:
    intake.configure(OCR_TIMEOUT_SECONDS="1")
    image = intake.recognizable(jpeg("slow"))
    intake.upstream.script(image, Reply.slow(1.6))
    intake.upload("uploads/slow.jpg", image)

    item = intake.item("uploads/slow.jpg")
    assert item is not None and item["status"] == "SUCCEEDED" and item["attempts"] == 2


def test_retries_stop_when_the_invocation_runs_out_of_time(intake: Intake) -> None:
    # (the breaker kept out of it: from the queue, the failure that opens it defers the upload)
    intake.configure(OCR_MAX_ATTEMPTS="50", UPSTREAM_BREAKER_THRESHOLD="100")
    image = jpeg("never works")
    intake.upstream.script(image, *[Reply.error(5020)] * 50)
    record = intake.put("uploads/late.jpg", image)

    with pytest.raises(Exception, match="records failed"):
        # 12 s: 5 kept for the outcome, 7 for calls; room for the AWS calls before the first
        # one on a loaded machine, too little for ten attempts with backoff
        intake.invoke(record, context=LocalContext(timeout_seconds=12))

    assert 1 <= intake.upstream.calls_for(image) < 10
    item = intake.item("uploads/late.jpg")
    assert item is not None and item["status"] == "FAILED"


def test_rotated_key_is_reread_once_after_4015(intake: Intake) -> None:
    image = intake.recognizable(jpeg("rotation"))
    intake.upload("uploads/before.jpg", intake.recognizable(jpeg("warm the cache")))
    intake.upstream.api_keys = {"rotated-key"}  # the upstream now only knows the new key
    intake.put_secret("rotated-key")  # plain-string form of the secret

    intake.upload("uploads/after.jpg", image)

    item = intake.item("uploads/after.jpg")
    assert item is not None and item["status"] == "SUCCEEDED"
    assert [c.code for c in intake.upstream.calls][-2:] == [4015, 0]


def test_every_record_is_handled_on_its_own(intake: Intake) -> None:
    failing = jpeg("service missing")
    intake.upstream.script(failing, Reply.error(5030))
    good = intake.recognizable(jpeg("good"))
    records = [
        intake.put("uploads/a.jpg", failing),
        intake.put("uploads/b.jpg", good),
        intake.put("uploads/c.jpg", b"not an image"),
    ]

    with pytest.raises(Exception, match="1 of 3 records failed"):
        intake.invoke(*records)

    statuses = [intake.item(f"uploads/{n}.jpg")["status"] for n in "abc"]  # type: ignore[index]
    assert statuses == ["FAILED", "SUCCEEDED", "REJECTED"]


@pytest.mark.parametrize(
    "event",
    [
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"},
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectRemoved:Delete",
                    "s3": {"bucket": {"name": "b"}, "object": {"key": "uploads/x.jpg"}},
                }
            ]
        },
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "b"}, "object": {"key": "uploads/folder/", "size": 0}},
                }
            ]
        },
        {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {}}}]},
        {"Records": [{"eventSource": "aws:sqs", "body": "{}"}]},
        {"something": "else"},
        {"Records": ["not a record"]},
    ],
    ids=["test-event", "removed", "folder-marker", "no-object", "not-s3", "unknown-shape", "garbage-record"],
)
def test_events_that_are_not_uploads_are_ignored_without_raising(
    intake: Intake, event: dict[str, Any]
) -> None:
    from vehicle_license_intake import handler

    result = handler.lambda_handler(event, LocalContext())

    assert set(result["outcomes"]) == {"IGNORED"}
    assert intake.upstream.calls == []


def test_url_encoded_keys_are_decoded_before_any_use(intake: Intake) -> None:
    key = "uploads/我的 行驶证+副本 (1).jpg"
    image = intake.recognizable(jpeg("encoded"))
    record = intake.put(key, image)
    assert (
        record["s3"]["object"]["key"]
        == "uploads/%E6%88%91%E7%9A%84+%E8%A1%8C%E9%A9%B6%E8%AF%81%2B%E5%89%AF%E6%9C%AC+%281%29.jpg"
    )

    intake.invoke(record)

    item = intake.item(key)
    assert item is not None and item["status"] == "SUCCEEDED" and item["object_key"] == key


def test_expired_claim_of_a_crashed_invocation_is_taken_over(intake: Intake) -> None:
    image = intake.recognizable(jpeg("crashed"))
    record = intake.put("uploads/crash.jpg", image)
    results = intake.pipeline().results
    upload = parse_record(record)
    assert isinstance(upload, Upload)
    results.claim_upload(upload, owner="a-dead-invocation", lease_seconds=-1)  # died, lease over

    intake.invoke(record)

    item = intake.item("uploads/crash.jpg")
    assert item is not None and item["status"] == "SUCCEEDED" and intake.upstream.calls_for(image) == 1


def test_live_claim_of_another_invocation_is_respected(intake: Intake) -> None:
    image = intake.recognizable(jpeg("busy"))
    record = intake.put("uploads/busy.jpg", image)
    upload = parse_record(record)
    assert isinstance(upload, Upload)

    intake.pipeline().results.claim_upload(upload, owner="another-live-one", lease_seconds=600)

    assert intake.invoke(record)["outcomes"] == {"IN_PROGRESS": 1}
    assert intake.upstream.calls_for(image) == 0


@pytest.mark.own_stack  # it deletes the dead-letter queue
def test_aws_error_raises_and_the_retry_completes_without_paying_twice(intake: Intake) -> None:
    """An SQS failure after a 5021: the item says FAILED (never UNRECOGNIZED without its message)
    and keeps the decided outcome; Lambda's retry sends the message without a second call."""
    sqs = intake.session.client("sqs")
    queue_url = intake.stack.dead_letter_queue_url
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    sqs.delete_queue(QueueUrl=queue_url)
    image = jpeg("5021 while SQS is down")
    record = intake.put("uploads/sqs-down.jpg", image)
    context = LocalContext()

    with pytest.raises(Exception, match="records failed"):
        intake.invoke(record, context=context)
    item = intake.item("uploads/sqs-down.jpg")
    assert item is not None and item["status"] == "FAILED"
    assert item["error"]["status"] == "AWS_ERROR" and "Queue" in item["error"]["code"]
    assert item["pending_outcome"]["status"] == "UNRECOGNIZED"

    sqs.create_queue(
        QueueName=queue_url.rsplit("/", 1)[1],
        Attributes={"SqsManagedSseEnabled": attributes.get("SqsManagedSseEnabled", "true")},
    )
    intake.invoke(record, context=context.retry())

    item = intake.item("uploads/sqs-down.jpg")
    assert item is not None and item["status"] == "UNRECOGNIZED" and item["attempts"] == 1
    assert intake.upstream.calls_for(image) == 1
    assert len(intake.dead_letters()) == 1


def test_the_function_never_exceeds_its_rate_limit(intake: Intake) -> None:
    intake.upstream.max_rps = 2  # the upstream answers 429 above 2 requests per second
    images = [intake.recognizable(jpeg(f"burst {i}")) for i in range(5)]
    records = [intake.put(f"uploads/burst-{i}.jpg", image) for i, image in enumerate(images)]
    started = time.monotonic()

    intake.invoke(*records)

    assert [c.code for c in intake.upstream.calls] == [0] * 5, "no 429: the limiter kept under the rate"
    assert intake.upstream.max_calls_in_any_second() <= 2
    assert time.monotonic() - started >= 2.0


def test_the_api_key_and_personal_data_never_reach_logs_table_or_queue(intake: Intake) -> None:
    from vehicle_license_intake.observability import logger

    captured = io.StringIO()
    log_handler = logging.StreamHandler(captured)
    log_handler.setFormatter(logger.registered_formatter)
    logger.addHandler(log_handler)
    logger.setLevel("DEBUG")
    try:
        intake.upload("uploads/ok.jpg", intake.recognizable(jpeg("private")))
        intake.upload("uploads/nope.jpg", jpeg("unrecognisable private"))
        bad = jpeg("key rejected")
        intake.upstream.script(bad, Reply.error(4015), Reply.error(4015))
        with pytest.raises(Exception, match="records failed"):
            intake.upload("uploads/key.jpg", bad)
    finally:
        logging.getLogger(logger.service).removeHandler(log_handler)  # the logger behind Powertools'
        logger.setLevel("INFO")

    output = captured.getvalue()
    assert "uploads/ok.jpg" in output and "upstream call" in output, "the logs do name the upload"
    for secret in (API_KEY, "王测试", "上海市测试路1号", "LSVWY4180KN246094"):
        assert secret not in output
    stored = json.dumps([intake.item(f"uploads/{n}.jpg") for n in ("ok", "nope", "key")], ensure_ascii=False)
    messages = json.dumps(intake.dead_letters(), ensure_ascii=False)
    assert API_KEY not in stored and API_KEY not in messages
