"""Carrying a PacketServer on any zigpy ControllerApplication.

zigpy drops Smart Energy frames and would answer from the wrong endpoint, so
the server sits below zigpy's device layer: the host registers the server's
endpoints with the radio, takes every packet the server wants before zigpy
sees it, sends the server's replies with ``send_packet``, and wakes the server
when its next scheduled packets (reports, publishes) fall due.  The same mixin
serves the virtual radio, EZSP and Z-Stack.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import zigpy.exceptions
import zigpy.types as t
from zigpy.zdo.types import SimpleDescriptor

from han_emu.meter.clock import Clock
from han_emu.radio.vtime import clock_for_loop
from han_emu.server.contract import PacketServer

LOGGER = logging.getLogger(__name__)

# Shortest pause between two calls to server.due() when the server keeps
# saying something is due but returns nothing: stops a hot loop.
MIN_DUE_INTERVAL = 0.01


class ServerHost:
    """Mixin for a ``zigpy.application.ControllerApplication`` subclass.

    Put it first in the bases, e.g.
    ``class App(ServerHost, VirtualControllerApplication)``, and attach the
    server before ``startup()`` so its endpoints are registered with the radio.
    Server endpoints take the place of zigpy's default endpoints with the
    same number.
    """

    _host_server: PacketServer | None = None
    _host_clock: Clock | None = None

    def __init__(self, *args: Any, server: PacketServer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._host_server = server
        self._host_clock = None
        self._host_skip: set[int] = set()
        # The scheduler (see _host_step): the loop it runs on while started, its
        # timer (next due time, or the pause after an empty due()), the step
        # queued to run, whether it waits for a wake or its timer, and whether
        # that timer ran out.
        self._host_loop: asyncio.AbstractEventLoop | None = None
        self._host_loop_clock: Clock | None = None
        self._host_timer: asyncio.Handle | None = None
        self._host_pending: asyncio.Handle | None = None
        self._host_waiting = False
        self._host_ran = False
        # The sender's queue (see _host_put): packets not yet taken, packets
        # not yet sent, and the futures the sender and flush() wait on.
        self._host_outbox: deque[t.ZigbeePacket] = deque()
        self._host_unfinished = 0
        self._host_sender_waiter: asyncio.Future[None] | None = None
        self._host_flush_waiters: list[asyncio.Future[None]] = []
        self._host_tasks: list[asyncio.Task[None]] = []
        self.host_observers: list[Callable[[t.ZigbeePacket], None]] = []
        """Called with every packet the radio delivers, before the server or
        zigpy take it (e.g. ZDO Bind requests the stick's firmware answered)."""

    # -- wiring ---------------------------------------------------------------------

    @property
    def server(self) -> PacketServer | None:
        return self._host_server

    def attach_server(self, server: PacketServer, clock: Clock | None = None) -> None:
        """Carry ``server``; ``clock`` is the one its ``next_due`` is judged by
        (by default the running loop's: virtual on a virtual loop, else wall)."""
        self._host_server = server
        self._host_clock = clock
        self.wake_server()

    def wake_server(self) -> None:
        """The server's model changed: ask it again what is due (reports on
        change cannot be foreseen by ``next_due``)."""
        if self._host_waiting:
            self._host_waiting = False
            self._host_pending = self._host_loop.call_soon(self._host_step)  # type: ignore[union-attr]

    def _server_descriptors(self) -> list[SimpleDescriptor]:
        server = self._host_server
        if server is None:
            return []
        try:
            return list(server.descriptors())
        except Exception:
            LOGGER.exception("Packet server %r failed to list its endpoints", server)
            return []

    async def register_endpoints(self) -> None:
        descriptors = self._server_descriptors()
        self._host_skip = {int(d.endpoint) for d in descriptors}
        try:
            await super().register_endpoints()  # type: ignore[misc]
        finally:
            self._host_skip = set()
        for descriptor in descriptors:
            await super().add_endpoint(descriptor)  # type: ignore[misc]

    async def add_endpoint(self, descriptor: SimpleDescriptor) -> None:
        if int(descriptor.endpoint) in self._host_skip:
            LOGGER.debug("Endpoint %d belongs to the packet server", descriptor.endpoint)
            return
        await super().add_endpoint(descriptor)  # type: ignore[misc]

    # -- lifecycle ------------------------------------------------------------------

    async def initialize(self, *, auto_form: bool = False) -> None:
        await super().initialize(auto_form=auto_form)  # type: ignore[misc]
        self._host_start()

    async def shutdown(self, *, db: bool = True) -> None:
        await self._host_stop()
        await super().shutdown(db=db)  # type: ignore[misc]

    def _host_start(self) -> None:
        if self._host_tasks:
            return
        loop = asyncio.get_running_loop()
        self._host_loop = loop
        self._host_loop_clock = clock_for_loop(loop)
        self._host_tasks = [loop.create_task(self._host_sender(), name="packet-server-sender")]
        # The scheduler's first step, where a task's first step would run.
        self._host_pending = loop.call_soon(self._host_plan_step)

    async def _host_stop(self) -> None:
        tasks, self._host_tasks = self._host_tasks, []
        self._host_waiting = False
        for handle in (self._host_pending, self._host_timer):
            if handle is not None:
                handle.cancel()
        self._host_pending = self._host_timer = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- incoming -------------------------------------------------------------------

    def packet_received(self, packet: t.ZigbeePacket) -> None:
        for observer in self.host_observers:
            try:
                observer(packet)
            except Exception:
                LOGGER.exception("Packet observer %r failed on %r", observer, packet)
        server = self._host_server
        if server is not None:
            try:
                wanted = server.wants(packet)
            except Exception:
                LOGGER.exception("Packet server failed to judge %r; passing it to zigpy", packet)
                wanted = False
            if wanted:
                self._host_handle(server, packet)
                return
        super().packet_received(packet)  # type: ignore[misc]

    def _host_handle(self, server: PacketServer, packet: t.ZigbeePacket) -> None:
        try:
            replies = server.handle(packet)
        except Exception:
            LOGGER.exception("Packet server failed to handle %r; no reply sent", packet)
            return
        for reply in replies:
            self._host_put(reply)
        self.wake_server()  # handling may have changed the schedule

    # -- outgoing -------------------------------------------------------------------
    # A deque and a future in place of an asyncio.Queue: the same hand-off
    # (the sender, waiting on an empty queue, is woken by the put, at the same
    # point of the loop), without the Queue's method calls and Event for each
    # of the thousands of packets a simulation sends.

    def _host_put(self, packet: t.ZigbeePacket) -> None:
        """Queue ``packet`` for the sender (asyncio.Queue.put_nowait's work)."""
        self._host_outbox.append(packet)
        self._host_unfinished += 1
        waiter = self._host_sender_waiter
        if waiter is not None:
            self._host_sender_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _host_sender(self) -> None:
        """Send the server's packets one at a time, in the order it made them."""
        loop = asyncio.get_running_loop()
        outbox = self._host_outbox
        while True:
            while not outbox:
                waiter: asyncio.Future[None] = loop.create_future()
                self._host_sender_waiter = waiter
                try:
                    await waiter
                finally:
                    if self._host_sender_waiter is waiter:
                        self._host_sender_waiter = None
            packet = outbox.popleft()
            try:
                await self.send_packet(packet)  # type: ignore[attr-defined]
            except zigpy.exceptions.DeliveryError as exc:
                LOGGER.warning(
                    "Packet server reply to %s not delivered: %s", packet.dst, exc
                )
            except Exception:
                LOGGER.exception("Sending packet server packet %r failed", packet)
            finally:
                self._host_unfinished -= 1
                if not self._host_unfinished:
                    waiters, self._host_flush_waiters = self._host_flush_waiters, []
                    for done in waiters:
                        if not done.done():
                            done.set_result(None)

    async def flush(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until every packet the server made so
        far has been handed to the radio; False if some are still waiting.
        A stop should not cut off an answer a device is waiting for (the last
        message of a key establishment)."""
        if not self._host_tasks:
            return not self._host_outbox
        try:
            async with asyncio.timeout(timeout):
                if self._host_unfinished:
                    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    self._host_flush_waiters.append(done)
                    try:
                        await done
                    finally:
                        if done in self._host_flush_waiters:
                            self._host_flush_waiters.remove(done)
        except TimeoutError:
            return False
        return True

    # -- the schedule -----------------------------------------------------------------
    # The scheduler was a task: look at next_due(), sleep until then or until
    # woken, call due(), again.  A woken task runs one step on the loop's next
    # turn; a simulation wakes it after every packet the server handles, and
    # the wake-up (a future, the task's step, two coroutine frames resumed)
    # cost more than the look at the schedule.  The same steps now run as
    # plain callbacks, queued with call_soon exactly where the task's steps
    # were (a wake, the timer's run-out, the end of the pause after an empty
    # due()), and setting their timers at the same points: callbacks and
    # timers follow one another as before, so ties between timers due at the
    # same instant (fired in the order they were set) fall as before.

    def _host_time_up(self) -> None:
        """The scheduler's timer ran out (asyncio: resolve the future it sleeps on)."""
        self._host_ran = True
        if self._host_waiting:
            self._host_waiting = False
            self._host_pending = self._host_loop.call_soon(self._host_step)  # type: ignore[union-attr]

    def _host_step(self) -> None:
        """Woken, or the time ran out: due() if it ran out (even just after a
        wake, as a timeout around the wait would say), else a new look."""
        self._host_pending = None
        timer = self._host_timer
        if timer is not None:
            self._host_timer = None
            timer.cancel()
        if self._host_ran and not self._host_due():
            return
        self._host_plan()

    def _host_plan_step(self) -> None:
        """The first step, and the one after the pause."""
        self._host_pending = None
        self._host_plan()

    def _host_plan(self) -> None:
        """Call ``server.due()`` whenever ``server.next_due()`` says so: sleep
        until then (None: until woken), or call it now."""
        while True:
            delay = self._host_delay(self._host_clock or self._host_loop_clock)  # type: ignore[arg-type]
            if delay is None or delay > 0:
                self._host_sleep(delay)
                return
            if not self._host_due():
                return

    def _host_due(self) -> bool:
        """``server.due()``'s packets to the sender; False when it had none and
        the scheduler pauses (it stops a hot loop), True to look again now."""
        server = self._host_server
        if server is None:
            return True
        try:
            packets = server.due()
        except Exception:
            LOGGER.exception("Packet server failed to produce its due packets")
            packets = []
        for packet in packets:
            self._host_put(packet)
        if packets:
            return True
        loop = self._host_loop
        self._host_timer = loop.call_at(loop.time() + MIN_DUE_INTERVAL, self._host_pause_over)  # type: ignore[union-attr]
        return False

    def _host_pause_over(self) -> None:
        """The pause ran out (asyncio.sleep: resolve the future it waits on)."""
        self._host_timer = None
        self._host_pending = self._host_loop.call_soon(self._host_plan_step)  # type: ignore[union-attr]

    def _host_sleep(self, delay: float | None) -> None:
        """Wait ``delay`` seconds (None: for ever) or until woken."""
        loop = self._host_loop
        self._host_ran = False
        if delay is not None:
            when = loop.time() + delay  # type: ignore[union-attr]
            self._host_timer = (loop.call_soon(self._host_time_up) if when <= loop.time()  # type: ignore[union-attr]
                                else loop.call_at(when, self._host_time_up))  # type: ignore[union-attr]
        self._host_waiting = True

    def _host_delay(self, clock: Clock) -> float | None:
        server = self._host_server
        if server is None:
            return None
        try:
            when = server.next_due()
        except Exception:
            LOGGER.exception("Packet server failed to tell its next due time")
            return MIN_DUE_INTERVAL * 100
        if when is None:
            return None
        return max(0.0, when - clock.now())

