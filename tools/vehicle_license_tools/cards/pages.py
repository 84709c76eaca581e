"""The two pages as a real card carries them, in the order they are printed:

1. the pre-printed form on security stock (security.py): title with its English line, each label
   in a Song face spread over its place with the English sub-label under it, dotted or solid
   underlines, all where `vehicle_license_recognizer.form` measured them on real cards;
2. the values, in a second printing pass (monospaced, serif, italic or dot matrix): the whole
   pass shifted and turned against the form (misregistration), so values ride over labels,
   sub-labels and underlines;
3. the issuing authority's rectangular red stamp, its name in three lines (main page); the
   inspection stamp box and the barcode with its digits (secondary page);
4. the holographic strip laminated over everything.

Each page returns what it printed (the ground truth, exactly as printed) and where (boxes in card
pixels), so the photo can say which field a banner hid.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import cv2
import numpy as np

from vehicle_license_recognizer.form import (
    BARCODE_BOX,
    INSPECTION_STAMP_BOX,
    MAIN_PAGE_ROWS,
    SECONDARY_PAGE_ROWS,
    TITLE,
    TITLE_BOX,
    TITLE_ENGLISH,
    TITLE_ENGLISH_BOX,
    FormLabel,
)
from vehicle_license_tools.cards import ink
from vehicle_license_tools.cards.fonts import HEI, LABEL_FACE, MONO_FACE, PRINT_FACES, SONG, Face
from vehicle_license_tools.cards.ink import Array, Colour
from vehicle_license_tools.cards.security import hologram, rounded, stock

CARD_PX = (1320, 900)  # 88 x 60 mm at 15 px/mm
PixelBox = tuple[int, int, int, int]
FORM_INK: Colour = (22, 22, 28)
STAMP_RED: Colour = (214, 38, 48)
# Fields a card prints "--" for when they do not apply (the real secondary page does); remarks
# stay blank.
DASHED_WHEN_EMPTY = frozenset(
    {"approved_passengers_capacity", "total_mass", "curb_weight", "ratified_load_capacity", "traction_mass"}
)


@dataclass(frozen=True)
class Printing:
    """How the second pass went: its face, and how far it missed the form."""

    style: str  # a key of fonts.PRINT_FACES
    shift: tuple[float, float] = (0.0, 0.0)  # card units
    angle: float = 0.0  # degrees, counter-clockwise
    jitter: float = 0.004  # card units, per field
    ink: Colour = (30, 30, 42)
    underline: str = "dotted"  # or "solid"
    older_labels: bool = False  # 注册登记日期 instead of 注册日期

    @property
    def face(self) -> Face:
        return PRINT_FACES[self.style]


@dataclass
class Page:
    kind: str  # main, secondary, driving_license, id_card
    image: Array  # float32 RGB 0..255
    alpha: Array  # uint8: the rounded card
    printed: dict[str, str] = field(default_factory=dict)  # field -> text as printed
    boxes: dict[str, PixelBox] = field(default_factory=dict)  # field -> where, card pixels
    stamp_box: PixelBox | None = None
    strip: tuple[int, int] = (0, 0)  # the holographic strip's columns


def printing(rng: random.Random, style: str, misregistered: bool) -> Printing:
    """A second pass: always a little off the form; far off (up to a line) when misregistered."""
    if misregistered:
        shift = (rng.uniform(-0.035, 0.035), rng.choice((-1, 1)) * rng.uniform(0.03, 0.06))
        angle, jitter = rng.uniform(-1.6, 1.6), 0.008
    else:
        shift, angle, jitter = (
            (rng.uniform(-0.012, 0.012), rng.uniform(-0.014, 0.02)),
            rng.uniform(-0.4, 0.4),
            0.003,
        )
    ink_colour = rng.choice(((28, 28, 36), (35, 38, 70), (20, 20, 20), (45, 45, 60)))
    return Printing(
        style,
        shift,
        angle,
        jitter,
        ink_colour,
        underline=rng.choice(("dotted", "dotted", "solid")),
        older_labels=rng.random() < 0.08,
    )


def printed_values(fields: dict[str, str]) -> dict[str, str]:
    """What the printer puts on the card for each field (the ground truth as printed)."""
    return {
        name: (value if value or name not in DASHED_WHEN_EMPTY else "--") for name, value in fields.items()
    }


def split_lines(text: str, lines: int = 3) -> list[str]:
    """A stamp's name in `lines` short lines, the longer ones last: 北京市公/安局公安/交通管理局."""
    base, extra = divmod(len(text), lines)
    sizes = [base + (1 if index >= lines - extra else 0) for index in range(lines)]
    out, start = [], 0
    for size in sizes:
        out.append(text[start : start + size])
        start += size
    return [line for line in out if line]


# -- the pages ----------------------------------------------------------------------------------
def main_page(
    values: dict[str, str], how: Printing, rng: random.Random, strip_x: float | None = None
) -> Page:
    _width, height = CARD_PX
    page = Page("main", stock(CARD_PX, rng), np.zeros(0))
    card = page.image
    title = ink.trim(ink.text_mask(TITLE, Face(SONG, SONG), 64, stroke=2))
    title = _fit(title, TITLE_BOX, 0.96, 0.7)
    ink.lay_centred(card, title, _centre(TITLE_BOX), FORM_INK)
    english = ink.trim(ink.text_mask(TITLE_ENGLISH, LABEL_FACE, 40))
    english = _fit(english, TITLE_ENGLISH_BOX, 0.95, 0.6)
    below = _centre(TITLE_ENGLISH_BOX)
    ink.lay_centred(card, english, (below[0], below[1] + 0.01 * height), FORM_INK, 0.9)
    rows = _older(MAIN_PAGE_ROWS) if how.older_labels else MAIN_PAGE_ROWS
    _form(card, rows, how, english=True)
    _values(page, rows, values, how, rng)
    page.stamp_box = authority_stamp(card, values.get("license_issuing_authority", ""), rng)
    if page.stamp_box:
        page.printed["license_issuing_authority"] = values.get("license_issuing_authority", "")
        page.boxes["license_issuing_authority"] = page.stamp_box
    if strip_x is None:  # mostly beside the labels; on some cards across the values (a VIN's 9th)
        strip_x = rng.uniform(0.5, 0.7) if rng.random() < 0.15 else rng.uniform(0.07, 0.15)
    page.strip = hologram(card, strip_x, rng)
    page.alpha = rounded(card)
    return page


def secondary_page(
    values: dict[str, str], how: Printing, rng: random.Random, strip_x: float | None = None
) -> Page:
    _width, _height = CARD_PX
    page = Page("secondary", stock(CARD_PX, rng, blush=0.6), np.zeros(0))
    card = page.image
    _form(card, SECONDARY_PAGE_ROWS, how, english=False)
    _rule(card, 0.17, 0.97, 0.615, how.underline)  # the remarks' second line
    shown = {k: v for k, v in values.items() if k != "inspection_record"}
    _values(page, SECONDARY_PAGE_ROWS, shown, how, rng)
    record = values.get("inspection_record", "")
    if record:
        box = inspection_stamp(card, record, how, rng)
        if box:
            page.printed["inspection_record"] = record
            page.boxes["inspection_record"] = box
    else:
        page.printed["inspection_record"] = ""
    barcode(card, rng)
    page.strip = hologram(card, rng.uniform(0.06, 0.12) if strip_x is None else strip_x, rng)
    page.alpha = rounded(card)
    return page


# -- the form (first pass) ----------------------------------------------------------------------
def _form(card: Array, rows: tuple[tuple[FormLabel, ...], ...], how: Printing, english: bool) -> None:
    width, height = CARD_PX
    labels = [label for row in rows for label in row]
    size = int(
        np.median(
            [
                min(0.72 * (lb.box[3] - lb.box[1]) * height, (lb.box[2] - lb.box[0]) * width / 4.2)
                for lb in labels
            ]
        )
    )
    subs = [lb.english_box for lb in labels if lb.english_box is not None]
    sub_size = max(10, int(np.median([0.5 * (box[3] - box[1]) * height for box in subs]))) if subs else 10
    for label in labels:
        x0, y0, x1, y1 = label.box
        span = int((x1 - x0) * width * 0.96)
        mask = ink.trim(ink.spaced_mask(label.chinese, LABEL_FACE, size, span, stroke=1))
        if mask.shape[1] > span * 1.05:  # 注册登记日期 squeezed into 注册日期's place
            mask = cv2.resize(mask, (span, mask.shape[0]), interpolation=cv2.INTER_AREA)
        ink.lay(card, mask, int(x0 * width), int((y0 + y1) / 2 * height - mask.shape[0] / 2), FORM_INK)
        rule_y = (y1 + 0.012) if label.english_box is None else (label.english_box[3] - 0.008)
        if english and label.english_box is not None:
            ex0, ey0, ex1, ey1 = label.english_box
            sub = ink.trim(ink.text_mask(label.english, LABEL_FACE, sub_size))
            limit = int((ex1 - ex0) * width * 1.1)
            if sub.shape[1] > limit:
                sub = cv2.resize(sub, (limit, sub.shape[0]), interpolation=cv2.INTER_AREA)
            ink.lay(
                card, sub, int(ex0 * width), int((ey0 + ey1) / 2 * height - sub.shape[0] / 2), FORM_INK, 0.85
            )
        _rule(card, max(label.value_span[0], x1 + 0.005), label.value_span[1] - 0.01, rule_y, how.underline)


def _rule(card: Array, x0: float, x1: float, y: float, style: str) -> None:
    width, height = CARD_PX
    mask = np.zeros((4, max(1, int((x1 - x0) * width))), np.uint8)
    mask[1:3, :] = 200
    if style == "dotted":
        period = 7
        mask[:, (np.arange(mask.shape[1]) % period) >= 3] = 0
    ink.lay(card, mask, int(x0 * width), int(y * height), FORM_INK, 0.8)


def _older(rows: tuple[tuple[FormLabel, ...], ...]) -> tuple[tuple[FormLabel, ...], ...]:
    def renamed(label: FormLabel) -> FormLabel:
        if label.chinese != "注册日期":
            return label
        return FormLabel(
            "注册登记日期", label.english, label.field, label.box, label.english_box, label.value_span
        )

    return tuple(tuple(renamed(label) for label in row) for row in rows)


# -- the values (second pass) -------------------------------------------------------------------
def _values(
    page: Page,
    rows: tuple[tuple[FormLabel, ...], ...],
    values: dict[str, str],
    how: Printing,
    rng: random.Random,
) -> None:
    width, height = CARD_PX
    labels = [label for row in rows for label in row if label.field in values]
    base = np.median([(lb.box[3] - lb.box[1]) * height * 0.7 for lb in labels]) if labels else 40
    size = int(base * rng.uniform(0.95, 1.12))
    centre = (width / 2, height / 2)
    theta = np.radians(how.angle)
    for label in labels:
        text = values[label.field]
        page.printed[label.field] = text
        if not text:
            continue
        gap = rng.uniform(0.004, 0.016)
        available = (label.value_span[1] - label.value_span[0] - gap) * width
        own = size
        while own > size * 0.5 and ink.text_width(text, how.face, own) > available:
            own = int(own * 0.93)
        mask = ink.trim(ink.text_mask(text, how.face, own))
        left = (label.value_span[0] + gap + how.shift[0] + rng.uniform(-how.jitter, how.jitter)) * width
        middle = (
            (label.box[1] + label.box[3]) / 2 + how.shift[1] + rng.uniform(-how.jitter, how.jitter)
        ) * height
        cx, cy = left + mask.shape[1] / 2 - centre[0], middle - centre[1]
        # the whole pass turned about the card's centre (image y runs down: counter-clockwise is -)
        turned = (
            centre[0] + cx * np.cos(theta) + cy * np.sin(theta),
            centre[1] - cx * np.sin(theta) + cy * np.cos(theta),
        )
        mask = ink.trim(ink.rotate(mask, how.angle + rng.uniform(-0.2, 0.2)))
        box = ink.lay_centred(page.image, mask, turned, how.ink, rng.uniform(0.9, 1.0))
        if box:
            page.boxes[label.field] = box


# -- stamps and the barcode ---------------------------------------------------------------------
def authority_stamp(card: Array, authority: str, rng: random.Random) -> PixelBox | None:
    """The rectangular red stamp at the lower left: a frame, the name in three lines."""
    if not authority:
        return None
    width, height = CARD_PX
    w, h = int(rng.uniform(0.21, 0.245) * width), int(rng.uniform(0.29, 0.33) * height)
    x0, y0 = int(rng.uniform(0.025, 0.06) * width), int(rng.uniform(0.63, 0.665) * height)
    w = min(w, int(0.275 * width) - x0)  # it ends before the VIN's label starts, as measured
    mask = np.zeros((h, w), np.uint8)
    line = max(3, int(0.0045 * width))
    cv2.rectangle(mask, (line // 2, line // 2), (w - 1 - line // 2, h - 1 - line // 2), 255, line)
    if rng.random() < 0.4:
        inset = 3 * line
        cv2.rectangle(mask, (inset, inset), (w - 1 - inset, h - 1 - inset), 255, max(1, line // 2))
    lines = split_lines(authority)
    face = rng.choice((Face(SONG, SONG), Face(HEI, HEI)))
    inner = w - 8 * line
    longest = max(len(text) for text in lines)
    size = int(min(inner / longest * 0.95, (h - 6 * line) / 3 * 0.7))
    for index, text in enumerate(lines):
        row = ink.trim(ink.spaced_mask(text, face, size, inner, stroke=max(1, size // 28)))
        if row.shape[1] > inner:
            row = cv2.resize(row, (inner, row.shape[0]), interpolation=cv2.INTER_AREA)
        ry = int(h * (index + 0.5) / 3 - row.shape[0] / 2)
        rx = (w - row.shape[1]) // 2
        region = mask[ry : ry + row.shape[0], rx : rx + row.shape[1]]
        np.maximum(region, row[: region.shape[0], : region.shape[1]], out=region)
    worn = (
        mask.astype(np.float32) * ink.speckle(mask.shape, np.random.default_rng(rng.randrange(2**32)))
    ).astype(np.uint8)
    turned = ink.rotate(worn, rng.uniform(-1.5, 1.5))
    dx, dy = (turned.shape[1] - w) // 2, (turned.shape[0] - h) // 2
    return ink.lay(card, turned, x0 - dx, y0 - dy, STAMP_RED, rng.uniform(0.78, 0.95))


def inspection_stamp(card: Array, record: str, how: Printing, rng: random.Random) -> PixelBox | None:
    """The inspection stamp box: a frame around 检验有效期至2015年06月粤B(16)."""
    width, height = CARD_PX
    bx0, by0, bx1, by1 = INSPECTION_STAMP_BOX
    dx, dy = rng.uniform(-0.02, 0.02) + how.shift[0] / 2, rng.uniform(-0.012, 0.012)
    w, h = int((bx1 - bx0) * width), int((by1 - by0) * height)
    face = rng.choice((MONO_FACE, PRINT_FACES["serif"], how.face))
    size = int(h * 0.62)
    while size > 10 and ink.text_width(record, face, size) > w * 0.92:
        size = int(size * 0.94)
    text = ink.trim(ink.text_mask(record, face, size))
    mask = np.zeros((h, w), np.uint8)
    cv2.rectangle(mask, (1, 1), (w - 2, h - 2), 255, 3)
    ty, tx = (h - text.shape[0]) // 2, (w - text.shape[1]) // 2
    region = mask[ty : ty + text.shape[0], tx : tx + text.shape[1]]
    np.maximum(region, text[: region.shape[0], : region.shape[1]], out=region)
    colour = rng.choice((how.ink, (30, 40, 110)))
    left, top = int((bx0 + dx) * width), int((by0 + dy) * height)
    ink.lay(card, mask, left, top, colour, rng.uniform(0.8, 0.95))
    return (left + tx, top + ty, left + tx + text.shape[1], top + ty + text.shape[0])


def barcode(card: Array, rng: random.Random) -> PixelBox | None:
    """Bars and their digits (*8644658019963*) at the lower right: no field."""
    width, height = CARD_PX
    x0, y0, x1, y1 = BARCODE_BOX
    left, top = int((x0 + rng.uniform(0, 0.03)) * width), int((y0 + rng.uniform(-0.01, 0.01)) * height)
    w, h = int((x1 - x0 - 0.04) * width), int((y1 - y0) * height)
    bars = np.zeros((int(h * 0.68), w), np.uint8)
    x = 0
    while x < w - 4:
        thick = rng.choice((2, 2, 3, 5, 6))
        if rng.random() < 0.55:
            bars[:, x : x + thick] = 255
        x += thick + rng.choice((2, 3, 4))
    digits = "*" + "".join(rng.choice("0123456789") for _ in range(13)) + "*"
    text = ink.trim(ink.spaced_mask(digits, MONO_FACE, int(h * 0.22), int(w * 0.92)))
    ink.lay(card, bars, left, top, (25, 25, 30), 0.95)
    ink.lay(
        card, text, left + (w - text.shape[1]) // 2, top + bars.shape[0] + int(h * 0.06), (25, 25, 30), 0.9
    )
    return (left, top, left + w, top + h)


# -- helpers ------------------------------------------------------------------------------------
def _centre(box: tuple[float, float, float, float]) -> tuple[float, float]:
    width, height = CARD_PX
    return ((box[0] + box[2]) / 2 * width, (box[1] + box[3]) / 2 * height)


def _fit(mask: Array, box: tuple[float, float, float, float], fill_x: float, fill_y: float) -> Array:
    """The mask scaled to fill the box's width (or height, whichever binds first)."""
    width, height = CARD_PX
    scale = min(
        (box[2] - box[0]) * width * fill_x / mask.shape[1],
        (box[3] - box[1]) * height * fill_y / mask.shape[0],
    )
    size = (max(1, int(mask.shape[1] * scale)), max(1, int(mask.shape[0] * scale)))
    return cv2.resize(mask, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
