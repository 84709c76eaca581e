"""The upstream contract emulator of the tests and the demo: the contract server of `serve`
(vehicle_license_recognizer.serve) plus what only a test tool needs: scripted replies per image
(error codes, HTML 502, non-JSON bodies, slow answers, answers that trickle in a byte at a time)
and a record of every call.

It never invents a result: its reader is either the offline recognizer or a lookup of
ground-truth files shipped beside sample images, and every answer says which one it was.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vehicle_license_intake.domain.fields import license_fields_from
from vehicle_license_intake.ports import Recognition
from vehicle_license_intake.upstream.contract import ENDPOINT_PATH
from vehicle_license_intake.upstream.rate_limit import busiest_window
from vehicle_license_recognizer.serve import (
    ANSWERED_BY_HEADER,
    Answer,
    ContractRequest,
    ContractServer,
    LicenseReader,
)

__all__ = [
    "ANSWERED_BY_HEADER",
    "ENDPOINT_PATH",
    "CallRecord",
    "GroundTruthRecognizer",
    "LicenseReader",
    "Reply",
    "UpstreamEmulator",
    "image_digest",
]


def image_digest(image: bytes) -> str:
    return hashlib.sha256(image).hexdigest()


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

    def read_license(self, image: bytes) -> Recognition | None:
        fields = self._truths.get(image_digest(image))
        return Recognition(dict(fields), source="ground-truth") if fields is not None else None


# Carries a trickle from `respond` to the request handler; never sent.
_TRICKLE_HEADER = "X-Emulator-Trickle"


@dataclass
class Reply:
    """A scripted answer. `body` (raw bytes) overrides the JSON built from `code`/`data`.
    `trickle_bytes` > 0: the answer's last that many bytes are sent one every `trickle_seconds`
    (each gap shorter than any read timeout, the whole as long as the test likes)."""

    code: int = 0
    http_status: int = 200
    data: Mapping[str, Any] | None = None
    body: bytes | None = None
    content_type: str = "application/json; charset=utf-8"
    delay_seconds: float = 0.0
    trickle_bytes: int = 0
    trickle_seconds: float = 0.0

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

    @classmethod
    def trickle(cls, last_bytes: int, every_seconds: float) -> Reply:
        """The recognizer's answer, its last `last_bytes` bytes one every `every_seconds`."""
        return cls(trickle_bytes=last_bytes, trickle_seconds=every_seconds)


@dataclass(frozen=True)
class CallRecord:
    at: float
    image_digest: str | None
    code: int
    http_status: int
    input_type: str | None
    auth_forms: tuple[str, ...] = ()  # which key headers the request carried


class UpstreamEmulator(ContractServer):
    """`with UpstreamEmulator(reader, keys) as upstream:` serves on `upstream.url`."""

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
        super().__init__(
            recognizer, api_keys, max_rps=max_rps, host=host, port=port, allow_url_hosts=allow_url_hosts
        )
        self._scripts: dict[str, deque[Reply]] = {}
        self._calls: list[CallRecord] = []
        self._record_lock = threading.Lock()
        self._outage: tuple[float, float, int] | None = None  # (start, end) monotonic, code
        self._server.RequestHandlerClass = _trickling(self._server.RequestHandlerClass)

    @property
    def recognizer(self) -> LicenseReader:
        return self.reader

    # -- scripting and inspection ---------------------------------------------------------
    def script(self, image: bytes, *replies: Reply) -> None:
        """The next calls for this image get these replies, in order; then the recognizer."""
        with self._record_lock:
            self._scripts.setdefault(image_digest(image), deque()).extend(replies)

    @property
    def calls(self) -> list[CallRecord]:
        with self._record_lock:
            return list(self._calls)

    def calls_for(self, image: bytes) -> int:
        digest = image_digest(image)
        return sum(1 for call in self.calls if call.image_digest == digest)

    def outage(self, seconds: float, *, code: int = 5020) -> None:
        """From now on, for `seconds`, every call that passes the key and rate checks is answered
        `code` (5020: the upstream's "HTTP error, try again later"), whatever the image; scripted
        replies wait until the outage is over."""
        now = time.monotonic()
        with self._record_lock:
            self._outage = (now, now + seconds, code)

    @property
    def outage_window(self) -> tuple[float, float] | None:
        """The last outage's (start, end), on the clock of `CallRecord.at` (time.monotonic)."""
        with self._record_lock:
            return None if self._outage is None else self._outage[:2]

    def _outage_code(self, now: float) -> int | None:
        with self._record_lock:
            if self._outage is not None and self._outage[0] <= now < self._outage[1]:
                return self._outage[2]
            return None

    def max_calls_in_any_second(self) -> int:
        """The most calls the emulator accepted (not 429) in any one-second window."""
        return busiest_window(c.at for c in self.calls if c.http_status != 429 and c.code != 429)

    # -- the contract, with scripts first -------------------------------------------------
    def respond(self, request: ContractRequest, input_type: str, image: bytes) -> Answer:
        outage = self._outage_code(request.at)
        if outage is not None:
            return self.finish(request, image, input_type, 200, outage, answered_by="outage")
        with self._record_lock:
            queue = self._scripts.get(image_digest(image))
            reply = queue.popleft() if queue else None
        if reply is None:
            return super().respond(request, input_type, image)
        if reply.delay_seconds:
            time.sleep(reply.delay_seconds)
        answer = self._scripted_answer(request, input_type, image, reply)
        if reply.trickle_bytes:
            answer[3][_TRICKLE_HEADER] = f"{reply.trickle_bytes}:{reply.trickle_seconds}"
        return answer

    def _scripted_answer(
        self, request: ContractRequest, input_type: str, image: bytes, reply: Reply
    ) -> Answer:
        if reply.body is not None:
            self.record(request, image, input_type, reply.http_status, reply.http_status)
            return reply.http_status, reply.body, reply.content_type, {ANSWERED_BY_HEADER: "script"}
        if reply.code != 0 or reply.data is not None:
            reading = Recognition(dict(reply.data or {})) if reply.code == 0 else None
            return self.finish(
                request,
                image,
                input_type,
                reply.http_status,
                reply.code,
                reading=reading,
                answered_by="script",
            )
        return super().respond(request, input_type, image)

    def record(
        self,
        request: ContractRequest,
        image: bytes | None,
        input_type: str | None,
        http_status: int,
        code: int,
    ) -> None:
        digest = image_digest(image) if image is not None else None
        with self._record_lock:
            self._calls.append(
                CallRecord(request.at, digest, code, http_status, input_type, request.auth_forms)
            )


def _trickling(handler: Any) -> Any:
    """The contract server's request handler, sending a trickle the way `Reply.trickle` asks."""

    class TricklingHandler(handler):  # type: ignore[misc]
        def _send(self, status: int, payload: bytes, content_type: str, extra: dict[str, str]) -> None:
            trickle = extra.pop(_TRICKLE_HEADER, None)
            if trickle is None:
                super()._send(status, payload, content_type, extra)
                return
            count, every = trickle.split(":")
            cut = max(0, len(payload) - int(count))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(payload[:cut])
                for index in range(cut, len(payload)):
                    time.sleep(float(every))
                    self.wfile.write(payload[index : index + 1])
            except OSError:  # the client gave up on the answer, as it should
                self.close_connection = True

    return TricklingHandler
