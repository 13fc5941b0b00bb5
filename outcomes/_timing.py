"""Wall time of a function's consecutive stages, for the ``stage_ms`` of its result."""

from __future__ import annotations

import time


class StageClock:
    """``lap(name)`` records the milliseconds since the previous lap (or the clock's start) in ``times``."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = (now - self._last) * 1e3
        self._last = now
