"""In-memory fakes of the ports (vehicle_license_intake.ports): the pipeline tested without AWS
and without HTTP. Each fake behaves like its adapter, notes its calls in a shared Journal, and
raises the faults a test plans for it (`fake.faults.fail_next("send", error)`)."""

from __future__ import annotations

from fakes.dead_letters import RecordingDeadLetters
from fakes.deadline import FixedDeadline
from fakes.journal import Faults, Journal
from fakes.objects import InMemoryObjects
from fakes.recognizer import ScriptedRecognizer
from fakes.results import InMemoryResults

__all__ = [
    "Faults",
    "FixedDeadline",
    "InMemoryObjects",
    "InMemoryResults",
    "Journal",
    "RecordingDeadLetters",
    "ScriptedRecognizer",
]
