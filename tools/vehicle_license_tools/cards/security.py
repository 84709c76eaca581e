"""The card stock: a pale blue-green security print with a pink blush, guilloche waves and a
rosette, a faint car drawing behind the text, rounded corners, and the vertical holographic strip
laminated over everything (it crosses the stamp, sometimes a value)."""

from __future__ import annotations

import math
import random

import cv2
import numpy as np
from PIL import Image, ImageDraw

from vehicle_license_tools.cards.ink import Array, f32


def stock(size: tuple[int, int], rng: random.Random, blush: float = 1.0) -> Array:
    """The printed background of one page (float32 RGB 0..255)."""
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = f32([rng.uniform(196, 214), rng.uniform(222, 234), rng.uniform(226, 238)])  # light blue-green
    edge = f32([rng.uniform(214, 228), rng.uniform(232, 240), rng.uniform(234, 242)])
    across = (xx / width)[..., None]
    card = base * (1 - 0.5 * across) + edge * 0.5 * across
    cx, cy = rng.uniform(0.45, 0.75) * width, rng.uniform(0.35, 0.65) * height
    radius = rng.uniform(0.25, 0.4) * width
    pink = f32([rng.uniform(232, 242), rng.uniform(206, 218), rng.uniform(220, 232)])
    weight = blush * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius * radius))[..., None]
    card = card * (1 - 0.75 * weight) + pink * 0.75 * weight
    layer = Image.new("L", size, 0)
    pink_layer = Image.new("L", size, 0)
    _guilloche(ImageDraw.Draw(layer), size, rng)
    _rosette(ImageDraw.Draw(pink_layer), size, rng)
    _car(ImageDraw.Draw(pink_layer), size, rng)
    blue_ink = f32([120, 165, 190])
    pink_ink = f32([215, 140, 175])
    lines = np.asarray(layer).astype(np.float32)[..., None] / 255.0 * rng.uniform(0.22, 0.35)
    card = card * (1 - lines) + blue_ink * lines
    drawing = np.asarray(pink_layer).astype(np.float32)[..., None] / 255.0 * rng.uniform(0.25, 0.4)
    card = card * (1 - drawing) + pink_ink * drawing
    return np.ascontiguousarray(card, dtype=np.float32)


def _guilloche(draw: ImageDraw.ImageDraw, size: tuple[int, int], rng: random.Random) -> None:
    width, height = size
    step = max(6, height // 70)
    wavelength = rng.uniform(0.18, 0.3) * width
    amplitude = rng.uniform(0.01, 0.025) * height
    xs = np.linspace(0, width, 90)
    for index, y0 in enumerate(range(-step * 4, height + step * 4, step)):
        phase = index * 0.35
        ys = y0 + amplitude * np.sin(2 * math.pi * xs / wavelength + phase)
        ys += 0.5 * amplitude * np.sin(2 * math.pi * xs / (wavelength * 0.37) - phase)
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=255, width=1)


def _rosette(draw: ImageDraw.ImageDraw, size: tuple[int, int], rng: random.Random) -> None:
    """A spirograph curve, as banknotes and cards print them."""
    width, height = size
    cx, cy = rng.uniform(0.55, 0.8) * width, rng.uniform(0.35, 0.6) * height
    big, small = rng.uniform(0.18, 0.26) * height, rng.uniform(0.05, 0.09) * height
    lobes = rng.choice((7, 9, 11, 13))
    t = np.linspace(0, 2 * math.pi, 900)
    for ring in range(3):
        r = big * (1 - 0.18 * ring)
        xs = cx + r * np.cos(t) + small * np.cos(lobes * t + ring)
        ys = cy + r * np.sin(t) - small * np.sin(lobes * t + ring)
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=200, width=1)


def _car(draw: ImageDraw.ImageDraw, size: tuple[int, int], rng: random.Random) -> None:
    """The faint side view of a car behind the middle of the text."""
    width, height = size
    x0, y0 = rng.uniform(0.3, 0.45) * width, rng.uniform(0.35, 0.5) * height
    w, h = rng.uniform(0.4, 0.52) * width, rng.uniform(0.2, 0.26) * height
    body = [
        (0.0, 0.75),
        (0.03, 0.5),
        (0.22, 0.42),
        (0.35, 0.1),
        (0.7, 0.08),
        (0.85, 0.4),
        (1.0, 0.48),
        (1.0, 0.78),
    ]
    points = [(x0 + w * px, y0 + h * py) for px, py in body]
    draw.line([*points, points[0]], fill=255, width=2)
    draw.line([(x0 + 0.37 * w, y0 + 0.15 * h), (x0 + 0.4 * w, y0 + 0.42 * h)], fill=255, width=2)
    draw.line([(x0 + 0.22 * w, y0 + 0.42 * h), (x0 + 0.85 * w, y0 + 0.42 * h)], fill=255, width=1)
    for wheel in (0.2, 0.8):
        r = 0.14 * h * 1.3
        cx, cy = x0 + wheel * w, y0 + 0.8 * h
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=255, width=2)
        draw.ellipse([cx - r / 2, cy - r / 2, cx + r / 2, cy + r / 2], outline=255, width=1)


def hologram(card: Array, x: float, rng: random.Random) -> tuple[int, int]:
    """The vertical holographic strip at `x` (card units): translucent teal segments with lighter
    blocks. Returns its pixel columns."""
    height, width = card.shape[:2]
    left = int(x * width)
    strip = max(6, int(0.016 * width))
    right = min(width, left + strip)
    column = np.zeros((height, 1), np.float32)
    period = rng.uniform(0.1, 0.16) * height
    offset = rng.uniform(0, period)
    ys = np.arange(height, dtype=np.float32)
    phase = ((ys + offset) % period) / period
    column[:, 0] = np.where(phase < 0.55, 0.55, 0.18)  # strong segments and faint gaps
    shimmer = f32([rng.uniform(40, 90), rng.uniform(150, 200), rng.uniform(140, 190)])  # teal-green foil
    alpha = np.repeat(column, right - left, axis=1)[..., None]
    region = card[:, left:right]
    card[:, left:right] = region * (1 - alpha) + shimmer * alpha
    # bright blocks inside the strong segments: the foil's microtext catching the light
    for y in np.arange(offset % period, height, period):
        y0 = int(y + 0.1 * period)
        y1 = min(height, int(y0 + 0.12 * period))
        if y1 > y0:
            card[y0:y1, left + 1 : right - 1] = card[y0:y1, left + 1 : right - 1] * 0.4 + 150
    return left, right


def rounded(card: Array, radius_fraction: float = 0.045) -> Array:
    """An alpha mask (uint8) for the card's rounded corners, antialiased."""
    height, width = card.shape[:2]
    radius = int(radius_fraction * width)
    scale = 2
    mask = np.zeros((height * scale, width * scale), np.uint8)
    r = radius * scale
    cv2.rectangle(mask, (r, 0), (width * scale - r, height * scale), 255, -1)
    cv2.rectangle(mask, (0, r), (width * scale, height * scale - r), 255, -1)
    for cx, cy in (
        (r, r),
        (width * scale - r, r),
        (r, height * scale - r),
        (width * scale - r, height * scale - r),
    ):
        cv2.circle(mask, (cx, cy), r, 255, -1)
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA)
