"""The offline recognizer (optional extra: pip install 'vehicle-license-intake[recognizer]')."""

from vehicle_license_recognizer.engine import LocalRecognizer

__all__ = ["LocalRecognizer"]
