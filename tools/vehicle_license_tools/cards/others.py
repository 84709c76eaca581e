"""Cards that are not a vehicle license but look like one to a careless reader: a driver's license
(驾驶证: the same security stock, title pattern, 住址 label and red rectangular stamp) and a
resident identity card (居民身份证, front or back). A photo of either must be answered 5021."""

from __future__ import annotations

import random

import cv2
import numpy as np

from vehicle_license_tools.cards import ink
from vehicle_license_tools.cards.fonts import LABEL_FACE, PRINT_FACES, SONG, Face
from vehicle_license_tools.cards.ink import Array, f32
from vehicle_license_tools.cards.pages import CARD_PX, FORM_INK, Page, authority_stamp
from vehicle_license_tools.cards.security import hologram, rounded, stock

ID_CARD_PX = (1320, 833)  # 85.6 x 54 mm
Rows = tuple[tuple[str, str, float, float, str], ...]  # label, English, x, y (card units), value
CLASSES = ("C1", "C2", "B1", "B2", "A1", "A2", "C1E")


def _person(rng: random.Random) -> tuple[str, str, str, str]:
    from vehicle_license_tools import synthetic

    data = synthetic.random_license(rng)
    name = rng.choice(synthetic.SURNAMES) + "".join(
        rng.choice(synthetic.GIVEN) for _ in range(rng.choice((1, 2)))
    )
    born = f"{rng.randint(1960, 2003)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    number = "".join(rng.choice("0123456789") for _ in range(17)) + rng.choice("0123456789X")
    return name, data["address"], born, number


def driving_license(rng: random.Random) -> Page:
    """The main page of a driver's license (机动车驾驶证)."""
    name, address, born, number = _person(rng)
    width, height = CARD_PX
    card = stock(CARD_PX, rng)
    first = f"{rng.randint(2005, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    start = int(first[:4]) + rng.choice((6, 10))
    face = PRINT_FACES[rng.choice(("mono", "serif", "italic"))]
    title = ink.trim(ink.text_mask("中华人民共和国机动车驾驶证", Face(SONG, SONG), 60, stroke=2))
    ink.lay_centred(card, title, (0.5 * width, 0.08 * height), FORM_INK)
    english = ink.trim(ink.text_mask("Driving License of the People's Republic of China", LABEL_FACE, 28))
    ink.lay_centred(card, english, (0.5 * width, 0.15 * height), FORM_INK, 0.9)
    rows = (
        ("证号", "", 0.03, 0.22, number),
        ("姓名", "Name", 0.03, 0.32, name),
        ("性别", "Sex", 0.38, 0.32, rng.choice("男女")),
        ("国籍", "Nationality", 0.53, 0.32, "中国"),
        ("住址", "Address", 0.03, 0.43, address),
        ("出生日期", "Date of Birth", 0.25, 0.58, born),
        ("初次领证日期", "Date of First Issue", 0.25, 0.69, first),
        ("准驾车型", "Class", 0.25, 0.80, rng.choice(CLASSES)),
        ("有效期限", "Valid Period", 0.25, 0.91, f"{first[:4]}-{first[5:]}至{start}{first[4:]}"),
    )
    _rows(card, rows, face, rng)
    _portrait(card, (0.76, 0.5, 0.96, 0.93))
    page = Page("driving_license", card, np.zeros(0))
    page.stamp_box = authority_stamp(card, synthetic_authority(rng), rng)
    page.strip = hologram(card, rng.uniform(0.07, 0.15), rng)
    page.alpha = rounded(card)
    return page


def id_card(rng: random.Random) -> Page:
    """A resident identity card (居民身份证), its portrait side or its emblem side."""
    name, address, born, number = _person(rng)
    width, height = ID_CARD_PX
    card = stock(ID_CARD_PX, rng, blush=0.4)
    face = Face(SONG, SONG)
    rows: Rows
    if rng.random() < 0.5:
        year, month, day = born.split("-")
        rows = (
            ("姓名", "", 0.06, 0.14, name),
            ("性别", "", 0.06, 0.28, rng.choice("男女")),
            ("民族", "", 0.3, 0.28, "汉"),
            ("出生", "", 0.06, 0.42, f"{year}年{int(month)}月{int(day)}日"),
            ("住址", "", 0.06, 0.56, address),
            ("公民身份号码", "", 0.06, 0.86, number),
        )
        _rows(card, rows, PRINT_FACES["serif"], rng)
        _portrait(card, (0.64, 0.14, 0.94, 0.78))
    else:
        emblem = (int(0.14 * width), int(0.24 * height))
        cv2.circle(card, emblem, int(0.1 * height), (200, 40, 40), -1)
        cv2.circle(card, emblem, int(0.06 * height), (240, 200, 60), -1)
        for text, y, size in (("中华人民共和国", 0.2, 60), ("居民身份证", 0.4, 96)):
            mask = ink.trim(ink.text_mask(text, face, size, stroke=2))
            ink.lay_centred(card, mask, (0.6 * width, y * height), FORM_INK)
        authority = synthetic_authority(rng).replace("交通警察支队", "分局").replace("交通警察总队", "")
        start = rng.randint(2012, 2024)
        rows = (
            ("签发机关", "", 0.18, 0.72, authority),
            ("有效期限", "", 0.18, 0.85, f"{start}.03.01-{start + 20}.03.01"),
        )
        _rows(card, rows, face, rng)
    page = Page("id_card", card, np.zeros(0))
    page.alpha = rounded(card, 0.05)
    return page


def synthetic_authority(rng: random.Random) -> str:
    from vehicle_license_tools import synthetic

    return synthetic.random_license(rng)["license_issuing_authority"]


def _rows(card: Array, rows: Rows, face: Face, rng: random.Random) -> None:
    height, width = card.shape[:2]
    size = int(0.052 * height)
    for chinese, english, x, y, value in rows:
        label = ink.trim(ink.text_mask(chinese, LABEL_FACE, size, stroke=1))
        ink.lay(card, label, int(x * width), int(y * height), FORM_INK)
        if english:
            sub = ink.trim(ink.text_mask(english, LABEL_FACE, int(size * 0.5)))
            ink.lay(card, sub, int(x * width), int(y * height + size * 1.1), FORM_INK, 0.85)
        right = x * width + label.shape[1] + rng.uniform(0.01, 0.03) * width
        own = size
        while own > 12 and ink.text_width(value, face, own) > 0.95 * width - right:
            own = int(own * 0.92)
        text = ink.trim(ink.text_mask(value, face, own))
        ink.lay(card, text, int(right), int(y * height + rng.uniform(-0.01, 0.02) * height), (30, 30, 40))


def _portrait(card: Array, box: tuple[float, float, float, float]) -> None:
    """A grey head-and-shoulders where the holder's photo is."""
    height, width = card.shape[:2]
    x0, y0, x1, y1 = int(box[0] * width), int(box[1] * height), int(box[2] * width), int(box[3] * height)
    card[y0:y1, x0:x1] = card[y0:y1, x0:x1] * 0.3 + f32([200, 205, 215]) * 0.7
    cx, w, h = (x0 + x1) // 2, x1 - x0, y1 - y0
    cv2.ellipse(card, (cx, y0 + int(0.38 * h)), (int(0.22 * w), int(0.28 * h)), 0, 0, 360, (95, 95, 105), -1)
    cv2.ellipse(card, (cx, y1), (int(0.45 * w), int(0.3 * h)), 0, 180, 360, (70, 75, 90), -1)
