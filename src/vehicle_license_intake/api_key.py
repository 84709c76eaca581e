"""The upstream API key, read from Secrets Manager with Powertools Parameters and cached."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider


class ApiKeyUnavailable(Exception):
    """The secret could not be read or holds no usable key. The message never holds the key."""


def parse_api_key(secret_string: str) -> str:
    """The key from a SecretString: the bare key, or JSON `{"api_key": "..."}`."""
    text = secret_string.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            raise ApiKeyUnavailable("the secret looks like JSON but does not parse") from None
        key = document.get("api_key") if isinstance(document, dict) else None
        if not isinstance(key, str) or not key.strip():
            raise ApiKeyUnavailable('the secret is JSON without a non-empty "api_key" string')
        text = key.strip()
    if not text:
        raise ApiKeyUnavailable("the secret is empty")
    if not (text.isascii() and text.isprintable()):
        raise ApiKeyUnavailable("the key holds characters an HTTP header cannot carry")
    return text


class ApiKeyProvider:
    """Callable returning the key; `refresh=True` bypasses the cache (after a 4015: rotation).

    Only a usable key stays cached. A secret whose content holds no key (not JSON, no api_key,
    empty) is read again at once, bypassing the cache (it may just have been fixed), and if it
    still holds none the cache is cleared: the next invocation reads it again instead of failing
    on the bad value until SECRET_MAX_AGE_SECONDS have passed.
    """

    def __init__(self, secret_id: str, max_age_seconds: int, secrets_client: Any) -> None:
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._provider = SecretsProvider(boto3_client=secrets_client)

    def __call__(self, refresh: bool = False) -> str:
        try:
            return parse_api_key(self._secret_string(refresh))
        except ApiKeyUnavailable:
            if not refresh:
                return self(refresh=True)
            self._provider.clear_cache()  # type: ignore[no-untyped-call]
            raise

    def _secret_string(self, refresh: bool) -> str:
        value = self._provider.get(self._secret_id, max_age=self._max_age, force_fetch=refresh)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            raise ApiKeyUnavailable("the secret has no SecretString")
        return value
