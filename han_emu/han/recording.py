"""Recording a running virtual HAN: capture file, key log and live ZEP stream.

The virtual air reports packets; :class:`~han_emu.air.recorder.AirRecorder`
turns them into the frames a sniffer would see.  What this module adds is the
wiring to a :class:`~han_emu.han.virtual.VirtualHan`:

- it hooks in *before* the HAN starts, so the devices' joins, their
  install-code-secured traffic and CBKE are on the recording;
- it builds the :class:`~han_emu.air.synth.NetworkContext` from the
  coordinator's network once the network is formed (PAN, channel, network
  key) and keeps it in step with the air: every node's IEEE/NWK pair, and
  the APS link key each sender really uses with its partner (install-code
  keys when devices join, CBKE keys once established), so the capture is
  encrypted under the key both ends share and the key log carries it.

The sinks are opened when the recording is made, so a bad path or address
fails before the HAN runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zigpy.types as t

from han_emu.frames.keylog import KeyLog
from han_emu.air.recorder import AirRecorder, FrameSink, PcapRecorder, ZepStreamer
from han_emu.frames.errors import FrameError
from han_emu.frames.pcap import SUPPORTED, LinkType
from han_emu.air.synth import FrameSynthesizer, Ledger, NetworkContext, OnAirFrame, ieee_int
from han_emu.crypto.keys import DEFAULT_TC_LINK_KEY

LOGGER = logging.getLogger(__name__)
UNICAST = (t.AddrMode.NWK, t.AddrMode.IEEE)


class RecordingError(ValueError):
    """A recording option that cannot be honoured (link type, path)."""


@dataclass
class RecordingStats:
    packets: int = 0
    frames: int = 0
    failed: int = 0
    """Packets the synthesizer could not turn into frames (logged, not fatal)."""


class HanRecording:
    """Records one virtual HAN.  Make it, :meth:`attach` it to the HAN before
    ``start()``, and :meth:`close` it after ``stop()``.

    ``pcap``: capture file (pcapng when ``pcapng`` is True or the name ends
    in ``.pcapng``); ``linktype`` 283 (TAP, channel and page), 195 or 230.
    ``keylog``: Wireshark key table file (mode 0600).  ``zep``: (host, port)
    to stream ZEP v2 to (resolved now; ``warn`` hears of the first frame
    that cannot be sent).  ``ledger`` is charged with every frame's airtime;
    ``keep`` keeps every (time, frame) in :attr:`frames`.
    """

    def __init__(
        self,
        *,
        pcap: str | Path | None = None,
        linktype: int = LinkType.IEEE802_15_4_TAP,
        pcapng: bool | None = None,
        keylog: str | Path | None = None,
        zep: tuple[str, int] | None = None,
        ledger: Ledger | None = None,
        keep: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        if int(linktype) not in SUPPORTED:
            raise RecordingError(f"link type {linktype} is not one of {', '.join(map(str, sorted(SUPPORTED)))}")
        self.sinks: list[FrameSink] = []
        self.pcap: PcapRecorder | None = None
        self.keylog: KeyLog | None = None
        self.zep: ZepStreamer | None = None
        self.ledger = ledger
        self.keep = keep
        self.stats = RecordingStats()
        self.network: NetworkContext | None = None
        self.recorder: AirRecorder | None = None
        self._han: Any = None
        self._tc_keys: dict[int, bytes] = {}
        try:
            if pcap is not None:
                self.pcap = PcapRecorder(pcap, int(linktype), pcapng=pcapng)
                self.sinks.append(self.pcap)
            if keylog is not None:
                self.keylog = KeyLog(keylog)
        except OSError as exc:
            self.close()
            raise RecordingError(f"cannot record: {exc.strerror or exc} ({exc.filename or ''})".rstrip(" ()")) from None
        if zep is not None:
            try:
                self.zep = ZepStreamer(*zep, warn=warn)
            except OSError as exc:
                self.close()
                raise RecordingError(f"cannot stream ZEP to {zep[0]}:{zep[1]}: {exc.strerror or exc}") from None
            self.sinks.append(self.zep)

    @property
    def active(self) -> bool:
        """Anything to do at all (a recording with no sink and no ledger is inert)."""
        return bool(self.sinks or self.keylog or self.ledger or self.keep)

    @property
    def frames(self) -> list[tuple[float, OnAirFrame]]:
        return self.recorder.frames if self.recorder is not None else []

    # -- wiring ---------------------------------------------------------------------------

    def attach(self, han: Any) -> HanRecording:
        """Listen to ``han`` (a ``VirtualHan``, before or after it starts)."""
        self._han = han
        if self.active:
            han.listeners.append(self._on_frame)
        return self

    def _ensure_network(self) -> NetworkContext:
        if self.network is None:
            app = self._han.app
            net = NetworkContext.from_network_info(app.state.network_info, app.state.node_info)
            if self.keylog is not None:
                self.keylog.follow(net)
            for sink in self.sinks:  # the channel is known once the network is formed
                if isinstance(sink, (PcapRecorder, ZepStreamer)):
                    sink.channel = net.channel
                if isinstance(sink, PcapRecorder):
                    sink.page = net.page
            self.network = net
            self.recorder = AirRecorder(FrameSynthesizer(net), self.sinks, ledger=self.ledger)
            self.recorder.keep = self.keep
            if getattr(self._han, "air", None) is not None:
                for node in self._han.air.nodes:
                    if node.nwk is not None:
                        net.learn(node.ieee, node.nwk)
        return self.network

    def _on_frame(self, han: Any, frame: Any) -> None:
        """A ``VirtualHan`` listener: keep the context in step, then record."""
        net = self._ensure_network()
        assert self.recorder is not None
        air = han.air
        sender = air.node_by_ieee(frame.src_ieee) if air is not None else None
        receiver = _receiver(air, frame.dst) if air is not None else None
        for node in (sender, receiver):
            if node is not None and node.nwk is not None:
                net.learn(node.ieee, node.nwk)
                self._follow_trust_centre_key(node)
        if (not frame.aps_ack and sender is not None and receiver is not None
                and frame.dst.addr_mode in UNICAST and t.TransmitOptions.APS_Encryption in frame.tx_options):
            key = _sender_key(sender, receiver.ieee)
            a, b = ieee_int(sender.ieee), ieee_int(receiver.ieee)
            if key is not None and net.link_key(a, b) != key:
                net.set_link_key(a, b, key)
        if not frame.aps_ack:
            self.stats.packets += 1
        try:
            out = self.recorder.on_air(frame)
        except FrameError as exc:  # e.g. a payload no fragmentation can carry
            self.stats.failed += 1
            LOGGER.warning("packet not recorded: %s", exc)
            return
        self.stats.frames += len(out)

    def _follow_trust_centre_key(self, node: Any) -> None:
        """Log and use the link key the trust centre holds for ``node`` as soon
        as it changes: the install-code key from the join, later the key CBKE
        established (the virtual HAN installs nothing else)."""
        app = self._han.app
        if node.nwk == 0x0000 or app is None:
            return
        ieee = ieee_int(node.ieee)
        held = app.link_key_for(node.ieee)
        key = None if held is None else bytes(held)
        if key is None or self._tc_keys.get(ieee) == key:
            return
        kind = "install-code" if ieee not in self._tc_keys else "CBKE"
        self._tc_keys[ieee] = key
        if self.keylog is not None:
            self.keylog.add(key, f"{kind} link key {ieee:016X}")
        assert self.network is not None
        self.network.set_link_key(app.state.node_info.ieee, node.ieee, key)

    def close(self) -> None:
        if self._han is not None and self._on_frame in getattr(self._han, "listeners", ()):
            self._han.listeners.remove(self._on_frame)
        for closer in (self.pcap, self.zep, self.keylog):
            if closer is not None:
                closer.close()

    def __enter__(self) -> HanRecording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ServedRecording(HanRecording):
    """A capture of what the ESI served on a coordinator stick.

    The host never sees the stick's air, only the packets it hands the stick
    and gets from it: each is synthesized into its frames (MAC, NWK and APS
    security under the network key and the link key the host gave the stick
    for that device, ACKs), as on the virtual HAN.  The counters, sequence
    numbers and any retries are the synthesizer's, not the stick's: a sniffer
    (``han-emu sniff --save``) records the real air.  ZDO and joins, handled by
    the stick's firmware, are not in it.
    """

    def attach_hardware(self, han: Any) -> ServedRecording:
        """Listen to a ``HardwareHan``'s served packets (before or after it starts)."""
        self._han = han
        if self.active:
            han.packet_listeners.append(self._on_served)
        return self

    def _hardware_network(self) -> NetworkContext | None:
        app = self._han.app
        if app is None or app.state.network_info is None:
            return None
        if self.network is None or self.network.pan_id != app.state.network_info.pan_id:
            self.network = None
            self.recorder = None
            net = self._ensure_network()
            net.learn(app.state.node_info.ieee, int(app.state.node_info.nwk))
        assert self.network is not None
        return self.network

    def _on_served(self, packet: t.ZigbeePacket, incoming: bool) -> None:
        """A ``HardwareHan`` packet listener: the ESI took or made ``packet``."""
        net = self._hardware_network()
        if net is None or self.recorder is None:
            return
        app = self._han.app
        own = app.state.node_info
        coordinator = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(own.nwk))
        if incoming:
            peer_nwk = int(packet.src.address) if packet.src is not None else None
            sender = app.ieee_of(peer_nwk) if peer_nwk is not None else None
            if packet.dst is None:
                packet = packet.replace(dst=coordinator)
        else:
            sender = own.ieee
            if packet.src is None:
                packet = packet.replace(src=coordinator)
            dst = packet.dst
            peer_nwk = int(dst.address) if dst is not None and dst.addr_mode == t.AddrMode.NWK else None
        peer = app.ieee_of(peer_nwk) if peer_nwk is not None else None
        if sender is None:
            self.stats.failed += 1  # a device zigpy has not seen join: its IEEE address is unknown
            return
        if peer is not None and peer != own.ieee:
            net.learn(peer, peer_nwk)
            key = app.link_keys.get(t.EUI64(peer))
            if key is not None and net.link_key(ieee_int(own.ieee), ieee_int(peer)) != bytes(key):
                net.set_link_key(own.ieee, peer, bytes(key))
        self.stats.packets += 1
        try:
            out = self.recorder.packet(packet, self._han.clock.now(), src_ieee=sender)
        except FrameError as exc:
            self.stats.failed += 1
            LOGGER.warning("packet not recorded: %s", exc)
            return
        self.stats.frames += len(out)

    def close(self) -> None:
        if self._han is not None and self._on_served in getattr(self._han, "packet_listeners", ()):
            self._han.packet_listeners.remove(self._on_served)
        super().close()


def _receiver(air: Any, dst: t.AddrModeAddress | None) -> Any:
    if dst is None:
        return None
    if dst.addr_mode == t.AddrMode.NWK:
        return air.node_by_nwk(int(dst.address))
    if dst.addr_mode == t.AddrMode.IEEE:
        return air.node_by_ieee(dst.address)
    return None


def _sender_key(node: Any, partner: t.EUI64) -> bytes | None:
    """The APS link key ``node`` encrypts with for ``partner`` (the default
    trust-centre key when it holds none); None when it does not model keys."""
    lookup = getattr(node, "aps_link_key", None)
    if not callable(lookup):
        return None
    key = lookup(partner)
    return bytes(DEFAULT_TC_LINK_KEY if key is None else key)


def record_han(han: Any, **options: Any) -> HanRecording:
    """Make a :class:`HanRecording` with ``options`` and attach it to ``han``."""
    return HanRecording(**options).attach(han)
