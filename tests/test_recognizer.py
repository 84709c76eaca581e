"""The offline recognizer: exact fields on a small fixed synthetic corpus, the upstream's HTTP
contract through `serve`, and OCR_PROVIDER=local through the real handler."""

from __future__ import annotations

import base64
import random
from typing import Any

import pytest
import requests

pytest.importorskip("rapidocr")

from conftest import API_KEY, Intake
from vehicle_license_recognizer import LocalRecognizer
from vehicle_license_recognizer.extraction import Line, extract
from vehicle_license_tools import synthetic
from vehicle_license_tools.emulator import UpstreamEmulator
from vehicle_license_tools.resources import SAMPLES as DEFAULT_SAMPLES

# Cases of synthetic.corpus(22, seed=3): each page, several degradations, 90/180-degree rotations,
# Hong Kong, embassy and police plates.
FIXED_CASES = {
    0: "main clean",
    1: "secondary rotate_small hk-plate",
    3: "main jpeg40 embassy-plate",
    9: "main rotate90",
    10: "secondary rotate180 police-plate",
    17: "both perspective",
}


@pytest.fixture(scope="module")
def recognizer() -> LocalRecognizer:
    return LocalRecognizer()


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    return synthetic.corpus(22, seed=3)


def photo(case: dict[str, Any]) -> bytes:
    return synthetic.render(
        case["fields"],
        case["page"],
        random.Random(case["seed"]),
        case["degradation"],
        font=str(synthetic.SUBSET_FONT),
    )


@pytest.mark.parametrize("index", sorted(FIXED_CASES), ids=list(FIXED_CASES.values()))
def test_fixed_corpus_is_read_exactly(
    recognizer: LocalRecognizer, corpus: list[dict[str, Any]], index: int
) -> None:
    case = corpus[index]
    result = recognizer.read(photo(case))

    assert result is not None
    truth = synthetic.page_fields(case["fields"], case["page"])
    fields = result.extraction.fields
    assert {k: v for k, v in fields.items() if k != "license_issuing_authority"} == {
        k: v for k, v in truth.items() if k != "license_issuing_authority"
    }
    authority = fields["license_issuing_authority"]
    if case["page"] == "main":
        assert authority == truth["license_issuing_authority"]
    elif authority != truth["license_issuing_authority"]:
        # the seal is small in a photo of both pages: when it is misread, the record says so
        assert authority == "" or result.extraction.confidence["license_issuing_authority"] < 0.8
    assert result.extraction.page == case["page"]


def test_shipped_samples_are_read_exactly_except_the_small_seal(recognizer: LocalRecognizer) -> None:
    import json

    for name in ("main-page", "secondary-page"):
        truth = json.loads((DEFAULT_SAMPLES / f"{name}.json").read_text(encoding="utf-8"))["fields"]
        result = recognizer.read((DEFAULT_SAMPLES / f"{name}.jpg").read_bytes())
        assert result is not None and result.extraction.fields == truth, name


def test_a_photo_that_is_no_license_is_not_recognised(recognizer: LocalRecognizer) -> None:
    assert recognizer.read((DEFAULT_SAMPLES / "street-photo.jpg").read_bytes()) is None
    assert recognizer.read(b"\xff\xd8\xff\xe0 not really a jpeg") is None


def test_extraction_splits_glued_labels_and_ignores_seal_fragments() -> None:
    def line(text: str, x: float, y: float, width: float = 200, score: float = 0.99) -> Line:
        return Line(text, ((x, y), (x + width, y), (x + width, y + 30), (x, y + 30)), score)

    lines = [
        line("号牌号码", 100, 100, 120),
        line("沪A12345", 260, 104),
        line("车辆类型", 700, 100, 120),
        line("小型轿车", 860, 98),
        line("Plate No.", 100, 135),
        line("所有人", 100, 200, 90),
        line("张三", 250, 232),
        line("车辆识别代号LSVWY4180KN246094", 100, 300, 500),
        line("安局交通", 180, 330, 100),
        line("注册日期史证2020=06-01", 100, 400, 320),
        line("核定载质量", 700, 400, 150),
    ]
    extraction = extract(lines)

    assert extraction.fields["plate_number"] == "沪A12345" and extraction.fields["vehicle_type"] == "小型轿车"
    assert extraction.fields["owner"] == "张三", "a value printed below its row still belongs to its label"
    assert extraction.fields["vin"] == "LSVWY4180KN246094"
    assert extraction.fields["register_date"] == "2020-06-01"
    assert extraction.fields["ratified_load_capacity"] == "", "a label with nothing beside it means --"
    assert extraction.page == "both", "labels of both pages were seen"


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


def test_handler_with_the_local_provider_reads_the_license_in_process(intake: Intake) -> None:
    intake.configure(OCR_PROVIDER="local")
    intake.upload("uploads/main.jpg", (DEFAULT_SAMPLES / "main-page.jpg").read_bytes())
    intake.upload("uploads/street.jpg", (DEFAULT_SAMPLES / "street-photo.jpg").read_bytes())

    item = intake.item("uploads/main.jpg")
    assert item is not None and item["status"] == "SUCCEEDED" and item["recognized_by"] == "local"
    assert item["license"]["vin"] == "LSVAU2188N2184637" and "confidence" in item
    assert "request_id" not in item
    street = intake.item("uploads/street.jpg")
    assert street is not None and street["status"] == "UNRECOGNIZED" and street["error"]["source"] == "local"
    assert intake.upstream.calls == [], "nothing left the function"
    assert [m["body"]["error"]["code"] for m in intake.dead_letters()] == [5021]


@pytest.mark.parametrize(
    ("read", "authority", "trusted"),
    [
        ("上海市公安局交通警察总队", "上海市公安局交通警察总队", True),
        ("心北京市公安局交通警察总队", "北京市公安局交通警察总队", False),
        ("广厂东省佛山市公安局交通警察支队", "广东省佛山市公安局交通警察支队", False),
        ("里庆市公安局交通警察", "重庆市公安局交通警察总队", False),
        ("江苏首无锡市公安局交通警", "江苏省无锡市公安局交通警察支队", False),
    ],
)
def test_seal_text_is_repaired_to_the_authority_pattern_and_repairs_are_flagged(
    read: str, authority: str, trusted: bool
) -> None:
    from vehicle_license_recognizer.seal import repair_authority

    repaired = repair_authority(read, 0.95)
    assert repaired is not None and repaired[0] == authority
    assert (repaired[1] >= 0.8) is trusted, "a repaired name is low confidence: a human looks at it"


def test_the_committed_font_subset_covers_every_character_the_generator_prints() -> None:
    from fontTools.ttLib import TTFont

    covered = TTFont(str(synthetic.SUBSET_FONT)).getBestCmap()
    assert [c for c in synthetic.characters() if c.strip() and ord(c) not in covered] == []


def test_generated_licenses_carry_every_plate_kind_and_valid_vins() -> None:
    from vehicle_license_intake.domain.plate import PLATE_KINDS, plate_kind
    from vehicle_license_intake.domain.vin import has_valid_check_digit

    licenses = [synthetic.random_license(random.Random(seed)) for seed in range(400)]
    assert {plate_kind(item["plate_number"]) for item in licenses} == set(PLATE_KINDS) - {"unknown"}
    assert all(has_valid_check_digit(item["vin"]) for item in licenses)
