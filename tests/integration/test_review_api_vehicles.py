"""`GET /api/vehicles/{plate_or_vin}` of the review API (SPEC §12 on the desk) against the
deployed stack: pages read by the intake handler, joined by the records handler, shown to an
authenticated reviewer as API Gateway passes the request."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from conftest import LICENSE, OWNER, Intake
from vehicle_license_intake.config import load_from_env
from vehicle_license_review.api import upload_id
from vehicle_license_review.app import build_api
from vehicle_license_review.config import ReviewSettings
from vehicle_records_stack import PLATE, Vehicles, main_page, secondary_page


@pytest.fixture
def vehicles(intake: Intake) -> Vehicles:
    helper = Vehicles(intake)
    helper.configure()
    return helper


def get(
    intake: Intake, path: str, *, groups: str = "[reviewers]", user: str | None = "alice", **settings: str
) -> tuple[int, Any]:
    environment = {**intake.stack.review_function_environment, **settings}
    api = build_api(load_from_env(ReviewSettings, environment))
    context: dict[str, Any] = {"http": {"method": "GET", "path": path}}
    if user is not None:
        claims = {"sub": f"sub-{user}", "username": user, "token_use": "access", "cognito:groups": groups}
        context["authorizer"] = {"jwt": {"claims": claims}}
    answer = api.handle(
        {"version": "2.0", "rawPath": path, "requestContext": context, "isBase64Encoded": False}
    )
    return answer["statusCode"], json.loads(answer["body"])


def test_a_reviewer_sees_the_record_of_a_plate_with_each_page_and_its_upload(vehicles: Vehicles) -> None:
    vehicles.upload("uploads/main.jpg", main_page())
    vehicles.upload("uploads/secondary.jpg", secondary_page())
    vehicles.deliver()

    status, body = get(vehicles.intake, f"/api/vehicles/{quote(PLATE)}")

    assert status == 200, body
    (record,) = body["records"]
    assert record["plate"] == PLATE and record["complete"] is True and record["review_reasons"] == []
    main = record["pages"]["main"]
    assert main["image_uri"] == vehicles.uri("uploads/main.jpg")
    assert main["id"] == upload_id(main["image_uri"]), "the page opens the upload it came from"
    assert record["fields"]["owner"] == {
        "value": OWNER,
        "image_uri": vehicles.uri("uploads/main.jpg"),
        "page": "main",
        "reviewed": False,
    }
    assert "values" not in main


def test_a_reviewer_finds_the_record_by_vin(vehicles: Vehicles) -> None:
    vehicles.upload("uploads/main.jpg", main_page())
    vehicles.deliver()

    status, body = get(vehicles.intake, f"/api/vehicles/{LICENSE['vin']}")

    assert status == 200 and body["records"][0]["waiting_for"] == "secondary"


def test_the_vehicle_route_refuses_like_every_other_route(vehicles: Vehicles) -> None:
    path = f"/api/vehicles/{quote(PLATE)}"
    assert get(vehicles.intake, path, user=None)[0] == 401
    assert get(vehicles.intake, path, groups="[drivers]")[0] == 403
    assert get(vehicles.intake, "/api/vehicles/%3Cscript%3E")[0] == 400
    status, body = get(vehicles.intake, f"/api/vehicles/{quote('京A00000')}")
    assert status == 404 and body["error"] == "NOT_FOUND" and "京A00000" not in body["message"]
    assert get(vehicles.intake, path, VEHICLE_TABLE_NAME="")[0] == 404


def test_the_page_has_the_vehicle_panel_and_fills_it_only_with_text(intake: Intake) -> None:
    status, _ = get(intake, "/api/me")
    assert status == 200
    api = build_api(load_from_env(ReviewSettings, intake.stack.review_function_environment))
    page = api.handle({"rawPath": "/", "requestContext": {"http": {"method": "GET", "path": "/"}}})["body"]
    script = api.handle(
        {"rawPath": "/desk.js", "requestContext": {"http": {"method": "GET", "path": "/desk.js"}}}
    )["body"]
    assert 'id="vehicle"' in page and "Vehicle record" in page
    assert "/api/vehicles/${encodeURIComponent(plate)}" in script
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
