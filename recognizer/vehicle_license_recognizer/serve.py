"""`vehicle-license-intake serve`: the offline recognizer behind the upstream's HTTP contract.

A product server, on 127.0.0.1 unless told otherwise: it checks the key (both documented header
forms), validates the body like the upstream (4000), may enforce a request rate (429), and
answers from a LicenseReader. It keeps no record of its calls (its memory does not grow with
them) and cannot be scripted; the contract emulator of the tests and the demo
(vehicle_license_tools.emulator) builds on it and adds both.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import socket
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, Self
from urllib.parse import urlsplit

from vehicle_license_intake.ports import Recognition
from vehicle_license_intake.upstream.contract import ENDPOINT_PATH, error_document, success_document
from vehicle_license_intake.upstream.rate_limit import SlidingWindow

ANSWERED_BY_HEADER = "X-Answered-By"
# A 10 MB image (MAX_IMAGE_BYTES' default) is 13.4 MB in base64; anything larger is refused.
MAX_BODY_BYTES = 16 * 1024 * 1024


class LicenseReader(Protocol):
    """Reads a license image; None means it is not a recognisable license (5021)."""

    name: str

    def read_license(self, image: bytes) -> Recognition | None: ...


@dataclass(frozen=True)
class ContractRequest:
    """One request as it arrived: when, its request id, which key headers it carried."""

    at: float
    request_id: str
    auth_forms: tuple[str, ...]


Answer = tuple[int, bytes, str, dict[str, str]]  # HTTP status, body, content type, extra headers


class BadRequest(Exception):
    def __init__(self, input_type: str | None) -> None:
        super().__init__("bad request")
        self.input_type = input_type


class ContractServer:
    """`with ContractServer(reader, keys) as server:` serves on `server.url` until the block ends."""

    def __init__(
        self,
        reader: LicenseReader,
        api_keys: Iterable[str],
        *,
        max_rps: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_url_hosts: Iterable[str] = ("127.0.0.1", "localhost"),
    ) -> None:
        self.reader = reader
        self.api_keys = {key for key in api_keys if key}
        if not self.api_keys:
            raise ValueError("at least one API key is required")
        self.max_rps = max_rps
        self.allow_url_hosts = set(allow_url_hosts)
        self._lock = threading.Lock()
        self._rate = SlidingWindow(max_rps) if max_rps else None
        self._server = QuietServer((host, port), _handler_for(self))

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{ENDPOINT_PATH}"

    def start(self) -> Self:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- the contract ---------------------------------------------------------------------
    def answer(self, headers: Mapping[str, str], body: bytes) -> Answer:
        lowered = {k.lower(): v for k, v in headers.items()}
        request = ContractRequest(
            at=time.monotonic(),
            request_id=f"req_{uuid.uuid4().hex[:16]}",
            auth_forms=tuple(h for h in ("authorization", "x-api-key") if h in lowered),
        )
        if not self._key_ok(lowered):
            return self.finish(request, None, None, 401, 4015)
        if self._rate_exceeded(request.at):
            return self.finish(request, None, None, 429, 429)
        try:
            input_type, image = self._read_image(body)
        except BadRequest as bad:
            return self.finish(request, None, bad.input_type, 400, 4000)
        return self.respond(request, input_type, image)

    def respond(self, request: ContractRequest, input_type: str, image: bytes) -> Answer:
        """The answer for a valid request: the reader's reading, or 5021."""
        reading = self.reader.read_license(image)
        if reading is None:
            return self.finish(request, image, input_type, 200, 5021, answered_by=self.reader.name)
        return self.finish(request, image, input_type, 200, 0, reading=reading, answered_by=self.reader.name)

    def finish(
        self,
        request: ContractRequest,
        image: bytes | None,
        input_type: str | None,
        http_status: int,
        code: int,
        *,
        reading: Recognition | None = None,
        answered_by: str = "contract server",
    ) -> Answer:
        self.record(request, image, input_type, http_status, code)
        if code == 0:
            fields = reading.fields if reading is not None else {}
            confidence = reading.confidence if reading is not None else None
            document = success_document(fields, request.request_id, confidence)
        else:
            document = error_document(code, request.request_id)
        payload = json.dumps(document, ensure_ascii=False).encode("utf-8")
        return http_status, payload, "application/json; charset=utf-8", {ANSWERED_BY_HEADER: answered_by}

    def record(
        self,
        request: ContractRequest,
        image: bytes | None,
        input_type: str | None,
        http_status: int,
        code: int,
    ) -> None:
        """Called once per answered request; the product server keeps nothing."""

    def _key_ok(self, lowered: Mapping[str, str]) -> bool:
        bearer = lowered.get("authorization", "")
        key = bearer[7:].strip() if bearer.lower().startswith("bearer ") else ""
        return (key or lowered.get("x-api-key", "").strip()) in self.api_keys

    def _rate_exceeded(self, now: float) -> bool:
        if self._rate is None:
            return False
        with self._lock:
            return not self._rate.try_add(now)

    def _read_image(self, body: bytes) -> tuple[str, bytes]:
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadRequest(None) from None
        if not isinstance(document, dict):
            raise BadRequest(None)
        input_type, data = document.get("input_type"), document.get("input_data")
        if input_type not in ("url", "base64") or not isinstance(data, str) or not data:
            raise BadRequest(input_type if isinstance(input_type, str) else None)
        if input_type == "base64":
            if data.startswith("data:") and ";base64," in data:
                data = data.split(";base64,", 1)[1]
            try:
                return input_type, base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(input_type) from None
        return input_type, self._fetch(data)

    def _fetch(self, url: str) -> bytes:
        """url mode: only from the allowed hosts (loopback by default), never anywhere else."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not _is_allowed_host(host, self.allow_url_hosts):
            raise BadRequest("url")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - allowed hosts only
                return bytes(response.read(MAX_BODY_BYTES + 1))[:MAX_BODY_BYTES]
        except OSError:
            raise BadRequest("url") from None


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up before its answer (its own timeout, as a caller's should) is not an
    error of the server's: no traceback on stderr. Any other exception is reported as before."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset/Aborted
            return
        super().handle_error(request, client_address)


def _is_allowed_host(host: str, allowed: set[str]) -> bool:
    if host in allowed:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _handler_for(server: ContractServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in two writes; without this, Nagle's algorithm holds the
            # body until the client's delayed ACK (~40 ms), a latency the real upstream lacks.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if urlsplit(self.path).path != ENDPOINT_PATH:
                self._send(404, b'{"code":404,"msg":"not found"}', "application/json", {})
                return
            if length < 0 or length > MAX_BODY_BYTES:
                self.close_connection = True
                self._send(413, b'{"code":4000,"msg":"request body too large"}', "application/json", {})
                return
            body = self.rfile.read(length) if length else b""
            self._send(*server.answer(dict(self.headers.items()), body))

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
            return  # request lines name no personal data, but keep the output quiet

    return Handler
