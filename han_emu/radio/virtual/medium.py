"""The virtual air: a shared medium that the virtual coordinator and the simulated
devices transmit on.

It works at the level radios report to zigpy (``zigpy.types.ZigbeePacket``),
not at the MAC: frame synthesis, airtime accounting and pcap recording attach
through :meth:`VirtualAir.add_listener`, which sees every packet put on the air
and every APS acknowledgement.  Delivery keeps the order of transmission, takes
a small configurable latency, and fails like a real radio when the peer is
absent or out of reach.

APS-encrypted unicasts are only accepted when both ends hold the same link key
for each other (nodes that model keys offer ``aps_link_key(partner)``; a node
without a key for its partner uses the default trust-centre link key, as a
stack does): a wrong key fails delivery the way a MIC failure would.

Every frame carries its sender's NWK frame counter (:attr:`AirFrame.nwk_counter`):
a node offering ``next_nwk_counter()`` (the coordinator, whose counter is kept
with its radio's non-volatile state) counts for itself, the air counts for the
others.  Each receiver keeps the highest counter seen per sender and drops a
frame whose counter is not higher (a replay, see :meth:`VirtualAir.replay`):
it is not handed to the node and not acknowledged.  APS-encrypted frames (and
their acknowledgements) also carry the sender's APS security frame counter
(:attr:`AirFrame.aps_frame_counter`), checked end to end by the receiver in a
second table.  :meth:`VirtualAir.counter_state` and
:meth:`VirtualAir.restore_counters` carry every counter across a restart.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import random
from datetime import UTC, datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import zigpy.exceptions
import zigpy.state
import zigpy.types as t

from han_emu.crypto.keys import DEFAULT_TC_LINK_KEY
from han_emu.radio.virtual.counters import AirCounters
from han_emu.radio.virtual.nwk_keys import active_key, holds, nwk_keys_agree
from han_emu.radio.virtual.packets import (
    ack_packet,
    encryption_only,
    nwk_address,
    received_packet,
    replace_packet,
)
from han_emu.radio.vtime import clock_for_loop, loop_now, running_loop

LOGGER = logging.getLogger(__name__)

COORDINATOR_NWK = t.NWK(0x0000)

class JoinRefused(Exception):
    """Association was refused: no network, joining not permitted, or wrong key."""


@runtime_checkable
class AirNode(Protocol):
    """Anything that sits on the air: the coordinator port or a simulated device."""

    ieee: t.EUI64
    nwk: t.NWK | None
    is_router: bool
    rx_on_when_idle: bool
    groups: set[int]

    def air_receive(self, packet: t.ZigbeePacket) -> None:
        """Called for each packet delivered to this node (src, lqi, rssi filled in)."""
        ...


@runtime_checkable
class TrustCenter(Protocol):
    """The coordinator's side of association: it decides who may join."""

    def accept_join(self, ieee: t.EUI64, link_key: t.KeyData | None) -> bool: ...

    def device_joined(self, ieee: t.EUI64, nwk: t.NWK, parent: t.NWK) -> None: ...

    def device_left(self, ieee: t.EUI64, nwk: t.NWK) -> None: ...


@dataclass
class Link:
    """Radio conditions between two nodes (symmetric)."""

    lqi: int = 255
    rssi: int = -45
    up: bool = True


@dataclass(frozen=True)
class AirFrame:
    """One transmission seen on the air, as given to listeners.

    ``packet`` is the packet as sent (its ``src`` filled in); ``aps_ack`` marks
    the acknowledgement a receiver sends back for a packet sent with the ACK
    option (its ``packet`` then is the acknowledged packet with src/dst swapped
    and no payload).  ``delivered_to`` lists who received it; empty means it
    reached nobody.  ``nwk_counter`` is the sender's outgoing NWK frame counter
    (the transmitter's own for an acknowledgement); ``aps_frame_counter`` its
    APS security frame counter when the frame is APS-encrypted, else None.
    """

    time: float
    src_ieee: t.EUI64
    src: t.NWK
    dst: t.AddrModeAddress
    packet: t.ZigbeePacket
    tx_options: t.TransmitOptions
    aps_ack: bool
    aps_counter: int
    delivered_to: tuple[t.EUI64, ...] = ()
    nwk_counter: int = 0
    aps_frame_counter: int | None = None


AirListener = Callable[[AirFrame], None]


@dataclass
class RadioState:
    """What a virtual radio keeps in its non-volatile memory."""

    ieee: t.EUI64
    network_info: zigpy.state.NetworkInfo | None = None
    node_info: zigpy.state.NodeInfo | None = None
    nwk_frame_counter: int = 0
    """The next outgoing NWK frame counter: never goes back, even when a
    network is formed again."""
    aps_frame_counter: int = 0
    """The next outgoing APS security frame counter, kept the same way."""


# A delivery waiting for its latency to pass: (due loop time, action, its arguments).
_Pending = tuple[float, Callable[..., None], tuple]


class VirtualAir(AirCounters):
    """A shared medium addressed by NWK short address and IEEE address."""

    def __init__(
        self,
        *,
        latency: float = 0.005,
        ack_timeout: float = 1.5,
        default_link: Link | None = None,
        seed: int | None = 0,
    ) -> None:
        self.latency = latency
        self.ack_timeout = ack_timeout
        self.default_link = default_link or Link()
        self.rng = random.Random(seed)
        self.radios: dict[str, RadioState] = {}
        self.channel_energy: dict[int, int] = {ch: 10 for ch in range(11, 27)}
        # Keyed by the address bytes: zigpy's EUI64 hashes through repr(), slow on a hot path.
        self._nodes: dict[bytes, AirNode] = {}
        self._links: dict[frozenset[bytes], Link] = {}
        self._listeners: list[AirListener] = []
        # The listeners as a frame is told to them (the list copied on each
        # change, not on each of the frames).
        self._listening: tuple[AirListener, ...] = ()
        self._trust_center: TrustCenter | None = None
        self._aps_counters: dict[bytes, int] = collections.defaultdict(int)
        self._init_counters()
        self._queue: collections.deque[_Pending] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None

    # -- membership ----------------------------------------------------------

    def attach(self, node: AirNode) -> None:
        """Put ``node`` on the air (it must already have a NWK address)."""
        if node.nwk is None:
            raise ValueError("a node needs a NWK address to be on the air")
        other = self.node_by_nwk(node.nwk)
        if other is not None and other is not node:
            raise ValueError(f"NWK address 0x{node.nwk:04X} already in use")
        self._nodes[bytes(node.ieee)] = node

    def detach(self, node: AirNode) -> None:
        if self._nodes.get(bytes(node.ieee)) is node:
            del self._nodes[bytes(node.ieee)]

    def set_trust_center(self, tc: TrustCenter | None) -> None:
        self._trust_center = tc

    @property
    def nodes(self) -> list[AirNode]:
        return list(self._nodes.values())

    def node_by_nwk(self, nwk: int) -> AirNode | None:
        for node in self._nodes.values():
            if node.nwk == nwk:
                return node
        return None

    def node_by_ieee(self, ieee: t.EUI64) -> AirNode | None:
        return self._nodes.get(bytes(ieee))

    def radio(self, radio_id: str, ieee: t.EUI64 | None = None) -> RadioState:
        """The non-volatile state of the virtual radio called ``radio_id``."""
        state = self.radios.get(radio_id)
        if state is None:
            if ieee is None:
                ieee = t.EUI64(self.rng.randbytes(8))
            state = self.radios[radio_id] = RadioState(ieee=ieee)
        return state

    # -- links ----------------------------------------------------------------

    def link(self, a: t.EUI64, b: t.EUI64) -> Link:
        if not self._links:
            return self.default_link
        return self._links.get(frozenset((bytes(a), bytes(b))), self.default_link)

    def set_link(
        self,
        a: t.EUI64,
        b: t.EUI64,
        *,
        lqi: int | None = None,
        rssi: int | None = None,
        up: bool | None = None,
    ) -> Link:
        """Change the radio conditions between ``a`` and ``b``."""
        old = self.link(a, b)
        new = Link(
            lqi=old.lqi if lqi is None else lqi,
            rssi=old.rssi if rssi is None else rssi,
            up=old.up if up is None else up,
        )
        self._links[frozenset((bytes(a), bytes(b)))] = new
        return new

    # -- listeners ------------------------------------------------------------

    def add_listener(self, listener: AirListener) -> Callable[[], None]:
        """Call ``listener`` for every frame on the air; returns a remover."""
        self._listeners.append(listener)
        self._listening = tuple(self._listeners)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)
                self._listening = tuple(self._listeners)

        return remove

    def _announce(self, loop: asyncio.AbstractEventLoop, transmitter: AirNode, packet: t.ZigbeePacket, *,
                  aps_ack: bool, aps_counter: int, delivered_to: tuple[t.EUI64, ...], nwk_counter: int,
                  aps_fc: int | None) -> None:
        """Tell the listeners ``transmitter`` put ``packet`` on the air now."""
        # AirFrame(...) as the dataclass builds it, without its frozen
        # __init__'s eleven object.__setattr__ calls: two frames per exchange.
        frame = object.__new__(AirFrame)
        frame.__dict__.update(
            time=loop_now(loop), src_ieee=transmitter.ieee, src=transmitter.nwk, dst=packet.dst,
            packet=packet, tx_options=packet.tx_options, aps_ack=aps_ack, aps_counter=aps_counter,
            delivered_to=delivered_to, nwk_counter=nwk_counter, aps_frame_counter=aps_fc,
        )
        for listener in self._listening:  # self._emit(frame), without the call
            try:
                listener(frame)
            except Exception:
                LOGGER.exception("Air listener %r failed on %r", listener, frame)

    def _emit(self, frame: AirFrame) -> None:
        for listener in self._listening:
            try:
                listener(frame)
            except Exception:
                LOGGER.exception("Air listener %r failed on %r", listener, frame)

    # -- joining ----------------------------------------------------------------

    def associate(
        self,
        node: AirNode,
        *,
        link_key: t.KeyData | None = None,
        nwk: t.NWK | None = None,
    ) -> t.NWK:
        """Join ``node`` through the trust centre; give it a NWK address.

        Raises :class:`JoinRefused` when there is no network, joining is closed,
        the key does not match, or the node cannot hear the coordinator.
        """
        tc = self._trust_center
        coordinator = self.node_by_nwk(COORDINATOR_NWK)
        if tc is None or coordinator is None:
            raise JoinRefused("no network to join")
        if not self.link(node.ieee, coordinator.ieee).up:
            raise JoinRefused("coordinator out of reach")
        if not tc.accept_join(node.ieee, link_key):
            raise JoinRefused("the trust centre refused the join")
        if nwk is None or self.node_by_nwk(nwk) not in (None, node):
            nwk = self._free_nwk()
        node.nwk = t.NWK(nwk)
        self.attach(node)
        tc.device_joined(node.ieee, node.nwk, COORDINATOR_NWK)
        return node.nwk

    def leave(self, node: AirNode) -> None:
        """Take ``node`` off the network, telling the trust centre."""
        nwk = node.nwk
        self.detach(node)
        if self._trust_center is not None and nwk is not None:
            self._trust_center.device_left(node.ieee, nwk)

    def _free_nwk(self) -> t.NWK:
        while True:
            nwk = self.rng.randint(0x0001, 0xFFF7)
            if self.node_by_nwk(nwk) is None:
                return t.NWK(nwk)

    # -- transmission -------------------------------------------------------------

    async def transmit(self, sender: AirNode, packet: t.ZigbeePacket) -> None:
        """Put ``packet`` on the air from ``sender``.

        Unicast with the ACK option returns once the APS acknowledgement is back;
        without it, once the frame is sent.  An absent or unreachable peer raises
        ``zigpy.exceptions.DeliveryError`` (after ``ack_timeout`` when an
        acknowledgement was asked for, as a real radio would).
        """
        key = bytes(sender.ieee)
        if sender.nwk is None or self._nodes.get(key) is not sender:
            raise zigpy.exceptions.DeliveryError("sender is not on the network")
        loop = running_loop()
        if packet.src is None:
            packet = replace_packet(packet, src=nwk_address(sender.nwk))
        dst = packet.dst
        if dst is None:
            raise ValueError("packet has no destination")
        counter = self._aps_counters[key]  # self._next_counter(sender.ieee), with the key at hand
        self._aps_counters[key] = (counter + 1) & 0xFF
        nwk_counter = self._next_nwk_counter(sender, key)
        mode = dst.addr_mode
        unicast = mode in _UNICAST
        options = packet.tx_options  # _option_bits(packet.tx_options), without the call
        options = options._value_ if type(options) is t.TransmitOptions else t.TransmitOptions(options).value
        # Smart Energy secures broadcasts at the NWK layer only.
        aps_fc = (
            self._next_aps_frame_counter(sender, key)
            if unicast and options & _ENCRYPTION_BIT
            else None
        )
        wants_ack = bool(options & _ACK_BIT) and unicast

        if unicast:
            peer = self.node_by_nwk(dst.address) if mode == _NWK_MODE else self.node_by_ieee(dst.address)
            if peer is sender:
                peer = None
            receivers = (
                [peer]
                if peer is not None and (self.link(sender.ieee, peer.ieee) if self._links else self.default_link).up
                else []
            )
        else:
            receivers = self._recipients(sender, dst)
        # A frame under the wrong APS link key, or a network key the receiver
        # does not hold (nwk_keys), is heard but fails its MIC check: the
        # receiver drops it and sends no APS acknowledgement.
        under = active_key(sender)
        heard = receivers if under is None else [r for r in receivers if holds(r, *under)]
        undecryptable = bool(
            receivers
            and unicast
            and (not heard or options & _ENCRYPTION_BIT and not self.link_keys_agree(sender, receivers[0]))
        )
        if undecryptable:
            LOGGER.info(
                "Frame from %s to %s dropped: the two ends use different %s keys",
                sender.ieee, receivers[0].ieee, "link" if heard else "network",
            )
            heard = []
        receivers = heard

        self._announce(loop, sender, packet, aps_ack=False, aps_counter=counter,
                       delivered_to=tuple([r.ieee for r in receivers]), nwk_counter=nwk_counter, aps_fc=aps_fc)

        acked: asyncio.Future[None] | None = loop.create_future() if wants_ack and receivers else None
        for receiver in receivers:
            self._schedule(loop, self._deliver, (loop, sender, receiver, packet, counter, nwk_counter, acked, aps_fc))

        if not unicast:
            await asyncio.sleep(self.latency)
            return
        if not receivers:
            if wants_ack:
                await asyncio.sleep(self.ack_timeout)
                raise zigpy.exceptions.DeliveryError(
                    f"no APS acknowledgement from {dst.address}",
                    status=t.APSStatus.APS_NO_ACK,
                )
            await asyncio.sleep(self.latency)
            if undecryptable:
                return  # the MAC acknowledged it; the APS layer dropped it
            raise zigpy.exceptions.DeliveryError(
                f"no MAC acknowledgement from {dst.address}",
                status=t.MACStatus.MAC_NO_ACK,
            )
        if acked is None:
            await asyncio.sleep(self.latency)
            return
        # A plain timer that fails the future: cheaper than a timeout context
        # on one of the busiest awaits of a simulation.
        timer = loop.call_at(loop.time() + self.ack_timeout, _ack_timed_out, acked)
        try:
            await acked
        except TimeoutError:
            raise zigpy.exceptions.DeliveryError(
                f"no APS acknowledgement from {dst.address}",
                status=t.APSStatus.APS_NO_ACK,
            ) from None
        finally:
            timer.cancel()

    @staticmethod
    def link_keys_agree(a: AirNode, b: AirNode) -> bool:
        """Would an APS-encrypted frame from ``a`` decrypt at ``b``?

        True when either end does not model link keys (no ``aps_link_key``).
        """
        key_a = _aps_key(a, b.ieee)
        key_b = _aps_key(b, a.ieee)
        if key_a is None or key_b is None or key_a is key_b:
            return True
        if type(key_a) is type(key_b) and type(key_a) in _KEY_TYPES:
            return key_a == key_b  # byte by byte, as their bytes would compare
        return bytes(key_a) == bytes(key_b)

    def _recipients(self, sender: AirNode, dst: t.AddrModeAddress) -> list[AirNode]:
        def hears(node: AirNode) -> bool:
            return node is not sender and self.link(sender.ieee, node.ieee).up

        nodes: Iterable[AirNode] = self._nodes.values()
        if dst.addr_mode == t.AddrMode.Group:
            return [n for n in nodes if hears(n) and int(dst.address) in n.groups]
        addr = int(dst.address)
        if addr == t.BroadcastAddress.ALL_DEVICES:
            return [n for n in nodes if hears(n)]
        if addr == t.BroadcastAddress.RX_ON_WHEN_IDLE:
            return [n for n in nodes if hears(n) and n.rx_on_when_idle]
        if addr in (
            t.BroadcastAddress.ALL_ROUTERS_AND_COORDINATOR,
            t.BroadcastAddress.LOW_POWER_ROUTER,
        ):
            return [n for n in nodes if hears(n) and n.is_router]
        return []

    def _deliver(
        self,
        loop: asyncio.AbstractEventLoop,
        sender: AirNode,
        receiver: AirNode,
        packet: t.ZigbeePacket,
        counter: int,
        nwk_counter: int,
        acked: asyncio.Future[None] | None,
        aps_fc: int | None = None,
    ) -> None:
        """``packet``, sent by ``sender`` one latency ago, reaches ``receiver``
        (if both are still there and the receiver takes it as fresh)."""
        to = bytes(receiver.ieee)
        if self._nodes.get(to) is not receiver:
            return  # left the network in flight
        link = self.link(sender.ieee, receiver.ieee) if self._links else self.default_link
        if not link.up:
            return
        by = bytes(sender.ieee)
        table = self._incoming.get(to) or self.incoming(receiver.ieee)
        if not table.accept(by, nwk_counter):
            return  # a replay: dropped before the node sees it, never acknowledged
        if aps_fc is not None and not (self._incoming_aps.get(to) or self.incoming_aps(receiver.ieee)).accept(
                by, aps_fc):
            return  # fresh NWK header, old APS counter: a replay all the same
        dst = packet.dst
        if dst is not None and dst.addr_mode == _IEEE_MODE:
            dst = nwk_address(receiver.nwk)
        # The frame left the sender before it could leave the network: it
        # carries the address it was sent from.
        src = (
            packet.src
            if sender.nwk is None
            else nwk_address(sender.nwk)
        )
        incoming = received_packet(
            packet, datetime.fromtimestamp(loop_now(loop), UTC), src, dst, link.lqi, link.rssi,
            encryption_only(packet.tx_options),
        )
        try:
            receiver.air_receive(incoming)
        except Exception:
            LOGGER.exception("Node %s failed to handle %r", receiver.ieee, incoming)
        if acked is not None and sender.nwk is not None and receiver.nwk is not None:
            self._send_ack(loop, receiver, sender, packet, counter, acked)
        # (an ACK to a sender that has left is never heard: its send times out)

    def _send_ack(
        self,
        loop: asyncio.AbstractEventLoop,
        receiver: AirNode,
        sender: AirNode,
        packet: t.ZigbeePacket,
        counter: int,
        acked: asyncio.Future[None],
    ) -> None:
        assert receiver.nwk is not None and sender.nwk is not None
        ack = ack_packet(
            nwk_address(receiver.nwk), packet.dst_ep, nwk_address(sender.nwk), packet.src_ep,
            packet.tsn, packet.profile_id, packet.cluster_id, encryption_only(packet.tx_options),
        )
        nwk_fc = self._next_nwk_counter(receiver)
        aps_fc = (
            self._next_aps_frame_counter(receiver)
            if ack.tx_options._value_ & _ENCRYPTION_BIT
            else None
        )
        self._announce(loop, receiver, ack, aps_ack=True, aps_counter=counter, delivered_to=(sender.ieee,),
                       nwk_counter=nwk_fc, aps_fc=aps_fc)
        self._schedule(loop, self._arrive, (receiver, sender, nwk_fc, aps_fc, acked))

    def _arrive(self, receiver: AirNode, sender: AirNode, nwk_fc: int, aps_fc: int | None,
                acked: asyncio.Future[None]) -> None:
        """``receiver``'s acknowledgement reaches ``sender``: checked like any
        frame (an old one is no proof), it completes the send."""
        if not nwk_keys_agree(receiver, sender):
            return
        key = bytes(receiver.ieee)
        to = bytes(sender.ieee)
        if not (self._incoming.get(to) or self.incoming(sender.ieee)).accept(key, nwk_fc):
            return
        if aps_fc is not None and not (self._incoming_aps.get(to) or self.incoming_aps(sender.ieee)).accept(
                key, aps_fc):
            return
        if not acked.done():
            acked.set_result(None)

    def replay(self, frame: AirFrame, *, nwk_counter: int | None = None) -> tuple[t.EUI64, ...]:
        """Put a frame captured earlier on the air again, unchanged (its source,
        its frame counters), as an attacker would; returns who heard it.

        Each receiver that heard the original hears the copy and checks its
        counters like any other frame: a replay is dropped and not answered.
        ``nwk_counter`` re-secures it under a fresh NWK header (an insider with
        the network key, or a relay): then the APS counter is what stops it.
        """
        if frame.aps_ack:
            raise ValueError("only data frames are replayed")
        loop = asyncio.get_running_loop()
        source = _Replayer(ieee=frame.src_ieee, nwk=frame.src)
        heard = [
            node for ieee in frame.delivered_to
            if (node := self.node_by_ieee(ieee)) is not None and self.link(frame.src_ieee, ieee).up
        ]
        self._emit(dataclasses.replace(
            frame, time=clock_for_loop(loop).now(), delivered_to=tuple(n.ieee for n in heard),
            nwk_counter=frame.nwk_counter if nwk_counter is None else nwk_counter,
        ))
        for node in heard:
            self._schedule(
                loop,
                self._deliver,
                (loop, source, node, frame.packet, frame.aps_counter,
                 frame.nwk_counter if nwk_counter is None else nwk_counter, None, frame.aps_frame_counter),
            )
        return tuple(n.ieee for n in heard)

    def _next_counter(self, ieee: t.EUI64) -> int:
        key = bytes(ieee)
        value = self._aps_counters[key]
        self._aps_counters[key] = (value + 1) & 0xFF
        return value

    def after_latency(self, action: Callable[[], None]) -> None:
        """Run ``action`` one latency from now, after every delivery already on its way."""
        self._schedule(asyncio.get_running_loop(), action)

    def _schedule(self, loop: asyncio.AbstractEventLoop, action: Callable[..., None], args: tuple = ()) -> None:
        """Run ``action(*args)`` one latency from now, strictly after earlier ones
        (a method and its arguments: no closure made per frame)."""
        queue = self._queue
        queue.append((loop.time() + self.latency, action, args))
        if self._timer is None:
            self._timer = loop.call_at(queue[0][0], self._drain, loop)

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        horizon = loop.time() + 1e-9
        # The head is due (that is why we were called); later ones if due too.
        # Actions may schedule more: they see our timer still set and only queue.
        queue = self._queue
        first = True
        while queue and (first or queue[0][0] <= horizon):
            first = False
            _, action, args = queue.popleft()
            action(*args)
        self._timer = None
        if queue:
            self._timer = loop.call_at(queue[0][0], self._drain, loop)


@dataclass
class _Replayer:
    """The transmitter of a replayed frame: it only claims the original source."""

    ieee: t.EUI64
    nwk: t.NWK | None
    is_router: bool = False
    rx_on_when_idle: bool = False
    groups: set[int] = field(default_factory=set)

    def air_receive(self, packet: t.ZigbeePacket) -> None:
        """An attacker replaying a frame listens to nothing."""


_UNICAST = frozenset((t.AddrMode.NWK, t.AddrMode.IEEE))
_NWK_MODE = t.AddrMode.NWK
_IEEE_MODE = t.AddrMode.IEEE
_ACK_BIT = t.TransmitOptions.ACK.value
_ENCRYPTION_BIT = t.TransmitOptions.APS_Encryption.value


def _option_bits(options: t.TransmitOptions) -> int:
    """The bits of ``options`` (a flag test without building a Flag per test)."""
    return options._value_ if type(options) is t.TransmitOptions else t.TransmitOptions(options).value


def _ack_timed_out(acked: asyncio.Future[None]) -> None:
    if not acked.done():
        acked.set_exception(TimeoutError())


_KEY_TYPES = (bytes, t.KeyData)


def _aps_key(node: AirNode, partner: t.EUI64) -> bytes | t.KeyData | None:
    """The link key ``node`` uses with ``partner`` (the default trust-centre
    key when it has none), or None when ``node`` does not model link keys."""
    lookup = getattr(node, "aps_link_key", None)
    if not callable(lookup):
        return None
    key = lookup(partner)
    return DEFAULT_TC_LINK_KEY if key is None else key
