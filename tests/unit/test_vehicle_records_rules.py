"""The vehicle-record rules (SPEC §12, domain/vehicle.py) on plain dicts, as the results table
stores uploads."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from conftest import LICENSE
from vehicle_license_intake.domain import vehicle
from vehicle_license_intake.domain.fields import LICENSE_FIELDS, MAIN_PAGE_FIELDS, SECONDARY_PAGE_FIELDS
from vehicle_license_intake.domain.vehicle import PageReading, Withdrawn

BOTH = LICENSE  # both pages of the license every test starts from


def page(which: str, **changes: str) -> dict[str, str]:
    """The values an upload of that page ("main", "secondary" or "both") is read as."""
    shown = {"main": MAIN_PAGE_FIELDS, "secondary": SECONDARY_PAGE_FIELDS}.get(which, LICENSE_FIELDS)
    return {name: changes.get(name, BOTH[name]) if name in shown else "" for name in LICENSE_FIELDS}


def item(
    key: str,
    values: dict[str, str],
    *,
    at: str = "2026-11-24T10:00:00.000Z",
    identity: str | None = None,
    review: dict[str, Any] | None = None,
    reviewed: dict[str, str] | None = None,
) -> dict[str, Any]:
    stored: dict[str, Any] = {
        "image_uri": f"s3://bucket/uploads/{key}",
        "identity": identity or f"seq:{key}",
        "version_id": f"v-{key}",
        "status": "SUCCEEDED",
        "processed_at": at,
        "license": values,
    }
    if review is not None:
        stored["review"] = review
    if reviewed is not None:
        stored["reviewed_license"] = reviewed
    return stored


def reading(stored: dict[str, Any]) -> PageReading:
    found = vehicle.reading_from_item(stored)
    assert isinstance(found, PageReading)
    return found


def built(*stored: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = vehicle.empty_record("沪A12345")
    for one in stored:
        record = vehicle.merge_reading(record, reading(one))
    return record


def test_pages_shown_are_the_pages_whose_own_fields_have_values() -> None:
    assert vehicle.pages_shown(page("main")) == ("main",)
    assert vehicle.pages_shown(page("secondary")) == ("secondary",)
    assert vehicle.pages_shown(page("both")) == ("main", "secondary")
    assert (
        vehicle.pages_shown(
            {
                **page("main"),
                "vehicle_type": "",
                "owner": "-",
                "address": "--",
                "use_character": "",
                "model": "",
                "vin": "",
                "engine_number": "",
                "register_date": "",
                "issue_date": "",
                "license_issuing_authority": "",
            }
        )
        == ()
    )


def test_the_two_pages_join_into_one_complete_record_with_each_value_traced_to_its_upload() -> None:
    record = built(item("main.jpg", page("main")), item("secondary.jpg", page("secondary")))
    assert record["complete"] is True and "waiting_for" not in record
    assert record["fields"]["vin"] == {
        "value": "LSVWY4180KN246094",
        "image_uri": "s3://bucket/uploads/main.jpg",
        "page": "main",
        "reviewed": False,
    }
    assert record["fields"]["total_mass"]["image_uri"] == "s3://bucket/uploads/secondary.jpg"
    assert record["fields"]["plate_number"]["page"] == "main"
    assert record["vin"] == "LSVWY4180KN246094"
    assert record["review_reasons"] == []


def test_every_order_and_any_duplicates_give_the_same_record() -> None:
    uploads = [
        item("main.jpg", page("main")),
        item("secondary.jpg", page("secondary")),
        item("main.jpg", page("main")),
    ]
    results = [built(*order) for order in itertools.permutations(uploads)]
    assert all(vehicle.same_content(results[0], other) for other in results[1:])


def test_one_photo_with_both_pages_completes_the_record_alone() -> None:
    record = built(item("both.jpg", page("both")))
    assert record["complete"] is True
    assert {slot["image_uri"] for slot in record["pages"].values()} == {"s3://bucket/uploads/both.jpg"}


def test_applying_the_same_reading_again_changes_nothing() -> None:
    once = built(item("main.jpg", page("main")))
    assert vehicle.merge_reading(once, reading(item("main.jpg", page("main")))) == once


def test_a_newer_raw_reading_replaces_an_older_raw_one_and_not_the_other_way_round() -> None:
    older = item("a.jpg", page("main", engine_number="OLD"), at="2026-11-24T10:00:00.000Z")
    newer = item("b.jpg", page("main", engine_number="NEW"), at="2026-11-24T11:00:00.000Z")
    assert built(older, newer)["fields"]["engine_number"]["value"] == "NEW"
    assert built(newer, older)["fields"]["engine_number"]["value"] == "NEW"


def test_reviewed_values_win_over_raw_ones_even_newer_ones() -> None:
    decided = {"status": "CORRECTED", "decided_at": "2026-11-24T10:30:00.000Z"}
    corrected = item("a.jpg", page("main"), review=decided, reviewed=page("main", engine_number="REVIEWED"))
    newer_raw = item("b.jpg", page("main", engine_number="RAW"), at="2026-11-24T12:00:00.000Z")
    for order in ((corrected, newer_raw), (newer_raw, corrected)):
        record = built(*order)
        assert record["fields"]["engine_number"] == {
            "value": "REVIEWED",
            "image_uri": "s3://bucket/uploads/a.jpg",
            "page": "main",
            "reviewed": True,
        }


def test_a_newer_upload_of_the_same_key_replaces_its_reviewed_slot() -> None:
    decided = {"status": "APPROVED", "decided_at": "2026-11-24T10:30:00.000Z"}
    approved = item("a.jpg", page("main"), review=decided, reviewed=page("main"))
    reupload = item(
        "a.jpg", page("main", engine_number="NEW"), at="2026-11-24T12:00:00.000Z", identity="seq:2"
    )
    record = built(approved, reupload)
    assert record["fields"]["engine_number"] == {
        "value": "NEW",
        "image_uri": "s3://bucket/uploads/a.jpg",
        "page": "main",
        "reviewed": False,
    }


def test_a_rejected_review_or_an_item_without_values_contributes_nothing() -> None:
    rejected = item("a.jpg", page("main"), review={"status": "REJECTED", "decided_at": "x"})
    assert isinstance(vehicle.reading_from_item(rejected), Withdrawn)
    assert isinstance(
        vehicle.reading_from_item({**item("b.jpg", page("main")), "status": "FAILED"}), Withdrawn
    )


def test_withdrawing_an_upload_gives_its_page_back_to_the_best_other_upload() -> None:
    a = item("a.jpg", page("main"))
    b = item("b.jpg", page("main", vin="LFWSRXNH6AAD38754"), at="2026-11-24T11:00:00.000Z")
    record = built(a, b)
    assert record["review_reasons"] == ["VIN_MISMATCH"]
    assert record["pages"]["main"]["image_uri"] == "s3://bucket/uploads/b.jpg"
    after = vehicle.withdraw_upload(record, "s3://bucket/uploads/b.jpg")
    assert after["review_reasons"] == []
    assert after["pages"]["main"]["image_uri"] == "s3://bucket/uploads/a.jpg"
    assert after["fields"]["vin"]["value"] == "LSVWY4180KN246094"
    emptied = vehicle.withdraw_upload(after, "s3://bucket/uploads/a.jpg")
    assert emptied["pages"] == {} and emptied["fields"] == {} and "waiting_for" not in emptied


def test_equal_readings_of_two_uploads_give_the_page_to_the_same_one_in_any_order() -> None:
    a, b = item("a.jpg", page("main")), item("b.jpg", page("main", engine_number="B"))
    assert built(a, b)["pages"] == built(b, a)["pages"]


def test_two_main_pages_with_different_vins_are_a_vin_mismatch_in_any_order() -> None:
    a = item("a.jpg", page("main"))
    b = item("b.jpg", page("main", vin="LFWSRXNH6AAD38754"), at="2026-11-24T11:00:00.000Z")
    assert built(a, b)["review_reasons"] == ["VIN_MISMATCH"]
    assert built(b, a)["review_reasons"] == ["VIN_MISMATCH"]


def test_a_corrected_vin_clears_the_mismatch() -> None:
    b = item("b.jpg", page("main", vin="LFWSRXNH6AAD38754"), at="2026-11-24T11:00:00.000Z")
    corrected = {
        **b,
        "review": {"status": "CORRECTED", "decided_at": "2026-11-24T12:00:00.000Z"},
        "reviewed_license": page("main"),
    }
    assert built(item("a.jpg", page("main")), b, corrected)["review_reasons"] == []


def test_two_secondary_pages_with_different_document_ids_are_a_document_id_mismatch() -> None:
    record = built(
        item("a.jpg", page("secondary")), item("b.jpg", page("secondary", document_id="310099999999"))
    )
    assert record["review_reasons"] == ["DOCUMENT_ID_MISMATCH"]


def test_a_one_page_record_waits_for_the_page_it_misses() -> None:
    assert built(item("a.jpg", page("main")))["waiting_for"] == "secondary"
    assert built(item("a.jpg", page("secondary")))["waiting_for"] == "main"


def test_a_page_without_a_plate_waits_in_a_record_of_its_own() -> None:
    found = reading(item("a.jpg", page("secondary", plate_number="")))
    assert found.plate is None and found.record_key == "unmatched#s3://bucket/uploads/a.jpg"
    record = vehicle.merge_reading(vehicle.empty_record(found.record_key), found)
    assert record["waiting_for"] == "plate" and "vehicle_id" not in record


def test_plates_one_character_apart_on_one_page_records_missing_each_others_page_are_near_matches() -> None:
    main_only = {**built(item("a.jpg", page("main"))), "plate": "沪A12345"}
    secondary_only = {**built(item("b.jpg", page("secondary", plate_number="沪A12346"))), "plate": "沪A12346"}
    other_main = {**built(item("c.jpg", page("main", plate_number="沪A12347"))), "plate": "沪A12347"}
    assert vehicle.near_match_candidates(secondary_only, [main_only, other_main]) == ["沪A12345", "沪A12347"]
    assert vehicle.near_match_candidates(main_only, [other_main]) == []  # both miss the same page
    marked = vehicle.set_near_matches(secondary_only, ["沪A12345"])
    assert marked["review_reasons"] == ["PLATE_NEAR_MATCH:沪A12345"]
    assert "fields" in marked and marked["pages"].keys() == {"secondary"}  # not joined


def test_a_complete_record_drops_its_near_matches() -> None:
    marked = vehicle.set_near_matches(built(item("a.jpg", page("main"))), ["沪A12346"])
    assert vehicle.merge_reading(marked, reading(item("b.jpg", page("secondary"))))["review_reasons"] == []


@pytest.mark.parametrize(
    ("a", "b", "apart"),
    [
        ("沪A12345", "沪A12346", True),
        ("沪A12345", "沪A12345", False),
        ("沪A12345", "沪A1234", False),
        ("沪A12345", "京A12346", False),
    ],
)
def test_one_character_apart(a: str, b: str, apart: bool) -> None:
    assert vehicle.one_character_apart(a, b) is apart


def test_the_vehicle_id_is_stable_and_does_not_show_the_plate() -> None:
    assert vehicle.vehicle_id("沪A12345") == vehicle.vehicle_id("沪A12345") != vehicle.vehicle_id("沪A12346")
    assert "12345" not in vehicle.vehicle_id("沪A12345")
