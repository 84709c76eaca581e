"""The printed form of the license (GA 37): each page's labels, their English sub-labels, the
field each names, row by row as printed, and where each is printed on the card. The one table
the recognizer aligns photos to and the synthetic generator draws.

Geometry is in normalised card coordinates: (x0, y0, x1, y1) with x across the card's width and
y down its height, both 0..1 from the card's top-left corner (the card is 88 x 60 mm, so one unit
of x is 88 mm and one unit of y 60 mm). Positions were measured on photos of two real cards
(both pages; `shared/real-samples/`) and averaged; they vary by about 0.02 between cards, and the
values, printed in a second pass, are offset from the form by up to a line.
"""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in card units

CARD_MM = (88.0, 60.0)
CARD_ASPECT = CARD_MM[0] / CARD_MM[1]


@dataclass(frozen=True)
class FormLabel:
    chinese: str
    english: str
    field: str
    box: Box = (0.0, 0.0, 0.0, 0.0)  # the Chinese label as printed
    english_box: Box | None = None  # its English sub-label, under it (None: not printed)
    value_span: tuple[float, float] = (0.0, 1.0)  # where the value is printed, across the card
    value_box: Box | None = None  # where the value is printed when not on its label's row


TITLE = "中华人民共和国机动车行驶证"
TITLE_ENGLISH = "Vehicle License of the People's Republic of China"
TITLE_BOX: Box = (0.17, 0.03, 0.80, 0.13)  # main page only
TITLE_ENGLISH_BOX: Box = (0.18, 0.11, 0.80, 0.17)

MAIN_PAGE_ROWS: tuple[tuple[FormLabel, ...], ...] = (
    (
        FormLabel(
            "号牌号码",
            "Plate No.",
            "plate_number",
            (0.03, 0.17, 0.16, 0.235),
            (0.033, 0.227, 0.142, 0.27),
            (0.165, 0.42),
        ),
        FormLabel(
            "车辆类型",
            "Vehicle Type",
            "vehicle_type",
            (0.425, 0.161, 0.554, 0.225),
            (0.424, 0.21, 0.555, 0.264),
            (0.56, 0.97),
        ),
    ),
    (
        FormLabel(
            "所有人", "Owner", "owner", (0.029, 0.292, 0.14, 0.36), (0.036, 0.35, 0.117, 0.393), (0.145, 0.97)
        ),
    ),
    (
        FormLabel(
            "住址",
            "Address",
            "address",
            (0.029, 0.405, 0.158, 0.479),
            (0.033, 0.456, 0.133, 0.53),
            (0.16, 0.97),
        ),
    ),
    (
        FormLabel(
            "使用性质",
            "Use Character",
            "use_character",
            (0.03, 0.514, 0.155, 0.598),
            (0.038, 0.58, 0.168, 0.622),
            (0.16, 0.355),
        ),
        FormLabel(
            "品牌型号",
            "Model",
            "model",
            (0.356, 0.508, 0.489, 0.585),
            (0.36, 0.568, 0.438, 0.616),
            (0.49, 0.97),
        ),
    ),
    (
        FormLabel(
            "车辆识别代号",
            "VIN",
            "vin",
            (0.26, 0.636, 0.443, 0.71),
            (0.264, 0.693, 0.322, 0.741),
            (0.45, 0.97),
        ),
    ),
    (
        FormLabel(
            "发动机号码",
            "Engine No.",
            "engine_number",
            (0.26, 0.752, 0.422, 0.826),
            (0.263, 0.807, 0.385, 0.862),
            (0.43, 0.97),
        ),
    ),
    (
        FormLabel(
            "注册日期",
            "Register Date",
            "register_date",
            (0.256, 0.87, 0.385, 0.945),
            (0.26, 0.926, 0.386, 0.978),
            (0.39, 0.615),
        ),
        FormLabel(
            "发证日期",
            "Issue Date",
            "issue_date",
            (0.617, 0.858, 0.736, 0.933),
            (0.63, 0.917, 0.737, 0.966),
            (0.74, 0.99),
        ),
    ),
)

# The secondary pages seen print no English sub-labels.
# Secondary page: the inspection stamp box (its text is the inspection record, printed above the
# label's row).
INSPECTION_STAMP_BOX: Box = (0.186, 0.668, 0.848, 0.758)

SECONDARY_PAGE_ROWS: tuple[tuple[FormLabel, ...], ...] = (
    (
        FormLabel("号牌号码", "Plate No.", "plate_number", (0.028, 0.056, 0.165, 0.141), None, (0.165, 0.41)),
        FormLabel("档案编号", "File No.", "document_id", (0.415, 0.056, 0.536, 0.128), None, (0.54, 0.97)),
    ),
    (
        FormLabel(
            "核定载人数",
            "Approved Passengers",
            "approved_passengers_capacity",
            (0.026, 0.157, 0.168, 0.247),
            None,
            (0.17, 0.56),
        ),
        FormLabel("总质量", "Gross Mass", "total_mass", (0.564, 0.141, 0.713, 0.242), None, (0.715, 0.97)),
    ),
    (
        FormLabel(
            "整备质量", "Unladen Mass", "curb_weight", (0.028, 0.263, 0.168, 0.332), None, (0.17, 0.56)
        ),
        FormLabel(
            "核定载质量",
            "Approved Load",
            "ratified_load_capacity",
            (0.571, 0.279, 0.718, 0.348),
            None,
            (0.72, 0.97),
        ),
    ),
    (
        FormLabel(
            "外廓尺寸", "Overall Dimension", "gabarite", (0.033, 0.383, 0.145, 0.436), None, (0.15, 0.56)
        ),
        FormLabel(
            "准牵引总质量", "Traction Mass", "traction_mass", (0.576, 0.394, 0.716, 0.457), None, (0.72, 0.97)
        ),
    ),
    (FormLabel("备注", "Note", "remarks", (0.042, 0.508, 0.161, 0.564), None, (0.17, 0.97)),),
    (
        FormLabel(
            "检验记录",
            "Inspection Record",
            "inspection_record",
            (0.037, 0.721, 0.173, 0.803),
            None,
            (0.18, 0.97),
            INSPECTION_STAMP_BOX,
        ),
    ),
)

# The red rectangular stamp of the issuing authority (发证机关章): its name in three horizontal
# lines, over the left of the VIN, engine and date rows. Measured 0.04-0.27 x 0.64-0.97 and
# 0.01-0.25 x 0.63-0.98 on the two cards: this is where to look, with a margin.
STAMP_BOX: Box = (0.0, 0.58, 0.32, 1.0)
# Secondary page: the barcode with its digits, which are no field.
BARCODE_BOX: Box = (0.40, 0.78, 0.95, 0.95)

# Older licenses print 注册登记日期 where newer ones print 注册日期.
OLDER_LABELS: dict[str, str] = {"注册登记日期": "register_date"}

FORM_LABELS: tuple[FormLabel, ...] = tuple(
    label for rows in (MAIN_PAGE_ROWS, SECONDARY_PAGE_ROWS) for row in rows for label in row
)
# label text -> field, for both pages
LABELS: dict[str, str] = {**{label.chinese: label.field for label in FORM_LABELS}, **OLDER_LABELS}
ENGLISH_LABELS: tuple[str, ...] = tuple(
    dict.fromkeys(label.english.lower().rstrip(".") for label in FORM_LABELS)
)
PAGES: dict[str, tuple[FormLabel, ...]] = {
    "main": tuple(label for row in MAIN_PAGE_ROWS for label in row),
    "secondary": tuple(label for row in SECONDARY_PAGE_ROWS for label in row),
}
