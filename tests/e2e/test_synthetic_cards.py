"""The realistic card generator (tools/vehicle_license_tools/cards): each condition it claims is
really in the pixels, the printed form carries what real cards carry, the corpus is deterministic
and covers every condition, and other cards are negatives the recognizer answers 5021."""

from __future__ import annotations

import dataclasses
import io
import random
import re
from collections import Counter
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from vehicle_license_intake.domain.fields import LICENSE_FIELDS, MAIN_PAGE_FIELDS, SECONDARY_PAGE_FIELDS
from vehicle_license_recognizer.form import BARCODE_BOX, MAIN_PAGE_ROWS
from vehicle_license_tools import synthetic
from vehicle_license_tools.cards import ink
from vehicle_license_tools.cards.corpus import CONDITIONS, CardCase, CardImage, realistic_license
from vehicle_license_tools.cards.fonts import HEI, HEI_MONO, MONO, PRINT_FACES, SERIF, SONG
from vehicle_license_tools.cards.pages import CARD_PX, main_page, printed_values, printing, secondary_page

LICENSE = realistic_license(random.Random(5))
LATIN = "".join(chr(c) for c in range(32, 127)) + "×"


def case(*conditions: str, page: str = "main", kind: str = "vehicle_license", seed: int = 11) -> CardCase:
    base = ("desk", "medium") if not {"desk", "hand", "seat"} & set(conditions) else ()
    sizes = () if {"small", "medium", "large"} & set(conditions) else ("medium",)
    everything = tuple(dict.fromkeys((*base, *sizes, *conditions)))
    return CardCase(0, seed, kind, page, everything, "mono", LICENSE if kind == "vehicle_license" else {})


def pixels(item: CardImage) -> Any:
    return np.asarray(Image.open(io.BytesIO(item.image)).convert("RGB")).astype(np.int16)


def card_region(item: CardImage, image: Any) -> Any:
    """The pixels inside the first card's corners."""
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.asarray(item.card_quads[0], np.int32)], 255)
    return image[mask > 0]


def red(image: Any) -> Any:
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return (r > 120) & (r - g > 60) & (r - b > 50)


def skin(image: Any) -> Any:
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return (r > 150) & (r - g > 40) & (g - b > 10)


# -- photo conditions ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "low", "high"), [("small", 400, 700), ("medium", 1000, 2000), ("large", 3000, 4000)]
)
def test_each_size_class_gives_photos_of_that_size(size: str, low: int, high: int) -> None:
    item = synthetic.render_realistic(case(size))

    assert low <= max(item.size) <= high
    assert Image.open(io.BytesIO(item.image)).size == item.size


@pytest.mark.parametrize(
    ("rotation", "right", "below"),
    [(None, False, True), ("rotate90", False, False), ("rotate180", True, False), ("rotate270", True, True)],
)
def test_quarter_turns_turn_the_pixels_without_exif(rotation: str | None, right: bool, below: bool) -> None:
    # the red stamp sits at the lower left of the main page: where it lands tells the turn
    item = synthetic.render_realistic(case(*([rotation] if rotation else [])))
    image = pixels(item)
    ys, xs = np.nonzero(red(image))
    centre = np.mean(item.card_quads[0], axis=0)

    assert bool(xs.mean() > centre[0]) is right and bool(ys.mean() > centre[1]) is below
    assert "exif" not in Image.open(io.BytesIO(item.image)).info
    assert (image.shape[0] > image.shape[1]) is (rotation in ("rotate90", "rotate270"))


def test_low_jpeg_quality_is_in_the_file_quantisation_tables() -> None:
    def coarseness(item: CardImage) -> float:
        tables: Any = Image.open(io.BytesIO(item.image)).quantization  # type: ignore[attr-defined]
        return float(np.mean(tables[0]))

    low, normal = synthetic.render_realistic(case("jpeg_low")), synthetic.render_realistic(case())

    assert low.image[:2] == normal.image[:2] == b"\xff\xd8"
    assert low.quality <= 45 < normal.quality
    assert coarseness(low) > 2 * coarseness(normal)


def test_both_pages_lie_side_by_side_in_one_photo_with_all_twenty_fields() -> None:
    item = synthetic.render_realistic(case("both_pages", page="both"))
    left, right = (np.mean(quad, axis=0) for quad in item.card_quads)

    assert len(item.card_quads) == 2 and right[0] - left[0] > 0.3 * item.size[0]
    assert item.fields["vin"] == LICENSE["vin"] and item.fields["document_id"] == LICENSE["document_id"]
    assert set(item.boxes) >= {"vin", "document_id", "inspection_record", "license_issuing_authority"}


def test_sleeve_glare_burns_bright_bands_into_the_card() -> None:
    def burnt(item: CardImage) -> float:
        inside = card_region(item, pixels(item))
        return float((inside.min(axis=1) > 243).mean())

    glare = synthetic.render_realistic(case("sleeve_glare"))

    assert glare.glare_boxes and burnt(glare) > 0.03
    assert burnt(synthetic.render_realistic(case())) < 0.01


def test_a_hand_holds_the_card_and_its_thumb_hides_what_it_covers() -> None:
    held = synthetic.render_realistic(case("hand"))

    assert skin(pixels(held)).mean() > 0.01
    assert skin(pixels(synthetic.render_realistic(case("desk")))).mean() < 0.002


def test_a_car_seat_is_dark_and_a_desk_is_not_skin() -> None:
    seat = synthetic.render_realistic(case("seat"))
    image = pixels(seat)
    outside = np.ones(image.shape[:2], bool)
    mask = np.zeros(image.shape[:2], np.uint8)
    for quad in seat.card_quads:
        cv2.fillPoly(mask, [np.asarray(quad, np.int32)], 255)
    outside &= cv2.dilate(mask, np.ones((61, 61), np.uint8)) == 0

    assert image[outside].mean() < 110


def test_perspective_makes_opposite_card_edges_unequal() -> None:
    def skew(item: CardImage) -> float:
        tl, tr, br, bl = (np.array(p) for p in item.card_quads[0])
        top, bottom = np.linalg.norm(tr - tl), np.linalg.norm(br - bl)
        left, right = np.linalg.norm(bl - tl), np.linalg.norm(br - tr)
        return float(max(top / bottom, bottom / top, left / right, right / left))

    assert skew(synthetic.render_realistic(case("perspective"))) > 1.12
    assert skew(synthetic.render_realistic(case())) < 1.05


def test_a_banner_hides_a_printed_line_and_says_which() -> None:
    item = synthetic.render_realistic(case("banner"))
    assert item.banner_box is not None
    x0, y0, x1, y1 = item.banner_box
    bar = pixels(item)[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2]

    assert x1 - x0 > 0.75 * item.size[0]
    assert item.occluded and set(item.occluded) <= set(MAIN_PAGE_FIELDS)
    assert np.median(bar.reshape(-1, 3), axis=0).tolist() != [255, 255, 255]  # an opaque colour


@pytest.mark.parametrize(
    ("condition", "changed"),
    [
        ("watermark", "marks"),
        ("blur", "sharpness"),
        ("noise", "grain"),
        ("uneven_light", "brightness"),
    ],
)
def test_photo_effects_change_the_pixels_they_claim(condition: str, changed: str) -> None:
    # the same case with and without the condition: everything drawn before the effect is the same
    with_it = pixels(synthetic.render_realistic(case(condition)))
    without = pixels(synthetic.render_realistic(case()))
    grey_with, grey_without = with_it.mean(axis=2).astype(np.float32), without.mean(axis=2).astype(np.float32)

    def sharpness(grey: Any) -> float:
        return float(cv2.Laplacian(grey, cv2.CV_32F).var())

    if changed == "marks":  # translucent text tiled over the whole photo
        marked = np.abs(grey_with - grey_without) > 8
        cells = [c.mean() for row in np.array_split(marked, 3) for c in np.array_split(row, 3, axis=1)]
        assert marked.mean() > 0.02 and sum(c > 0.01 for c in cells) >= 7
    elif changed == "sharpness":
        assert sharpness(grey_with) < 0.6 * sharpness(grey_without)
    elif changed == "grain":  # the typical pixel-to-pixel step grows, edges aside

        def grain(grey: Any) -> float:
            return float(np.median(np.abs(cv2.Laplacian(grey, cv2.CV_32F))))

        assert grain(grey_with) > 1.5 * grain(grey_without)
    else:
        assert grey_with.mean() < 0.92 * grey_without.mean()


# -- the printed card ---------------------------------------------------------------------------
def test_the_stamp_is_a_red_rectangle_framing_three_lines() -> None:
    rng = random.Random(3)
    page = main_page(printed_values(LICENSE), printing(rng, "mono", False), rng, strip_x=0.9)
    image = np.clip(page.image, 0, 255).astype(np.int16)
    ys, xs = np.nonzero(red(image))
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
    frame = red(image)[y0 : y1 + 1, x0 : x1 + 1]

    assert page.stamp_box is not None and x1 < 0.32 * CARD_PX[0] and y0 > 0.58 * CARD_PX[1]
    band = 14  # the stamp is pressed a little askew: each side lies within a band of the box's edge
    top, bottom, left = frame[:band].any(axis=0), frame[-band:].any(axis=0), frame[:, :band].any(axis=1)
    right = frame[:, -band:].any(axis=1)  # black labels printed over it can break it
    assert min(top.mean(), bottom.mean(), left.mean()) > 0.85 and right.mean() > 0.5, "a frame of red lines"
    inner = frame[band + 8 : -band - 8, band + 8 : -band - 8].any(axis=1)
    lines = np.count_nonzero(np.diff(inner.astype(np.int8)) == 1) + int(inner[0])
    assert lines == 3
    assert page.printed["license_issuing_authority"] == LICENSE["license_issuing_authority"]


def test_values_are_printed_off_their_labels_when_the_second_pass_is_misregistered() -> None:
    def offset(misregistered: bool) -> float:
        rng = random.Random(8)
        page = main_page(printed_values(LICENSE), printing(rng, "mono", misregistered), rng)
        rows = {label.field: label.box for row in MAIN_PAGE_ROWS for label in row}
        return float(
            np.mean(
                [
                    abs((box[1] + box[3]) / 2 / CARD_PX[1] - (rows[name][1] + rows[name][3]) / 2)
                    for name, box in page.boxes.items()
                    if name in rows
                ]
            )
        )

    assert offset(True) > 0.025 > offset(False)


def test_dot_matrix_print_is_made_of_separate_dots() -> None:
    def pieces(style: str) -> int:
        mask = ink.text_mask(LICENSE["vin"], PRINT_FACES[style], 48)
        return int(cv2.connectedComponents((mask > 100).astype(np.uint8))[0])

    assert pieces("dot_matrix") > 4 * pieces("mono")


def test_the_secondary_page_carries_the_inspection_stamp_box_and_a_barcode() -> None:
    rng = random.Random(4)
    values = printed_values(LICENSE)
    page = secondary_page({n: values[n] for n in SECONDARY_PAGE_FIELDS}, printing(rng, "serif", False), rng)
    grey = np.clip(page.image, 0, 255).mean(axis=2)
    x0, y0, x1, _ = BARCODE_BOX
    row = grey[int((y0 + 0.05) * CARD_PX[1]), int(x0 * CARD_PX[0]) : int(x1 * CARD_PX[0])] < 100
    bars = np.count_nonzero(np.diff(row.astype(np.int8)) == 1)

    assert bars > 25
    assert page.printed["inspection_record"] == LICENSE["inspection_record"]
    assert "inspection_record" in page.boxes
    assert page.printed["ratified_load_capacity"] in ("--", LICENSE["ratified_load_capacity"])


def test_every_committed_face_covers_what_the_generators_print_with_it() -> None:
    from fontTools.ttLib import TTFont

    chinese = [c for c in synthetic.characters() if c.strip()]
    latin = [c for c in LATIN if c.strip()]
    for path, needed in ((HEI, chinese), (HEI_MONO, chinese), (SONG, chinese), (SERIF, latin), (MONO, latin)):
        covered = TTFont(str(path)).getBestCmap()
        assert [c for c in needed if ord(c) not in covered] == [], path.name


# -- the corpus ---------------------------------------------------------------------------------
def test_the_corpus_is_the_same_for_the_same_seed() -> None:
    first = next(iter(synthetic.realistic_corpus(1, seed=9)))
    again = next(iter(synthetic.realistic_corpus(1, seed=9)))

    assert first.image == again.image and first.fields == again.fields


def test_a_benchmark_sized_corpus_covers_every_condition_and_page() -> None:
    cases = synthetic.realistic_cases(300, seed=2026)
    seen = Counter(condition for item in cases for condition in item.conditions)

    assert {condition: seen[condition] for condition in CONDITIONS if seen[condition] < 20} == {}
    assert Counter(item.page for item in cases).keys() == {"main", "secondary", "both", "none"}
    assert Counter(item.kind for item in cases)["vehicle_license"] < 290


def test_fields_are_those_printed_on_the_pages_shown() -> None:
    for item in synthetic.realistic_corpus(4, seed=1):
        shown = {"main": MAIN_PAGE_FIELDS, "secondary": SECONDARY_PAGE_FIELDS, "both": LICENSE_FIELDS}
        names = shown.get(item.page, ())
        assert [n for n in LICENSE_FIELDS if n not in names and item.fields[n]] == []
        assert item.fields["plate_number"] == item.case.license["plate_number"]


def test_model_codes_are_built_as_gb_9417_builds_them() -> None:
    rng = random.Random(3)
    licenses = [synthetic.random_license(rng) for _ in range(400)]
    codes = [(item["vehicle_type"], re.sub(r"^[\u4e00-\u9fff]+", "", item["model"])) for item in licenses]

    # the maker's two or three letters, the category digit, two of the main parameter, one of sequence
    assert [code for _, code in codes if not re.fullmatch(r"[A-Z]{2,3}\d{4}[0-9A-Z]*", code)] == []
    category = {kind: re.search(r"\d", code).group(0) for kind, code in codes}  # type: ignore[union-attr]
    assert (category["小型轿车"], category["重型厢式货车"], category["小型普通客车"]) == ("7", "1", "6")
    assert Counter(len(re.match(r"[A-Z]+", code).group(0)) for _, code in codes).keys() == {2, 3}  # type: ignore[union-attr]


def test_every_license_registered_in_beijing_carries_beijings_one_authority() -> None:
    rng = random.Random(11)
    licenses = [realistic_license(rng) for _ in range(600)]
    beijing = [item for item in licenses if item["license_issuing_authority"].startswith("北京")]

    # embassy and consulate plates (使, 领) registered in Beijing too, not only 京 plates
    assert any(not item["plate_number"].startswith("京") for item in beijing)
    assert {item["license_issuing_authority"] for item in beijing} == {"北京市公安局公安交通管理局"}


@pytest.mark.parametrize("kind", ["driving_license", "id_card"])
def test_other_cards_expect_5021_and_no_fields(kind: str) -> None:
    item = synthetic.render_realistic(case(page="none", kind=kind))

    assert item.expected_code == 5021 and set(item.fields.values()) == {""}
    assert item.card_quads and red(pixels(item)).mean() < 0.05


def test_a_drivers_license_is_answered_5021_by_the_recognizer() -> None:
    pytest.importorskip("rapidocr")
    from vehicle_license_recognizer import LocalRecognizer

    item = synthetic.render_realistic(dataclasses.replace(case(page="none", kind="driving_license"), seed=21))

    assert LocalRecognizer().read_license(item.image) is None
