"""A virtual-time asyncio event loop.

Simulations must run a day of HAN traffic in well under a second, yet the code
under test (zigpy's timeouts, our server's schedules, ``asyncio.sleep``) must
not know.  The loop below reports virtual time from ``loop.time()`` and, when
nothing is ready to run, jumps straight to the next timer instead of sleeping.

Real I/O still works: the selector is polled with a zero timeout, and when
no timer is pending at all the loop blocks on real I/O as usual (so
``call_soon_threadsafe`` from executor threads wakes it).  Running as fast as
it can, the loop polls real I/O only on one turn in a few, whether it turns
with callbacks ready or jumps to the next timer: a system call per turn was a
large part of a simulated day, and nothing that comes from outside is tied to
a virtual instant anyway (a paced loop polls before every jump, waiting its
scaled real time).  Work done in threads is *not* waited for before a jump, so
a simulation should not race thread results against timeouts.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import os
import selectors
import time
from asyncio import format_helpers
from contextvars import copy_context
from threading import get_ident
from asyncio.base_events import (  # type: ignore[attr-defined]
    _MIN_CANCELLED_TIMER_HANDLES_FRACTION,
    _MIN_SCHEDULED_TIMER_HANDLES,
    MAXIMUM_SELECT_TIMEOUT,
)
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from han_emu.meter.clock import Clock, WallClock

__all__ = [
    "LoopClock",
    "VirtualTimeLoop",
    "clock_for_loop",
    "loop_now",
    "run_virtual",
    "running_loop",
]

_T = TypeVar("_T")
LOGGER = logging.getLogger(__name__)

# While callbacks are ready, real I/O is polled on one loop turn in this many;
# jumping to the next timer as fast as it can, on one jump in this many.
BUSY_POLL_EVERY = 16

_new_handle = object.__new__
_heappush = heapq.heappush
_heappop = heapq.heappop

# The virtual-time loop running in each thread, while it runs (see running_loop).
_RUNNING: dict[int, VirtualTimeLoop] = {}
# A forked child runs none of its parent's loops (asyncio's own check, by process id).
os.register_at_fork(after_in_child=_RUNNING.clear)


class _JumpingSelector(selectors.BaseSelector):
    """Wraps a real selector: a select that would wait advances virtual time instead."""

    def __init__(self, real: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._real = real
        self._loop = loop
        self._busy_turns = 0
        self._jumps = 0

    def register(
        self, fileobj: Any, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(
        self, fileobj: Any, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(
        self, timeout: float | None = None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout <= 0:
            self._busy_turns += 1
            if self._busy_turns < BUSY_POLL_EVERY:
                return []
            self._busy_turns = 0
            return self._real.select(0)
        self._busy_turns = 0
        ready = self._real.select(0)
        if ready:
            return ready
        if timeout is None:
            # No timer at all: only real I/O (or another thread) can wake us.
            return self._real.select(None)
        speed = self._loop.speed
        if speed is None:
            self._loop._advance(timeout)
            return []
        # Paced: wait the scaled real time, still waking for real I/O.
        started = time.monotonic()
        ready = self._real.select(timeout / speed)
        if ready:
            self._loop._advance(min(timeout, (time.monotonic() - started) * speed))
        else:
            self._loop._advance(timeout)
        return ready

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock is virtual and skips idle time.

    ``loop.time()`` starts at 0; :attr:`clock` maps it onto POSIX time from
    ``start_epoch`` so the meter, the server and asyncio agree on "now".
    """

    def __init__(self, start_epoch: float = 0.0, speed: float | None = None) -> None:
        self._vtime = 0.0
        self._timer_seq = itertools.count()
        self.start_epoch = float(start_epoch)
        #: None runs as fast as possible; a number paces virtual time at that
        #: many virtual seconds per wall second (it may be changed while running).
        self.speed = speed
        super().__init__(_JumpingSelector(selectors.DefaultSelector(), self))
        self.clock = LoopClock(self)

    def time(self) -> float:
        return self._vtime

    def _advance(self, seconds: float) -> None:
        self._vtime += seconds

    # -- the timer heap ---------------------------------------------------------------
    # asyncio keeps its timers in a heap of TimerHandles, compared by a Python
    # __lt__ on their due times: a virtual day makes millions of those calls.
    # Here the heap holds (due time, sequence number, handle) triples, which
    # compare in C.  Timers due at the same instant fire in the order they
    # were set: asyncio leaves that order to the heap's shape (which depends
    # on every timer set and cancelled before), so a loop that sets fewer
    # timers for the same work would otherwise reorder the ties.  Only
    # call_at and _run_once touch the heap: both are asyncio's own, as in
    # Python 3.11, with the triples in place of the handles.

    def call_soon(self, callback: Any, *args: Any, context: Any = None) -> asyncio.Handle:
        """asyncio's, less its debug-mode checks when not debugging: every
        future's result and every task's step comes through here."""
        if self._debug:
            return super().call_soon(callback, *args, context=context)
        if self._closed:
            raise RuntimeError("Event loop is closed")
        handle = _new_handle(asyncio.Handle)  # Handle.__init__ without its debug look-up
        handle._context = copy_context() if context is None else context
        handle._loop = self
        handle._callback = callback
        handle._args = args
        handle._cancelled = False
        handle._repr = None
        handle._source_traceback = None
        self._ready.append(handle)
        return handle

    def call_at(self, when: float, callback: Any, *args: Any, context: Any = None) -> asyncio.TimerHandle:
        if when is None:
            raise TypeError("when cannot be None")
        if self._closed:  # self._check_closed(), without the call
            raise RuntimeError("Event loop is closed")
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_at")
        if self._debug:
            timer = asyncio.TimerHandle(when, callback, args, self, context)
            if timer._source_traceback:
                del timer._source_traceback[-1]
        else:  # TimerHandle.__init__, as Handle's above
            timer = _new_handle(asyncio.TimerHandle)
            timer._context = copy_context() if context is None else context
            timer._loop = self
            timer._callback = callback
            timer._args = args
            timer._cancelled = False
            timer._repr = None
            timer._source_traceback = None
            timer._when = when
        _heappush(self._scheduled, (when, next(self._timer_seq), timer))
        timer._scheduled = True
        return timer

    def run_forever(self) -> None:
        """asyncio's, with the loop noted as running in this thread for
        :func:`running_loop` (not when asyncio refuses to run it here)."""
        ident = get_ident()
        if ident in _RUNNING:
            return super().run_forever()  # raises: a loop is running here already
        _RUNNING[ident] = self
        try:
            return super().run_forever()
        finally:
            del _RUNNING[ident]

    def _run_once(self) -> None:
        scheduled = self._scheduled
        sched_count = len(scheduled)
        if (sched_count > _MIN_SCHEDULED_TIMER_HANDLES
                and self._timer_cancelled_count / sched_count > _MIN_CANCELLED_TIMER_HANDLES_FRACTION):
            kept = []
            for entry in scheduled:
                if entry[2]._cancelled:
                    entry[2]._scheduled = False
                else:
                    kept.append(entry)
            heapq.heapify(kept)
            self._scheduled = scheduled = kept
            self._timer_cancelled_count = 0
        else:
            while scheduled and scheduled[0][2]._cancelled:
                self._timer_cancelled_count -= 1
                heapq.heappop(scheduled)[2]._scheduled = False

        ready = self._ready
        selector = self._selector
        if ready or self._stopping:
            # What the jumping selector does with a zero timeout, without the calls.
            selector._busy_turns += 1
            if selector._busy_turns >= BUSY_POLL_EVERY:
                selector._busy_turns = 0
                self._process_events(selector._real.select(0))
        elif scheduled and self.speed is None:
            # A jump to the next timer, as the jumping selector makes it, with
            # real I/O polled (and served before the jump) one jump in a few.
            selector._jumps += 1
            events = None
            if selector._jumps >= BUSY_POLL_EVERY:
                selector._jumps = 0
                events = selector._real.select(0)
            if events:
                self._process_events(events)
            else:
                self._vtime += min(max(0, scheduled[0][0] - self._vtime), MAXIMUM_SELECT_TIMEOUT)
        else:
            timeout = None
            if scheduled:
                timeout = min(max(0, scheduled[0][0] - self._vtime), MAXIMUM_SELECT_TIMEOUT)
            self._process_events(selector.select(timeout))

        end_time = self._vtime + self._clock_resolution
        while scheduled and scheduled[0][0] < end_time:
            handle = _heappop(scheduled)[2]
            handle._scheduled = False
            ready.append(handle)

        popleft = ready.popleft
        for _ in range(len(ready)):
            handle = popleft()
            if handle._cancelled:
                continue
            if self._debug:
                try:
                    self._current_handle = handle
                    t0 = self.time()
                    handle._run()
                    dt = self.time() - t0
                    if dt >= self.slow_callback_duration:
                        LOGGER.warning("Executing %s took %.3f seconds", handle, dt)
                finally:
                    self._current_handle = None
            else:
                # handle._run(), inline: a call less for each of the million
                # callbacks of a virtual day (every handle here is asyncio's
                # own Handle or TimerHandle, whose _run this is).
                try:
                    handle._context.run(handle._callback, *handle._args)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as exc:
                    _callback_failed(handle, exc)
        handle = None  # breaks cycles when an exception occurs


def _callback_failed(handle: asyncio.Handle, exc: BaseException) -> None:
    """What asyncio's ``Handle._run`` does when its callback raises."""
    cb = format_helpers._format_callback_source(handle._callback, handle._args)
    context = {
        "message": f"Exception in callback {cb}",
        "exception": exc,
        "handle": handle,
    }
    if handle._source_traceback:
        context["source_traceback"] = handle._source_traceback
    handle._loop.call_exception_handler(context)


class LoopClock:
    """A :class:`han_emu.meter.clock.Clock` that reads a virtual-time loop."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._loop = loop

    def now(self) -> float:
        return self._loop.start_epoch + self._loop.time()


def loop_now(loop: asyncio.AbstractEventLoop) -> float:
    """``clock_for_loop(loop).now()``, without a clock looked up on the way:
    the virtual air stamps every frame with it."""
    if type(loop) is VirtualTimeLoop:
        return loop.start_epoch + loop._vtime
    return clock_for_loop(loop).now()


def running_loop() -> asyncio.AbstractEventLoop:
    """``asyncio.get_running_loop()``, read from the note a virtual-time loop
    keeps while it runs in this thread: asyncio's makes a getpid() system call
    on every call (to tell a forked child), and the virtual air and its nodes
    ask on every frame.  Other loops are asked of asyncio as before."""
    loop = _RUNNING.get(get_ident())
    return asyncio.get_running_loop() if loop is None else loop


def clock_for_loop(loop: asyncio.AbstractEventLoop | None = None) -> Clock:
    """The clock matching ``loop`` (the running loop by default): virtual or wall."""
    if loop is None:
        loop = asyncio.get_running_loop()
    if isinstance(loop, VirtualTimeLoop):
        return loop.clock
    return WallClock()


def run_virtual(
    coro: Coroutine[Any, Any, _T], start_epoch: float = 0.0, speed: float | None = None
) -> _T:
    """Run ``coro`` to completion on a fresh :class:`VirtualTimeLoop`.

    Inside, ``clock_for_loop()`` gives the virtual clock starting at
    ``start_epoch`` (POSIX seconds).
    """
    with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(start_epoch, speed)) as runner:
        return runner.run(coro)
