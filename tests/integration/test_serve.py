"""The offline recognizer behind the upstream's HTTP contract (vehicle_license_recognizer.serve),
served on 127.0.0.1 in this process."""

from __future__ import annotations

import base64

import pytest
import requests

pytest.importorskip("rapidocr")

from conftest import API_KEY
from vehicle_license_recognizer import LocalRecognizer
from vehicle_license_tools.emulator import UpstreamEmulator
from vehicle_license_tools.resources import SAMPLES as DEFAULT_SAMPLES


@pytest.fixture(scope="module")
def recognizer() -> LocalRecognizer:
    return LocalRecognizer()


def test_serve_speaks_the_upstream_contract(recognizer: LocalRecognizer) -> None:
    image = (DEFAULT_SAMPLES / "main-page.jpg").read_bytes()
    with UpstreamEmulator(recognizer, [API_KEY]) as served:
        body = {"input_type": "base64", "input_data": base64.b64encode(image).decode()}
        answer = requests.post(
            served.url, json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60
        ).json()
        refused = requests.post(served.url, json=body, timeout=60).json()
        unknown = requests.post(
            served.url,
            headers={"X-Api-Key": API_KEY},
            timeout=60,
            json={"input_type": "base64", "input_data": base64.b64encode(b"GIF89a...").decode()},
        ).json()

    assert answer["code"] == 0 and answer["data"]["plate_number"] == "沪B7K29Q"
    assert set(answer["confidence"]) <= set(answer["data"]) and answer["request_id"].startswith("req_")
    assert refused["code"] == 4015 and unknown["code"] == 5021
