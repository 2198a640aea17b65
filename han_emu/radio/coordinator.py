"""What the hardware coordinators share on top of :class:`ServerHost`.

Joining with install codes, looking up IEEE addresses for the Key
Establishment server, installing link keys, and listing the keys in use for a
Wireshark key log are the same questions on every stick; only the NCP command
that stores a link key differs, so each backend supplies :meth:`_store_link_key`.
The steps of a start (opening the port, forming the network, ...) are told
to ``on_step`` as they begin.

Who is behind a NWK address is kept in an :class:`~han_emu.radio.addresses.AddressBook`
rather than only in zigpy's device list (which has no database here): it is
seeded from the stick's own tables at start, learns every join, and a Smart
Energy frame from a sender it does not know waits for the answer to a ZDO
IEEE_addr_req before the server judges it, so a display that joined before
a restart is recognised instead of refused.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from typing import Any

import zigpy.types as t
import zigpy.util
import zigpy.zdo.types as zdo_t

from clusters.ids import ZDO_PROFILE_ID
from han_emu.radio.addresses import AddressBook
from han_emu.radio.host import ServerHost
from han_emu.radio.zdo_answers import parse_zdo, zdo_frame
from han_emu.server.contract import PacketServer

LOGGER = logging.getLogger(__name__)

#: The steps of a stick's start, as zigpy's ``startup`` takes them (an EZSP
#: stick registers the endpoints while connecting, Z-Stack while starting the
#: network; forming happens only on a stick without a network).
OPENING = "opening the port"
REGISTERING = "registering the ESI endpoints"
READING = "reading the stick's network"
FORMING = "forming a new network"
STARTING = "starting the network"

#: Seconds the host waits for an unknown sender's IEEE_addr_rsp before the
#: server judges its frame anyway (a display polling as a sleepy end device
#: picks the request up from its parent within one poll interval).
IEEE_LOOKUP_TIMEOUT = 3.0
#: Seconds after an unanswered IEEE_addr_req before the same address is asked again.
IEEE_LOOKUP_RETRY = 60.0


class HardwareCoordinator(ServerHost):
    """Mixin for a radio library's ControllerApplication (put it first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Link keys this host gave the stick (install-code derived, CBKE), by IEEE.
        self.link_keys: dict[t.EUI64, t.KeyData] = {}
        #: Why the last link key could not be installed, worded for the user.
        self.link_key_problem: str | None = None
        #: Told each step of :meth:`startup` as it begins (one of the phrases
        #: above): a start takes seconds, and the user should see which part.
        self.on_step: Callable[[str], None] | None = None
        self._starting = False
        self._forming = False
        self._last_step: str | None = None
        #: NWK <-> IEEE of the devices on the stick's network (the owner may
        #: replace it with one that is saved with the meter's state).
        self.addresses = AddressBook()
        self.ieee_lookup_timeout = IEEE_LOOKUP_TIMEOUT
        #: Does the server judge this frame by who sent it (e.g. Smart Energy
        #: requests, served only to devices that completed CBKE)?  Only such
        #: frames from an unknown sender wait for an IEEE_addr_req's answer.
        self.identify_sender: Callable[[t.ZigbeePacket], bool] | None = None
        #: NWK addresses this host sent an IEEE_addr_req for, latest last.
        self.address_requests: collections.deque[int] = collections.deque(maxlen=100)
        self._waiting: dict[int, list[t.ZigbeePacket]] = {}
        self._address_answers: dict[int, list[asyncio.Future[t.EUI64]]] = {}
        self._unanswered: dict[int, float] = {}
        self._lookup_tasks: set[asyncio.Task[None]] = set()
        #: One key install at a time: each picks a free key-table entry first.
        self._key_install = asyncio.Lock()

    # -- the start, step by step ------------------------------------------------------
    def _step(self, what: str) -> None:
        if not self._starting or self._forming or self.on_step is None:
            return  # forming starts and restarts the network inside: still "forming"
        if what == self._last_step:
            return
        self._last_step = what
        try:
            self.on_step(what)
        except Exception:  # a display's failure must not stop the stick
            LOGGER.exception("start step listener failed on %r", what)

    async def startup(self, *, auto_form: bool = False) -> None:
        self._starting, self._last_step = True, None
        try:
            await super().startup(auto_form=auto_form)  # type: ignore[misc]
        finally:
            self._starting = False

    async def connect(self) -> None:
        self._step(OPENING)
        await super().connect()  # type: ignore[misc]

    async def register_endpoints(self) -> None:
        self._step(REGISTERING)
        await super().register_endpoints()

    async def initialize(self, *, auto_form: bool = False) -> None:
        self._step(READING)
        await super().initialize(auto_form=auto_form)
        await self._seed_addresses()

    async def _seed_addresses(self) -> None:
        """Learn the devices the stick still knows from before this start.

        zigpy's ``initialize`` reads the network with ``load_devices=False``;
        ``load_network_info(load_devices=True)`` adds what the radio library
        reads of the stick's device tables into ``network_info.nwk_addresses``
        (and its link keys into ``key_table``): bellows reads the child table
        (``read_child_data``: getChildData) and the address table
        (``read_address_table``) in ``bellows/zigbee/application.py``
        ``load_network_info``; zigpy-znp reads the address manager and key
        tables from NV (``zigpy_znp/znp/security.py`` ``read_devices``, called
        from ``zigpy_znp/api.py`` ``_load_network_info``).
        """
        try:
            await self.load_network_info(load_devices=True)  # type: ignore[attr-defined]
        except Exception as exc:  # a table the firmware cannot read is no reason to stop
            LOGGER.warning("Could not read the stick's device tables: %s", exc or type(exc).__name__)
            return
        info = self.state.network_info  # type: ignore[attr-defined]
        pairs = [(int(nwk), t.EUI64(ieee)) for ieee, nwk in (info.nwk_addresses or {}).items()]
        news = self.addresses.learn_all(pairs)
        LOGGER.info("The stick knows %d device(s) (%d new to the host)", len(pairs), news)

    def handle_join(self, nwk: t.NWK, ieee: t.EUI64, parent_nwk: t.NWK | None, *args: Any, **kwargs: Any) -> None:
        """zigpy's join handling (joins, Device_annce, address responses): note the address."""
        self.addresses.learn(int(nwk), t.EUI64(ieee))
        super().handle_join(nwk, ieee, parent_nwk, *args, **kwargs)  # type: ignore[misc]

    async def form_network(self, *args: Any, **kwargs: Any) -> None:
        self._step(FORMING)
        self._forming = True
        try:
            await super().form_network(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._forming = False

    async def start_network(self, *args: Any, **kwargs: Any) -> None:
        self._step(STARTING)
        await super().start_network(*args, **kwargs)  # type: ignore[misc]

    @property
    def server_endpoints(self) -> frozenset[int]:
        return frozenset(int(d.endpoint) for d in self._server_descriptors())

    async def permit_with_install_code(
        self, node: t.EUI64, code: bytes, time_s: int = 60
    ) -> t.KeyData:
        """Let ``node`` join with the link key its install code gives (the
        code's CRC is checked first); returns that key."""
        key = zigpy.util.convert_install_code(bytes(code))
        await self.permit_with_node_key(node, key, time_s)
        return key

    async def permit_with_node_key(
        self, node: t.EUI64, key: t.KeyData, time_s: int = 60
    ) -> None:
        """Let ``node`` join with ``key`` as its pre-configured link key."""
        node = t.EUI64(node)
        await self.permit_with_link_key(node=node, link_key=t.KeyData(key), time_s=time_s)  # type: ignore[attr-defined]
        self.link_keys[node] = t.KeyData(key)

    def ieee_of(self, nwk: int) -> t.EUI64 | None:
        """The IEEE address at ``nwk``: the coordinator's own, one the host
        knows (stick tables, joins, saved state), or one zigpy has seen."""
        state = self.state  # type: ignore[attr-defined]
        if nwk == state.node_info.nwk:
            return state.node_info.ieee
        known = self.addresses.ieee_of(nwk)
        if known is not None:
            return known
        try:
            return self.get_device(nwk=t.NWK(nwk)).ieee  # type: ignore[attr-defined]
        except KeyError:
            return None

    def nwk_of(self, ieee: t.EUI64) -> int | None:
        """The NWK address of ``ieee``, where the host or zigpy knows it."""
        try:
            return int(self.get_device(ieee=t.EUI64(ieee)).nwk)  # type: ignore[attr-defined]
        except KeyError:
            return self.addresses.nwk_of(ieee)

    # -- unknown senders: ask who they are before the server judges them ---------------
    def packet_received(self, packet: t.ZigbeePacket) -> None:
        if packet.profile_id == ZDO_PROFILE_ID and packet.cluster_id in (
            zdo_t.ZDOCmd.IEEE_addr_rsp, zdo_t.ZDOCmd.NWK_addr_rsp,
        ):
            self._address_response(packet)
        super().packet_received(packet)

    def _host_handle(self, server: PacketServer, packet: t.ZigbeePacket) -> None:
        nwk = self._unknown_sender(packet)
        if nwk is None:
            super()._host_handle(server, packet)
            return
        waiting = self._waiting.get(nwk)
        if waiting is not None:  # already asking: keep the sender's frames in order
            waiting.append(packet)
            return
        self._waiting[nwk] = [packet]
        task = asyncio.get_running_loop().create_task(
            self._identify_then_handle(server, nwk), name=f"ieee-lookup-0x{nwk:04X}"
        )
        self._lookup_tasks.add(task)
        task.add_done_callback(self._lookup_tasks.discard)

    def _unknown_sender(self, packet: t.ZigbeePacket) -> int | None:
        """The sender's NWK address when the server would judge the frame by an
        identity the host does not know (and has not just failed to learn)."""
        src = packet.src
        if src is None or src.addr_mode != t.AddrMode.NWK or int(packet.dst_ep or 0) == 0:
            return None
        nwk = int(src.address)
        if nwk in self._waiting:
            return nwk
        if self.identify_sender is None or self.ieee_of(nwk) is not None:
            return None
        try:
            if not self.identify_sender(packet):
                return None
        except Exception:
            LOGGER.exception("identify_sender failed on %r", packet)
            return None
        failed = self._unanswered.get(nwk)
        if failed is not None and time.monotonic() - failed < IEEE_LOOKUP_RETRY:
            return None
        return nwk

    async def _identify_then_handle(self, server: PacketServer, nwk: int) -> None:
        try:
            await self.resolve_ieee(nwk)
        finally:
            for packet in self._waiting.pop(nwk, []):
                super()._host_handle(server, packet)

    async def resolve_ieee(self, nwk: int, timeout: float | None = None) -> t.EUI64 | None:
        """Who is at ``nwk``?  Asked with a ZDO IEEE_addr_req (Zigbee spec
        2.4.3.1.2: unicast to the address of interest, single-device
        response) when the host does not know; None if nobody answers.

        zigpy asks the same question for unknown senders
        (``ControllerApplication._discover_unknown_device``), but as a
        broadcast to rx-on-when-idle devices and without waiting for the
        answer; a unicast also reaches a sleepy display through its parent."""
        known = self.ieee_of(nwk)
        if known is not None:
            return known
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[t.EUI64] = loop.create_future()
        self._address_answers.setdefault(nwk, []).append(answer)
        tsn = self.get_sequence()  # type: ignore[attr-defined]
        request = t.ZigbeePacket(
            src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=self.state.node_info.nwk),  # type: ignore[attr-defined]
            src_ep=0,
            dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(nwk)),
            dst_ep=0,
            tsn=tsn,
            profile_id=ZDO_PROFILE_ID,
            cluster_id=zdo_t.ZDOCmd.IEEE_addr_req,
            data=t.SerializableBytes(
                zdo_frame(zdo_t.ZDOCmd.IEEE_addr_req, tsn, t.NWK(nwk), zdo_t.AddrRequestType.Single, 0)
            ),
            tx_options=t.TransmitOptions.NONE,
            radius=0,
        )
        self.address_requests.append(nwk)
        LOGGER.info("Asking who is at 0x%04X (IEEE_addr_req) before judging its frame", nwk)
        try:
            await self.send_packet(request)  # type: ignore[attr-defined]
            async with asyncio.timeout(self.ieee_lookup_timeout if timeout is None else timeout):
                ieee = await answer
        except Exception as exc:  # not delivered, or no answer in time
            self._unanswered[nwk] = time.monotonic()
            LOGGER.warning("No IEEE address for 0x%04X: %s", nwk,
                           "no answer to IEEE_addr_req" if isinstance(exc, TimeoutError) else exc)
            return None
        finally:
            waiting = self._address_answers.get(nwk, [])
            if answer in waiting:
                waiting.remove(answer)
            if not waiting:
                self._address_answers.pop(nwk, None)
        self._unanswered.pop(nwk, None)
        return ieee

    def _address_response(self, packet: t.ZigbeePacket) -> None:
        try:
            _tsn, fields = parse_zdo(packet.cluster_id, packet.data.serialize())
        except (ValueError, KeyError):
            return
        status, ieee, nwk = fields[0], fields[1], fields[2]
        if status != zdo_t.Status.SUCCESS:
            return
        self.addresses.learn(int(nwk), t.EUI64(ieee))
        for answer in self._address_answers.get(int(nwk), []):
            if not answer.done():
                answer.set_result(t.EUI64(ieee))

    async def shutdown(self, *, db: bool = True) -> None:
        for task in list(self._lookup_tasks):
            task.cancel()
        await super().shutdown(db=db)  # type: ignore[misc]

    async def install_link_key(self, ieee: t.EUI64, key: bytes) -> bool:
        """Use ``key`` for APS security with ``ieee`` from now on (CBKE's
        result); False when the NCP has no way to take it."""
        ieee = t.EUI64(ieee)
        try:
            # Two displays finishing CBKE together would otherwise both take
            # the same free entry, and the second key would overwrite the first.
            async with self._key_install:
                stored = await self._store_link_key(ieee, t.KeyData(bytes(key)))
        except Exception as exc:  # the stick refused: say so, keep running
            self.link_key_problem = str(exc) or type(exc).__name__
            LOGGER.warning("The coordinator did not take the link key for %s: %s", ieee, self.link_key_problem)
            return False
        if stored:
            self.link_keys[ieee] = t.KeyData(bytes(key))
            self.link_key_problem = None
        elif self.link_key_problem is None:
            self.link_key_problem = "this coordinator cannot take link keys from the host"
        return stored

    async def _store_link_key(self, ieee: t.EUI64, key: t.KeyData) -> bool:
        return False

    def keys_in_use(self) -> list[tuple[bytes, str]]:
        """(key, label) of the network key, the trust-centre link key and the
        link keys the host knows, for a key log."""
        out: list[tuple[bytes, str]] = []
        info = self.state.network_info  # type: ignore[attr-defined]
        if info is not None and info.network_key is not None:
            out.append((bytes(info.network_key.key), f"network key seq {info.network_key.seq}"))
        if info is not None and info.tc_link_key is not None:
            out.append((bytes(info.tc_link_key.key), "trust centre link key"))
            for entry in info.key_table or ():
                out.append((bytes(entry.key), f"link key {entry.partner_ieee}"))
        for ieee, key in self.link_keys.items():
            out.append((bytes(key), f"link key {ieee}"))
        return out
