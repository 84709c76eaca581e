"""Freed memory handed back to the system between images.

Each image allocates and frees arrays of its own sizes (the decoded photo, detection maps, line
crops, the models' tensors). glibc's malloc keeps freed pages for reuse, and with sizes that vary
from image to image its heap fragments: measured over 330 images, the process's resident memory
crept from 490 MB to 800 MB without any of it in use. `malloc_trim` returns the free pages; called
after an image once the process holds more than TRIM_ABOVE (after most images: trimming after
every one of 60 photos did not slow them, a median 1.14-1.16 s against 1.17 s), it caps the creep
and lowers the peak (benchmarks/recognizer-results.md: peak memory). Elsewhere than glibc (musl,
macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

# Bytes resident above which the free pages are returned after an image. At 560 MB the pages an
# image freed below it stayed held, and the next image's transient (a large detection: about
# 220 MB) came on top of them: held-out seed 2031 peaked at 860 MB (real samples first, one
# thread); at 400 MB, 726 MB. The models alone hold about 200 MB.
TRIM_ABOVE = 400 * 2**20

_libc: Any = None


def resident_bytes() -> int:
    """The process's resident memory now (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def release_freed_memory(above: int = TRIM_ABOVE) -> bool:
    """Hand freed heap pages back to the system when more than `above` bytes are resident.
    True when glibc was asked to."""
    global _libc
    if resident_bytes() <= above:
        return False
    try:
        if _libc is None:
            _libc = ctypes.CDLL("libc.so.6")
        _libc.malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True
