"""The offline recognizer's rules, without OCR: how text lines become the 20 fields, how a misread
seal is repaired, and that the synthetic generator and its font subset stay consistent."""

from __future__ import annotations

import random

import pytest

from vehicle_license_recognizer.engine import REREAD_BUDGET
from vehicle_license_recognizer.extraction import Extraction, Line, extract
from vehicle_license_recognizer.ocr import Budget, Quad
from vehicle_license_tools import synthetic


class RegionReader:
    """A stand-in OCR's `read_regions`: each region read by the stand-in's `read_region`."""

    def read_regions(self, image: object, regions: list[tuple[Quad, object]], *_: object) -> list[list[Line]]:
        return [self.read_region(image, quad) for quad, _ in regions]  # type: ignore[attr-defined]


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


@pytest.mark.parametrize(
    ("read", "plate_province", "authority"),
    [
        ("省青岛市公安局交通警察支队", "山东", "山东省青岛市公安局交通警察支队"),  # the province lost
        ("河北省武汉市公安局交通警察支队", "湖北", "湖北省武汉市公安局交通警察支队"),  # the city decides
        ("山东省佛山市公安局交通警察支队", None, "广东省佛山市公安局交通警察支队"),
        ("广东省圳市公安局交通警察支队", "广东", "广东省深圳市公安局交通警察支队"),  # a city's character lost
        ("北京市公安司市公安交通管理局", "北京", "北京市公安局公安交通管理局"),  # not a place: the suffix
        ("北京市公安交通管理局", "北京", "北京市公安局公安交通管理局"),  # Beijing's stamp, a line lost
    ],
)
def test_a_stamp_place_is_repaired_to_a_known_place(
    read: str, plate_province: str | None, authority: str
) -> None:
    from vehicle_license_recognizer.stamp import repair_authority

    repaired = repair_authority(read, 0.95, plate_province)
    assert repaired is not None and repaired[0] == authority
    assert repaired[1] < 0.8, "a repaired name asks for a look"


def test_a_place_in_no_list_is_left_as_read() -> None:
    from vehicle_license_recognizer.stamp import repair_authority

    # a county-level city: near several prefecture-level ones, none nearer than the others
    assert repair_authority("江苏省昆山市公安局交通警察大队", 0.95, "江苏") == (
        "江苏省昆山市公安局交通警察大队",
        0.95,
    )


def test_values_printed_off_their_rows_are_given_to_the_labels_the_whole_print_is_off_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vehicle_license_recognizer import extraction as module
    from vehicle_license_recognizer.form import CARD_MM, MAIN_PAGE_ROWS

    width = 1000.0
    height = width * CARD_MM[1] / CARD_MM[0]

    def line(text: str, x0: float, y0: float, x1: float, y1: float) -> Line:
        box = (
            (x0 * width, y0 * height),
            (x1 * width, y0 * height),
            (x1 * width, y1 * height),
            (x0 * width, y1 * height),
        )
        return Line(text, box, 0.99)

    values = {
        "plate_number": "川J6132A",
        "owner": "宋思敏",
        "address": "四川省绵阳市武侯区长江路253号",
        "use_character": "非营运",
        "model": "别克牌KDVM1DU80",
        "vin": "LSVWY4180KN246094",
        "engine_number": "22U8676",
        "register_date": "2024-02-13",
        "issue_date": "2024-02-13",
    }
    shift = -0.06  # the second pass sits half a row above the form: between two labels' rows
    lines = []
    for row in MAIN_PAGE_ROWS:
        for label in row:
            lines.append(line(label.chinese, *label.box))
            if label.field in values:
                y0, y1 = label.box[1] + shift, label.box[3] + shift
                lines.append(
                    line(values[label.field], label.value_span[0] + 0.01, y0, label.value_span[1] - 0.1, y1)
                )
    extraction = extract(lines)

    assert {name: extraction.fields[name] for name in values} == values
    assert extraction.shifts["main"][1] < 0
    monkeypatch.setattr(module, "SHIFTS_DOWN", (0.0,))
    monkeypatch.setattr(module, "SHIFTS_ACROSS", ())
    unshifted = extract(lines).fields
    assert {name: unshifted[name] for name in values} != values, "read on the form's rows, values go astray"


@pytest.mark.parametrize(
    ("name", "read", "value"),
    [
        ("plate_number", "/川/S30AF6", "川S30AF6"),  # specks around the province are no separator
        ("model", "晶牌型导奥迪牌7K3A25", "奥迪牌7K3A25"),  # its label's pieces read before the brand
        ("approved_passengers_capacity", "1198kg", ""),  # a mass beside the passengers' label
        ("curb_weight", "5人", ""),
        ("approved_passengers_capacity", "鲁TA04135", ""),  # the plate's row, read a row off
        ("approved_passengers_capacity", "1198", ""),  # no vehicle seats 1198
        ("gabarite", "53725×1676×2430mm", "3725×1676×2430mm"),  # nor is one 53 m long
        ("vehicle_type", "微型轿在China", "微型轿车"),  # the title's English over it, 车 misread
        ("vehicle_type", "三小型超野客车", "小型越野客车"),
        ("vehicle_type", "重型式费车", "重型式费车"),  # as near to 厢式 as to 罐式: left as read
        ("use_character", "非", "非营运"),
        ("vin", "18RLJZY7HHVK4PSD", "18RLJZY7HHVK4PSD"),  # L would not make the check digit agree
        ("gabarite", "3930=1897=2607mm", "3930×1897×2607mm"),  # × read as = or ≈
        ("gabarite", "外庸7寸6731×1584≈2159mm", "6731×1584×2159mm"),  # the label's misread glyphs before it
        ("gabarite", "2024-06-01", ""),  # a date is no size
        ("address", "重庆市渝中区科苑路371号9东996室", "重庆市渝中区科苑路371号9栋996室"),  # 东 for 栋
        ("address", "山东省济南市江宁区学院路160号8栋2447宣", "山东省济南市江宁区学院路160号8栋2447室"),
        ("address", "北京市海淀区人民路266号1栋9层", "北京市海淀区人民路266号1栋9层"),  # a floor stays
        ("vehicle_type", "越野客车", "小型越野客车"),  # the size class lost with its 型
        ("vehicle_type", "越野车", "小型越野客车"),  # characters lost inside: one kind holds them
        ("vehicle_type", "型面", "小型面包车"),
        ("vehicle_type", "重车", "重车"),  # every heavy vehicle holds 重…车: left as read
        ("vehicle_type", "型越野客军", "小型越野客车"),  # every name ends in 车: 军 is it misread
        ("vehicle_type", "面早", "小型面包车"),
        ("address", "天津市南开区和平街335号15栋1989室ww.che", "天津市南开区和平街335号15栋1989室"),
        ("model", "解放牌1SFGM2WW.CHES", "解放牌1SFGM2"),  # a web watermark's address (www.) after it
        ("model", "解放牌1SFGM2WW", "解放牌1SFGM2WW"),  # letters of the code stay
    ],
)
def test_values_are_cleaned_by_their_fields_format(name: str, read: str, value: str) -> None:
    from vehicle_license_recognizer.extraction import CLEANERS

    assert CLEANERS[name](read) == value


@pytest.mark.parametrize(
    ("plate", "authority", "address", "repaired"),
    [
        ("油M686E4", "重庆市公安局交通警察总队", "", "渝M686E4"),  # a misread province character
        ("R33E8A", "", "湖北省武汉市西湖区长江路533号", "鄂R33E8A"),  # none read: the address's
        ("粤B12345", "湖北省武汉市公安局交通警察支队", "", "粤B12345"),  # a valid plate stays
    ],
)
def test_a_plate_without_its_province_takes_the_registering_province(
    plate: str, authority: str, address: str, repaired: str
) -> None:
    from vehicle_license_recognizer.engine import _plate_province_from_others
    from vehicle_license_recognizer.extraction import Extraction

    fields = {"plate_number": plate, "license_issuing_authority": authority, "address": address}
    extraction = Extraction(fields, {"plate_number": 0.9}, 10, "main")
    _plate_province_from_others(extraction)
    assert extraction.fields["plate_number"] == repaired
    assert (extraction.confidence["plate_number"] < 0.8) is (repaired != plate)


def test_a_date_that_is_no_date_takes_the_other_date_of_its_row_and_a_plate_loses_a_stray_character() -> None:
    from vehicle_license_recognizer.extraction import _pair_dates, _repair_plate

    fields = {"register_date": "2817-93-13", "issue_date": "2017-03-13", "plate_number": "苏H5839Bi"}
    confidence = {"register_date": 0.9, "issue_date": 0.99, "plate_number": 0.9}
    _pair_dates(fields, confidence)
    _repair_plate(fields, confidence)
    assert fields == {"register_date": "2017-03-13", "issue_date": "2017-03-13", "plate_number": "苏H5839B"}
    assert confidence["register_date"] < 0.8 and confidence["plate_number"] < 0.8
    assert confidence["issue_date"] == 0.99


@pytest.mark.parametrize(
    ("read", "plate_province", "authority"),
    [
        ("湖省武汉通察支队", "湖北", "湖北省武汉市公安局交通警察支队"),  # faint characters lost, none misread
        ("天津市公警桌总队", "天津", "天津市公安局交通警察总队"),  # a banner over the middle line
        ("江省京市公安刘通普察文队", "江苏", "江苏省南京市公安局交通警察支队"),  # the plate's province agrees
        ("曲省武市安简交瞳察支队二二", "湖北", "湖北省武汉市公安局交通警察支队"),  # the bottom rule read
        ("公安管理局", "北京", "北京市公安局公安交通管理局"),  # the place lost: a municipality's plate
    ],
)
def test_a_stamp_read_in_part_is_the_authority_its_read_characters_fit(
    read: str, plate_province: str, authority: str
) -> None:
    from vehicle_license_recognizer.stamp import repair_authority

    repaired = repair_authority(read, 0.95, plate_province)
    assert repaired is not None and repaired == (authority, 0.5), "restored, and asks for a look"


@pytest.mark.parametrize(
    ("read", "plate_province"),
    [
        ("新度浦安局观项一联支队", "浙江"),  # neither a place nor the fixed part can be told
        ("一百新中专再整", "山东"),
        ("公安管理局", "广东"),  # no place read, and a province's plate names no city
    ],
)
def test_a_stamp_read_too_badly_gives_no_authority(read: str, plate_province: str) -> None:
    from vehicle_license_recognizer.stamp import repair_authority

    assert repair_authority(read, 0.95, plate_province) is None


@pytest.mark.parametrize(
    ("name", "read", "value"),
    [
        ("vin", "18RLJZY7HHVK4PSC", "L18RLJZY7HHVK4PSC"),  # China's L lost: the check digit agrees
        ("model", "放牌U07UGFMMFU", "解放牌U07UGFMMFU"),  # the brand's first character lost
        ("model", "品别克牌14QM99EL", "别克牌14QM99EL"),  # a stray character before it
        ("model", "解放7FF44KG", "解放牌7FF44KG"),  # 牌 lost
        ("model", "咨利牌Q5313HLDVH", "吉利牌Q5313HLDVH"),  # one character misread
        ("model", "导田牌U5VGSV", "导田牌U5VGSV"),  # 丰田, 本田 or 福田: left as read
        ("model", "东风风神牌DFM7160", "东风风神牌DFM7160"),  # a brand in no list: left as read
        ("model", "大众汽车牌5VW7183MJD", "大众汽车牌SVW7183MJD"),  # GB 9417: the maker's letters…
        ("model", "比亚迪牌BYD71S2WT6HEV", "比亚迪牌BYD7152WT6HEV"),  # …then four digits
        ("model", "大众汽车牌S5B7183", "大众汽车牌SSB7183"),  # one change, not SS87183's two
        ("model", "大众汽车牌SVD718B", "大众汽车牌SVD718B"),  # SV0718B or SVD7188: left as read
        ("model", "奔驰牌S500L", "奔驰牌S500L"),  # an import's code in no such form: left as read
        ("vehicle_type", "型平板半挂车", "重型平板半挂车"),  # the size lost: semi-trailers are heavy
        ("vehicle_type", "型普通客车", "小型普通客车"),  # buses and cars mostly small
        ("vehicle_type", "董型厢式货车", "轻型厢式货车"),  # goods vehicles mostly light
        ("vehicle_type", "通客车", "小型普通客车"),  # only 普通客车 holds 通…客车
        ("vehicle_type", "客车", "客车"),  # too little read: left, and it fails its format
        ("address", "津市河西区东风路892号", "天津市河西区东风路892号"),
        ("address", "江苏省无锡市南山区东风路416", "江苏省无锡市南山区东风路416号"),  # 号 lost
        ("address", "属庆市江北区长江路85号", "重庆市江北区长江路85号"),
        ("address", "山东省哥岛市江宁区建设大道787号", "山东省青岛市江宁区建设大道787号"),
        ("address", "浙江省泸州市高新区中山路890号", "浙江省泸州市高新区中山路890号"),  # 温州? 湖州? 台州?
    ],
)
def test_brands_sizes_and_places_are_restored_from_what_licenses_print(
    name: str, read: str, value: str
) -> None:
    from vehicle_license_recognizer.extraction import ADJUST, CLEANERS, FIELD_CHECKS

    assert CLEANERS[name](read) == value
    if name == "vehicle_type":
        assert FIELD_CHECKS[name](value) is (value != read)
    if name in ADJUST:
        look = value != read or (name, read) in LEFT_AS_READ_FOR_A_LOOK
        assert (ADJUST[name](read, value) < 0.8) is look, "a restored or unvouched value asks for a look"


# left as read, but no format vouches for them: a code off GB 9417's form, a city its province
# does not have
LEFT_AS_READ_FOR_A_LOOK = {
    ("model", "导田牌U5VGSV"),
    ("model", "大众汽车牌SVD718B"),
    ("model", "奔驰牌S500L"),
    ("address", "浙江省泸州市高新区中山路890号"),
}


INSPECTION = "inspection_record"
Case = tuple[str, dict[str, str], str, str]


def inspection(read: str, plate: str, repaired: str) -> Case:
    return "_repair_inspection", {INSPECTION: read, "plate_number": plate}, INSPECTION, repaired


def company(owner: str, address: str, repaired: str) -> Case:
    return "_repair_company", {"owner": owner, "address": address}, "owner", repaired


@pytest.mark.parametrize(
    ("repair", "fields", "name", "repaired"),
    [
        inspection("会有效期至2026年04月苏D(06)", "苏D12345", "检验有效期至2026年04月苏D(06)"),  # fixed words
        inspection(
            "检验有效期至2030年06月涵G(02)", "渝A12345", "检验有效期至2030年06月渝G(02)"
        ),  # the plate's
        inspection("检验有效期至2025年06月苏6(05)", "苏G12345", "检验有效期至2025年06月苏G(05)"),  # 6 for G
        inspection("检验有效期至2025年10月沪B(03)例图片", "沪B12345", "检验有效期至2025年10月沪B(03)"),
        inspection(
            "检验有效期至2030年06月", "川E12345", "检验有效期至2030年06月"
        ),  # no station read: as read
        inspection("检验有效期至2028年83月鲁F(03)", "鲁F12345", "检验有效期至2028年03月鲁F(03)"),  # 8 for 0
        inspection(
            "检验有效期至2028年30月鲁F(03)", "鲁F12345", "检验有效期至2028年30月鲁F(03)"
        ),  # 30 is 03 or 09 or 10: no month to choose, as read (and failing its format)
        company("津恒通运输有限公司", "天津市河西区东风路892号", "天津恒通运输有限公司"),
        company("波汇丰运输有限公司", "浙江省宁波市高新区解放路130号", "宁波汇丰运输有限公司"),
        company("汇丰运输有限公司", "浙江省宁波市高新区解放路130号", "汇丰运输有限公司"),  # nothing of 宁波
        company("津恒通", "天津市河西区东风路892号", "津恒通"),  # a person: no city in a name
        company("晋岛汇丰物流有限公司", "山东省青岛市南山区解放路310号", "青岛汇丰物流有限公司"),  # 晋 for 青
        # a company of 南通 beside an address in 南京 reads as one misread: the repair asks for a look
        company("南通汇丰物流有限公司", "江苏省南京市江宁区中山路15号", "南京汇丰物流有限公司"),
        company(
            "苏州汇丰物流有限公司", "江苏省南京市江宁区中山路15号", "苏州汇丰物流有限公司"
        ),  # another city
    ],
)
def test_a_field_is_restored_from_its_fixed_words_and_the_cards_other_fields(
    repair: str, fields: dict[str, str], name: str, repaired: str
) -> None:
    from vehicle_license_recognizer import extraction

    read = fields[name]
    confidence = {name: 0.95}
    getattr(extraction, repair)(fields, confidence)
    assert fields[name] == repaired
    assert (confidence[name] < 0.8) is (repaired != read), "a restored value asks for a look"
    if name == INSPECTION:
        assert extraction.FIELD_CHECKS[name](repaired) is (repaired != read)


@pytest.mark.parametrize(
    ("address", "gabarite", "left", "size"),
    [
        (
            "江苏省南京市南山区和平街842号7栋1483室9253×1790×2185mm",
            "",
            "江苏省南京市南山区和平街842号7栋1483室",
            "9253×1790×2185mm",
        ),
        (
            "江苏省南京市高新区长江路289号5005=2044=1004mm",
            "5995×2044×1384mm",
            "江苏省南京市高新区长江路289号",
            "5995×2044×1384mm",
        ),
        ("江苏省南京市高新区长江路2890号", "", "江苏省南京市高新区长江路2890号", ""),
    ],
)
def test_a_gabarite_joined_to_the_address_across_the_pages_is_the_gabarite(
    address: str, gabarite: str, left: str, size: str
) -> None:
    from vehicle_license_recognizer.extraction import FIELD_CHECKS, _split_dimensions

    fields, confidence = {"address": address, "gabarite": gabarite}, {"address": 0.95, "gabarite": 0.9}
    _split_dimensions(fields, confidence)
    assert fields == {"address": left, "gabarite": size}
    assert FIELD_CHECKS["address"](fields["address"])
    moved = size and not gabarite
    assert (confidence["gabarite"] < 0.8) is bool(moved), "a size taken from another line asks for a look"


def test_freed_memory_is_handed_back_above_the_threshold_only() -> None:
    from vehicle_license_recognizer.memory import release_freed_memory, resident_bytes

    if not resident_bytes():
        pytest.skip("no /proc: resident memory cannot be read here")
    assert release_freed_memory(above=resident_bytes() + 2**30) is False, "below the threshold: left alone"
    # 200 MB of 8 KB blocks (malloc's heap, not mmap), freed behind a block that stays: the heap
    # cannot shrink from its top, only malloc_trim returns the free pages inside it
    blocks = [bytearray(8192) for _ in range(25_000)]
    kept = bytearray(8192)
    held = resident_bytes()
    del blocks
    assert release_freed_memory(above=0) is True
    assert resident_bytes() < held - 100 * 2**20, "the freed blocks' pages went back to the system"
    del kept


def test_a_long_label_with_two_characters_misread_is_that_label_and_no_value() -> None:
    from vehicle_license_recognizer.extraction import _tokens

    box = ((275.0, 141.0), (375.0, 141.0), (375.0, 161.0), (275.0, 161.0))
    labels, values = _tokens([Line("品单引总质量", box, 0.8), Line("在单引总质量1000kg", box, 0.8)])
    assert [label for label, _, _ in labels] == ["准牵引总质量", "准牵引总质量"]
    assert [value.text for value in values] == ["1000kg"], "品单引 was taken for a remark"


@pytest.mark.parametrize(
    ("register", "issue", "register_confidence", "repaired"),
    [
        ("2009-03-02", "2009-03-28", 0.6, "2009-03-28"),  # read 2009-03-2: a digit lost
        ("2009-03-02", "2009-03-28", 1.0, "2009-03-02"),  # read whole: a different day stays
        ("2013-10-05", "2013-10-11", 0.6, "2013-10-05"),  # the digit read is not the other's
        ("2013-10-01", "2014-10-11", 0.6, "2013-10-01"),  # another month: no evidence
    ],
)
def test_a_day_that_lost_a_digit_takes_the_other_date_of_its_month(
    register: str, issue: str, register_confidence: float, repaired: str
) -> None:
    from vehicle_license_recognizer.extraction import _pair_dates

    fields = {"register_date": register, "issue_date": issue}
    confidence = {"register_date": register_confidence, "issue_date": 1.0}
    _pair_dates(fields, confidence)
    assert fields == {"register_date": repaired, "issue_date": issue}
    assert confidence["register_date"] == register_confidence


@pytest.mark.parametrize(
    ("read", "plate_province", "address", "authority", "trusted"),
    [
        (
            "山东省价市公安局交通警察支队",
            "山东",
            "山东省济南市南山区解放路9号",
            "山东省济南市公安局交通警察支队",
            False,
        ),
        ("正为市公安局交通警察总队", "上海", "上海市浦东新区科苑路1号", "上海市公安局交通警察总队", False),
        (
            "公安局交通警察支队",
            "广东",
            "广东省深圳市福田区人民路2号",
            "广东省深圳市公安局交通警察支队",
            False,
        ),
        # a place read whole stays, wherever the owner lives now
        (
            "四川省绵阳市公安局交通警察支队",
            "四川",
            "浙江省宁波市海曙区中山路3号",
            "四川省绵阳市公安局交通警察支队",
            True,
        ),
    ],
)
def test_a_stamp_place_read_too_badly_is_the_owners_home(
    read: str, plate_province: str, address: str, authority: str, trusted: bool
) -> None:
    from vehicle_license_recognizer.places import place_of_address
    from vehicle_license_recognizer.stamp import repair_authority

    repaired = repair_authority(read, 0.95, plate_province, place_of_address(address))
    assert repaired is not None and repaired[0] == authority
    assert (repaired[1] >= 0.8) is trusted
    assert repair_authority("新度浦安局观项一联支队", 0.95, "浙江", "浙江省宁波市") is None, "no stamp read"


def test_a_beijing_stamp_read_badly_is_beijings_one_authority() -> None:
    from vehicle_license_recognizer.stamp import repair_authority

    # the place is the owner's home (Beijing): its stamp carries one name, not a generic one
    assert repair_authority("京市公法间么安通善理品", 0.9, "北京", "北京市") == (
        "北京市公安局公安交通管理局",
        0.5,
    )
    assert repair_authority("自中公安自专女通管理", 0.4, "北京", "北京市") == (
        "北京市公安局公安交通管理局",
        0.4,
    )


@pytest.mark.parametrize(
    ("owner", "passes"),
    [
        ("潘雯博", True),
        ("薄国晓", True),  # a rare surname, but one
        ("欧阳娜娜", True),
        ("买买提·艾力", True),
        ("天津恒通运输有限公司", True),
        ("酒雯博", False),  # 潘 misread: no surname
        ("候浩军", False),  # 侯 misread
        ("四川省绵阳市", False),  # the address's place read a row off
        ("温州宏盛物", False),  # a company's name cut short
    ],
)
def test_an_owner_is_a_person_with_a_surname_or_an_organisation(owner: str, passes: bool) -> None:
    from vehicle_license_recognizer.extraction import FIELD_CHECKS

    assert FIELD_CHECKS["owner"](owner) is passes


@pytest.mark.parametrize(
    ("remarks", "fields", "moved"),
    [
        # the inspection stamp printed over the remarks' row is the record
        ("检验期至2025年01月川D(08)", {INSPECTION: ""}, {INSPECTION: "检验有效期至2025年01月川D(08)"}),
        ("6089<1574×2469mm", {"gabarite": ""}, {"gabarite": "6089×1574×2469mm"}),
        ("1536×3803mm", {"gabarite": "3642×1536×3803mm"}, {"gabarite": "3642×1536×3803mm"}),
        ("准牵引总", {}, {}),  # a label's characters
        ("考", {}, {}),  # a lone character
        ("。", {}, {}),
        ("esam", {}, {}),  # Latin letters alone: a watermark's
        ("营转非", {}, {"remarks": "营转非"}),  # a remark stays
        ("2024年05月转入", {}, {"remarks": "2024年05月转入"}),  # a date is no inspection stamp
    ],
)
def test_what_strays_onto_the_remarks_row_is_no_remark(
    remarks: str, fields: dict[str, str], moved: dict[str, str]
) -> None:
    from vehicle_license_recognizer.extraction import FIELD_CHECKS, _repair_inspection, _tidy_remarks

    read = {"remarks": remarks, "plate_number": "川D12345", **fields}
    confidence = {"remarks": 0.9, **dict.fromkeys(fields, 0.95)}
    _tidy_remarks(read, confidence)
    _repair_inspection(read, confidence)
    assert read == {**fields, "plate_number": "川D12345", "remarks": "", **moved}
    for name in set(moved) - {"remarks"}:
        assert FIELD_CHECKS[name](read[name])
        assert (confidence[name] < 0.8) is (fields[name] != moved[name]), "a moved value asks for a look"


@pytest.mark.parametrize(
    ("register", "issue", "restored"),
    [
        ("2025-06-24", "2025-86-24", ("2025-06-24", "2025-06-24")),  # a month's 0 read as 8
        ("2008-08-75", "2908-08-25", ("2008-08-25", "2008-08-25")),  # the decade's 0 as 9, then paired
        ("7024-01-12", "2024-91-12", ("2024-01-12", "2024-01-12")),  # the century's 2 as 7
        ("2024-30-01", "2024-30-01", ("2024-30-01", "2024-30-01")),  # 03, 09 or 10: left as read
    ],
)
def test_a_date_that_is_no_date_is_restored_where_a_digits_shape_decides(
    register: str, issue: str, restored: tuple[str, str]
) -> None:
    from vehicle_license_recognizer.extraction import _pair_dates

    fields = {"register_date": register, "issue_date": issue}
    confidence = {"register_date": 0.95, "issue_date": 0.95}
    _pair_dates(fields, confidence)
    assert (fields["register_date"], fields["issue_date"]) == restored
    for name, read in (("register_date", register), ("issue_date", issue)):
        assert (confidence[name] < 0.8) is (fields[name] != read), "a restored date asks for a look"


@pytest.mark.parametrize(
    ("read", "plate"),
    [
        ("沪561E5E", "沪S61E5E"),  # the office letter S read as 5
        ("鄂8320A7", "鄂B320A7"),
        ("鄂6320A7", "鄂6320A7"),  # 6 is read for G and for B: left, failing its format
        ("使649872", "使649872"),  # an embassy's plate is digits
    ],
)
def test_a_plates_office_letter_read_as_a_digit_is_restored(read: str, plate: str) -> None:
    from vehicle_license_recognizer.extraction import _repair_plate

    fields, confidence = {"plate_number": read}, {"plate_number": 0.95}
    _repair_plate(fields, confidence)
    assert fields["plate_number"] == plate
    assert (confidence["plate_number"] < 0.8) is (plate != read)


def test_each_characters_runners_up_come_from_its_time_steps_most_likely_first() -> None:
    import numpy as np

    from vehicle_license_recognizer.ocr import runners_up_of

    characters = ["blank", "淄", "潘", "酒", "伟", "霞", "x"]

    def step(**probabilities: float) -> list[float]:
        row = [0.0] * len(characters)
        for name, p in probabilities.items():
            row[characters.index(name) if name != "blank" else 0] = p
        return row

    output = np.array(
        [
            step(blank=0.9, x=0.1),
            step(淄=0.5, 潘=0.3, 酒=0.2),
            step(淄=0.6, 酒=0.35, x=0.005),  # the same character over two steps: its best of each
            step(blank=1.0),
            step(伟=0.99, 霞=0.01),
            step(blank=0.8, 伟=0.2),
            step(伟=0.9, x=0.1),  # 伟 again after a blank: a second character
            step(霞=1.0),
        ]
    )
    assert runners_up_of(output, characters, "淄伟伟霞") == ("酒潘", "霞", "x", "")
    assert runners_up_of(output, characters, "淄伟霞") == (), "an output that is not the crop's says nothing"
    assert runners_up_of(None, characters, "淄伟霞") == ()


@pytest.mark.parametrize(
    ("read", "runners_up", "owner", "trusted"),
    [
        ("淄伟霞", ("酒潘溜", "", ""), "潘伟霞", False),  # 潘 is the first runner-up that is a surname
        ("刘伟霞", ("潘", "", ""), "刘伟霞", True),  # a surname read is kept
        ("淄伟霞", ("酒溜", "", ""), "淄伟霞", False),  # no surname among the runners-up: as read
        ("温州宏盛物流有限公司", ("潘",) + ("",) * 9, "温州宏盛物流有限公司", True),  # an organisation
        ("卢强器", ("", "", "噐磊"), "卢强磊", False),  # 器 is in no given name: 磊, the runner-up that is
        ("向垂艳", ("", "雯", ""), "向雯艳", False),
        ("淄伟器", ("潘", "", "磊"), "潘伟磊", False),  # surname and given name both
        ("王京", ("", "亰"), "王京", True),  # a given name's character kept where it is one
        ("穆高寒", ("", "", "赛"), "穆高寒", True),
        ("卢强器", ("", "", "噐"), "卢强器", True),  # no common character behind it: as read
    ],
)
def test_an_owner_whose_first_character_is_no_surname_takes_the_runner_up_that_is(
    read: str, runners_up: tuple[str, ...], owner: str, trusted: bool
) -> None:
    def line(text: str, x: float, y: float, width: float, alternatives: tuple[str, ...] = ()) -> Line:
        return Line(text, ((x, y), (x + width, y), (x + width, y + 30), (x, y + 30)), 0.99, (), alternatives)

    lines = [
        line("号牌号码", 100, 100, 120),
        line("沪A12345", 260, 100, 140),
        line("车辆类型", 700, 100, 120),
        line("所有人", 100, 200, 90),
        line(read, 250, 200, 30 * len(read), runners_up),
    ]

    extraction = extract(lines)

    assert extraction.fields["owner"] == owner
    assert (extraction.confidence["owner"] >= 0.8) is trusted


def _text_line(text: str, x: float, y: float, width: float) -> Line:
    return Line(text, ((x, y), (x + width, y), (x + width, y + 30), (x, y + 30)), 0.99)


def _extract_first_row(
    label: str, label_width: float, read: str, width: float, runners_up: tuple[str, ...]
) -> Extraction:
    """The main page's first row (the plate, then `label` and the value read with its runners-up),
    and the owner's label below it."""

    def line(text: str, x: float, width: float, alternatives: tuple[str, ...] = ()) -> Line:
        return Line(text, ((x, 100), (x + width, 100), (x + width, 130), (x, 130)), 0.99, (), alternatives)

    return extract(
        [
            line("号牌号码", 100, 120),
            line("沪A12345", 260, 140),
            line(label, 700, label_width),
            line(read, 700 + label_width + 40, width, runners_up),
            Line("所有人", ((100, 200), (190, 200), (190, 230), (100, 230)), 0.99),
        ]
    )


@pytest.mark.parametrize(
    ("read", "runners_up", "vehicle_type"),
    [
        ("董型箱式货车", ("量重童", "", "厢", "", "", ""), "重型厢式货车"),  # 重 the runner-up: that size
        ("董型箱式货车", ("量童", "", "厢", "", "", ""), "轻型厢式货车"),  # none: the usual size, as before
        ("小型轿车", ("大", "", "", ""), "小型轿车"),  # a size class read is kept
    ],
)
def test_a_vehicle_types_misread_size_class_is_the_runner_up_that_is_one(
    read: str, runners_up: tuple[str, ...], vehicle_type: str
) -> None:
    extraction = _extract_first_row("车辆类型", 120, read, 30 * len(read), runners_up)

    assert extraction.fields["vehicle_type"] == vehicle_type
    assert (extraction.confidence["vehicle_type"] >= 0.8) is (read == vehicle_type)


@pytest.mark.parametrize(
    ("plate", "stripped"),
    [
        ("沪P24AECe", "沪P24AEC"),  # the sub-label's letter (Plate No.) read after the plate
        ("鄂E3887k", None),  # a lower-case letter printed as the last one: the plate passes as it is
        ("沪P24AEC9", None),  # a digit is no sub-label's letter
    ],
)
def test_a_sub_labels_letter_read_after_a_plate_is_dropped(plate: str, stripped: str | None) -> None:
    from vehicle_license_recognizer.extraction import plate_without_sub_label_letter

    assert plate_without_sub_label_letter(plate) == stripped


def _on_card(x0: float, y0: float, x1: float, y1: float) -> Quad:
    """A box given in card units (0-1) on a card photographed 1000 px wide."""
    from vehicle_license_recognizer.form import CARD_MM

    width = 1000.0
    height = width * CARD_MM[1] / CARD_MM[0]
    return (
        (x0 * width, y0 * height),
        (x1 * width, y0 * height),
        (x1 * width, y1 * height),
        (x0 * width, y1 * height),
    )


def test_an_inspection_record_that_fails_its_format_is_read_again_from_its_stamp_box() -> None:
    """A glare band over the record's end (苏B(08) lost) leaves a record that fails its format:
    the stamp box the form prints around it is detected and read again, and the whole record
    read there is taken."""
    from vehicle_license_recognizer.engine import _reread_missing
    from vehicle_license_recognizer.form import INSPECTION_STAMP_BOX, SECONDARY_PAGE_ROWS
    from vehicle_license_recognizer.ocr import Reading, bounds

    x0, y0, _, y1 = INSPECTION_STAMP_BOX
    lines = [Line(label.chinese, _on_card(*label.box), 0.99) for row in SECONDARY_PAGE_ROWS for label in row]
    lines.append(Line("检验有效期至2030年03月", _on_card(x0 + 0.05, y0 + 0.02, x0 + 0.4, y1 - 0.02), 0.99))
    extraction = extract(lines)
    assert extraction.fields["inspection_record"] == "检验有效期至2030年03月"
    regions: list[tuple[float, float, float, float]] = []
    _, top, _, bottom = bounds(_on_card(x0, y0 - 0.01, x0, y1 + 0.01))

    class Ocr(RegionReader):
        def read_region(self, image: object, quad: Quad, **_: object) -> list[Line]:
            regions.append(bounds(quad))
            if bounds(quad)[1] > top and bounds(quad)[3] < bottom:
                return [
                    Line(
                        "检验有效期至2030年03月苏B(08)",
                        _on_card(x0 + 0.05, y0 + 0.02, x0 + 0.55, y1 - 0.02),
                        0.99,
                    )
                ]
            return []

    again = _reread_missing(extraction, Reading(lines, 0, None), Ocr(), Budget(REREAD_BUDGET))  # type: ignore[arg-type]

    assert again.fields["inspection_record"] == "检验有效期至2030年03月苏B(08)"
    stamp = bounds(_on_card(*INSPECTION_STAMP_BOX))
    assert any(all(abs(a - b) < 2 for a, b in zip(region, stamp, strict=True)) for region in regions)


def _at(length: int, **places: str) -> tuple[str, ...]:
    """Runners-up for a line of `length` characters: {"i3": "5"} puts 5 behind the fourth."""
    runners_up = [""] * length
    for place, others in places.items():
        runners_up[int(place[1:])] = others
    return tuple(runners_up)


@pytest.mark.parametrize(
    ("read", "runners_up", "vin"),
    [
        # the check digit fails; S and Z could each be a 5 and a 2 (both make it valid), but only
        # the S has a runner-up that does: the model's second choice decides
        ("LZZ291FD4NSTPUACV", _at(17, i8="A", i10="5", i16="Y"), "LZZ291FD4N5TPUACV"),
        ("LJ7KJNY0XRLE3WKV8", _at(17, i5="M", i7="8", i16="0"), "LJ7KJNY0XRLE3WKV0"),
        # two runners-up that each make it valid: neither is chosen
        ("LZZ291FD4NSTPUACV", _at(17, i2="2", i10="5"), None),
        # a valid VIN is left as read whatever its runners-up
        ("LZZ291FD4N5TPUACV", _at(17, i10="S"), None),
        # the VIN inside a longer read (a label's remnant before it)
        ("号LZZ291FD4NSTPUACV", _at(18, i11="5"), "号LZZ291FD4N5TPUACV"),
        ("LZZ291FD4NSTPUAC", _at(16, i10="5"), None),  # sixteen characters: no check digit to ask
    ],
)
def test_a_vins_misread_character_is_the_runner_up_its_check_digit_accepts(
    read: str, runners_up: tuple[str, ...], vin: str | None
) -> None:
    from vehicle_license_recognizer.extraction import _vin_from_runners_up

    assert _vin_from_runners_up(read, runners_up) == vin


def test_a_vin_repaired_from_its_runners_up_asks_for_a_look() -> None:
    extraction = _extract_first_row("车辆识别代号", 180, "LZZ291FD4NSTPUACV", 340, _at(17, i10="5"))

    assert extraction.fields["vin"] == "LZZ291FD4N5TPUACV"
    assert extraction.confidence["vin"] < 0.8


@pytest.mark.parametrize(
    ("read", "model", "trusted"),
    [
        ("别克牌SGM7247ATA", "别克牌SGM7247ATA", True),
        ("吉利牌JL7152Θ3A", "吉利牌JL715203A", True),  # a slashed zero read as a Greek theta
        ("吉利牌ET1TUΘ3A", "吉利牌ET1TU03A", False),  # the same, but a code off GB 9417's form
        ("田CN6V64ESP", "田CN6V64ESP", False),  # the brand's first character and its 牌 lost
        ("长53SRCL", "长53SRCL", False),
        ("田牌1TCH51H6L3", "田牌1TCH51H6L3", False),  # no brand is one character
    ],
)
def test_a_model_whose_brand_lost_characters_asks_for_a_look(read: str, model: str, trusted: bool) -> None:
    from vehicle_license_recognizer.extraction import _clean_model, _model_confidence

    assert _clean_model(read) == model
    assert (_model_confidence(read, model) >= 0.8) is trusted


def test_an_inspection_records_century_read_as_another_digit_is_restored() -> None:
    from vehicle_license_recognizer.extraction import _repair_inspection

    fields = {"inspection_record": "检验有效期至2826年11月苏D(02)", "plate_number": "苏D12345"}
    confidence = {"inspection_record": 0.95}
    _repair_inspection(fields, confidence)
    assert fields["inspection_record"] == "检验有效期至2026年11月苏D(02)"
    assert confidence["inspection_record"] < 0.8


@pytest.mark.parametrize(
    ("address", "authority", "restored"),
    [
        # the province and city lost but their first character: the stamp's place
        ("浙市高新区和平街337号", "浙江省宁波市公安局交通警察支队", "浙江省宁波市高新区和平街337号"),
        ("市海淀区学院路464号", "北京市公安局交通警察总队", "北京市海淀区学院路464号"),
        # the province lost, the city read whole: its province, stamp or none
        ("省绵阳市武侯区人民路404号", "", "四川省绵阳市武侯区人民路404号"),
        # what was read is not the stamp's place (the owner lives elsewhere): the city decides
        ("省绵阳市武侯区人民路404号", "浙江省宁波市公安局交通警察支队", "四川省绵阳市武侯区人民路404号"),
        # nothing says which place: as read
        ("浙市高新区和平街337号", "", "浙市高新区和平街337号"),
        ("浙江省宁波市高新区和平街337号", "江苏省南京市公安局交通警察支队", "浙江省宁波市高新区和平街337号"),
    ],
)
def test_an_address_that_lost_its_place_takes_the_stamps_or_its_citys(
    address: str, authority: str, restored: str
) -> None:
    from vehicle_license_recognizer.extraction import _repair_address_start

    fields = {"address": address, "license_issuing_authority": authority}
    confidence = {"address": 0.95}
    _repair_address_start(fields, confidence)
    assert fields["address"] == restored
    assert (confidence["address"] < 0.8) is (restored != address)


@pytest.mark.parametrize(
    ("read", "document_id", "trusted"),
    [
        ("886493434426", "886493434426", True),
        ("B86493434426", "886493434426", False),  # a dot-matrix 8 read as B
        ("5O7G2S013Z44", "507625013244", False),
        ("88649343442X", "88649343442X", False),  # X resembles no digit: as read, failing its format
    ],
)
def test_a_file_numbers_letter_read_for_a_digit_is_that_digit(
    read: str, document_id: str, trusted: bool
) -> None:
    extraction = extract(
        [
            _text_line("号牌号码", 100, 100, 120),
            _text_line("沪A12345", 260, 100, 140),
            _text_line("档案编号", 700, 100, 120),
            _text_line(read, 860, 100, 240),
            _text_line("核定载人数", 100, 200, 150),
            _text_line("5人", 300, 200, 40),
        ]
    )

    assert extraction.fields["document_id"] == document_id
    assert (extraction.confidence["document_id"] >= 0.8) is trusted


@pytest.mark.parametrize(
    ("plate", "letter", "repaired"),
    [
        ("泽EC91406", "津", "津EC91406"),  # the province misread as another character
        ("UE25623", "渝", "渝UE25623"),  # not read at all
        ("BAB72716", "鲁", "鲁AB72716"),  # eight: the province read as a letter
        ("鲁AB72716", "津", None),  # a province read: another place registered it, or it was misread
        ("UE256", "渝", None),  # too short with the province as well
    ],
)
def test_a_plates_lost_province_is_the_registering_ones(
    plate: str, letter: str, repaired: str | None
) -> None:
    from vehicle_license_recognizer.extraction import plate_with_province

    assert plate_with_province(plate, letter) == repaired


def test_a_plate_read_without_its_province_takes_the_addresss_before_the_other_pages() -> None:
    extraction = extract(
        [
            _text_line("号牌号码", 100, 100, 120),
            _text_line("BAB72716", 260, 100, 160),
            _text_line("车辆类型", 700, 100, 120),
            _text_line("小型轿车", 860, 100, 120),
            _text_line("所有人", 100, 200, 90),
            _text_line("张伟", 250, 200, 60),
            _text_line("住址", 100, 300, 60),
            _text_line("山东省青岛市南山区解放路310号", 250, 300, 420),
        ]
    )

    assert extraction.fields["plate_number"] == "鲁AB72716"
    assert extraction.confidence["plate_number"] < 0.8


@pytest.mark.parametrize(
    ("read", "mass", "trusted"),
    [
        ("1875kg", "1875kg", True),
        ("18759g", "1875kg", False),  # the k read as a 9
        ("14528g", "1452kg", False),
        ("1875g", "1875kg", True),  # the k lost: four digits stay a mass of four digits
        ("12345kg", "12345kg", True),
    ],
)
def test_a_masss_k_read_as_a_digit_is_dropped_and_asks_for_a_look(
    read: str, mass: str, trusted: bool
) -> None:
    from vehicle_license_recognizer.extraction import ADJUST, CLEANERS

    assert CLEANERS["total_mass"](read) == mass
    assert (ADJUST["total_mass"](read, mass) >= 0.8) is trusted


@pytest.mark.parametrize(
    ("read", "runners_up", "plate"),
    [
        ("鄂6320A7", _at(7, i1="8B"), "鄂B320A7"),  # an office letter is no digit: B
        ("605818便", _at(7, i6="使值"), "605818使"),
        ("京L818E位", _at(7, i6="0白自O"), None),  # Chinese read for a letter: read the place again
        ("鄂B320A7", _at(7, i1="8"), None),  # a plate that passes is left as read
        ("苏0929B0", _at(7, i1="DQ", i5="8"), None),  # two plates would pass: neither
    ],
)
def test_a_plates_misread_character_is_the_one_runner_up_that_passes(
    read: str, runners_up: tuple[str, ...], plate: str | None
) -> None:
    from vehicle_license_recognizer.extraction import _plate_from_runners_up

    assert _plate_from_runners_up(read, runners_up) == plate


@pytest.mark.parametrize(
    ("gabarite", "passes"),
    [
        ("4770×1880×1495mm", True),
        ("11916×2550×3999mm", True),
        ("5668×25668×2497mm", False),  # a number read twice into the width
        ("8739×2311×21131mm", False),  # no vehicle is 21 m high
        ("1916×1887×3643mm", False),  # a length that lost its first digit: as long as it is wide
        ("8181×2383×160mm", False),  # a height that lost its last digit
        ("2695×1663×1555mm", True),  # a two-seat city car
        ("4770×1880mm", False),
    ],
)
def test_a_gabarite_is_a_road_vehicles_dimensions(gabarite: str, passes: bool) -> None:
    from vehicle_license_recognizer.extraction import FIELD_CHECKS

    assert FIELD_CHECKS["gabarite"](gabarite) is passes


@pytest.mark.parametrize(
    ("seats", "passes"), [("5人", True), ("2+3人", True), ("0人", False), ("05人", False)]
)
def test_a_vehicle_seats_one_or_more(seats: str, passes: bool) -> None:
    from vehicle_license_recognizer.extraction import FIELD_CHECKS

    assert FIELD_CHECKS["approved_passengers_capacity"](seats) is passes


@pytest.mark.parametrize(
    ("address", "trusted"),
    [
        ("江苏省无锡市江宁区建设大道125号7栋1042室", True),
        ("北京市海淀区学院路甲5号", True),
        ("山西省太原市北大街财苑巷", False),  # a real card's: whole, but no district, so a look
        ("江苏省无锡市江宁区建设大", False),  # the road's end and number lost
        ("湖北省武汉市南山区东风号30栋1083室", False),  # the road's 路 and number lost
        ("重庆市渝中区学院路393栋2516室", False),  # the 号 and the building's number lost
    ],
)
def test_an_address_broken_inside_asks_for_a_look(address: str, trusted: bool) -> None:
    from vehicle_license_recognizer.extraction import ADJUST

    assert (ADJUST["address"](address, address) >= 0.8) is trusted


@pytest.mark.parametrize(
    ("total", "curb", "kind", "doubted"),
    [
        ("2845kg", "2300kg", "小型轿车", set()),
        ("845kg", "2300kg", "小型轿车", {"total_mass"}),  # a digit lost: the shorter one
        ("2300kg", "2845kg", "小型轿车", {"total_mass", "curb_weight"}),  # either misread
        ("", "2300kg", "小型轿车", set()),
        ("1860kg", "136kg", "小型轿车", {"curb_weight"}),  # no car weighs 136 kg
        ("1860kg", "136kg", "", set()),  # no vehicle type read: a motorcycle may weigh that
        ("200kg", "", "小型轿车", {"total_mass"}),
        ("200kg", "", "", set()),  # nothing to compare it with
        ("380kg", "210kg", "普通二轮摩托车", set()),  # a motorcycle may
    ],
)
def test_a_mass_the_other_or_the_vehicle_type_contradicts_asks_for_a_look(
    total: str, curb: str, kind: str, doubted: set[str]
) -> None:
    from vehicle_license_recognizer.extraction import _check_masses

    fields = {"total_mass": total, "curb_weight": curb, "vehicle_type": kind}
    confidence = {"total_mass": 0.95, "curb_weight": 0.95}
    _check_masses(fields, confidence)
    assert {name for name, score in confidence.items() if score < 0.8} == doubted
    assert fields == {"total_mass": total, "curb_weight": curb, "vehicle_type": kind}


def test_a_mass_the_other_contradicts_is_read_again_from_its_place() -> None:
    """A total mass read no greater than the curb weight lost a digit (845kg for 2845kg): its
    place is read again, and a reading that no longer contradicts the curb weight replaces it; one
    that still does is not taken."""
    from vehicle_license_recognizer.engine import _reread_missing
    from vehicle_license_recognizer.form import SECONDARY_PAGE_ROWS
    from vehicle_license_recognizer.ocr import Reading, bounds

    labels = {label.field: label for row in SECONDARY_PAGE_ROWS for label in row}
    lines = [Line(label.chinese, _on_card(*label.box), 0.99) for label in labels.values()]

    def value(name: str, text: str) -> Line:
        _, y0, x1, y1 = labels[name].box
        return Line(text, _on_card(x1 + 0.02, y0, x1 + 0.02 + 0.025 * len(text), y1), 0.99)

    lines += [value("total_mass", "845kg"), value("curb_weight", "2300kg")]

    def covers(region: tuple[float, float, float, float], line: Line) -> bool:
        x, y = line.center
        return region[0] <= x <= region[2] and region[1] <= y <= region[3]

    class Ocr(RegionReader):
        def __init__(self, read_again: str) -> None:
            self.line = value("total_mass", read_again)
            self.regions: list[tuple[float, float, float, float]] = []

        def read_region(self, image: object, quad: Quad, **_: object) -> list[Line]:
            self.regions.append(bounds(quad))
            return [self.line] if covers(bounds(quad), self.line) else []

    for read_again, total in (("2845kg", "2845kg"), ("945kg", "845kg")):
        extraction = extract(lines)
        assert extraction.confidence["total_mass"] < 0.8 <= extraction.confidence["curb_weight"]
        ocr = Ocr(read_again)

        again = _reread_missing(extraction, Reading(lines, 0, None), ocr, Budget(REREAD_BUDGET))  # type: ignore[arg-type]

        regions = ocr.regions
        assert again.fields["total_mass"] == total
        assert again.fields["curb_weight"] == "2300kg"
        assert any(covers(region, lines[-2]) for region in regions)  # the total mass's place
        assert not any(covers(region, lines[-1]) for region in regions)  # not the curb weight's


@pytest.mark.parametrize(
    ("old", "kept"),
    [
        (((100, 100), (300, 100), (300, 130), (100, 130)), False),  # the same place
        (((220, 100), (300, 100), (300, 130), (220, 130)), False),  # a piece of the line read again
        (((100, 100), (600, 100), (600, 130), (100, 130)), False),  # the line read again inside it
        (((100, 200), (300, 200), (300, 230), (100, 230)), True),  # another row
        (((280, 100), (500, 100), (500, 130), (280, 130)), True),  # a neighbour, touching it
    ],
)
def test_a_line_read_again_replaces_the_lines_it_was_read_over(old: object, kept: bool) -> None:
    """Kept beside the line read again, a piece of it would be joined to it twice
    (长FD6520FD6520, 5668×25668×2497mm)."""
    from vehicle_license_recognizer.engine import _not_read_again

    again = Line("长安牌FD6520", ((100, 100), (300, 100), (300, 130), (100, 130)), 0.99)
    line = Line("FD6520", old, 0.99)  # type: ignore[arg-type]
    assert _not_read_again([line], [again]) == ([line] if kept else [])


def test_inference_threads_default_to_the_usable_cpus_at_most_two(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from vehicle_license_recognizer import ocr

    monkeypatch.delenv("RECOGNIZER_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert ocr._threads() == 2, "more cores than two: two threads"
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert ocr._threads() == 1, "one usable core: one thread"
    monkeypatch.setenv("RECOGNIZER_THREADS", "3")
    assert ocr._threads() == 3, "the environment decides when set"
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("RECOGNIZER_THREADS", bad)
        with pytest.raises(ValueError, match="RECOGNIZER_THREADS"):
            ocr._threads()


def _main_page_with_engine_number(number: str) -> tuple[list[Line], Extraction]:
    """The main page's labels where the form prints them on a 1000 px card and an engine number
    read after its label."""
    from vehicle_license_recognizer.form import MAIN_PAGE_ROWS

    lines = [Line(label.chinese, _on_card(*label.box), 0.99) for row in MAIN_PAGE_ROWS for label in row]
    engine = next(label for row in MAIN_PAGE_ROWS for label in row if label.field == "engine_number")
    _, y0, x1, y1 = engine.box
    lines.append(Line(number, _on_card(x1 + 0.03, y0, x1 + 0.03 + 0.02 * len(number), y1), 0.99))
    return lines, extract(lines)


@pytest.mark.parametrize(
    ("read_once", "read_again", "glare", "kept", "asks_for_a_look"),
    [
        ("8EWBGV4B", "8EWBGV4BML3B", (255, 255, 255), "8EWBGV4BML3B", True),  # its end read through the glare
        # its last character read where the print faded, a fragment of what follows
        ("8EWBGV4BN", "8EWBGV4BML3B", (255, 255, 255), "8EWBGV4BML3B", True),
        ("8EWBGV4BN", "8EWBGV4BM", (255, 255, 255), "8EWBGV4BN", False),  # no longer: another reading
        ("8EWBGV4BN", "8EWBGV4XML3B", (255, 255, 255), "8EWBGV4BN", False),  # more than the last differs
        ("8EWBGV4B", "8EWBGV4BML3B", None, "8EWBGV4B", False),  # no glare after it: not read again
        ("8EWBGV4B", "8EWBGV4BML3B", (252, 228, 236), "8EWBGV4B", False),  # the card's pale pink is no glare
        (
            "8EWBGV4B",
            "8EWB8EWBGV4B",
            (255, 255, 255),
            "8EWBGV4B",
            False,
        ),  # a piece of it twice: one print read twice
        (
            "8EWBGV4B",
            "3EWBGV4BML3B",
            (255, 255, 255),
            "8EWBGV4B",
            False,
        ),  # not the value whole: another reading
        (
            "8EWBGV4B",
            "8EWBGV4BML3B0123456789",
            (255, 255, 255),
            "8EWBGV4B",
            False,
        ),  # fails its format (20 at most)
    ],
)
def test_a_value_whose_row_runs_into_glare_is_read_again_along_it(
    read_once: str, read_again: str, glare: tuple[int, int, int] | None, kept: str, asks_for_a_look: bool
) -> None:
    """A glare band across a value's end fades its last characters: the detector stops there and
    the value, cut short, reads with full confidence. Where the strip after a value is washed out,
    the row is read again further along, and a reading that holds the value whole and adds more
    replaces it, asking for a look; so does one that holds all of it but its last character, read
    where the print faded."""
    import numpy as np

    from vehicle_license_recognizer.engine import _reread_cut
    from vehicle_license_recognizer.ocr import Reading, bounds

    lines, extraction = _main_page_with_engine_number(read_once)
    assert extraction.fields["engine_number"] == read_once
    assert extraction.confidence["engine_number"] >= 0.8
    box = extraction.boxes["engine_number"]
    x0, y0, x1, y1 = (round(v) for v in bounds(box))
    image = np.full((700, 1000, 3), 215, np.uint8)  # the card's paper
    if glare:
        image[y0 : y1 + 1, x1 : x1 + 3 * (y1 - y0)] = glare
    asked: list[Quad] = []
    longer: Quad = (box[0], (x1 + 100.0, float(y0)), (x1 + 100.0, float(y1)), box[3])

    class Ocr(RegionReader):
        def read_region(self, image: object, quad: Quad, **_: object) -> list[Line]:
            asked.append(quad)
            return [Line(read_again, longer, 0.99)]

    upright = image[:, :, :1].repeat(3, axis=2)
    _reread_cut(extraction, Reading(lines, 0, upright), image, Ocr(), Budget(REREAD_BUDGET))  # type: ignore[arg-type]

    assert extraction.fields["engine_number"] == kept
    assert (extraction.confidence["engine_number"] < 0.8) is asks_for_a_look
    assert bool(asked) is (glare == (255, 255, 255))
    if asked:  # read again along its row: from the value's start to well past its end
        region = bounds(asked[0])
        assert region[0] <= x0 and region[2] > x1 + 2 * (y1 - y0)


def test_regions_are_each_read_as_they_are_before_any_is_read_another_way_within_the_budget() -> None:
    """Many places to read again on one photo (both pages, small, glare): each is read as it is
    first, then those not yet whole with contrast, then flattened, until the photo's budget of
    readings is spent. A region whose reading is whole is not read again."""
    import numpy as np

    from vehicle_license_recognizer.ocr import OcrEngine

    widths = (100.0, 200.0, 300.0)  # a region's width tells which it is
    regions: list[Quad] = [
        ((10.0, y), (10.0 + w, y), (10.0 + w, y + 20), (10.0, y + 20))
        for y, w in zip((10.0, 50.0, 90.0), widths, strict=True)
    ]
    image = np.full((150, 400, 3), 200, np.uint8)

    class Counting(OcrEngine):
        def __init__(self) -> None:
            super().__init__()
            self.readings: list[tuple[int, bool]] = []  # (which region, read as it is)

        def _detect_and_read(self, region: object, back: object) -> list[Line]:
            straight = region  # type: ignore[assignment]
            which = min(range(3), key=lambda i: abs(straight.shape[1] - 32 - widths[i] * 96 / 20))  # type: ignore[attr-defined]
            as_it_is = bool((straight == 200).all())  # type: ignore[attr-defined]
            self.readings.append((which, as_it_is))
            return [Line(f"R{which}-{len(self.readings)}", regions[which], 0.99)]

    whole = lambda lines: any(line.text.startswith("R1") for line in lines)  # noqa: E731
    ocr = Counting()
    found = ocr.read_regions(image, [(regions[0], None), (regions[1], whole), (regions[2], None)], Budget(4))

    assert ocr.readings == [(0, True), (1, True), (2, True), (0, False)], (
        "all as they are, then the first again"
    )
    assert [[line.text for line in lines] for lines in found] == [["R0-1", "R0-4"], ["R1-2"], ["R2-3"]]

    ocr = Counting()
    ocr.read_regions(
        image, [(regions[0], None), (regions[1], whole), (regions[2], None)], Budget(REREAD_BUDGET)
    )
    assert [which for which, _ in ocr.readings] == [0, 1, 2, 0, 2, 0, 2], "the whole one is not read again"
    assert Budget(0).take() is False


def test_a_photo_turned_by_its_exif_orientation_is_decoded_as_shown() -> None:
    """A phone stores a photo as the sensor saw it and says in EXIF how to turn it (6: a quarter
    turn clockwise): the recognizer reads it as it is shown, and maps boxes back to that size."""
    import io

    from PIL import Image

    from vehicle_license_recognizer.engine import _decode

    stored = Image.new("RGB", (300, 100), (250, 250, 250))
    stored.paste((0, 0, 0), (0, 0, 150, 100))  # the stored image's left half dark
    exif = Image.Exif()
    for orientation, shown, dark_at in ((6, (300, 100), (10, 50)), (1, (100, 300), (50, 10))):
        exif[0x0112] = orientation
        buffer = io.BytesIO()
        stored.save(buffer, "JPEG", exif=exif.tobytes())
        decoded = _decode(buffer.getvalue())
        assert decoded is not None
        rgb, scale, size = decoded
        assert rgb.shape[:2] == shown and scale == 1.0
        assert size == (shown[1], shown[0]), "the size as shown: boxes are mapped back to it"
        assert (
            rgb[dark_at].mean() < 60
            and rgb[shown[0] - dark_at[0] - 1, shown[1] - dark_at[1] - 1].mean() > 200
        )


def test_the_text_region_is_where_the_boxes_land_upright_with_a_margin() -> None:
    """The small copy's boxes, turned with the photo, bound the part of the upright photo that is
    detected; too few boxes, or boxes over most of the photo, leave the photo detected whole."""
    from vehicle_license_recognizer.ocr import REGION_MARGIN, REGION_MIN_BOXES, _text_region

    def box(x: float, y: float) -> Quad:
        return ((x, y), (x + 100, y), (x + 100, y + 20), (x, y + 20))

    # a 1000 x 500 photo whose text lies in x 300..500, y 100..300
    boxes = [box(300 + 10 * i, 100 + 20 * i) for i in range(REGION_MIN_BOXES + 2)]
    boxes.append(box(400, 280))
    margin = REGION_MARGIN * 1000
    assert _text_region(boxes, 0, 1000, 500) == (300 - margin, 100 - margin, 500 + margin, 300 + margin)

    def rounded(turns: int, *expected: float) -> tuple[tuple[int, ...], tuple[int, ...]]:
        found = _text_region(boxes, turns, 1000, 500)
        assert found is not None
        return tuple(round(v) for v in found), tuple(round(v) for v in expected)

    # turned a half turn: x -> 999 - x, y -> 499 - y
    got, wanted = rounded(2, 499 - margin, 199 - margin, 699 + margin, 399 + margin)
    assert got == wanted
    # a quarter turn counter-clockwise: the upright photo is 500 wide, 1000 high; (x, y) -> (y, 999 - x)
    got, wanted = rounded(1, 100 - margin, 499 - margin, 300 + margin, 699 + margin)
    assert got == wanted
    assert _text_region(boxes[: REGION_MIN_BOXES - 1], 0, 1000, 500) is None
    everywhere = [box(x, y) for x in (0, 900) for y in (0, 480)] * REGION_MIN_BOXES
    assert _text_region(everywhere, 0, 1000, 500) is None


@pytest.mark.parametrize("partial", [True, False])
def test_too_few_labels_around_the_text_found_small_sends_the_whole_photo_to_detection(partial: bool) -> None:
    """A photo read only around the text its small copy showed, with fewer than 3 of the form's
    labels there (a blurred photo, faint print), is detected whole before it is answered as no
    license; a photo that was detected whole already is answered at once."""
    import io

    from PIL import Image

    from vehicle_license_recognizer.engine import LocalRecognizer
    from vehicle_license_recognizer.ocr import Reading

    box: Quad = ((10.0, 10.0), (90.0, 10.0), (90.0, 30.0), (10.0, 30.0))
    asked: list[bool] = []

    class Ocr:
        def read(self, image: object, min_score: float = 0.5, whole: bool = False) -> Reading:
            asked.append(whole)
            return Reading([Line("街道风景", box, 0.99)], 0, image, partial and not whole)

    recognizer = LocalRecognizer()
    recognizer._ocr = Ocr()  # type: ignore[assignment]
    buffer = io.BytesIO()
    Image.new("RGB", (200, 100), (200, 200, 200)).save(buffer, "JPEG")

    assert recognizer.read(buffer.getvalue()) is None
    assert asked == ([False, True] if partial else [False])


def test_the_runtime_is_onnxruntime_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from vehicle_license_recognizer import ocr

    monkeypatch.delenv("RECOGNIZER_RUNTIME", raising=False)
    assert ocr.configured_runtime() == "onnxruntime", "the default"
    monkeypatch.setenv("RECOGNIZER_RUNTIME", " OpenVINO ")
    assert ocr.configured_runtime() == "openvino", "the environment decides when set"
    for bad in ("tensorrt", "ov", "1"):
        monkeypatch.setenv("RECOGNIZER_RUNTIME", bad)
        with pytest.raises(ValueError, match="RECOGNIZER_RUNTIME must be one of onnxruntime, openvino"):
            ocr.configured_runtime()


def test_an_engine_given_an_unknown_runtime_refuses_before_loading_anything() -> None:
    import numpy as np

    from vehicle_license_recognizer.ocr import OcrEngine

    engine = OcrEngine(runtime="tensorrt")
    with pytest.raises(ValueError, match="runtime must be one of onnxruntime, openvino, not 'tensorrt'"):
        engine.detect(np.zeros((64, 64, 3), np.uint8))
    assert engine._engine is None, "nothing half loaded"


def test_openvino_asked_for_but_not_installed_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import numpy as np

    from vehicle_license_recognizer.ocr import OcrEngine

    monkeypatch.setitem(sys.modules, "openvino", None)  # importing it raises ImportError
    engine = OcrEngine(runtime="openvino")
    with pytest.raises(ImportError, match=r"pip install 'vehicle-license-intake\[openvino\]'"):
        engine.detect(np.zeros((64, 64, 3), np.uint8))
    assert engine._engine is None, "nothing half loaded"


def test_a_score_is_reported_on_the_calibrated_scale_validation_reads() -> None:
    """A value the model is 0.97 sure of sits at 0.80, in the same order as the model's scores;
    scores at the format caps, and fields checked against something besides their reading, keep
    the model's value."""
    from vehicle_license_recognizer.extraction import CERTAIN, REPAIRED, calibrated

    assert calibrated("engine_number", CERTAIN) == pytest.approx(0.8)
    assert calibrated("engine_number", 1.0) == pytest.approx(1.0)
    assert calibrated("address", 0.93) < 0.8 < calibrated("address", 0.99) < 1.0
    scores = [REPAIRED, 0.7, 0.85, 0.95, 0.969, 0.971, 0.99, 1.0]
    assert [calibrated("model", s) for s in scores] == sorted(calibrated("model", s) for s in scores)
    assert len({calibrated("model", s) for s in scores}) == len(scores)
    assert calibrated("plate_number", REPAIRED) == REPAIRED and calibrated("curb_weight", 0.5) == 0.5
    for checked in ("vin", "use_character", "vehicle_type", "license_issuing_authority"):
        assert calibrated(checked, 0.9) == 0.9


@pytest.mark.parametrize(
    ("address", "trusted"),
    [
        ("北京市石景山区", True),  # the real Baidu sample: a district is a whole address
        ("湖北省武汉市洪山区珞喻路1037号", True),
        ("广东省东莞市长安镇振安路12号", True),  # no county level under 东莞
        ("湖北省恩施土家族苗族自治州恩施市舞阳大街8号", True),  # a prefecture in no list
        ("湖北省宜昌市武侯区人民路313号湖北省宜昌市", False),  # its province twice
        ("山东省济南市武侯区人民栋2634室", False),  # a building with no number before it
        ("天津市南开民路666号10栋1961室", False),  # no district after the municipality
        ("浙江省温州市高新区银", False),  # ends inside a word
        ("广东省广州市西湖区长0号", False),  # a number after no road's name
        ("四川省成都市高新区路550号", False),  # a road with no name
        ("广东省广州市天河区体育西路191号中石化大厦B座2单元", True),
        ("浙江省泸州市高新区中山路890号", False),  # a city the province does not have
        ("湖北省武汉区解放路930号", False),  # a city without its 市
    ],
)
def test_an_address_that_lost_characters_asks_for_a_look(address: str, trusted: bool) -> None:
    from vehicle_license_recognizer.extraction import REPAIRED, _address_confidence

    assert _address_confidence(address, address) == (1.0 if trusted else REPAIRED)


@pytest.mark.parametrize(
    ("model", "trusted"),
    [
        ("别克牌SGM7247ATA", True),
        ("讴歌牌GHA7150JAD5B", True),
        ("别克牌UV619", False),
        ("日产牌A6839", False),
    ],
)
def test_a_model_code_off_its_standard_form_asks_for_a_look(model: str, trusted: bool) -> None:
    from vehicle_license_recognizer.extraction import REPAIRED, _model_confidence

    assert _model_confidence(model, model) == (1.0 if trusted else REPAIRED)


@pytest.mark.parametrize(
    ("fields", "odd"),
    [
        # a truck: 6032 = 5543 + 289 + 200 kg for its three occupants
        ({"total_mass": "6032kg", "curb_weight": "5543kg", "ratified_load_capacity": "289kg"}, set()),
        (
            {"total_mass": "5032kg", "curb_weight": "5543kg", "ratified_load_capacity": "289kg"},
            {"total_mass", "curb_weight", "ratified_load_capacity"},
        ),
        # a car: the real Huawei sample's masses, and a total read from the document number's end
        ({"approved_passengers_capacity": "5人", "total_mass": "2170kg", "curb_weight": "1750kg"}, set()),
        (
            {"approved_passengers_capacity": "4人", "total_mass": "6792kg", "curb_weight": "2095kg"},
            {"total_mass", "curb_weight"},
        ),
        ({"total_mass": "6792kg", "curb_weight": "2095kg"}, set()),  # no seats, no load: nothing to add
        ({"vehicle_type": "小型轿车", "ratified_load_capacity": "88kg"}, {"ratified_load_capacity"}),
    ],
)
def test_masses_that_do_not_add_up_ask_for_a_look(fields: dict[str, str], odd: set[str]) -> None:
    from vehicle_license_recognizer.extraction import unbalanced_masses

    assert unbalanced_masses(fields) == odd
