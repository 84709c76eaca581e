"""The upstream contract emulator speaks the documented contract over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import subprocess
import sys
import time

import pytest
import requests

from conftest import API_KEY, LICENSE, jpeg
from vehicle_license_tools.emulator import GroundTruthRecognizer, Reply, UpstreamEmulator


def post(url: str, json_body: object, **headers: str) -> requests.Response:
    return requests.post(url, json=json_body, headers=headers, timeout=5)


@pytest.fixture
def known_image(recognizer: GroundTruthRecognizer) -> bytes:
    image = jpeg("known")
    recognizer.add(image, LICENSE)
    return image


@pytest.mark.parametrize("header", ["Authorization", "X-Api-Key"])
def test_either_documented_key_header_is_accepted(
    upstream: UpstreamEmulator, known_image: bytes, header: str
) -> None:
    value = f"Bearer {API_KEY}" if header == "Authorization" else API_KEY
    answer = post(
        upstream.url,
        {"input_type": "base64", "input_data": base64.b64encode(known_image).decode()},
        **{header: value},
    ).json()
    assert answer["code"] == 0 and answer["data"] == LICENSE and answer["request_id"].startswith("req_")


def test_missing_or_wrong_key_is_4015(upstream: UpstreamEmulator, known_image: bytes) -> None:
    data = {"input_type": "base64", "input_data": base64.b64encode(known_image).decode()}
    assert post(upstream.url, data).json()["code"] == 4015
    assert post(upstream.url, data, **{"X-Api-Key": "wrong"}).json()["code"] == 4015


@pytest.mark.parametrize(
    "json_body",
    [
        {},
        {"input_type": "fax", "input_data": "x"},
        {"input_type": "base64", "input_data": ""},
        {"input_type": "base64", "input_data": "***not base64***"},
        ["a list"],
        {"input_type": "url", "input_data": "https://example.com/vehicle-license.jpg"},
    ],
    ids=["empty", "bad-type", "no-data", "bad-base64", "list", "url-outside-loopback"],
)
def test_invalid_requests_are_4000(upstream: UpstreamEmulator, json_body: object) -> None:
    assert post(upstream.url, json_body, **{"X-Api-Key": API_KEY}).json()["code"] == 4000


def test_data_url_prefix_is_accepted_and_unknown_images_are_5021(
    upstream: UpstreamEmulator, known_image: bytes
) -> None:
    prefixed = "data:image/jpeg;base64," + base64.b64encode(known_image).decode()
    assert (
        post(upstream.url, {"input_type": "base64", "input_data": prefixed}, **{"X-Api-Key": API_KEY}).json()[
            "code"
        ]
        == 0
    )
    unknown = base64.b64encode(jpeg("unknown")).decode()
    answer = post(
        upstream.url, {"input_type": "base64", "input_data": unknown}, **{"X-Api-Key": API_KEY}
    ).json()
    assert answer["code"] == 5021 and answer["status"] == "UPSTREAM_INVALID"


def test_scripted_replies_are_consumed_in_order_then_the_recognizer_answers(
    upstream: UpstreamEmulator, known_image: bytes
) -> None:
    upstream.script(known_image, Reply.error(5020), Reply.html_502())
    data = {"input_type": "base64", "input_data": base64.b64encode(known_image).decode()}
    first, second, third = (post(upstream.url, data, **{"X-Api-Key": API_KEY}) for _ in range(3))
    assert first.json()["code"] == 5020
    assert second.status_code == 502 and second.headers["Content-Type"] == "text/html"
    assert third.json()["code"] == 0
    assert upstream.calls_for(known_image) == 3


def test_requests_above_the_rate_are_answered_429(
    recognizer: GroundTruthRecognizer, known_image: bytes
) -> None:
    with UpstreamEmulator(recognizer, [API_KEY], max_rps=2) as limited:
        data = {"input_type": "base64", "input_data": base64.b64encode(known_image).decode()}
        codes = [post(limited.url, data, **{"X-Api-Key": API_KEY}).json()["code"] for _ in range(3)]
        assert codes == [0, 0, 429]
        assert limited.max_calls_in_any_second() == 2


def test_emulator_command_serves_on_the_given_port() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vehicle_license_tools.cli",
            "emulator",
            "--port",
            str(port),
            "--api-key",
            "k",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/api/ocr-vehicle-license" in line
        deadline = time.monotonic() + 10
        while True:
            try:
                answer = post(
                    f"http://127.0.0.1:{port}/api/ocr-vehicle-license",
                    {"input_type": "base64", "input_data": base64.b64encode(b"\xff\xd8\xff").decode()},
                    Authorization="Bearer k",
                ).json()
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert answer["code"] == 5021
    finally:
        process.terminate()
        process.wait(timeout=10)
