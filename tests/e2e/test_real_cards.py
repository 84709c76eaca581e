"""Real photos of real cards through the offline recognizer: in process, behind the installed
`serve` command over HTTP, and in the function with OCR_PROVIDER=local.

The photos are not redistributable, so they are not in the repository: they are read from
`shared/real-samples/` beside it (CI clones the repository with shared/ next to it), each with its
ground truth. A card's values are compared as printed; a not-applicable mark (`--`) and an empty
value are the same answer (both are stored as null).
"""

from __future__ import annotations

import base64
import json
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rapidocr")

from test_serve_command import KEY, post, served

from conftest import Intake
from vehicle_license_intake.domain.fields import LICENSE_FIELDS, is_not_applicable
from vehicle_license_recognizer import LocalRecognizer
from vehicle_license_recognizer.engine import _decode
from vehicle_license_tools import synthetic

REAL_SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "real-samples"
SAMPLES = {
    # main page, frontal, in a sleeve; the stamp reads 北京市公 / 安局公安 / 交通管理局
    "baidu": "baidu_offline_sdk_sample_suguangnet",
    # both pages side by side on a desk, sleeve glare, a lower-case letter in the plate
    "huawei": "huawei_ais_sdk_vehicle-license-demo",
}

__all__ = ["served"]  # the installed command's server, shared with test_serve_command


def real_sample(name: str) -> tuple[bytes, dict[str, str]]:
    stem = REAL_SAMPLES / SAMPLES[name]
    if not stem.with_suffix(".png").exists():
        pytest.skip(f"the real samples are not beside the repository ({REAL_SAMPLES})")
    truth: dict[str, str] = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
    return stem.with_suffix(".png").read_bytes(), truth


def same_answer(read: str, printed: str) -> bool:
    return read == printed or (is_not_applicable(read) and is_not_applicable(printed))


def differences(fields: dict[str, Any], truth: dict[str, str]) -> dict[str, tuple[Any, str]]:
    return {
        name: (fields[name], truth[name])
        for name in LICENSE_FIELDS
        if not same_answer(fields[name], truth[name])
    }


@pytest.fixture(scope="module")
def recognizer() -> LocalRecognizer:
    return LocalRecognizer()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_printed_field_of_a_real_card_is_read_exactly(recognizer: LocalRecognizer, name: str) -> None:
    image, truth = real_sample(name)

    recognition = recognizer.read_license(image)

    assert recognition is not None
    assert differences(recognition.fields, truth) == {}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_stamp_is_read_as_the_authority_with_its_confidence_and_box(
    recognizer: LocalRecognizer, name: str
) -> None:
    image, truth = real_sample(name)

    recognition = recognizer.read_license(image)

    assert recognition is not None and recognition.confidence is not None
    assert recognition.fields["license_issuing_authority"] == truth["license_issuing_authority"]
    assert 0 < recognition.confidence["license_issuing_authority"] <= 1
    x0, y0, x1, y1 = recognition.boxes["license_issuing_authority"]
    assert x1 - x0 > 20 and y1 - y0 > 20


def test_a_real_card_reads_the_same_with_detection_on_openvino(recognizer: LocalRecognizer) -> None:
    """RECOGNIZER_RUNTIME=openvino changes the time, not the reading: the same detection model
    file, in full precision (OpenVINO's default would be bfloat16 on a CPU that has it), gives
    every line the same text, runners-up, score and box. Both pages of the card: many lines, and
    each of its detections (the small copy, the page, the re-read places) on OpenVINO."""
    import numpy as np

    from vehicle_license_recognizer.ocr import OcrEngine

    image, truth = real_sample("huawei")
    decoded = _decode(image)
    assert decoded is not None
    grey = np.ascontiguousarray(np.stack([decoded[0][:, :, 0]] * 3, axis=-1))
    engines = {runtime: OcrEngine(runtime) for runtime in ("openvino", "onnxruntime")}

    readings = {runtime: engine.read(grey) for runtime, engine in engines.items()}
    on_openvino = LocalRecognizer("openvino").read_license(image)

    detectors = {
        runtime: type(engine._ocr()._load_det_model().session).__name__ for runtime, engine in engines.items()
    }
    assert detectors == {"openvino": "_OpenVinoSession", "onnxruntime": "OrtInferSession"}
    a, b = readings["openvino"].lines, readings["onnxruntime"].lines
    assert len(b) > 30
    assert [(line.text, line.alternatives) for line in a] == [(line.text, line.alternatives) for line in b]
    for one, other in zip(a, b, strict=True):
        assert one.score == pytest.approx(other.score, abs=1e-3)
        assert np.abs(np.array(one.box) - np.array(other.box)).max() <= 1.0
    assert on_openvino is not None and differences(on_openvino.fields, truth) == {}
    recognizer._ocr._ocr()
    assert recognizer._ocr.runtime == "onnxruntime", "the default"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_field_read_carries_its_box_on_the_image_and_its_confidence(
    recognizer: LocalRecognizer, name: str
) -> None:
    from PIL import Image

    image, _ = real_sample(name)
    width, height = Image.open(BytesIO(image)).size

    recognition = recognizer.read_license(image)

    assert recognition is not None and recognition.confidence is not None
    read = {field for field, value in recognition.fields.items() if value}
    assert read <= set(recognition.boxes) and read <= set(recognition.confidence)
    for x0, y0, x1, y1 in recognition.boxes.values():
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert (x1 - x0) * (y1 - y0) < 0.15 * width * height, "a box is a place on the card"


def test_the_pages_side_by_side_are_each_read_from_their_own_region(recognizer: LocalRecognizer) -> None:
    image, _ = real_sample("huawei")

    result = recognizer.read(image)

    assert result is not None and result.extraction.page == "both"
    main_page = result.boxes["vin"]
    secondary_page = result.boxes["document_id"]
    assert main_page[2] < secondary_page[0], "the main page is on the left, the secondary on the right"
    assert result.boxes["plate_number"][2] < secondary_page[0], "the plate is taken from the main page"


def test_a_real_card_turned_sideways_without_exif_is_read_upright(recognizer: LocalRecognizer) -> None:
    from PIL import Image

    image, truth = real_sample("baidu")
    buffer = BytesIO()
    Image.open(BytesIO(image)).convert("RGB").transpose(Image.Transpose.ROTATE_90).save(
        buffer, "JPEG", quality=90
    )

    result = recognizer.read(buffer.getvalue())

    assert result is not None and result.rotation == 270
    assert differences(result.extraction.fields, truth) == {}


def driving_license_like() -> bytes:
    """A card laid out like a driver's license (驾驶证): its English title, its labels and values.
    It shares the address label and dates with a vehicle license, nothing else."""
    from PIL import Image, ImageDraw, ImageFont

    card = Image.new("RGB", (1400, 955), (236, 238, 242))
    draw = ImageDraw.Draw(card)
    chinese = ImageFont.truetype(str(synthetic.SUBSET_FONT), 40)
    latin = ImageFont.truetype(str(synthetic.SUBSET_FONT), 34)
    draw.text(
        (250, 40),
        "中华人民共和国机动车",
        font=ImageFont.truetype(str(synthetic.SUBSET_FONT), 56),
        fill=(20, 20, 30),
    )
    draw.text((300, 120), "Driving License of the People's Republic of China", font=latin, fill=(20, 20, 30))
    rows = [
        ("证号", "110105199003071234"),
        ("性别", "Sex  M"),
        ("住址", "北京市朝阳区建国路88号"),
        ("有效期限", "2015-06-01 至 2025-06-01"),
        ("类型", "C1"),
    ]
    for index, (label, value) in enumerate(rows):
        y = 230 + index * 120
        draw.text((80, y), label, font=chinese, fill=(60, 70, 80))
        draw.text((330, y), value, font=chinese, fill=(20, 20, 30))
    photo = Image.new("RGB", (1600, 1200), (140, 110, 80))
    photo.paste(card, (100, 120))
    buffer = BytesIO()
    photo.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def test_a_driving_license_is_answered_5021_not_read_as_a_vehicle_license(
    recognizer: LocalRecognizer,
) -> None:
    assert recognizer.read_license(driving_license_like()) is None


# -- the installed `serve` command, over HTTP ---------------------------------------------------
def body(image: bytes) -> bytes:
    return json.dumps({"input_type": "base64", "input_data": base64.b64encode(image).decode()}).encode()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_serve_reads_a_real_card_over_http(served: str, name: str) -> None:
    image, truth = real_sample(name)

    answer = post(served, body(image), Authorization=f"Bearer {KEY}")

    assert answer.status_code == 200
    document = answer.json()
    assert document["code"] == 0 and set(document["data"]) == set(LICENSE_FIELDS)
    assert differences(document["data"], truth) == {}
    assert document["confidence"]["license_issuing_authority"] > 0


def test_serve_answers_a_driving_license_with_5021(served: str) -> None:
    answer = post(served, body(driving_license_like()), **{"X-Api-Key": KEY})

    assert answer.status_code == 200 and answer.json()["code"] == 5021


# -- the function, OCR_PROVIDER=local -----------------------------------------------------------
@pytest.fixture
def local_intake(intake: Intake) -> Intake:
    intake.configure(OCR_PROVIDER="local")
    return intake


def test_the_function_with_the_local_provider_stores_what_real_cards_print(local_intake: Intake) -> None:
    for name in sorted(SAMPLES):
        image, _ = real_sample(name)
        local_intake.upload(f"uploads/{name}.png", image)

    for name in sorted(SAMPLES):
        _, truth = real_sample(name)
        item = local_intake.item(f"uploads/{name}.png")
        assert item is not None and item["status"] == "SUCCEEDED" and item["recognized_by"] == "local", name
        assert differences(item["license"], truth) == {}, name
        assert float(item["confidence"]["license_issuing_authority"]) > 0, name
    assert local_intake.upstream.calls == [], "nothing left the function"


def test_the_function_with_the_local_provider_answers_a_driving_license_5021(local_intake: Intake) -> None:
    local_intake.upload("uploads/driving-license.jpg", driving_license_like())

    item = local_intake.item("uploads/driving-license.jpg")
    assert item is not None and item["status"] == "UNRECOGNIZED" and item["error"]["source"] == "local"
    assert [m["body"]["error"]["code"] for m in local_intake.dead_letters()] == [5021]
