"""The function's configuration (SPEC §3): parsed once, at start-up, into one typed object."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

DEFAULT_ENDPOINT_URL = "https://v1.apizero.cn/api/ocr-vehicle-license"
INPUT_TYPES = ("base64", "url")
PROVIDERS = ("upstream", "local")

T = TypeVar("T")


class ConfigError(ValueError):
    """A variable of the function's environment is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Settings:
    results_table_name: str
    dead_letter_queue_url: str
    api_key_secret_id: str
    ocr_endpoint_url: str = DEFAULT_ENDPOINT_URL
    ocr_input_type: str = "base64"
    ocr_timeout_seconds: float = 15.0
    ocr_connect_timeout_seconds: float = 3.05
    ocr_max_attempts: int = 3
    ocr_max_rps: float = 2.0
    max_image_bytes: int = 10 * 1024 * 1024
    ocr_provider: str = "upstream"
    secret_max_age_seconds: int = 300
    result_retention_days: int = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            results_table_name=_required(env, "RESULTS_TABLE_NAME"),
            dead_letter_queue_url=_required(env, "DEAD_LETTER_QUEUE_URL"),
            api_key_secret_id=_required(env, "API_KEY_SECRET_ID"),
            ocr_endpoint_url=_optional(env, "OCR_ENDPOINT_URL", DEFAULT_ENDPOINT_URL, _http_url),
            ocr_input_type=_optional(env, "OCR_INPUT_TYPE", "base64", _one_of(INPUT_TYPES)),
            ocr_timeout_seconds=_optional(env, "OCR_TIMEOUT_SECONDS", 15.0, _positive(float)),
            ocr_connect_timeout_seconds=_optional(env, "OCR_CONNECT_TIMEOUT_SECONDS", 3.05, _positive(float)),
            ocr_max_attempts=_optional(env, "OCR_MAX_ATTEMPTS", 3, _positive(int)),
            ocr_max_rps=_optional(env, "OCR_MAX_RPS", 2.0, _positive(float)),
            max_image_bytes=_optional(env, "MAX_IMAGE_BYTES", 10 * 1024 * 1024, _positive(int)),
            ocr_provider=_optional(env, "OCR_PROVIDER", "upstream", _one_of(PROVIDERS)),
            secret_max_age_seconds=_optional(env, "SECRET_MAX_AGE_SECONDS", 300, _non_negative_int),
            result_retention_days=_optional(env, "RESULT_RETENTION_DAYS", 0, _non_negative_int),
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required but not set")
    return value


def _optional(env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T]) -> T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError as error:
        raise ConfigError(f"{name} is invalid: {error}") from None


def _positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    def parse(raw: str) -> T:
        value = kind(raw)
        if not value > 0:  # type: ignore[operator]
            raise ValueError(f"must be a number greater than 0, got {raw!r}")
        return value

    return parse


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {raw!r}")
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")
        return raw

    return parse


def _http_url(raw: str) -> str:
    if not raw.startswith(("https://", "http://")):
        raise ValueError(f"must be an http(s) URL, got {raw!r}")
    return raw
