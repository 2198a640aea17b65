"""A capture replay as a dashboard source, with its own pause and speed.

The capture is decoded on the dashboard's event loop by one task
(:meth:`ReplaySource.start`): a replay has no other loop to live on, and
decoding in small slices (a breath every :data:`BREATH_S` of wall time)
keeps the keys and the screen responsive even at "as fast as possible".

Each ZCL frame reaches the readout, the frame log and the traffic counts
only when its capture time comes round (capture time divided by the speed),
so what the screens show is always the capture up to the clock shown, never
a frame ahead of it.  The readout is fed by the same :class:`ZclIngest` the
replay's own readout uses, with the capture's requests and responses alike.
"""

from __future__ import annotations

import asyncio
import copy
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from clusters.ids import SE_PROFILE_ID, ZDO_PROFILE_ID
from clusters.mp184 import EndpointMap
from han_emu.readout import Readout, ZclIngest
from han_emu.replay import ErrorEvent, RawFrame, Replay, ReplayDutyCycle, ZclEvent
from han_emu.tui.framelog import cluster_label, describe_message
from han_emu.tui.source import (
    ALERT_LENGTH,
    LOG_LENGTH,
    DeviceRow,
    DutyView,
    FrameLog,
    Progress,
    Snapshot,
    special_nwk_name,
)

#: Wall seconds of decoding between two breaths of the event loop.
BREATH_S = 0.02
#: The readout's name on the screens: the capture's conversation as an IHD would see it.
DISPLAY = "capture"


def ieee_text(ieee: int) -> str:
    return ":".join(f"{b:02x}" for b in ieee.to_bytes(8, "big"))


def node_name(nwk: int | None) -> str:
    if nwk is None:
        return "?"
    return special_nwk_name(nwk) or f"0x{nwk:04X}"


class ReplaySource:
    """A :class:`~han_emu.tui.source.DashboardSource` playing a capture, and the
    :class:`~han_emu.tui.controls.Controls` for it.

    ``speed`` is capture seconds per wall second (None: as fast as possible);
    with ``paused`` nothing plays until :meth:`resume`.  ``duty`` (optional)
    charges every captured frame to its sender, for the HAN screen's gauges.
    Scenarios and recording make no sense for a capture: they are offered as
    unavailable.
    """

    def __init__(
        self,
        capture: str | Path | BinaryIO | bytes,
        network_keys: Iterable[bytes | str] = (),
        link_keys: Iterable[bytes | str] = (),
        *,
        keylog: str | Path | None = None,
        endpoints: EndpointMap | None = None,
        speed: float | None = 1.0,
        paused: bool = False,
        duty: ReplayDutyCycle | None = None,
        log_length: int = LOG_LENGTH,
        clock: Callable[[], float] = time.monotonic,
        follow_keylog: bool = False,
    ) -> None:
        self._check_speed(speed)
        self.name = Path(capture).name if isinstance(capture, (str, Path)) else "capture"
        self.display = DISPLAY  # whose eyes the screens show: "as the capture sees it"
        self.total = _size_of(capture)
        self.readout = Readout()
        # The replay keeps no readout of its own: frames are applied here when shown.
        self.ingest = ZclIngest(self.readout, endpoints)
        self.duty = duty
        self.replay = Replay(capture, network_keys, link_keys, keylog=keylog, on_frame=self._on_raw,
                             follow_keylog=follow_keylog)
        self.log = FrameLog(log_length)
        self.last_seen: dict[str, float] = {}
        self.sent: Counter[str] = Counter()
        self.per_cluster: Counter[tuple[str, int, int]] = Counter()  # (transmitter, profile, cluster)
        self.roles: dict[int, set[str]] = {}  # nwk -> {"server", "client"}
        self.decoded = self.undecrypted = self.malformed = 0
        self.frame = 0
        self.done = 0
        self.finished = False
        self.error: BaseException | None = None
        self.now: float | None = None  # capture time shown
        self._clock = clock
        self._speed = speed
        self._paused = paused
        self._nudge = asyncio.Event()
        self._anchor: tuple[float, float] | None = None  # (capture time, wall time) pacing counts from
        self._read_offset = 0  # file offset of the last record read
        self._duty_now: float | None = None
        self._task: asyncio.Task[None] | None = None

    # -- playing ----------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        """Start playing on the running loop (once); the task ends with the capture."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="replay")
        return self._task

    async def stop(self) -> None:
        """Stop playing (the screens keep what was shown)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def run(self) -> None:
        """Play the capture to its end; errors are kept in :attr:`error`."""
        breath = self._clock()
        try:
            for event in self.replay.frames():
                await self._wait_for(event.time)
                self._show(event)
                if self._clock() - breath >= BREATH_S:
                    await asyncio.sleep(0)
                    breath = self._clock()
        except Exception as exc:  # shown on the status line; the dashboard stays up
            self.error = exc
        finally:
            self.finished = True
            self.done = self.total or self.done

    async def _wait_for(self, ts: float | None) -> None:
        """Return when the capture's clock reaches ``ts``, holding while paused."""
        while True:
            if self._paused:
                self._nudge.clear()
                await self._nudge.wait()
                continue
            speed = self._speed
            if not speed or ts is None:
                return
            if self._anchor is None:
                start = self.now if self.now is not None and self.now <= ts else ts
                self._anchor = (start, self._clock())
            t0, w0 = self._anchor
            delay = w0 + (ts - t0) / speed - self._clock()
            if delay <= 0:
                return
            self._nudge.clear()
            try:
                await asyncio.wait_for(self._nudge.wait(), delay)
            except TimeoutError:
                pass

    def _position(self) -> float | None:
        """The capture's clock now: it runs between frames at the speed set."""
        if self._anchor is None or not self._speed or self._paused or self.finished:
            return self.now
        t0, w0 = self._anchor
        position = t0 + (self._clock() - w0) * self._speed
        return position if self.now is None else max(self.now, position)

    def _on_raw(self, raw: RawFrame) -> None:
        self._read_offset = raw.offset
        if self.duty is not None:
            self.duty.add(raw)
            self._duty_now = raw.time if self._duty_now is None else max(raw.time, self._duty_now)

    def _show(self, event: ZclEvent | ErrorEvent) -> None:
        if event.time is not None:
            self.now = event.time if self.now is None else max(event.time, self.now)
        self.frame = max(self.frame, event.frame)
        self.done = max(self.done, self._read_offset)
        if type(event) is ErrorEvent:
            if event.kind == "undecrypted":
                self.undecrypted += 1
            else:
                self.malformed += 1
            return
        assert isinstance(event, ZclEvent)
        self.decoded += 1
        src, dst = node_name(event.src), node_name(event.dst)
        self.last_seen[src] = event.time
        self.sent[src] += 1
        if event.src is not None:
            self.roles.setdefault(event.src, set()).add("server" if event.message.server_to_client else "client")
        self.per_cluster[(src, event.profile, event.cluster)] += 1
        summary = None if event.profile == ZDO_PROFILE_ID else describe_message(event.cluster, event.message,
                                                                               len(event.zcl))
        self.log.add(event.time, src, dst, event.profile, event.cluster, event.src_ep or 0, event.dst_ep or 0,
                     event.zcl, summary)
        if event.profile == SE_PROFILE_ID:
            self.ingest.frame(-1 if event.src is None else event.src, event.src_ep or 0,
                              -1 if event.dst is None else event.dst, event.dst_ep or 0,
                              event.cluster, event.zcl, event.time)

    # -- the snapshot ----------------------------------------------------------------------
    def progress(self) -> Progress:
        return Progress(self.done, self.total, self.frame, self.decoded, self.undecrypted, self.malformed,
                        self.finished)

    def _devices(self) -> list[DeviceRow]:
        known = self.replay.devices  # short -> IEEE, learnt from the capture
        nodes = sorted(set(known) | set(self.roles))
        rows = []
        for nwk in nodes:
            name = node_name(nwk)
            roles = self.roles.get(nwk, set())
            kind = "ESI" if "server" in roles else "client" if roles else "no ZCL"
            ieee = ieee_text(known[nwk]) if nwk in known else "unknown"
            rows.append(DeviceRow(name, kind, nwk, ieee, self.last_seen.get(name), None, self.sent.get(name, 0), None))
        return rows

    def _duty(self) -> DutyView | None:
        if self.duty is None:
            return None
        usages = tuple(self.duty.ledger.summary(self._duty_now).channels) if self._duty_now is not None else ()
        return DutyView(usages, tuple(self.duty.events[-ALERT_LENGTH:]))

    def _label(self) -> str:
        if self.error is not None:
            return f"replay of {self.name} failed: {self.error}"
        return f"replay {self.name}"

    def snapshot(self) -> Snapshot:
        return Snapshot(
            time=self._position(),
            readouts={self.display: copy.deepcopy(self.readout)},
            kinds={self.display: "ihd"},
            devices=self._devices(),
            frames={(device, cluster_label(profile, cluster)): n
                    for (device, profile, cluster), n in sorted(self.per_cluster.items())},
            log=list(self.log.entries),
            duty=self._duty(),
            source=self._label(),
            progress=self.progress(),
        )

    # -- Controls --------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        if not self._paused:
            self.now = self._position()
            self._paused = True
            self._anchor = None
            self._nudge.set()

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._anchor = None  # count on from where the clock stood
            self._nudge.set()

    @property
    def speed(self) -> float | None:
        """Capture seconds per wall second (None: as fast as possible)."""
        return self._speed

    @staticmethod
    def _check_speed(speed: float | None) -> None:
        if speed is not None and not speed > 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")

    def set_speed(self, speed: float | None) -> None:
        self._check_speed(speed)
        if not self._paused:
            self.now = self._position()
        self._anchor = None
        self._speed = speed
        self._nudge.set()

    @property
    def scenario(self) -> str:
        return ""

    @property
    def scenarios(self) -> tuple[str, ...]:
        """None: a capture plays what was recorded."""
        return ()

    def set_scenario(self, name: str) -> None:
        raise ValueError("a capture replay has no scenarios")

    @property
    def recording(self) -> str | None:
        return None

    @property
    def can_record(self) -> bool:
        """False: the capture already is the recording."""
        return False

    @property
    def recording_frames(self) -> int | None:
        return None

    def start_recording(self) -> None:
        raise RuntimeError("recording is not available on a capture replay")

    def stop_recording(self) -> None:
        """Nothing records on a replay, so there is nothing to stop."""


def _size_of(capture: str | Path | BinaryIO | bytes) -> int | None:
    if isinstance(capture, (bytes, bytearray)):
        return len(capture)
    if isinstance(capture, (str, Path)):
        try:
            return os.path.getsize(capture)
        except OSError:
            return None
    try:
        return os.fstat(capture.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return None
