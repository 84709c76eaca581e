"""What the ports were asked, in order, and the faults a test plans for them."""

from __future__ import annotations

from collections import defaultdict, deque


class Journal:
    """The calls made through the fakes that share it, as "port.method" in call order."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    def note(self, entry: str) -> None:
        self.entries.append(entry)

    def position(self, entry: str) -> int:
        """Where `entry` first happened (ValueError when it never did)."""
        return self.entries.index(entry)


class Faults:
    """Errors a fake raises on its next calls of a method, as the real service might."""

    def __init__(self) -> None:
        self._planned: defaultdict[str, deque[Exception]] = defaultdict(deque)

    def fail_next(self, method: str, error: Exception, *, times: int = 1) -> None:
        self._planned[method].extend([error] * times)

    def raise_if_planned(self, method: str) -> None:
        if self._planned[method]:
            raise self._planned[method].popleft()
