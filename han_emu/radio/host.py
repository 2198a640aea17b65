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
        # What the scheduler waits on (a wake, or its next due time); None while it works.
        self._host_waiter: asyncio.Future[bool] | None = None
        self._host_queue: asyncio.Queue[t.ZigbeePacket] = asyncio.Queue()
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
        waiter = self._host_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(False)

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
        self._host_tasks = [
            loop.create_task(self._host_sender(), name="packet-server-sender"),
            loop.create_task(self._host_scheduler(), name="packet-server-scheduler"),
        ]

    async def _host_stop(self) -> None:
        tasks, self._host_tasks = self._host_tasks, []
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
            self._host_queue.put_nowait(reply)
        self.wake_server()  # handling may have changed the schedule

    # -- outgoing -------------------------------------------------------------------

    async def _host_sender(self) -> None:
        """Send the server's packets one at a time, in the order it made them."""
        while True:
            packet = await self._host_queue.get()
            try:
                await self.send_packet(packet)  # type: ignore[attr-defined]
            except zigpy.exceptions.DeliveryError as exc:
                LOGGER.warning(
                    "Packet server reply to %s not delivered: %s", packet.dst, exc
                )
            except Exception:
                LOGGER.exception("Sending packet server packet %r failed", packet)
            finally:
                self._host_queue.task_done()

    async def flush(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until every packet the server made so
        far has been handed to the radio; False if some are still waiting.
        A stop should not cut off an answer a device is waiting for (the last
        message of a key establishment)."""
        if not self._host_tasks:
            return self._host_queue.empty()
        try:
            async with asyncio.timeout(timeout):
                await self._host_queue.join()
        except TimeoutError:
            return False
        return True

    async def _host_scheduler(self) -> None:
        """Call ``server.due()`` whenever ``server.next_due()`` says so."""
        loop = asyncio.get_running_loop()
        while True:
            delay = self._host_delay(self._host_clock or clock_for_loop())
            if delay is None or delay > 0:
                if not await self._host_sleep(loop, delay):
                    continue  # attached, or handled a packet: look at the schedule again
            server = self._host_server
            if server is None:
                continue
            try:
                packets = server.due()
            except Exception:
                LOGGER.exception("Packet server failed to produce its due packets")
                packets = []
            for packet in packets:
                self._host_queue.put_nowait(packet)
            if not packets:
                await asyncio.sleep(MIN_DUE_INTERVAL)

    async def _host_sleep(self, loop: asyncio.AbstractEventLoop, delay: float | None) -> bool:
        """Wait ``delay`` seconds (None: for ever) or until woken: True when
        the time ran out before we ran again (even just after a wake), as a
        timeout around the wait would say.

        One timer, and a future the wake resolves: a packet handled wakes the
        scheduler, so this runs for most packets of a simulation."""
        waiter: asyncio.Future[bool] = loop.create_future()
        ran = [False]
        timer = None
        if delay is not None:
            when = loop.time() + delay
            timer = (loop.call_soon(_time_up, waiter, ran) if when <= loop.time()
                     else loop.call_at(when, _time_up, waiter, ran))
        self._host_waiter = waiter
        try:
            await waiter
        finally:
            self._host_waiter = None
            if timer is not None:
                timer.cancel()
        return ran[0]

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


def _time_up(waiter: asyncio.Future[bool], ran: list[bool]) -> None:
    ran[0] = True
    if not waiter.done():
        waiter.set_result(True)
