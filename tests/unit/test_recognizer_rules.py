"""The offline recognizer's rules, without OCR: how text lines become the 20 fields, how a misread
seal is repaired, and that the synthetic generator and its font subset stay consistent."""

from __future__ import annotations

import random

import pytest

from vehicle_license_recognizer.extraction import Line, extract
from vehicle_license_tools import synthetic


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
