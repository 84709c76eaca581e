"""OCR_FALLBACK=local: which holds of the fleet's guard the offline recognizer answers for."""

from __future__ import annotations

import pytest

from fakes.deadline import FixedDeadline
from vehicle_license_intake.fallback import FallbackRecognizer
from vehicle_license_intake.ports import Deadline, ImagePayload, Recognition
from vehicle_license_intake.upstream.guard import UpstreamHeld


class HeldUpstream:
    source = "upstream"

    def __init__(self, held: UpstreamHeld) -> None:
        self.held = held

    def recognize(self, payload: ImagePayload, deadline: Deadline, *, may_defer: bool = False) -> Recognition:
        raise self.held


class Offline:
    source = "local"

    def __init__(self) -> None:
        self.calls = 0

    def recognize(self, payload: ImagePayload, deadline: Deadline, *, may_defer: bool = False) -> Recognition:
        self.calls += 1
        return Recognition({"plate_number": "沪B7K29Q"}, source="local")


def test_an_open_breaker_is_answered_offline_on_either_path() -> None:
    for may_defer in (True, False):
        offline = Offline()
        fallback = FallbackRecognizer(HeldUpstream(UpstreamHeld("breaker", 0.0)), offline)
        answer = fallback.recognize(
            ImagePayload("base64", image=b"jpeg"), FixedDeadline(), may_defer=may_defer
        )
        assert answer.source == "local" and offline.calls == 1


def test_a_suspect_upstream_is_waited_for_from_the_queue_and_answered_offline_on_the_direct_path() -> None:
    """One call failed and another probes: from the intake queue the upload waits a few seconds
    for the upstream's own answer rather than take the offline one; on the direct path, where
    nothing waits, the offline recognizer answers."""
    suspect = UpstreamHeld("breaker", 5.0, suspect=True)
    offline = Offline()
    with pytest.raises(UpstreamHeld):
        FallbackRecognizer(HeldUpstream(suspect), offline).recognize(
            ImagePayload("base64", image=b"jpeg"), FixedDeadline(), may_defer=True
        )
    assert offline.calls == 0

    answer = FallbackRecognizer(HeldUpstream(suspect), offline).recognize(
        ImagePayload("base64", image=b"jpeg"), FixedDeadline(), may_defer=False
    )
    assert answer.source == "local" and offline.calls == 1
