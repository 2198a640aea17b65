"""The EmberZNet backend: bellows' ControllerApplication carrying the ESI server.

bellows sends every frame from the source endpoint and profile the packet
names and keeps the APS-encryption flag of incoming frames, so the server
needs nothing bent here beyond :class:`~han_emu.radio.host.ServerHost`.

What EZSP adds is the NCP's own duty-cycle view (EZSP v6+):
``getDutyCycleState``, ``getDutyCycleLimits``, ``getCurrentDutyCycle`` and
the ``dutyCycleHandler`` callback, collected into :class:`NcpDutyCycle` for
display beside han-emu's own airtime accounting.  bellows 1.2 declares
``EmberDutyCycleLimits`` as a vendor id and string; the stack's struct is three
16-bit thresholds in hundredths of a percent, so the limits are read with that
layout.

And CBKE: an NCP image with the CBKE/ECC libraries and a certificate runs key
establishment itself (:mod:`han_emu.radio.ezsp.ncp_cbke`), found out while the
endpoints are registered; its Key Establishment endpoint is then the primary
ESI's.  Otherwise a software CBKE's keys go into the NCP's key table
(:meth:`EzspCoordinator._store_link_key`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bellows.config as bconf
import bellows.types as bt
import zigpy.config as zconf
import zigpy.types as t
from bellows.zigbee.application import ControllerApplication

from zigpy.zdo.types import SimpleDescriptor

from clusters.ids import KEY_ESTABLISHMENT, SE_PROFILE_ID
from han_emu.air.dutycycle import HOUR_S, per_hour_text
from han_emu.radio.backend import RadioError, RadioSpec
from han_emu.radio.coordinator import HardwareCoordinator
from han_emu.radio.ezsp import sticks
from han_emu.radio.ezsp.joining import JoinPolicyRestore
from han_emu.radio.ezsp.ncp_cbke import NcpKeyEstablishment, probe_ncp_cbke
from han_emu.radio.key_table import KeyTableFull
from han_emu.radio.quiet_joins import QuietJoins
from han_emu.radio.ezsp.stack_zdo import StackAnswersMatchDesc

LOGGER = logging.getLogger(__name__)

GET_DUTY_CYCLE_LIMITS = 0x004B
#: getCurrentDutyCycle returns room for this many (nodeId, consumed) pairs.
MAX_DUTY_CYCLE_DEVICES = 134 // 4

STATE_NAMES = {0: "tracking off", 1: "normal", 2: "limited", 3: "critical", 4: "suspended"}


class DutyCycleLimits(bt.EzspStruct):
    """The stack's ``EmberDutyCycleLimits``: hundredths of a percent, suspend >
    critical > limited."""

    limitThresh: bt.uint16_t
    critThresh: bt.uint16_t
    suspLimit: bt.uint16_t


def radio_config(spec: RadioSpec, *, request_timeout: float) -> dict[str, Any]:
    """bellows settings for ``spec`` (bellows' command timeouts are fixed):
    serial defaults by stick type and table sizes for the displays
    (:mod:`han_emu.radio.ezsp.sticks`)."""
    config: dict[str, Any] = {bconf.CONF_EZSP_CONFIG: sticks.ezsp_config(),
                              bconf.CONF_EZSP_POLICIES: sticks.ezsp_policies()}
    if spec.networked:
        # No reader thread needed behind a socket.
        config[bconf.CONF_USE_THREAD] = False
    elif spec.port is not None:
        serial = sticks.serial_defaults(spec.port, spec.flow_control, spec.baudrate)
        device: dict[str, Any] = {zconf.CONF_DEVICE_PATH: spec.port}
        if "baudrate" in serial:
            device[zconf.CONF_DEVICE_BAUDRATE] = serial["baudrate"]
        if "flow_control" in serial:
            device[zconf.CONF_DEVICE_FLOW_CONTROL] = serial["flow_control"]
        config[zconf.CONF_DEVICE] = device
    return config


@dataclass
class NcpDutyCycle:
    """The NCP's own duty-cycle figures (hundredths of a percent of the hour, as
    the stack keeps them; :meth:`describe` gives them in s/h and %, the units of
    the GB limits)."""

    supported: bool | None = None
    state: int | None = None
    #: (limited, critical, suspend) thresholds.
    limits: tuple[int, int, int] | None = None
    #: NWK address -> duty cycle consumed.
    consumed: dict[int, int] = field(default_factory=dict)
    channel_page: int | None = None
    channel: int | None = None
    #: Wall time of the last figure received.
    updated: float | None = None

    @property
    def state_name(self) -> str:
        return "unknown" if self.state is None else STATE_NAMES.get(self.state, f"state {self.state}")

    def describe(self) -> str:
        if self.supported is False:
            return "NCP duty cycle: not supported by this firmware"
        text = f"NCP duty cycle: {self.state_name}"
        if self.limits is not None:
            limited, critical, suspended = (hundredths_to_seconds(v) for v in self.limits)
            text += (f" (limits: limited {per_hour_text(limited)}, critical {per_hour_text(critical)}, "
                     f"regulated {per_hour_text(suspended)})")
        if self.consumed:
            text += ", used " + ", ".join(f"0x{n:04X} {per_hour_text(hundredths_to_seconds(v))}"
                                          for n, v in sorted(self.consumed.items()))
        return text


def hundredths_to_seconds(value: int) -> float:
    """The stack's hundredths of a percent of the hour as seconds an hour (250 -> 90 s)."""
    return round(value * HOUR_S / 10_000, 6)


class EzspCoordinator(QuietJoins, HardwareCoordinator, StackAnswersMatchDesc, JoinPolicyRestore,
                      ControllerApplication):
    """An EmberZNet coordinator carrying a packet server.

    The mixins allow for what the stick does itself: it answers Match_Desc
    (:mod:`.stack_zdo`); zigpy's interview of joining displays
    (:mod:`han_emu.radio.quiet_joins`) and bellows' lasting install-code join
    policy (:mod:`.joining`) are left out.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duty_cycle = NcpDutyCycle()
        #: Key establishment on the NCP, when its image can (None: software CBKE or none).
        self.ncp_cbke: NcpKeyEstablishment | None = None
        self.ncp_cbke_frames: Callable[[t.ZigbeePacket, bool], None] | None = None
        """Told of each Key Establishment frame the NCP's CBKE path takes in
        (True) or sends (False): they bypass the packet server, whose tap the
        host's captures, airtime and conformance observers otherwise hear."""
        self._cbke_tasks: set[asyncio.Task[None]] = set()

    async def initialize(self, *, auto_form: bool = False) -> None:
        await super().initialize(auto_form=auto_form)
        await self.check_tables()

    async def check_tables(self) -> list[str]:
        """Say (and return) what of the NCP's set-up falls short for the HAN:
        a trust-centre address cache the image would not grow, a flow control
        other than the one the firmware reports (:mod:`.sticks`)."""
        problems: list[str] = []
        try:
            status, size = await self._ezsp.getConfigurationValue(
                configId=bt.EzspConfigId.CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE)
        except Exception as exc:  # an old image without the value: nothing to say
            LOGGER.debug("CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE unreadable: %r", exc)
        else:
            if bt.sl_Status.from_ember_status(status) == bt.sl_Status.OK and size < sticks.TRUST_CENTRE_ADDRESS_CACHE:
                problems.append(
                    f"the NCP keeps only {int(size)} trust-centre address cache entries "
                    f"(asked for {sticks.TRUST_CENTRE_ADDRESS_CACHE}): encrypted frames from displays behind "
                    "a router may be dropped; use an image built with a bigger cache")
        device = self.config[zconf.CONF_DEVICE]
        info = self.state.network_info
        reported = ((info.metadata or {}).get("ezsp") or {}).get("flow_control") if info is not None else None
        mismatch = sticks.flow_control_mismatch(device.get(zconf.CONF_DEVICE_FLOW_CONTROL), reported)
        if mismatch is not None and not str(device.get(zconf.CONF_DEVICE_PATH, "")).startswith("socket://"):
            problems.append(mismatch)
        for problem in problems:
            LOGGER.warning("%s", problem)
        return problems

    # -- CBKE on the NCP ---------------------------------------------------------------
    async def register_endpoints(self) -> None:
        # Asked before the endpoints exist, so the Key Establishment cluster can
        # be among them (endpoints cannot change once the network is up).
        certificates = await probe_ncp_cbke(self._ezsp)
        if certificates:
            self.ncp_cbke = NcpKeyEstablishment(
                lambda: self._ezsp, certificates, self.ieee_of, on_established=self._ncp_key_established,
            )
            LOGGER.info("The NCP runs CBKE itself (suites %s)", sorted(s.number for s in certificates))
        await super().register_endpoints()

    @property
    def key_establishment_endpoint(self) -> int | None:
        """The server endpoint serving Key Establishment (the primary ESI)."""
        descriptors = super()._server_descriptors()
        for d in descriptors:
            if KEY_ESTABLISHMENT in d.input_clusters:
                return int(d.endpoint)
        endpoint_of = getattr(self.server, "endpoint_of", None)
        if endpoint_of is not None:
            try:
                return int(endpoint_of("primary"))
            except Exception:  # not an ESI server: take its first endpoint
                pass
        return min((int(d.endpoint) for d in descriptors), default=None)

    def _server_descriptors(self) -> list[SimpleDescriptor]:
        descriptors = super()._server_descriptors()
        if self.ncp_cbke is None:
            return descriptors
        ke = self.key_establishment_endpoint
        out = []
        for d in descriptors:
            if int(d.endpoint) == ke and KEY_ESTABLISHMENT not in d.input_clusters:
                d = SimpleDescriptor(
                    endpoint=d.endpoint, profile=d.profile, device_type=d.device_type,
                    device_version=d.device_version,
                    input_clusters=[*d.input_clusters, KEY_ESTABLISHMENT],
                    output_clusters=[*d.output_clusters, KEY_ESTABLISHMENT],
                )
            out.append(d)
        return out

    def packet_received(self, packet: t.ZigbeePacket) -> None:
        cbke = self.ncp_cbke
        if (
            cbke is not None
            and packet.cluster_id == KEY_ESTABLISHMENT
            and packet.profile_id == SE_PROFILE_ID
            and packet.dst_ep is not None
            and int(packet.dst_ep) == self.key_establishment_endpoint
        ):
            self._tell_cbke_frame(packet, True)
            task = asyncio.get_running_loop().create_task(self._ncp_cbke_answer(cbke, packet))
            self._cbke_tasks.add(task)
            task.add_done_callback(self._cbke_tasks.discard)
            return
        super().packet_received(packet)

    async def _ncp_cbke_answer(self, cbke: NcpKeyEstablishment, packet: t.ZigbeePacket) -> None:
        try:
            replies = await cbke.handle(packet)
            for reply in replies:
                self._tell_cbke_frame(reply, False)
                await self.send_packet(reply)
        except Exception:
            LOGGER.exception("Key establishment on the NCP failed for %s", packet.src)

    def _tell_cbke_frame(self, packet: t.ZigbeePacket, incoming: bool) -> None:
        if self.ncp_cbke_frames is not None:
            try:
                self.ncp_cbke_frames(packet, incoming)
            except Exception:  # an observer never breaks key establishment
                LOGGER.exception("Key establishment frame observer failed on %r", packet)

    async def _ncp_key_established(self, ieee: t.EUI64) -> None:
        """The NCP stored ``ieee``'s new link key: read it back for the key log
        where the NCP lets keys be exported, and tell the listeners."""
        key: bytes | None = None
        try:
            (index,) = await self._ezsp.findKeyTableEntry(address=ieee, linkKey=True)
            if index != 0xFF:
                status, _eui, plain = await export_link_key(self._ezsp, index)
                if status == bt.sl_Status.OK:
                    key = bytes(plain)
        except Exception as exc:  # older firmware, or keys kept in a secure vault
            LOGGER.debug("Reading back the CBKE link key failed: %r", exc)
        if key is not None:
            self.link_keys[t.EUI64(ieee)] = t.KeyData(key)
        self.listener_event("cbke_established", t.EUI64(ieee), key)

    async def shutdown(self, *, db: bool = True) -> None:
        for task in list(self._cbke_tasks):
            task.cancel()
        await super().shutdown(db=db)

    #: True when this session formed the network (see :func:`needs_restart`).
    formed_network = False

    async def form_network(self, *args: Any, **kwargs: Any) -> None:
        await super().form_network(*args, **kwargs)
        self.formed_network = True

    def needs_restart(self) -> bool:
        """An EmberZNet NCP forgets its endpoints on every reset, endpoints can
        only be added while the network is down, and bellows resets the NCP to
        commit a newly formed network after registering them: a session that
        formed the network must be started once more for the ESIs to exist."""
        return self.formed_network

    def ezsp_callback_handler(self, frame_name: str, args: list[Any]) -> None:
        if self.ncp_cbke is not None and self.ncp_cbke.callback(frame_name, args):
            return
        if frame_name == "dutyCycleHandler":
            page, channel, state, devices = args
            dc = self.duty_cycle
            dc.supported = True
            dc.channel_page, dc.channel, dc.state = int(page), int(channel), int(state)
            dc.consumed = {int(d.nodeId): int(d.dutyCycleConsumed) for d in devices}
            dc.updated = time.time()
            LOGGER.info("%s", dc.describe())
            return
        super().ezsp_callback_handler(frame_name, args)

    async def read_duty_cycle(self) -> NcpDutyCycle:
        """Ask the NCP for its duty-cycle state, limits and per-device use."""
        dc = self.duty_cycle
        ezsp = self._ezsp
        if ezsp is None or ezsp.ezsp_version < 6:
            dc.supported = False
            return dc
        try:
            status, state = await ezsp.getDutyCycleState()
        except Exception as exc:
            LOGGER.debug("getDutyCycleState failed: %r", exc)
            dc.supported = False
            return dc
        if t.uint8_t(status) != bt.EmberStatus.SUCCESS:
            dc.supported = False
            return dc
        dc.supported, dc.state = True, int(state)
        limits = await self._duty_cycle_limits()
        if limits is not None:
            dc.limits = limits
        status, array = await ezsp.getCurrentDutyCycle(maxDevices=MAX_DUTY_CYCLE_DEVICES)
        if t.uint8_t(status) == bt.EmberStatus.SUCCESS:
            dc.consumed = _per_device(bytes(array))
        dc.updated = time.time()
        return dc

    async def _duty_cycle_limits(self) -> tuple[int, int, int] | None:
        protocol = self._ezsp._protocol
        # EZSP v14 made every status an sl_status_t (4 bytes).
        rx = {"status": bt.sl_Status if self._ezsp.ezsp_version >= 14 else bt.EmberStatus, "limits": DutyCycleLimits}
        # Read with the stack's layout (see the module docstring), on this
        # connection's protocol object only.
        protocol.COMMANDS = {**protocol.COMMANDS, "getDutyCycleLimits": (GET_DUTY_CYCLE_LIMITS, {}, rx)}
        protocol.COMMANDS_BY_ID[GET_DUTY_CYCLE_LIMITS] = ("getDutyCycleLimits", {}, rx)
        try:
            status, limits = await self._ezsp.getDutyCycleLimits()
        except Exception as exc:
            LOGGER.debug("getDutyCycleLimits failed: %r", exc)
            return None
        if t.uint8_t(status) != bt.EmberStatus.SUCCESS:
            return None
        return int(limits.limitThresh), int(limits.critThresh), int(limits.suspLimit)

    # -- the network-key update (trust centre) ------------------------------------------
    async def send_network_key(self, nwk: int, ieee: t.EUI64, key: t.KeyData, seq: int) -> bool:
        """Send ``ieee`` the next network key: ``unicastNwkKeyUpdate``
        (``emberSendUnicastNetworkKeyUpdate``), an APS Transport-Key secured
        with the device's link key from the NCP's key table, as EmberZNet's
        Smart Energy plugin ``trust-center-nwk-key-update-unicast`` sends it to
        each authorised device.  The stack numbers the key itself (its
        sequence number + 1), so ``seq`` is not sent.  False when the NCP
        refused (e.g. no link key for the device)."""
        (status,) = await self._ezsp.unicastNwkKeyUpdate(destShort=t.NWK(nwk), destLong=t.EUI64(ieee), key=key)
        if bt.sl_Status.from_ember_status(status) != bt.sl_Status.OK:
            LOGGER.warning("The NCP did not send %s the new network key: %s", ieee, status)
            return False
        return True

    async def switch_network_key(self, seq: int) -> None:
        """``broadcastNetworkKeySwitch``: the Switch-Key to every device, and the
        NCP moves to the key it sent (kept in its tokens); RadioError when refused."""
        (status,) = await self._ezsp.broadcastNetworkKeySwitch()
        if bt.sl_Status.from_ember_status(status) != bt.sl_Status.OK:
            raise RadioError(f"the NCP refused to switch to network key {seq}: {status}")

    async def _store_link_key(self, ieee: t.EUI64, key: t.KeyData) -> bool:
        """Put ``key`` in the NCP's APS key table: the device's own entry if it
        has one, else the first free entry (:meth:`free_key_slot`).

        Before EZSP v13 ``addOrUpdateKeyTableEntry`` lets the stack pick the
        entry itself; from v13 ``importLinkKey`` takes the index from the host.
        A full table raises :class:`KeyTableFull`, naming its size.
        """
        ezsp = self._ezsp
        if ezsp.ezsp_version < 13:
            (status,) = await ezsp.addOrUpdateKeyTableEntry(address=ieee, linkKey=True, keyData=key)
            if t.uint8_t(status) == bt.EmberStatus.TABLE_FULL:
                raise KeyTableFull(await self.key_table_size())
            return t.uint8_t(status) == bt.EmberStatus.SUCCESS
        (index,) = await ezsp.findKeyTableEntry(address=ieee, linkKey=True)
        if index == 0xFF:
            index = await self.free_key_slot()
        (status,) = await ezsp.importLinkKey(index=index, address=ieee, key=key)
        return bt.sl_Status.from_ember_status(status) == bt.sl_Status.OK

    async def key_table_size(self) -> int:
        """CONFIG_KEY_TABLE_SIZE as the NCP has it (bellows asks for at least 4)."""
        (_status, size) = await self._ezsp.getConfigurationValue(configId=bt.EzspConfigId.CONFIG_KEY_TABLE_SIZE)
        return int(size)

    async def _free_key_slots(self, *, first: bool = False) -> tuple[int, list[int]]:
        """(entries, indices of the free ones) of the NCP's key table (EZSP v13+).

        Read as bellows reads the table for a backup (``read_link_keys`` in
        ``bellows/ezsp/v13/__init__.py``): CONFIG_KEY_TABLE_SIZE entries,
        ``exportLinkKeyByIndex`` each, SL_STATUS_OK for an entry in use.  An
        entry answering SL_STATUS_NOT_FOUND is free; any other status (a key
        the NCP will not export) is left alone; SL_STATUS_INVALID_INDEX ends
        the table.  Counting the keys instead would overwrite another
        display's key wherever the table has a gap.  ``first``: stop at the
        first free entry.
        """
        size = await self.key_table_size()
        free: list[int] = []
        for index in range(size):
            status, _eui, _key = await export_link_key(self._ezsp, index)
            if status == bt.sl_Status.INVALID_INDEX:
                return index, free
            if status == bt.sl_Status.NOT_FOUND:
                free.append(index)
                if first:
                    break
        return size, free

    async def key_table_use(self) -> tuple[int, int]:
        """(entries, entries holding a key) of the NCP's key table (EZSP v13+)."""
        size, free = await self._free_key_slots()
        return size, size - len(free)

    async def free_key_slot(self) -> int:
        """The first entry of the NCP's key table that holds no key; a full
        table raises :class:`KeyTableFull`."""
        size, free = await self._free_key_slots(first=True)
        if not free:
            raise KeyTableFull(size)
        return free[0]


async def export_link_key(ezsp: Any, index: int) -> tuple[bt.sl_Status, t.EUI64, bytes]:
    """(status, partner, key) of key-table entry ``index``.  EZSP v14 answers
    exportLinkKeyByIndex with (status, context, key, metadata), the partner
    inside the context; v13 with (EUI-64, key, metadata, status)
    (``bellows/ezsp/v13/commands.py``, ``bellows/ezsp/v14/commands.py``)."""
    answer = await ezsp.exportLinkKeyByIndex(index=index)
    if ezsp.ezsp_version >= 14:
        status, context, plain, _meta = answer
        eui64 = context.eui64
    else:
        eui64, plain, _meta, status = answer
    return bt.sl_Status.from_ember_status(status), t.EUI64(eui64), bytes(plain)


def _per_device(array: bytes) -> dict[int, int]:
    """(nodeId, consumed) pairs of getCurrentDutyCycle; 0xFFFF ends the list."""
    out: dict[int, int] = {}
    for i in range(0, len(array) - 3, 4):
        nwk = int.from_bytes(array[i:i + 2], "little")
        if nwk == 0xFFFF:
            break
        out[nwk] = int.from_bytes(array[i + 2:i + 4], "little")
    return out
