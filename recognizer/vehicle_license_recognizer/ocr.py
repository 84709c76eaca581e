"""Text lines from a photo with RapidOCR (PP-OCR ONNX models shipped in its wheel).

The page's orientation, and where on the photo its text is, are found from one detection of a
small copy (tall boxes: the page is sideways) and the line classifier's 0/180 votes on a few crops
of the photo itself; the page is then detected once, upright (text running down a page is grouped
into lines less well, and the detector, like the reader, was trained on upright text), and only
around the text the small copy found (a card seldom fills the photo), so lines are recognised in
one pass and their geometry reads left to right, top to bottom, whatever way the photo was taken.
No blind full-page retries.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vehicle_license_recognizer.memory import release_freed_memory

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]
Bounds = tuple[float, float, float, float]  # x0, y0, x1, y1

ORIENTATION_SAMPLE = 24  # longest boxes whose 0/180 votes decide the page's orientation
DETECT_MAX_SIDE = 1280
# A photo's orientation, and where its text is, are told from a detection of a copy this small
# (the boxes' shapes and the longest lines' crops from the photo itself decide the orientation):
# 0.1 s against 0.45 s for a detection at DETECT_MAX_SIDE, which the page then needs only once,
# upright, and only around its text (measured photo by photo against the whole detection on 110
# photos: 7 % less time in all, 34 % on upside-down photos, 1.5 % on upright ones).
ORIENTATION_SIDE = 640
REGION_MIN_BOXES = 8  # boxes on the small copy that locate the text (fewer: the photo is detected whole)
REGION_MARGIN = 0.05  # of the photo's longer side, around the text found on the small copy
REGION_MOST = 0.85  # text over more of the photo than this: the photo is detected whole


def _threads() -> int:
    """Inference threads: RECOGNIZER_THREADS, else the CPUs this process may use, at most 2.
    Measured on this 2-core machine, idle, 30 photos: 2 threads read a photo in a median 1.20 s
    (wall) against 1.90 s with 1 (for 20 % more CPU, the second thread's spinning). Where other
    processes share the cores (two recognizers, two test workers; a Lambda function of 2048 MB has
    about 1.2 vCPUs) a second thread mostly spins: set RECOGNIZER_THREADS=1 there. One engine runs
    one inference at a time (its lock), so concurrent requests to one process do not add threads."""
    configured = os.environ.get("RECOGNIZER_THREADS", "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise ValueError(f"RECOGNIZER_THREADS must be a whole number of 1 or more, not {configured!r}")
        return int(configured)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(2, usable))


THREADS = _threads()
RUNTIMES = ("onnxruntime", "openvino")


def configured_runtime() -> str:
    """What runs the models: RECOGNIZER_RUNTIME, `onnxruntime` unless set. `openvino` runs the
    detection model on OpenVINO (the `openvino` extra), in full precision, from the same ONNX
    file: measured on this machine, a detection takes a third of the time and a photo 15 % less
    at the median (seed 2026), the readings the same, but the peak memory is about 110 MB higher
    (813 against 704 MB; README, "The offline recognizer"). Recognition and the line classifier
    stay on onnxruntime: OpenVINO runs them no faster here."""
    configured = os.environ.get("RECOGNIZER_RUNTIME", "").strip().lower() or "onnxruntime"
    if configured not in RUNTIMES:
        raise ValueError(f"RECOGNIZER_RUNTIME must be one of {', '.join(RUNTIMES)}, not {configured!r}")
    return configured


# Recognition pads every line to at least REC_MIN_WIDTH pixels (RapidOCR's default, 320, is the
# width of a long line: most license lines are 2-5 characters, so most of the work was padding)
# and each batch to its widest line: small batches of similar widths waste least. Measured on the
# real samples: 40 % less CPU than 320 px in batches of 6, the same fields.
REC_MIN_WIDTH = 96
REC_BATCH = 3
REGION_HEIGHT = 96  # pixels: a value's region is re-detected at this height (about two lines)
REGION_CONTRAST = 3.0  # CLAHE's clip limit on a re-detected region
# A re-detected region is also read with its light flattened: divided by its background (the
# print closed over by a square this many pixels wide, then blurred), so print that a glare band
# washed to near-white is as dark against its background as the rest of the line.
REGION_BACKGROUND = 31
REGION_RETRY_SCALE = 2  # a region where nothing is detected is detected again this much larger
REGION_PAD = 16  # pixels of the region's own edge repeated around it (detection needs a margin)
ALTERNATIVES = 4  # runners-up kept for each character read
ALTERNATIVE_MIN = 0.01  # the least probability a runner-up needs
TALL = 1.5  # a box this much taller than wide is text running down the page (RapidOCR's own rule)


@dataclass(frozen=True)
class Line:
    """One OCR detection: its text, quadrilateral (clockwise from top-left) and score."""

    text: str
    box: Quad
    score: float
    char_scores: tuple[float, ...] = ()  # each character's probability, when known
    # each character's runners-up, most likely first (the model gave each ALTERNATIVE_MIN or
    # more where it read the character), when known
    alternatives: tuple[str, ...] = ()

    @property
    def height(self) -> float:
        (x0, y0), _, _, (x3, y3) = self.box
        return max(1.0, math.hypot(x3 - x0, y3 - y0))

    @property
    def center(self) -> Point:
        return (sum(p[0] for p in self.box) / 4, sum(p[1] for p in self.box) / 4)


@dataclass
class Budget:
    """Readings of regions one photo may still make (each a detection and a recognition)."""

    readings: int

    def take(self) -> bool:
        """Whether a reading may be made; one fewer remains if so."""
        if self.readings <= 0:
            return False
        self.readings -= 1
        return True


@dataclass
class Reading:
    """The lines of an image turned upright by `quarter_turns` counter-clockwise quarter turns."""

    lines: list[Line]
    quarter_turns: int
    upright: Any  # the upright image the lines were read on (numpy array)
    partial: bool = False  # only where the small copy found text was detected


class OcrEngine:
    """RapidOCR's three models, loaded once per process on first use, detection on `runtime` (by
    default configured_runtime()); thread-safe."""

    def __init__(self, runtime: str | None = None) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()
        self._runtime = runtime

    def _ocr(self) -> Any:
        with self._lock:
            if self._engine is None:
                from rapidocr import RapidOCR

                chosen = self._runtime or configured_runtime()
                if chosen not in RUNTIMES:
                    raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {chosen!r}")
                engine = RapidOCR(
                    params={
                        "Global.log_level": "error",
                        "EngineConfig.onnxruntime.intra_op_num_threads": THREADS,
                        "Rec.rec_batch_num": REC_BATCH,
                        "Rec.rec_img_shape": [3, 48, REC_MIN_WIDTH],
                    }
                )
                logging.getLogger("RapidOCR").setLevel(logging.ERROR)
                if chosen == "openvino":
                    _detect_on_openvino(engine)
                self._engine, self._runtime = engine, chosen
            return self._engine

    @property
    def runtime(self) -> str | None:
        """What runs the detection model (None before it is loaded, unless one was chosen)."""
        return self._runtime

    # RapidOCR's public call runs detection, classification and recognition on one image; the
    # steps are called apart here (its model loaders) to detect once and recognise the crops of
    # an image turned upright afterwards.
    def detect(self, image: Any, region: Bounds | None = None) -> list[Quad]:
        """Text boxes, found on a copy no larger than DETECT_MAX_SIDE (detection's time and memory
        grow with the pixels, and lines a few pixels high are still found there). Given the
        `region` (image coordinates) where the text is, only that part of the copy is detected, at
        the scale and on the grid of 32 pixels the whole copy would be detected at."""
        small, scale = _at_most(image, DETECT_MAX_SIDE)
        engine = self._ocr()
        if region is None:
            with self._lock:
                output = engine._load_det_model()(small)
            return _scaled_back(output.boxes, scale)
        import cv2
        import numpy as np

        # RapidOCR's own rule (a shorter side under its limit is enlarged to it, or a longer side
        # over it reduced, then both sides rounded to a multiple of 32): the size the whole copy
        # is detected at. Read under the lock: _detect_at changes the limit while it detects.
        height, width = small.shape[:2]
        with self._lock:
            detector = engine._load_det_model()
            limit, limit_type = detector.limit_side_len, detector.limit_type
        if limit_type == "max":
            enlarged = min(1.0, limit / max(height, width))
        else:
            enlarged = max(1.0, limit / min(height, width))
        full_width = max(32, round(int(width * enlarged) / 32) * 32)
        full_height = max(32, round(int(height * enlarged) / 32) * 32)
        across, down = full_width / width * scale, full_height / height * scale  # image -> grid
        x0, y0, x1, y1 = region
        left = max(0, math.floor(x0 * across / 32) * 32)
        top = max(0, math.floor(y0 * down / 32) * 32)
        right = min(full_width, math.ceil(x1 * across / 32) * 32)
        bottom = min(full_height, math.ceil(y1 * down / 32) * 32)
        if right <= left or bottom <= top:
            return []
        whole = (
            small
            if (full_width, full_height) == (width, height)
            else cv2.resize(small, (full_width, full_height))
        )
        grid = np.ascontiguousarray(whole[top:bottom, left:right])
        output = self._detect_at(grid, max(grid.shape[:2]), "max")
        if output.boxes is None:
            return []
        return [
            _ordered(tuple(((float(x) + left) / across, (float(y) + top) / down) for x, y in box))
            for box in output.boxes
        ]

    def read_regions(
        self,
        image: Any,
        regions: list[tuple[Quad, Callable[[list[Line]], bool] | None]],
        budget: Budget | None = None,
        height: int = REGION_HEIGHT,
    ) -> list[list[Line]]:
        """Text lines inside each quadrilateral of the image (a value's place on the form): a
        region is straightened to `height` pixels and detected on its own, so a value the page's
        detection merged with a neighbour (the title's English line over the vehicle type) or
        missed is found; the lines come back in the image's coordinates. Every region is read as
        it is first, then each with local contrast, then each with its light flattened; a region
        whose lines are `enough` is not read again, and each reading (a detection and a
        recognition) is taken from `budget`: none is made once it is spent, so a photo with many
        places to read again gets each read once before any is read a second way."""
        prepared = [_straightened(image, quad, height) for quad, _ in regions]
        found: list[list[Line]] = [[] for _ in regions]
        for way in range(len(REGION_WAYS)):
            for index, ((_, enough), region) in enumerate(zip(regions, prepared, strict=True)):
                if region is None or (found[index] and enough is not None and enough(found[index])):
                    continue
                if budget is not None and not budget.take():
                    return found
                straight, back = region
                for line in self._detect_and_read(REGION_WAYS[way](straight), back):
                    found[index] = _with_line(found[index], line)
        return found

    def _detect_and_read(self, region: Any, back: Any) -> list[Line]:
        """The lines of a straightened region, mapped back by the inverse transform `back`."""
        import cv2
        import numpy as np

        # no resizing beyond the network's multiple of 32: the region is already at scale
        output = self._detect_at(region, max(region.shape[:2]) + 32, "max")
        if output.boxes is None or len(output.boxes) == 0:
            # Print filling much of the region's height (a value of large type, straightened to
            # REGION_HEIGHT) can escape detection at that scale, even when sharp: enlarged, it is
            # found (the vehicle type printed against the title's English line).
            output = self._detect_at(region, REGION_RETRY_SCALE * min(region.shape[:2]), "min")
        if output.boxes is None:
            return []
        found = [_ordered(tuple((float(x), float(y)) for x, y in box)) for box in output.boxes]
        texts = self.recognize_characters([crop(region, box) for box in found])
        lines = []
        for box, (text, score, scores, runners_up) in zip(found, texts, strict=True):
            if not text.strip() or score < 0.5:
                continue
            points = cv2.perspectiveTransform(np.array([box], np.float32), back)[0]
            quad = _ordered(tuple((float(x), float(y)) for x, y in points))
            lines.append(Line(text, quad, score, scores, runners_up))
        return lines

    def _detect_at(self, image: Any, limit: int, limit_type: str) -> Any:
        """The detection model's output on an image resized by RapidOCR's rule: its larger side
        down to `limit` ("max"), or its smaller side up to it ("min")."""
        engine = self._ocr()
        with self._lock:
            detector = engine._load_det_model()
            chosen = (detector.limit_side_len, detector.limit_type)
            detector.limit_side_len, detector.limit_type = limit, limit_type
            try:
                return detector(image)
            finally:
                detector.limit_side_len, detector.limit_type = chosen

    def upside_down_votes(self, crops: list[Any]) -> tuple[int, int]:
        """(upright, upside down) among the crops, by the line classifier's confident answers."""
        if not crops:
            return 0, 0
        engine = self._ocr()
        with self._lock:
            output = engine._load_cls_model()(crops)
        upright = upside_down = 0
        for label, score in output.cls_res or []:
            if score < 0.9:
                continue
            if "180" in label:
                upside_down += 1
            else:
                upright += 1
        return upright, upside_down

    def recognize(self, crops: list[Any]) -> list[tuple[str, float]]:
        """(text, score) of each crop: the score is the least certain character's probability (the
        model's mean over a line hides one misread character among many)."""
        return [
            (text, min(scores, default=score)) for text, score, scores, _ in self.recognize_characters(crops)
        ]

    def recognize_characters(
        self, crops: list[Any]
    ) -> list[tuple[str, float, tuple[float, ...], tuple[str, ...]]]:
        """(text, mean score, each character's probability, each character's runners-up) of each
        crop. The runners-up come from the model's output per time step, which RapidOCR's decoder
        reduces to the best path: it is recorded on its way to the decoder."""
        if not crops:
            return []
        from rapidocr.ch_ppocr_rec.typings import TextRecInput

        engine = self._ocr()
        with self._lock:
            model = engine._load_rec_model()
            decoder = model.postprocess_op
            batches: list[Any] = []
            model.postprocess_op = _Recording(decoder, batches)
            try:
                output = model(TextRecInput(img=crops, return_word_box=True))
            finally:
                model.postprocess_op = decoder
        outputs = _per_crop(batches, crops, int(model.rec_batch_num))
        read = []
        for index, (text, score, words) in enumerate(
            zip(output.txts, output.scores, output.word_results, strict=True)
        ):
            confs = tuple(float(c) for c in (getattr(words, "confs", None) or ()))
            if len(confs) != len(text):
                confs = (float(score),) * len(text)
            runners_up = runners_up_of(outputs.get(index), decoder.character, str(text))
            read.append((str(text), float(score), confs, runners_up))
        return read

    def read_single_line(self, image: Any) -> tuple[str, float] | None:
        """Recognition only: the whole image is one line of text."""
        read = self.recognize([image])
        return read[0] if read and read[0][0] else None

    def read(self, image: Any, min_score: float = 0.5, whole: bool = False) -> Reading:
        """Detect, turn upright, recognise every line; `whole`: detect the whole photo, not only
        where the small copy found text."""
        import numpy as np

        height, width = image.shape[:2]
        found = self._orientation_boxes(image)  # orientation and place of the text (module doc)
        boxes, region = None, None
        if height <= width and len(found) < REGION_MIN_BOXES:
            # too little found on the small copy (small print): a landscape photo is detected
            # whole, and its orientation told from those boxes
            boxes = self.detect(image)
            turns = self._quarter_turns(image, boxes)
        else:
            turns = self._quarter_turns(image, found)
        upright = np.ascontiguousarray(np.rot90(image, k=turns)) if turns else image
        if boxes is None or turns:
            if boxes is None and not whole:
                region = _text_region(found, turns, width, height)
            boxes = self.detect(upright, region)
        crops = [crop(upright, box) for box in boxes]
        texts = self.recognize_characters(crops)
        lines = [
            Line(text, box, score, scores, runners_up)
            for box, (text, score, scores, runners_up) in zip(boxes, texts, strict=True)
            if text.strip() and score >= min_score
        ]
        return Reading(lines, turns, upright, region is not None)

    def _orientation_boxes(self, image: Any) -> list[Quad]:
        """Text boxes of a copy no larger than ORIENTATION_SIDE, in the image's coordinates."""
        small, scale = _at_most(image, ORIENTATION_SIDE)
        return _scaled_back(self._detect_at(small, max(small.shape[:2]), "max").boxes, scale)

    def _quarter_turns(self, image: Any, boxes: list[Quad]) -> int:
        """Counter-clockwise quarter turns that make the page upright (numpy's rot90 k)."""
        tall = [box for box in boxes if _side(box, 3) > TALL * _side(box, 1)]
        wide = [box for box in boxes if _side(box, 1) >= _side(box, 3)]
        sideways = sum(_side(b, 3) for b in tall) > sum(_side(b, 1) for b in wide)
        sample = sorted(tall if sideways else wide, key=lambda b: -max(_side(b, 1), _side(b, 3)))
        upright, upside_down = self.upside_down_votes(
            [crop(image, box) for box in sample[:ORIENTATION_SAMPLE]]
        )
        flipped = upside_down > upright
        if sideways:
            # RapidOCR's crop turns a tall box counter-clockwise: upright then means the text ran
            # down the page, which was turned clockwise
            return 3 if flipped else 1
        return 2 if flipped else 0


OPENVINO_SHAPES_KEPT = 20


def _detect_on_openvino(engine: Any) -> None:
    """RapidOCR's detection model (loaded by its own loader, with its steps around the model) run
    by OpenVINO from the same model file."""
    model = engine._load_det_model()
    path = getattr(model.session.session, "_model_path", None)  # onnxruntime's session's file
    if not path:
        raise RuntimeError("the detection model's file is not known: set RECOGNIZER_RUNTIME=onnxruntime")
    try:
        import openvino  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "RECOGNIZER_RUNTIME=openvino needs OpenVINO: pip install 'vehicle-license-intake[openvino]'"
        ) from error
    model.session = _OpenVinoSession(path)


class _OpenVinoSession:
    """One ONNX model compiled by OpenVINO for this CPU: called with a batch, it returns the
    model's first output, as RapidOCR's onnxruntime session does."""

    def __init__(self, path: str) -> None:
        import openvino

        self._compiled = openvino.Core().compile_model(
            path,
            "CPU",
            {
                "INFERENCE_NUM_THREADS": THREADS,
                # in full precision: the default on a CPU with bfloat16 units (the AMX of recent
                # Xeons, as on this machine) would be bfloat16, and the readings would then depend
                # on the host
                "INFERENCE_PRECISION_HINT": "f32",
                "PERFORMANCE_HINT": "LATENCY",  # one inference at a time (the engine's lock)
                "NUM_STREAMS": 1,
                # what it prepares for each input shape is kept for this many shapes (its default,
                # 5000, kept it for every page and region size: the peak memory grew with the
                # photos read, to 1387 MB over 330)
                "CPU_RUNTIME_CACHE_CAPACITY": OPENVINO_SHAPES_KEPT,
            },
        )
        self._request = self._compiled.create_infer_request()

    def __call__(self, batch: Any) -> Any:
        import numpy as np

        self._request.infer([np.ascontiguousarray(batch)])
        output = np.array(self._request.get_output_tensor().data)  # the request's buffer is reused
        # OpenVINO keeps each inference's intermediate buffers for the next (a page's detection:
        # 300 MB and more); handed back at once, the peak memory over 60 photos was 805 MB
        # against 1035 MB, for 5 % more time
        self._compiled.release_memory()
        release_freed_memory(0)
        return output


class _Recording:
    """The recognition model's decoder, recording each batch's output before decoding it."""

    def __init__(self, decoder: Any, batches: list[Any]) -> None:
        self._decoder, self._batches = decoder, batches

    def __call__(self, preds: Any, *args: Any, **kwargs: Any) -> Any:
        self._batches.append(preds)
        return self._decoder(preds, *args, **kwargs)


def _per_crop(batches: list[Any], crops: list[Any], batch_size: int) -> dict[int, Any]:
    """Each crop's output (time steps x characters): the model reads the crops in batches sorted
    by their width-to-height ratio, as RapidOCR sorts them."""
    import numpy as np

    order = np.argsort(np.array([c.shape[1] / float(c.shape[0]) for c in crops]))
    outputs: dict[int, Any] = {}
    for number, batch in enumerate(batches):
        for row in range(batch.shape[0]):
            position = number * batch_size + row
            if position < len(order):
                outputs[int(order[position])] = batch[row]
    return outputs


def runners_up_of(output: Any, characters: list[str], text: str) -> tuple[str, ...]:
    """For each character of the best path's text, the other characters the model gave at least
    ALTERNATIVE_MIN over that character's time steps, most likely first; () when the output does
    not decode to `text` (it is not the crop's)."""
    import numpy as np

    if output is None or not text:
        return ()
    best = output.argmax(axis=1)
    spans: list[tuple[int, int]] = []
    for step, index in enumerate(best):
        if index == 0:
            continue
        if step and best[step - 1] == index and spans and spans[-1][1] == step:
            spans[-1] = (spans[-1][0], step + 1)
        else:
            spans.append((step, step + 1))
    if "".join(characters[int(best[a])] for a, _ in spans) != text:
        return ()
    runners_up = []
    for a, b in spans:
        chosen = int(best[a])
        if float(output[a:b, chosen].min()) > 1 - ALTERNATIVE_MIN:
            runners_up.append("")  # every other character had less than ALTERNATIVE_MIN
            continue
        probabilities = output[a:b].max(axis=0)
        top = np.argpartition(-probabilities, ALTERNATIVES)[: ALTERNATIVES + 1]
        ranked = sorted((int(i) for i in top if int(i) not in (0, chosen)), key=lambda i: -probabilities[i])
        runners_up.append(
            "".join(characters[i] for i in ranked if probabilities[i] >= ALTERNATIVE_MIN)[:ALTERNATIVES]
        )
    return tuple(runners_up)


def _at_most(image: Any, side: int) -> tuple[Any, float]:
    """The image scaled down so that its larger side is at most `side` pixels, and that scale."""
    import cv2

    height, width = image.shape[:2]
    scale = min(1.0, side / max(height, width))
    if scale < 1.0:
        image = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return image, scale


def _scaled_back(boxes: Any, scale: float) -> list[Quad]:
    """Detected boxes of a copy at `scale`, in the image's own coordinates."""
    if boxes is None:
        return []
    return [_ordered(tuple((float(x) / scale, float(y) / scale) for x, y in box)) for box in boxes]


def _text_region(boxes: list[Quad], turns: int, width: int, height: int) -> Bounds | None:
    """Where the boxes of a width x height image are once it is turned upright, with a margin
    (print the small copy did not find beside what it found); None when too few were found to
    tell, or when they cover most of the photo anyway."""
    if len(boxes) < REGION_MIN_BOXES:
        return None
    points = [rotate_point(p, turns, width, height) for box in boxes for p in box]
    upright_width, upright_height = (height, width) if turns % 2 else (width, height)
    margin = REGION_MARGIN * max(width, height)
    x0 = max(0.0, min(p[0] for p in points) - margin)
    y0 = max(0.0, min(p[1] for p in points) - margin)
    x1 = min(float(upright_width), max(p[0] for p in points) + margin)
    y1 = min(float(upright_height), max(p[1] for p in points) + margin)
    if (x1 - x0) * (y1 - y0) > REGION_MOST * upright_width * upright_height:
        return None
    return x0, y0, x1, y1


def _three_channels(grey: Any) -> Any:
    import numpy as np

    return np.ascontiguousarray(np.stack([grey] * 3, axis=-1))


def _flattened(grey: Any) -> Any:
    """The region divided by its background, stretched so the print is black and the paper white:
    a glare band or a shadow across the line no longer changes how dark its print is."""
    import cv2
    import numpy as np

    square = cv2.getStructuringElement(cv2.MORPH_RECT, (REGION_BACKGROUND, REGION_BACKGROUND))
    background = cv2.GaussianBlur(cv2.morphologyEx(grey, cv2.MORPH_CLOSE, square), (0, 0), 8)
    flat = grey.astype(np.float32) / np.maximum(background.astype(np.float32), 1.0)
    # the darkest print to black, the paper (most of the region) to white
    darkest, paper = np.percentile(flat, 1), np.percentile(flat, 60)
    return np.clip((flat - darkest) * (255.0 / max(1e-3, paper - darkest)), 0, 255).astype(np.uint8)


def _one_in_other(a: str, b: str) -> bool:
    a, b = "".join(a.split()), "".join(b.split())
    return bool(a) and bool(b) and (a in b or b in a)


def _letters(text: str) -> int:
    return sum(1 for c in text if c.isalnum())


def _straightened(image: Any, quad: Quad, height: int) -> tuple[Any, Any] | None:
    """The quadrilateral warped to a straight strip `height` pixels high (with REGION_PAD of its
    own edge repeated around it) and the transform back to the image; None for a sliver."""
    import cv2
    import numpy as np

    top = math.hypot(quad[1][0] - quad[0][0], quad[1][1] - quad[0][1])
    side = math.hypot(quad[3][0] - quad[0][0], quad[3][1] - quad[0][1])
    if top < 8 or side < 8:
        return None
    width = max(32, round(top * height / side))
    pad = REGION_PAD
    target = np.array(
        [[pad, pad], [pad + width, pad], [pad + width, pad + height], [pad, pad + height]], np.float32
    )
    to_region = cv2.getPerspectiveTransform(np.array(quad, np.float32), target)
    region = cv2.warpPerspective(
        image, to_region, (width + 2 * pad, height + 2 * pad), borderMode=cv2.BORDER_REPLICATE
    )
    return region, np.linalg.inv(to_region)


def _with_contrast(region: Any) -> Any:
    """Local contrast: print that uneven light washed out stands out again (a neighbour's faint
    print does too)."""
    import cv2

    grey = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY)
    tiles = (max(1, round(region.shape[1] / region.shape[0])), 1)
    return _three_channels(cv2.createCLAHE(clipLimit=REGION_CONTRAST, tileGridSize=tiles).apply(grey))


def _light_flattened(region: Any) -> Any:
    """The light flattened: print under a glare band is as dark as the rest of its line."""
    import cv2

    return _three_channels(_flattened(cv2.cvtColor(region, cv2.COLOR_RGB2GRAY)))


# The ways a region is read, in order: as it is, with local contrast, with its light flattened.
REGION_WAYS: tuple[Callable[[Any], Any], ...] = (lambda region: region, _with_contrast, _light_flattened)


def _with_line(lines: list[Line], line: Line) -> list[Line]:
    """The region's lines with one more: the same text read over the same place is kept once, the
    longer (more complete) reading."""
    same = [
        i
        for i, other in enumerate(lines)
        if _shared(line.box, other.box) > 0.6 and _one_in_other(line.text, other.text)
    ]
    if not same:
        return [*lines, line]
    if all(_letters(line.text) > _letters(lines[i].text) for i in same):
        return [other for i, other in enumerate(lines) if i not in same] + [line]
    return lines


def bounds(quad: Quad) -> Bounds:
    """The upright rectangle around a quadrilateral."""
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    return min(xs), min(ys), max(xs), max(ys)


def _shared(a: Quad, b: Quad) -> float:
    """How much of the smaller box's bounds lies inside the other's."""
    ax0, ay0, ax1, ay1 = bounds(a)
    bx0, by0, bx1, by1 = bounds(b)
    width, height = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / max(1e-6, min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0)))


def _side(box: Quad, corner: int) -> float:
    (x0, y0), (x1, y1) = box[0], box[corner]
    return math.hypot(x1 - x0, y1 - y0)


def rotate_point(point: Point, turns: int, width: int, height: int) -> Point:
    """Where a point of a width x height image lands after `turns` counter-clockwise turns."""
    x, y = point
    for _ in range(turns % 4):
        x, y = y, width - 1 - x
        width, height = height, width
    return x, y


def _ordered(points: tuple[Point, ...]) -> Quad:
    """Clockwise from the top-left corner (the one nearest the image's top-left): sorting by y
    fails for a long line turned a few degrees, whose far corner is higher than its near one's
    neighbour."""
    p = list(points)
    area = sum(p[i][0] * p[(i + 1) % 4][1] - p[(i + 1) % 4][0] * p[i][1] for i in range(4))
    if area < 0:  # counter-clockwise on screen (y down): reverse
        p.reverse()
    first = min(range(4), key=lambda i: p[i][0] + p[i][1])
    p = p[first:] + p[:first]
    return (p[0], p[1], p[2], p[3])


def crop(image: Any, box: Quad) -> Any:
    import numpy as np
    from rapidocr.utils.process_img import get_rotate_crop_image

    return get_rotate_crop_image(image, np.array(box, dtype=np.float32))
