"""The upstream contract emulator speaks the documented contract over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
import struct
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


def test_a_caller_that_hangs_up_before_its_answer_leaves_no_traceback(
    upstream: UpstreamEmulator, known_image: bytes, capfd: pytest.CaptureFixture[str]
) -> None:
    """A client that gives up (its own timeout) makes the server's write fail; that is the
    client's choice, not the server's error: nothing on stderr, and the next caller is served."""
    upstream.script(known_image, Reply.slow(0.3))
    body = json.dumps({"input_type": "base64", "input_data": base64.b64encode(known_image).decode()}).encode()
    host, port = upstream.url.split("/")[2].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as client:
        client.sendall(
            b"POST /api/ocr-vehicle-license HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"X-Api-Key: {API_KEY}\r\nContent-Type: application/json\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        time.sleep(0.1)  # the request is read and the slow reply has begun
        # close with a reset, as a process killed on its timeout does: every write after fails
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    deadline = time.monotonic() + 5
    while upstream.calls_for(known_image) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.2)  # the answer's write fails after the call is recorded
    served = post(
        upstream.url,
        {"input_type": "base64", "input_data": base64.b64encode(known_image).decode()},
        **{"X-Api-Key": API_KEY},
    )
    assert served.json()["code"] == 0 and upstream.calls_for(known_image) == 2
    assert "Traceback" not in capfd.readouterr().err


def test_requests_above_the_rate_are_answered_429(
    recognizer: GroundTruthRecognizer, known_image: bytes
) -> None:
    with UpstreamEmulator(recognizer, [API_KEY], max_rps=2) as limited:
        data = {"input_type": "base64", "input_data": base64.b64encode(known_image).decode()}
        codes = [post(limited.url, data, **{"X-Api-Key": API_KEY}).json()["code"] for _ in range(3)]
        assert codes == [0, 0, 429]
        assert limited.max_calls_in_any_second() == 2


def test_emulator_command_serves_on_the_given_port() -> None:
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
