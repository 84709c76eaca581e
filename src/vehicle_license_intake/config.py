"""The function's configuration (SPEC §3): parsed once, at start-up, into one typed object."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import TypeVar

DEFAULT_ENDPOINT_URL = "https://v1.apizero.cn/api/ocr-vehicle-license"
INPUT_TYPES = ("base64", "url")
PROVIDERS = ("upstream", "local")
FALLBACKS = ("none", "local")

T = TypeVar("T")


class ConfigError(ValueError):
    """A variable of the function's environment is missing or invalid; the message names it."""


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


def _text(raw: str) -> str:
    return raw


def _setting(default: T, parse: Callable[[str], T]) -> T:
    """A setting's default and how its variable is parsed, written once."""
    return field(default=default, metadata={"parse": parse})  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Settings:
    """Each field is read from the variable of its name in upper case (SPEC §3); a field without
    a default is required. Defaults are written here only (template.yaml's parameter defaults are
    checked against them by the tests)."""

    results_table_name: str
    dead_letter_queue_url: str
    api_key_secret_id: str
    ocr_endpoint_url: str = _setting(DEFAULT_ENDPOINT_URL, _http_url)
    ocr_input_type: str = _setting("base64", _one_of(INPUT_TYPES))
    ocr_timeout_seconds: float = _setting(15.0, _positive(float))
    ocr_connect_timeout_seconds: float = _setting(3.05, _positive(float))
    ocr_max_attempts: int = _setting(3, _positive(int))
    ocr_max_rps: float = _setting(2.0, _positive(float))
    max_image_bytes: int = _setting(10 * 1024 * 1024, _positive(int))
    ocr_provider: str = _setting("upstream", _one_of(PROVIDERS))
    secret_max_age_seconds: int = _setting(300, _non_negative_int)
    result_retention_days: int = _setting(0, _non_negative_int)
    # SPEC §9: shared by every instance through the control table (without one, OCR_MAX_RPS per
    # instance is the only limit and there is no quota or breaker).
    control_table_name: str = _setting("", _text)
    upstream_max_rps: float = _setting(2.0, _positive(float))
    upstream_daily_quota: int = _setting(0, _non_negative_int)  # 0: unlimited
    upstream_breaker_threshold: int = _setting(5, _positive(int))
    upstream_breaker_cooldown_seconds: float = _setting(60.0, _positive(float))
    # How much later than its slot a call may arrive at the upstream (start late, then travel):
    # the rate's window is 1 s plus this. Larger is safer against 429s, smaller is faster.
    upstream_rate_margin_seconds: float = _setting(0.2, _positive(float))
    ocr_fallback: str = _setting("none", _one_of(FALLBACKS))
    # SPEC §10: the bus that final outcomes are published to (none: nothing is published).
    event_bus_name: str = _setting("", _text)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        return load_from_env(cls, environ)


S = TypeVar("S")


def load_from_env(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
    """A settings dataclass from the environment: each field's variable is its name upper-cased;
    a field without a default is required, the others are parsed by their `_setting` parser."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for setting in fields(cls):  # type: ignore[arg-type]
        name = setting.name.upper()
        if setting.default is MISSING:
            values[setting.name] = _required(env, name)
        else:
            values[setting.name] = _optional(env, name, setting.default, setting.metadata["parse"])
    return cls(**values)


# For the other settings dataclasses of the project (the review API's).
env_setting = _setting
positive = _positive
text = _text
