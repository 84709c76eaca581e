"""A photo of one or two printed pages, taken the ways real ones are: in a plastic sleeve with glare
bands, on a desk or a car seat or held in a hand, both pages side by side, turned a quarter or a
half turn without EXIF, in perspective, from 400 px web copies to 4000 px phone photos, JPEG,
with a watermark or a banner over a line, blurred, noisy, unevenly lit.

Every page is drawn onto the photo by one homography (card pixels -> photo pixels), so each
printed value's box is known on the photo too: what a banner or a thumb hid is ground truth.
Costly steps run at photo size only where they must (the card's own region, the final blur and
JPEG); smooth things (background, light) are made small and scaled up. A 4000 px photo takes
about a second.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw

from vehicle_license_tools.cards.fonts import HEI, font
from vehicle_license_tools.cards.ink import Array, f32, f64
from vehicle_license_tools.cards.pages import Page, PixelBox

BACKGROUNDS = ("desk", "hand", "seat")
SIZES = ("small", "medium", "large")  # 400-700 px web copies, 1000-2000 px, 3000-4000 px phone photos
WORKING = 2000  # px: the largest side photos are composed at
ROTATIONS = {"rotate90": 90, "rotate180": 180, "rotate270": 270}  # clockwise, no EXIF
WATERMARKS = ("样本", "仅供参考", "SAMPLE", "www.chesample.cn", "样例图片", "仅供办理业务使用")
BANNERS = ("扫码免费查违章", "二手车估价 点击进入", "车主服务平台 www.chezhu.cn", "广告 新车分期 低至0首付")


@dataclass
class Shot:
    image: Array  # uint8 RGB, as saved
    jpeg: bytes
    quality: int
    rotation: int  # degrees clockwise the photo was turned (no EXIF says so)
    boxes: dict[str, PixelBox] = field(default_factory=dict)  # each printed value, photo pixels
    stamp_boxes: list[PixelBox] = field(default_factory=list)
    card_quads: list[list[tuple[float, float]]] = field(default_factory=list)
    occluded: set[str] = field(default_factory=set)  # fields a banner or a thumb hides
    glare_boxes: list[PixelBox] = field(default_factory=list)
    banner_box: PixelBox | None = None


def photograph(pages: list[Page], conditions: set[str], rng: random.Random) -> Shot:
    noise_rng = np.random.default_rng(rng.randrange(2**32))
    size = _size(conditions, len(pages), rng)
    # composed at most WORKING px wide, then scaled to the photo's size: the card holds no more
    # detail than that, and a 4000 px photo stays fast
    scale = min(1.0, WORKING / max(size))
    width, height = round(size[0] * scale), round(size[1] * scale)
    background = next((b for b in BACKGROUNDS if b in conditions), "desk")
    photo = _background(background, (width, height), rng)
    quads = _layout(pages, (width, height), conditions, rng)
    sleeve = "sleeve_glare" in conditions or rng.random() < 0.35
    glare = "sleeve_glare" in conditions
    occluder = np.zeros((height, width), np.uint8)
    hand_side = rng.choice(("left", "right", "bottom")) if background == "hand" else None
    hand_seed = rng.randrange(2**32)
    if hand_side:
        _hand(photo, quads[0], hand_side, hand_seed, behind=True)
    homographies: list[Array] = []
    glare_boxes: list[PixelBox] = []
    for page, quad in zip(pages, quads, strict=True):
        homography, glare_box = _lay_card(photo, page, quad, sleeve, glare, rng)
        homographies.append(homography)
        if glare_box:
            glare_boxes.append(glare_box)
    if hand_side:
        occluder = np.maximum(occluder, _hand(photo, quads[0], hand_side, hand_seed, behind=False))
    if "uneven_light" in conditions:
        _uneven_light(photo, rng)
    boxes: dict[str, PixelBox] = {}
    stamps: list[PixelBox] = []
    for page, homography in zip(pages, homographies, strict=True):
        for name, box in page.boxes.items():
            boxes.setdefault(name, _map_box(box, homography))
        if page.stamp_box:
            stamps.append(_map_box(page.stamp_box, homography))
    banner = _banner(photo, occluder, boxes, rng) if "banner" in conditions else None
    if "watermark" in conditions:
        _watermark(photo, rng)
    if "blur" in conditions:
        _blur(photo, rng)
    occluded = {name for name, box in boxes.items() if _covered(occluder, box) > 0.3}
    image = np.clip(photo, 0, 255).astype(np.uint8)
    if scale < 1.0:
        image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
    if "noise" in conditions:
        grain: Array = noise_rng.normal(0, rng.uniform(6, 12), (size[1] // 2 + 1, size[0] // 2 + 1, 3))
        grain = cv2.resize(grain.astype(np.int16), size, interpolation=cv2.INTER_NEAREST)
        image = np.clip(image.astype(np.int16) + grain, 0, 255).astype(np.uint8)
    up = 1.0 / scale

    def out(box: PixelBox) -> PixelBox:
        scaled = (int(box[0] * up), int(box[1] * up), math.ceil(box[2] * up), math.ceil(box[3] * up))
        return _turn_box(scaled, turn, *size)

    turn = next((ROTATIONS[r] for r in ROTATIONS if r in conditions), 0)
    corners = [
        [
            _turn_point((x * up, y * up), turn, *size)
            for x, y in cv2.perspectiveTransform(_corners(page), h)[:, 0].tolist()
        ]
        for page, h in zip(pages, homographies, strict=True)
    ]
    if turn:
        image = np.ascontiguousarray(np.rot90(image, k=-turn // 90))
    quality = (
        rng.randint(25, 45)
        if "jpeg_low" in conditions
        else (rng.randint(60, 85) if "small" in conditions else rng.randint(78, 93))
    )
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return Shot(
        image,
        encoded.tobytes(),
        quality,
        turn,
        {name: out(box) for name, box in boxes.items()},
        [out(box) for box in stamps],
        corners,
        occluded,
        [out(box) for box in glare_boxes],
        out(banner) if banner else None,
    )


# -- where things go ----------------------------------------------------------------------------
def _size(conditions: set[str], cards: int, rng: random.Random) -> tuple[int, int]:
    if "small" in conditions:  # a web copy: cropped close around the card(s)
        long = rng.randint(400, 700) if cards == 1 else rng.randint(600, 900)
        aspect = rng.uniform(1.3, 1.45) if cards == 1 else rng.uniform(2.0, 2.3)
    else:
        long = rng.randint(3000, 4000) if "large" in conditions else rng.randint(1000, 2000)
        aspect = rng.choice((4 / 3, 4 / 3, 16 / 9))
    return long, int(long / aspect)


def _layout(
    pages: list[Page], size: tuple[int, int], conditions: set[str], rng: random.Random
) -> list[Array]:
    """Each page's corners on the photo (top-left, top-right, bottom-right, bottom-left)."""
    width, height = size
    web = "small" in conditions
    quads = []
    count = len(pages)
    card_aspect = pages[0].image.shape[1] / pages[0].image.shape[0]
    if count == 1:
        fill = rng.uniform(0.82, 0.92) if web else rng.uniform(0.55, 0.8)
        card_w = min(fill * width, 0.88 * height * card_aspect)
        centres = [
            (width / 2 + rng.uniform(-0.06, 0.06) * width, height / 2 + rng.uniform(-0.05, 0.05) * height)
        ]
    else:
        card_w = min(
            (rng.uniform(0.42, 0.46) if web else rng.uniform(0.36, 0.44)) * width, 0.85 * height * card_aspect
        )
        gap = rng.uniform(0.02, 0.05) * width
        cy = height / 2 + rng.uniform(-0.06, 0.06) * height
        centres = [
            (width / 2 - (card_w + gap) / 2, cy),
            (width / 2 + (card_w + gap) / 2, cy + rng.uniform(-0.03, 0.03) * height),
        ]
    strong = "perspective" in conditions
    for cx, cy in centres:
        card_h = card_w / card_aspect
        angle = math.radians(rng.uniform(-3.5, 3.5) if not web else rng.uniform(-1.5, 1.5))
        corners = f32(
            [
                [-card_w / 2, -card_h / 2],
                [card_w / 2, -card_h / 2],
                [card_w / 2, card_h / 2],
                [-card_w / 2, card_h / 2],
            ]
        )
        rotation = f32([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        corners = corners @ rotation.T
        if strong:  # one side nearer the camera: it grows, the far side shrinks
            tilt = rng.uniform(0.07, 0.15)
            side = rng.choice(("top", "bottom", "left", "right"))
            grow = {"top": (0, 1), "bottom": (3, 2), "left": (0, 3), "right": (1, 2)}[side]
            for index in range(4):
                factor = 1 + tilt if index in grow else 1 - tilt
                corners[index] *= factor
            corners += f32(
                [[rng.uniform(-0.03, 0.03) * card_w, rng.uniform(-0.03, 0.03) * card_h] for _ in range(4)]
            )
        else:
            corners += f32(
                [[rng.uniform(-0.01, 0.01) * card_w, rng.uniform(-0.01, 0.01) * card_h] for _ in range(4)]
            )
        quads.append(corners + f32([cx, cy]))
    # keep every card (and its sleeve) inside the photo: shrink the layout about the centre
    centre = f32([width / 2, height / 2])
    reach = np.abs(np.concatenate(quads) - centre).max(axis=0) * 1.09
    fit = min(1.0, float(0.49 * width / reach[0]), float(0.49 * height / reach[1]))
    return [centre + (quad - centre) * fit for quad in quads]


def _corners(page: Page) -> Array:
    height, width = page.image.shape[:2]
    return f32([[[0, 0]], [[width, 0]], [[width, height]], [[0, height]]])


# -- the card on the photo ----------------------------------------------------------------------
def _lay_card(
    photo: Array, page: Page, quad: Array, sleeve: bool, glare: bool, rng: random.Random
) -> tuple[Array, PixelBox | None]:
    """Warp the page (in its sleeve) onto the photo; returns card pixels -> photo pixels."""
    card = page.image
    height, width = card.shape[:2]
    margin = int(0.035 * width) if sleeve else 0
    obj_w, obj_h = width + 2 * margin, height + 2 * margin
    rgb = np.zeros((obj_h, obj_w, 3), np.float32)
    alpha = np.zeros((obj_h, obj_w), np.float32)
    if sleeve:  # translucent plastic, a brighter rim
        rgb[:] = f32([226, 231, 234])
        sleeve_mask = np.zeros((obj_h, obj_w), np.uint8)
        cv2.rectangle(sleeve_mask, (0, 0), (obj_w - 1, obj_h - 1), 255, -1)
        alpha[:] = 0.38
        cv2.rectangle(rgb, (2, 2), (obj_w - 3, obj_h - 3), (245, 247, 248), max(2, margin // 8))
        cv2.rectangle(alpha, (2, 2), (obj_w - 3, obj_h - 3), 0.75, max(2, margin // 8))
    card_alpha = page.alpha.astype(np.float32)[..., None] / 255.0
    region = rgb[margin : margin + height, margin : margin + width]
    rgb[margin : margin + height, margin : margin + width] = card * card_alpha + region * (1 - card_alpha)
    alpha[margin : margin + height, margin : margin + width] = np.maximum(
        alpha[margin : margin + height, margin : margin + width], page.alpha.astype(np.float32) / 255.0
    )
    glare_box = None
    if sleeve:
        sheen = _glare(obj_w, obj_h, rng, strong=glare)
        rgb += (255.0 - rgb) * sheen[..., None]
        alpha = np.maximum(alpha, sheen * 0.9)
        if glare:
            ys, xs = np.nonzero(sheen > 0.3)
            if len(xs):
                glare_box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    # the object's corners -> the quad grown by the sleeve's margin
    centre = quad.mean(axis=0)
    grow_x, grow_y = obj_w / width, obj_h / height
    outer = f32([centre + (corner - centre) * f32([grow_x, grow_y]) for corner in quad])
    source = f32([[0, 0], [obj_w, 0], [obj_w, obj_h], [0, obj_h]])
    # scale the object down first when it shrinks a lot: warping alone would alias the text
    scale = min(1.0, float(np.linalg.norm(outer[1] - outer[0]) / obj_w) * 1.6)
    if scale < 0.9:
        small = (max(8, int(obj_w * scale)), max(8, int(obj_h * scale)))
        rgb = cv2.resize(rgb, small, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, small, interpolation=cv2.INTER_AREA)
        source = f32([[0, 0], [small[0], 0], [small[0], small[1]], [0, small[1]]])
    photo_h, photo_w = photo.shape[:2]
    x0, y0 = np.floor(outer.min(axis=0)).astype(int)
    x1, y1 = np.ceil(outer.max(axis=0)).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(photo_w, x1 + 1), min(photo_h, y1 + 1)
    to_roi = cv2.getPerspectiveTransform(source, outer - f32([x0, y0]))
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(rgb, to_roi, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    weight = cv2.warpPerspective(alpha, to_roi, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    weight = weight[..., None]
    photo[y0:y1, x0:x1] = warped * weight + photo[y0:y1, x0:x1] * (1 - weight)
    # card pixels -> object pixels -> photo pixels
    card_to_object = f64([[1, 0, margin], [0, 1, margin], [0, 0, 1]])
    object_to_photo = cv2.getPerspectiveTransform(
        f32([[0, 0], [obj_w, 0], [obj_w, obj_h], [0, obj_h]]), outer
    )
    homography = object_to_photo @ card_to_object
    return homography, (_map_box(glare_box, object_to_photo) if glare_box else None)


def _glare(width: int, height: int, rng: random.Random, strong: bool) -> Array:
    """Light reflected by the sleeve: a soft sheen, and with `strong` one to three bright bands."""
    small_w, small_h = 160, max(2, int(160 * height / width))
    yy, xx = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    xx, yy = xx / small_w, yy / small_w
    sheen = np.full((small_h, small_w), 0.04, np.float32)
    bands = rng.randint(1, 3) if strong else 0
    for _ in range(bands):
        angle = math.radians(rng.uniform(20, 160))
        offset = rng.uniform(0.15, 0.85)
        across = (xx - offset * (small_w / small_w)) * math.sin(angle) - (
            yy - 0.5 * small_h / small_w
        ) * math.cos(angle)
        band_width = rng.uniform(0.025, 0.08)
        sheen += rng.uniform(0.45, 0.8) * np.exp(-((across / band_width) ** 2))
    if strong and rng.random() < 0.5:  # a hot spot of a lamp
        cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.6), rng.uniform(0.05, 0.12)
        sheen += 0.7 * np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)))
    return cv2.resize(np.clip(sheen, 0, 0.92), (width, height), interpolation=cv2.INTER_CUBIC)


# -- the scene ----------------------------------------------------------------------------------
def _background(kind: str, size: tuple[int, int], rng: random.Random) -> Array:
    width, height = size
    small_w = 480
    small_h = max(2, int(small_w * height / width))
    noise = np.random.default_rng(rng.randrange(2**32))
    yy, xx = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    surface = rng.choice(("wood", "leather", "plain")) if kind != "seat" else "seat"
    if surface == "wood":
        tone = rng.uniform(180, 215)  # beige to honey: never as red as skin
        base = f32([tone, tone * rng.uniform(0.86, 0.9), tone * rng.uniform(0.68, 0.76)])
        grain = np.sin(yy / rng.uniform(3, 7) + 2.5 * np.sin(xx / rng.uniform(40, 90))) * 7
        grain += noise.normal(0, 4, (small_h, small_w))
        image = base + grain[..., None] * f32([1, 0.85, 0.7])
    elif surface == "leather":
        shade = rng.uniform(18, 45)
        blotch = cv2.GaussianBlur(noise.normal(0, 6, (small_h, small_w)).astype(np.float32), (0, 0), 1.2)
        image = f32([shade, shade, shade + 3]) + blotch[..., None]
    elif surface == "seat":
        shade = rng.uniform(25, 70)
        tint = f32([shade, shade * rng.uniform(0.95, 1.05), shade * rng.uniform(0.95, 1.15)])
        image = tint + noise.normal(0, 5, (small_h, small_w, 1)).astype(np.float32)
        for y in np.arange(rng.uniform(0, 40), small_h, rng.uniform(45, 80)):  # stitched seams
            seam = (np.abs(yy - y - 6 * np.sin(xx / 70)) < 1.4).astype(np.float32)
            image -= seam[..., None] * 18
            stitches = seam * ((xx.astype(int) // 4) % 2)
            image += stitches[..., None] * 25
        pores = noise.random((small_h, small_w)) < 0.02
        image -= pores[..., None] * 10
    else:
        grey = rng.uniform(150, 215)
        image = f32([grey, grey * 0.98, grey * 0.95]) + noise.normal(0, 3, (small_h, small_w, 1)).astype(
            np.float32
        )
    light = 0.85 + 0.25 * np.exp(
        -(((xx / small_w - rng.uniform(0.2, 0.8)) ** 2 + (yy / small_w - 0.3) ** 2) / 0.2)
    )
    image = image * light[..., None]
    return cv2.resize(
        np.clip(image, 0, 255).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC
    )


def _hand(photo: Array, quad: Array, side: str, seed: int, behind: bool) -> Array:
    """The hand holding the card by one edge: the palm and arm behind it (`behind`), or the thumb
    over its edge. Returns what was drawn (the thumb hides what it covers)."""
    height, width = photo.shape[:2]
    card_w = float(np.linalg.norm(quad[1] - quad[0]))
    a, b = {"left": (quad[0], quad[3]), "right": (quad[1], quad[2]), "bottom": (quad[3], quad[2])}[side]
    state = random.Random(seed)  # noqa: S311 - the same hand both times
    middle = (a + b) / 2 + (b - a) * state.uniform(-0.2, 0.2)
    inward = quad.mean(axis=0) - middle
    inward /= np.linalg.norm(inward) + 1e-6
    mask = np.zeros((height, width), np.uint8)

    def point(p: Array) -> tuple[int, int]:
        return (int(p[0]), int(p[1]))

    if behind:
        palm = middle - inward * card_w * 0.1
        along = math.degrees(math.atan2(float((b - a)[1]), float((b - a)[0])))
        cv2.ellipse(mask, point(palm), (int(card_w * 0.24), int(card_w * 0.15)), along, 0, 360, 255, -1)
        cv2.line(mask, point(palm), point(palm - inward * 2 * max(width, height)), 255, int(card_w * 0.26))
    else:
        tip = middle + inward * card_w * state.uniform(0.03, 0.07)
        base = middle - inward * card_w * 0.14
        thick = int(card_w * state.uniform(0.06, 0.075))
        cv2.line(mask, point(base), point(tip), 255, thick)
        cv2.circle(mask, point(tip), thick // 2, 255, -1)
    edge = cv2.GaussianBlur(mask, (0, 0), max(0.8, card_w * 0.004)).astype(np.float32)[..., None] / 255
    small = cv2.resize(mask, (max(1, width // 4), max(1, height // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(1.0, card_w * 0.0075))
    body = (
        cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)[..., None] / 255
    )
    tone = state.uniform(215, 240)
    skin = f32([tone, tone * state.uniform(0.72, 0.78), tone * state.uniform(0.58, 0.65)])
    shade = 0.78 + 0.25 * body / max(float(body.max()), 1e-3)  # rounded: lit in the middle
    photo[:] = photo * (1 - edge) + skin * shade * edge
    return mask


def _uneven_light(photo: Array, rng: random.Random) -> None:
    height, width = photo.shape[:2]
    yy, xx = np.mgrid[0:60, 0:80].astype(np.float32)
    direction = math.radians(rng.uniform(0, 360))
    ramp = ((xx / 80 - 0.5) * math.cos(direction) + (yy / 60 - 0.5) * math.sin(direction)) + 0.5
    light = rng.uniform(0.45, 0.65) + rng.uniform(0.35, 0.55) * ramp
    light *= 1 - 0.25 * (((xx / 80 - 0.5) ** 2 + (yy / 60 - 0.5) ** 2) * 2)  # vignette
    photo *= cv2.resize(light.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)[..., None]


def _blur(photo: Array, rng: random.Random) -> None:
    height, width = photo.shape[:2]
    scale = max(width, height) / 1600
    if rng.random() < 0.6:
        sigma = rng.uniform(1.1, 2.0) * scale
        photo[:] = cv2.GaussianBlur(photo, (0, 0), sigma)
    else:  # a shaking hand
        length = max(3, int(rng.uniform(5, 11) * scale))
        kernel = np.zeros((length, length), np.float32)
        angle = rng.uniform(0, math.pi)
        c = (length - 1) / 2
        for t in np.linspace(-c, c, length * 2):
            kernel[round(c + t * math.sin(angle)), round(c + t * math.cos(angle))] = 1
        photo[:] = cv2.filter2D(photo, -1, kernel / kernel.sum())


def _watermark(photo: Array, rng: random.Random) -> None:
    """A repeated, translucent, slanted mark over the whole photo, as web copies carry."""
    height, width = photo.shape[:2]
    text = rng.choice(WATERMARKS)
    size = max(12, int(min(width, height) * rng.uniform(0.06, 0.1)))
    f = font(HEI, size)
    tile = Image.new("L", (int(f.getlength(text)) + size, int(size * 1.6)), 0)
    ImageDraw.Draw(tile).text(
        (size // 2, size // 4), text, font=f, fill=255, stroke_width=max(1, size // 30), stroke_fill=255
    )
    mask = np.asarray(tile.rotate(rng.uniform(15, 35), expand=True, resample=Image.Resampling.BILINEAR))
    colour = f32(rng.choice(((255, 255, 255), (120, 120, 120), (200, 40, 40))))
    opacity = rng.uniform(0.25, 0.42)
    step_x, step_y = int(mask.shape[1] * rng.uniform(1.1, 1.5)), int(mask.shape[0] * rng.uniform(1.0, 1.4))
    for row, y in enumerate(range(-mask.shape[0] // 2, height, step_y)):
        for x in range(-mask.shape[1] // 2 + (row % 2) * step_x // 2, width, step_x):
            x0, y0 = max(0, x), max(0, y)
            x1, y1 = min(width, x + mask.shape[1]), min(height, y + mask.shape[0])
            if x0 >= x1 or y0 >= y1:
                continue
            alpha = mask[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32)[..., None] * (opacity / 255)
            photo[y0:y1, x0:x1] = photo[y0:y1, x0:x1] * (1 - alpha) + colour * alpha


def _banner(photo: Array, occluder: Array, boxes: dict[str, PixelBox], rng: random.Random) -> PixelBox | None:
    """An opaque advertising bar across the photo, over one printed line."""
    candidates = [box for name, box in boxes.items() if name != "license_issuing_authority"]
    if not candidates:
        return None
    height, width = photo.shape[:2]
    target = rng.choice(candidates)
    line = sorted(box[3] - box[1] for box in candidates)[len(candidates) // 2]  # a line's height
    bar_h = max(8, int(max(line, target[3] - target[1]) * rng.uniform(1.1, 1.6)))
    centre = (target[1] + target[3]) // 2 + rng.randint(-bar_h // 6, bar_h // 6)
    y0, y1 = max(0, centre - bar_h // 2), min(height, centre + bar_h // 2)
    x0 = rng.randint(0, width // 5) if rng.random() < 0.5 else 0
    x1 = width if x0 == 0 else rng.randint(width * 4 // 5, width)
    colour = f32(rng.choice(((220, 60, 40), (30, 90, 200), (20, 20, 20), (250, 180, 20))))
    photo[y0:y1, x0:x1] = colour
    occluder[y0:y1, x0:x1] = 255
    text = rng.choice(BANNERS)
    size = max(8, int((y1 - y0) * 0.6))
    f = font(HEI, size)
    label = Image.new("L", (int(f.getlength(text)) + 4, size + size // 2), 0)
    ImageDraw.Draw(label).text((2, 0), text, font=f, fill=255)
    mask = np.asarray(label).astype(np.float32)[..., None] / 255
    lx, ly = x0 + (x1 - x0 - mask.shape[1]) // 2, y0 + (y1 - y0 - mask.shape[0]) // 2 + size // 8
    lx0, ly0 = max(0, lx), max(0, ly)
    lx1, ly1 = min(width, lx + mask.shape[1]), min(height, ly + mask.shape[0])
    if lx0 < lx1 and ly0 < ly1:
        piece = mask[ly0 - ly : ly1 - ly, lx0 - lx : lx1 - lx]
        photo[ly0:ly1, lx0:lx1] = photo[ly0:ly1, lx0:lx1] * (1 - piece) + 255 * piece
    return (x0, y0, x1, y1)


# -- geometry -----------------------------------------------------------------------------------
def _map_box(box: PixelBox, homography: Array) -> PixelBox:
    x0, y0, x1, y1 = box
    points = f32([[[x0, y0]], [[x1, y0]], [[x1, y1]], [[x0, y1]]])
    mapped = cv2.perspectiveTransform(points, homography)[:, 0]
    return (
        int(mapped[:, 0].min()),
        int(mapped[:, 1].min()),
        math.ceil(mapped[:, 0].max()),
        math.ceil(mapped[:, 1].max()),
    )


def _turn_point(
    point: list[float] | tuple[float, float], turn: int, width: int, height: int
) -> tuple[float, float]:
    """A point on the photo after turning it `turn` degrees clockwise."""
    x, y = point
    if turn == 90:
        return (height - y, x)
    if turn == 180:
        return (width - x, height - y)
    if turn == 270:
        return (y, width - x)
    return (x, y)


def _turn_box(box: PixelBox, turn: int, width: int, height: int) -> PixelBox:
    a = _turn_point((box[0], box[1]), turn, width, height)
    b = _turn_point((box[2], box[3]), turn, width, height)
    return (int(min(a[0], b[0])), int(min(a[1], b[1])), int(max(a[0], b[0])), int(max(a[1], b[1])))


def _covered(mask: Array, box: PixelBox) -> float:
    height, width = mask.shape
    x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3])
    if x0 >= x1 or y0 >= y1:
        return 0.0
    return float((mask[y0:y1, x0:x1] > 0).mean())
