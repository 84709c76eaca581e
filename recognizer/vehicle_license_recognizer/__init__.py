"""The offline recognizer: RapidOCR on the CPU (ocr.py), aligned to the printed form (form.py,
layout.py), label-anchored extraction with format checks (extraction.py) and the red stamp read as
the authority (stamp.py), behind the same contract as the upstream (`serve`) or in the function
(OCR_PROVIDER=local, container image).
Its packages are the `[recognizer]` extra; importing this package does not import them."""

from __future__ import annotations

import importlib.util

from vehicle_license_recognizer.engine import LocalRecognizer

# import name -> the distribution that provides it
REQUIRED_MODULES = {
    "rapidocr": "rapidocr",
    "onnxruntime": "onnxruntime",
    "numpy": "numpy",
    "PIL": "pillow",
    "cv2": "opencv-python",
}


def missing_dependencies() -> list[str]:
    """The distributions the recognizer needs that are not installed (empty when it can run)."""
    return [dist for module, dist in REQUIRED_MODULES.items() if importlib.util.find_spec(module) is None]


__all__ = ["LocalRecognizer", "missing_dependencies"]
