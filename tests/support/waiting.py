"""Waiting for background work: poll a condition until a deadline.

A fixed sleep is either too short on a loaded machine (a flaky test) or too
long everywhere (a slow one); polling returns as soon as the work is done and
fails with a clear message when it never is.  Sleep a fixed time only to check
that nothing happens during an interval, and say so where you do.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not become true before the deadline."""


def _timed_out(predicate: Callable[[], object], timeout: float, what: str | None) -> WaitTimeout:
    name = what or getattr(predicate, "__qualname__", repr(predicate))
    return WaitTimeout(f"timed out after {timeout:g} s waiting for {name}")


def wait_until(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01,
               what: str | None = None) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something true
    (returned), or raise :class:`WaitTimeout` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise _timed_out(predicate, timeout, what)
        time.sleep(interval)


async def wait_until_async(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01,
                           what: str | None = None) -> T:
    """:func:`wait_until` for a test on an event loop: the loop runs (the app's
    tasks, a source's callbacks) between calls of ``predicate``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise _timed_out(predicate, timeout, what)
        await asyncio.sleep(interval)
