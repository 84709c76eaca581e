"""The issuing authority, read from a red ROUND seal (our older synthetic drawings; real cards
carry a rectangular stamp, read by stamp.py, which falls back to this reader).

The seal's text runs along an arc, which line OCR cannot read. The seal is found by its redness,
unwrapped with a polar transform (starting at the bottom, so the top arc is one straight line),
and the strip is read by the recognition model alone. The authority's name follows a fixed
pattern (…公安局交通警察总队/支队/大队/局), which repairs misread characters of the fixed part;
a repaired name gets a low confidence, so the record asks for a human look.
"""

from __future__ import annotations

from typing import Any

from vehicle_license_recognizer.stamp import repair_authority

SEAL_RADIUS_PX = 220  # the seal is scaled to this radius before unwrapping


def read_round_seal(rgb: Any, recognize_line: Any) -> tuple[str, float] | None:
    """(authority, confidence) from an RGB array holding one page's seal, or None."""
    import cv2
    import numpy as np

    r, g, b = (rgb[:, :, i].astype(np.int16) for i in range(3))
    redness = r - (g + b) // 2
    ys, xs = np.nonzero(redness > 60)
    if len(xs) < 300:
        return None
    x0, x1 = np.percentile(xs, 1), np.percentile(xs, 99)
    y0, y1 = np.percentile(ys, 1), np.percentile(ys, 99)
    radius = max(x1 - x0, y1 - y0) / 2
    if radius < 20:
        return None
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = max(0, int(cx - radius - 4)), max(0, int(cy - radius - 4))
    region = redness[top : int(cy + radius + 4), left : int(cx + radius + 4)]
    # the seal's own strongest red is full ink: a small, blurred seal keeps its contrast
    strongest = max(60.0, float(np.percentile(region, 99)))
    crop = (255 - np.clip((region - 20) * (255 / (strongest - 20)), 0, 255)).astype(np.uint8)
    scale = SEAL_RADIUS_PX / radius
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    centre = ((cx - left) * scale, (cy - top) * scale)
    rows = int(2 * np.pi * SEAL_RADIUS_PX)
    polar = cv2.warpPolar(
        crop, (SEAL_RADIUS_PX, rows), centre, SEAL_RADIUS_PX, cv2.WARP_POLAR_LINEAR + cv2.INTER_LINEAR
    )
    band = polar[:, int(0.6 * SEAL_RADIUS_PX) : int(0.93 * SEAL_RADIUS_PX)]
    band = np.concatenate([band[rows // 4 :], band[: rows // 4]])  # start at the bottom
    strip = np.ascontiguousarray(np.rot90(band, 1))
    read = recognize_line(np.stack([strip] * 3, axis=-1))
    if read is None:
        return None
    text, score = read
    return repair_authority(text, score)


__all__ = ["read_round_seal", "repair_authority"]
