"""SPEC §11 through the review API against the deployed stack: uploads processed by the real
handler, then every action and every refusal of the desk, the item, the audit trail and the
License Reviewed event each leaves. Requests are the API Gateway HTTP API events the function
receives in AWS, with the claims its JWT authorizer passes (tests/e2e covers the authorizer
itself with real Cognito tokens)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import LICENSE, OWNER, Intake, jpeg, valid_event
from vehicle_license_intake.config import load_from_env
from vehicle_license_intake.domain.vin import with_check_digit
from vehicle_license_review.api import ReviewApi, upload_id
from vehicle_license_review.app import build_api
from vehicle_license_review.config import ReviewSettings

GOOD_VIN = LICENSE["vin"]
# One character wrong (the recognizer misread a digit): the check digit no longer holds.
BAD_VIN = GOOD_VIN[:11] + ("7" if GOOD_VIN[11] != "7" else "8") + GOOD_VIN[12:]
assert with_check_digit(GOOD_VIN) == GOOD_VIN and with_check_digit(BAD_VIN) != BAD_VIN


class Clock:
    """The desk's time: a millisecond passes at each reading (a person's actions are never in
    the same millisecond); a test moves it on further."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


class Desk:
    """The review API as deployed, called as API Gateway calls it."""

    def __init__(self, intake: Intake, clock: Clock) -> None:
        self.intake = intake
        self.clock = clock
        settings = load_from_env(ReviewSettings, intake.stack.review_function_environment)
        self.api: ReviewApi = build_api(settings, clock=clock)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        user: str | None = "alice",
        groups: str = "[reviewers]",
        query: dict[str, str] | None = None,
        raw_body: str | None = None,
    ) -> tuple[int, Any]:
        context: dict[str, Any] = {"http": {"method": method, "path": path}}
        if user is not None:
            claims = {"sub": f"sub-{user}", "username": user, "token_use": "access", "cognito:groups": groups}
            context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        event = {
            "version": "2.0",
            "rawPath": path,
            "requestContext": context,
            "queryStringParameters": query,
            "body": raw_body if raw_body is not None else (None if body is None else json.dumps(body)),
            "isBase64Encoded": False,
        }
        answer = self.api.handle(event)
        content = answer["body"]
        if answer["headers"].get("Content-Type") == "application/json":
            content = json.loads(content)
        return answer["statusCode"], content

    def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        status, content = self.call(method, path, body, **kwargs)
        assert status == 200, content
        return content

    def upload_path(self, key: str) -> str:
        return f"/api/uploads/{upload_id(f's3://{self.intake.stack.bucket}/{key}')}"

    def view(self, key: str, user: str = "alice") -> Any:
        return self.ok("GET", self.upload_path(key), user=user)

    def act(self, key: str, verb: str, user: str = "alice", **body: Any) -> tuple[int, Any]:
        identity = body.pop("identity", None) or self.view(key)["identity"]
        return self.call("POST", f"{self.upload_path(key)}/{verb}", {"identity": identity, **body}, user=user)

    def trail(self, key: str) -> list[dict[str, Any]]:
        table = self.intake.session.resource("dynamodb").Table(self.intake.stack.trail_table)
        items = table.query(
            KeyConditionExpression="image_uri = :uri",
            ExpressionAttributeValues={":uri": f"s3://{self.intake.stack.bucket}/{key}"},
        )["Items"]
        return [dict(i) for i in items]


@pytest.fixture
def desk(intake: Intake) -> Desk:
    return Desk(intake, Clock())


def needs_review(intake: Intake, key: str, **fields: str) -> None:
    """An upload the function stores SUCCEEDED with review reasons."""
    intake.upload(key, intake.recognizable(jpeg(key), **fields))
    item = intake.item(key)
    assert item is not None and item["needs_review"], item


def unrecognized(intake: Intake, key: str) -> None:
    intake.upload(key, jpeg(key))  # the emulator answers 5021 for an image it does not know
    item = intake.item(key)
    assert item is not None and item["status"] == "UNRECOGNIZED"


def rejected(intake: Intake, key: str) -> None:
    intake.upload(key, b"not an image at all")
    item = intake.item(key)
    assert item is not None and item["status"] == "REJECTED"


# -- the queue ------------------------------------------------------------------------------------
def test_the_queue_lists_waiting_uploads_oldest_first_with_counts_per_kind(
    intake: Intake, desk: Desk
) -> None:
    needs_review(intake, "uploads/a-vin.jpg", vin=BAD_VIN)
    unrecognized(intake, "uploads/b-street.jpg")
    rejected(intake, "uploads/c-text.jpg")
    intake.upload("uploads/d-clean.jpg", intake.recognizable(jpeg("clean")))
    assert intake.item("uploads/d-clean.jpg")["needs_review"] is False  # type: ignore[index]

    queue = desk.ok("GET", "/api/queue")

    assert queue["counts"] == {"NEEDS_REVIEW": 1, "UNRECOGNIZED": 1, "REJECTED": 1}
    keys = [entry["object_key"] for entry in queue["items"]]
    assert keys == ["uploads/a-vin.jpg", "uploads/b-street.jpg", "uploads/c-text.jpg"]
    assert [entry["since"] for entry in queue["items"]] == sorted(entry["since"] for entry in queue["items"])
    first = queue["items"][0]
    assert first["kind"] == "NEEDS_REVIEW" and "VIN_CHECK_DIGIT" in first["review_reasons"]
    assert first["available"] is True and first["review"]["status"] == "PENDING"
    assert queue["cursor"] is None


def test_the_queue_filters_by_kind_and_by_review_reason(intake: Intake, desk: Desk) -> None:
    needs_review(intake, "uploads/vin.jpg", vin=BAD_VIN)
    needs_review(intake, "uploads/no-owner.jpg", owner="")
    unrecognized(intake, "uploads/street.jpg")

    by_kind = desk.ok("GET", "/api/queue", query={"kind": "unrecognized"})
    by_reason = desk.ok("GET", "/api/queue", query={"reason": "MISSING:owner"})

    assert [e["object_key"] for e in by_kind["items"]] == ["uploads/street.jpg"]
    assert [e["object_key"] for e in by_reason["items"]] == ["uploads/no-owner.jpg"]
    assert desk.call("GET", "/api/queue", query={"kind": "everything"})[0] == 400
    assert desk.call("GET", "/api/queue", query={"reason": "<script>"})[0] == 400
    assert desk.call("GET", "/api/queue", query={"limit": "1000"})[0] == 400


def test_the_queue_pages_through_every_waiting_upload_once(intake: Intake, desk: Desk) -> None:
    for n in range(5):
        needs_review(intake, f"uploads/vin-{n}.jpg", vin=BAD_VIN)
    for n in range(2):
        unrecognized(intake, f"uploads/street-{n}.jpg")

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = desk.ok("GET", "/api/queue", query={"limit": "2", **({"cursor": cursor} if cursor else {})})
        assert len(page["items"]) <= 2
        seen += [e["object_key"] for e in page["items"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted({*seen}) and len(seen) == 7
    assert desk.call("GET", "/api/queue", query={"cursor": "bm90LWEtY3Vyc29y"})[0] == 400


# -- one upload -----------------------------------------------------------------------------------
def test_an_upload_shows_each_reason_on_its_field_and_a_short_lived_image_url(
    intake: Intake, desk: Desk
) -> None:
    needs_review(intake, "uploads/vin.jpg", vin=BAD_VIN, owner="")

    upload = desk.view("uploads/vin.jpg")

    assert upload["license"]["vin"] == BAD_VIN
    assert upload["field_reasons"]["vin"] == ["VIN_CHECK_DIGIT"]
    assert upload["field_reasons"]["owner"] == ["MISSING:owner"]
    url = urlsplit(upload["image_url"])
    query = parse_qs(url.query)
    assert url.path.endswith("/uploads/vin.jpg") and query["X-Amz-Expires"] == ["300"]
    assert "X-Amz-Signature" in query and "versionId" in query, "signed, and for the version reviewed"
    assert upload["trail"] == []
    assert desk.call("GET", desk.upload_path("uploads/never.jpg"))[0] == 404
    assert desk.call("GET", "/api/uploads/%%%")[0] == 404


def test_validate_applies_the_functions_rules_to_the_reviewers_values(desk: Desk) -> None:
    bad = desk.ok("POST", "/api/validate", {"license": {**LICENSE, "vin": BAD_VIN}})
    good = desk.ok("POST", "/api/validate", {"license": LICENSE})

    assert (
        bad["field_reasons"]["vin"] == ["VIN_CHECK_DIGIT"]
        and bad["normalized"]["vin_check_digit_valid"] is False
    )
    assert "vin" not in good["field_reasons"] and good["normalized"]["vin_check_digit_valid"] is True
    assert desk.call("POST", "/api/validate", {"license": {"colour": "red"}})[0] == 400


# -- the lease ------------------------------------------------------------------------------------
def test_a_claim_holds_the_upload_for_one_reviewer(intake: Intake, desk: Desk) -> None:
    needs_review(intake, "uploads/vin.jpg", vin=BAD_VIN)

    status, claimed = desk.act("uploads/vin.jpg", "claim", user="alice")
    refused_status, refused = desk.act("uploads/vin.jpg", "claim", user="bob")

    assert status == 200
    assert claimed["review"]["status"] == "IN_REVIEW" and claimed["review"]["claimed_by"] == "alice"
    assert refused_status == 409 and refused["error"] == "CLAIMED_BY_OTHER"
    assert refused["review"]["claimed_by"] == "alice"
    assert (
        desk.act("uploads/vin.jpg", "decision", user="bob", action="approve")[1]["error"]
        == "CLAIMED_BY_OTHER"
    )
    entries = desk.trail("uploads/vin.jpg")
    assert [(e["action"], e["actor"]) for e in entries] == [("claim", "alice")], "a refusal leaves no entry"


def test_a_release_and_an_expired_claim_return_the_upload_to_the_queue(intake: Intake, desk: Desk) -> None:
    needs_review(intake, "uploads/vin.jpg", vin=BAD_VIN)
    desk.act("uploads/vin.jpg", "claim", user="alice")
    assert desk.ok("GET", "/api/queue")["items"][0]["available"] is False

    released = desk.act("uploads/vin.jpg", "release", user="alice")[1]
    assert released["review"]["status"] == "PENDING" and "claimed_by" not in released["review"]
    assert desk.ok("GET", "/api/queue")["items"][0]["available"] is True

    desk.act("uploads/vin.jpg", "claim", user="alice")
    desk.clock.now += 901  # the lease (REVIEW_CLAIM_SECONDS, 900) has run out
    assert desk.ok("GET", "/api/queue")["items"][0]["available"] is True
    status, expired = desk.act("uploads/vin.jpg", "decision", user="alice", action="approve")
    assert status == 409 and expired["error"] == "CLAIM_EXPIRED"
    status, taken = desk.act("uploads/vin.jpg", "claim", user="bob")
    assert status == 200 and taken["review"]["claimed_by"] == "bob"
    assert [e["action"] for e in desk.trail("uploads/vin.jpg")] == ["claim", "release", "claim", "claim"]


def test_a_decision_needs_a_claim(intake: Intake, desk: Desk) -> None:
    needs_review(intake, "uploads/vin.jpg", vin=BAD_VIN)
    status, refused = desk.act("uploads/vin.jpg", "decision", action="approve")
    assert status == 409 and refused["error"] == "NOT_CLAIMED"
    assert desk.act("uploads/vin.jpg", "release")[1]["error"] == "NOT_CLAIMED"
    assert intake.item("uploads/vin.jpg")["review"] == {"status": "PENDING"}  # type: ignore[index]


# -- decisions ------------------------------------------------------------------------------------
def test_correcting_the_vin_keeps_the_raw_value_revalidates_and_publishes_license_reviewed(
    intake: Intake, desk: Desk, published: Any
) -> None:
    needs_review(intake, "uploads/vin.jpg", vin=BAD_VIN)
    published()  # the function's own event
    desk.act("uploads/vin.jpg", "claim")

    status, decided = desk.act("uploads/vin.jpg", "decision", action="correct", license={"vin": GOOD_VIN})

    assert status == 200
    item = intake.item("uploads/vin.jpg")
    assert item is not None
    assert item["license"]["vin"] == BAD_VIN, "the recognised value is never changed"
    assert item["reviewed_license"] == {**item["license"], "vin": GOOD_VIN}
    assert item["reviewed_normalized"]["vin_check_digit_valid"] is True
    assert "VIN_CHECK_DIGIT" not in item["reviewed_reasons"]
    assert item["review"]["status"] == "CORRECTED" and item["review"]["decided_by"] == "alice"
    assert "review_queue" not in item and "review_since" not in item, "it left the queue"
    assert "review_event_pending" not in item
    assert decided["reviewed_field_reasons"].get("vin") is None
    assert desk.ok("GET", "/api/queue")["counts"]["NEEDS_REVIEW"] == 0
    entries = desk.trail("uploads/vin.jpg")
    assert [e["action"] for e in entries] == ["claim", "correct"]
    assert entries[1]["changes"] == {"vin": {"before": BAD_VIN, "after": GOOD_VIN}}
    assert [e["action"] for e in decided["trail"]] == ["claim", "correct"], "the page shows the trail"
    events = [valid_event(e) for e in published()]
    assert [e["detail-type"] for e in events] == ["License Reviewed"]
    detail = events[0]["detail"]
    assert detail["review_status"] == "CORRECTED" and detail["corrected_fields"] == ["vin"]
    text = json.dumps(events, ensure_ascii=False)
    for value in (GOOD_VIN, BAD_VIN, OWNER, LICENSE["plate_number"], LICENSE["address"], "alice"):
        assert value not in text


def test_approving_keeps_the_recognised_values(intake: Intake, desk: Desk, published: Any) -> None:
    needs_review(intake, "uploads/owner.jpg", owner="")
    published()
    desk.act("uploads/owner.jpg", "claim")
    status, _ = desk.act("uploads/owner.jpg", "decision", action="approve")
    assert status == 200
    item = intake.item("uploads/owner.jpg")
    assert item is not None and item["review"]["status"] == "APPROVED"
    assert item["reviewed_license"] == item["license"]
    assert [valid_event(e)["detail"]["review_status"] for e in published()] == ["APPROVED"]
    status, again = desk.act("uploads/owner.jpg", "claim", user="bob")
    assert status == 409 and again["error"] == "NOT_WAITING", "a decided review is not claimed again"


def test_rejecting_needs_a_reason_and_records_it(intake: Intake, desk: Desk, published: Any) -> None:
    unrecognized(intake, "uploads/street.jpg")
    published()
    desk.act("uploads/street.jpg", "claim")
    assert desk.act("uploads/street.jpg", "decision", action="reject", reason="UGLY")[0] == 400
    assert desk.act("uploads/street.jpg", "decision", action="reject", reason="OTHER")[0] == 400
    status, _ = desk.act(
        "uploads/street.jpg", "decision", action="reject", reason="NOT_A_LICENSE", note="a street"
    )
    assert status == 200
    item = intake.item("uploads/street.jpg")
    assert (
        item is not None
        and item["review"]["status"] == "REJECTED"
        and item["review"]["reason"] == "NOT_A_LICENSE"
    )
    assert "reviewed_license" not in item
    assert desk.trail("uploads/street.jpg")[-1]["note"] == "a street"
    events = [valid_event(e) for e in published()]
    assert [e["detail"]["reject_reason"] for e in events] == ["NOT_A_LICENSE"]
    assert "a street" not in json.dumps(events)


def test_an_unrecognised_upload_is_entered_by_hand(intake: Intake, desk: Desk) -> None:
    unrecognized(intake, "uploads/blurred.jpg")
    desk.act("uploads/blurred.jpg", "claim")
    assert desk.act("uploads/blurred.jpg", "decision", action="approve")[0] == 400
    assert desk.act("uploads/blurred.jpg", "decision", action="correct", license={"vin": GOOD_VIN})[0] == 400

    status, _ = desk.act("uploads/blurred.jpg", "decision", action="enter", license=LICENSE)

    assert status == 200
    item = intake.item("uploads/blurred.jpg")
    assert item is not None and item["status"] == "UNRECOGNIZED", "the function's outcome stays"
    assert item["review"]["status"] == "CORRECTED" and item["reviewed_license"] == LICENSE
    assert item["reviewed_normalized"]["vin"] == GOOD_VIN and item["reviewed_reasons"] == []
    assert desk.trail("uploads/blurred.jpg")[-1]["changes"]["vin"] == {"before": "", "after": GOOD_VIN}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"colour": "red"}, "unknown fields"),
        ({"vin": 17}, "must be text"),
        ({"vin": "L" * 129}, "longer than 128"),
        ({"owner": "王\x00"}, "control characters"),
        ("LSVWY4180KN246094", "must be an object"),
        ({"vin": BAD_VIN}, "no field was changed"),
    ],
)
def test_corrections_outside_the_rules_are_refused_without_echoing_them(
    intake: Intake, desk: Desk, values: Any, message: str
) -> None:
    needs_review(intake, "uploads/vin.jpg", vin=BAD_VIN)
    desk.act("uploads/vin.jpg", "claim")
    status, refused = desk.act("uploads/vin.jpg", "decision", action="correct", license=values)
    assert status == 400 and message in refused["message"]
    assert "L" * 20 not in refused["message"] and "王" not in refused["message"]
    assert intake.item("uploads/vin.jpg")["review"]["status"] == "IN_REVIEW"  # type: ignore[index]


def test_markup_is_stored_as_text(intake: Intake, desk: Desk) -> None:
    needs_review(intake, "uploads/vin.jpg", vin=BAD_VIN)
    desk.act("uploads/vin.jpg", "claim")
    markup = "<img src=x onerror=alert(1)>"
    assert desk.act("uploads/vin.jpg", "decision", action="correct", license={"remarks": markup})[0] == 200
    assert intake.item("uploads/vin.jpg")["reviewed_license"]["remarks"] == markup  # type: ignore[index]


def test_bodies_that_are_not_small_json_objects_are_refused(intake: Intake, desk: Desk) -> None:
    needs_review(intake, "uploads/vin.jpg", vin=BAD_VIN)
    path = f"{desk.upload_path('uploads/vin.jpg')}/claim"
    assert desk.call("POST", path, raw_body="{not json")[0] == 400
    assert desk.call("POST", path, raw_body="[1, 2]")[0] == 400
    assert desk.call("POST", path, raw_body=json.dumps({"identity": "x" * 70_000}))[0] == 413
    assert desk.call("POST", path, {})[0] == 400, "the identity of the upload seen is required"
    assert desk.call("POST", "/api/validate", raw_body="[" * 100_000)[0] in (400, 413)


# -- newer uploads and redeliveries ---------------------------------------------------------------
def test_a_newer_upload_of_the_key_starts_a_fresh_review(intake: Intake, desk: Desk) -> None:
    needs_review(intake, "uploads/vin.jpg", vin=BAD_VIN)
    seen = desk.view("uploads/vin.jpg")["identity"]
    desk.act("uploads/vin.jpg", "claim", identity=seen)

    needs_review(intake, "uploads/vin.jpg", owner="")  # a new photo under the same key

    status, refused = desk.act("uploads/vin.jpg", "decision", identity=seen, action="approve")
    assert status == 409 and refused["error"] == "NEWER_UPLOAD"
    item = intake.item("uploads/vin.jpg")
    assert item is not None and item["review"] == {"status": "PENDING"} and item["identity"] != seen
    assert desk.ok("GET", "/api/queue")["items"][0]["review_reasons"] == ["MISSING:owner"]


def test_a_redelivered_event_never_touches_the_review(intake: Intake, desk: Desk) -> None:
    record = intake.upload("uploads/vin.jpg", intake.recognizable(jpeg("vin"), vin=BAD_VIN))
    desk.act("uploads/vin.jpg", "claim")
    calls = len(intake.upstream.calls)

    intake.invoke(record)  # S3 delivers at least once

    item = intake.item("uploads/vin.jpg")
    assert (
        item is not None
        and item["review"]["status"] == "IN_REVIEW"
        and item["review"]["claimed_by"] == "alice"
    )
    assert len(intake.upstream.calls) == calls


# -- who may call ---------------------------------------------------------------------------------
def test_every_api_route_refuses_a_caller_without_a_token_or_outside_the_group(
    intake: Intake, desk: Desk
) -> None:
    needs_review(intake, "uploads/vin.jpg", vin=BAD_VIN)
    path = desk.upload_path("uploads/vin.jpg")
    routes = [
        ("GET", "/api/me"),
        ("GET", "/api/queue"),
        ("GET", path),
        ("POST", f"{path}/claim"),
        ("POST", f"{path}/decision"),
        ("POST", "/api/validate"),
    ]
    for method, route in routes:
        assert desk.call(method, route, {}, user=None)[0] == 401, route
        assert desk.call(method, route, {}, groups="[admins]")[0] == 403, route
    assert intake.item("uploads/vin.jpg")["review"] == {"status": "PENDING"}  # type: ignore[index]
    assert desk.ok("GET", "/api/me") == {"username": "alice", "groups": ["reviewers"]}


def test_the_page_is_public_and_sets_a_strict_content_security_policy(desk: Desk) -> None:
    answer = desk.api.handle({"rawPath": "/", "requestContext": {"http": {"method": "GET"}}})
    assert answer["statusCode"] == 200 and "<title>Review desk" in answer["body"]
    policy = answer["headers"]["Content-Security-Policy"]
    assert (
        "default-src 'none'" in policy
        and "script-src 'self'" in policy
        and "frame-ancestors 'none'" in policy
    )
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    config = json.loads(
        desk.api.handle({"rawPath": "/config.json", "requestContext": {"http": {"method": "GET"}}})["body"]
    )
    assert config["client_id"] == desk.intake.stack.desk_client_id
    assert config["user_pool_id"] == desk.intake.stack.user_pool_id


def test_no_field_value_reaches_the_logs(
    intake: Intake, desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    needs_review(intake, "uploads/vin.jpg", vin=BAD_VIN)
    caplog.set_level(logging.DEBUG, logger="vehicle-license-intake")
    desk.act("uploads/vin.jpg", "claim")
    desk.act("uploads/vin.jpg", "decision", action="correct", license={"vin": GOOD_VIN, "owner": "张新主"})
    desk.call("POST", "/api/validate", {"license": {**LICENSE, "owner": "张新主"}})
    text = caplog.text
    assert "review action" in text
    for value in (GOOD_VIN, BAD_VIN, "张新主", OWNER):
        assert value not in text
