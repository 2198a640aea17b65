"""The coordinator link's state as a stick run shows it, and the back-off between
reconnection attempts (kept apart from :mod:`han_emu.han.hardware`, which drives them)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

#: Link states, in the order a run normally goes through them.
CONNECTING, UP, DOWN, STOPPED = "connecting", "up", "down", "stopped"


@dataclass(frozen=True)
class Backoff:
    """Delays between reconnection attempts: ``initial``, doubling up to ``maximum``."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(self.maximum, delay * self.factor)


@dataclass
class LinkStatus:
    """The coordinator link as a display shows it."""

    state: str = CONNECTING
    since: float = field(default_factory=time.time)
    #: Failed attempts since the link went down.
    attempts: int = 0
    #: Times the link came back after being lost.
    reconnects: int = 0
    last_error: str | None = None
    #: Wall time of the next attempt while down.
    retry_at: float | None = None
    #: What the stick is doing while it starts ("forming a new network", ...), else None.
    step: str | None = None
