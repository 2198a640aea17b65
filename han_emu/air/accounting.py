"""Live airtime accounting on a running HAN: every packet charged to its transmitters.

The virtual air (or any backend) reports packets; duty cycle is spent by frames.
:class:`AirAccounting` turns each packet into its exact on-air frames with the
:class:`~han_emu.air.synth.FrameSynthesizer` (MAC/NWK/APS headers, NWK and
APS security, MIC, FCS, MAC ACKs, APS ACKs, fragments, MAC retries when nobody
answered) and charges each frame to the device that transmits it, on the band
that device uses:

- 2.4 GHz devices on an :class:`~han_emu.air.dutycycle.AirtimeLedger`
  (measured only: no duty-cycle rules apply there);
- GB-868 devices on a :class:`~han_emu.air.dutycycle.DutyCycleLedger` for the
  configured page and channel (regulated).

The coordinator plays the dual-band Communications Hub.  It relays ESME data
to sub-GHz HAN devices, so every exchange between the hub and a sub-GHz IHD,
PPMID or CAD is put on the sub-GHz PHY: the hub's frames (responses, reports,
MAC ACKs of the device's requests, APS ACKs) cost the *hub's* sub-GHz budget,
and the device's frames cost its own.  The hub's spend is also kept per peer
(:attr:`DeviceStatus.relayed_s`), and a hub transition names the peer whose
exchange caused it, which is the client the Sub-GHz server throttles.  Hub
broadcasts go out once on each band in use.

The hub's 2.4 GHz leg: in GB the ESME sits on 2.4 GHz only, so what a sub-GHz
display asks of it crosses the air twice.  For every relayed unicast (a Smart
Energy cluster the ESME serves; not the hub's own Time, Key Establishment or
Sub-GHz clusters, not ZDO) the accounting also synthesizes the same packet on
2.4 GHz between the hub and a modelled ESME (:data:`ESME_NWK`): a display's
request is forwarded hub -> ESME, the ESME's answer or report comes ESME ->
hub, each with its MAC and APS ACKs.  Those frames are measured (2.4 GHz has
no duty-cycle rule) on the 2.4 GHz ledger, where they share the channel with
any 2.4 GHz displays, and kept apart in :attr:`AirAccounting.leg` as well, so
the reports can say what relaying costs the 2.4 GHz side.

Frame sizes depend only on the shape of a packet (addresses, options, payload
length), so each shape is synthesized once and its frames' sizes and offsets
reused: a virtual day of traffic is accounted at dictionary speed.  Packets that
cannot change a duty-cycle state wait to be charged in bulk, exactly as one by
one, before anything reads the figures (:mod:`han_emu.air.backlog`).

Not modelled: broadcasts on the 2.4 GHz leg (the hub's broadcasts are charged
once per band as they are); the ESME's own time to answer (leg frames are
charged at the time of the sub-GHz packet they copy); and real discarding: a
frame the regulated ledger refuses while its sender is Suspended is counted as
discarded (alert 0x8F2C) but the virtual air has already delivered the packet;
the simulated clients' obedience to Suspend ZCL Messages is what keeps the
load down.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import zigpy.types as t

from clusters.ids import KEY_ESTABLISHMENT, SUB_GHZ, TIME, ZDO_PROFILE_ID
from han_emu.air.backlog import Backlog, Plan
from han_emu.air.dutycycle import (
    AirtimeLedger,
    ChannelUsage,
    DutyCycleEvent,
    DutyCycleLedger,
    DutyCycleLimits,
    DutyCycleState,
)
from han_emu.air.phy import GB_868, O_QPSK_2400, PAGE_2400, SUB_GHZ_PAGES, validate_channel
from han_emu.frames.errors import FrameError
from han_emu.air.synth import FrameSynthesizer, NetworkContext, ieee_int

HUB_NWK = 0x0000
"""The coordinator: the Communications Hub on a GB HAN."""

DEFAULT_HYSTERESIS_S = 1.0
"""Seconds a window must fall below a threshold before the state steps down
(about a hundred GB-868 frames): stops alert ping-pong at a threshold."""

BAND_2400 = O_QPSK_2400.key
BAND_868 = GB_868.key

ESME_NWK = 0x0001
"""Short address of the modelled ESME on the hub's 2.4 GHz leg (the emulator's
coordinator plays the ESME's ESI, so the ESME has no node of its own)."""
ESME_IEEE = 0x000D6F00000000E5
HUB_LOCAL_CLUSTERS = frozenset({TIME, KEY_ESTABLISHMENT, SUB_GHZ})
"""Time, Key Establishment and Sub-GHz: the hub answers these itself, nothing
is relayed to the ESME."""

SubGhzDevices = Iterable[Any] | str | Callable[[int], bool]
"""Which devices are on GB-868: IEEE addresses, ``"all"``, or a function of the
IEEE address (as an integer) asked once per device."""

EventListener = Callable[[DutyCycleEvent, int | None], None]
"""Called as (event, culprit NWK) for every regulated-ledger event."""
TrafficListener = Callable[[int, DutyCycleState], None]
"""Called as (peer NWK, hub state) for each sub-GHz exchange while the hub is
Limited or worse: who keeps the hub busy when it should be quiet."""

_NETWORK_KEY = bytes(range(16))  # sizes do not depend on key values


def nwk_key(nwk: int) -> str:
    """A short address as the JSON key the reports use: ``"0x4d2c"``."""
    return f"0x{int(nwk):04x}"


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """One device on one band, as the dashboard shows it."""

    nwk: int
    name: str
    band: str
    page: int
    channel: int
    state: str
    """NORMAL, LIMITED, CRITICAL or SUSPENDED on GB-868; TRACKING_OFF on 2.4 GHz."""
    airtime_s: float
    """Airtime in the rolling hour ending now."""
    percent: float
    peak_hour_s: float
    frames: int
    total_airtime_s: float
    discarded: int
    headroom_s: float | None
    """Seconds left before the regulated limit (None on 2.4 GHz)."""
    relayed_s: float = 0.0
    """Hub airtime spent on frames to and from this device (sub-GHz peers only)."""
    leg_s: float = 0.0
    """2.4 GHz hub <-> ESME leg airtime spent relaying this device's exchanges."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "band": self.band, "page": self.page, "channel": self.channel,
            "state": self.state, "window_s": round(self.airtime_s, 6), "percent": round(self.percent, 4),
            "peak_hour_s": round(self.peak_hour_s, 6), "frames": self.frames,
            "airtime_s": round(self.total_airtime_s, 6), "discarded": self.discarded,
            "headroom_s": None if self.headroom_s is None else round(self.headroom_s, 6),
            "relayed_s": round(self.relayed_s, 6), "leg_2400_s": round(self.leg_s, 6),
        }


@dataclass(slots=True)
class _Sink:
    """One transmitter on one ledger: its track and its per-hour airtime, each
    looked up once (when first charged) instead of at every frame."""

    ledger: AirtimeLedger
    tx: int
    page: int
    channel: int
    hourly: dict[Any, Counter[int]]
    key: Any
    """The transmitter's key in ``hourly``."""
    track: Any = None
    hours: Counter[int] | None = None
    base: int = 0
    held: int = 0
    """For the backlog: see :class:`~han_emu.air.backlog.Backlog`."""

    def open(self) -> Any:
        track = self.track = self.ledger.track(self.tx, self.page, self.channel)
        return track

    def bucket(self) -> Counter[int]:
        hours = self.hourly.get(self.key)
        if hours is None:
            hours = self.hourly[self.key] = Counter()
        self.hours = hours
        return hours


@dataclass
class _Shape:
    """The frames one packet shape puts on air: (offset s, transmitter NWK, airtime us)."""

    frames: tuple[tuple[float, int, int], ...]
    charges: tuple[tuple[Any, ...], ...] = ()
    """Per frame, its offset, transmitter and airtime with the transmitter's sink
    on each ledger the frame is charged to."""
    plan: Plan | None = None
    """The frames as arrays, for the band's backlog."""


@dataclass
class _Band:
    name: str
    page: int
    channel: int
    ledger: AirtimeLedger
    synth: FrameSynthesizer
    last: float = float("-inf")
    shapes: dict[tuple[Any, ...], _Shape] = field(default_factory=dict)
    sinks: dict[int, _Sink] = field(default_factory=dict)
    backlog: Backlog = field(default_factory=Backlog)


class AirAccounting:
    """Per-transmitter, per-band airtime ledgers fed by the packets on a HAN.

    ``sub_ghz`` lists the IEEE addresses of the GB-868 devices (the rest use
    2.4 GHz), or is ``"all"``: every device but the hub is on GB-868, or is a
    function that tells from an IEEE address (as an integer).  ``start``
    anchors the per-hour buckets (default: the first packet's time).
    ``esme_leg``: also account the hub's 2.4 GHz leg to the ESME for every
    relayed sub-GHz exchange.
    """

    def __init__(
        self,
        *,
        sub_ghz: SubGhzDevices = (),
        page: int = 28,
        channel: int = 0,
        channel_2400: int = 15,
        limits: Mapping[int, DutyCycleLimits] | None = None,
        hysteresis: float = DEFAULT_HYSTERESIS_S,
        pan_id: int = 0x1A62,
        start: float | None = None,
        history: int = 1000,
        esme_leg: bool = True,
    ) -> None:
        if page not in SUB_GHZ_PAGES:
            raise ValueError(f"the sub-GHz band is on page 28, 29 or 30, not {page}")
        validate_channel(page, channel)
        validate_channel(PAGE_2400, channel_2400)
        self.all_sub_ghz = sub_ghz == "all"
        self._is_sub_ghz: Callable[[int], bool] | None = None
        if callable(sub_ghz):
            self._is_sub_ghz = sub_ghz
            self.sub_ghz: set[int] = set()
        else:
            self.sub_ghz = set() if isinstance(sub_ghz, str) else {ieee_int(i) for i in sub_ghz}
        self.start = start
        self.names: dict[int, str] = {HUB_NWK: "hub", ESME_NWK: "ESME"} if esme_leg else {HUB_NWK: "hub"}
        self.bands: dict[str, _Band] = {
            BAND_2400: self._band(BAND_2400, PAGE_2400, channel_2400, AirtimeLedger(), pan_id),
            BAND_868: self._band(BAND_868, page, channel, DutyCycleLedger(limits, hysteresis=hysteresis), pan_id),
        }
        self.relayed_us: Counter[int] = Counter()
        """Hub sub-GHz airtime (us) spent on frames to and from each peer."""
        self.esme_leg = esme_leg
        self.leg = AirtimeLedger()
        """The 2.4 GHz hub <-> ESME leg alone (hub and ESME tracks), measured."""
        self.leg_relayed_us: Counter[int] = Counter()
        """2.4 GHz leg airtime (us, both transmitters) spent for each sub-GHz peer."""
        self.leg_hourly: dict[int, Counter[int]] = {}
        """Transmitter NWK -> hour index since ``start`` -> leg airtime us."""
        self._leg_shapes: dict[tuple[Any, ...], _Shape] = {}
        self._leg_sinks: dict[int, _Sink] = {}
        self.discarded: Counter[int] = Counter()
        """Frames refused by the regulated ledger, per peer the exchange was with."""
        self.hourly: dict[tuple[int, str], Counter[int]] = {}
        """(NWK, band) -> hour index since ``start`` -> airtime us."""
        self.events: deque[tuple[DutyCycleEvent, int | None]] = deque(maxlen=history)
        """The latest GB-868 events with their culprits."""
        self.alert_counts: Counter[tuple[int, int]] = Counter()
        """(device NWK, GBCS alert code) -> how many times it was raised."""
        self.packets = 0
        self.unsized = 0
        """Packets whose frames could not be built (an unknown address)."""
        self._listeners: list[EventListener] = []
        self._traffic_listeners: list[TrafficListener] = []
        self.hub_state = DutyCycleState.NORMAL
        """The hub's GB-868 state, as of the last event."""
        self._band_of_nwk: dict[int, str] = {HUB_NWK: BAND_2400}
        self._learned: set[int] = set()
        self._peer: int | None = None
        self._air: Any = None
        self.bands[BAND_868].ledger.subscribe(self._on_event)
        for ledger in (*(b.ledger for b in self.bands.values()), self.leg):
            ledger.before_read = self.flush
        if esme_leg:
            self.bands[BAND_2400].synth.network.learn(ESME_IEEE, ESME_NWK)

    @staticmethod
    def _band(name: str, page: int, channel: int, ledger: AirtimeLedger, pan_id: int) -> _Band:
        ctx = NetworkContext(pan_id=pan_id, network_key=_NETWORK_KEY, page=page, channel=channel)
        return _Band(name, page, channel, ledger, FrameSynthesizer(ctx))

    # -- wiring ---------------------------------------------------------------------------

    @property
    def ledger_2400(self) -> AirtimeLedger:
        return self.bands[BAND_2400].ledger

    @property
    def ledger_868(self) -> DutyCycleLedger:
        ledger = self.bands[BAND_868].ledger
        assert isinstance(ledger, DutyCycleLedger)
        return ledger

    def attach(self, air: Any) -> Callable[[], None]:
        """Listen to a ``VirtualAir``; returns the function that stops listening."""
        self._air = air
        return air.add_listener(self.on_air)

    def listener(self, han: Any, frame: Any) -> None:
        """A ``VirtualHan.listeners`` entry: learns names from the HAN as it goes."""
        self._air = han.air
        nwk = int(frame.src)
        if nwk not in self.names:
            self.names[nwk] = han.name_of(frame.src_ieee)
        self.on_air(frame)

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Hear every GB-868 transition and discard as (event, culprit NWK)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def subscribe_traffic(self, listener: TrafficListener) -> Callable[[], None]:
        """Hear of every sub-GHz exchange while the hub is Limited or worse."""
        self._traffic_listeners.append(listener)
        return lambda: self._traffic_listeners.remove(listener)

    def is_sub_ghz(self, nwk: int) -> bool:
        return self._band_of(nwk) == BAND_868

    def _any_sub_ghz(self) -> bool:
        """Whether the hub runs a GB-868 network (its broadcasts go out there too)."""
        return bool(self.all_sub_ghz or self.sub_ghz or BAND_868 in self._band_of_nwk.values())

    # -- charging -------------------------------------------------------------------------

    def on_air(self, frame: Any) -> None:
        """Charge one ``AirFrame`` of the virtual air."""
        if frame.aps_ack:
            return  # the synthesizer builds each APS ACK with the frame it acknowledges
        src = int(frame.src)
        self._learn(frame.src_ieee, src)
        dst = frame.packet.dst
        unicast = dst.addr_mode in (t.AddrMode.NWK, t.AddrMode.IEEE)
        delivered = bool(frame.delivered_to) or not unicast
        for ieee in frame.delivered_to:
            node = self._air.node_by_ieee(ieee) if self._air is not None else None
            if node is not None and node.nwk is not None:
                self._learn(ieee, int(node.nwk))
        if unicast:
            dst_nwk = self._nwk_of_dst(dst)
            peer = dst_nwk if src == HUB_NWK else src
            band = self._band_of(peer if peer is not None else src)
            self.packets += 1
            self._offer(band, frame.packet, frame.time, frame.src_ieee, delivered, peer)
            if peer is not None and self.esme_leg and band == BAND_868:
                self._offer_leg(frame.packet, frame.time, peer, src != HUB_NWK)
            return
        peer = None if src == HUB_NWK else src
        if src == HUB_NWK:
            bands = [BAND_2400] + ([BAND_868] if self._any_sub_ghz() else [])
        else:
            bands = [self._band_of(src)]
        self.packets += 1
        for band in bands:
            self._offer(band, frame.packet, frame.time, frame.src_ieee, delivered, peer)

    @staticmethod
    def relayed(packet: t.ZigbeePacket) -> bool:
        """Whether the hub relays ``packet`` to or from the ESME (see the module notes)."""
        return int(packet.profile_id) != ZDO_PROFILE_ID and int(packet.cluster_id) not in HUB_LOCAL_CLUSTERS

    def charge_leg(self, packet: t.ZigbeePacket, time: float, *, peer: int, to_esme: bool) -> int:
        """Charge the 2.4 GHz hub <-> ESME copy of ``packet`` (a relayed sub-GHz
        exchange with ``peer``): forwarded hub -> ESME when ``to_esme`` (the
        display asked), else ESME -> hub (the ESME answered or reported).
        Returns the airtime (us) charged; 0 when the cluster is the hub's own."""
        if not self.relayed(packet):
            return 0
        shape = self._leg_shape(packet, to_esme)
        if shape is None:
            return 0
        if self.start is None:
            self.start = time
        self.flush()
        return self._charge_leg(shape, time, peer)

    def _offer_leg(self, packet: t.ZigbeePacket, time: float, peer: int, to_esme: bool) -> None:
        """:meth:`charge_leg`, held back while that changes nothing (see :meth:`_offer`)."""
        if not self.relayed(packet):
            return
        shape = self._leg_shape(packet, to_esme)
        if shape is None:
            return
        if self.start is None:
            self.start = time
        b = self.bands[BAND_2400]
        plan = shape.plan
        if not plan.regulated or b.backlog.admit(plan, time, self.start):  # type: ignore[union-attr, arg-type]
            self._hold(b, plan, time)
            self.leg_relayed_us[peer] += plan.total_us  # type: ignore[union-attr]
        else:
            self._charge_leg(shape, time, peer)

    def _charge_leg(self, shape: _Shape, time: float, peer: int) -> int:
        b = self.bands[BAND_2400]
        ledger, leg, start = b.ledger, self.leg, self.start
        charged = 0
        for offset, us, sink, leg_sink in shape.charges:
            when = time + offset
            if when < b.last:  # b.last also bounds the leg ledger's time
                when = b.last
            b.last = when
            track = sink.track
            ledger.charge_us(sink.open() if track is None else track, us, when)
            track = leg_sink.track
            leg.charge_us(leg_sink.open() if track is None else track, us, when)
            charged += us
            hours = sink.hours
            hour = int((when - start) // 3600)
            (sink.bucket() if hours is None else hours)[hour] += us
            hours = leg_sink.hours
            (leg_sink.bucket() if hours is None else hours)[hour] += us
        self.leg_relayed_us[peer] += charged
        return charged

    def _leg_shape(self, packet: t.ZigbeePacket, to_esme: bool) -> _Shape | None:
        key = (to_esme, len(packet.data.serialize()), packet.tx_options)
        shape = self._leg_shapes.get(key)
        if shape is None:
            synth = self.bands[BAND_2400].synth
            hub_ieee = synth.network.ieee_of(HUB_NWK)
            if hub_ieee is None:
                self.unsized += 1
                return None
            hub = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(HUB_NWK))
            esme = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(ESME_NWK))
            leg = packet.replace(src=hub, dst=esme) if to_esme else packet.replace(src=esme, dst=hub)
            try:
                frames = synth.synthesize(leg, src_ieee=hub_ieee if to_esme else ESME_IEEE)
            except FrameError:
                self.unsized += 1
                return None
            b = self.bands[BAND_2400]
            shape = self._leg_shapes[key] = _Shape(tuple(
                (f.offset, f.tx_nwk if f.tx_nwk is not None else -1, f.airtime_us) for f in frames
            ))
            shape.charges = tuple((offset, us, self._sink(b, tx), self._leg_sink(tx))
                                  for offset, tx, us in shape.frames)
            for _, _, sink, leg_sink in shape.charges:  # tracks are made in the order first charged
                sink.track or sink.open()
                leg_sink.track or leg_sink.open()
            shape.plan = b.backlog.plan([(offset, tx, us, ("leg", tx), (sink, leg_sink))
                                         for (offset, tx, us), (_, _, sink, leg_sink)
                                         in zip(shape.frames, shape.charges)], HUB_NWK)
        return shape

    def _sink(self, b: _Band, tx: int) -> _Sink:
        sink = b.sinks.get(tx)
        if sink is None:
            sink = b.sinks[tx] = _Sink(b.ledger, tx, b.page, b.channel, self.hourly, (tx, b.name))
        return sink

    def _leg_sink(self, tx: int) -> _Sink:
        sink = self._leg_sinks.get(tx)
        if sink is None:
            b = self.bands[BAND_2400]
            sink = self._leg_sinks[tx] = _Sink(self.leg, tx, b.page, b.channel, self.leg_hourly, tx)
        return sink

    def charge_packet(self, band: str, packet: t.ZigbeePacket, time: float, *, src_ieee: Any,
                      delivered: bool = True, peer: int | None = None) -> int:
        """Charge ``packet`` sent at ``time`` on ``band``; returns the airtime (us) charged."""
        b = self.bands[band]
        shape = self._shape(b, packet, src_ieee, delivered)
        if shape is None:
            return 0
        if self.start is None:
            self.start = time
        self.flush()
        return self._charge(b, shape, time, peer)

    def _offer(self, band: str, packet: t.ZigbeePacket, time: float, src_ieee: Any, delivered: bool,
               peer: int | None) -> None:
        """:meth:`charge_packet`, but held back in the band's backlog while no
        frame of it can change a state (charged in bulk later, exactly the same)."""
        b = self.bands[band]
        shape = self._shape(b, packet, src_ieee, delivered)
        if shape is None:
            return
        if self.start is None:
            self.start = time
        plan = shape.plan
        if plan.regulated and not b.backlog.admit(plan, time, self.start):  # type: ignore[union-attr, arg-type]
            self._charge(b, shape, time, peer)
            return
        self._hold(b, plan, time)
        if band == BAND_868 and peer is not None:
            self._peer = peer
            if plan.hub_us:
                self.relayed_us[peer] += plan.hub_us
            if self.hub_state >= DutyCycleState.LIMITED:
                for listener in list(self._traffic_listeners):
                    listener(peer, self.hub_state)

    def _hold(self, b: _Band, plan: Any, time: float) -> None:
        b.backlog.add(time, plan, b.last)
        end = time + plan.reach  # the band's last frame time, as charging would leave it
        if end > b.last:
            b.last = end

    def flush(self) -> None:
        """Charge every packet held back (the ledgers ask before they are read)."""
        for b in self.bands.values():
            if b.backlog.times:
                assert self.start is not None
                b.backlog.flush(self.start)

    def _charge(self, b: _Band, shape: _Shape, time: float, peer: int | None) -> int:
        """Charge ``shape``'s frames at ``time`` one by one (nothing held back in ``b``)."""
        regulated = b.name == BAND_868
        if regulated and peer is not None:
            self._peer = peer
        relayed = regulated and peer is not None
        ledger, start = b.ledger, self.start
        charged = 0
        for offset, tx, us, sink in shape.charges:
            when = time + offset
            if when < b.last:
                when = b.last
            b.last = when
            track = sink.track
            if not ledger.charge_us(sink.open() if track is None else track, us, when):
                self.discarded[peer if peer is not None else tx] += 1
                continue
            charged += us
            hours = sink.hours
            (sink.bucket() if hours is None else hours)[int((when - start) // 3600)] += us
            if relayed and tx == HUB_NWK:
                self.relayed_us[peer] += us
        b.backlog.rebase()  # the windows as charged now (nothing is held back: see _offer)
        if regulated and peer is not None and self.hub_state >= DutyCycleState.LIMITED:
            for listener in list(self._traffic_listeners):
                listener(peer, self.hub_state)
        return charged

    def _shape(self, b: _Band, packet: t.ZigbeePacket, src_ieee: Any, delivered: bool) -> _Shape | None:
        dst = packet.dst
        src = packet.src
        key = (int(src.address) if src is not None else None, int(dst.addr_mode), int(dst.address),
               len(packet.data.serialize()), packet.tx_options, delivered)
        shape = b.shapes.get(key)
        if shape is None:
            try:
                frames = b.synth.synthesize(packet, src_ieee=src_ieee, delivered=delivered)
            except FrameError:
                self.unsized += 1
                return None
            shape = b.shapes[key] = _Shape(tuple(
                (f.offset, f.tx_nwk if f.tx_nwk is not None else -1, f.airtime_us) for f in frames
            ))
            shape.charges = tuple((offset, tx, us, self._sink(b, tx)) for offset, tx, us in shape.frames)
            for _, _, _, sink in shape.charges:  # tracks are made in the order first charged
                sink.track or sink.open()
            shape.plan = b.backlog.plan([(offset, tx, us, ("band", tx), (sink,))
                                         for offset, tx, us, sink in shape.charges], HUB_NWK)
        return shape

    # -- addresses -------------------------------------------------------------------------

    def _learn(self, ieee: Any, nwk: int) -> None:
        if nwk in self._learned:
            return
        self._learned.add(nwk)
        value = ieee_int(ieee)
        for band in self.bands.values():
            band.synth.network.learn(value, nwk)
        if nwk != HUB_NWK:
            sub = self.all_sub_ghz or value in self.sub_ghz or (
                self._is_sub_ghz is not None and bool(self._is_sub_ghz(value)))
            self._band_of_nwk[nwk] = BAND_868 if sub else BAND_2400

    def _band_of(self, nwk: int) -> str:
        band = self._band_of_nwk.get(nwk)
        if band is None and self._air is not None:
            node = self._air.node_by_nwk(nwk)
            if node is not None:
                self._learn(node.ieee, nwk)
                band = self._band_of_nwk.get(nwk)
        return band or BAND_2400

    def _nwk_of_dst(self, dst: t.AddrModeAddress) -> int | None:
        if dst.addr_mode == t.AddrMode.NWK:
            return int(dst.address)
        value = ieee_int(dst.address)
        nwk = self.bands[BAND_2400].synth.network.nwk_of(value)
        return nwk

    # -- events -----------------------------------------------------------------------------

    def _on_event(self, event: DutyCycleEvent) -> None:
        if event.device == HUB_NWK and not event.discarded:
            self.hub_state = event.state
        culprit = self._peer if event.device == HUB_NWK else int(event.device)
        self.events.append((event, culprit))
        self.alert_counts[(int(event.device), int(event.alert))] += 1
        for listener in list(self._listeners):
            listener(event, culprit)

    # -- queries ----------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Roll the windows forward to ``now`` (down-steps and their alerts)."""
        self.flush()
        for b in self.bands.values():
            b.last = max(b.last, now)
            b.ledger.tick(b.last)
        self.leg.tick(self.bands[BAND_2400].last)

    def _now(self, b: _Band, now: float | None) -> float:
        if now is not None:
            b.last = max(b.last, now)
        return b.last if b.last != float("-inf") else (now or 0.0)

    def status(self, now: float | None = None) -> list[DeviceStatus]:
        """Every (device, band) with its figures at ``now`` (default: the last frame)."""
        self.flush()
        out: list[DeviceStatus] = []
        for name, b in self.bands.items():
            if b.last == float("-inf") and now is None:
                continue
            when = self._now(b, now)
            for usage in b.ledger.summary(when).channels:
                out.append(self._status(name, usage))
        return out

    def _status(self, band: str, u: ChannelUsage) -> DeviceStatus:
        nwk = int(u.device)
        return DeviceStatus(
            nwk=nwk, name=self.names.get(nwk, nwk_key(nwk)), band=band, page=u.page, channel=u.channel,
            state=DutyCycleState(u.state).name, airtime_s=u.airtime, percent=u.percent, peak_hour_s=u.peak,
            frames=u.frames, total_airtime_s=u.total_airtime, discarded=u.discarded, headroom_s=u.headroom,
            relayed_s=self.relayed_us.get(nwk, 0) / 1e6, leg_s=self.leg_relayed_us.get(nwk, 0) / 1e6,
        )

    def leg_status(self, now: float | None = None) -> list[DeviceStatus]:
        """The hub and the ESME on the 2.4 GHz leg alone, measured."""
        b = self.bands[BAND_2400]
        if not self.leg.tracks():
            return []
        when = self._now(b, now)
        return [self._status(BAND_2400, u) for u in self.leg.summary(when).channels]

    def leg_hours(self, nwk: int) -> list[float]:
        """Leg airtime (s) per hour since ``start`` sent by ``nwk`` (the hub or the ESME)."""
        self.flush()
        buckets = self.leg_hourly.get(nwk)
        if not buckets:
            return []
        return [buckets.get(i, 0) / 1e6 for i in range(max(buckets) + 1)]

    def hours(self, nwk: int, band: str | None = None) -> list[float]:
        """Airtime (s) per hour since ``start`` sent by ``nwk`` (on one band or all)."""
        self.flush()
        buckets: Counter[int] = Counter()
        for (dev, b), hours in self.hourly.items():
            if dev == nwk and (band is None or b == band):
                buckets.update(hours)
        if not buckets:
            return []
        return [buckets.get(i, 0) / 1e6 for i in range(max(buckets) + 1)]

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        """The state for a dashboard or ``--status-json``: ``devices`` keyed ``"0x4d2c"``."""
        devices: dict[str, dict[str, Any]] = {}
        for s in self.status(now):
            entry = devices.setdefault(nwk_key(s.nwk), {
                "name": s.name, "airtime_s": 0.0, "frames": 0, "peak_hour_s": 0.0, "state": s.state,
                "discarded": 0, "bands": {},
            })
            entry["airtime_s"] = round(entry["airtime_s"] + s.total_airtime_s, 6)
            entry["frames"] += s.frames
            entry["peak_hour_s"] = max(entry["peak_hour_s"], round(s.peak_hour_s, 6))
            entry["discarded"] += s.discarded
            if s.band == BAND_868:
                entry["state"] = s.state
            entry["bands"][s.band] = s.to_json()
        latest = max((b.last for b in self.bands.values()), default=0.0)
        out: dict[str, Any] = {
            "time": latest if now is None else max(now, latest),
            "devices": devices,
            "events": [_event_json(e, c) for e, c in list(self.events)[-50:]],
        }
        if self.esme_leg:
            out["esme_leg"] = {
                "band": BAND_2400, "regulated": False,
                "devices": {nwk_key(s.nwk): s.to_json() for s in self.leg_status(now)},
                "per_peer_s": {nwk_key(p): round(us / 1e6, 6) for p, us in sorted(self.leg_relayed_us.items())},
            }
        return out


def _event_json(event: DutyCycleEvent, culprit: int | None) -> dict[str, Any]:
    return {
        "time": event.time, "device": nwk_key(int(event.device)), "page": event.page,
        "channel": event.channel, "from": event.previous.name, "to": event.state.name,
        "alert": f"0x{int(event.alert):04X}", "window_s": round(event.airtime, 6),
        "culprit": None if culprit is None else nwk_key(culprit),
    }
