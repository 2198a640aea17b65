"""Network keys on the virtual air, for the nodes that model them.

The virtual air works with the packets radios hand zigpy, below which every
frame is NWK-secured with the network key.  A node models that key when it
offers ``nwk_key_active()`` (the sequence number and key it secures its own
frames with, None while it holds none) and ``nwk_key_for(seq)`` (the key it
holds under that sequence number, or None).  The NWK auxiliary header names
the key sequence number a frame was secured under (Zigbee specification
05-3474, 4.5.1, the NWK security frame format): a receiver that holds no
key under that number, or another key, fails the MIC check and drops the
frame (:func:`nwk_keys_agree`).  A node that does not model network keys
hears, and is heard by, every node, as before.

The trust centre moves the network to a new key in two APS commands
(Zigbee specification 05-3474, 4.4, APS command frames; the command ids are
:class:`~han_emu.frames.aps.ApsCommandId`):

- **Transport-Key** (0x05) of key type 1, the standard network key, with its
  new sequence number (:func:`send_network_key`): sent to one device,
  NWK-secured with the current network key and APS-secured with the key
  transport key of the device's link key (4.5.3, the key-transport key), so
  only a device sharing that link key with the trust centre reads it; the
  device keeps it as its alternate key (``air_transport_key(key, seq)``);
- **Switch-Key** (0x09) broadcast to every device (:func:`broadcast_switch_key`),
  NWK-secured with the key still current: a device holding the key of that
  sequence number makes it its active key (``air_switch_key(seq)``).

EmberZNet's ``emberSendUnicastNetworkKeyUpdate`` / ``emberBroadcastNetworkKeySwitch``
and Z-Stack's ``ZDSecMgrUpdateNwkKey`` / ``ZDSecMgrSwitchNwkKey`` (reached
over EZSP and MT, see the emulated sticks) send exactly these two commands.
Neither command is handed to the air's listeners: a capture of the virtual
air holds the data frames only.
"""

from __future__ import annotations

import logging
from typing import Any

import zigpy.types as t

from han_emu.crypto.keys import DEFAULT_TC_LINK_KEY

LOGGER = logging.getLogger(__name__)

BROADCAST_ALL = 0xFFFF
"""The Switch-Key's destination: every device (rxOnWhenIdle or not)."""


def active_key(node: Any) -> tuple[int, bytes] | None:
    """The (sequence number, key) ``node`` secures its frames with; None when it models no network key."""
    active = getattr(node, "nwk_key_active", None)
    if not callable(active):
        return None
    found = active()
    return None if found is None else (int(found[0]), bytes(found[1]))


def holds(node: Any, seq: int, key: bytes) -> bool:
    """Would ``node`` read a frame secured with ``key`` under ``seq``?  (True
    when it models no network key.)"""
    if active_key(node) is None:
        return True
    theirs = node.nwk_key_for(seq)
    return theirs is not None and bytes(theirs) == bytes(key)


def nwk_keys_agree(sender: Any, receiver: Any, under: tuple[int, bytes] | None = None) -> bool:
    """Does ``receiver`` read what ``sender`` secures now (or ``under`` the (seq, key) given)?"""
    used = under if under is not None else active_key(sender)
    return used is None or holds(receiver, *used)


def _link_key_of(node: Any, partner: t.EUI64) -> bytes:
    lookup = getattr(node, "aps_link_key", None)
    key = lookup(partner) if callable(lookup) else None
    return bytes(DEFAULT_TC_LINK_KEY if key is None else key)


def send_network_key(air: Any, tc: Any, dst_nwk: int, key: bytes, seq: int, link_key: bytes | None, *,
                     aps_secured: bool = True) -> bool:
    """The trust centre ``tc`` sends ``dst_nwk`` a Transport-Key with the
    network key ``key`` under ``seq``, APS-secured with ``link_key`` (None: the
    default trust-centre link key; ``aps_secured`` False: NWK security only,
    as a broadcast one is).  Delivered one air latency from now, after any
    frame sent before it; False when it reaches nobody who can read it."""
    node = air.node_by_nwk(int(dst_nwk))
    if node is None or node is tc or not air.link(tc.ieee, node.ieee).up:
        LOGGER.info("Transport-Key for 0x%04X: no such node in reach", int(dst_nwk))
        return False
    if not nwk_keys_agree(tc, node):
        LOGGER.info("Transport-Key for %s dropped: it does not hold the current network key", node.ieee)
        return False
    used = bytes(DEFAULT_TC_LINK_KEY if link_key is None else link_key)
    if aps_secured and used != _link_key_of(node, tc.ieee):
        LOGGER.info("Transport-Key for %s dropped: the two ends use different link keys", node.ieee)
        return False
    receive = getattr(node, "air_transport_key", None)
    if not callable(receive):
        return False
    air.after_latency(lambda: _arrive(air, node, receive, bytes(key), int(seq)))
    return True


def _arrive(air: Any, node: Any, receive: Any, key: bytes, seq: int) -> None:
    if air.node_by_ieee(node.ieee) is node:  # still on the network
        receive(key, seq)


def broadcast_switch_key(air: Any, tc: Any, seq: int, under: tuple[int, bytes] | None = None,
                         dst_nwk: int = BROADCAST_ALL) -> list[t.EUI64]:
    """The trust centre ``tc`` broadcasts a Switch-Key to ``seq`` (or sends it
    to ``dst_nwk`` alone), NWK-secured ``under`` the (seq, key) still current
    (default: its active key now).  Returns who will hear it (each switches
    one air latency from now)."""
    used = under if under is not None else active_key(tc)
    heard = []
    for node in air.nodes:
        if node is tc or not air.link(tc.ieee, node.ieee).up or not nwk_keys_agree(tc, node, used):
            continue
        if dst_nwk < 0xFFF8 and node.nwk != dst_nwk:
            continue
        switch = getattr(node, "air_switch_key", None)
        if callable(switch):
            heard.append(node.ieee)
            air.after_latency(lambda node=node, switch=switch: _arrive_switch(air, node, switch, int(seq)))
    return heard


def _arrive_switch(air: Any, node: Any, switch: Any, seq: int) -> None:
    if air.node_by_ieee(node.ieee) is node:
        switch(seq)

