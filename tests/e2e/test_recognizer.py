"""The offline recognizer with its OCR: exact fields on a small fixed synthetic corpus and on the
shipped samples, and OCR_PROVIDER=local through the real handler. Its rules without OCR are in
tests/unit/test_recognizer_rules.py, its HTTP contract in tests/integration/test_serve.py."""

from __future__ import annotations

import random
from typing import Any

import pytest

pytest.importorskip("rapidocr")

from conftest import Intake
from vehicle_license_recognizer import LocalRecognizer
from vehicle_license_tools import synthetic
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
    if authority != truth["license_issuing_authority"]:
        # These drawings carry a round seal with its name along an arc; real cards carry a
        # rectangular stamp (tests/e2e/test_real_cards.py), which the recognizer reads first, the
        # round seal being its fallback: a misread seal must say so.
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


def test_no_box_covers_most_of_the_photo(recognizer: LocalRecognizer) -> None:
    """A box shows a reviewer where a value was read: the sample's round seal, found by growing
    its red region, gave the whole photo as the authority's box."""
    from io import BytesIO

    from PIL import Image

    for name in ("main-page", "secondary-page"):
        image = (DEFAULT_SAMPLES / f"{name}.jpg").read_bytes()
        width, height = Image.open(BytesIO(image)).size
        result = recognizer.read(image)
        assert result is not None and result.boxes, name
        for field, (x0, y0, x1, y1) in result.boxes.items():
            assert (x1 - x0) * (y1 - y0) < 0.15 * width * height, (name, field)


def test_a_washed_out_stamp_is_still_read_and_asks_for_a_look(recognizer: LocalRecognizer) -> None:
    """A photo whose colour is washed out (blur, uneven light, a faded card) leaves the stamp's ink
    barely red: its strokes fall below the redness that found the stamp before, and the redness
    mask lost them. The stamp is still found and read, told from black print by the red channel;
    the name read that way is reported below the trusted confidence."""
    from io import BytesIO

    import cv2
    import numpy as np
    from PIL import Image

    from vehicle_license_tools.cards import corpus

    case = corpus.realistic_cases(57, seed=7)[56]  # a main page held in a hand, large, no extras
    assert case.page == "main" and set(case.conditions) == {"hand", "large"}
    card = corpus.render(case)
    rgb = np.asarray(Image.open(BytesIO(card.image)).convert("RGB")).astype(np.float32)
    washed = cv2.GaussianBlur(0.3 * rgb + 0.7 * rgb.mean(axis=2, keepdims=True), (0, 0), 1.2)
    redness = washed[:, :, 0] - washed[:, :, 1:].mean(axis=2)
    assert float(np.percentile(redness, 99.9)) < 35, "the stamp's ink is barely red"
    photo = BytesIO()
    Image.fromarray(washed.clip(0, 255).astype(np.uint8)).save(photo, "JPEG", quality=92)

    recognition = recognizer.read_license(photo.getvalue())

    assert recognition is not None
    authority = card.fields["license_issuing_authority"]
    assert recognition.fields["license_issuing_authority"] == authority
    assert (recognition.confidence or {})["license_issuing_authority"] < 0.8


def test_a_value_the_detector_misses_at_its_own_scale_is_found_enlarged(
    recognizer: LocalRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value's place re-detected on its own can come back empty although its print is plain to
    see: print filling much of the straightened region escapes the detector at that scale. Found
    nothing, the region is detected again twice as large. (The photo is detected whole here, not
    only around its text: detected so, its page's detection misses the vehicle type, which then
    has to come from its place on the form.)"""
    from vehicle_license_recognizer import ocr
    from vehicle_license_tools.cards import corpus

    case = corpus.realistic_cases(239, seed=2026)[238]  # both pages in a hand, a 400-700 px copy
    assert case.page == "both" and set(case.conditions) == {"hand", "small", "both_pages"}
    card = corpus.render(case)
    monkeypatch.setattr(ocr, "_text_region", lambda *_: None)

    recognition = recognizer.read_license(card.image)
    assert recognition is not None
    assert recognition.fields["vehicle_type"] == card.fields["vehicle_type"] == "微型轿车"

    monkeypatch.setattr(ocr, "REGION_RETRY_SCALE", 1)  # detected again at the same scale
    assert recognizer.read_license(card.image).fields["vehicle_type"] == ""  # type: ignore[union-attr]


def test_a_value_cut_short_by_a_glare_band_is_read_through_it(
    recognizer: LocalRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sleeve's glare band over the end of the engine number fades its last characters: read
    once, it stops where the glare begins (8EWBGV4B for 8EWBGV4BML3B, and a fragment of the
    faded print: 8EWBGV4BN). Its row runs on into washed-out print, so it is read again further
    along: whole, and asking for a look."""
    from vehicle_license_recognizer import engine
    from vehicle_license_tools.cards import corpus

    case = corpus.realistic_cases(256, seed=2026)[255]  # both pages in a hand, a 3633 px photo
    assert case.page == "both" and "sleeve_glare" in case.conditions
    card = corpus.render(case)

    recognition = recognizer.read_license(card.image)
    assert recognition is not None
    assert recognition.fields["engine_number"] == card.fields["engine_number"] == "8EWBGV4BML3B"
    assert (recognition.confidence or {})["engine_number"] < 0.8

    monkeypatch.setattr(engine, "GLARE_SHARE", 1.01)  # not read again
    once = recognizer.read_license(card.image)
    assert once is not None
    cut = once.fields["engine_number"]  # cut short where the glare begins
    assert cut.startswith("8EWBGV4B") and len(cut) < len("8EWBGV4BML3B")


def test_a_place_read_again_is_also_read_with_its_light_flattened(
    recognizer: LocalRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Glare and uneven light across the VIN's start: the page's reading loses its first
    characters (a VIN of 14 fails its format), and its place read again as it is or with local
    contrast does no better. Divided by its background, the place gives the whole VIN."""
    from vehicle_license_recognizer import ocr
    from vehicle_license_tools.cards import corpus

    case = corpus.realistic_cases(310, seed=2026)[309]  # the main page on a desk, 1000-2000 px
    assert {"sleeve_glare", "uneven_light"} <= set(case.conditions)
    card = corpus.render(case)

    recognition = recognizer.read_license(card.image)
    assert recognition is not None
    assert recognition.fields["vin"] == card.fields["vin"] == "L16H4F0S3R3KY5EUX"

    monkeypatch.setattr(ocr, "_flattened", lambda grey: grey)  # read again, but not flattened
    unflattened = recognizer.read_license(card.image)
    assert unflattened is not None and unflattened.fields["vin"] == "14F0S3R3KY5EUX"


@pytest.mark.parametrize("turned", [0, 90, 180, 270])
def test_a_turned_photo_is_read_upright_and_detected_once_upright_where_its_text_is(
    recognizer: LocalRecognizer, monkeypatch: pytest.MonkeyPatch, turned: int
) -> None:
    """A photo turned without EXIF is told its orientation, and where its text is, from a small
    copy's detection; the page is detected at full size once, upright (an upside-down photo too),
    and only around its text: the car seat around the card is not detected."""
    import io

    from PIL import Image

    from vehicle_license_recognizer import ocr
    from vehicle_license_tools.cards import corpus

    case = corpus.realistic_cases(29, seed=2026)[28]  # the main page on a car seat, 400-700 px
    assert case.page == "main" and not any(c.startswith("rotate") for c in case.conditions)
    card = corpus.render(case)
    photo = Image.open(io.BytesIO(card.image)).rotate(turned, expand=True)  # counter-clockwise
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=95)
    detected: list[tuple[tuple[int, ...], ocr.Bounds | None]] = []
    detect = ocr.OcrEngine.detect

    def counted(self: ocr.OcrEngine, image: Any, region: ocr.Bounds | None = None) -> list[ocr.Quad]:
        detected.append((image.shape[:2], region))
        return detect(self, image, region)

    monkeypatch.setattr(ocr.OcrEngine, "detect", counted)

    result = recognizer.read(buffer.getvalue())

    assert result is not None
    assert result.rotation == (360 - turned) % 360
    assert len(detected) == 1
    (height, width), region = detected[0]
    assert height < width  # the page upright
    assert region is not None
    x0, y0, x1, y1 = region
    assert (x1 - x0) * (y1 - y0) < 0.85 * width * height
    for name in ("plate_number", "vin", "register_date"):
        assert result.extraction.fields[name] == card.fields[name], name


def test_detecting_where_the_text_is_finds_the_boxes_the_whole_photo_gives() -> None:
    """A region is detected at the scale, and on the grid, of the whole photo's detection: the
    lines well inside it come back where the whole detection puts them, in the photo's
    coordinates (within a few pixels: the detector pools over its whole input, so what lies
    outside the region moves its boxes a little), and none outside it."""
    import numpy as np

    from vehicle_license_recognizer import engine, ocr
    from vehicle_license_tools.cards import corpus

    case = corpus.realistic_cases(29, seed=2026)[28]
    decoded = engine._decode(corpus.render(case).image)
    assert decoded is not None
    rgb = decoded[0]
    image = np.stack([rgb[:, :, 0]] * 3, axis=-1)
    height, width = image.shape[:2]
    reader = ocr.OcrEngine()
    whole = reader.detect(image)
    region = (0.1 * width, 0.05 * height, 0.9 * width, 0.95 * height)
    part = reader.detect(image, region)

    def centre(box: ocr.Quad) -> tuple[float, float]:
        return sum(p[0] for p in box) / 4, sum(p[1] for p in box) / 4

    inside = [
        box
        for box in whole
        if region[0] + 40 < ocr.bounds(box)[0]
        and ocr.bounds(box)[2] < region[2] - 40
        and region[1] + 40 < ocr.bounds(box)[1]
        and ocr.bounds(box)[3] < region[3] - 40
    ]
    assert len(inside) >= 10
    for box in inside:
        x, y = centre(box)
        nearest = min(part, key=lambda other: abs(centre(other)[0] - x) + abs(centre(other)[1] - y))
        assert (
            max(abs(a - b) for p, q in zip(box, nearest, strict=True) for a, b in zip(p, q, strict=True))
            < 4.0
        )
    for box in part:
        x0, y0, x1, y1 = ocr.bounds(box)
        assert region[0] - 48 <= x0 and x1 <= region[2] + 48 and region[1] - 48 <= y0 and y1 <= region[3] + 48
