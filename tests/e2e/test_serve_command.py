"""`vehicle-license-intake serve`, the installed console command: the offline recognizer behind
the upstream's HTTP contract, reached over HTTP on 127.0.0.1 like any client would."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

pytest.importorskip("rapidocr")

from vehicle_license_intake.domain.fields import LICENSE_FIELDS
from vehicle_license_tools.resources import SAMPLES

KEY = "serve-test-key"
# The recognizer loads its models before the server answers /health.
STARTUP_SECONDS = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_command() -> list[str]:
    """The console script pip installed beside this interpreter (the module where it is not)."""
    script = shutil.which("vehicle-license-intake", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "vehicle_license_tools.cli"]


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [*serve_command(), "serve", "--port", str(port), "--api-key", KEY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, f"serve exited: {process.communicate()[1][-2000:]}"
            try:
                if requests.get(f"{base}/health", timeout=5).json() == {"status": "ok"}:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "serve did not answer /health"
            time.sleep(0.2)
        yield f"{base}/api/ocr-vehicle-license"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def post(url: str, body: bytes, **headers: str) -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=120)


def image_body(name: str) -> bytes:
    data = base64.b64encode((SAMPLES / name).read_bytes()).decode()
    return json.dumps({"input_type": "base64", "input_data": data}).encode()


def truth(name: str) -> dict[str, Any]:
    fields: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))["fields"]
    return fields


def test_serve_reads_a_sample_license_into_the_twenty_fields(served: str) -> None:
    answer = post(served, image_body("main-page.jpg"), Authorization=f"Bearer {KEY}")

    assert answer.status_code == 200
    document = answer.json()
    assert document["code"] == 0 and document["request_id"].startswith("req_")
    expected = truth("main-page.json")
    assert set(document["data"]) == set(LICENSE_FIELDS) and len(document["data"]) == 20
    assert document["data"]["plate_number"] == expected["plate_number"] == "沪B7K29Q"
    assert document["data"]["vin"] == expected["vin"] == "LSVAU2188N2184637"
    assert document["data"] == expected


def test_serve_refuses_a_wrong_key_with_4015(served: str) -> None:
    answer = post(served, image_body("main-page.jpg"), **{"X-Api-Key": "not-the-key"})

    assert answer.status_code == 401 and answer.json()["code"] == 4015


def test_serve_answers_a_body_that_is_not_the_contract_with_4000(served: str) -> None:
    answer = post(served, b"this is not json", Authorization=f"Bearer {KEY}")

    assert answer.status_code == 400 and answer.json()["code"] == 4000


def test_serve_answers_a_photo_that_is_no_license_with_5021(served: str) -> None:
    answer = post(served, image_body("street-photo.jpg"), **{"X-Api-Key": KEY})

    assert answer.status_code == 200 and answer.json()["code"] == 5021
