"""The project files the tooling needs: template.yaml and the sample images.

In a checkout, `project/` holds symbolic links to the repository's own files; a wheel
(`pip install .`) carries copies of them, so the console script works wherever it is installed.
"""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parent / "project"
TEMPLATE = PROJECT / "template.yaml"
SAMPLES = PROJECT / "samples"

# The key the demo and the local emulators accept (never a real upstream key).
DEMO_API_KEY = "demo-key-for-the-local-emulator"
