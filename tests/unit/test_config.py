"""SPEC §3: configuration parsed once into one typed object; bad values name their variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vehicle_license_intake import handler
from vehicle_license_intake.config import DEFAULT_ENDPOINT_URL, ConfigError, Settings
from vehicle_license_tools.delivery import LocalContext

REQUIRED = {"RESULTS_TABLE_NAME": "t", "DEAD_LETTER_QUEUE_URL": "https://sqs/q", "API_KEY_SECRET_ID": "s"}


def test_defaults_are_the_specs() -> None:
    settings = Settings.from_env(REQUIRED)
    assert (
        settings.ocr_endpoint_url == DEFAULT_ENDPOINT_URL == "https://v1.apizero.cn/api/ocr-vehicle-license"
    )
    assert (settings.ocr_input_type, settings.ocr_timeout_seconds, settings.ocr_max_attempts) == (
        "base64",
        15.0,
        3,
    )
    assert (settings.ocr_max_rps, settings.max_image_bytes, settings.ocr_provider) == (
        2.0,
        10485760,
        "upstream",
    )


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_missing_required_variable_is_named(missing: str) -> None:
    with pytest.raises(ConfigError, match=missing):
        Settings.from_env({k: v for k, v in REQUIRED.items() if k != missing})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OCR_INPUT_TYPE", "ftp"),
        ("OCR_TIMEOUT_SECONDS", "soon"),
        ("OCR_MAX_ATTEMPTS", "0"),
        ("OCR_MAX_ATTEMPTS", "2.5"),
        ("OCR_MAX_RPS", "-1"),
        ("MAX_IMAGE_BYTES", "10MB"),
        ("OCR_PROVIDER", "magic"),
        ("OCR_ENDPOINT_URL", "v1.apizero.cn/api"),
    ],
)
def test_invalid_variable_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**REQUIRED, name: value})


def test_handler_stops_with_the_variable_named_when_configuration_is_invalid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OCR_INPUT_TYPE", "carrier-pigeon")

    with pytest.raises(ConfigError, match="OCR_INPUT_TYPE"):
        handler.lambda_handler({"Records": []}, LocalContext())


def test_local_provider_without_the_recognizer_installed_is_a_clear_error() -> None:
    """In a process where the optional extra cannot be imported (as after `pip install .`)."""
    code = (
        "import sys; sys.modules['vehicle_license_recognizer'] = None\n"
        "from vehicle_license_intake.app import build_recognizer\n"
        "from vehicle_license_intake.config import ConfigError, Settings\n"
        "settings = Settings.from_env({'RESULTS_TABLE_NAME': 't', 'DEAD_LETTER_QUEUE_URL': 'q',\n"
        "                              'API_KEY_SECRET_ID': 's', 'OCR_PROVIDER': 'local'})\n"
        "try:\n    build_recognizer(settings, None)\nexcept ConfigError as error:\n    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "OCR_PROVIDER is 'local' but the offline recognizer is not installed" in result.stdout
