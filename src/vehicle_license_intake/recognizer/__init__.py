"""The offline recognizer (optional extra: pip install 'vehicle-license-intake[recognizer]')."""

from vehicle_license_intake.recognizer.engine import LocalRecognizer

__all__ = ["LocalRecognizer"]
