"""A Lambda context whose remaining time never runs out: the pipeline's Deadline in unit tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FixedDeadline:
    """What the pipeline reads of Lambda's context: the request id (a retry of the same
    invocation keeps it) and the remaining time, fixed. It is a Deadline too."""

    aws_request_id: str = "invocation-1"
    seconds: float = 300.0

    def remaining_seconds(self) -> float:
        return self.seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds * 1000)
