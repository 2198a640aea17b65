"""A live sniffer as a dashboard source: frames shown as they are heard.

The sniffer reads on its own thread (a ``recv`` or a pipe read would block
the event loop and freeze the screen); each record it reads is posted to an
asyncio queue on the dashboard's loop, and one task there decodes what has
arrived and shows it.  Decoding, the readout, the duty-cycle ledger and the
frame log therefore all live on the loop, as they do for a capture replay:
:class:`SniffSource` is a :class:`ReplaySource` whose records arrive instead
of being read, with no pacing and no progress bar (a live source has no end
to measure against).  Pausing holds what is shown; frames heard meanwhile
wait in the queue and are shown on resume.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from pathlib import Path

from clusters.mp184 import EndpointMap
from han_emu.replay import CaptureProblem, RawFrame, ReplayDutyCycle
from han_emu.replay.live import LiveRecords
from han_emu.tui.replay_source import ReplaySource
from han_emu.tui.source import LOG_LENGTH, Progress

Record = RawFrame | CaptureProblem


class _Arrived:
    """The records that have arrived so far: iterating takes them off the queue
    and stops when it is empty, so each :meth:`Replay.frames` pass decodes
    what is there (the decoder's keys and counters persist between passes)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Record | None] = asyncio.Queue()
        self.ended = False
        self._held: list[Record | None] = []  # taken off the queue by :meth:`wait`, not yet decoded

    async def wait(self) -> None:
        """Return when something has arrived (or the end)."""
        if not self._held and self.queue.empty():
            self._held.append(await self.queue.get())

    def __iter__(self) -> Iterator[Record]:
        while not self.ended:
            if self._held:
                rec = self._held.pop()
            else:
                try:
                    rec = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
            if rec is None:
                self.ended = True
                return
            yield rec


class SniffSource(ReplaySource):
    """The dashboard on a live sniffer (:class:`~han_emu.replay.live.LiveRecords`).

    :meth:`start` starts the sniffer's thread and the task that shows what it
    hears; :meth:`stop` stops both.  The status line names the source and
    counts what was heard.  Pausing holds the display (frames queue up);
    the air sets the pace, so there is no speed to change."""

    can_change_speed = False

    def __init__(
        self,
        live: LiveRecords,
        network_keys: Iterable[bytes | str] = (),
        link_keys: Iterable[bytes | str] = (),
        *,
        keylog: str | Path | None = None,
        endpoints: EndpointMap | None = None,
        duty: ReplayDutyCycle | None = None,
        log_length: int = LOG_LENGTH,
    ) -> None:
        self.live = live
        self._arrived = _Arrived()
        super().__init__(self._arrived, network_keys, link_keys, keylog=keylog, endpoints=endpoints, speed=None,
                         duty=duty, log_length=log_length, follow_keylog=True)  # type: ignore[arg-type]
        self.name = live.name
        self.display = "sniffer"

    async def run(self) -> None:
        """Show each frame as it arrives, until the sniffer ends or is stopped."""
        loop = asyncio.get_running_loop()
        queue = self._arrived.queue

        def deliver(rec: Record | None) -> None:  # on the sniffer's thread
            try:
                loop.call_soon_threadsafe(queue.put_nowait, rec)
            except RuntimeError:  # the loop has closed: nobody is watching any more
                pass

        try:
            self.live.start(deliver)
            while not self._arrived.ended:
                await self._arrived.wait()
                await self._wait_for(None)  # holds while paused
                for event in self.replay.frames():
                    self._show(event)
                await asyncio.sleep(0)
            if self.live.error is not None:
                self.error = self.live.error
        except Exception as exc:  # shown on the status line; the dashboard stays up
            self.error = exc
        finally:
            self.finished = True
            self.live.stop()

    async def stop(self) -> None:
        self.live.stop()
        await super().stop()

    def progress(self) -> Progress | None:  # type: ignore[override]
        """None: a live source has no end to show progress towards."""
        return None

    def _label(self) -> str:
        if self.error is not None:
            return f"{self.name} failed: {self.error}"
        s = self.replay.summary
        text = f"sniffing {self.name}: {s.frames} frames, {self.decoded} ZCL"
        if self.undecrypted:
            text += f", {self.undecrypted} not decrypted"
        if self.malformed:
            text += f", {self.malformed} malformed"
        not_zep = getattr(self.live, "not_zep", 0)
        if not_zep:
            text += f", {not_zep} datagrams not ZEP"
        return text + (" (ended)" if self.finished else "")
