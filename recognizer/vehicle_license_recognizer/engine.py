"""The offline recognizer: RapidOCR (PP-OCR ONNX models shipped in its wheel) on the CPU, then
label-anchored extraction. Image bytes in; the upstream's 20 fields, or None (5021), out."""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass
from typing import Any

from vehicle_license_intake.ports import Deadline, ImagePayload, Recognition
from vehicle_license_intake.upstream.errors import UpstreamRejectedImage
from vehicle_license_recognizer.extraction import Extraction, Line, extract
from vehicle_license_recognizer.seal import read_authority

MIN_LABELS = 3  # fewer labels than this in every orientation: not a license
MAX_SIDE = 1280  # larger photos are scaled down first: detection gains little, memory and time grow


@dataclass
class LocalResult:
    extraction: Extraction
    rotation: int
    seconds: float


class LocalRecognizer:
    """Thread-safe; the OCR engine is loaded once per process, on first use."""

    name = "offline recognizer (RapidOCR, on this machine)"
    source = "local"

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    def read_license(self, image: bytes) -> Recognition | None:
        """Behind the upstream's HTTP contract (`serve`, the demo): None answers 5021."""
        result = self.read(image)
        if result is None:
            return None
        extraction = result.extraction
        return Recognition(extraction.fields, source=self.source, confidence=extraction.confidence)

    def recognize(self, payload: ImagePayload, deadline: Deadline) -> Recognition:
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
        import numpy as np
        from PIL import Image, ImageOps

        started = time.perf_counter()
        try:
            picture = ImageOps.exif_transpose(Image.open(io.BytesIO(image)))
        except Exception:
            return None
        picture = picture.convert("RGB")
        full_resolution = np.asarray(picture)  # the seal's small text needs every pixel
        if max(picture.size) > MAX_SIDE:
            picture.thumbnail((MAX_SIDE, MAX_SIDE))
        # Red seal ink is near-white in the red channel; black print stays black.
        rgb = np.asarray(picture)
        red = rgb[:, :, 0]
        best: LocalResult | None = None
        untried = [0, 90, 270, 180]  # phone photos are more often sideways than upside down
        while untried:
            rotation = untried.pop(0)
            rotated = np.ascontiguousarray(np.rot90(red, k=rotation // 90)) if rotation else red
            extraction = extract(self._lines(np.stack([rotated] * 3, axis=-1)))
            if best is None or (extraction.valid_fields, extraction.labels_found) > (
                best.extraction.valid_fields,
                best.extraction.labels_found,
            ):
                best = LocalResult(extraction, rotation, 0.0)
            if _complete(best.extraction):
                break
            if rotation == 0 and extraction.labels_found >= MIN_LABELS:
                # labels read upright but their values do not fit: the page is upside down
                untried = [180, 90, 270]
        assert best is not None
        if best.extraction.labels_found < MIN_LABELS:
            return None
        if best.extraction.page in ("main", "both"):
            upright = np.ascontiguousarray(np.rot90(full_resolution, k=best.rotation // 90))
            authority = read_authority(upright, self._read_line)
            if authority is not None:
                best.extraction.fields["license_issuing_authority"] = authority[0]
                best.extraction.confidence["license_issuing_authority"] = authority[1]
        best.seconds = time.perf_counter() - started
        return best

    def _read_line(self, pixels: Any) -> tuple[str, float] | None:
        """Recognition only (no detection): the whole image is one line of text."""
        output = self._ocr()(pixels, use_det=False, use_cls=False)
        if not output.txts:
            return None
        return "".join(output.txts), float(min(output.scores))

    def _lines(self, pixels: Any) -> list[Line]:
        output = self._ocr()(pixels, use_det=True, use_cls=True, use_rec=True)
        if output.boxes is None:
            return []
        return [
            Line(str(text), tuple((float(x), float(y)) for x, y in box), float(score))  # type: ignore[arg-type]
            for box, text, score in zip(output.boxes, output.txts, output.scores, strict=True)
        ]

    def _ocr(self) -> Any:
        with self._lock:
            if self._engine is None:
                import logging

                from rapidocr import RapidOCR

                self._engine = RapidOCR(params={"Global.log_level": "error"})
                logging.getLogger("RapidOCR").setLevel(logging.ERROR)
            return self._engine


def _complete(extraction: Extraction) -> bool:
    """Every label found gave a value in its field's format: no other orientation can do better."""
    return (
        extraction.labels_found >= MIN_LABELS + 2 and extraction.valid_fields >= extraction.labels_found - 1
    )


def _download(url: str) -> bytes:
    import requests

    response = requests.get(url, timeout=(3.05, 30))
    response.raise_for_status()
    return response.content
