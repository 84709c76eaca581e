"""Aligning what was read to the printed form (form.py): which page is where, and where the labels
that were not read must be.

Labels, English sub-labels and the title are printed at fixed places on each page. Those that were
read are anchors: each page's map from card to image is the affine transform most anchors agree
on (every triple tried, the best refitted on its inliers), so one misread or misplaced label does
not move it. A page is accepted only when at least four anchors spread over the card agree; a
photo of both pages then gets each page's region, and a label too faint to read gets its printed
place on the image.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from vehicle_license_recognizer.form import (
    CARD_MM,
    PAGES,
    TITLE,
    TITLE_BOX,
    Box,
    FormLabel,
)
from vehicle_license_recognizer.ocr import Line, Point, Quad

INLIER_MM = 3.5  # an anchor this far from where the transform puts it disagrees
MIN_INLIERS = 4
MIN_SPREAD_MM = (25.0, 18.0)  # the agreeing anchors span this much of the card, across and down
# A sane card -> image transform (`_sane`, `_best_triple`): its scales across and down within this
# ratio of each other, and its axes this near perpendicular (|cos| of the angle between them).
ASPECT = (0.6, 1.6)
SKEW = 0.3


@dataclass(frozen=True)
class Anchor:
    page: str | None  # None: printed on both pages (the plate's label)
    card: Point  # in millimetres on the card
    image: Point


Affine = tuple[float, float, float, float, float, float]  # x' = a x + b y + c ; y' = d x + e y + f


@dataclass(frozen=True)
class PageFit:
    page: str
    affine: Affine
    inliers: int

    def to_image(self, point: Point) -> Point:
        a, b, c, d, e, f = self.affine
        x, y = point
        return (a * x + b * y + c, d * x + e * y + f)

    def to_card(self, point: Point) -> Point:
        a, b, c, d, e, f = self.affine
        det = a * e - b * d
        x, y = point[0] - c, point[1] - f
        return ((e * x - b * y) / det, (-d * x + a * y) / det)

    def quad(self, box: Box) -> Quad:
        """A box in normalised card units, on the image."""
        x0, y0, x1, y1 = (box[0] * CARD_MM[0], box[1] * CARD_MM[1], box[2] * CARD_MM[0], box[3] * CARD_MM[1])
        return (
            self.to_image((x0, y0)),
            self.to_image((x1, y0)),
            self.to_image((x1, y1)),
            self.to_image((x0, y1)),
        )

    def contains(self, point: Point, margin: float = 0.04) -> bool:
        x, y = self.to_card(point)
        return (
            -margin * CARD_MM[0] <= x <= (1 + margin) * CARD_MM[0]
            and -margin * CARD_MM[1] <= y <= (1 + margin) * CARD_MM[1]
        )

    def card_point(self, point: Point) -> Point:
        """A point of the image in normalised card units."""
        x, y = self.to_card(point)
        return (x / CARD_MM[0], y / CARD_MM[1])


def mm(box: Box) -> Point:
    return ((box[0] + box[2]) / 2 * CARD_MM[0], (box[1] + box[3]) / 2 * CARD_MM[1])


def label_pages(chinese: str) -> list[tuple[str, FormLabel]]:
    return [(page, label) for page, labels in PAGES.items() for label in labels if label.chinese == chinese]


def english_label(text: str) -> list[tuple[str, FormLabel]]:
    """The form's English sub-labels this line is (several when pages share one)."""
    from vehicle_license_recognizer.extraction import edit_distance_at_most_one

    lowered = re.sub(r"[^a-z]", "", text.lower())
    if len(lowered) < 3 or re.search(r"[0-9\u4e00-\u9fff]", text):
        return []
    found = []
    for page, labels in PAGES.items():
        for label in labels:
            if label.english_box is None:
                continue
            wanted = re.sub(r"[^a-z]", "", label.english.lower())
            if lowered == wanted or edit_distance_at_most_one(lowered, wanted):
                found.append((page, label))
    return found


def anchors_of(labels: Sequence[tuple[str, Line, float]], lines: Sequence[Line]) -> list[Anchor]:
    """Anchors from the labels found (label text, its line, the fraction of the line it covers),
    the English sub-labels and the title."""
    anchors: list[Anchor] = []
    for chinese, line, fraction in labels:
        image = _part_center(line, 0.0, fraction)
        places = label_pages(chinese)
        if len(places) == 1:
            anchors.append(Anchor(places[0][0], mm(places[0][1].box), image))
        elif places:
            # the plate's label: its place differs between pages, each is tried
            anchors.extend(Anchor(page, mm(label.box), image) for page, label in places)
    for line in lines:
        text = re.sub(r"\s+", "", line.text)
        if _is_title(text):
            (x0, y0), (x1, y1), (x2, y2), (x3, y3) = line.box
            middle = TITLE_BOX[1] + TITLE_BOX[3]
            anchors.append(
                Anchor(
                    "main",
                    (TITLE_BOX[0] * CARD_MM[0], middle / 2 * CARD_MM[1]),
                    ((x0 + x3) / 2, (y0 + y3) / 2),
                )
            )
            anchors.append(
                Anchor(
                    "main",
                    (TITLE_BOX[2] * CARD_MM[0], middle / 2 * CARD_MM[1]),
                    ((x1 + x2) / 2, (y1 + y2) / 2),
                )
            )
            continue
        for page, label in english_label(line.text):
            assert label.english_box is not None
            anchors.append(Anchor(page, mm(label.english_box), line.center))
    return anchors


def _is_title(text: str) -> bool:
    if len(text) < len(TITLE) - 2 or len(text) > len(TITLE) + 1:
        return False
    return sum(1 for a, b in zip(text, TITLE, strict=False) if a == b) >= len(TITLE) - 3


def _part_center(line: Line, start: float, end: float) -> Point:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = line.box
    middle = (start + end) / 2
    top = (x0 + (x1 - x0) * middle, y0 + (y1 - y0) * middle)
    bottom = (x3 + (x2 - x3) * middle, y3 + (y2 - y3) * middle)
    return ((top[0] + bottom[0]) / 2, (top[1] + bottom[1]) / 2)


def fit_pages(anchors: Sequence[Anchor]) -> dict[str, PageFit]:
    fits: dict[str, PageFit] = {}
    for page in PAGES:
        own = [a for a in anchors if a.page == page]
        fit = _fit(own)
        if fit is not None:
            fits[page] = PageFit(page, *fit)
    if len(fits) == 2 and _overlap(fits["main"], fits["secondary"]):
        # one card read as both: keep the page more anchors agree on
        weaker = min(fits, key=lambda p: fits[p].inliers)
        del fits[weaker]
    return fits


def _overlap(a: PageFit, b: PageFit) -> bool:
    centre = b.to_image((CARD_MM[0] / 2, CARD_MM[1] / 2))
    return a.contains(centre, margin=-0.1)


def _solve(pairs: Sequence[Anchor]) -> Affine | None:
    """Least-squares affine transform card -> image."""
    n = len(pairs)
    sx = sum(a.card[0] for a in pairs) / n
    sy = sum(a.card[1] for a in pairs) / n
    ix = sum(a.image[0] for a in pairs) / n
    iy = sum(a.image[1] for a in pairs) / n
    sxx = sum((a.card[0] - sx) ** 2 for a in pairs)
    syy = sum((a.card[1] - sy) ** 2 for a in pairs)
    sxy = sum((a.card[0] - sx) * (a.card[1] - sy) for a in pairs)
    det = sxx * syy - sxy * sxy
    if abs(det) < 1e-6:
        return None
    result: list[float] = []
    for k, mean in ((0, ix), (1, iy)):
        bx = sum((a.card[0] - sx) * (a.image[k] - mean) for a in pairs)
        by = sum((a.card[1] - sy) * (a.image[k] - mean) for a in pairs)
        p = (syy * bx - sxy * by) / det
        q = (sxx * by - sxy * bx) / det
        result.extend((p, q, mean - p * sx - q * sy))
    return (result[0], result[1], result[2], result[3], result[4], result[5])


def _sane(affine: Affine) -> bool:
    a, b, _, d, e, _ = affine
    sx, sy = math.hypot(a, d), math.hypot(b, e)
    if sx <= 0 or sy <= 0 or not ASPECT[0] < sx / sy < ASPECT[1]:
        return False
    # the card's axes stay near perpendicular and the card is not mirrored
    return abs(a * b + d * e) / (sx * sy) < SKEW and a * e - b * d > 0


def _best_triple(anchors: Sequence[Anchor]) -> tuple[int, float, Affine, list[Anchor]] | None:
    """(distinct anchors agreeing, their mean distance in mm, the transform, those anchors) of the
    triple whose transform most anchors agree with, the nearer first: every triple of anchors
    solved at once (a photo of both pages has 20-30 anchors, thousands of triples), as `_solve`
    and `_sane` do one by one."""
    import numpy as np

    card = np.array([a.card for a in anchors], np.float64)
    image = np.array([a.image for a in anchors], np.float64)
    triples = np.array(list(itertools.combinations(range(len(anchors)), 3)), np.intp)
    tc, ti = card[triples], image[triples]  # (triples, 3, 2)
    sx, sy = tc[:, :, 0].mean(axis=1), tc[:, :, 1].mean(axis=1)
    ux, uy = tc[:, :, 0] - sx[:, None], tc[:, :, 1] - sy[:, None]
    sxx, syy, sxy = (ux * ux).sum(axis=1), (uy * uy).sum(axis=1), (ux * uy).sum(axis=1)
    det = sxx * syy - sxy * sxy
    solvable = np.abs(det) >= 1e-6
    det = np.where(solvable, det, 1.0)
    coefficients = []
    for k in (0, 1):
        mean = ti[:, :, k].mean(axis=1)
        vk = ti[:, :, k] - mean[:, None]
        bx, by = (ux * vk).sum(axis=1), (uy * vk).sum(axis=1)
        p = (syy * bx - sxy * by) / det
        q = (sxx * by - sxy * bx) / det
        coefficients += [p, q, mean - p * sx - q * sy]
    a, b, c, d, e, f = coefficients
    scale_x, scale_y = np.hypot(a, d), np.hypot(b, e)
    with np.errstate(divide="ignore", invalid="ignore"):
        sane = (
            solvable
            & (scale_x > 0)
            & (scale_y > 0)
            & (scale_x / scale_y > ASPECT[0])
            & (scale_x / scale_y < ASPECT[1])
            & (np.abs(a * b + d * e) / (scale_x * scale_y) < SKEW)
            & (a * e - b * d > 0)
        )
    if not sane.any():
        return None
    keep = np.flatnonzero(sane)
    a, b, c, d, e, f = (v[keep] for v in (a, b, c, d, e, f))
    scale = np.sqrt(np.abs(a * e - b * d))  # pixels per mm
    x, y = card[:, 0][None, :], card[:, 1][None, :]
    residual = np.hypot(
        a[:, None] * x + b[:, None] * y + c[:, None] - image[:, 0][None, :],
        d[:, None] * x + e[:, None] * y + f[:, None] - image[:, 1][None, :],
    )
    agree = residual <= (INLIER_MM * scale)[:, None]
    # anchors at one printed place (a label read twice) count once
    _, place = np.unique(card, axis=0, return_inverse=True)
    places = np.zeros((len(anchors), int(place.max()) + 1))
    places[np.arange(len(anchors)), place.ravel()] = 1
    count = ((agree @ places) > 0).sum(axis=1)
    error = np.where(agree, residual, 0.0).sum(axis=1) / scale
    most = count == count.max()
    chosen = int(np.flatnonzero(most)[np.argmin(error[most])])  # the first of the nearest
    affine = (
        float(a[chosen]),
        float(b[chosen]),
        float(c[chosen]),
        float(d[chosen]),
        float(e[chosen]),
        float(f[chosen]),
    )
    inliers = [anchor for anchor, agreed in zip(anchors, agree[chosen], strict=True) if agreed]
    return int(count[chosen]), float(-error[chosen]), affine, inliers


def _fit(anchors: Sequence[Anchor]) -> tuple[Affine, int] | None:
    if len(anchors) < MIN_INLIERS:
        return None
    best = _best_triple(anchors)
    if best is None or best[0] < MIN_INLIERS:
        return None
    inliers = best[3]
    xs = [a.card[0] for a in inliers]
    ys = [a.card[1] for a in inliers]
    if max(xs) - min(xs) < MIN_SPREAD_MM[0] or max(ys) - min(ys) < MIN_SPREAD_MM[1]:
        return None
    refined = _solve(inliers)
    if refined is None or not _sane(refined):
        return None
    return refined, best[0]
