"""One exception class per upstream outcome that needs different handling, each knowing whether
a later call may succeed (`transient`). Messages never hold the key or a field value."""

from __future__ import annotations

from typing import ClassVar


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
        message_truncated: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.message_truncated = message_truncated  # the upstream's message was longer
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
