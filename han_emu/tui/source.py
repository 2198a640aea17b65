"""What the dashboard reads, and the virtual HAN's implementation of it.

The app sees only :class:`Snapshot` objects taken from a
:class:`DashboardSource`, so a capture replay or a hardware coordinator can
feed the same screens by producing the same snapshot: readouts per display,
devices, frame counts, a frame log, a clock, and (optionally) a duty-cycle
ledger's figures.  A snapshot is a copy: the app may hold it while the source
moves on, even in another thread.
"""

from __future__ import annotations

import copy
from collections import Counter, deque
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import zigpy.types as t

from han_emu.air.accounting import BAND_868, BAND_2400, HUB_NWK, AirAccounting
from han_emu.air.dutycycle import AirtimeLedger, ChannelUsage, DutyCycleEvent, DutyCycleLimits
from han_emu.readout.model import Readout
from han_emu.tui.framelog import LoggedFrame, cluster_label, describe

if TYPE_CHECKING:
    from han_emu.han.virtual import VirtualHan
    from han_emu.tui.conform_source import ConformView

LOG_LENGTH = 1000
ALERT_LENGTH = 200
ESI_NAME = "ESI"
"""What the dashboard calls the coordinator: it serves the ESI endpoints."""
FIRST_BROADCAST_NWK = 0xFFF8
"""NWK addresses from here up are broadcast (0xFFFB-0xFFFF) or reserved."""


def special_nwk_name(nwk: int) -> str | None:
    """The coordinator's or a broadcast address's name; None for any other node."""
    if nwk == HUB_NWK:
        return ESI_NAME
    if nwk >= FIRST_BROADCAST_NWK:
        return "broadcast"
    return None


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A node on the HAN as the HAN screen lists it."""

    name: str
    kind: str
    nwk: int | None
    ieee: str
    last_seen: float | None
    lqi: int | None
    frames: int
    acks: int | None  # None: the source cannot tell (a capture does not say who an ACK is from)


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a finite source (a capture replay) has got."""

    done: int  # bytes of the file played so far
    total: int | None  # bytes in the file (None: not known, e.g. a pipe)
    frame: int  # file index of the last frame shown (0: none yet)
    decoded: int  # ZCL frames shown
    undecrypted: int
    malformed: int
    finished: bool

    @property
    def fraction(self) -> float | None:
        if self.finished:
            return 1.0
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


@dataclass(frozen=True, slots=True)
class NcpDuty:
    """A coordinator stick's own duty-cycle view (EZSP), as it reported it.

    Figures are the NCP's, converted from hundredths of a percent of the hour;
    nothing is filled in where the NCP said nothing."""

    supported: bool | None
    state: str
    page: int | None
    channel: int | None
    limits: DutyCycleLimits | None
    consumed: tuple[tuple[str, float], ...]  # (device, seconds of the rolling hour)
    updated: float | None


@dataclass(frozen=True, slots=True)
class DutyView:
    """A duty-cycle ledger's figures at one instant (None fields: no ledger).

    ``names`` labels the ledger's device keys (an accounting keys them by NWK
    address); ``culprits`` runs alongside ``alerts``: the device whose
    exchange caused each one, where known.  ``ncp`` is a coordinator stick's
    own view, shown beside (or instead of) the emulator's."""

    usages: tuple[ChannelUsage, ...]
    alerts: tuple[DutyCycleEvent, ...]
    names: Mapping[Hashable, str] = field(default_factory=dict)
    culprits: tuple[str | None, ...] = ()
    ncp: NcpDuty | None = None

    def name(self, device: Hashable) -> str:
        return self.names.get(device, str(device))


@dataclass
class Snapshot:
    """Everything the screens show, copied out of a source at one instant."""

    time: float | None
    readouts: dict[str, Readout] = field(default_factory=dict)  # display name -> readout
    kinds: dict[str, str] = field(default_factory=dict)  # display name -> "ihd"/"ppmid"/"cad"
    devices: list[DeviceRow] = field(default_factory=list)
    frames: dict[tuple[str, str], int] = field(default_factory=dict)  # (transmitter, cluster name) -> n
    log: list[LoggedFrame] = field(default_factory=list)
    duty: DutyView | None = None
    source: str = ""
    progress: Progress | None = None  # finite sources only
    notices: tuple[tuple[int, str], ...] = ()  # (number from 1, message): news the app pops up once
    conformance: ConformView | None = None  # a conformance run's progress and verdicts

    def display(self, kind: str) -> tuple[str, Readout] | None:
        """The first display of ``kind``, else the first display at all."""
        for name, k in self.kinds.items():
            if k == kind and name in self.readouts:
                return name, self.readouts[name]
        for name, readout in self.readouts.items():
            return name, readout
        return None


class DashboardSource(Protocol):
    """Anything that can be shown: a virtual HAN, a replay, a coordinator."""

    def snapshot(self) -> Snapshot: ...


class FrameLog:
    """A bounded log of decoded frames, numbered from 1 in arrival order."""

    def __init__(self, length: int = LOG_LENGTH) -> None:
        self.entries: deque[LoggedFrame] = deque(maxlen=length)
        self.count = 0

    def add(self, time: float, src: str, dst: str, profile: int, cluster: int,
            src_ep: int, dst_ep: int, raw: bytes, summary: str | None = None) -> LoggedFrame:
        """Log a frame; ``summary`` (when the caller has decoded it already) saves describing it again."""
        self.count += 1
        entry = LoggedFrame(self.count, time, src, dst, profile, cluster, src_ep, dst_ep,
                            describe(profile, cluster, raw) if summary is None else summary, raw)
        self.entries.append(entry)
        return entry


class VirtualHanSource:
    """A :class:`DashboardSource` over a running :class:`VirtualHan`.

    It listens to the virtual air for the frame log and last-seen times.
    ``call`` runs a function where the HAN lives (its loop's thread); the
    default runs it directly, for a HAN on the caller's own loop.
    """

    def __init__(
        self,
        han: VirtualHan,
        *,
        ledger: AirtimeLedger | None = None,
        accounting: AirAccounting | None = None,
        call: Callable[[Callable[[], Any]], Any] | None = None,
        log_length: int = LOG_LENGTH,
    ) -> None:
        """``accounting``: the live airtime accounting (already hearing the
        HAN's frames) whose ledgers the gauges show; ``ledger``: a single
        ledger instead."""
        self.han = han
        self.accounting = accounting
        self.log = FrameLog(log_length)
        self.last_seen: dict[str, float] = {}
        self.per_cluster: Counter[tuple[str, int, int]] = Counter()  # (transmitter, profile, cluster)
        self.ledger: AirtimeLedger | None = None
        self.alerts: deque[DutyCycleEvent] = deque(maxlen=ALERT_LENGTH)
        self._unsubscribe: Callable[[], None] | None = None
        self._usages: tuple[ChannelUsage, ...] = ()
        self._call = call or (lambda fn: fn())
        #: What the status bar calls this source (the runner says when the meter is a throwaway copy).
        self.label = "virtual HAN"
        self.notices: deque[tuple[int, str]] = deque(maxlen=ALERT_LENGTH)
        han.listeners.append(self._on_frame)
        if ledger is not None:
            self.set_ledger(ledger)

    def set_ledger(self, ledger: AirtimeLedger | None) -> None:
        """Show this ledger's gauges (None: "no data")."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.ledger = ledger
        self.alerts.clear()
        if ledger is not None:
            self._unsubscribe = ledger.subscribe(self.alerts.append)

    def notify(self, message: str) -> None:
        """Pop ``message`` up on the dashboard once."""
        number = self.notices[-1][0] + 1 if self.notices else 1
        self.notices.append((number, message))

    def close(self) -> None:
        if self._on_frame in self.han.listeners:
            self.han.listeners.remove(self._on_frame)
        self.set_ledger(None)

    # -- listening ---------------------------------------------------------------------
    def _name(self, addr: t.AddrModeAddress | None) -> str:
        if addr is None:
            return "?"
        if addr.addr_mode == t.AddrMode.Group:
            return f"group 0x{int(addr.address):04X}"
        if addr.addr_mode == t.AddrMode.IEEE:
            return self.han.name_of(addr.address)
        nwk = int(addr.address)
        if (special := special_nwk_name(nwk)) is not None:
            return special
        for device in self.han.devices:
            if device.nwk is not None and int(device.nwk) == nwk:
                return device.name
        return f"0x{nwk:04X}"

    def _on_frame(self, han: VirtualHan, frame: Any) -> None:
        src = ESI_NAME if int(frame.src) == HUB_NWK else han.name_of(frame.src_ieee)
        self.last_seen[src] = frame.time
        if frame.aps_ack:
            return
        packet = frame.packet
        self.per_cluster[(src, int(packet.profile_id or 0), int(packet.cluster_id))] += 1
        raw = packet.data.serialize() if hasattr(packet.data, "serialize") else bytes(packet.data)
        self.log.add(frame.time, src, self._name(packet.dst), int(packet.profile_id or 0),
                     int(packet.cluster_id), int(packet.src_ep or 0), int(packet.dst_ep or 0), raw)

    # -- snapshots -------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        return self._call(self._collect)

    def _lqi(self, ieee: Any) -> int | None:
        han = self.han
        if han.air is None or han.app is None:
            return None
        return han.air.link(ieee, han.app.state.node_info.ieee).lqi

    def _collect(self) -> Snapshot:
        han = self.han
        now = han.clock.now() if han.clock is not None else None
        traffic = han.traffic
        per_device = traffic.per_device()
        devices = []
        if han.app is not None:
            info = han.app.state.node_info
            devices.append(DeviceRow(ESI_NAME, "coordinator", HUB_NWK, str(info.ieee), self.last_seen.get(ESI_NAME),
                                     None, per_device.get(ESI_NAME, 0), traffic.acks.get(ESI_NAME, 0)))
        for d in han.devices:
            devices.append(DeviceRow(d.name, d.settings.kind, None if d.nwk is None else int(d.nwk), str(d.ieee),
                                     self.last_seen.get(d.name), self._lqi(d.ieee), per_device.get(d.name, 0),
                                     traffic.acks.get(d.name, 0)))
        duty = None
        if self.accounting is not None and now is not None:
            duty = accounting_view(self.accounting, now)
        elif self.ledger is not None and now is not None:
            try:
                self._usages = tuple(self.ledger.summary(now).channels)
            except ValueError:  # the ledger has already seen a later time: keep its last figures
                pass
            duty = DutyView(self._usages, tuple(self.alerts))
        return Snapshot(
            time=now,
            readouts={d.name: copy.deepcopy(d.readout) for d in han.devices},
            kinds={d.name: d.settings.kind for d in han.devices},
            devices=devices,
            frames={(device, cluster_label(profile, cluster)): n
                    for (device, profile, cluster), n in sorted(self.per_cluster.items())},
            log=list(self.log.entries),
            duty=duty,
            source=self.label,
            notices=tuple(self.notices),
        )


def accounting_view(acct: AirAccounting, now: float) -> DutyView:
    """An :class:`~han_emu.air.accounting.AirAccounting`'s figures at ``now``:
    every device on both bands, named, and the GB-868 alerts with their culprits.

    The windows are rolled to ``now`` first, so a device that has gone quiet
    steps down (and its alert is raised) as it would at that instant.
    """
    acct.tick(now)  # each band's clock is now at ``now``, or later if a frame already ran past it
    usages: list[ChannelUsage] = []
    for band in (acct.bands[BAND_868], acct.bands[BAND_2400]):
        usages.extend(band.ledger.summary(band.last).channels)
    names = dict(acct.names)
    events = list(acct.events)[-ALERT_LENGTH:]
    return DutyView(
        usages=tuple(usages),
        alerts=tuple(e for e, _ in events),
        names=names,
        culprits=tuple(None if c is None else names.get(c, f"0x{c:04X}") for _, c in events),
    )

