"""An HTTP server on 127.0.0.1 that speaks the upstream OCR endpoint's contract.

Used by the tests, the offline demo and `sam local` users. It checks the key (both header forms),
validates the body like the upstream (4000), enforces a request rate (429), and answers each image
from a recognizer, unless a script was registered for that image: a sequence of replies (error
codes, HTML 502, non-JSON bodies, slow answers) consumed one per call.

It never invents a result: the recognizer is either the offline OCR engine or a lookup of
ground-truth files shipped beside sample images, and every answer says which one it was.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import socket
import threading
import time
import urllib.request
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from vehicle_license_intake.domain.fields import license_fields_from

UPSTREAM_PATH = "/api/ocr-vehicle-license"
ANSWERED_BY_HEADER = "X-Emulator-Answered-By"

MESSAGES = {
    4000: ("VALIDATION_ERROR", "缺少必填参数 input_type / input_data,或参数格式不合法"),
    4015: ("KEY_REQUIRED", "此接口需要 API Key,匿名不可调用"),
    5020: ("UPSTREAM_ERROR", "上游服务 HTTP 异常,请稍后重试"),
    5021: ("UPSTREAM_INVALID", "图片无法识别,请确认为行驶证且图片清晰完整"),
    5030: ("UPSTREAM_MISSING", "行驶证识别服务未开通,请联系管理员"),
    429: ("RATE_LIMITED", "请求过于频繁,请稍后再试"),
}


def image_digest(image: bytes) -> str:
    return hashlib.sha256(image).hexdigest()


@dataclass
class RecognizerAnswer:
    fields: dict[str, str]
    confidence: dict[str, float] | None = None


class LicenseReader(Protocol):
    """Reads a license image; None means it is not a recognisable license (5021)."""

    name: str

    def read_license(self, image: bytes) -> RecognizerAnswer | None: ...


class GroundTruthRecognizer:
    """Answers images it has ground truth for (by content digest); 5021 for any other image.

    This is a lookup, not OCR: it exists so the pipeline can be exercised end to end on the
    shipped samples before an OCR engine is installed, and it says so in every answer.
    """

    name = "ground-truth lookup (no OCR)"

    def __init__(self, truths: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._truths = {digest: license_fields_from(fields) for digest, fields in (truths or {}).items()}

    def add(self, image: bytes, fields: Mapping[str, Any]) -> None:
        self._truths[image_digest(image)] = license_fields_from(fields)

    @classmethod
    def from_directory(cls, directory: Path) -> GroundTruthRecognizer:
        """Every `<name>.json` with a `fields` map beside an image `<name>.<ext>`."""
        recognizer = cls()
        for truth_file in sorted(directory.glob("*.json")):
            truth = json.loads(truth_file.read_text(encoding="utf-8"))
            image_file = directory / str(truth.get("image", ""))
            if truth.get("fields") and image_file.is_file():
                recognizer.add(image_file.read_bytes(), truth["fields"])
        return recognizer

    def read_license(self, image: bytes) -> RecognizerAnswer | None:
        fields = self._truths.get(image_digest(image))
        return RecognizerAnswer(dict(fields)) if fields is not None else None


@dataclass
class Reply:
    """A scripted answer. `body` (raw bytes) overrides the JSON built from `code`/`data`."""

    code: int = 0
    http_status: int = 200
    data: Mapping[str, Any] | None = None
    body: bytes | None = None
    content_type: str = "application/json; charset=utf-8"
    delay_seconds: float = 0.0

    @classmethod
    def error(cls, code: int, http_status: int = 200, delay_seconds: float = 0.0) -> Reply:
        return cls(code=code, http_status=http_status, delay_seconds=delay_seconds)

    @classmethod
    def html_502(cls) -> Reply:
        page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
        return cls(http_status=502, body=page, content_type="text/html")

    @classmethod
    def not_json(cls, http_status: int = 200) -> Reply:
        return cls(http_status=http_status, body=b"upstream says: ok?", content_type="text/plain")

    @classmethod
    def slow(cls, delay_seconds: float) -> Reply:
        return cls(delay_seconds=delay_seconds)


@dataclass(frozen=True)
class CallRecord:
    at: float
    image_digest: str | None
    code: int
    http_status: int
    input_type: str | None
    auth_forms: tuple[str, ...] = ()  # which key headers the request carried


@dataclass
class _State:
    scripts: dict[str, deque[Reply]] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)
    accepted_at: deque[float] = field(default_factory=deque)


class UpstreamEmulator:
    """`with UpstreamEmulator(...) as upstream:` serves on `upstream.url` until the block ends."""

    def __init__(
        self,
        recognizer: LicenseReader,
        api_keys: Iterable[str] = ("demo-key",),
        *,
        max_rps: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_url_hosts: Iterable[str] = ("127.0.0.1", "localhost"),
    ) -> None:
        self.recognizer = recognizer
        self.api_keys = set(api_keys)
        self.max_rps = max_rps
        self.allow_url_hosts = set(allow_url_hosts)
        self._state = _State()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{UPSTREAM_PATH}"

    def start(self) -> UpstreamEmulator:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> UpstreamEmulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- scripting and inspection ---------------------------------------------------------
    def script(self, image: bytes, *replies: Reply) -> None:
        """The next calls for this image get these replies, in order; then the recognizer."""
        with self._lock:
            self._state.scripts.setdefault(image_digest(image), deque()).extend(replies)

    @property
    def calls(self) -> list[CallRecord]:
        with self._lock:
            return list(self._state.calls)

    def calls_for(self, image: bytes) -> int:
        digest = image_digest(image)
        return sum(1 for call in self.calls if call.image_digest == digest)

    def max_calls_in_any_second(self) -> int:
        """The most calls the emulator accepted (not 429) in any one-second window."""
        times = sorted(c.at for c in self.calls if c.http_status != 429 and c.code != 429)
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    # -- the contract ---------------------------------------------------------------------
    def answer(self, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes, str, dict[str, str]]:
        """(HTTP status, body, content type, extra headers) for one request."""
        lowered = {k.lower() for k in headers}
        call = _Call(
            at=time.monotonic(),
            request_id=f"req_{uuid.uuid4().hex[:16]}",
            auth_forms=tuple(h for h in ("authorization", "x-api-key") if h in lowered),
        )
        if not self._key_ok(headers):
            return self._finish(call, None, None, 401, 4015)
        if self._rate_exceeded(call.at):
            return self._finish(call, None, None, 429, 429)
        try:
            input_type, image = self._read_image(body)
        except _BadRequest as bad:
            return self._finish(call, None, bad.input_type, 400, 4000)

        digest = image_digest(image)
        with self._lock:
            queue = self._state.scripts.get(digest)
            reply = queue.popleft() if queue else None
        if reply is not None:
            if reply.delay_seconds:
                time.sleep(reply.delay_seconds)
            if reply.body is not None:
                self._record(call, digest, input_type, reply.http_status, reply.http_status)
                return reply.http_status, reply.body, reply.content_type, {ANSWERED_BY_HEADER: "script"}
            if reply.code != 0 or reply.data is not None:
                return self._finish(
                    call,
                    digest,
                    input_type,
                    reply.http_status,
                    reply.code,
                    data=reply.data,
                    answered_by="script",
                )
        answer = self.recognizer.read_license(image)
        if answer is None:
            return self._finish(call, digest, input_type, 200, 5021, answered_by=self.recognizer.name)
        return self._finish(
            call,
            digest,
            input_type,
            200,
            0,
            data=answer.fields,
            confidence=answer.confidence,
            answered_by=self.recognizer.name,
        )

    def _key_ok(self, headers: Mapping[str, str]) -> bool:
        lowered = {k.lower(): v for k, v in headers.items()}
        bearer = lowered.get("authorization", "")
        key = bearer[7:].strip() if bearer.lower().startswith("bearer ") else ""
        return (key or lowered.get("x-api-key", "").strip()) in self.api_keys

    def _rate_exceeded(self, now: float) -> bool:
        if self.max_rps is None:
            return False
        with self._lock:
            accepted = self._state.accepted_at
            while accepted and now - accepted[0] >= 1.0:
                accepted.popleft()
            if len(accepted) >= self.max_rps:
                return True
            accepted.append(now)
            return False

    def _read_image(self, body: bytes) -> tuple[str, bytes]:
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _BadRequest(None) from None
        if not isinstance(document, dict):
            raise _BadRequest(None)
        input_type, data = document.get("input_type"), document.get("input_data")
        if input_type not in ("url", "base64") or not isinstance(data, str) or not data:
            raise _BadRequest(input_type if isinstance(input_type, str) else None)
        if input_type == "base64":
            if data.startswith("data:") and ";base64," in data:
                data = data.split(";base64,", 1)[1]
            try:
                return input_type, base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise _BadRequest(input_type) from None
        return input_type, self._fetch(data)

    def _fetch(self, url: str) -> bytes:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not _is_allowed_host(host, self.allow_url_hosts):
            raise _BadRequest("url")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
                return bytes(response.read())
        except OSError:
            raise _BadRequest("url") from None

    def _record(
        self, call: _Call, digest: str | None, input_type: str | None, status: int, code: int
    ) -> None:
        with self._lock:
            self._state.calls.append(CallRecord(call.at, digest, code, status, input_type, call.auth_forms))

    def _finish(
        self,
        call: _Call,
        digest: str | None,
        input_type: str | None,
        http_status: int,
        code: int,
        *,
        data: Mapping[str, Any] | None = None,
        confidence: Mapping[str, float] | None = None,
        answered_by: str = "emulator",
    ) -> tuple[int, bytes, str, dict[str, str]]:
        self._record(call, digest, input_type, http_status, code)
        document: dict[str, Any]
        if code == 0:
            document = {"code": 0, "msg": "成功", "data": license_fields_from(data or {})}
            if confidence is not None:
                document["confidence"] = dict(confidence)
        else:
            status, message = MESSAGES.get(code, ("UPSTREAM_ERROR", "error"))
            document = {"code": code, "status": status, "msg": message}
        document["request_id"] = call.request_id
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        return http_status, body, "application/json; charset=utf-8", {ANSWERED_BY_HEADER: answered_by}


@dataclass(frozen=True)
class _Call:
    """One request as it arrived: when, its request id, which key headers it carried."""

    at: float
    request_id: str
    auth_forms: tuple[str, ...]


class _BadRequest(Exception):
    def __init__(self, input_type: str | None) -> None:
        super().__init__("bad request")
        self.input_type = input_type


def _is_allowed_host(host: str, allowed: set[str]) -> bool:
    if host in allowed:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _handler_for(emulator: UpstreamEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in two writes; without this, Nagle's algorithm holds the
            # body until the client's delayed ACK (~40 ms), a latency the real upstream lacks.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if urlsplit(self.path).path != UPSTREAM_PATH:
                self._send(404, b'{"code":404,"msg":"not found"}', "application/json", {})
                return
            status, payload, content_type, extra = emulator.answer(dict(self.headers.items()), body)
            self._send(status, payload, content_type, extra)

        def do_GET(self) -> None:
            if urlsplit(self.path).path == "/health":
                self._send(200, b'{"status":"ok"}', "application/json", {})
            else:
                self._send(405, b'{"code":405,"msg":"use POST"}', "application/json", {})

        def _send(self, status: int, payload: bytes, content_type: str, extra: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value.encode("ascii", "replace").decode("ascii"))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return  # request lines name no personal data, but keep test output quiet

    return Handler
