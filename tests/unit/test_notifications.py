"""SPEC §10: the event of each final outcome, checked against its committed JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from vehicle_license_intake.notifications import DetailType, outcome_event

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "events"

ITEM: dict[str, Any] = {
    "image_uri": "s3://bucket/uploads/car.jpg",
    "bucket": "bucket",
    "object_key": "uploads/car.jpg",
    "version_id": "v1",
    "status": "SUCCEEDED",
    "review_reasons": [],
    "needs_review": False,
    "processed_at": "2026-11-24T08:00:00.000Z",
    "attempts": 1,
    "license": {
        "owner": "王测试",
        "address": "上海市测试路1号",
        "vin": "LSVWY4180KN246094",
        "plate_number": "沪A12345",
    },
    "normalized": {"owner": "王测试", "vin": "LSVWY4180KN246094", "plate_number": "沪A12345"},
}


def schema_for(detail_type: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / f"{detail_type.lower().replace(' ', '-')}.json").read_text()))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, DetailType.RECOGNIZED),
        ({"review_reasons": ["VIN_CHECK_DIGIT"], "needs_review": True}, DetailType.NEEDS_REVIEW),
        (
            {
                "status": "UNRECOGNIZED",
                "error": {"source": "upstream", "code": 5021, "status": "UPSTREAM_INVALID", "message": "m"},
            },
            DetailType.UNRECOGNIZED,
        ),
        (
            {
                "status": "REJECTED",
                "error": {"source": "local", "code": "EMPTY_OBJECT", "status": "REJECTED", "message": "m"},
            },
            DetailType.REJECTED,
        ),
        (
            {
                "status": "FAILED",
                "error": {"source": "upstream", "code": 5020, "status": "UPSTREAM_ERROR", "message": "m"},
            },
            DetailType.FAILED,
        ),
    ],
)
def test_each_final_outcome_has_its_detail_type_and_matches_its_schema(
    changes: dict[str, Any], expected: DetailType
) -> None:
    event = outcome_event({**ITEM, **changes}, identity="seq:1")

    assert event.detail_type is expected
    jsonschema.validate(event.detail, schema_for(expected.value))


def test_an_event_carries_no_field_value() -> None:
    event = outcome_event(ITEM, identity="seq:1")
    text = json.dumps(event.detail, ensure_ascii=False)
    for value in ("王测试", "上海市测试路1号", "LSVWY4180KN246094", "沪A12345"):
        assert value not in text


def test_the_event_id_is_stable_per_outcome_and_differs_between_outcomes() -> None:
    first = outcome_event(ITEM, identity="seq:1").detail["event_id"]
    assert outcome_event(dict(ITEM), identity="seq:1").detail["event_id"] == first
    assert outcome_event(ITEM, identity="seq:2").detail["event_id"] != first
    failed = {**ITEM, "status": "FAILED", "error": {"code": 5020, "status": "UPSTREAM_ERROR"}}
    assert outcome_event(failed, identity="seq:1").detail["event_id"] != first


def test_every_committed_schema_is_a_valid_json_schema() -> None:
    names = sorted(p.name for p in SCHEMAS.glob("*.json"))
    assert names, "schemas/events/ holds one schema per detail-type"
    for path in SCHEMAS.glob("*.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))
