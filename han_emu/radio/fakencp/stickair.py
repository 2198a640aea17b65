"""An emulated stick's radio: the NCP as a node on a :class:`VirtualAir`.

Without it an emulated NCP only hears what a test injects.  With it, the NCP
is the coordinator (NWK 0x0000) and trust centre of a virtual air, so
simulated devices on that air talk to the host through the NCP as they would
through a real stick:

- every frame the host has the NCP transmit goes out on the air from 0x0000
  (a unicast to a node not on the air fails its delivery, as the firmware
  reports it to the host);
- every frame a node sends the coordinator comes up to the host as the NCP's
  incoming-message callback (Z-Stack ``AF_INCOMING_MSG`` / ``ZDO_MSG_CB_INCOMING``,
  EmberZNet ``incomingMessageHandler``), marked APS-secured when it was;
- a node joins only while the NCP permits joining, through the NCP's
  trust-centre decision: with the link key the host installed for it (the
  install-code key: Z-Stack ``APP_CNF_BDB_ADD_INSTALLCODE``, EmberZNet
  ``importTransientKey``), or, where the trust centre still takes them, with
  the default trust-centre link key; the join then reaches the host as the
  NCP's join callbacks;
- APS security with a node uses the key the NCP holds for it: the entry of
  its key table (CBKE's key, installed by the host) or else the install-code
  key; a node holding another key fails the MIC check and is not heard;
- NWK security uses the NCP's network key (its active key; it also reads
  frames under its alternate one): a joining node is given it, and the
  trust centre's network-key update puts Transport-Key and Switch-Key on
  the air (:mod:`han_emu.radio.virtual.nwk_keys`); a node left with the old
  key is no longer heard.

What differs per firmware (where the keys live, how the callbacks look) is
an :class:`NcpSide`, one per emulated NCP (:mod:`.znp.onair`, :mod:`.ezsp.onair`);
:func:`put_on_air` picks it for a server.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import zigpy.exceptions
import zigpy.types as t

from han_emu.crypto.keys import DEFAULT_TC_LINK_KEY
from han_emu.radio.virtual import nwk_keys
from han_emu.radio.virtual.medium import COORDINATOR_NWK, VirtualAir

LOGGER = logging.getLogger(__name__)

PERMIT_FOREVER = 0xFF
"""A permit duration of 255 s keeps joining open until it is closed (Zigbee Mgmt_Permit_Joining_req)."""


class NcpSide(Protocol):
    """One emulated NCP as its radio side needs it."""

    @property
    def ieee(self) -> t.EUI64: ...

    @property
    def network_up(self) -> bool: ...

    def bind(self, radio: StickAir) -> None:
        """Start handing the host's transmissions and trust-centre settings to ``radio``."""

    def unbind(self) -> None: ...

    def permitting(self) -> bool:
        """Is the NCP letting devices join now?"""

    def admits(self, ieee: t.EUI64, key: bytes | None) -> bool:
        """The trust centre's decision on a device joining with ``key`` (None: the default key)."""

    def link_key(self, ieee: t.EUI64) -> bytes | None:
        """The key the NCP uses for APS security with ``ieee`` (None: the default TC key)."""

    def heard(self, packet: t.ZigbeePacket) -> None:
        """Hand a frame a node sent the coordinator to the host."""

    def joined(self, nwk: int, ieee: t.EUI64, node: Any) -> None:
        """Tell the host a device joined (the NCP's join callbacks)."""

    def network_key(self) -> tuple[int, bytes] | None:
        """The (sequence number, key) the NCP secures its frames with (None: no network)."""

    def network_key_set(self) -> dict[int, bytes]:
        """Every network key the NCP holds (active and alternate), by sequence number."""


class StickAir:
    """The NCP's presence on the air: node 0x0000 and trust centre."""

    is_router = True
    rx_on_when_idle = True

    def __init__(self, air: VirtualAir, ncp: NcpSide) -> None:
        self.air = air
        self.ncp = ncp
        self.nwk: t.NWK | None = None
        self.groups: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Frames the host sent that reached nobody (no such node, or out of reach).
        self.undelivered = 0

    @property
    def ieee(self) -> t.EUI64:  # type: ignore[override]
        return self.ncp.ieee

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> StickAir:
        self.nwk = t.NWK(COORDINATOR_NWK)
        self.air.attach(self)
        self.air.set_trust_center(self)
        self.ncp.bind(self)
        return self

    async def close(self) -> None:
        self.ncp.unbind()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.air.set_trust_center(None)
        self.air.detach(self)
        self.nwk = None

    # -- the trust centre ----------------------------------------------------------------
    def accept_join(self, ieee: t.EUI64, link_key: t.KeyData | None) -> bool:
        if not self.ncp.network_up or not self.ncp.permitting():
            return False
        key = None if link_key is None or bytes(link_key) == DEFAULT_TC_LINK_KEY else bytes(link_key)
        return self.ncp.admits(t.EUI64(ieee), key)

    def device_joined(self, ieee: t.EUI64, nwk: t.NWK, parent: t.NWK) -> None:
        node = self.air.node_by_ieee(ieee)
        # The trust centre's Transport-Key of the join: the network key in force.
        active, give = self.nwk_key_active(), getattr(node, "air_network_key", None)
        if active is not None and callable(give):
            give(active[1], active[0])
        self.ncp.joined(int(nwk), t.EUI64(ieee), node)

    def device_left(self, ieee: t.EUI64, nwk: t.NWK) -> None:
        LOGGER.info("%s (0x%04X) left the stick's network", ieee, int(nwk))

    def aps_link_key(self, partner: t.EUI64) -> t.KeyData | None:
        key = self.ncp.link_key(t.EUI64(partner))
        return None if key is None else t.KeyData(key)

    # -- the network key ---------------------------------------------------------------
    def nwk_key_active(self) -> tuple[int, bytes] | None:
        return self.ncp.network_key() if self.ncp.network_up else None

    def nwk_key_for(self, seq: int) -> bytes | None:
        return self.ncp.network_key_set().get(int(seq))

    def send_network_key(self, dst_nwk: int, key: bytes, seq: int, link_key: bytes | None, *,
                         aps_secured: bool = True) -> bool:
        """The NCP's Transport-Key of a network-key update (see :mod:`~han_emu.radio.virtual.nwk_keys`)."""
        return nwk_keys.send_network_key(self.air, self, dst_nwk, key, seq, link_key, aps_secured=aps_secured)

    def switch_network_key(self, seq: int, under: tuple[int, bytes] | None,
                           dst_nwk: int = nwk_keys.BROADCAST_ALL) -> list[t.EUI64]:
        """The NCP's Switch-Key, secured ``under`` the key still current."""
        return nwk_keys.broadcast_switch_key(self.air, self, seq, under, dst_nwk)

    # -- the air to the host -------------------------------------------------------------
    def air_receive(self, packet: t.ZigbeePacket) -> None:
        if not self.ncp.network_up:
            return  # no network running: the radio is not listening
        try:
            self.ncp.heard(packet)
        except Exception:  # a frame the NCP cannot report must not stop the air
            LOGGER.exception("The emulated NCP could not report %r", packet)

    # -- the host to the air -------------------------------------------------------------
    def reaches(self, dst: t.AddrModeAddress) -> bool:
        """Would a unicast to ``dst`` be delivered (a node there, in reach)?"""
        if dst.addr_mode == t.AddrMode.NWK:
            node = self.air.node_by_nwk(int(dst.address))
        elif dst.addr_mode == t.AddrMode.IEEE:
            node = self.air.node_by_ieee(t.EUI64(dst.address))
        else:
            return True
        return node is not None and node is not self and self.air.link(self.ieee, node.ieee).up

    def transmit(self, packet: t.ZigbeePacket) -> asyncio.Task[bool] | None:
        """Put a frame the host sent on the air (in the background, as the
        radio does while the host carries on).  The task returned ends when
        the radio is done with the frame (acknowledged when asked for), True
        if it was delivered; None when nothing goes on air."""
        dst = packet.dst
        if dst is None:
            return None
        if (dst.addr_mode == t.AddrMode.NWK and int(dst.address) == COORDINATOR_NWK) or (
                dst.addr_mode == t.AddrMode.IEEE and t.EUI64(dst.address) == self.ieee):
            return None  # to the coordinator itself: the firmware answered it, nothing goes on air
        task = asyncio.get_running_loop().create_task(self._send(packet))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send(self, packet: t.ZigbeePacket) -> bool:
        try:
            await self.air.transmit(self, packet)
        except zigpy.exceptions.DeliveryError as exc:
            self.undelivered += 1
            LOGGER.debug("Frame from the host not delivered: %s", exc)
            return False
        return True


def put_on_air(server: Any, air: VirtualAir) -> StickAir:
    """Give an emulated NCP server (Z-Stack or EZSP) its radio side on ``air``."""
    from han_emu.radio.fakencp.ezsp.server import FakeEzspServer
    from han_emu.radio.fakencp.znp.server import FakeZnpServer

    ncp: NcpSide
    if isinstance(server, FakeZnpServer):
        from han_emu.radio.fakencp.znp.onair import ZnpOnAir

        ncp = ZnpOnAir(server)
    elif isinstance(server, FakeEzspServer):
        from han_emu.radio.fakencp.ezsp.onair import EzspOnAir

        ncp = EzspOnAir(server)
    else:
        raise TypeError(f"not an emulated NCP server: {type(server).__name__}")
    return StickAir(air, ncp).start()
