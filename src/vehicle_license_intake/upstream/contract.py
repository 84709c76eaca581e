"""The upstream's contract (reference/ocr-vehicle-license-api.txt): its codes, the documents it
answers, and how an answer is decided. The one table of codes, used by the client, the offline
recognizer's `serve` and the contract emulator alike.

The upstream does not document its HTTP status codes, so every outcome is decided by the JSON
`code` whenever the body is JSON, whatever the HTTP status; a body that is not JSON is transient.

Nothing in an answer is trusted for its type or its size: the code must be an integer (not a
boolean), messages, statuses and request ids are bounded text, the 20 values become bounded strings
(domain.fields), `confidence` is kept only as numbers in [0, 1] for the 20 field names, and
anything else the answer carries is ignored. So a code-0 or 5021 answer always ends in an outcome
that can be stored, on its first attempt.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vehicle_license_intake.domain.fields import (
    LICENSE_FIELDS,
    bounded_license_fields,
    license_fields_from,
    text_without_surrogates,
    truncated_text,
)
from vehicle_license_intake.ports import Recognition
from vehicle_license_intake.upstream.errors import (
    UpstreamError,
    UpstreamInvalidImageData,
    UpstreamKeyRejected,
    UpstreamMalformedResponse,
    UpstreamRateLimited,
    UpstreamRejectedImage,
    UpstreamServiceMissing,
    UpstreamTemporaryError,
    UpstreamUnexpectedCode,
)

ENDPOINT_PATH = "/api/ocr-vehicle-license"
SUCCESS_CODE = 0
SUCCESS_MESSAGE = "成功"

# An answer is a few kilobytes; one larger than this is not read to its end (client.py).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# What is kept of the upstream's words: a message (longer ones are cut and marked), a status name
# and a request id.
MAX_MESSAGE_CHARS = 1_000
MAX_STATUS_CHARS = 64
MAX_REQUEST_ID_CHARS = 128
# A code is a small integer (the document's are four digits): anything else is no code at all.
MAX_CODE = 10**9
# Integers longer than this are kept as their digits (Python refuses to convert > 4300 digits).
MAX_INTEGER_DIGITS = 64
# JSON nested deeper than this (the document needs 3 levels) is replaced by null when the parser
# cannot descend that far: the answer stays readable, the deep value is simply not text.
MAX_JSON_DEPTH = 32


@dataclass(frozen=True)
class CodeMeaning:
    error: type[UpstreamError]
    message: str  # what the upstream says with it

    @property
    def status(self) -> str:
        return self.error.default_status


CODES: dict[int, CodeMeaning] = {
    4000: CodeMeaning(UpstreamInvalidImageData, "缺少必填参数 input_type / input_data,或参数格式不合法"),
    4015: CodeMeaning(UpstreamKeyRejected, "此接口需要 API Key,匿名不可调用"),
    5020: CodeMeaning(UpstreamTemporaryError, "上游服务 HTTP 异常,请稍后重试"),
    5021: CodeMeaning(UpstreamRejectedImage, "图片无法识别,请确认为行驶证且图片清晰完整"),
    5030: CodeMeaning(UpstreamServiceMissing, "行驶证识别服务未开通,请联系管理员"),
    429: CodeMeaning(UpstreamRateLimited, "请求过于频繁,请稍后再试"),
}


def error_for_code(
    code: int,
    message: str,
    *,
    status: str | None,
    request_id: str | None,
    http_status: int,
    message_truncated: bool = False,
) -> UpstreamError:
    meaning = CODES.get(code)
    if meaning is not None:
        kind = meaning.error
    else:
        # HTTP-style 5xx codes and the upstream's own undocumented 5xxx codes are server-side.
        server_side = 500 <= code < 600 or 5000 <= code < 6000
        kind = UpstreamTemporaryError if server_side else UpstreamUnexpectedCode
    return kind(
        message,
        code=code,
        status=status,
        request_id=request_id,
        http_status=http_status,
        message_truncated=message_truncated,
    )


def success_document(
    fields: Mapping[str, Any], request_id: str, confidence: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """A code-0 answer with exactly the 20 keys."""
    document: dict[str, Any] = {
        "code": SUCCESS_CODE,
        "msg": SUCCESS_MESSAGE,
        "data": license_fields_from(fields),
    }
    if confidence is not None:
        document["confidence"] = dict(confidence)
    document["request_id"] = request_id
    return document


def error_document(code: int, request_id: str) -> dict[str, Any]:
    meaning = CODES.get(code)
    status, message = (meaning.status, meaning.message) if meaning else ("UPSTREAM_ERROR", "error")
    return {"code": code, "status": status, "msg": message, "request_id": request_id}


def parse_response(http_status: int, content: bytes) -> Recognition:
    """Decide an answer by its JSON `code` whatever the HTTP status (SPEC §3)."""
    document = read_json(content)
    if document is NOT_JSON:
        kind = UpstreamRateLimited if http_status == 429 else UpstreamMalformedResponse
        raise kind(
            f"HTTP {http_status} with a body that is not JSON",
            code=http_status,
            http_status=http_status,
        )
    code = document.get("code") if isinstance(document, Mapping) else None
    if not is_code(code):
        raise UpstreamMalformedResponse(
            f"HTTP {http_status}: JSON without an integer code",
            code=http_status,
            http_status=http_status,
        )
    assert isinstance(document, Mapping) and isinstance(code, int)
    request_id = _request_id(document.get("request_id"))
    if code != SUCCESS_CODE:
        message, truncated = bounded_message(_text(document.get("msg")) or _text(document.get("message")))
        status = _short_text(document.get("status"), MAX_STATUS_CHARS)
        raise error_for_code(
            code,
            message,
            status=status or None,
            request_id=request_id,
            http_status=http_status,
            message_truncated=truncated,
        )
    data = document.get("data")
    if not isinstance(data, Mapping):
        raise UpstreamMalformedResponse(
            "code 0 without a data object",
            code="MALFORMED",
            request_id=request_id,
            http_status=http_status,
        )
    bounded = bounded_license_fields(data)
    return Recognition(
        fields=bounded.fields,
        request_id=request_id,
        confidence=_confidence(document.get("confidence")),
        review_reasons=list(bounded.review_reasons),
    )


def is_code(value: Any) -> bool:
    """An integer code (True is an int in Python, not a code), within any plausible range."""
    return isinstance(value, int) and not isinstance(value, bool) and -MAX_CODE < value < MAX_CODE


def bounded_message(text: str) -> tuple[str, bool]:
    """A message that can be stored and sent: no lone surrogates, at most MAX_MESSAGE_CHARS
    characters; and whether it was cut."""
    return truncated_text(text_without_surrogates(text)[0], MAX_MESSAGE_CHARS)


class _NotJson:
    pass


NOT_JSON: Any = _NotJson()


def read_json(content: bytes) -> Any:
    """The JSON document, or NOT_JSON. Never raises: integers of any length, nesting of any depth
    and bytes of any encoding end as a document or as NOT_JSON."""
    try:
        return json.loads(content, parse_int=_integer)
    except RecursionError:
        pass
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return NOT_JSON
    try:
        text = content.decode(json.detect_encoding(content), "surrogatepass")
        return json.loads(_without_deep_values(text, MAX_JSON_DEPTH), parse_int=_integer)
    except (ValueError, RecursionError):
        return NOT_JSON


def _integer(digits: str) -> int | str:
    return int(digits) if len(digits) <= MAX_INTEGER_DIGITS else digits


_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def _without_deep_values(text: str, max_depth: int) -> str:
    """The JSON text with every array or object nested deeper than `max_depth` replaced by null."""
    parts: list[str] = []
    depth = kept_until = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        piece = match.group()
        if piece[0] == '"':
            continue
        if piece in "[{":
            depth += 1
            if depth == max_depth + 1:
                parts.append(text[kept_until : match.start()])
        else:
            if depth == max_depth + 1:
                parts.append("null")
                kept_until = match.end()
            depth -= 1
    parts.append(text[kept_until:])
    return "".join(parts)


def _text(value: Any) -> str:
    """A string as it is, a number as its decimal text; anything else is no text ("")."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _short_text(value: Any, max_chars: int) -> str:
    """A name-like value (a status): text that can be stored, cut at `max_chars`."""
    return truncated_text(text_without_surrogates(_text(value))[0], max_chars)[0]


def _request_id(value: Any) -> str | None:
    """The upstream's request id when it is plausibly one; a truncated id would name another."""
    text = text_without_surrogates(_text(value))[0]
    return text if text and len(text) <= MAX_REQUEST_ID_CHARS else None


def _confidence(value: Any) -> dict[str, float] | None:
    """Scores in [0, 1] for the 20 field names; everything else the map holds is ignored."""
    if not isinstance(value, Mapping):
        return None
    scores = {
        name: float(score)
        for name in LICENSE_FIELDS
        if isinstance(score := value.get(name), int | float)
        and not isinstance(score, bool)
        and math.isfinite(score)
        and 0.0 <= score <= 1.0
    }
    return scores or None
