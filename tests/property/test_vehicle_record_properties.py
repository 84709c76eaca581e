"""Properties of the vehicle-record rules (domain/vehicle.py) over arbitrary histories of uploads:
any set of readings of one plate (main, secondary or both pages, raw or reviewed, several per key
as newer uploads replace older ones), applied in any order, any number of times.

- the order of arrival and duplicates do not matter: the record is the same;
- applying a reading a second time changes nothing;
- each page is held by a reviewed reading whenever one exists for it;
- every value in `fields` is the value of the upload and page it names;
- withdrawing an upload leaves the record it would be without that upload.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vehicle_license_intake.domain import vehicle
from vehicle_license_intake.domain.fields import LICENSE_FIELDS, MAIN_PAGE_FIELDS, SECONDARY_PAGE_FIELDS
from vehicle_license_intake.domain.vehicle import PageReading

PLATE = "沪A12345"
VINS = ("LSVWY4180KN246094", "LFWSRXNH6AAD38754")
PAGES = {"main": MAIN_PAGE_FIELDS, "secondary": SECONDARY_PAGE_FIELDS, "both": LICENSE_FIELDS}


@st.composite
def readings(draw: st.DrawFn) -> list[PageReading]:
    """The current reading of a few keys (events only ever give a key's current upload)."""
    keys = draw(
        st.lists(st.sampled_from(["a.jpg", "b.jpg", "c.jpg", "d.jpg"]), min_size=1, max_size=4, unique=True)
    )
    found = []
    for key in keys:
        shown = PAGES[draw(st.sampled_from(sorted(PAGES)))]
        values = dict.fromkeys(LICENSE_FIELDS, "")
        for name in shown:
            values[name] = draw(st.sampled_from(["x", "y"])) if name not in ("plate_number", "vin") else ""
        values["plate_number"] = PLATE
        if "vin" in shown:
            values["vin"] = draw(st.sampled_from(VINS))
        reviewed = draw(st.booleans())
        at = f"2026-11-24T10:{draw(st.integers(0, 5)):02d}:00.000Z"
        stored: dict[str, Any] = {
            "image_uri": f"s3://bucket/uploads/{key}",
            "identity": f"seq:{key}:{draw(st.integers(1, 2))}",
            "version_id": "v",
            "status": "SUCCEEDED",
            "processed_at": at,
            "license": values,
        }
        if reviewed:
            stored["review"] = {
                "status": "APPROVED",
                "decided_at": f"2026-11-24T11:{draw(st.integers(0, 5)):02d}:00.000Z",
            }
            stored["reviewed_license"] = values
        reading = vehicle.reading_from_item(stored)
        assert isinstance(reading, PageReading)
        found.append(reading)
    return found


def built(order: list[PageReading]) -> dict[str, Any]:
    record = vehicle.empty_record(PLATE)
    for reading in order:
        record = vehicle.merge_reading(record, reading)
    return record


@given(readings(), st.randoms(use_true_random=False), st.lists(st.integers(0, 3), max_size=4))
def test_the_record_does_not_depend_on_the_order_of_arrival_or_duplicates(
    given_readings: list[PageReading], random: Any, duplicates: list[int]
) -> None:
    shuffled = list(given_readings)
    random.shuffle(shuffled)
    shuffled += [given_readings[i % len(given_readings)] for i in duplicates]
    assert vehicle.same_content(built(given_readings), built(shuffled))


@given(readings())
def test_applying_a_reading_again_changes_nothing(given_readings: list[PageReading]) -> None:
    record = built(given_readings)
    for reading in given_readings:
        assert vehicle.merge_reading(record, reading) == record


@given(readings())
def test_pages_go_to_reviewed_readings_and_values_name_their_upload(
    given_readings: list[PageReading],
) -> None:
    record = built(given_readings)
    by_uri = {r.image_uri: r for r in given_readings}
    for page, slot in record["pages"].items():
        reviewed_exists = any(r.reviewed and page in r.pages for r in given_readings)
        assert slot["reviewed"] is reviewed_exists
    for name, field in record["fields"].items():
        assert by_uri[field["image_uri"]].values[name] == field["value"]
        assert record["pages"][field["page"]]["image_uri"] == field["image_uri"]
    vins = {r.values["vin"] for r in given_readings if "main" in r.pages}
    assert ("VIN_MISMATCH" in record["review_reasons"]) is (len(vins) > 1)
    assert record["complete"] is (set(record["pages"]) == {"main", "secondary"})


@given(readings(), st.integers(0, 3))
def test_withdrawing_an_upload_is_never_having_had_it(given_readings: list[PageReading], which: int) -> None:
    gone = given_readings[which % len(given_readings)]
    rest = [r for r in given_readings if r.image_uri != gone.image_uri]
    assert vehicle.same_content(vehicle.withdraw_upload(built(given_readings), gone.image_uri), built(rest))
