"""Local checks on an object before any upstream call (SPEC §4 REJECTED codes)."""

from __future__ import annotations

ACCEPTED_FORMATS = ("jpeg", "png", "bmp")
SNIFF_BYTES = 16


class ImageRejected(Exception):
    """The object fails a local check; no upstream call is made for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sniff_format(head: bytes | bytearray) -> str | None:
    """The image format the first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"BM") and len(head) >= 6:
        return "bmp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1"):
        return "heic"
    if head.startswith(b"%PDF"):
        return "pdf"
    return None


def check_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise ImageRejected("EMPTY_OBJECT", "the object is empty")
    if size > max_bytes:
        raise ImageRejected("TOO_LARGE", f"the object has {size} bytes, more than {max_bytes}")


def check_format(head: bytes | bytearray) -> str:
    found = sniff_format(head)
    if found not in ACCEPTED_FORMATS:
        what = found.upper() if found else "not a recognised image"
        raise ImageRejected("UNSUPPORTED_FORMAT", f"the object is {what}; accepted: JPEG, PNG, BMP")
    return found
