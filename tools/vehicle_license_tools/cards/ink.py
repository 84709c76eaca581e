"""Ink on paper: text rendered to a coverage mask (0..255), sheared, sampled on a dot grid or
turned, then laid on a card by multiplying (ink darkens what is under it: red stamp ink over
black print stays black, as on a real card).

A card is a float32 H x W x 3 array of 0..255 values; masks are uint8 H x W arrays.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

from vehicle_license_tools.cards.fonts import Face, font

Array = Any  # numpy arrays, kept loose: the image maths is checked by the tests, not by stubs
Colour = tuple[float, float, float]


def f32(values: Any) -> Array:
    """A float32 array (pixels, points) from nested lists or tuples."""
    return np.asarray(values, dtype=np.float32)


def f64(values: Any) -> Array:
    return np.asarray(values, dtype=np.float64)


def runs(text: str, face: Face) -> list[tuple[str, Any]]:
    """The text cut where the face changes (Chinese vs Latin), each piece with its font path."""
    pieces: list[tuple[str, Any]] = []
    for character in text:
        path = face.font_for(character)
        if pieces and pieces[-1][1] == path:
            pieces[-1] = (pieces[-1][0] + character, path)
        else:
            pieces.append((character, path))
    return pieces


def text_width(text: str, face: Face, size: int) -> float:
    return sum(font(path, size).getlength(piece) for piece, path in runs(text, face)) + (face.italic * size)


def text_mask(text: str, face: Face, size: int, stroke: int | None = None) -> Array:
    """The text's coverage, its pieces on one baseline, the face's shear and dot grid applied."""
    pad = max(2, size // 6)
    pieces = [(piece, font(path, size)) for piece, path in runs(text, face)]
    ascent = max(f.getmetrics()[0] for _, f in pieces)
    descent = max(f.getmetrics()[1] for _, f in pieces)
    width = sum(f.getlength(piece) for piece, f in pieces)
    image = Image.new("L", (math.ceil(width) + 2 * pad, ascent + descent + 2 * pad), 0)
    draw = ImageDraw.Draw(image)
    weight = face.bold * size // 48 if stroke is None else stroke
    x = float(pad)
    for piece, f in pieces:
        draw.text(
            (x, pad + ascent), piece, font=f, fill=255, anchor="ls", stroke_width=weight, stroke_fill=255
        )
        x += f.getlength(piece)
    mask = np.asarray(image)
    if face.dot_matrix:
        mask = dot_grid(mask, pitch=max(3, round(size / 12)))
    if face.italic:
        mask = shear(mask, face.italic)
    return mask


def spaced_mask(text: str, face: Face, size: int, width: int, stroke: int = 0) -> Array:
    """The text's characters spread evenly over `width` pixels (the form's labels: 所 有 人)."""
    f = font(face.font_for(text[0]) if text else face.cjk, size)
    ascent, descent = f.getmetrics()
    pad = max(2, size // 6)
    widths = [font(face.font_for(c), size).getlength(c) for c in text]
    gap = max(0.0, (width - sum(widths)) / (len(text) - 1)) if len(text) > 1 else 0.0
    total = math.ceil(sum(widths) + gap * max(0, len(text) - 1))
    image = Image.new("L", (total + 2 * pad + stroke * 2, ascent + descent + 2 * pad), 0)
    draw = ImageDraw.Draw(image)
    x = float(pad)
    for character, advance in zip(text, widths, strict=True):
        draw.text(
            (x, pad + ascent),
            character,
            font=font(face.font_for(character), size),
            fill=255,
            anchor="ls",
            stroke_width=stroke,
            stroke_fill=255,
        )
        x += advance + gap
    return np.asarray(image)


def trim(mask: Array) -> Array:
    """The mask cut to its inked pixels (an empty mask stays 1 x 1)."""
    rows, cols = np.nonzero(mask.max(axis=1) > 40)[0], np.nonzero(mask.max(axis=0) > 40)[0]
    if len(rows) == 0:
        return mask[:1, :1]
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def shear(mask: Array, slant: float) -> Array:
    """Lean the text right by `slant` (x moves slant pixels per pixel of height)."""
    height, width = mask.shape
    extra = math.ceil(abs(slant) * height)
    matrix = f32([[1, -slant, slant * height], [0, 1, 0]])
    return cv2.warpAffine(mask, matrix, (width + extra, height), flags=cv2.INTER_LINEAR)


def dot_grid(mask: Array, pitch: int) -> Array:
    """Keep the text only where a print head's pins fall: round dots on a `pitch` grid."""
    height, width = mask.shape
    rows, cols = max(1, height // pitch), max(1, width // pitch)
    pins = cv2.resize(mask[: rows * pitch, : cols * pitch], (cols, rows), interpolation=cv2.INTER_AREA) > 110
    yy, xx = np.mgrid[0:pitch, 0:pitch]
    centre = (pitch - 2) / 2  # a dot in the cell's first pitch-1 pixels: one pixel between pins
    dot = (((yy - centre) ** 2 + (xx - centre) ** 2) <= (0.5 * (pitch - 1)) ** 2 + 0.3).astype(np.uint8) * 255
    dot[-1, :] = dot[:, -1] = 0
    dots = np.kron(pins.astype(np.uint8), dot).astype(np.uint8)
    out = np.zeros_like(mask)
    out[: dots.shape[0], : dots.shape[1]] = dots
    return cv2.GaussianBlur(out, (3, 3), 0.5)


def rotate(mask: Array, degrees: float) -> Array:
    """The mask turned counter-clockwise about its centre, grown to hold every corner."""
    if abs(degrees) < 0.05:
        return mask
    height, width = mask.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(height * sin + width * cos) + 2, int(height * cos + width * sin) + 2
    matrix[0, 2] += new_w / 2 - width / 2
    matrix[1, 2] += new_h / 2 - height / 2
    return cv2.warpAffine(mask, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR)


def lay(
    card: Array, mask: Array, x: int, y: int, colour: Colour, opacity: float = 1.0
) -> tuple[int, int, int, int] | None:
    """Multiply `colour` into the card through the mask placed with its top-left at (x, y).
    Returns the inked pixels' box (x0, y0, x1, y1) on the card, None if nothing landed on it."""
    height, width = card.shape[:2]
    mh, mw = mask.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + mw), min(height, y + mh)
    if x0 >= x1 or y0 >= y1:
        return None
    piece = mask[y0 - y : y1 - y, x0 - x : x1 - x]
    ys, xs = np.nonzero(piece > 60)
    if len(xs) == 0:
        return None
    alpha = piece.astype(np.float32)[..., None] * (opacity / 255.0)
    tint = 1.0 - f32(colour) / 255.0
    card[y0:y1, x0:x1] *= 1.0 - alpha * tint
    return (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1)


def lay_centred(
    card: Array, mask: Array, centre: tuple[float, float], colour: Colour, opacity: float = 1.0
) -> tuple[int, int, int, int] | None:
    mh, mw = mask.shape
    return lay(card, mask, round(centre[0] - mw / 2), round(centre[1] - mh / 2), colour, opacity)


def speckle(shape: tuple[int, int], rng: np.random.Generator, grain: float = 3.0) -> Array:
    """Uneven ink: a smooth 0.55..1 field, worn in patches as a hand stamp prints."""
    small = rng.random((max(2, int(shape[0] / grain / 4)), max(2, int(shape[1] / grain / 4))))
    field = cv2.resize(small.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    fine = rng.random(shape).astype(np.float32)
    return np.clip(0.55 + 0.35 * field + 0.25 * fine, 0.0, 1.0)
