"""The offline recognizer: RapidOCR (PP-OCR ONNX models shipped in its wheel) on the CPU, aligned
to the printed form. Image bytes in; the upstream's 20 fields with each field's confidence and box,
or None (5021), out.

One pass per image: the photo is scaled down first (detection gains nothing above MAX_SIDE, time
and memory grow), text is detected once and the page turned upright from that detection
(ocr.py), the lines are read on the red channel (red stamp ink turns near-white, so digits under
the stamp read cleanly), the fields are extracted page by page (extraction.py), and the stamp is
read from the colour image where the form prints it (stamp.py).
"""

from __future__ import annotations

import io
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vehicle_license_intake.domain.plate import PROVINCES, plate_kind
from vehicle_license_intake.ports import Deadline, ImagePayload, Recognition
from vehicle_license_intake.upstream.errors import UpstreamRejectedImage
from vehicle_license_recognizer.chinese import to_simplified
from vehicle_license_recognizer.extraction import (
    FIELD_CHECKS,
    REPAIRED,
    WHOLE_FORMATS,
    Extraction,
    _any,
    calibrated,
    contradicted_masses,
    extract,
    plate_with_province,
    plate_without_sub_label_letter,
    read_whole,
    registration_province,
    unbalanced_masses,
)
from vehicle_license_recognizer.form import PAGES
from vehicle_license_recognizer.memory import release_freed_memory
from vehicle_license_recognizer.ocr import (
    Bounds,
    Budget,
    Line,
    OcrEngine,
    Point,
    Quad,
    Reading,
    _shared,
    bounds,
    rotate_point,
)
from vehicle_license_recognizer.places import place_of_address
from vehicle_license_recognizer.stamp import read_stamp

MIN_LABELS = 3  # fewer of the form's labels than this: not a vehicle license
MAX_SIDE = 1600  # larger photos are scaled down first
# Other cards that share some of the license's labels (住址, 车辆类型, …): answered 5021.
OTHER_DOCUMENTS = re.compile(r"驾驶证|驾驶执照|driv(ing|er'?s?)licen|登记证书|身份证|准驾车型|初次领证")
VEHICLE_LICENSE = re.compile(r"行驶证|vehiclelicen")


@dataclass
class LocalResult:
    extraction: Extraction
    rotation: int  # degrees the photo was turned (counter-clockwise) to read it upright
    seconds: float
    boxes: dict[str, list[int]]  # [x0, y0, x1, y1] on the image as uploaded (EXIF applied)


class LocalRecognizer:
    """Thread-safe; the OCR models are loaded once per process, on first use."""

    name = "offline recognizer (RapidOCR, on this machine)"
    source = "local"

    def __init__(self, runtime: str | None = None) -> None:
        """`runtime`: what runs the models (ocr.RUNTIMES; by default ocr.configured_runtime())."""
        self._ocr = OcrEngine(runtime)

    def read_license(self, image: bytes) -> Recognition | None:
        """Behind the upstream's HTTP contract (`serve`, the demo): None answers 5021."""
        result = self.read(image)
        if result is None:
            return None
        extraction = result.extraction
        return Recognition(
            extraction.fields, source=self.source, confidence=extraction.confidence, boxes=result.boxes
        )

    def recognize(self, payload: ImagePayload, deadline: Deadline, *, may_defer: bool = False) -> Recognition:
        """In the function (OCR_PROVIDER=local), where the upstream client would be."""
        image = payload.image if payload.image is not None else _download(payload.url or "")
        recognition = self.read_license(bytes(image))
        if recognition is None:
            raise UpstreamRejectedImage(
                "the offline recognizer found no vehicle license in the image", code=5021
            )
        return recognition

    # -- recognition ------------------------------------------------------------------------
    def read(self, image: bytes) -> LocalResult | None:
        try:
            return self._read(image)
        finally:
            release_freed_memory()  # the image's arrays are freed: give the pages back

    def _read(self, image: bytes) -> LocalResult | None:
        import numpy as np

        started = time.perf_counter()
        decoded = _decode(image)
        if decoded is None:
            return None
        rgb, scale, original_size = decoded
        red = rgb[:, :, 0]  # red stamp ink is near-white here; black print stays black
        grey = np.stack([red] * 3, axis=-1)
        reading = self._ocr.read(grey)
        if _other_document(reading.lines):
            return None
        extraction = extract(reading.lines)
        if extraction.labels_found < MIN_LABELS and reading.partial:
            # too few labels where the small copy found text (a blurred photo, faint print):
            # the whole photo is detected before it is answered as no license
            reading = self._ocr.read(grey, whole=True)
            if _other_document(reading.lines):
                return None
            extraction = extract(reading.lines)
        if extraction.labels_found < MIN_LABELS:
            return None
        budget = Budget(REREAD_BUDGET)
        extraction = _reread_missing(extraction, reading, self._ocr, budget)
        turns = reading.quarter_turns
        upright = np.ascontiguousarray(np.rot90(rgb, k=turns)) if turns else rgb
        _reread_cut(extraction, reading, upright, self._ocr, budget)
        if extraction.page in ("main", "both"):
            plate = extraction.fields.get("plate_number", "")
            province = PROVINCES.get(plate[:1]) if plate else None
            home = place_of_address(extraction.fields.get("address", ""))
            stamp = read_stamp(upright, extraction.fits.get("main"), self._ocr, province, home)
            if stamp is not None:
                extraction.fields["license_issuing_authority"] = stamp.authority
                extraction.confidence["license_issuing_authority"] = round(stamp.confidence, 3)
                # A box is where the value was read; a stamp found only by growing its red region
                # over most of the photo has no place worth showing.
                x0, y0, x1, y1 = bounds(stamp.box)
                if (x1 - x0) * (y1 - y0) <= MAX_STAMP_SHARE * upright.shape[0] * upright.shape[1]:
                    extraction.boxes["license_issuing_authority"] = stamp.box
        _plate_without_sub_label_letter(extraction)
        _plate_province_from_others(extraction)
        height, width = rgb.shape[:2]
        boxes = {
            name: _to_original(quad, turns, width, height, scale, original_size)
            for name, quad in extraction.boxes.items()
            if extraction.fields.get(name)
        }
        for name in unbalanced_masses(extraction.fields):  # masses that do not add up: a look
            extraction.confidence[name] = min(extraction.confidence.get(name, 1.0), REPAIRED)
        extraction.confidence = {
            name: round(calibrated(name, score) if extraction.fields.get(name) else score, 3)
            for name, score in extraction.confidence.items()
        }
        return LocalResult(extraction, 90 * turns, time.perf_counter() - started, boxes)


# The most of the photo a stamp's box may cover (a real stamp is a few per cent of a page).
MAX_STAMP_SHARE = 0.15


# Fields not re-read: not-applicable marks are rarely detected at all, the authority is the
# stamp's. A value printed off its label's row (the inspection record, in its stamp box) is
# re-read where the form prints it.
NOT_REREAD = frozenset({"ratified_load_capacity", "traction_mass", "remarks"})
SAME_LINE = 0.5  # a line re-detected over one already read (this much of their union shared)
INSIDE = 0.6  # or this much of the smaller of the two inside the other
# Readings of value regions one photo may make (each a detection and a recognition, 0.1-0.3 s):
# every place read as it is before any is read another way, the glare's re-reads after. A photo of
# both pages, small, with glare and a banner left 28; on both seeds 12 cost 1 field in 8295.
REREAD_BUDGET = 12
REREAD_MARGIN = 0.03  # card heights above and below the label's row (values printed off the row)


def _reread_missing(extraction: Extraction, reading: Reading, ocr: OcrEngine, budget: Budget) -> Extraction:
    """A field whose label was read (or placed from the form) but that got no value, or one that
    fails its format: its value's place on the form is detected again on its own. The page's
    detection merges a value printed over a neighbouring line (the vehicle type or the plate under
    the title's English line) or misses a faint one; detected alone, the region gives it back.
    A mass the other contradicts (a total no greater than the curb weight: a digit lost) is read
    again too. A field takes what the second extraction finds only when it was empty, or failed its
    format (or contradicted) and the new value passes it (and no longer does). The readings come
    from the photo's `budget` (REREAD_BUDGET), which the glare's re-reads share."""
    contradicted = contradicted_masses(extraction.fields)

    def wanted(name: str) -> bool:
        value = extraction.fields.get(name, "")
        if name in NOT_REREAD:
            return False
        return not value or not FIELD_CHECKS.get(name, _any)(value) or name in contradicted

    regions: list[tuple[str, Quad]] = []
    for page, fit in extraction.fits.items():
        for label in PAGES[page]:
            if label.value_box is not None and wanted(label.field):
                # printed with the form: not moved
                regions.append((label.field, fit.quad(label.value_box)))
            elif wanted(label.field):
                # where the form prints the value, moved by the page's print offset
                dx, dy = extraction.shifts.get(page, (0.0, 0.0))
                x0, x1 = label.value_span[0] + dx, label.value_span[1] + dx
                y0, y1 = label.box[1] + dy - REREAD_MARGIN, label.box[3] + dy + REREAD_MARGIN
                regions.append((label.field, fit.quad((x0, y0, x1, y1))))
    if not regions:
        return extraction
    read = ocr.read_regions(reading.upright, [(quad, _whole(name)) for name, quad in regions], budget)
    added = [line for lines in read for line in lines]
    if not added:
        return extraction
    again = extract([*_not_read_again(reading.lines, added), *added])
    for name, value in again.fields.items():
        if not value or name not in again.confidence or not wanted(name):
            continue
        check = FIELD_CHECKS.get(name, _any)
        if extraction.fields.get(name) and not check(value):
            continue
        if name in contradicted and name in contradicted_masses({**extraction.fields, name: value}):
            continue
        extraction.fields[name] = value
        extraction.confidence[name] = again.confidence[name]
        if name in again.boxes:
            extraction.boxes[name] = again.boxes[name]
    return extraction


# A value whose row runs on into a glare band may have lost its end there: the detector stops
# where the print fades (an engine number 8EWBGV4B, printed 8EWBGV4BML3B, read at 1.0).
GLARE = 245  # brightness in every channel of the colour photo that counts as washed out
GLARE_SHARE = 0.5  # this much of the strip after the value washed out: it is read again
GLARE_STRIP = 2.0  # value heights: the strip after the value that is looked at
CUT_EXTENT = 4.0  # value heights: how far along its row the value is read again
CUT_MARGIN = 0.25  # value heights above and below
NOT_CUT = NOT_REREAD | {"license_issuing_authority"}
FADED_MIN = 3  # characters a value needs before its last may be taken for a faded fragment


def _whole(name: str) -> Callable[[list[Line]], bool] | None:
    """Whether a region's lines hold the field's whole value by its format: the region's other
    readings (with contrast, with the light flattened) are then not needed. None for a field no
    reading can be known whole by (WHOLE_FORMATS)."""
    if name not in WHOLE_FORMATS:
        return None
    return lambda lines: any(read_whole(name, line.text) for line in lines)


def _not_read_again(lines: list[Line], added: list[Line]) -> list[Line]:
    """The lines no line read again was read over: a line read again replaces the one it shares
    most of their union with, and any line lying mostly inside it (read again, it may be whole;
    kept, a piece of it would be joined to it twice: 长安牌FD6520FD6520)."""
    return [
        line
        for line in lines
        if not any(
            _overlap(bounds(line.box), bounds(new.box)) > SAME_LINE or _shared(line.box, new.box) > INSIDE
            for new in added
        )
    ]


def _reread_cut(
    extraction: Extraction, reading: Reading, colour: Any, ocr: OcrEngine, budget: Budget
) -> None:
    """Each value whose row continues into washed-out print is read again along its row, as
    `read_regions` reads (with the light flattened, the glare's print is dark again). The longer
    reading replaces the value when it holds the value whole and adds what the value does not
    already hold (a repeated piece is two readings of one print, not more of it), and passes the
    field's format; it is reported below 0.80 (print read through glare asks for a look). The
    value's last character, read where the print began to fade, may be a fragment of what follows
    (8EWBGV4BN for 8EWBGV4BML3B): a longer reading holding all of the value but its last
    character holds the value too."""
    for name, quad in list(extraction.boxes.items()):
        value = extraction.fields.get(name, "")
        if name in NOT_CUT or not value or _washed_out_after(colour, quad) < GLARE_SHARE:
            continue
        (added,) = ocr.read_regions(
            reading.upright, [(_along_row(quad, CUT_EXTENT, CUT_MARGIN), None)], budget
        )
        if not added:
            continue
        again = extract([*_not_read_again(reading.lines, added), *added])
        longer = again.fields.get(name, "")
        if len(longer) > len(value) and longer.startswith(value):
            more = longer[len(value) :]
        elif len(longer) > len(value) and longer.endswith(value):
            more = longer[: -len(value)]
        elif len(value) > FADED_MIN and len(longer) > len(value) and longer.startswith(value[:-1]):
            more = longer[len(value) - 1 :]
        else:
            continue
        if more in value or not FIELD_CHECKS.get(name, _any)(longer):
            continue
        extraction.fields[name] = longer
        confidence = min(extraction.confidence.get(name, 1.0), again.confidence.get(name, 0.0), REPAIRED)
        extraction.confidence[name] = confidence
        if name in again.boxes:
            extraction.boxes[name] = again.boxes[name]


def _row_axes(quad: Quad) -> tuple[float, Point, Point]:
    """(height, unit vector along the row, unit vector down it) of a value's box."""
    (x0, y0), (x1, y1), _, (x3, y3) = quad
    height = max(1.0, math.hypot(x3 - x0, y3 - y0))
    length = max(1.0, math.hypot(x1 - x0, y1 - y0))
    return height, ((x1 - x0) / length, (y1 - y0) / length), ((x3 - x0) / height, (y3 - y0) / height)


def _washed_out_after(image: Any, quad: Quad) -> float:
    """The share of the strip after the box (GLARE_STRIP heights long, as high as the box) at
    GLARE or brighter in every colour channel (white: a pale pink or blue card is not)."""
    import cv2
    import numpy as np

    height, (ax, ay), _ = _row_axes(quad)
    _, (x1, y1), (x2, y2), _ = quad
    reach = (ax * GLARE_STRIP * height, ay * GLARE_STRIP * height)
    strip = np.array(
        [(x1, y1), (x1 + reach[0], y1 + reach[1]), (x2 + reach[0], y2 + reach[1]), (x2, y2)], np.int32
    )
    # only the strip's rectangle of the photo is looked at (this runs for every value read)
    rows, columns = image.shape[:2]
    left, top = max(0, int(strip[:, 0].min())), max(0, int(strip[:, 1].min()))
    right, bottom = min(columns, int(strip[:, 0].max()) + 1), min(rows, int(strip[:, 1].max()) + 1)
    if right <= left or bottom <= top:
        return 0.0
    mask = np.zeros((bottom - top, right - left), np.uint8)
    cv2.fillPoly(mask, [strip - np.array([left, top], np.int32)], 1)
    values = image[top:bottom, left:right][mask > 0].min(axis=1)
    return float((values >= GLARE).mean()) if values.size else 0.0


def _along_row(quad: Quad, extent: float, margin: float) -> Quad:
    """The box grown `extent` heights further along its row, `margin` heights above and below."""
    height, (ax, ay), (dx, dy) = _row_axes(quad)
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    far, up = (ax * extent * height, ay * extent * height), (dx * margin * height, dy * margin * height)
    return (
        (x0 - up[0], y0 - up[1]),
        (x1 + far[0] - up[0], y1 + far[1] - up[1]),
        (x2 + far[0] + up[0], y2 + far[1] + up[1]),
        (x3 + up[0], y3 + up[1]),
    )


def _plate_without_sub_label_letter(extraction: Extraction) -> None:
    stripped = plate_without_sub_label_letter(extraction.fields.get("plate_number", ""))
    if stripped is not None:
        _repaired_plate(extraction, stripped)


def _repaired_plate(extraction: Extraction, plate: str) -> None:
    """The plate a rule restored, asking for a look."""
    extraction.fields["plate_number"] = plate
    extraction.confidence["plate_number"] = min(extraction.confidence.get("plate_number", 1.0), REPAIRED)


def _plate_province_from_others(extraction: Extraction) -> None:
    """A plate whose province character was lost or misread (油 for 渝, a label's 码) takes the
    province that registered the vehicle: the authority's (the stamp), else the address's. The
    plate must then pass its format; the repair asks for a look."""
    plate = extraction.fields.get("plate_number", "")
    if not plate or plate_kind(plate.upper()) != "unknown":
        return
    letter = registration_province(extraction.fields, ("license_issuing_authority", "address"))
    repaired = plate_with_province(plate, letter) if letter else None
    if repaired is not None:
        _repaired_plate(extraction, repaired)


def _overlap(a: Bounds, b: Bounds) -> float:
    """Intersection over union of two boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    common = width * height
    return common / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - common)


def _decode(image: bytes) -> tuple[Any, float, tuple[int, int]] | None:
    """(RGB array no larger than MAX_SIDE, its scale to the image as uploaded, that image's size)."""
    import numpy as np
    from PIL import Image, ImageOps

    try:
        opened = Image.open(io.BytesIO(image))
        original = opened.size
        # a JPEG decodes straight at a fraction of its size: a 4000 px photo costs no 4000 px array
        opened.draft("RGB", (MAX_SIDE, MAX_SIDE))
        ImageOps.exif_transpose(opened, in_place=True)  # no copy of a photo that needs no turn
        picture = opened.convert("RGB")
    except Exception:
        return None
    exif_turned = picture.size[0] < picture.size[1] and original[0] > original[1]
    exif_turned |= picture.size[0] > picture.size[1] and original[0] < original[1]
    size = (original[1], original[0]) if exif_turned else original
    if max(picture.size) > MAX_SIDE:
        picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
    scale = picture.size[0] / size[0]
    return np.asarray(picture), scale, size


def _other_document(lines: list[Line]) -> bool:
    """Another card's title or labels, and no vehicle license's title."""
    text = to_simplified("".join(line.text for line in lines)).replace(" ", "").lower()
    return bool(OTHER_DOCUMENTS.search(text)) and not VEHICLE_LICENSE.search(text)


def _to_original(
    quad: Quad, turns: int, width: int, height: int, scale: float, size: tuple[int, int]
) -> list[int]:
    """A box on the upright, scaled image as [x0, y0, x1, y1] on the image as uploaded."""
    # the upright image is the scaled one turned `turns` times; turning back is 4 - turns more
    upright_size = (height, width) if turns % 2 else (width, height)
    points = [rotate_point(p, (4 - turns) % 4, *upright_size) for p in quad]
    xs = [min(size[0], max(0.0, p[0] / scale)) for p in points]
    ys = [min(size[1], max(0.0, p[1] / scale)) for p in points]
    return [int(min(xs)), int(min(ys)), round(max(xs)), round(max(ys))]


def _download(url: str) -> bytes:
    import requests

    response = requests.get(url, timeout=(3.05, 30))
    response.raise_for_status()
    return response.content
