"""A Recognizer that answers what the test scripted: the 20 fields, or an UpstreamError."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from fakes.journal import Journal
from vehicle_license_intake.ports import Deadline, ImagePayload, Recognition
from vehicle_license_intake.upstream.errors import UpstreamError


class ScriptedRecognizer:
    """Answers each call with the next scripted outcome; once the script is used up, with
    `fields` (the license every test starts from)."""

    source = "upstream"

    def __init__(self, fields: Mapping[str, str], journal: Journal | None = None) -> None:
        self.fields = dict(fields)
        self.journal = journal or Journal()
        self.calls: list[ImagePayload] = []
        self._script: deque[Recognition | UpstreamError] = deque()

    def script(self, *outcomes: Recognition | UpstreamError) -> None:
        self._script.extend(outcomes)

    def recognize(self, payload: ImagePayload, deadline: Deadline, *, may_defer: bool = False) -> Recognition:
        self.journal.note("recognizer.recognize")
        self.calls.append(payload)
        outcome = self._script.popleft() if self._script else Recognition(dict(self.fields), "req_fake")
        if isinstance(outcome, UpstreamError):
            outcome.attempts = 1
            raise outcome
        return outcome
