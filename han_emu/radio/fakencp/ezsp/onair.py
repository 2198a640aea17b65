"""The emulated EmberZNet NCP's radio side on a virtual air (see :mod:`..stickair`).

What is EmberZNet's own here, from UG100 (EZSP reference) and bellows:

- the host opens joining with ``permitJoining`` and, for an install-code
  device, gives the key with ``importTransientKey`` (EZSP v13+; bellows
  ``add_transient_link_key``; ``addTransientLinkKey`` before) and sets the
  trust-centre policy to ``ALLOW_JOINS | JOINS_USE_INSTALL_CODE_KEY``
  (bellows ``permit_with_link_key``); with that bit a device without a
  transient key is refused, and without ``ALLOW_JOINS`` every device is;
- a join reaches the host as ``childJoinHandler`` (an end device becomes
  the coordinator's child) and ``trustCenterJoinHandler``;
- every frame a node sends the coordinator, ZDO included, reaches the host
  as ``incomingMessageHandler``; the discovery requests about the
  coordinator, Match_Desc among them, are also answered by the stack itself
  (:mod:`.local_zdo`, through the server's ``inject_incoming``);
- a unicast no node acknowledges ends in ``messageSentHandler`` with
  DELIVERY_FAILED; one that goes on air is reported once the radio is done
  with it ("the stack has completed sending a message": after the ACK), so a
  host that waits for it knows the node has the frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import bellows.types as bt
import zigpy.types as t

from han_emu.radio.fakencp.ezsp.ncp.messaging_frames import SentMessage
from han_emu.radio.fakencp.ezsp.server import FakeEzspServer
from han_emu.radio.fakencp.stickair import StickAir

_TC_POLICY = int(bt.EzspPolicyId.TRUST_CENTER_POLICY)
_ALLOW_JOINS = int(bt.EzspDecisionBitmask.ALLOW_JOINS)
_INSTALL_CODE_ONLY = int(bt.EzspDecisionBitmask.JOINS_USE_INSTALL_CODE_KEY)


class _Unreachable(set):  # type: ignore[type-arg]
    """The NCP's "no one acknowledges" set, read off the air: a NWK address
    with no node in reach (addresses added by hand count too)."""

    def __init__(self, radio: StickAir, added: set[int]) -> None:
        super().__init__(added)
        self._radio = radio

    def __contains__(self, nwk: object) -> bool:
        if super().__contains__(nwk):
            return True
        if not isinstance(nwk, int):
            return False
        return not self._radio.reaches(t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(nwk)))


def packet_of(message: SentMessage) -> t.ZigbeePacket:
    """The frame a sendUnicast / sendBroadcast / sendMulticast puts on the air."""
    if message.kind == "unicast":
        dst = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(message.destination))
    elif message.kind == "broadcast":
        dst = t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast, address=t.BroadcastAddress(message.destination))
    else:
        dst = t.AddrModeAddress(addr_mode=t.AddrMode.Group, address=t.Group(message.group_id))
    options = t.TransmitOptions.NONE
    if message.options & bt.EmberApsOption.APS_OPTION_RETRY:
        options |= t.TransmitOptions.ACK
    if message.encrypted:
        options |= t.TransmitOptions.APS_Encryption
    return t.ZigbeePacket(
        src_ep=message.src_ep, dst=dst, dst_ep=message.dst_ep, tsn=message.tsn & 0xFF,
        profile_id=message.profile_id, cluster_id=message.cluster_id,
        data=t.SerializableBytes(message.data), tx_options=options, radius=message.radius,
    )


class EzspOnAir:
    """The EZSP NCP as :class:`~han_emu.radio.fakencp.stickair.StickAir` needs it."""

    def __init__(self, server: FakeEzspServer) -> None:
        self.server = server
        self.ncp = server.ncp
        #: Transient link keys the host gave for joining devices (install-code keys), by IEEE bytes.
        self.transient_keys: dict[bytes, bytes] = {}
        self._radio: StickAir | None = None
        self._undo: list[Any] = []
        #: The APS counter of the message the host just sent and the radio's transmission of it.
        self._on_air: tuple[int, asyncio.Task[bool] | None] | None = None

    @property
    def ieee(self) -> t.EUI64:
        return t.EUI64(self.server.tokens.eui64)

    @property
    def network_up(self) -> bool:
        return bool(self.ncp.network_up)

    # -- binding to the NCP --------------------------------------------------------------
    def bind(self, radio: StickAir) -> None:
        self._radio = radio
        self._undo.append(self.server.add_send_listener(self._host_sent))
        self.ncp.command_listeners.append(self._host_command)
        self._undo.append(lambda: self.ncp.command_listeners.remove(self._host_command))
        previous = self.ncp.unreachable
        self.ncp.unreachable = _Unreachable(radio, set(previous))
        self._undo.append(lambda: setattr(self.ncp, "unreachable", previous))
        self.ncp.sent_when_done = self._when_sent
        self._undo.append(lambda: setattr(self.ncp, "sent_when_done", None))
        self.ncp.key_radio = radio
        self._undo.append(lambda: setattr(self.ncp, "key_radio", None))

    def unbind(self) -> None:
        while self._undo:
            self._undo.pop()()
        self._radio = None

    def _host_command(self, name: str, args: dict[str, Any]) -> None:
        if name == "importTransientKey":
            self.transient_keys[bytes(t.EUI64(args["eui64"]))] = bytes(args["plaintext_key"].serialize())
        elif name == "addTransientLinkKey":
            self.transient_keys[bytes(t.EUI64(args["partner"]))] = bytes(args["transientKey"].serialize())
        elif name == "clearTransientLinkKeys":
            self.transient_keys.clear()

    def _host_sent(self, message: SentMessage) -> None:
        if self._radio is not None:
            self._on_air = (message.aps_sequence, self._radio.transmit(packet_of(message)))

    def _when_sent(self, seq: int, done: Callable[[bool], None]) -> bool:
        """Call ``done`` when the radio has finished with the unicast just sent
        (False: it did not go on air)."""
        on_air, self._on_air = self._on_air, None
        if on_air is None or on_air[0] != seq or on_air[1] is None:
            return False

        def finished(task: asyncio.Task[bool]) -> None:
            if not task.cancelled() and self._radio is not None:
                done(task.exception() is None and task.result())

        on_air[1].add_done_callback(finished)
        return True

    # -- the trust centre ----------------------------------------------------------------
    def permitting(self) -> bool:
        return bool(self.ncp.permit_joining)

    def admits(self, ieee: t.EUI64, key: bytes | None) -> bool:
        policy = self.ncp.ram.policies.get(_TC_POLICY)
        if policy is not None and not policy & _ALLOW_JOINS:
            return False
        expected = self.transient_keys.get(bytes(ieee))
        if expected is not None:
            return key == expected
        return key is None and not (policy is not None and policy & _INSTALL_CODE_ONLY)

    def link_key(self, ieee: t.EUI64) -> bytes | None:
        key = self.server.link_key(ieee)
        return key if key is not None else self.transient_keys.get(bytes(ieee))

    def joined(self, nwk: int, ieee: t.EUI64, node: Any) -> None:
        self.server.inject_device_join(nwk, ieee, end_device=not getattr(node, "is_router", False))

    def network_key(self) -> tuple[int, bytes] | None:
        tokens = self.ncp.tokens
        return (int(tokens.network_key_seq), bytes(tokens.network_key)) if tokens.formed else None

    def network_key_set(self) -> dict[int, bytes]:
        tokens = self.ncp.tokens
        keys = {int(tokens.alt_network_key_seq): bytes(tokens.alt_network_key)} \
            if tokens.alt_network_key != bytes(16) else {}
        active = self.network_key()
        if active is not None:
            keys[active[0]] = active[1]
        return keys

    # -- the air to the host ----------------------------------------------------------------
    def heard(self, packet: t.ZigbeePacket) -> None:
        assert packet.src is not None and packet.dst is not None
        if packet.dst.addr_mode == t.AddrMode.Group:
            return  # no multicast table entries in this emulation
        self.server.inject_incoming(
            int(packet.src.address), None, int(packet.src_ep or 0), int(packet.dst_ep or 0),
            int(packet.profile_id or 0), int(packet.cluster_id), packet.data.serialize(),
            lqi=int(packet.lqi if packet.lqi is not None else 255),
            encrypted=t.TransmitOptions.APS_Encryption in packet.tx_options,
            rssi=int(packet.rssi if packet.rssi is not None else -40),
            broadcast=packet.dst.addr_mode == t.AddrMode.Broadcast,
        )
