"""The vehicle-license OCR endpoint: one typed exception per outcome, retries, rate limit.

The upstream does not document its HTTP status codes, so every outcome is decided by the JSON
`code` whenever the body is JSON, whatever the HTTP status; a body that is not JSON is transient.
"""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, cast

import requests

from vehicle_license_intake.domain.fields import license_fields_from

# Seconds kept back from the invocation's remaining time for writing the outcome.
OUTCOME_RESERVE_SECONDS = 5.0
# An attempt with less read time than this is not worth starting.
MIN_ATTEMPT_SECONDS = 1.0
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
RATE_WINDOW_MARGIN_SECONDS = 0.05


class UpstreamError(Exception):
    """An upstream call did not produce the 20 fields."""

    transient: ClassVar[bool] = False
    default_status: ClassVar[str] = "UPSTREAM_FAILED"

    def __init__(
        self,
        message: str,
        *,
        code: int | str,
        status: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status or self.default_status
        self.request_id = request_id
        self.http_status = http_status
        self.attempts = 0


class UpstreamRejectedImage(UpstreamError):
    """5021: the image is not a recognisable license. Never retried: a human must look."""

    default_status = "UPSTREAM_INVALID"


class UpstreamInvalidImageData(UpstreamRejectedImage):
    """4000: the upstream refused the image data we sent. Never retried."""

    default_status = "VALIDATION_ERROR"


class UpstreamKeyRejected(UpstreamError):
    """4015: no or wrong key. The key is re-read once (it may have been rotated)."""

    default_status = "KEY_REQUIRED"


class UpstreamServiceMissing(UpstreamError):
    """5030: the recognition service is not enabled for this account."""

    default_status = "UPSTREAM_MISSING"


class UpstreamUnexpectedCode(UpstreamError):
    """A JSON answer with a code the document does not list (and not 5xx)."""


class UpstreamTemporaryError(UpstreamError):
    """5020 and other 5xx codes: the upstream failed, a later call may succeed."""

    transient = True
    default_status = "UPSTREAM_ERROR"


class UpstreamRateLimited(UpstreamTemporaryError):
    """429: too many requests."""

    default_status = "RATE_LIMITED"


class UpstreamMalformedResponse(UpstreamTemporaryError):
    """The body is not JSON, or JSON without the documented shape."""

    default_status = "MALFORMED_RESPONSE"


class UpstreamTimeout(UpstreamTemporaryError):
    default_status = "TIMEOUT"


class UpstreamUnreachable(UpstreamTemporaryError):
    default_status = "CONNECTION_ERROR"


class UpstreamOutOfTime(UpstreamTemporaryError):
    """The invocation has no time left for another attempt."""

    default_status = "OUT_OF_TIME"


def error_for_code(
    code: int, message: str, *, status: str | None, request_id: str | None, http_status: int
) -> UpstreamError:
    kinds: dict[int, type[UpstreamError]] = {
        5021: UpstreamRejectedImage,
        4000: UpstreamInvalidImageData,
        4015: UpstreamKeyRejected,
        5030: UpstreamServiceMissing,
        5020: UpstreamTemporaryError,
        429: UpstreamRateLimited,
    }
    kind = kinds.get(code)
    if kind is None:
        # HTTP-style 5xx codes and the upstream's own undocumented 5xxx codes are server-side.
        server_side = 500 <= code < 600 or 5000 <= code < 6000
        kind = UpstreamTemporaryError if server_side else UpstreamUnexpectedCode
    return kind(message, code=code, status=status, request_id=request_id, http_status=http_status)


@dataclass
class Recognition:
    """The 20 fields, as returned, and who answered."""

    fields: dict[str, str]
    request_id: str | None
    source: str = "upstream"
    attempts: int = 1
    confidence: dict[str, float] | None = None


@dataclass(frozen=True)
class AttemptRecord:
    attempt: int
    latency_ms: float
    outcome: str
    request_id: str | None


class Deadline(Protocol):
    def remaining_seconds(self) -> float: ...


@dataclass
class ImagePayload:
    """What the upstream is sent: the image bytes (base64 mode) or a presigned URL (url mode)."""

    input_type: str
    image: bytes | bytearray | None = None
    url: str | None = None

    def json_body(self) -> bytes | bytearray:
        """The request body, built once, in place, without intermediate copies of the image;
        the image itself is released, so the process holds the image or its body, not both."""
        if self.input_type == "url":
            return json.dumps({"input_type": "url", "input_data": self.url}).encode()
        assert self.image is not None
        head = b'{"input_type":"base64","input_data":"'
        tail = b'"}'
        encoded_length = 4 * ((len(self.image) + 2) // 3)
        body = bytearray(len(head) + encoded_length + len(tail))
        body[: len(head)] = head
        chunk = 3 * 64 * 1024
        view = memoryview(self.image)
        position = len(head)
        for start in range(0, len(self.image), chunk):
            piece = base64.b64encode(view[start : start + chunk])
            body[position : position + len(piece)] = piece
            position += len(piece)
        body[position:] = tail
        self.image = None
        return body


class RateLimiter:
    """At most `max_per_second` acquisitions in any one-second window (sliding window).

    The window is widened by `margin_seconds`: what counts is when requests *arrive* upstream,
    and a request on a fresh connection arrives later than one on a warm connection.
    """

    def __init__(
        self,
        max_per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_seconds: float = RATE_WINDOW_MARGIN_SECONDS,
    ) -> None:
        # A fractional rate (0.5/s) is kept as one call per 1/rate seconds.
        self._window = (1.0 if max_per_second >= 1 else 1.0 / max_per_second) + margin_seconds
        self._capacity = max(1, int(max_per_second))
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def acquire(self, deadline: Deadline | None = None) -> None:
        with self._lock:
            while True:
                now = self._clock()
                while self._calls and now - self._calls[0] >= self._window:
                    self._calls.popleft()
                if len(self._calls) < self._capacity:
                    self._calls.append(now)
                    return
                wait = self._window - (now - self._calls[0])
                if deadline is not None and wait > deadline.remaining_seconds():
                    raise UpstreamOutOfTime("no time left to wait for the rate limit", code="OUT_OF_TIME")
                self._sleep(wait)


class UpstreamClient:
    """Sends images to the OCR endpoint and turns every answer into a Recognition or an error."""

    source = "upstream"

    def __init__(
        self,
        endpoint_url: str,
        api_key: Callable[[bool], str],
        *,
        read_timeout: float,
        connect_timeout: float,
        max_attempts: int,
        rate_limiter: RateLimiter,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_attempt: Callable[[AttemptRecord], None] | None = None,
    ) -> None:
        self._endpoint_url = endpoint_url
        self._api_key = api_key
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._max_attempts = max_attempts
        self._rate_limiter = rate_limiter
        self._session = session or _session_for(endpoint_url)
        self._sleep = sleep
        self._on_attempt = on_attempt

    def recognize(self, payload: ImagePayload, deadline: Deadline) -> Recognition:
        body = payload.json_body()
        key = self._api_key(False)
        key_refreshed = False
        transient_failures = 0
        attempt = 0
        while True:
            read_timeout = min(self._read_timeout, deadline.remaining_seconds() - OUTCOME_RESERVE_SECONDS)
            if read_timeout < MIN_ATTEMPT_SECONDS:
                error = UpstreamOutOfTime(
                    "the invocation has no time left for an upstream call", code="OUT_OF_TIME"
                )
                error.attempts = attempt
                raise error
            self._rate_limiter.acquire(deadline)
            attempt += 1
            try:
                recognition = self._call_once(body, key, read_timeout, attempt)
                recognition.attempts = attempt
                return recognition
            except UpstreamKeyRejected as error:
                error.attempts = attempt
                if key_refreshed:
                    raise
                key, key_refreshed = self._api_key(True), True
            except UpstreamError as error:
                error.attempts = attempt
                transient_failures += 1
                if not error.transient or transient_failures >= self._max_attempts:
                    raise
                backoff = random.uniform(  # noqa: S311 - jitter, not cryptography
                    0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (transient_failures - 1))
                )
                if deadline.remaining_seconds() - backoff < OUTCOME_RESERVE_SECONDS + MIN_ATTEMPT_SECONDS:
                    raise
                self._sleep(backoff)

    def _call_once(self, body: bytes | bytearray, key: str, read_timeout: float, attempt: int) -> Recognition:
        headers = {
            "Authorization": f"Bearer {key}",
            "X-Api-Key": key,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        started = time.perf_counter()
        outcome = "ok"
        request_id: str | None = None
        try:
            try:
                response = self._session.post(
                    self._endpoint_url,
                    data=cast(bytes, body),  # any bytes-like body; a bytearray spares a copy
                    headers=headers,
                    timeout=(self._connect_timeout, read_timeout),
                )
            except requests.Timeout as error:
                raise UpstreamTimeout(f"no answer within {read_timeout:.1f}s", code="TIMEOUT") from error
            except requests.RequestException as error:
                raise UpstreamUnreachable(
                    f"connection failed: {type(error).__name__}", code="CONNECTION_ERROR"
                ) from None
            recognition = parse_response(response.status_code, response.content)
            request_id = recognition.request_id
            return recognition
        except UpstreamError as error:
            outcome = str(error.code)
            request_id = error.request_id
            raise
        finally:
            if self._on_attempt is not None:
                latency_ms = (time.perf_counter() - started) * 1000
                self._on_attempt(AttemptRecord(attempt, latency_ms, outcome, request_id))


def _session_for(endpoint_url: str) -> requests.Session:
    """A session that reads the proxy settings (HTTPS_PROXY, NO_PROXY) once, at start-up, instead
    of on every call (requests' default costs ~0.6 ms a call: a tenth of the per-record overhead)."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(endpoint_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return session


def parse_response(http_status: int, content: bytes) -> Recognition:
    """Decide an answer by its JSON `code` whatever the HTTP status (SPEC §3)."""
    try:
        document: Any = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        kind = UpstreamRateLimited if http_status == 429 else UpstreamMalformedResponse
        raise kind(
            f"HTTP {http_status} with a body that is not JSON",
            code=http_status,
            http_status=http_status,
        ) from None
    if not isinstance(document, Mapping) or not isinstance(document.get("code"), int):
        raise UpstreamMalformedResponse(
            f"HTTP {http_status}: JSON without an integer code",
            code=http_status,
            http_status=http_status,
        )
    code: int = document["code"]
    request_id = document.get("request_id")
    request_id = str(request_id) if request_id is not None else None
    if code != 0:
        message = str(document.get("msg") or document.get("message") or "")
        status = document.get("status")
        raise error_for_code(
            code,
            message,
            status=str(status) if status else None,
            request_id=request_id,
            http_status=http_status,
        )
    data = document.get("data")
    if not isinstance(data, Mapping):
        raise UpstreamMalformedResponse(
            "code 0 without a data object",
            code="MALFORMED",
            request_id=request_id,
            http_status=http_status,
        )
    confidence = document.get("confidence")
    return Recognition(
        fields=license_fields_from(data),
        request_id=request_id,
        confidence=dict(confidence) if isinstance(confidence, Mapping) else None,
    )
