"""Debian's Chromium under Playwright, as the review desk's browser tests and its screenshot use it.

Playwright's own browser download does not install everywhere (`make browser` installs Debian's
`chromium`); these flags keep Chromium from stalling at start-up on a machine without internet."""

from __future__ import annotations

import os
from typing import Any

CHROMIUM = os.environ.get("VLI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium browser from `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_FLAGS))
