"""Render the sample images of samples/ with their ground truth (one JSON per image).

Every license here is invented: names, addresses and numbers belong to nobody, VINs carry valid
check digits and plates match GA 36. The rendered files are committed, so the demo needs no font;
re-rendering needs Pillow and a CJK font (Debian: fonts-wqy-microhei or fonts-noto-cjk):

    python scripts/render_samples.py [--font PATH] [--out samples]
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from vehicle_license_intake.domain.fields import LICENSE_FIELDS
from vehicle_license_intake.domain.vin import check_digit

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
CARD = (1400, 955)  # 88 x 60 mm at ~400 dpi
PHOTO = (1600, 1200)
INK = (25, 25, 30)
LABEL_INK = (60, 70, 80)
SEAL_RED = (205, 30, 35)


def with_check_digit(vin: str) -> str:
    return vin[:8] + check_digit(vin[:8] + "0" + vin[9:]) + vin[9:]


LICENSES: dict[str, dict[str, str]] = {
    "sedan": {
        "plate_number": "沪B7K29Q",
        "vehicle_type": "小型轿车",
        "owner": "李明远",
        "address": "上海市浦东新区银杏路88弄6号1203室",
        "use_character": "非营运",
        "model": "大众汽车牌SVW71525BU",
        "vin": with_check_digit("LSVAU2180N2184637"),
        "engine_number": "DKX045276",
        "register_date": "2022-03-18",
        "issue_date": "2022-03-18",
        "license_issuing_authority": "上海市公安局交通警察总队",
        "document_id": "310011893726",
        "approved_passengers_capacity": "5人",
        "total_mass": "1920kg",
        "curb_weight": "1455kg",
        "ratified_load_capacity": "",
        "gabarite": "4753×1800×1462mm",
        "traction_mass": "",
        "remarks": "",
        "inspection_record": "检验有效期至2028年03月沪A(01)",
    },
    "electric": {
        "plate_number": "粤BD29571",
        "vehicle_type": "小型轿车",
        "owner": "陈晓雯",
        "address": "广东省深圳市南山区科苑路15号",
        "use_character": "非营运",
        "model": "比亚迪牌BYD7005BEV",
        "vin": with_check_digit("LGXCE4CB0L0381526"),
        "engine_number": "TZ220XS2031857",
        "register_date": "2020-09-07",
        "issue_date": "2020-09-07",
        "license_issuing_authority": "深圳市公安局交通警察局",
        "document_id": "440300725149",
        "approved_passengers_capacity": "5人",
        "total_mass": "2255kg",
        "curb_weight": "1880kg",
        "ratified_load_capacity": "",
        "gabarite": "4870×1950×1725mm",
        "traction_mass": "",
        "remarks": "",
        "inspection_record": "检验有效期至2026年09月粤B(02)",
    },
}

MAIN_FIELDS = (
    "plate_number",
    "vehicle_type",
    "owner",
    "address",
    "use_character",
    "model",
    "vin",
    "engine_number",
    "register_date",
    "issue_date",
    "license_issuing_authority",
)
SECONDARY_FIELDS = (
    "plate_number",
    "document_id",
    "approved_passengers_capacity",
    "total_mass",
    "curb_weight",
    "ratified_load_capacity",
    "gabarite",
    "traction_mass",
    "remarks",
    "inspection_record",
)


class Painter:
    def __init__(self, font_path: str) -> None:
        self.font_path = font_path

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(self.font_path, size)

    def card(self, tint: tuple[int, int, int], rng: random.Random) -> Image.Image:
        card = Image.new("RGB", CARD, tint)
        draw = ImageDraw.Draw(card)
        for offset in range(-CARD[1], CARD[0], 14):  # guilloche-like security background
            shade = tuple(max(0, c - 10) for c in tint)
            draw.line([(offset, 0), (offset + CARD[1], CARD[1])], fill=shade, width=1)
        for _ in range(40):
            x, y, r = rng.randrange(CARD[0]), rng.randrange(CARD[1]), rng.randrange(30, 120)
            shade = tuple(max(0, c - 6) for c in tint)
            draw.ellipse([x - r, y - r, x + r, y + r], outline=shade, width=1)
        draw.rectangle([8, 8, CARD[0] - 9, CARD[1] - 9], outline=(120, 140, 150), width=3)
        return card

    def field(
        self, draw: ImageDraw.ImageDraw, x: int, y: int, label: str, english: str, value: str, width: int = 0
    ) -> None:
        draw.text((x, y), label, font=self.font(34), fill=LABEL_INK)
        draw.text((x, y + 40), english, font=self.font(16), fill=LABEL_INK)
        label_width = max(int(draw.textlength(label, font=self.font(34))), 150)
        draw.text((x + label_width + 24, y - 2), value or "--", font=self.font(38), fill=INK)

    def seal(self, card: Image.Image, center: tuple[int, int], text: str) -> None:
        layer = Image.new("RGBA", card.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        cx, cy, radius = center[0], center[1], 150
        color = (*SEAL_RED, 170)
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], outline=color, width=8)
        star = [
            (
                cx + 38 * math.cos(math.pi / 2 + k * math.pi * 4 / 5),
                cy - 38 * math.sin(math.pi / 2 + k * math.pi * 4 / 5),
            )
            for k in range(5)
        ]
        draw.polygon(star, fill=color)
        font = self.font(34)
        span = math.radians(250)
        for index, char in enumerate(text):
            angle = math.radians(215) - span * index / max(1, len(text) - 1)
            glyph = Image.new("RGBA", (44, 44), (0, 0, 0, 0))
            ImageDraw.Draw(glyph).text((5, 2), char, font=font, fill=color)
            glyph = glyph.rotate(math.degrees(angle) - 90, resample=Image.Resampling.BICUBIC)
            gx = cx + (radius - 40) * math.cos(angle) - 22
            gy = cy - (radius - 40) * math.sin(angle) - 22
            layer.alpha_composite(glyph, (int(gx), int(gy)))
        draw.text((cx - 70, cy + 55), "行驶证专用章", font=self.font(24), fill=color)
        card.paste(layer, (0, 0), layer)

    def main_page(self, data: dict[str, str], rng: random.Random) -> Image.Image:
        card = self.card((224, 236, 232), rng)
        draw = ImageDraw.Draw(card)
        title = "中华人民共和国机动车行驶证"
        font = self.font(56)
        draw.text(((CARD[0] - draw.textlength(title, font=font)) / 2, 40), title, font=font, fill=INK)
        rows = [
            [("号牌号码", "Plate No.", "plate_number"), ("车辆类型", "Vehicle Type", "vehicle_type")],
            [("所有人", "Owner", "owner")],
            [("住址", "Address", "address")],
            [("使用性质", "Use Character", "use_character"), ("品牌型号", "Model", "model")],
            [("车辆识别代号", "VIN", "vin")],
            [("发动机号码", "Engine No.", "engine_number")],
            [("注册日期", "Register Date", "register_date"), ("发证日期", "Issue Date", "issue_date")],
        ]
        self._rows(draw, rows, data, top=150)
        self.seal(card, (230, 760), data["license_issuing_authority"])
        return card

    def secondary_page(self, data: dict[str, str], rng: random.Random) -> Image.Image:
        card = self.card((236, 236, 226), rng)
        draw = ImageDraw.Draw(card)
        rows = [
            [("号牌号码", "Plate No.", "plate_number"), ("档案编号", "File No.", "document_id")],
            [
                ("核定载人数", "Approved Passengers", "approved_passengers_capacity"),
                ("总质量", "Gross Mass", "total_mass"),
            ],
            [
                ("整备质量", "Unladen Mass", "curb_weight"),
                ("核定载质量", "Approved Load", "ratified_load_capacity"),
            ],
            [
                ("外廓尺寸", "Overall Dimension", "gabarite"),
                ("准牵引总质量", "Traction Mass", "traction_mass"),
            ],
            [("备注", "Note", "remarks")],
            [("检验记录", "Inspection Record", "inspection_record")],
        ]
        self._rows(draw, rows, data, top=60)
        for x in range(80, 700, 6):  # barcode
            if rng.random() < 0.6:
                draw.rectangle([x, 840, x + rng.choice((2, 3, 4)), 915], fill=INK)
        return card

    def _rows(
        self,
        draw: ImageDraw.ImageDraw,
        rows: list[list[tuple[str, str, str]]],
        data: dict[str, str],
        top: int,
    ) -> None:
        for index, row in enumerate(rows):
            y = top + index * 108
            for column, (label, english, name) in enumerate(row):
                x = 60 + column * 680
                value = data[name]
                if name == "vin":
                    value = " ".join(value[i : i + 1] for i in range(len(value))).replace(" ", "")
                self.field(draw, x, y, label, english, value)

    def photo(
        self, cards: list[Image.Image], rng: random.Random, size: tuple[int, int] = PHOTO
    ) -> Image.Image:
        """Cards on a desk, slightly rotated and blurred, as a phone would take them."""
        photo = Image.new("RGB", size, (150, 120, 90))
        draw = ImageDraw.Draw(photo)
        for y in range(0, size[1], 3):  # wood grain
            tone = 135 + int(20 * math.sin(y / 37.0) + rng.uniform(-6, 6))
            draw.line([(0, y), (size[0], y)], fill=(tone, int(tone * 0.78), int(tone * 0.55)))
        scale = min(
            (size[0] - 160) / CARD[0], (size[1] - 160) / (CARD[1] * len(cards) + 40 * (len(cards) - 1))
        )
        y = (size[1] - int((CARD[1] * len(cards) + 40 * (len(cards) - 1)) * scale)) // 2
        for card in cards:
            resized = card.resize((int(CARD[0] * scale), int(CARD[1] * scale)), Image.Resampling.LANCZOS)
            rotated = resized.rotate(
                rng.uniform(-2.5, 2.5), expand=True, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0)
            )
            mask = Image.new("L", resized.size, 255).rotate(0, expand=False)
            mask = mask.rotate(0)
            x = (size[0] - rotated.size[0]) // 2
            photo.paste(rotated, (x, y), rotated.convert("L").point(lambda v: 255 if v > 0 else 0))
            y += int(CARD[1] * scale) + 40
        return photo.filter(ImageFilter.GaussianBlur(0.7))


def not_a_license(rng: random.Random) -> Image.Image:
    """A photo of a street scene: sky, buildings, a road. Nothing a license reader can use."""
    image = Image.new("RGB", PHOTO, (120, 170, 220))
    draw = ImageDraw.Draw(image)
    for y in range(0, 600):
        draw.line([(0, y), (PHOTO[0], y)], fill=(120 + y // 10, 170 + y // 20, 230))
    x = 0
    while x < PHOTO[0]:
        width, height = rng.randrange(80, 220), rng.randrange(200, 520)
        shade = rng.randrange(90, 170)
        draw.rectangle([x, 700 - height, x + width, 700], fill=(shade, shade - 10, shade - 20))
        for wy in range(700 - height + 20, 690, 40):
            for wx in range(x + 12, x + width - 20, 34):
                draw.rectangle(
                    [wx, wy, wx + 16, wy + 22], fill=(230, 220, 150) if rng.random() < 0.3 else (60, 70, 90)
                )
        x += width + rng.randrange(5, 30)
    draw.rectangle([0, 700, PHOTO[0], PHOTO[1]], fill=(70, 70, 75))
    for x in range(0, PHOTO[0], 160):
        draw.rectangle([x, 940, x + 90, 955], fill=(230, 230, 230))
    return image.filter(ImageFilter.GaussianBlur(1.0))


def truth(image_name: str, page: str, fields: dict[str, str] | None, note: str) -> dict[str, Any]:
    document: dict[str, Any] = {"image": image_name, "page": page, "note": note}
    if fields is not None:
        document["fields"] = {name: fields.get(name, "") for name in LICENSE_FIELDS}
    return document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--font", default=next((f for f in FONT_CANDIDATES if Path(f).exists()), None))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "samples")
    args = parser.parse_args()
    if not args.font:
        parser.error("no CJK font found: apt-get install fonts-wqy-microhei, or pass --font")
    painter, rng, out = Painter(args.font), random.Random(20261124), args.out
    out.mkdir(parents=True, exist_ok=True)

    sedan, electric = LICENSES["sedan"], LICENSES["electric"]
    only = lambda data, names: {n: (data[n] if n in names else "") for n in LICENSE_FIELDS}  # noqa: E731
    outputs = [
        (
            "main-page.jpg",
            "main",
            [painter.main_page(sedan, rng)],
            only(sedan, MAIN_FIELDS),
            "main page of an invented sedan's license",
        ),
        (
            "secondary-page.jpg",
            "secondary",
            [painter.secondary_page(sedan, rng)],
            only(sedan, SECONDARY_FIELDS),
            "secondary page alone: the main page's fields are missing",
        ),
        (
            "我的行驶证 新能源 两页.jpg",
            "both",
            [painter.main_page(electric, rng), painter.secondary_page(electric, rng)],
            dict(electric),
            "both pages of an invented electric car's license in one photo; name with spaces and Chinese",
        ),
    ]
    for name, page, cards, fields, note in outputs:
        painter.photo(cards, rng).save(out / name, "JPEG", quality=88)
        (out / f"{Path(name).stem}.json").write_text(
            json.dumps(truth(name, page, fields, note), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    not_a_license(rng).save(out / "street-photo.jpg", "JPEG", quality=88)
    (out / "street-photo.json").write_text(
        json.dumps(
            truth(
                "street-photo.jpg", "none", None, "a street photo, not a license: the upstream answers 5021"
            ),
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    (out / "not-an-image.jpg").write_text(
        "This is a text file named like a photo. Local checks reject it.\n", encoding="utf-8"
    )
    (out / "not-an-image.json").write_text(
        json.dumps(
            truth(
                "not-an-image.jpg",
                "none",
                None,
                "text with a .jpg name: REJECTED UNSUPPORTED_FORMAT, no upstream call",
            ),
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
