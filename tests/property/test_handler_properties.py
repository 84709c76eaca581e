"""Properties of the handler under arbitrary input: any upstream answer (shape, type, size, nesting,
encoding) and any S3 record. Through the real handler, against the HTTP emulator and the template
deployed into moto, one stack per test and unique objects per example.

Invariants, for every example:
- no item is left PROCESSING, and every item matches SPEC §4's schema (the 20 values bounded
  strings, `normalized` typed, review reasons from the documented codes, `error` N or S codes);
- the invocation raises if and only if a record of it ended FAILED;
- an answer whose code decides a final outcome (0 with a data object, 5021, 4000) ends in it on
  its first call, never as an AWS error, and Lambda's retry of the event makes no further call;
- UNRECOGNIZED and REJECTED items have exactly one dead letter, other items none;
- no field value and not the API key reaches the logs.
"""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from conftest import API_KEY, LICENSE, Intake, jpeg
from vehicle_license_intake.domain.fields import FIELD_MAX_CHARS, LICENSE_FIELDS
from vehicle_license_intake.domain.plate import PLATE_KINDS
from vehicle_license_intake.observability import logger
from vehicle_license_intake.pipeline import RecordsFailed
from vehicle_license_intake.upstream.contract import MAX_MESSAGE_CHARS, MAX_REQUEST_ID_CHARS
from vehicle_license_tools.delivery import LocalContext, s3_event
from vehicle_license_tools.emulator import Reply

# Every string the upstream sends inside `data` starts with this: it must never reach a log line.
SENTINEL = "PII-7f3a9"
PERSONAL = (API_KEY, SENTINEL, LICENSE["owner"], LICENSE["address"], LICENSE["vin"])
# OCR_MAX_ATTEMPTS here: a transient answer fails at once (the retry loop and its backoff, which
# would make most examples sleep, are the delivery tests' subject); a 4015 still re-reads the key.
MAX_ATTEMPTS = 1

PROPERTY_SETTINGS = settings(
    max_examples=300,  # about 25 s on a 2-core machine
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
    deadline=None,
    # The explain phase re-runs a failing example hundreds of times (minutes against moto).
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)

NORMALIZED_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(
        (
            "plate_number",
            "plate_kind",
            "vin",
            "vin_suggestion",
            "register_date",
            "issue_date",
            "inspection_valid_until",
            "vehicle_type",
            "owner",
            "address",
            "use_character",
            "model",
            "engine_number",
            "license_issuing_authority",
            "document_id",
            "remarks",
        ),
        (str,),
    ),
    "vin_check_digit_valid": (bool,),
    **dict.fromkeys(
        (
            "vin_model_year",
            "approved_passengers",
            "total_mass_kg",
            "curb_weight_kg",
            "ratified_load_kg",
            "traction_mass_kg",
            "length_mm",
            "width_mm",
            "height_mm",
        ),
        (int,),
    ),
}
REASON = re.compile(
    r"(MISSING|DATE_INVALID|DATE_IN_FUTURE|NUMBER_INVALID|NUMBER_OUT_OF_RANGE|LOW_CONFIDENCE"
    rf"|FIELD_TRUNCATED|FIELD_NOT_TEXT|FIELD_INVALID_TEXT):({'|'.join(LICENSE_FIELDS)})"
    r"|PLATE_FORMAT|VIN_FORMAT|VIN_CHECK_DIGIT|VIN_MODEL_YEAR|ISSUE_BEFORE_REGISTER|MASS_INCONSISTENT"
    r"|USE_CHARACTER_UNKNOWN|PLATE_TYPE_MISMATCH|PROVINCE_MISMATCH|INSPECTION_EXPIRED"
    r"|TRACTION_MASS_UNEXPECTED|RESULT_NOT_STORABLE"
)
SURROGATE = re.compile("[\ud800-\udfff]")


# -- arbitrary JSON, including what json.dumps cannot write ------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text inserted as it is: integers too long for json.dumps, nesting too deep for it.

    Not a subclass of str: Hypothesis (6.170) reuses a value drawn earlier as the choice of a later
    text draw, and a str subclass there fails its choice lookup (KeyError: Raw), at random."""

    text: str


def each_raw(value: Any, swap: Callable[[Raw], Any]) -> Any:
    """The value with every raw fragment in it swapped."""
    if isinstance(value, Raw):
        return swap(value)
    if isinstance(value, dict):
        return {key: each_raw(item, swap) for key, item in value.items()}
    if isinstance(value, list):
        return [each_raw(item, swap) for item in value]
    return value


def plain(value: Any) -> Any:
    """The value as the handler receives JSON: a raw fragment is the text it holds."""
    return each_raw(value, lambda raw: raw.text)


def encode(document: Any, *, ensure_ascii: bool) -> bytes:
    fragments: list[str] = []

    def placeholder(raw: Raw) -> str:
        fragments.append(raw.text)
        return f"\x00raw{len(fragments) - 1}\x00"

    text = json.dumps(each_raw(document, placeholder), ensure_ascii=ensure_ascii)
    for index, fragment in enumerate(fragments):
        text = text.replace(json.dumps(f"\x00raw{index}\x00"), fragment, 1)
    return text.encode("utf-8", "surrogatepass")  # lone surrogates as UTF-8 would write them


def raw_fragments(text_prefix: str = "") -> st.SearchStrategy[Raw]:
    return st.one_of(
        st.integers(1, 6_000).map(lambda digits: Raw("7" * digits)),
        st.integers(1, 3_000).map(lambda depth: Raw("[" * depth + "]" * depth)),
        st.integers(0, 400_000).map(
            lambda length: Raw(json.dumps(text_prefix + "长" * length, ensure_ascii=False))
        ),
        st.sampled_from(
            ['"\\ud800"', '"a\\udfffb"', '"\\u0000\\ufffe"', "NaN", "-Infinity", "1e999", "-0"]
        ).map(Raw),
    )


def json_values(strings: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), strings
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=10,
    )


anything = json_values(st.text()) | raw_fragments()
personal_text = st.text(max_size=40).map(lambda text: SENTINEL + text)
plausible_values = st.sampled_from(
    [*LICENSE.values(), "2020-06-01", "20200601", "2031-02-30", "1,945kg", "5+2人", "4885×1840×1455", "——"]
)
field_values = st.one_of(
    plausible_values,
    personal_text,
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    json_values(personal_text),
    raw_fragments(SENTINEL),
)
field_names = st.sampled_from(LICENSE_FIELDS)
license_data = st.dictionaries(field_names | field_names | st.text(max_size=12), field_values, max_size=24)
hostile_values = st.one_of(
    st.booleans(),
    st.lists(field_values, max_size=3),
    st.dictionaries(st.text(max_size=5), field_values, max_size=3),
    raw_fragments(SENTINEL),
)
DOCUMENTED_CODES = [0, 0, 0, 0, 0, 0, 5021, 5021, 4000, 4015, 5020, 5030, 429, 500, 503, 4123]
odd_codes = st.one_of(
    st.booleans(), st.integers(), st.none(), st.text(max_size=4), st.floats(), raw_fragments()
)


@st.composite
def upstream_answers(draw: st.DrawFn) -> tuple[int, bytes]:
    """(HTTP status, body): mostly the documented shape with arbitrary values, sometimes any JSON
    at all, sometimes bytes that are not JSON."""
    http_status = draw(st.sampled_from([200, 200, 200, 200, 400, 401, 429, 500, 502]))
    shape = draw(st.sampled_from(["contract"] * 6 + ["any JSON", "bytes"]))
    if shape == "bytes":
        return http_status, draw(st.binary(max_size=300))
    if shape == "any JSON":
        document: Any = draw(anything)
    else:
        # Mostly a documented code (0 above all), so that every outcome is well explored.
        documented = draw(st.sampled_from([True, True, False]))
        document = {"code": draw(st.sampled_from(DOCUMENTED_CODES) if documented else odd_codes)}
        if document["code"] == 0 and draw(st.sampled_from([True, True, True, False])):
            document["data"] = data = draw(license_data)
            if draw(st.booleans()):  # at least one value outside the contract
                data[draw(field_names)] = draw(hostile_values)
        optional = {
            "data": st.one_of(license_data, license_data, anything),
            "msg": anything,
            "message": anything,
            "status": anything,
            "request_id": anything,
            "confidence": st.one_of(
                st.dictionaries(st.sampled_from(LICENSE_FIELDS) | st.text(max_size=6), anything, max_size=6),
                anything,
            ),
            "extra": anything,
        }
        for name in draw(st.lists(st.sampled_from(sorted(set(optional) - set(document))), unique=True)):
            document[name] = draw(optional[name])
    return http_status, encode(document, ensure_ascii=draw(st.booleans()))


def decided_status(body: bytes) -> str | None:
    """The status the answer's code decides (SPEC §4), or None when the test cannot tell."""
    try:  # an integer too long for Python is no code (kept as its digits, like the function)
        document = json.loads(body, parse_int=lambda digits: int(digits) if len(digits) <= 64 else digits)
    except RecursionError:
        return None  # nested deeper than this parser goes: the function still reads it
    except ValueError:
        return "FAILED"  # not JSON: transient, retried, FAILED
    if not isinstance(document, dict):
        return "FAILED"
    code = document.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or abs(code) >= 10**9:
        return "FAILED"
    if code == 0:
        return "SUCCEEDED" if isinstance(document.get("data"), dict) else "FAILED"
    return "UNRECOGNIZED" if code in (5021, 4000) else "FAILED"


# -- fixtures and checks ---------------------------------------------------------------------


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    logger.setLevel("DEBUG")
    yield captured
    logging.getLogger(logger.service).removeHandler(handler)  # the logger behind Powertools'
    logger.setLevel("INFO")


@pytest.fixture
def function(intake: Intake) -> Intake:
    """The function configured for many examples: no rate limit or backoff to wait for."""
    intake.configure(OCR_MAX_RPS="1000", UPSTREAM_MAX_RPS="1000", OCR_MAX_ATTEMPTS=str(MAX_ATTEMPTS))
    return intake


def invoke(intake: Intake, event: dict[str, Any], context: LocalContext) -> bool:
    """Deliver the event to the handler; whether it raised."""
    from vehicle_license_intake import handler

    try:
        handler.lambda_handler(event, context)
    except RecordsFailed:  # anything else escaping fails the test
        return True
    return False


def assert_matches_the_schema(item: dict[str, Any]) -> None:
    """SPEC §4, for an item whose processing ended; SPEC §11: it waits for a person exactly when
    it needs one, in the queue of its kind."""
    status = item["status"]
    assert status in ("SUCCEEDED", "UNRECOGNIZED", "REJECTED", "FAILED"), f"left {status}"
    waits = status in ("UNRECOGNIZED", "REJECTED") or (status == "SUCCEEDED" and item["needs_review"])
    if waits:
        kind = "NEEDS_REVIEW" if status == "SUCCEEDED" else status
        assert item["review"] == {"status": "PENDING"} and item["review_queue"] == kind
        assert item["review_since"] == item["processed_at"]
    else:
        assert not {"review", "review_queue", "review_since"} & set(item), item.get("review")
    for name in ("image_uri", "bucket", "object_key", "etag", "event_time", "processed_at"):
        assert isinstance(item[name], str), name
    assert item["image_uri"] == f"s3://{item['bucket']}/{item['object_key']}"
    assert isinstance(item["size"], int) and not isinstance(item["size"], bool)
    for name in ("version_id", "sequencer"):
        assert name not in item or isinstance(item[name], str)
    if "request_id" in item:
        assert isinstance(item["request_id"], str) and 0 < len(item["request_id"]) <= MAX_REQUEST_ID_CHARS
    if "attempts" in item:
        assert isinstance(item["attempts"], int) and item["attempts"] >= 1
    if status == "SUCCEEDED":
        assert "error" not in item
        license_values = item["license"]
        assert set(license_values) == set(LICENSE_FIELDS)
        for name, value in license_values.items():
            assert isinstance(value, str) and len(value) <= FIELD_MAX_CHARS[name], name
            assert not SURROGATE.search(value), name
        normalized = item["normalized"]
        assert set(normalized) == set(NORMALIZED_TYPES)
        for name, value in normalized.items():
            assert value is None or (
                isinstance(value, NORMALIZED_TYPES[name])
                and (bool not in NORMALIZED_TYPES[name]) is (not isinstance(value, bool))
            ), name
        assert normalized["plate_kind"] in (None, *PLATE_KINDS)
        reasons = item["review_reasons"]
        assert isinstance(reasons, list) and all(REASON.fullmatch(reason) for reason in reasons), reasons
        assert len(set(reasons)) == len(reasons)
        assert item["needs_review"] is bool(reasons)
    else:
        assert "license" not in item and "normalized" not in item
        error = item["error"]
        assert set(error) <= {"source", "code", "status", "message", "message_truncated"}
        assert error["source"] in ("upstream", "local")
        assert isinstance(error["code"], int | str) and not isinstance(error["code"], bool)
        assert isinstance(error["status"], str) and error["status"]
        assert isinstance(error["message"], str) and len(error["message"]) <= MAX_MESSAGE_CHARS
        assert not SURROGATE.search(error["message"])
        assert error.get("message_truncated", True) is True
    if status != "FAILED":
        assert "claim_token" not in item and "pending_outcome" not in item


def assert_nothing_personal_in(log_lines: str) -> None:
    for secret in PERSONAL:
        assert secret not in log_lines


# -- the properties --------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(answer=upstream_answers())
def test_any_upstream_answer_ends_in_a_storable_outcome_and_a_decided_one_is_never_paid_again(
    function: Intake, logs: io.StringIO, answer: tuple[int, bytes]
) -> None:
    http_status, body = answer
    intake, since = function, logs.tell()
    image = jpeg(uuid.uuid4().hex)
    key = f"uploads/answers/{uuid.uuid4().hex}.jpg"
    intake.upstream.script(image, *[Reply(http_status=http_status, body=body)] * 3)
    record = intake.put(key, image)
    context = LocalContext()

    raised = invoke(intake, s3_event(record), context)

    item = intake.item(key)
    assert item is not None
    assert_matches_the_schema(item)
    status = item["status"]
    event(f"status {status}")
    event(
        f"review reasons from bounding: {any(r.startswith('FIELD_') for r in item.get('review_reasons', []))}"
    )
    assert raised is (status == "FAILED"), "the invocation raises exactly for a FAILED record"
    assert item.get("error", {}).get("status") != "AWS_ERROR", "an answer is never an AWS error"
    expected = decided_status(body)
    if expected is not None:
        assert status == expected
    calls = intake.upstream.calls_for(image)
    letters = [m for m in intake.dead_letters() if m["body"]["image_uri"] == item["image_uri"]]
    assert len(letters) == (1 if status == "UNRECOGNIZED" else 0)
    if status in ("SUCCEEDED", "UNRECOGNIZED"):
        assert calls == 1, "a final outcome is decided on its first call"
        assert not invoke(intake, s3_event(record), context.retry())
        assert intake.upstream.calls_for(image) == 1, "Lambda's retry pays nothing more"
        assert intake.dead_letters() == []
        assert intake.item(key) == item
    else:
        assert 1 <= calls <= max(MAX_ATTEMPTS, 2), "OCR_MAX_ATTEMPTS, or one more after a 4015"
    assert_nothing_personal_in(logs.getvalue()[since:])


# -- arbitrary S3 records ----------------------------------------------------------------------

_DELETE = object()
RECORD_PATHS: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("eventSource",): st.sampled_from(["aws:s3", "aws:sqs", "", "AWS:S3"]),
    ("eventName",): st.sampled_from(
        ["ObjectCreated:Put", "ObjectCreated:Copy", "ObjectRemoved:Delete", "ObjectCreated:"]
    ),
    ("eventTime",): st.text(max_size=30),
    ("s3",): st.just({}),
    ("s3", "bucket"): st.just({}),
    ("s3", "bucket", "name"): st.sampled_from(
        ["other-bucket-that-is-not-there", "Not A Bucket!", "ab", "x" * 300]
    ),
    ("s3", "object"): st.just({}),
    ("s3", "object", "key"): st.one_of(
        st.sampled_from(["%FF%FE.jpg", "a%", "uploads/folder/", "x" * 3_500, "%E6%B2%AA+1.jpg", "", "None"]),
        st.text(max_size=30),
    ),
    ("s3", "object", "size"): st.one_of(
        st.sampled_from([-1, 0, 10**20, 1.5, "12", 10**15, 20 * 1024 * 1024]), st.integers()
    ),
    ("s3", "object", "eTag"): st.one_of(st.text(max_size=40), st.just("e" * 2_000)),
    ("s3", "object", "versionId"): st.one_of(st.text(max_size=40), st.just("null")),
    ("s3", "object", "sequencer"): st.one_of(
        st.text(alphabet="0123456789ABCDEFabcdef", max_size=70), st.text(max_size=10)
    ),
    ("userIdentity",): anything,
}


@st.composite
def s3_records(draw: st.DrawFn, intake: Intake) -> Any:
    """A record S3 could have sent for an object just uploaded, with some of its values replaced
    by anything (or removed); or any JSON value at all."""
    if draw(st.integers(0, 9)) == 0:
        return plain(draw(anything))
    kind = draw(st.sampled_from(["license", "license", "unrecognisable", "not an image", "empty"]))
    label = uuid.uuid4().hex
    body = {
        "license": jpeg(label),
        "unrecognisable": jpeg(label),
        "not an image": b"just text " + label.encode(),
        "empty": b"",
    }[kind]
    if kind == "license":
        intake.recognizable(body)
    name = draw(st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=12))
    record = json.loads(json.dumps(intake.put(f"uploads/records/{label}/{name}.jpg", body)))
    changes = draw(st.sampled_from([0, 0, 1, 1, 2, 3]))
    for path in draw(
        st.lists(st.sampled_from(sorted(RECORD_PATHS)), unique=True, min_size=changes, max_size=changes)
    ):
        value = draw(st.one_of(RECORD_PATHS[path], RECORD_PATHS[path], anything, st.just(_DELETE)))
        _replace(record, path, plain(value))
    return record


def _replace(record: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target: Any = record
    for name in path[:-1]:
        if not isinstance(target, dict) or not isinstance(target.get(name), dict):
            return
        target = target[name]
    if value is _DELETE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


@settings(PROPERTY_SETTINGS, max_examples=200)  # up to 3 uploads each: about 30 s
@given(data=st.data())
def test_any_s3_record_is_ignored_or_ends_in_one_outcome_and_only_a_failed_one_raises(
    function: Intake, logs: io.StringIO, data: st.DataObject
) -> None:
    intake, since = function, logs.tell()
    _empty_the_table(intake)
    records = data.draw(st.lists(s3_records(intake), min_size=1, max_size=3))
    delivered: Any = {"Records": records} if data.draw(st.integers(0, 9)) else plain(data.draw(anything))
    calls_before = len(intake.upstream.calls)

    raised = invoke(intake, delivered, LocalContext())

    items = _all_items(intake)
    event(f"items: {sorted(item['status'] for item in items)}")
    for item in items:
        assert_matches_the_schema(item)
        assert any(_names(record, item) for record in records), "each item is an upload of the event"
    assert raised is any(item["status"] == "FAILED" for item in items)
    # One dead letter per unrecognisable or rejected event: an item's own, and those of the
    # records for the same key that a newer record of the event replaced.
    letters = [message["body"] for message in intake.dead_letters()]
    versions = [_version(letter) for letter in letters]
    assert len(set(versions)) == len(versions), "never two dead letters for one event"
    for letter in letters:
        assert letter["status"] in ("UNRECOGNIZED", "REJECTED")
        assert letter.get("s3_record_reduced") or letter["s3_record"] in records
        assert any(letter["image_uri"] == item["image_uri"] for item in items)
    for item in items:
        if item["status"] in ("UNRECOGNIZED", "REJECTED"):
            assert _version(item) in versions, "an unrecognised or rejected item has its dead letter"
    assert len(intake.upstream.calls) - calls_before <= len(items)
    assert_nothing_personal_in(logs.getvalue()[since:])


def _version(outcome: dict[str, Any]) -> tuple[Any, ...]:
    """What tells apart two events for one key, in an item or a dead letter."""
    return tuple(outcome.get(name) for name in ("image_uri", "sequencer", "version_id", "etag"))


def _names(record: Any, item: dict[str, Any]) -> bool:
    """Whether the record names the item's object (its key a string, decoded)."""
    try:
        key = record["s3"]["object"]["key"]
        bucket = record["s3"]["bucket"]["name"]
    except (KeyError, TypeError):
        return False
    if not isinstance(key, str) or not isinstance(bucket, str):
        return False
    return bool(bucket == item["bucket"] and unquote_plus(key, errors="replace") == item["object_key"])


def _all_items(intake: Intake) -> list[dict[str, Any]]:
    from vehicle_license_intake.results import plain

    table = intake.session.resource("dynamodb").Table(intake.stack.table)
    return [plain(item) for item in table.scan(ConsistentRead=True)["Items"]]


def _empty_the_table(intake: Intake) -> None:
    table = intake.session.resource("dynamodb").Table(intake.stack.table)
    for item in table.scan(ProjectionExpression="image_uri")["Items"]:
        table.delete_item(Key={"image_uri": item["image_uri"]})
    intake.dead_letters()  # and the queue
