"""The upstream's contract (reference/ocr-vehicle-license-api.txt): its codes, the documents it
answers, and how an answer is decided. The one table of codes, used by the client, the offline
recognizer's `serve` and the contract emulator alike.

The upstream does not document its HTTP status codes, so every outcome is decided by the JSON
`code` whenever the body is JSON, whatever the HTTP status; a body that is not JSON is transient.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vehicle_license_intake.domain.fields import license_fields_from
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
    code: int, message: str, *, status: str | None, request_id: str | None, http_status: int
) -> UpstreamError:
    meaning = CODES.get(code)
    if meaning is not None:
        kind = meaning.error
    else:
        # HTTP-style 5xx codes and the upstream's own undocumented 5xxx codes are server-side.
        server_side = 500 <= code < 600 or 5000 <= code < 6000
        kind = UpstreamTemporaryError if server_side else UpstreamUnexpectedCode
    return kind(message, code=code, status=status, request_id=request_id, http_status=http_status)


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
    if code != SUCCESS_CODE:
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
