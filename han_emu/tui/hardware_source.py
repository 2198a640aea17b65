"""The dashboard over a real coordinator stick (:class:`~han_emu.han.hardware.HardwareHan`).

There are no simulated displays on hardware, so the IHD and PPMID screens
show the meter *as served*: every frame the ESI server receives and sends is
fed to a :class:`~han_emu.readout.ZclIngest`, which builds the same readout
a display would hold from the same replies.  Until a display asks for
something there is nothing to show, and the screens say so.

The frames are seen through the HAN's packet listeners: the stick carries a
:class:`~han_emu.server.observed.ServerTap` in place of the ESI, which passes
everything through, so the radio layer stays as it is and the listeners
survive reconnections (the HAN hands its server to every new link).
"""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import zigpy.types as t
from zigpy.zdo.types import SimpleDescriptor

from clusters.mp184 import EndpointMap
from han_emu.air.dutycycle import DutyCycleLimits
from han_emu.frames.keylog import KeyLog
from han_emu.readout import ZclIngest
from han_emu.readout.model import Readout
from han_emu.server.observed import ServerTap
from han_emu.tui.controls import ScenarioChoice, scenario_variants
from han_emu.tui.framelog import cluster_label
from han_emu.air.accounting import HUB_NWK
from han_emu.tui.source import ESI_NAME, LOG_LENGTH, DeviceRow, DutyView, FrameLog, NcpDuty, Snapshot, special_nwk_name

#: The one display on a hardware source: what the ESI has served so far.
DISPLAY = "ESI (as served)"
COORDINATOR = ESI_NAME
NOTICE_LENGTH = 50

class NoticeHandler(logging.Handler):
    """Log records as dashboard notices (a terminal owned by the dashboard has no room for stderr)."""

    def __init__(self, source: HardwareSource, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.source = source

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.source.report(record.getMessage())
        except Exception:
            self.handleError(record)


class HardwareSource:
    """A :class:`~han_emu.tui.source.DashboardSource` over a HardwareHan.

    :meth:`attach` before the HAN starts (its status line then names each
    step of the stick's start) or after, and :meth:`close` before it stops.  :meth:`report` takes the HAN's one-line
    messages (pass it as HardwareHan's ``report``) and shows them as notices.
    """

    def __init__(self, han: Any, *, endpoints: EndpointMap | None = None, log_length: int = LOG_LENGTH) -> None:
        self.han = han
        self.readout = Readout()
        self.ingest = ZclIngest(self.readout, endpoints)
        self.log = FrameLog(log_length)
        self.per_cluster: Counter[tuple[str, int, int]] = Counter()  # (transmitter, profile, cluster)
        self.sent: Counter[str] = Counter()  # transmitter -> frames
        self.last_seen: dict[str, float] = {}
        self.lqi: dict[int, int] = {}
        self.seen: dict[int, float] = {}  # NWK -> first seen, for the device list's order
        self.notices: deque[tuple[int, str]] = deque(maxlen=NOTICE_LENGTH)
        self._notice_count = 0
        self.tap: ServerTap | None = None

    # -- wiring ---------------------------------------------------------------------------
    def attach(self) -> HardwareSource:
        """Listen to every packet the HAN's ESI server takes or makes."""
        if self._on_packet not in self.han.packet_listeners:
            self.han.packet_listeners.append(self._on_packet)
        self.tap = self.han.server
        return self

    def close(self) -> None:
        """Stop listening."""
        if self._on_packet in self.han.packet_listeners:
            self.han.packet_listeners.remove(self._on_packet)
        self.tap = None

    def report(self, line: str) -> None:
        """A message for the user (a device joined, the link went down)."""
        self._notice_count += 1
        self.notices.append((self._notice_count, line))

    # -- frames ---------------------------------------------------------------------------
    def _now(self) -> float:
        clock = getattr(self.han, "clock", None)
        return clock.now() if clock is not None else time.time()

    def _name(self, addr: t.AddrModeAddress | None) -> str:
        if addr is None:
            return COORDINATOR
        if addr.addr_mode == t.AddrMode.Group:
            return f"group 0x{int(addr.address):04X}"
        if addr.addr_mode == t.AddrMode.IEEE:
            nwk = self._nwk_of(t.EUI64(addr.address))
            return str(addr.address) if nwk is None else _nwk_name(nwk)
        nwk = int(addr.address)
        return special_nwk_name(nwk) or _nwk_name(nwk)

    def _nwk_of(self, ieee: t.EUI64) -> int | None:
        for _, joined_ieee, nwk in reversed(self.han.joined):
            if joined_ieee == ieee:
                return nwk
        device = getattr(self.han.app, "devices", {}).get(ieee) if self.han.app is not None else None
        return None if device is None else int(device.nwk)

    def _on_packet(self, packet: t.ZigbeePacket, incoming: bool) -> None:
        now = self._now()
        src = self._name(packet.src) if incoming else COORDINATOR
        dst = COORDINATOR if incoming else self._name(packet.dst)
        if incoming and packet.src is not None and packet.src.addr_mode == t.AddrMode.NWK:
            nwk = int(packet.src.address)
            self.seen.setdefault(nwk, now)
            if packet.lqi is not None:
                self.lqi[nwk] = int(packet.lqi)
        self.last_seen[src] = now
        self.sent[src] += 1
        profile, cluster = int(packet.profile_id or 0), int(packet.cluster_id)
        self.per_cluster[(src, profile, cluster)] += 1
        raw = packet.data.serialize() if hasattr(packet.data, "serialize") else bytes(packet.data)
        self.log.add(now, src, dst, profile, cluster, int(packet.src_ep or 0), int(packet.dst_ep or 0), raw)
        self.ingest.packet(packet, now)

    # -- snapshots ------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        han = self.han
        now = self._now()
        return Snapshot(
            time=now,
            readouts={DISPLAY: copy.deepcopy(self.readout)},
            kinds={DISPLAY: "ihd"},  # the PPMID screen falls back to the same readout
            devices=self._devices(),
            frames={(device, cluster_label(profile, cluster)): n
                    for (device, profile, cluster), n in sorted(self.per_cluster.items())},
            log=list(self.log.entries),
            duty=self._duty(),
            source=self._link_label(),
            notices=tuple(self.notices),
        )

    def _link_label(self) -> str:
        """The link's status for the one-line status bar (the NCP's duty cycle has its own panel)."""
        line = self.han.status_line()
        ncp = getattr(self.han, "ncp_duty_cycle", None)
        return line if ncp is None else line.removesuffix("; " + ncp.describe())

    def _devices(self) -> list[DeviceRow]:
        han = self.han
        app = han.app
        ieee = str(app.state.node_info.ieee) if app is not None else "?"
        link = han.link.state
        rows = [DeviceRow(COORDINATOR, f"coordinator ({link})", HUB_NWK, ieee, self.last_seen.get(COORDINATOR),
                          None, self.sent.get(COORDINATOR, 0), None)]
        order: dict[int, float] = dict(self.seen)
        ieees: dict[int, str] = {}
        for when, joined_ieee, nwk in han.joined:
            order.setdefault(nwk, when)
            ieees[nwk] = str(joined_ieee)
        for nwk in sorted(order, key=order.__getitem__):
            name = _nwk_name(nwk)
            known = ieees.get(nwk)
            if known is None and app is not None:
                found = app.ieee_of(nwk) if hasattr(app, "ieee_of") else None
                known = None if found is None else str(found)
            kind = "joined" if nwk in {j[2] for j in han.joined} else "device"
            rows.append(DeviceRow(name, kind, nwk, known or "?", self.last_seen.get(name), self.lqi.get(nwk),
                                  self.sent.get(name, 0), None))
        return rows

    def _duty(self) -> DutyView | None:
        ncp = getattr(self.han, "ncp_duty_cycle", None)
        if ncp is None:  # Z-Stack keeps none; an EZSP stick says so once asked
            view = NcpDuty(supported=False, state="none", page=None, channel=None, limits=None, consumed=(),
                           updated=None)
            return DutyView(usages=(), alerts=(), ncp=view)
        limits = None
        if ncp.limits is not None:
            try:
                limits = DutyCycleLimits.from_hundredths(*ncp.limits)
            except ValueError:  # thresholds out of order: show the NCP's state without gauges' scale
                limits = None
        consumed = tuple((COORDINATOR if nwk == HUB_NWK else _nwk_name(nwk), value * 0.36)
                         for nwk, value in sorted(ncp.consumed.items()))
        view = NcpDuty(supported=ncp.supported, state=ncp.state_name, page=ncp.channel_page, channel=ncp.channel,
                       limits=limits, consumed=consumed, updated=ncp.updated)
        return DutyView(usages=(), alerts=(), ncp=view)


def _nwk_name(nwk: int) -> str:
    return f"0x{nwk:04X}"


class HardwareControls(ScenarioChoice):
    """What the dashboard's keys do on a coordinator stick.

    ``s`` gives the meter another scenario (the registers carry on from where
    they are), ``r`` starts and stops a capture of what the ESI serves
    (``han-served-<UTC time>.pcapng`` and its ``.keys`` in ``directory``;
    see :class:`~han_emu.han.recording.ServedRecording`).  A stick runs on the
    wall clock: no pause, speed x1 (``can_pause`` tells the dashboard).
    """

    can_pause = False
    can_record = True

    def __init__(self, han: Any, directory: str | Path = ".") -> None:
        self.han = han
        self.directory = Path(directory)
        self._variants = scenario_variants(han.scenario.settings)
        self._scenario = "configured"
        self._recording: Any = None
        self._keylog: KeyLog | None = None
        self._path: Path | None = None

    # -- time: the wall clock's ------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return False

    @property
    def speed(self) -> float:
        return 1.0

    def pause(self) -> None:
        """A stick cannot stop the clock (``can_pause`` is False)."""

    def resume(self) -> None:
        """Nothing was paused."""

    def set_speed(self, speed: float | None) -> None:
        """A stick runs at x1 (``can_pause`` is False)."""

    # -- scenario -----------------------------------------------------------------------------
    def set_scenario(self, name: str) -> None:
        """Give the meter's scenario other settings; the battery keeps its charge."""
        self.han.scenario.settings = self._variants[name].validate()
        self._scenario = name

    # -- messages -----------------------------------------------------------------------------
    def send_message(self, text: str, *, confirm: bool = False) -> Any:
        """A message from the ESI to the displays, now (the message key)."""
        return self.han.send_message(text, confirm=confirm)

    def withdraw_messages(self) -> Any:
        """CancelAllMessages from the ESI to the displays, now (the withdraw key)."""
        return self.han.withdraw_messages()

    # -- recording ----------------------------------------------------------------------------
    @property
    def recording(self) -> str | None:
        return None if self._recording is None or self._path is None else str(self._path)

    @property
    def recording_frames(self) -> int | None:
        return None if self._recording is None else self._recording.stats.frames

    def start_recording(self) -> None:
        from han_emu.han.recording import ServedRecording
        from han_emu.tui.recording import keys_path_for, new_capture_path

        path = new_capture_path(self.directory, "han-served", self.han.clock.now())
        recording = ServedRecording(pcap=path, pcapng=True)  # RecordingError (a ValueError) on a bad path
        try:
            keylog = KeyLog(keys_path_for(path))
        except OSError:
            recording.close()
            raise
        self._recording, self._keylog, self._path = recording.attach_hardware(self.han), keylog, path
        self.han.add_keylog(keylog)

    def stop_recording(self) -> None:
        recording, keylog = self._recording, self._keylog
        self._recording = self._keylog = None
        if keylog is not None:
            self.han.remove_keylog(keylog)
            keylog.close()
        if recording is not None:
            recording.close()

    def close(self) -> None:
        self.stop_recording()
