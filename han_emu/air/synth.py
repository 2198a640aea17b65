"""Every frame a sniffer would see for one packet sent on the HAN.

Radios report traffic at the APS level (a zigpy ``ZigbeePacket``); airtime,
duty cycle and packet captures need the frames that really go on air.  The
:class:`FrameSynthesizer` turns one packet into those frames: the MAC data
frame(s) with NWK and APS headers, NWK security and, when the packet asks for
it, APS security; APS fragments when the payload does not fit a 127-byte PSDU;
the MAC ACK for each unicast frame; and the APS ACK(s) coming back.

What it keeps between packets lives in a :class:`NetworkContext`: PAN and keys,
the IEEE<->NWK map, and per-node sequence numbers and frame counters, so a run
of packets yields the same counters a real stack would put on air.

Simplifications (documented so nobody mistakes them for the real thing):
every unicast is one hop (MAC destination = NWK destination); broadcasts are
not relayed and never APS-secured (Smart Energy secures them with the network
key only); timing between frames is the PHY's turnaround before an ACK and a
fixed gap before any other frame (listen-before-talk time on GB-868, the long
inter-frame spacing on 2.4 GHz), with no random backoff.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import zigpy.types as t

from han_emu.air.airtime import US_PER_S, frame_airtime_us
from han_emu.air.phy import PAGE_2400, phy_for_page
from han_emu.crypto.keys import DEFAULT_TC_LINK_KEY
from han_emu.frames.aps import ApsFrameType, DeliveryMode, Fragmentation
from han_emu.frames.builders import aps_ack, aps_data, aux_header, mac_ack, mac_data, nwk_frame
from han_emu.frames.errors import FrameError
from han_emu.frames.fastbuild import encode
from han_emu.frames.keyring import as_key
from han_emu.frames.mac import BROADCAST
from han_emu.frames.secheader import KeyId


MAX_PSDU = 127
MAC_MAX_FRAME_RETRIES = 3
"""macMaxFrameRetries: transmissions after the first when no MAC ACK comes."""
RX_ON_WHEN_IDLE = 0xFFFD
DEFAULT_RADIUS = 30

KeyListener = Callable[[str, bytes, str], None]
"""Called as (kind, key, label) when a key comes into use: kind is "network" or "link"."""


class FrameKind(StrEnum):
    DATA = "data"
    FRAGMENT = "fragment"
    MAC_ACK = "mac-ack"
    APS_ACK = "aps-ack"


def ieee_int(ieee: int | str | t.EUI64) -> int:
    """An IEEE address as the integer the frame codecs use."""
    if isinstance(ieee, t.EUI64):
        # bytes() is what serialize() gives (the octets in order) at a fraction of its
        # cost; the recorder converts several addresses per frame.
        return int.from_bytes(bytes(ieee) if len(ieee) == 8 else ieee.serialize(), "little")
    if isinstance(ieee, str):
        return ieee_int(t.EUI64.convert(ieee))
    return int(ieee)


@dataclass
class NodeCounters:
    """What one node increments per frame it sends."""

    mac_seq: int = 0
    nwk_seq: int = 0
    nwk_frame_counter: int = 0
    aps_frame_counter: int = 0
    aps_counter: int = 0

    def next_mac(self) -> int:
        value, self.mac_seq = self.mac_seq, (self.mac_seq + 1) & 0xFF
        return value

    def next_nwk(self) -> int:
        value, self.nwk_seq = self.nwk_seq, (self.nwk_seq + 1) & 0xFF
        return value

    def next_nwk_fc(self) -> int:
        value, self.nwk_frame_counter = self.nwk_frame_counter, (self.nwk_frame_counter + 1) & 0xFFFFFFFF
        return value

    def next_aps_fc(self) -> int:
        value, self.aps_frame_counter = self.aps_frame_counter, (self.aps_frame_counter + 1) & 0xFFFFFFFF
        return value

    def next_aps(self) -> int:
        value, self.aps_counter = self.aps_counter, (self.aps_counter + 1) & 0xFF
        return value


@dataclass
class NetworkContext:
    """The network as the synthesizer needs it, and the per-node counters it advances.

    ``link_keys`` holds the APS keys of node pairs (install-code derived or
    CBKE-established); a pair without one uses ``default_link_key``.  Key
    listeners hear of every key as it comes into use, so a key log can follow.
    """

    pan_id: int
    network_key: bytes
    extended_pan_id: int = 0
    channel: int = 11
    page: int = PAGE_2400
    key_seq: int = 0
    default_link_key: bytes = DEFAULT_TC_LINK_KEY
    radius: int = DEFAULT_RADIUS
    aps_window: int = 1
    """APS fragments acknowledged by one APS ACK (apsMaxWindowSize)."""
    aps_extended_nonce: bool = True
    """Put the sender's IEEE address in the APS auxiliary header."""
    addresses: dict[int, int] = field(default_factory=dict)
    """IEEE -> NWK."""
    link_keys: dict[frozenset[int], bytes] = field(default_factory=dict)
    counters: dict[int, NodeCounters] = field(default_factory=dict)
    key_listeners: list[KeyListener] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.network_key = as_key(self.network_key)
        self.default_link_key = as_key(self.default_link_key)

    @classmethod
    def from_network_info(cls, network_info: Any, node_info: Any | None = None, *, page: int = PAGE_2400) -> NetworkContext:
        """Context for a network zigpy describes (``zigpy.state.NetworkInfo``).

        The coordinator's NWK frame counter starts at the network key's
        ``tx_counter``; key-table entries become pair keys with the coordinator.
        """
        ctx = cls(
            pan_id=int(network_info.pan_id),
            network_key=bytes(network_info.network_key.key),
            extended_pan_id=int.from_bytes(network_info.extended_pan_id.serialize(), "little"),
            channel=int(network_info.channel),
            page=page,
            key_seq=int(network_info.network_key.seq),
            default_link_key=bytes(network_info.tc_link_key.key),
        )
        for ieee, nwk in network_info.nwk_addresses.items():
            ctx.learn(ieee, nwk)
        if node_info is not None:
            coordinator = ieee_int(node_info.ieee)
            ctx.learn(coordinator, int(node_info.nwk))
            ctx.node(coordinator).nwk_frame_counter = int(network_info.network_key.tx_counter)
            for entry in network_info.key_table:
                ctx.link_keys[frozenset((coordinator, ieee_int(entry.partner_ieee)))] = as_key(bytes(entry.key))
        return ctx

    # -- addresses and counters ---------------------------------------------------

    def learn(self, ieee: int | str | t.EUI64, nwk: int) -> None:
        self.addresses[ieee_int(ieee)] = int(nwk)

    def nwk_of(self, ieee: int) -> int | None:
        return self.addresses.get(ieee)

    def ieee_of(self, nwk: int) -> int | None:
        for ieee, short in self.addresses.items():
            if short == nwk:
                return ieee
        return None

    def node(self, ieee: int) -> NodeCounters:
        counters = self.counters.get(ieee)
        if counters is None:
            counters = self.counters[ieee] = NodeCounters()
        return counters

    # -- keys ---------------------------------------------------------------------------

    def subscribe_keys(self, listener: KeyListener) -> Callable[[], None]:
        """Tell ``listener`` about every key in use now and from now on."""
        self.key_listeners.append(listener)
        for kind, key, label in self.keys():
            listener(kind, key, label)

        def remove() -> None:
            if listener in self.key_listeners:
                self.key_listeners.remove(listener)

        return remove

    def keys(self) -> list[tuple[str, bytes, str]]:
        """(kind, key, label) for the network key, the default and every pair link key."""
        rows = [("network", self.network_key, f"network key seq {self.key_seq}"),
                ("link", self.default_link_key, "default trust centre link key")]
        for pair, key in self.link_keys.items():
            rows.append(("link", key, "link key " + " ".join(f"{ieee:016X}" for ieee in sorted(pair))))
        return rows

    def set_network_key(self, key: bytes, seq: int) -> None:
        self.network_key, self.key_seq = as_key(key), seq
        self._announce("network", self.network_key, f"network key seq {seq}")

    def set_link_key(self, a: int | str | t.EUI64, b: int | str | t.EUI64, key: bytes) -> None:
        """The APS key two nodes share from now on (e.g. established by CBKE)."""
        pair = frozenset((ieee_int(a), ieee_int(b)))
        self.link_keys[pair] = as_key(key)
        self._announce("link", self.link_keys[pair], "link key " + " ".join(f"{ieee:016X}" for ieee in sorted(pair)))

    def link_key(self, a: int, b: int | None) -> bytes:
        if b is None:
            return self.default_link_key
        return self.link_keys.get(frozenset((a, b)), self.default_link_key)

    def _announce(self, kind: str, key: bytes, label: str) -> None:
        for listener in list(self.key_listeners):
            listener(kind, key, label)


@dataclass(frozen=True, slots=True)
class OnAirFrame:
    """One transmission: who sends it, when (relative to the packet's start), what.

    ``psdu`` is the MAC frame with its FCS, exactly as on air.
    """

    offset: float
    tx_ieee: int
    tx_nwk: int | None
    psdu: bytes
    kind: FrameKind
    airtime_us: int
    mac_seq: int
    retry: bool = False
    block: int | None = None

    @property
    def airtime(self) -> float:
        return self.airtime_us / US_PER_S


class Ledger(Protocol):
    def record_us(self, device: Hashable, page: int, channel: int, airtime_us: int, now: float | None = None) -> bool: ...


def charge(ledger: Ledger, frames: Iterable[OnAirFrame], start: float, *, page: int, channel: int) -> list[bool]:
    """Charge each frame's airtime to its transmitter (keyed by IEEE integer)
    in an ``AirtimeLedger``/``DutyCycleLedger``; returns whether each went out."""
    return [ledger.record_us(f.tx_ieee, page, channel, f.airtime_us, start + f.offset) for f in frames]


@dataclass(frozen=True)
class _Hop:
    """Addresses of one direction of an exchange."""

    src_ieee: int
    src_nwk: int
    dst_ieee: int | None
    dst_nwk: int


class FrameSynthesizer:
    """Builds the on-air frames of packets sent on one network."""

    def __init__(self, network: NetworkContext) -> None:
        self.network = network
        self.phy = phy_for_page(network.page)
        self.turnaround_us = self.phy.turnaround_us
        self.ack_wait_us = self.phy.ack_wait_us
        # Between frames: the long inter-frame spacing, or listen-before-talk where the PHY has it.
        self.gap_us = self.phy.lbt_min_free_us or self.phy.lifs_us
        self._block_sizes: dict[tuple[Any, ...], int] = {}

    # -- public -------------------------------------------------------------------------

    def synthesize(
        self,
        packet: t.ZigbeePacket,
        *,
        src_ieee: int | str | t.EUI64 | None = None,
        aps_ack: bool = False,
        aps_counter: int | None = None,
        delivered: bool = True,
        ack_back: bool | None = None,
    ) -> list[OnAirFrame]:
        """The frames of ``packet`` in the order they go on air.

        ``aps_ack`` says ``packet`` *is* an APS acknowledgement (as the virtual
        air reports one: the acknowledged packet with src/dst swapped); then
        ``aps_counter`` is the acknowledged frame's counter.  Otherwise
        ``aps_counter`` overrides the sender's own APS counter.  ``delivered``
        False means the receiver never heard it: no ACKs, and a unicast is
        retried by the MAC.  ``ack_back`` (default: the packet asked for an APS
        ACK, was unicast and delivered) adds the receiver's APS ACK(s).
        """
        hop = self._hop(packet, src_ieee)
        if aps_ack:
            if aps_counter is None:
                raise FrameError("synth", "an APS ACK needs the counter of the frame it acknowledges")
            frames: list[OnAirFrame] = []
            self._aps_ack(frames, 0, packet, hop, aps_counter, None, swap=False)
            return frames
        return self._data(packet, hop, aps_counter, delivered, ack_back)

    def synthesize_at(self, start: float, packet: t.ZigbeePacket, **kwargs: Any) -> list[tuple[float, OnAirFrame]]:
        """``synthesize`` with absolute times (``start`` + each frame's offset)."""
        return [(start + f.offset, f) for f in self.synthesize(packet, **kwargs)]

    # -- addressing -----------------------------------------------------------------------

    def _hop(self, packet: t.ZigbeePacket, src_ieee: int | str | t.EUI64 | None) -> _Hop:
        net = self.network
        src_nwk: int | None = None
        if packet.src is not None:
            if packet.src.addr_mode == t.AddrMode.NWK:
                src_nwk = int(packet.src.address)
            elif packet.src.addr_mode == t.AddrMode.IEEE and src_ieee is None:
                src_ieee = packet.src.address
        ieee = ieee_int(src_ieee) if src_ieee is not None else (net.ieee_of(src_nwk) if src_nwk is not None else None)
        if ieee is None:
            raise FrameError("synth", "the sender's IEEE address is unknown (pass src_ieee)")
        if src_nwk is None:
            src_nwk = net.nwk_of(ieee)
            if src_nwk is None:
                raise FrameError("synth", f"no NWK address known for {ieee:016X}")
        else:
            net.learn(ieee, src_nwk)
        dst = packet.dst
        if dst is None:
            raise FrameError("synth", "packet has no destination")
        if dst.addr_mode == t.AddrMode.NWK:
            return _Hop(ieee, src_nwk, net.ieee_of(int(dst.address)), int(dst.address))
        if dst.addr_mode == t.AddrMode.IEEE:
            dst_ieee = ieee_int(dst.address)
            dst_nwk = net.nwk_of(dst_ieee)
            if dst_nwk is None:
                raise FrameError("synth", f"no NWK address known for destination {dst_ieee:016X}")
            return _Hop(ieee, src_nwk, dst_ieee, dst_nwk)
        if dst.addr_mode == t.AddrMode.Group:
            return _Hop(ieee, src_nwk, None, RX_ON_WHEN_IDLE)
        return _Hop(ieee, src_nwk, None, int(dst.address))

    @staticmethod
    def _unicast(hop: _Hop) -> bool:
        return hop.dst_nwk < 0xFFF8

    # -- frame building -----------------------------------------------------------------

    def _frame(self, hop: _Hop, aps: dict[str, Any], payload: bytes, *, encrypt_aps: bool, ack_request: bool,
               counters: NodeCounters | None = None) -> tuple[bytes, int]:
        """(PSDU, MAC sequence number) of one NWK-secured frame from ``hop.src``.

        ``counters`` defaults to the sender's own; a scratch set measures sizes
        without spending real counters."""
        net = self.network
        counters = net.node(hop.src_ieee) if counters is None else counters
        if encrypt_aps:
            aps["frame_control"]["security"] = True
            aps["aux"] = aux_header(
                frame_counter=counters.next_aps_fc(), key_id=KeyId.DATA,
                source=hop.src_ieee if net.aps_extended_nonce else None,
            )
        seq = counters.next_mac()
        mac = mac_data(seq=seq, pan=net.pan_id, dst=hop.dst_nwk if self._unicast(hop) else BROADCAST,
                       src=hop.src_nwk, ack_request=ack_request)
        nwk = nwk_frame(dst=hop.dst_nwk, src=hop.src_nwk, seq=counters.next_nwk(), radius=net.radius,
                        frame_counter=counters.next_nwk_fc(), source_ieee=hop.src_ieee, key_seq=net.key_seq,
                        discover_route=1 if self._unicast(hop) else 0)
        psdu = encode(mac, nwk, aps, payload=payload, network_key=net.network_key,
                      link_key=net.link_key(hop.src_ieee, hop.dst_ieee), aps_source=hop.src_ieee)
        if len(psdu) > MAX_PSDU:
            raise FrameError("synth", f"{len(psdu)}-byte PSDU does not fit {MAX_PSDU} bytes")
        return psdu, seq

    def _aps_header(self, packet: t.ZigbeePacket, counter: int, *, ack_request: bool) -> dict[str, Any]:
        dst = packet.dst
        mode = DeliveryMode.UNICAST
        group = None
        if dst.addr_mode == t.AddrMode.Group:
            mode, group = DeliveryMode.GROUP, int(dst.address)
        elif dst.addr_mode == t.AddrMode.Broadcast:
            mode = DeliveryMode.BROADCAST
        return aps_data(
            cluster=int(packet.cluster_id), dst_endpoint=int(packet.dst_ep or 0), src_endpoint=int(packet.src_ep or 0),
            counter=counter, profile=int(packet.profile_id), ack_request=ack_request, delivery_mode=mode, group=group,
        )

    def _block_size(self, packet: t.ZigbeePacket, hop: _Hop, encrypt: bool, fragmented: bool) -> int:
        """Largest APS payload one frame carries, measured on a scratch build.

        The headers' lengths depend only on the delivery mode, the security
        and the fragmentation (addresses and counters have fixed sizes), so
        each such shape is measured once."""
        shape = (packet.dst.addr_mode, self._unicast(hop), encrypt, fragmented, self.network.aps_extended_nonce)
        size = self._block_sizes.get(shape)
        if size is None:
            size = self._block_sizes[shape] = self._measure_block(packet, hop, encrypt, fragmented)
        return size

    def _measure_block(self, packet: t.ZigbeePacket, hop: _Hop, encrypt: bool, fragmented: bool) -> int:
        aps = self._aps_header(packet, 0, ack_request=True)
        if fragmented:
            _extend(aps, Fragmentation.FIRST, 2)
        psdu, _ = self._frame(hop, aps, b"", encrypt_aps=encrypt, ack_request=True, counters=NodeCounters())
        return MAX_PSDU - len(psdu)

    def _data(self, packet: t.ZigbeePacket, hop: _Hop, aps_counter: int | None, delivered: bool, ack_back: bool | None) -> list[OnAirFrame]:
        net = self.network
        unicast = self._unicast(hop)
        payload = packet.data.serialize()
        # Smart Energy secures broadcasts and groupcasts at the NWK layer only.
        encrypt = unicast and t.TransmitOptions.APS_Encryption in packet.tx_options
        wants_ack = unicast and t.TransmitOptions.ACK in packet.tx_options
        if len(payload) <= self._block_size(packet, hop, encrypt, False):
            blocks = [payload]
        else:
            if not unicast:
                raise FrameError("synth", f"{len(payload)}-byte broadcast payload needs fragmentation, which only unicast allows")
            size = self._block_size(packet, hop, encrypt, True)
            blocks = [payload[i : i + size] for i in range(0, len(payload), size)]
            wants_ack = True  # a fragmented transmission is always acknowledged
            if len(blocks) > 0xFF:
                raise FrameError("synth", f"{len(payload)}-byte payload needs {len(blocks)} blocks; at most 255")
        counter = net.node(hop.src_ieee).next_aps() if aps_counter is None else aps_counter
        if ack_back is None:
            ack_back = wants_ack and delivered
        fragmented = len(blocks) > 1
        kind = FrameKind.FRAGMENT if fragmented else FrameKind.DATA
        frames: list[OnAirFrame] = []
        at = 0
        for index, block in enumerate(blocks):
            if index:
                at += self.gap_us
            aps = self._aps_header(packet, counter, ack_request=wants_ack)
            if fragmented:
                first = index == 0
                _extend(aps, Fragmentation.FIRST if first else Fragmentation.SUBSEQUENT, len(blocks) if first else index)
            psdu, seq = self._frame(hop, aps, block, encrypt_aps=encrypt, ack_request=unicast)
            block_no = index if fragmented else None
            if not delivered:
                for attempt in range(1 + MAC_MAX_FRAME_RETRIES if unicast else 1):
                    frames.append(self._on_air(at, hop.src_ieee, hop.src_nwk, psdu, kind, seq, retry=attempt > 0, block=block_no))
                    at += frames[-1].airtime_us + (self.ack_wait_us if unicast else self.gap_us)
                return frames  # nobody answered: the sender gives up after this block
            frames.append(self._on_air(at, hop.src_ieee, hop.src_nwk, psdu, kind, seq, block=block_no))
            at += frames[-1].airtime_us
            if unicast:
                at = self._mac_ack(frames, at, hop.dst_ieee, hop.dst_nwk, seq)
            last_of_window = (index + 1) % net.aps_window == 0 or index == len(blocks) - 1
            if ack_back and last_of_window:
                first_block = index - index % net.aps_window
                window = (first_block, index - first_block + 1) if fragmented else None
                at = self._aps_ack(frames, at + self.gap_us, packet, _reverse(hop), counter, window, swap=True)
        return frames

    def _aps_ack(self, frames: list[OnAirFrame], at: int, packet: t.ZigbeePacket, hop: _Hop, counter: int,
                 blocks: tuple[int, int] | None, *, swap: bool) -> int:
        """Append the APS ACK from ``hop.src`` (the data's receiver) and its MAC
        ACK; return the time the MAC ACK ends.

        ``packet`` is the acknowledged packet (``swap``: its endpoints turn
        round) or the ACK as the air reports it.  ``blocks`` is (first block,
        count) of the fragment window acknowledged.
        """
        dst_ep, src_ep = (packet.src_ep, packet.dst_ep) if swap else (packet.dst_ep, packet.src_ep)
        aps = aps_ack(cluster=int(packet.cluster_id), dst_endpoint=int(dst_ep or 0), src_endpoint=int(src_ep or 0),
                      counter=counter, profile=int(packet.profile_id))
        if blocks is not None:
            first, count = blocks
            _extend(aps, Fragmentation.FIRST if first == 0 else Fragmentation.SUBSEQUENT, first, ack_bitfield=(1 << count) - 1)
        encrypt = t.TransmitOptions.APS_Encryption in packet.tx_options
        psdu, seq = self._frame(hop, aps, b"", encrypt_aps=encrypt, ack_request=True)
        frames.append(self._on_air(at, hop.src_ieee, hop.src_nwk, psdu, FrameKind.APS_ACK, seq))
        return self._mac_ack(frames, at + frames[-1].airtime_us, hop.dst_ieee, hop.dst_nwk, seq)

    def _mac_ack(self, frames: list[OnAirFrame], at: int, ieee: int | None, nwk: int, seq: int) -> int:
        """Append the receiver's MAC ACK after the turnaround; return its end time.
        An acker whose IEEE address is unknown is recorded as IEEE 0."""
        at += self.turnaround_us
        frames.append(self._on_air(at, ieee if ieee is not None else 0, nwk, encode(mac_ack(seq=seq)), FrameKind.MAC_ACK, seq))
        return at + frames[-1].airtime_us

    def _on_air(self, at_us: int, ieee: int, nwk: int | None, psdu: bytes, kind: FrameKind, seq: int,
                *, retry: bool = False, block: int | None = None) -> OnAirFrame:
        return OnAirFrame(at_us / US_PER_S, ieee, nwk, psdu, kind, frame_airtime_us(len(psdu), self.phy), seq, retry, block)


def _extend(aps: dict[str, Any], fragmentation: int, block_number: int, *, ack_bitfield: int | None = None) -> None:
    aps["frame_control"]["extended_header"] = True
    ack = int(aps["frame_control"]["frame_type"]) == ApsFrameType.ACK
    aps["extended"] = dict(control=dict(reserved=0, fragmentation=fragmentation), block_number=block_number,
                           ack_bitfield=ack_bitfield if ack else None)


def _reverse(hop: _Hop) -> _Hop:
    if hop.dst_ieee is None:
        raise FrameError("synth", f"the IEEE address of 0x{hop.dst_nwk:04X} is unknown: cannot build its APS ACK")
    return _Hop(hop.dst_ieee, hop.dst_nwk, hop.src_ieee, hop.src_nwk)


def psdus(frames: Sequence[OnAirFrame]) -> list[bytes]:
    return [f.psdu for f in frames]
