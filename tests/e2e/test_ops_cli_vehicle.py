"""`vehicle-license-intake vehicle PLATE_OR_VIN` and `vehicle --waiting` (SPEC §12) against the
template deployed into a moto server, reached by `--endpoint-url`; the intake and records
functions run in-process, fed by their queues (tests/ops_stack.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import LICENSE, OWNER
from ops_stack import LiveStack, live_stack, use_stack
from vehicle_license_records import handler as records_handler
from vehicle_license_tools.delivery import QueueConsumer
from vehicle_records_stack import main_page, secondary_page

pytestmark = pytest.mark.slow
PLATE = LICENSE["plate_number"]


@pytest.fixture(scope="module")
def deployed() -> Iterator[LiveStack]:
    with live_stack() as live:
        yield live


@pytest.fixture
def live(deployed: LiveStack, monkeypatch: pytest.MonkeyPatch) -> LiveStack:
    used = use_stack(deployed, monkeypatch)
    for name in ("VEHICLE_TABLE_NAME", "RESULTS_TABLE_NAME", "EVENT_BUS_NAME"):
        monkeypatch.setenv(name, used.stack.records_function_environment[name])
    records_handler.reset()
    return used


def processed(live: LiveStack, **uploads: dict[str, str]) -> None:
    """Upload each page, let the intake function read it and the records function join it."""
    for key, values in uploads.items():
        body = live.recognizable(key)
        live.recognizer.add(body, values)
        live.put(key, body)
    live.drain()
    QueueConsumer.for_vehicle_events(live.stack, live.client("sqs"), records_handler.lambda_handler).drain()


def test_vehicle_shows_the_record_of_a_plate_each_value_with_its_upload_and_owner_masked(
    live: LiveStack,
) -> None:
    processed(live, **{"main.jpg": main_page(), "secondary.jpg": secondary_page()})

    run = live.cli("vehicle", PLATE)

    assert run.code == 0, run.err
    assert f"{PLATE}  complete" in run.out
    assert f"main page       {live.uri('main.jpg')}" in run.out
    assert f"secondary page  {live.uri('secondary.jpg')}" in run.out
    assert "(Vehicle Record Complete published)" in run.out
    assert f"{LICENSE['vin']}   (main page: main.jpg)" in run.out
    assert f"{LICENSE['total_mass']}   (secondary page: secondary.jpg)" in run.out
    assert OWNER not in run.out and OWNER[0] + "*" in run.out


def test_vehicle_finds_the_record_by_vin_or_by_upload_as_json(live: LiveStack) -> None:
    processed(live, **{"main.jpg": main_page()})

    by_vin = live.cli("--json", "vehicle", LICENSE["vin"].lower())
    by_upload = live.cli("--json", "vehicle", "uploads/main.jpg", "--show-personal-data")

    assert by_vin.code == 0 and by_upload.code == 0, (by_vin.err, by_upload.err)
    (record,) = by_vin.json()
    assert record["plate"] == PLATE and record["complete"] is False and record["waiting_for"] == "secondary"
    assert record["fields"]["owner"]["value"] != OWNER
    assert "values" not in record["pages"]["main"], "each value shown once, in fields"
    assert by_upload.json()[0]["fields"]["owner"] == {
        "value": OWNER,
        "image_uri": live.uri("main.jpg"),
        "page": "main",
        "reviewed": False,
    }


def test_vehicle_waiting_lists_one_page_records_and_pages_without_a_plate(live: LiveStack) -> None:
    processed(live, **{"main.jpg": main_page(), "no-plate.jpg": secondary_page(plate_number="")})

    run = live.cli("vehicle", "--waiting")
    as_json = live.cli("--json", "vehicle", "--waiting").json()

    assert run.code == 0, run.err
    assert "waiting for the secondary page: 1" in run.out
    assert "waiting for a plate (no plate could be read): 1" in run.out
    assert as_json["secondary"][0]["plate"] == PLATE
    assert as_json["plate"] == [
        {
            "plate": None,
            "pages": {"secondary": live.uri("no-plate.jpg")},
            "review_reasons": [],
            "since": as_json["plate"][0]["since"],
        }
    ]


def test_vehicle_says_plainly_when_there_is_no_record(live: LiveStack) -> None:
    run = live.cli("vehicle", "京A00000")

    assert run.code == 1
    assert "no vehicle record for 京A00000" in run.err
