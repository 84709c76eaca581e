"""Hostile answers and long tails: no upload is paid for again and again and never finished.

Each test goes through the real handler (or, where the table itself must misbehave, the same
pipeline with the table wrapped), against the HTTP emulator and the template deployed into moto,
and asserts the item, the dead letters and the upstream calls, then that Lambda's retry of the
event pays nothing more.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import API_KEY, LICENSE, Intake, jpeg
from vehicle_license_intake.domain.fields import FIELD_MAX_CHARS
from vehicle_license_intake.pipeline import Pipeline
from vehicle_license_intake.results import ResultsTable
from vehicle_license_intake.upstream.contract import MAX_MESSAGE_CHARS
from vehicle_license_tools.delivery import LocalContext, s3_event
from vehicle_license_tools.emulator import Reply


def code_0_answer(confidence: str | None = None, **raw_values: str) -> bytes:
    """A code-0 answer with the test license, each named value replaced by raw JSON text."""
    data = {**LICENSE, **{name: f"@@{name}@@" for name in raw_values}}
    document: dict[str, Any] = {"code": 0, "msg": "成功", "data": data, "request_id": "req_hostile"}
    if confidence is not None:
        document["confidence"] = "@@confidence@@"
    text = json.dumps(document, ensure_ascii=False)
    for name, raw in {**raw_values, "confidence": confidence or ""}.items():
        text = text.replace(f'"@@{name}@@"', raw)
    return text.encode("utf-8")


def deliver_and_retry(intake: Intake, key: str, image: bytes, reply: Reply) -> dict[str, Any]:
    """Upload once (the answer is the scripted one), then deliver the same event again as Lambda's
    retry would; the second delivery must find a final outcome and pay nothing."""
    intake.upstream.script(image, reply, reply, reply)
    record = intake.put(key, image)
    context = LocalContext()
    first = intake.invoke(record, context=context)
    assert intake.upstream.calls_for(image) == 1, "decided on its first call"

    again = intake.invoke(record, context=context.retry())

    assert again["outcomes"] == {"DUPLICATE": 1}, "the retry finds a final outcome"
    assert intake.upstream.calls_for(image) == 1, "and pays nothing more"
    return first


# -- 1. an extra field the code does not expect ----------------------------------------------


def test_confidence_outside_the_contract_is_ignored_and_the_upload_succeeds_on_its_first_call(
    intake: Intake,
) -> None:
    image = jpeg("confidence of objects")
    answer = code_0_answer(confidence='{"owner": {"average": 0.95}}')

    result = deliver_and_retry(intake, "uploads/confidence.jpg", image, Reply(body=answer))

    assert result["outcomes"] == {"SUCCEEDED": 1}
    item = intake.item("uploads/confidence.jpg")
    assert item is not None and item["status"] == "SUCCEEDED" and item["license"] == LICENSE
    assert item["review_reasons"] == [] and item["needs_review"] is False
    assert "confidence" not in item, "nothing usable in it: nothing stored"
    assert intake.dead_letters() == []


def test_only_scores_in_0_to_1_for_the_twenty_fields_are_kept_of_a_confidence_map(intake: Intake) -> None:
    image = jpeg("mixed confidence")
    scores = (
        '{"vin": 0.5, "owner": {"average": 0.95}, "plate_number": true, "model": 1.5,'
        ' "engine_number": NaN, "address": "0.1", "not_a_field": 0.1}'
    )

    deliver_and_retry(intake, "uploads/scores.jpg", image, Reply(body=code_0_answer(confidence=scores)))

    item = intake.item("uploads/scores.jpg")
    assert item is not None and item["status"] == "SUCCEEDED"
    assert item["confidence"] == {"vin": "0.5"}
    assert item["review_reasons"] == ["LOW_CONFIDENCE:vin"]


# -- 2. an answer that cannot be stored as it is -----------------------------------------------


def test_5021_with_a_420_kb_message_is_unrecognized_with_the_message_truncated_and_one_dead_letter(
    intake: Intake,
) -> None:
    image = jpeg("5021 with a huge message")
    message = "图片无法识别" * 23_400  # 140,400 characters, 421 KB in UTF-8
    answer = json.dumps({"code": 5021, "msg": message, "request_id": "req_long"}, ensure_ascii=False)

    result = deliver_and_retry(intake, "uploads/long-5021.jpg", image, Reply(body=answer.encode()))

    assert result["outcomes"] == {"UNRECOGNIZED": 1}
    item = intake.item("uploads/long-5021.jpg")
    assert item is not None and item["status"] == "UNRECOGNIZED" and item["request_id"] == "req_long"
    assert item["error"] == {
        "source": "upstream",
        "code": 5021,
        "status": "UPSTREAM_INVALID",
        "message": message[:MAX_MESSAGE_CHARS],
        "message_truncated": True,
    }
    (letter,) = intake.dead_letters()
    assert letter["body"]["error"] == item["error"]
    assert letter["attributes"]["error_code"]["StringValue"] == "5021"


@pytest.mark.parametrize(
    ("raw_values", "reasons", "field", "stored"),
    [
        (
            {"remarks": json.dumps("备" * 1_700_000, ensure_ascii=False)},  # 5.1 MB
            ["FIELD_TRUNCATED:remarks"],
            "remarks",
            "备" * FIELD_MAX_CHARS["remarks"],
        ),
        ({"owner": '"王\\ud800测试"'}, ["FIELD_INVALID_TEXT:owner"], "owner", "王\ufffd测试"),
        (
            {"total_mass": "9" * 5_000},
            ["FIELD_TRUNCATED:total_mass", "NUMBER_OUT_OF_RANGE:total_mass"],
            "total_mass",
            "9" * FIELD_MAX_CHARS["total_mass"],
        ),
        ({"remarks": "[" * 100_000 + "]" * 100_000}, ["FIELD_NOT_TEXT:remarks"], "remarks", ""),
        ({"owner": '{"name": "王测试"}'}, ["FIELD_NOT_TEXT:owner", "MISSING:owner"], "owner", ""),
        ({"vin": "true"}, ["FIELD_NOT_TEXT:vin", "MISSING:vin"], "vin", ""),
        ({"curb_weight": '"' + "1" * 40 + '"'}, ["NUMBER_OUT_OF_RANGE:curb_weight"], "curb_weight", "1" * 40),
    ],
    ids=[
        "5-MB-field",
        "lone-surrogate",
        "5000-digit-number",
        "deep-nesting",
        "object",
        "boolean",
        "40-digits",
    ],
)
def test_code_0_answer_with_values_outside_the_contract_succeeds_on_its_first_call_with_review_reasons(
    intake: Intake, raw_values: dict[str, str], reasons: list[str], field: str, stored: str
) -> None:
    image = jpeg(f"hostile {sorted(raw_values)} {reasons}")

    result = deliver_and_retry(intake, "uploads/hostile.jpg", image, Reply(body=code_0_answer(**raw_values)))

    assert result["outcomes"] == {"SUCCEEDED": 1}
    item = intake.item("uploads/hostile.jpg")
    assert item is not None and item["status"] == "SUCCEEDED" and item["needs_review"] is True
    assert item["review_reasons"][: len(reasons)] == reasons, "what bounding did comes first"
    assert item["license"][field] == stored
    assert {name: value for name, value in item["license"].items() if name != field} == {
        name: value for name, value in LICENSE.items() if name != field
    }, "the other values are stored as returned"
    assert intake.dead_letters() == []


def test_an_outcome_the_table_refuses_is_stored_minimal_and_final_without_paying_again(
    intake: Intake,
) -> None:
    """The safety net behind the bounds: a write DynamoDB refuses for its values (here a table
    whose items hold 4 KB, refusing like DynamoDB does beyond 400 KB) is deterministic, so the
    outcome is stored without the upstream's values instead of raising for Lambda to retry."""
    image = intake.recognizable(jpeg("too large for the table"), remarks="备注" * 450)
    record = intake.put("uploads/refused.jpg", image)
    function = intake.pipeline()
    table = intake.session.resource("dynamodb").Table(intake.stack.table)
    pipeline = Pipeline(
        objects=function.objects,
        results=ResultsTable(SmallItemTable(table, max_item_bytes=4_000)),
        dead_letters=function.dead_letters,
        recognizer=function.recognizer,
        input_type=function.input_type,
    )
    context = LocalContext()

    result = pipeline.handle_event(s3_event(record), context)

    assert result["outcomes"] == {"SUCCEEDED": 1}
    item = intake.item("uploads/refused.jpg")
    assert item is not None and item["status"] == "SUCCEEDED" and item["attempts"] == 1
    assert item["review_reasons"] == ["RESULT_NOT_STORABLE"] and item["needs_review"] is True
    assert item["license"] == dict.fromkeys(LICENSE, "")
    assert set(item["normalized"]) >= {"plate_number", "vin", "total_mass_kg"}
    assert not any(item["normalized"].values())
    assert pipeline.handle_event(s3_event(record), context.retry())["outcomes"] == {"DUPLICATE": 1}
    assert intake.upstream.calls_for(image) == 1
    assert intake.dead_letters() == []


class SmallItemTable:
    """A DynamoDB Table whose items may hold `max_item_bytes`: larger ones are refused with the
    ValidationException DynamoDB answers beyond its own 400 KB."""

    def __init__(self, table: Any, max_item_bytes: int) -> None:
        self._table = table
        self._max_item_bytes = max_item_bytes

    def put_item(self, **request: Any) -> Any:
        size = len(json.dumps(request["Item"], ensure_ascii=False, default=str).encode())
        if size > self._max_item_bytes:
            error = {
                "Code": "ValidationException",
                "Message": "Item size has exceeded the maximum allowed size",
            }
            raise ClientError({"Error": error}, "PutItem")
        return self._table.put_item(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def test_a_dead_letter_is_sent_whatever_characters_the_s3_record_carries(intake: Intake) -> None:
    image = jpeg("unrecognisable, odd record")
    record = intake.put("uploads/odd-record.jpg", image)
    record["userIdentity"] = {"principalId": "A\ud800B\ufffe"}  # SQS refuses both characters

    intake.invoke(record)

    item = intake.item("uploads/odd-record.jpg")
    assert item is not None and item["status"] == "UNRECOGNIZED"
    (letter,) = intake.dead_letters()
    assert letter["body"]["s3_record"] == record, "a JSON reader gets the record back exactly"


# -- 3. a slow trickle -----------------------------------------------------------------------


def test_an_answer_trickling_in_is_abandoned_at_the_calls_deadline_and_the_call_retried(
    intake: Intake,
) -> None:
    intake.configure(OCR_TIMEOUT_SECONDS="2")
    image = intake.recognizable(jpeg("trickle then fine"))
    # The last 100 bytes one every 0.4 s: no gap reaches the read timeout, the whole takes 40 s.
    intake.upstream.script(image, Reply.trickle(last_bytes=100, every_seconds=0.4))

    intake.upload("uploads/trickle.jpg", image)

    item = intake.item("uploads/trickle.jpg")
    assert item is not None and item["status"] == "SUCCEEDED"
    assert item["attempts"] == 2 == intake.upstream.calls_for(image), "the first call was abandoned"


def test_an_answer_trickling_in_never_keeps_the_invocation_beyond_its_time(intake: Intake) -> None:
    intake.configure(OCR_TIMEOUT_SECONDS="2")
    image = intake.recognizable(jpeg("trickle forever"))
    intake.upstream.script(image, *[Reply.trickle(last_bytes=100, every_seconds=0.4)] * 3)
    record = intake.put("uploads/trickle-late.jpg", image)
    context = LocalContext(timeout_seconds=8)

    with pytest.raises(Exception, match="records failed"):
        intake.invoke(record, context=context)

    assert context.get_remaining_time_in_millis() > 0, "the invocation returned within its time"
    item = intake.item("uploads/trickle-late.jpg")
    assert item is not None and item["status"] == "FAILED"
    assert item["error"]["status"] in ("TIMEOUT", "OUT_OF_TIME")
    assert intake.upstream.calls_for(image) == 1
    assert intake.dead_letters() == []


# -- 4. types taken on trust -----------------------------------------------------------------


def test_a_boolean_code_is_no_code_and_is_never_stored_as_one(intake: Intake) -> None:
    image = jpeg("code true")
    body = json.dumps({"code": True, "msg": "?", "request_id": "req_bool"}).encode()
    intake.upstream.script(image, *[Reply(body=body)] * 3)
    record = intake.put("uploads/code-true.jpg", image)

    with pytest.raises(Exception, match="records failed"):
        intake.invoke(record)

    item = intake.item("uploads/code-true.jpg")
    assert item is not None and item["status"] == "FAILED"
    assert item["error"]["status"] == "MALFORMED_RESPONSE"
    assert type(item["error"]["code"]) is int, "SPEC §4: N or S, never a boolean"
    assert intake.upstream.calls_for(image) == 3, "a malformed answer is transient: OCR_MAX_ATTEMPTS"
    assert intake.dead_letters() == []


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("key", None),
        ("key", 12345),
        ("key", ["uploads/a.jpg"]),
        ("size", "2048"),
        ("size", True),
        ("size", -1),
        ("eTag", {"value": "x"}),
        ("sequencer", 42),
        ("sequencer", "not hex"),
        ("versionId", ["v1"]),
        ("bucket", None),
        ("bucket", "Not A Bucket!"),
    ],
    ids=lambda value: repr(value)[:20],
)
def test_a_record_with_a_value_of_the_wrong_type_is_ignored_not_uploaded(
    intake: Intake, where: str, value: Any
) -> None:
    image = intake.recognizable(jpeg(f"typed {where} {value!r}"))
    record = intake.put("uploads/typed.jpg", image)
    if where == "bucket":
        record["s3"]["bucket"]["name"] = value
    else:
        record["s3"]["object"][where] = value

    result = intake.invoke(record)

    assert result["outcomes"] == {"IGNORED": 1}
    assert intake.item("uploads/typed.jpg") is None and intake.item("None") is None
    assert intake.upstream.calls == [] and intake.dead_letters() == []


# -- 5. a fixed secret -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_secret",
    ["{not json", '{"token": "abc"}', '{"api_key": ""}', "   ", "键"],
    ids=["not-json", "no-api-key", "empty-api-key", "blank", "not-a-header-value"],
)
def test_a_fixed_secret_is_used_at_once_by_a_warm_instance(intake: Intake, bad_secret: str) -> None:
    intake.put_secret(bad_secret)
    image = intake.recognizable(jpeg(f"secret {bad_secret}"))
    record = intake.put("uploads/secret.jpg", image)
    context = LocalContext()
    with pytest.raises(Exception, match="records failed"):
        intake.invoke(record, context=context)
    assert intake.upstream.calls_for(image) == 0, "no call without a key"

    intake.put_secret(json.dumps({"api_key": API_KEY}))  # fixed, well within SECRET_MAX_AGE_SECONDS
    intake.invoke(record, context=context.retry())  # the same warm instance

    item = intake.item("uploads/secret.jpg")
    assert item is not None and item["status"] == "SUCCEEDED"
    assert intake.upstream.calls_for(image) == 1
