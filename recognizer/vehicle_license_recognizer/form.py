"""The printed form of the license (GA 37): each page's labels, their English sub-labels and
the field each names, row by row as printed. The one table the extraction reads labels from and
the synthetic generator draws."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FormLabel:
    chinese: str
    english: str
    field: str


TITLE = "中华人民共和国机动车行驶证"

MAIN_PAGE_ROWS: tuple[tuple[FormLabel, ...], ...] = (
    (
        FormLabel("号牌号码", "Plate No.", "plate_number"),
        FormLabel("车辆类型", "Vehicle Type", "vehicle_type"),
    ),
    (FormLabel("所有人", "Owner", "owner"),),
    (FormLabel("住址", "Address", "address"),),
    (FormLabel("使用性质", "Use Character", "use_character"), FormLabel("品牌型号", "Model", "model")),
    (FormLabel("车辆识别代号", "VIN", "vin"),),
    (FormLabel("发动机号码", "Engine No.", "engine_number"),),
    (
        FormLabel("注册日期", "Register Date", "register_date"),
        FormLabel("发证日期", "Issue Date", "issue_date"),
    ),
)

SECONDARY_PAGE_ROWS: tuple[tuple[FormLabel, ...], ...] = (
    (FormLabel("号牌号码", "Plate No.", "plate_number"), FormLabel("档案编号", "File No.", "document_id")),
    (
        FormLabel("核定载人数", "Approved Passengers", "approved_passengers_capacity"),
        FormLabel("总质量", "Gross Mass", "total_mass"),
    ),
    (
        FormLabel("整备质量", "Unladen Mass", "curb_weight"),
        FormLabel("核定载质量", "Approved Load", "ratified_load_capacity"),
    ),
    (
        FormLabel("外廓尺寸", "Overall Dimension", "gabarite"),
        FormLabel("准牵引总质量", "Traction Mass", "traction_mass"),
    ),
    (FormLabel("备注", "Note", "remarks"),),
    (FormLabel("检验记录", "Inspection Record", "inspection_record"),),
)

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
