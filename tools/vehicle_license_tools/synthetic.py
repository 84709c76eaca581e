"""Synthetic 行驶证 images with ground truth. Every license is invented: names, addresses and
numbers belong to nobody, VINs carry valid check digits and plates match GA 36.

Two generators share the random licenses below:

- `corpus()` / `render()` / `Painter`: the simple drawings behind samples/ (clean print, a round
  seal, mild degradations);
- `realistic_corpus()` (package `cards`): cards that look like real ones (the printed form on
  security stock, values in a misregistered second pass, the rectangular red stamp, sleeve glare,
  hands, seats, both pages, quarter turns, 400-4000 px, watermarks, banners) and other cards that
  must be answered 5021.

Rendering needs Pillow (and OpenCV for the realistic cards) and the font subsets shipped in fonts/
(openly licensed, see fonts/README): they cover every character either generator prints.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from vehicle_license_intake.domain.fields import LICENSE_FIELDS, MAIN_PAGE_FIELDS, SECONDARY_PAGE_FIELDS
from vehicle_license_intake.domain.vin import MODEL_YEAR_CODES, with_check_digit
from vehicle_license_recognizer.form import MAIN_PAGE_ROWS, SECONDARY_PAGE_ROWS, TITLE, FormLabel

if TYPE_CHECKING:
    from vehicle_license_tools.cards.corpus import CardCase, CardImage

SUBSET_FONT = Path(__file__).resolve().parent / "fonts" / "wqy-microhei-subset.ttf"
FONT_CANDIDATES = (
    str(SUBSET_FONT),
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
CARD = (1400, 955)  # 88 x 60 mm at ~400 dpi
PHOTO = (1600, 1200)
INK = (25, 25, 30)
LABEL_INK = (60, 70, 80)
SEAL_RED = (205, 30, 35)


MAIN_FIELDS, SECONDARY_FIELDS = MAIN_PAGE_FIELDS, SECONDARY_PAGE_FIELDS


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
        font = self.font(56)
        draw.text(((CARD[0] - draw.textlength(TITLE, font=font)) / 2, 40), TITLE, font=font, fill=INK)
        self._rows(draw, MAIN_PAGE_ROWS, data, top=150)
        self.seal(card, (230, 760), data["license_issuing_authority"])
        return card

    def secondary_page(self, data: dict[str, str], rng: random.Random) -> Image.Image:
        card = self.card((236, 236, 226), rng)
        draw = ImageDraw.Draw(card)
        self._rows(draw, SECONDARY_PAGE_ROWS, data, top=60)
        for x in range(80, 700, 6):  # barcode
            if rng.random() < 0.6:
                draw.rectangle([x, 840, x + rng.choice((2, 3, 4)), 915], fill=INK)
        return card

    def _rows(
        self,
        draw: ImageDraw.ImageDraw,
        rows: tuple[tuple[FormLabel, ...], ...],
        data: dict[str, str],
        top: int,
    ) -> None:
        for index, row in enumerate(rows):
            y = top + index * 108
            for column, label in enumerate(row):
                x = 60 + column * 680
                self.field(draw, x, y, label.chinese, label.english, data[label.field])

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


# -- random but valid licenses -----------------------------------------------------------------
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔向汤"
GIVEN = "明远晓雯伟芳娜敏静丽强磊军洋勇艳杰娟涛超秀英华平刚桂兰霞辉鹏建国志红春梅玉林宇浩然子涵欣怡思博文"
COMPANY_WORDS = ("顺达", "恒通", "汇丰", "安泰", "宏盛", "鑫隆", "永安", "嘉禾", "华瑞", "新程")
COMPANY_KINDS = ("物流有限公司", "汽车租赁有限公司", "运输有限公司", "科技有限公司", "贸易有限公司")
PLACES = {  # province character: (province, cities, municipality?)
    "京": ("北京市", ("朝阳区", "海淀区", "丰台区"), True),
    "沪": ("上海市", ("浦东新区", "徐汇区", "闵行区"), True),
    "津": ("天津市", ("河西区", "南开区"), True),
    "渝": ("重庆市", ("渝中区", "江北区"), True),
    "粤": ("广东省", ("广州市", "深圳市", "佛山市"), False),
    "苏": ("江苏省", ("南京市", "苏州市", "无锡市"), False),
    "浙": ("浙江省", ("杭州市", "宁波市", "温州市"), False),
    "川": ("四川省", ("成都市", "绵阳市"), False),
    "鲁": ("山东省", ("济南市", "青岛市"), False),
    "鄂": ("湖北省", ("武汉市", "宜昌市"), False),
}
ROADS = ("银杏路", "科苑路", "人民路", "解放路", "中山路", "建设大道", "长江路", "学院路", "和平街", "东风路")
BRANDS = (
    "大众汽车牌",
    "丰田牌",
    "本田牌",
    "比亚迪牌",
    "别克牌",
    "日产牌",
    "吉利牌",
    "长安牌",
    "奥迪牌",
    "东风牌",
    "解放牌",
    "福田牌",
)
PASSENGER_TYPES = ("小型轿车", "小型普通客车", "小型越野客车", "小型面包车", "微型轿车")
LARGE_TYPES = ("中型普通客车", "大型普通客车")
GOODS_TYPES = ("重型厢式货车", "轻型普通货车")
USES = ("非营运", "非营运", "非营运", "出租客运", "租赁", "货运", "公路客运", "营转非")
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ".replace("Q", "")
VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


# GB 9417's vehicle category digit, by the vehicle type's words (trailer, goods, off-road, car;
# anything else carries passengers)
MODEL_CATEGORIES = (("挂", "9"), ("货", "1"), ("越野", "2"), ("轿车", "7"))


def model_code(vehicle_type: str, drawn: list[str]) -> str:
    """A model code as GB 9417 builds them (SGM7247ATA, GHA7150JAD5B): the maker's two or three
    letters, the category digit (the vehicle type's), two digits of its main parameter and one of
    sequence, then the maker's own suffix. Made from characters already drawn (6 to 10 of A-V and
    0-9), so the corpus's other values stay what the same seed always drew."""
    alphabet = LETTERS[:20] + "0123456789"
    index = [alphabet.index(c) for c in drawn]
    prefix = 3 if index[0] % 2 == 0 and len(drawn) >= 7 else 2
    category = next((digit for word, digit in MODEL_CATEGORIES if word in vehicle_type), "6")
    letters = "".join(LETTERS[i % 20] for i in index[:prefix])
    digits = "".join(str(i % 10) for i in index[prefix + 1 : prefix + 4])
    return letters + category + digits + "".join(drawn[prefix + 4 :])


def random_plate(rng: random.Random, province: str, kind: str) -> str:
    letter = rng.choice(PLATE_LETTERS)

    def body(n: int) -> str:
        return "".join(rng.choice("0123456789" + PLATE_LETTERS[:8]) for _ in range(n))

    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    if kind == "new_energy_small":
        return f"{province}{letter}{rng.choice('DABCEFGHJK')}{rng.choice('0123456789ABC')}{digits(4)}"
    if kind == "new_energy_large":
        return f"{province}{letter}{digits(5)}{rng.choice('DABCEFGHJK')}"
    special = {"trailer": "挂", "coach": "学", "police": "警"}
    if kind in special:
        return f"{province}{letter}{digits(4)}{special[kind]}"
    if kind == "hong_kong_macau":
        return f"粤Z{body(4)}{rng.choice('港澳')}"
    if kind == "consular":
        return f"{province}{letter}{body(4)}领"
    if kind == "embassy":
        return f"使{digits(6)}" if rng.random() < 0.5 else f"{digits(6)}使"
    return f"{province}{letter}{digits(2)}{body(3)}"


def random_license(rng: random.Random) -> dict[str, str]:
    """The 20 fields as the upstream would return them for an invented vehicle."""
    province = rng.choice(sorted(PLACES))
    province_name, cities, municipality = PLACES[province]
    kinds = {
        "ordinary": 10,
        "new_energy_small": 4,
        "new_energy_large": 1,
        "trailer": 1,
        "coach": 1,
        "police": 1,
        "hong_kong_macau": 1,
        "consular": 1,
        "embassy": 1,
    }
    kind = rng.choices(list(kinds), list(kinds.values()))[0]
    if kind == "hong_kong_macau":
        province = "粤"
        province_name, cities, municipality = PLACES[province]
    if kind == "trailer":
        vehicle_type, use, seats = "重型平板半挂车", "货运", ""
    elif kind == "new_energy_large":
        vehicle_type, use, seats = rng.choice(LARGE_TYPES), "公路客运", f"{rng.randint(20, 50)}人"
    elif rng.random() < 0.12:
        vehicle_type, use, seats = rng.choice(GOODS_TYPES), "货运", f"{rng.randint(2, 3)}人"
    else:
        special_use = {"coach": "教练", "police": "警用"}.get(kind)
        vehicle_type, use = rng.choice(PASSENGER_TYPES), (special_use or rng.choice(USES))
        seats = rng.choice(["5人", "5人", "7人", "2+3人", "4人"])
    city = rng.choice(cities)
    if rng.random() < 0.15:
        owner = (
            (province_name[:2] if municipality else city[:2])
            + rng.choice(COMPANY_WORDS)
            + rng.choice(COMPANY_KINDS)
        )
    else:
        owner = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    district = "" if municipality else rng.choice(("南山区", "西湖区", "高新区", "江宁区", "武侯区"))
    address = (f"{province_name}{city}" if municipality else f"{province_name}{city}{district}") + (
        f"{rng.choice(ROADS)}{rng.randint(1, 999)}号"
        + (f"{rng.randint(1, 30)}栋{rng.randint(101, 2805)}室" if rng.random() < 0.5 else "")
    )
    register = (rng.randint(2008, 2025), rng.randint(1, 12), rng.randint(1, 28))
    year_code = (
        MODEL_YEAR_CODES[(register[0] - 1980) % 30]
        if rng.random() < 0.9
        else MODEL_YEAR_CODES[(register[0] - 1981) % 30]
    )
    vin = (
        "L"
        + "".join(rng.choice(VIN_CHARS) for _ in range(7))
        + "0"
        + year_code
        + "".join(rng.choice(VIN_CHARS) for _ in range(7))
    )
    curb = (
        rng.randint(1100, 2300)
        if "货" not in vehicle_type and "挂" not in vehicle_type
        else rng.randint(3000, 9000)
    )
    total = curb + rng.randint(300, 700) if seats else curb + rng.randint(5000, 20000)
    load = "" if "货" not in vehicle_type and "挂" not in vehicle_type else f"{total - curb - 200}kg"
    issued = (
        register
        if rng.random() < 0.7
        else (min(2025, register[0] + rng.randint(1, 6)), register[1], register[2])
    )
    until = (rng.randint(2024, 2030), rng.randint(1, 12))
    authority = (
        f"{province_name}公安局交通警察总队" if municipality else f"{province_name}{city}公安局交通警察支队"
    )
    return {
        "plate_number": random_plate(rng, province, kind),
        "vehicle_type": vehicle_type,
        "owner": owner,
        "address": address,
        "use_character": use,
        "model": rng.choice(BRANDS)
        + model_code(
            vehicle_type, [rng.choice(LETTERS[:20] + "0123456789") for _ in range(rng.randint(6, 10))]
        ),
        "vin": with_check_digit(vin),
        "engine_number": "".join(
            rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.randint(7, 12))
        ),
        "register_date": f"{register[0]:04d}-{register[1]:02d}-{register[2]:02d}",
        "issue_date": f"{issued[0]:04d}-{issued[1]:02d}-{issued[2]:02d}",
        "license_issuing_authority": authority,
        "document_id": "".join(rng.choice("0123456789") for _ in range(12)),
        "approved_passengers_capacity": seats,
        "total_mass": f"{total}kg",
        "curb_weight": f"{curb}kg",
        "ratified_load_capacity": load,
        "gabarite": f"{rng.randint(3500, 12000)}×{rng.randint(1500, 2550)}×{rng.randint(1300, 3900)}mm",
        "traction_mass": "",
        "remarks": "",
        "inspection_record": f"检验有效期至{until[0]}年{until[1]:02d}月{province}{PLATE_LETTERS[rng.randrange(8)]}({rng.randint(1, 9):02d})",
    }


# -- degradations ------------------------------------------------------------------------------
DEGRADATIONS = (
    "clean",
    "rotate_small",
    "blur",
    "jpeg40",
    "noise",
    "downscale",
    "perspective",
    "glare",
    "uneven_light",
    "rotate90",
    "rotate180",
)
MILD = frozenset({"clean", "rotate_small", "blur", "jpeg40", "noise", "downscale"})


def degrade(photo: Image.Image, kind: str, rng: random.Random) -> tuple[Image.Image, int]:
    """(degraded photo, JPEG quality to save it with)."""
    import numpy as np

    quality = 88
    if kind == "rotate_small":
        photo = photo.rotate(
            rng.uniform(-5, 5), expand=True, resample=Image.Resampling.BICUBIC, fillcolor=(120, 100, 80)
        )
    elif kind == "blur":
        photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(1.2, 1.8)))
    elif kind == "jpeg40":
        quality = 40
    elif kind == "noise":
        pixels = np.asarray(photo).astype(np.int16)
        noisy = pixels + np.random.default_rng(rng.randrange(2**32)).normal(0, 12, pixels.shape).astype(
            np.int16
        )
        photo = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    elif kind == "downscale":
        width = rng.randint(600, 800)
        photo = photo.resize((width, int(photo.height * width / photo.width)), Image.Resampling.LANCZOS)
    elif kind == "perspective":
        w, h = photo.size

        def d() -> float:
            return rng.uniform(0, 0.06)

        # PIL's QUAD: the source's upper-left, lower-left, lower-right and upper-right corners
        corners = [
            (w * d(), h * d()),
            (w * d(), h * (1 - d())),
            (w * (1 - d()), h * (1 - d())),
            (w * (1 - d()), h * d()),
        ]
        photo = photo.transform(
            (w, h), Image.Transform.QUAD, [c for point in corners for c in point], Image.Resampling.BICUBIC
        )
    elif kind in ("glare", "uneven_light"):
        w, h = photo.size
        ys, xs = np.mgrid[0:h, 0:w]
        pixels = np.asarray(photo).astype(np.float32)
        if kind == "glare":
            cx, cy, r = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h, rng.uniform(0.08, 0.14) * w
            spot = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r * r))[..., None] * 110
            pixels = pixels + spot
        else:
            gradient = (0.55 + 0.45 * (xs / w if rng.random() < 0.5 else ys / h))[..., None]
            pixels = pixels * gradient
        photo = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    elif kind == "rotate90":
        photo = photo.transpose(rng.choice((Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270)))
    elif kind == "rotate180":
        photo = photo.transpose(Image.Transpose.ROTATE_180)
    return photo, quality


def render(
    fields: dict[str, str], page: str, rng: random.Random, degradation: str = "clean", font: str | None = None
) -> bytes:
    """A phone photo (JPEG bytes) of the main page, the secondary page, or both."""
    painter = Painter(font or next(f for f in FONT_CANDIDATES if Path(f).exists()))
    cards = {
        "main": [painter.main_page(fields, rng)],
        "secondary": [painter.secondary_page(fields, rng)],
        "both": [painter.main_page(fields, rng), painter.secondary_page(fields, rng)],
    }[page]
    photo, quality = degrade(painter.photo(cards, rng), degradation, rng)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def page_fields(fields: dict[str, str], page: str) -> dict[str, str]:
    """What the upstream returns for a photo of this page: the other page's fields are empty."""
    shown = {"main": MAIN_FIELDS, "secondary": SECONDARY_FIELDS, "both": LICENSE_FIELDS}[page]
    return {name: (fields[name] if name in shown else "") for name in LICENSE_FIELDS}


def corpus(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` cases spread evenly over degradations and pages: fields, page, degradation, seed."""
    rng = random.Random(seed)
    pages = ("main", "secondary", "both")
    return [
        {
            "fields": random_license(rng),
            "page": pages[i % 3],
            "degradation": DEGRADATIONS[i % len(DEGRADATIONS)],
            "seed": rng.randrange(2**31),
        }
        for i in range(count)
    ]


def realistic_corpus(count: int, seed: int = 2026) -> Iterator[CardImage]:
    """`count` photos of realistic cards, drawn one at a time: each with its JPEG bytes, the 20
    fields as printed on the page(s) shown, the conditions applied, and `expected_code` 5021 for
    the cards that are no vehicle license (see cards/corpus.py)."""
    from vehicle_license_tools.cards.corpus import realistic_corpus as generate

    return generate(count, seed)


def realistic_cases(count: int, seed: int = 2026) -> list[CardCase]:
    """The plan of `realistic_corpus(count, seed)` without its pixels; `render_realistic` draws one."""
    from vehicle_license_tools.cards.corpus import realistic_cases as plan

    return plan(count, seed)


def render_realistic(case: CardCase) -> CardImage:
    from vehicle_license_tools.cards.corpus import render as draw

    return draw(case)


def characters() -> str:
    """Every character this module can print: what the committed font subset must cover."""
    import inspect
    import sys

    printed_labels = "".join(
        label.chinese + label.english
        for rows in (MAIN_PAGE_ROWS, SECONDARY_PAGE_ROWS)
        for row in rows
        for label in row
    )
    cards = Path(__file__).resolve().parent / "cards"  # the realistic cards' modules print too
    source = (
        inspect.getsource(sys.modules[__name__])
        + "".join(path.read_text(encoding="utf-8") for path in sorted(cards.glob("*.py")))
        + TITLE
        + printed_labels
    )
    return "".join(sorted({c for c in source if ord(c) > 127} | {chr(c) for c in range(32, 127)}))
