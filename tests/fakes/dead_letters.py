"""An in-memory DeadLetterSink: the messages it was sent, in order."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from fakes.journal import Faults, Journal


class RecordingDeadLetters:
    def __init__(self, journal: Journal | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.journal = journal or Journal()
        self.faults = Faults()

    def send(self, message: Mapping[str, Any]) -> str:
        self.journal.note("dead_letters.send")
        self.faults.raise_if_planned("send")
        self.sent.append(copy.deepcopy(dict(message)))
        return f"message-{len(self.sent)}"
