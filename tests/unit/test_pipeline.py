"""The story of one upload (vehicle_license_intake.pipeline) through in-memory fakes of its ports:
no AWS, no HTTP. Each test names the guarantee of SPEC §4–§6 it checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import LICENSE, jpeg
from fakes import (
    FixedDeadline,
    InMemoryObjects,
    InMemoryResults,
    Journal,
    RecordingDeadLetters,
    ScriptedRecognizer,
)
from vehicle_license_intake.events import Upload, parse_record
from vehicle_license_intake.pipeline import Pipeline, RecordsFailed
from vehicle_license_intake.ports import Recognition
from vehicle_license_intake.upstream.errors import (
    UpstreamRejectedImage,
    UpstreamServiceMissing,
    UpstreamTemporaryError,
)
from vehicle_license_tools.delivery import s3_event, s3_record

TODAY = date(2026, 11, 24)
BUCKET = "uploads-bucket"


def aws_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "unavailable"}}, operation)


def unrecognisable() -> UpstreamRejectedImage:
    return UpstreamRejectedImage("图片无法识别", code=5021, request_id="req_5021")


@dataclass
class World:
    """The pipeline wired to fakes that share one journal of calls."""

    journal: Journal = field(default_factory=Journal)
    results: InMemoryResults = field(init=False)
    objects: InMemoryObjects = field(init=False)
    dead_letters: RecordingDeadLetters = field(init=False)
    recognizer: ScriptedRecognizer = field(init=False)
    pipeline: Pipeline = field(init=False)

    def __post_init__(self) -> None:
        self.results = InMemoryResults(self.journal)
        self.objects = InMemoryObjects(self.journal)
        self.dead_letters = RecordingDeadLetters(self.journal)
        self.recognizer = ScriptedRecognizer(LICENSE, self.journal)
        self.pipeline = Pipeline(
            objects=self.objects,
            results=self.results,
            dead_letters=self.dead_letters,
            recognizer=self.recognizer,
            input_type="base64",
            today=lambda: TODAY,
        )

    def upload(self, key: str, body: bytes | None, *, sequencer: str | None = None) -> Upload:
        """An S3 record of a new object version, and the object (None: it no longer exists)."""
        record = s3_record(
            BUCKET, key, size=len(body or b""), etag=f"etag-{key}", version_id="v1", sequencer=sequencer
        )
        upload = parse_record(record)
        assert isinstance(upload, Upload)
        if body is not None:
            self.objects.put(upload, body)
        return upload

    def deliver(self, *uploads: Upload, context: FixedDeadline | None = None) -> dict[str, Any]:
        event = s3_event(*(dict(upload.record) for upload in uploads))
        return self.pipeline.handle_event(event, context or FixedDeadline())

    def stored(self, upload: Upload) -> dict[str, Any]:
        item = self.results.item(upload)
        assert item is not None, f"nothing stored for {upload.image_uri}"
        return item


@pytest.fixture
def world() -> World:
    return World()


# -- outcomes ------------------------------------------------------------------------------
def test_a_recognised_license_is_stored_succeeded_with_normalized_values_and_review_reasons(
    world: World,
) -> None:
    fields = {**LICENSE, "plate_number": "沪a-12345", "vin": "LSVWY4181KN246094"}
    world.recognizer.script(Recognition(fields, "req_9"))
    upload = world.upload("uploads/a.jpg", jpeg("a"))

    assert world.deliver(upload) == {"outcomes": {"SUCCEEDED": 1}}

    item = world.stored(upload)
    assert item["status"] == "SUCCEEDED" and item["request_id"] == "req_9" and item["attempts"] == 1
    assert item["license"] == fields, "the upstream's strings are stored as returned"
    assert item["normalized"]["plate_number"] == "沪A12345" and item["normalized"]["plate_kind"] == "ordinary"
    assert item["normalized"]["vin_check_digit_valid"] is False
    assert item["review_reasons"] == ["VIN_CHECK_DIGIT"] and item["needs_review"] is True
    assert "claim_token" not in item and "pending_outcome" not in item
    assert world.dead_letters.sent == []


def test_a_clean_license_is_stored_without_review_reasons(world: World) -> None:
    upload = world.upload("uploads/clean.jpg", jpeg("clean"))

    world.deliver(upload)

    item = world.stored(upload)
    assert item["status"] == "SUCCEEDED" and item["review_reasons"] == [] and item["needs_review"] is False


def test_5021_records_the_pending_outcome_before_the_dead_letter_then_is_unrecognized(world: World) -> None:
    world.recognizer.script(unrecognisable())
    upload = world.upload("uploads/street.jpg", jpeg("street"))

    assert world.deliver(upload) == {"outcomes": {"UNRECOGNIZED": 1}}

    journal = world.journal
    assert (
        journal.position("results.record_pending_outcome")
        < journal.position("dead_letters.send")
        < journal.position("results.finish_upload")
    ), journal.entries
    (message,) = world.dead_letters.sent
    assert message["status"] == "UNRECOGNIZED" and message["request_id"] == "req_5021"
    assert message["error"] == {
        "source": "upstream",
        "code": 5021,
        "status": "UPSTREAM_INVALID",
        "message": "图片无法识别",
    }
    assert message["s3_record"] == dict(upload.record), "a redrive can replay the upload"
    item = world.stored(upload)
    assert item["status"] == "UNRECOGNIZED" and item["error"]["code"] == 5021 and item["attempts"] == 1
    assert "pending_outcome" not in item


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"", "EMPTY_OBJECT"), (b"GIF89a a gif", "UNSUPPORTED_FORMAT"), (None, "OBJECT_MISSING")],
    ids=["empty", "gif", "missing"],
)
def test_an_object_failing_local_checks_is_rejected_without_a_recognizer_call(
    world: World, body: bytes | None, code: str
) -> None:
    upload = world.upload("uploads/bad.jpg", body)

    assert world.deliver(upload) == {"outcomes": {"REJECTED": 1}}

    assert world.recognizer.calls == [] and "recognizer.recognize" not in world.journal.entries
    item = world.stored(upload)
    assert item["status"] == "REJECTED" and item["error"]["code"] == code and "attempts" not in item
    (message,) = world.dead_letters.sent
    assert message["status"] == "REJECTED" and message["error"]["code"] == code
    assert world.journal.position("results.record_pending_outcome") < world.journal.position(
        "dead_letters.send"
    )


def test_an_upstream_failure_is_failed_raises_and_the_retry_counts_every_call(world: World) -> None:
    world.recognizer.script(UpstreamTemporaryError("busy", code=5020))
    upload = world.upload("uploads/busy.jpg", jpeg("busy"))
    context = FixedDeadline("invocation-1")

    with pytest.raises(RecordsFailed, match="1 of 1 records failed"):
        world.deliver(upload, context=context)
    failed = world.stored(upload)
    assert failed["status"] == "FAILED" and failed["error"]["code"] == 5020 and failed["attempts"] == 1
    assert world.dead_letters.sent == []

    assert world.deliver(upload, context=context) == {"outcomes": {"SUCCEEDED": 1}}  # Lambda's retry
    item = world.stored(upload)
    assert item["status"] == "SUCCEEDED" and item["attempts"] == 2 and "error" not in item


def test_every_record_is_handled_on_its_own_and_the_event_raises_after_all_of_them(world: World) -> None:
    world.recognizer.script(UpstreamServiceMissing("not enabled", code=5030))
    failing = world.upload("uploads/a.jpg", jpeg("a"))
    good = world.upload("uploads/b.jpg", jpeg("b"))
    rejected = world.upload("uploads/c.jpg", b"not an image")

    with pytest.raises(RecordsFailed, match="1 of 3 records failed"):
        world.deliver(failing, good, rejected)

    assert [world.stored(u)["status"] for u in (failing, good, rejected)] == [
        "FAILED",
        "SUCCEEDED",
        "REJECTED",
    ]


# -- nothing lost: an AWS error after the outcome was decided ------------------------------------
def test_a_dead_letter_that_cannot_be_sent_leaves_failed_and_the_retry_sends_it_without_a_second_call(
    world: World,
) -> None:
    world.recognizer.script(unrecognisable())
    world.dead_letters.faults.fail_next(
        "send", aws_error("AWS.SimpleQueueService.NonExistentQueue", "SendMessage")
    )
    upload = world.upload("uploads/sqs-down.jpg", jpeg("sqs down"))
    context = FixedDeadline("invocation-1")

    with pytest.raises(RecordsFailed):
        world.deliver(upload, context=context)
    item = world.stored(upload)
    assert item["status"] == "FAILED", "never UNRECOGNIZED without its dead letter"
    assert item["error"]["status"] == "AWS_ERROR" and "Queue" in item["error"]["code"]
    assert item["pending_outcome"]["status"] == "UNRECOGNIZED"
    assert world.dead_letters.sent == []

    assert world.deliver(upload, context=context) == {"outcomes": {"UNRECOGNIZED": 1}}  # Lambda's retry

    assert len(world.recognizer.calls) == 1, "the retry did not pay the upstream again"
    (message,) = world.dead_letters.sent
    assert message["status"] == "UNRECOGNIZED" and message["request_id"] == "req_5021"
    item = world.stored(upload)
    assert item["status"] == "UNRECOGNIZED" and item["attempts"] == 1 and "pending_outcome" not in item


def test_when_the_failure_cannot_be_recorded_the_claim_is_released_for_another_owner_at_once(
    world: World,
) -> None:
    world.recognizer.script(unrecognisable())
    world.dead_letters.faults.fail_next("send", aws_error("ServiceUnavailable", "SendMessage"))
    world.results.faults.fail_next("record_failure", aws_error("ServiceUnavailable", "UpdateItem"))
    upload = world.upload("uploads/all-down.jpg", jpeg("all down"))

    with pytest.raises(RecordsFailed):
        world.deliver(upload, context=FixedDeadline("invocation-1"))
    assert "results.release_claim" in world.journal.entries

    # A new invocation (another request id) need not wait for the first one's lease to expire.
    assert world.deliver(upload, context=FixedDeadline("invocation-2")) == {"outcomes": {"UNRECOGNIZED": 1}}
    assert len(world.recognizer.calls) == 1, "the decided outcome was kept: no second call"
    assert len(world.dead_letters.sent) == 1


def test_a_claim_that_cannot_be_released_still_fails_the_event_and_expires_with_its_lease(
    world: World,
) -> None:
    world.objects.faults.fail_next("payload_for", aws_error("SlowDown", "GetObject"))
    world.results.faults.fail_next("record_failure", aws_error("ServiceUnavailable", "UpdateItem"))
    world.results.faults.fail_next("release_claim", aws_error("ServiceUnavailable", "UpdateItem"))
    upload = world.upload("uploads/s3-down.jpg", jpeg("s3 down"))

    with pytest.raises(RecordsFailed):
        world.deliver(upload, context=FixedDeadline("invocation-1"))

    assert world.stored(upload)["status"] == "PROCESSING"
    assert world.deliver(upload, context=FixedDeadline("invocation-2")) == {"outcomes": {"IN_PROGRESS": 1}}
    assert world.recognizer.calls == []


# -- nothing paid twice -----------------------------------------------------------------------
def test_a_redelivered_record_makes_no_recognizer_call(world: World) -> None:
    upload = world.upload("uploads/dup.jpg", jpeg("dup"))
    world.deliver(upload)
    first = world.stored(upload)

    assert world.deliver(upload) == {"outcomes": {"DUPLICATE": 1}}

    assert len(world.recognizer.calls) == 1 and world.stored(upload) == first


def test_a_redelivered_unrecognized_record_sends_no_second_dead_letter(world: World) -> None:
    world.recognizer.script(unrecognisable())
    upload = world.upload("uploads/nope.jpg", jpeg("nope"))
    world.deliver(upload)

    assert world.deliver(upload) == {"outcomes": {"DUPLICATE": 1}}

    assert len(world.recognizer.calls) == 1 and len(world.dead_letters.sent) == 1


def test_an_older_event_is_stale_and_makes_no_recognizer_call(world: World) -> None:
    newer = world.upload("uploads/car.jpg", jpeg("new"), sequencer="0A2")
    older = world.upload("uploads/car.jpg", jpeg("old"), sequencer="0A1")
    world.deliver(newer)

    assert world.deliver(older) == {"outcomes": {"STALE": 1}}

    assert len(world.recognizer.calls) == 1
    assert world.stored(newer)["sequencer"] == "0A2"


def test_a_live_claim_of_another_invocation_makes_no_recognizer_call(world: World) -> None:
    upload = world.upload("uploads/busy.jpg", jpeg("busy"))
    world.results.claim_upload(upload, owner="another-live-one", lease_seconds=600)

    assert world.deliver(upload) == {"outcomes": {"IN_PROGRESS": 1}}

    assert world.recognizer.calls == []


def test_the_expired_claim_of_a_crashed_invocation_is_taken_over(world: World) -> None:
    upload = world.upload("uploads/crash.jpg", jpeg("crash"))
    world.results.claim_upload(upload, owner="a-dead-invocation", lease_seconds=-1)

    assert world.deliver(upload) == {"outcomes": {"SUCCEEDED": 1}}

    assert len(world.recognizer.calls) == 1
