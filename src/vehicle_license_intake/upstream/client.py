"""The HTTP client of the vehicle-license OCR endpoint: the retry loop with backoff and jitter
within the invocation's time, the rate limit, the key (re-read once after a 4015) and one
`requests.Session`. What an answer means is decided in `contract`.

Each call has a total deadline, not only a read timeout: a read timeout bounds the gap between two
packets, so an upstream that trickles its answer a byte at a time would hold the call (and the
invocation) for as long as it likes. The answer is read in pieces, each bounded by the time left,
and abandoned at the deadline or beyond contract.MAX_RESPONSE_BYTES."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import requests
import urllib3

from vehicle_license_intake.ports import Deadline, ImagePayload, Recognition
from vehicle_license_intake.upstream.contract import MAX_RESPONSE_BYTES, parse_response
from vehicle_license_intake.upstream.errors import (
    UpstreamError,
    UpstreamKeyRejected,
    UpstreamMalformedResponse,
    UpstreamOutOfTime,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from vehicle_license_intake.upstream.guard import UpstreamGuard, UpstreamHeld

# Seconds kept back from the invocation's remaining time for writing the outcome.
OUTCOME_RESERVE_SECONDS = 5.0
# An attempt with less time than this is not worth starting.
MIN_ATTEMPT_SECONDS = 1.0
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
# The answer is read in pieces of at most this size, each as soon as it arrives.
READ_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class AttemptRecord:
    attempt: int
    latency_ms: float
    outcome: str
    request_id: str | None


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
        guard: UpstreamGuard,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_attempt: Callable[[AttemptRecord], None] | None = None,
    ) -> None:
        self._endpoint_url = endpoint_url
        self._api_key = api_key
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._max_attempts = max_attempts
        self._guard = guard
        self._session = session or _session_for(endpoint_url)
        self._sleep = sleep
        self._on_attempt = on_attempt

    def recognize(self, payload: ImagePayload, deadline: Deadline, *, may_defer: bool = False) -> Recognition:
        """The 20 fields, or an UpstreamError; UpstreamHeld when the fleet's guard holds the call
        back (quota spent; an open breaker only when `may_defer`: the upload can wait in a queue).
        With `may_defer` the breaker is consulted before every call, retries included: after a
        failure a retry goes only as the probe (one call at a time while the upstream is
        suspect); one that finds the breaker open, or another call probing, is not made, and the
        upload waits DEFERRED like the others. Without it (the direct path) the retries go on.
        Either way the upload whose own attempts are exhausted ends FAILED."""
        body = payload.json_body()
        key = self._api_key(False)
        key_refreshed = False
        transient_failures = 0
        attempt = 0
        while True:
            # The whole call, its answer read to the last byte, fits in this many seconds.
            budget = min(self._read_timeout, deadline.remaining_seconds() - OUTCOME_RESERVE_SECONDS)
            if budget < MIN_ATTEMPT_SECONDS:
                error = UpstreamOutOfTime(
                    "the invocation has no time left for an upstream call", code="OUT_OF_TIME"
                )
                error.attempts = attempt
                raise error
            try:
                permit = self._guard.admit(deadline, hold_on_open_breaker=may_defer)
            except (UpstreamHeld, UpstreamOutOfTime) as held:
                held.attempts = attempt
                raise
            attempt += 1
            try:
                recognition = self._call_once(body, key, budget, attempt)
            except UpstreamError as error:
                reopened = permit.failed(
                    transient=error.transient, rate_limited=isinstance(error, UpstreamRateLimited)
                )
                error.attempts = attempt
                if isinstance(error, UpstreamKeyRejected):
                    if key_refreshed:
                        raise
                    key, key_refreshed = self._api_key(True), True
                    continue
                transient_failures += 1
                if not error.transient or transient_failures >= self._max_attempts:
                    raise
                if reopened is not None and may_defer:
                    # This failure opened the breaker (a failed probe, or the threshold's last):
                    # calls stop for every instance, this upload's retries included; it waits for
                    # the next probe like the others. (On the direct path nothing waits.)
                    waiting = UpstreamHeld("breaker", reopened)
                    waiting.attempts = attempt
                    raise waiting from None
                backoff = random.uniform(  # noqa: S311 - jitter, not cryptography
                    0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (transient_failures - 1))
                )
                if deadline.remaining_seconds() - backoff < OUTCOME_RESERVE_SECONDS + MIN_ATTEMPT_SECONDS:
                    raise
                self._sleep(backoff)
                continue
            permit.succeeded()
            recognition.attempts = attempt
            return recognition

    def _call_once(self, body: bytes | bytearray, key: str, budget: float, attempt: int) -> Recognition:
        """One call, abandoned `budget` seconds after it started, however the answer arrives."""
        headers = {
            "Authorization": f"Bearer {key}",
            "X-Api-Key": key,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        started = time.perf_counter()
        call_deadline = time.monotonic() + budget
        outcome = "ok"
        request_id: str | None = None
        try:
            try:
                response = self._session.post(
                    self._endpoint_url,
                    data=cast(bytes, body),  # any bytes-like body; a bytearray spares a copy
                    headers=headers,
                    timeout=(self._connect_timeout, budget),
                    stream=True,  # the body is read below, within the call's deadline
                )
            except requests.Timeout as error:
                raise UpstreamTimeout(f"no answer within {budget:.1f}s", code="TIMEOUT") from error
            except requests.RequestException as error:
                raise UpstreamUnreachable(
                    f"connection failed: {type(error).__name__}", code="CONNECTION_ERROR"
                ) from None
            try:
                content = _read_answer(response, call_deadline, budget)
            except BaseException:
                response.close()  # an answer abandoned half-way: its connection is not reused
                raise
            response.raw.release_conn()  # read to its end: the connection is kept for the next call
            recognition = parse_response(response.status_code, content)
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


def _read_answer(response: requests.Response, call_deadline: float, budget: float) -> bytes:
    """The body, piece by piece as it arrives (decompressed), each read waiting no longer than the
    call has left; UpstreamTimeout at the deadline, UpstreamMalformedResponse beyond the size bound
    (counted after decompression)."""
    raw: urllib3.HTTPResponse = response.raw
    content = bytearray()
    while True:
        left = call_deadline - time.monotonic()
        if left <= 0:
            raise UpstreamTimeout(f"answer not complete within {budget:.1f}s", code="TIMEOUT")
        _limit_next_read(raw, left)
        try:
            piece = raw.read1(READ_CHUNK_BYTES, decode_content=True)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as error:
            raise UpstreamTimeout(f"answer not complete within {budget:.1f}s", code="TIMEOUT") from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise UpstreamUnreachable(
                f"connection failed while reading the answer: {type(error).__name__}",
                code="CONNECTION_ERROR",
            ) from None
        if not piece:
            return bytes(content)
        content += piece
        if len(content) > MAX_RESPONSE_BYTES:
            raise UpstreamMalformedResponse(
                f"HTTP {response.status_code}: an answer larger than {MAX_RESPONSE_BYTES} bytes",
                code=response.status_code,
                http_status=response.status_code,
            )


def _limit_next_read(raw: urllib3.HTTPResponse, seconds: float) -> None:
    """The socket waits at most `seconds` for the next piece (the read timeout otherwise)."""
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


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
