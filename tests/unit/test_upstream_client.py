"""The upstream's answers as typed outcomes, and the rate limiter (pure, no network)."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
import requests
import urllib3

from vehicle_license_intake.ports import Deadline, ImagePayload
from vehicle_license_intake.upstream.client import UpstreamClient
from vehicle_license_intake.upstream.contract import parse_response
from vehicle_license_intake.upstream.errors import (
    UpstreamError,
    UpstreamInvalidImageData,
    UpstreamKeyRejected,
    UpstreamMalformedResponse,
    UpstreamRateLimited,
    UpstreamRejectedImage,
    UpstreamServiceMissing,
    UpstreamTemporaryError,
    UpstreamUnexpectedCode,
)
from vehicle_license_intake.upstream.guard import CallPermit, UpstreamHeld
from vehicle_license_intake.upstream.rate_limit import RateLimiter


def body(code: int, **extra: object) -> bytes:
    return json.dumps({"code": code, "msg": "m", "request_id": "req_1", **extra}).encode()


@pytest.mark.parametrize(
    ("http_status", "content", "kind", "transient"),
    [
        (200, body(5021), UpstreamRejectedImage, False),
        (500, body(5021), UpstreamRejectedImage, False),
        (400, body(4000), UpstreamInvalidImageData, False),
        (401, body(4015), UpstreamKeyRejected, False),
        (200, body(5030), UpstreamServiceMissing, False),
        (200, body(5020), UpstreamTemporaryError, True),
        (429, body(429), UpstreamRateLimited, True),
        (200, body(5999), UpstreamTemporaryError, True),
        (200, body(4123), UpstreamUnexpectedCode, False),
        (502, b"<html>502 Bad Gateway</html>", UpstreamMalformedResponse, True),
        (429, b"slow down", UpstreamRateLimited, True),
        (200, b'{"code": "0"}', UpstreamMalformedResponse, True),
        (200, body(0), UpstreamMalformedResponse, True),
        (200, body(0, data=["not", "a", "map"]), UpstreamMalformedResponse, True),
    ],
)
def test_every_answer_is_a_typed_outcome_decided_by_the_json_code(
    http_status: int, content: bytes, kind: type[UpstreamError], transient: bool
) -> None:
    with pytest.raises(kind) as raised:
        parse_response(http_status, content)
    assert type(raised.value) is kind and raised.value.transient is transient


def test_success_returns_exactly_the_twenty_fields() -> None:
    recognition = parse_response(
        500, body(0, data={"plate_number": "沪A12345", "total_mass": 1945, "x": "y"})
    )
    assert len(recognition.fields) == 20 and recognition.fields["plate_number"] == "沪A12345"
    assert recognition.fields["total_mass"] == "1945" and recognition.fields["owner"] == ""
    assert recognition.request_id == "req_1"


def test_base64_body_is_exactly_the_documented_json() -> None:
    image = bytes(range(256)) * 3001
    document = json.loads(bytes(ImagePayload("base64", image=image).json_body()))
    assert document == {"input_type": "base64", "input_data": base64.b64encode(image).decode()}
    assert json.loads(ImagePayload("url", url="http://x/y?z=1").json_body()) == {
        "input_type": "url",
        "input_data": "http://x/y?z=1",
    }


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.calls: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("rate", [1, 2, 5])
def test_rate_limiter_allows_at_most_rate_calls_in_any_one_second_window(rate: int) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(4 * rate):
        limiter.acquire()
        times.append(clock.now)
    for index in range(len(times) - rate):
        assert times[index + rate] - times[index] >= 1.0
    assert times[-1] < 4.5, "and it does not wait longer than it must"


def test_proxy_settings_are_read_once_and_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    from vehicle_license_intake.upstream.client import _session_for

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    outside = _session_for("https://v1.apizero.cn/api/ocr-vehicle-license")
    loopback = _session_for("http://127.0.0.1:8765/api/ocr-vehicle-license")

    assert outside.proxies.get("https") == "http://proxy.internal:3128"
    assert "https" not in loopback.proxies and "http" not in loopback.proxies
    assert outside.trust_env is False, "no environment lookups on every call"


# -- retries and the fleet's breaker ------------------------------------------------------------


class Forever:
    def remaining_seconds(self) -> float:
        return 900.0


class Permit:
    is_probe = False

    def succeeded(self) -> None:
        return None

    def failed(self, *, transient: bool, rate_limited: bool) -> float | None:
        return None  # this failure alone did not open the breaker


class BreakerOpenedByOthers:
    """A guard whose breaker other instances open while this upload's first call fails."""

    def __init__(self) -> None:
        self.open = False
        self.consulted: list[bool] = []

    def admit(self, deadline: Deadline, *, hold_on_open_breaker: bool) -> CallPermit:
        self.consulted.append(hold_on_open_breaker)
        if self.open and hold_on_open_breaker:
            raise UpstreamHeld("breaker", 1_800_000_060.0)
        return Permit()


class Upstream5020:
    """A session whose every call is answered 5020 (the upstream is down)."""

    def __init__(self, guard: BreakerOpenedByOthers) -> None:
        self.guard = guard
        self.posts = 0

    def post(self, url: str, **_: Any) -> requests.Response:
        self.posts += 1
        self.guard.open = True  # meanwhile the other instances' failures open the breaker
        response = requests.Response()
        response.status_code = 200
        response.raw = urllib3.HTTPResponse(body=io.BytesIO(body(5020)), status=200, preload_content=False)
        return response


def client(guard: BreakerOpenedByOthers, session: Upstream5020) -> UpstreamClient:
    return UpstreamClient(
        "http://127.0.0.1:9/api/ocr-vehicle-license",
        lambda _refresh: "key",
        read_timeout=5,
        connect_timeout=1,
        max_attempts=3,
        guard=guard,
        session=session,  # type: ignore[arg-type]
        sleep=lambda _seconds: None,
    )


def test_from_the_queue_a_retry_that_finds_the_breaker_open_is_not_made() -> None:
    """Other instances failing meanwhile opened the breaker: the upload's retry is held like the
    uploads after it (it waits DEFERRED for the probe) instead of calling a failing upstream."""
    guard = BreakerOpenedByOthers()
    session = Upstream5020(guard)

    with pytest.raises(UpstreamHeld) as held:
        client(guard, session).recognize(ImagePayload("base64", image=b"jpeg"), Forever(), may_defer=True)

    assert session.posts == 1 and held.value.attempts == 1
    assert guard.consulted == [True, True], "the breaker is consulted before the retry too"


def test_on_the_direct_path_the_retries_go_on_whatever_the_breaker() -> None:
    guard = BreakerOpenedByOthers()
    session = Upstream5020(guard)

    with pytest.raises(UpstreamTemporaryError) as failed:
        client(guard, session).recognize(ImagePayload("base64", image=b"jpeg"), Forever(), may_defer=False)

    assert session.posts == 3 and failed.value.attempts == 3
    assert guard.consulted == [False, False, False]
