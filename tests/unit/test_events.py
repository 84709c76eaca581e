"""S3 records: decoding, identity and order, and the sample events shipped in events/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vehicle_license_intake.events import Ignored, Upload, parse_record, uploads_in

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


def test_sample_upload_event_parses_into_one_upload() -> None:
    (upload,) = uploads_in(load("s3-put.json"))
    assert isinstance(upload, Upload)
    assert (
        upload.image_uri
        == "s3://vehicle-license-intake-uploads-123456789012/uploads/2026/06/license-0001.jpg"
    )
    assert upload.version_id == "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd" and upload.size == 272482


def test_sample_event_with_spaces_and_chinese_characters_is_decoded() -> None:
    (upload,) = uploads_in(load("s3-put-encoded-key.json"))
    assert isinstance(upload, Upload)
    assert upload.key == "uploads/我的行驶证 沪A12345 副本.jpg"


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [("a+b.jpg", "a b.jpg"), ("a%2Bb.jpg", "a+b.jpg"), ("%E6%B2%AA.jpg", "沪.jpg"), ("x%2Fy.jpg", "x/y.jpg")],
)
def test_keys_are_url_decoded(encoded: str, decoded: str) -> None:
    record = load("s3-put.json")["Records"][0]
    record["s3"]["object"]["key"] = encoded
    upload = parse_record(record)
    assert isinstance(upload, Upload) and upload.key == decoded


def test_invalid_utf8_in_a_key_is_an_unknown_shape_not_a_crash() -> None:
    record = load("s3-put.json")["Records"][0]
    record["s3"]["object"]["key"] = "%FF%FE.jpg"
    assert isinstance(parse_record(record), Ignored)


def test_sequencer_order_is_right_padded_and_case_folded() -> None:
    record = load("s3-put.json")["Records"][0]
    short, longer = dict(record), json.loads(json.dumps(record))
    short["s3"] = {**record["s3"], "object": {**record["s3"]["object"], "sequencer": "ff"}}
    longer["s3"]["object"]["sequencer"] = "0100"
    a, b = parse_record(short), parse_record(longer)
    assert isinstance(a, Upload) and isinstance(b, Upload)
    assert a.sequencer_order is not None and b.sequencer_order is not None
    assert a.sequencer_order > b.sequencer_order, "FF00... is after 0100..."
    assert a.sequencer_order.startswith("FF") and len(a.sequencer_order) == 64
