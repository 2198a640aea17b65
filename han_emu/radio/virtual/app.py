"""A real zigpy ControllerApplication whose radio is the virtual air.

Everything an NCP's firmware would do lives here: non-volatile network
settings (kept per radio on the air, so a restarted app finds its network),
the trust centre's join decision, and a ZDO server answering for the
endpoints registered with ``add_endpoint``.  zigpy above it runs unmodified:
``startup(auto_form=True)`` forms a network, interviews the coordinator, and
interviews devices that join.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import zigpy.application
import zigpy.config as conf
import zigpy.device
import zigpy.exceptions
import zigpy.state
import zigpy.types as t
import zigpy.util
import zigpy.zdo.types as zdo_t
from zigpy.zdo.types import SimpleDescriptor

from han_emu import __version__
from han_emu.radio.virtual.medium import COORDINATOR_NWK, RadioState, VirtualAir
from han_emu.radio.virtual.counters import RESTART_MARGIN, after_restart, spend
from han_emu.radio.virtual.packets import nwk_address, replace_packet
from han_emu.radio.zdo_answers import ZDO_ENDPOINT, ZDO_PROFILE, ZdoAnswerer, node_descriptor

LOGGER = logging.getLogger(__name__)

DEFAULT_RADIO_PATH = "virtual://coordinator"
MANUFACTURER = "han-emu"
MODEL = "Virtual coordinator"


class VirtualCoordinator(zigpy.device.Device):
    """The coordinator as a zigpy device; its identity comes from the radio."""

    @property
    def manufacturer(self) -> str:
        return MANUFACTURER

    @manufacturer.setter
    def manufacturer(self, value: str) -> None:
        pass  # fixed by the "hardware"

    @property
    def model(self) -> str:
        return MODEL

    @model.setter
    def model(self, value: str) -> None:
        """Fixed by the "hardware", as the manufacturer is."""


class _CoordinatorPort:
    """The coordinator's presence on the air, and its trust centre."""

    is_router = True
    rx_on_when_idle = True

    def __init__(self, app: VirtualControllerApplication) -> None:
        self._app = app
        self.ieee: t.EUI64 = app.radio_state.ieee
        self.nwk: t.NWK | None = None
        self.groups: set[int] = set()

    def air_receive(self, packet: t.ZigbeePacket) -> None:
        self._app._air_receive(packet)

    def accept_join(self, ieee: t.EUI64, link_key: t.KeyData | None) -> bool:
        return self._app._accept_join(ieee, link_key)

    def device_joined(self, ieee: t.EUI64, nwk: t.NWK, parent: t.NWK) -> None:
        self._app.handle_join(nwk=nwk, ieee=ieee, parent_nwk=parent)

    def device_left(self, ieee: t.EUI64, nwk: t.NWK) -> None:
        self._app.handle_leave(nwk=nwk, ieee=ieee)

    def aps_link_key(self, partner: t.EUI64) -> t.KeyData | None:
        return self._app.link_key_for(partner)

    @property
    def nwk_frame_counter(self) -> int:
        return self._app.radio_state.nwk_frame_counter

    def next_nwk_counter(self) -> int:
        """The coordinator's outgoing NWK frame counter lives in its radio's
        non-volatile state, so it survives the app being restarted."""
        return spend(vars(self._app.radio_state), "nwk_frame_counter", "NWK")

    @property
    def aps_frame_counter(self) -> int:
        return self._app.radio_state.aps_frame_counter

    def next_aps_frame_counter(self) -> int:
        """The outgoing APS security frame counter, kept like the NWK one."""
        return spend(vars(self._app.radio_state), "aps_frame_counter", "APS")


def virtual_config(config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fill in what zigpy requires and what a virtual HAN wants by default:
    a device path naming the virtual radio, and no OTA (SE devices do not use
    zigpy's OTA, and it must never reach out to the internet from a simulation).
    """
    config = dict(config or {})
    config.setdefault(conf.CONF_DEVICE, {conf.CONF_DEVICE_PATH: DEFAULT_RADIO_PATH})
    config.setdefault(conf.CONF_OTA, {conf.CONF_OTA_ENABLED: False})
    return config


class VirtualControllerApplication(zigpy.application.ControllerApplication):
    """zigpy's controller on the virtual air.

    ``air`` is shared with the simulated devices; the device path in the
    config names this radio's non-volatile memory on that air.
    """

    DISPLAY_NAME = "han-emu virtual HAN"
    DESCRIPTION = "A simulated Zigbee radio on a virtual air, for emulation and tests"

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        *,
        air: VirtualAir | None = None,
        ieee: t.EUI64 | None = None,
    ) -> None:
        super().__init__(virtual_config(config))
        self.air = air if air is not None else VirtualAir()
        self.radio_state: RadioState = self.air.radio(
            self.config[conf.CONF_DEVICE][conf.CONF_DEVICE_PATH], ieee
        )
        self._endpoints: dict[int, SimpleDescriptor] = {}
        self._port = _CoordinatorPort(self)
        self._connected = False
        self._permit_until: float | None = None
        self._node_permits: dict[t.EUI64, tuple[float, t.KeyData]] = {}
        #: The trust centre's APS link key per device (install-code key, then CBKE's).
        self._link_keys: dict[t.EUI64, t.KeyData] = {}
        # The same table by address bytes, for the per-frame lookup (an EUI64
        # hashes through its repr).  Changed only with _store/_drop_link_key.
        self._link_keys_by_bytes: dict[bytes, t.KeyData] = {}
        self._zdo = ZdoAnswerer(
            ieee=lambda: self._port.ieee,
            nwk=lambda: self._port.nwk if self._port.nwk is not None else COORDINATOR_NWK,
            descriptor=node_descriptor(zdo_t.LogicalType.Coordinator),
            endpoints=self._endpoints,
            on_permit_joining=self._set_permit,
            on_energy_scan=self._energy_scan,
            on_channel_change=self._channel_change,
        )

    # -- connection and network settings ---------------------------------------

    async def connect(self) -> None:
        self._connected = True

    async def disconnect(self) -> None:
        self._go_off_air()
        self._connected = False

    async def start_network(self) -> None:
        if not self._connected:
            raise zigpy.exceptions.ControllerException("radio is not connected")
        if self.radio_state.network_info is None:
            raise zigpy.exceptions.NetworkNotFormed("the virtual radio has no network")
        await self.load_network_info(load_devices=False)

        self._go_off_air()
        self._port.nwk = self.state.node_info.nwk
        self.air.attach(self._port)
        self.air.set_trust_center(self._port)

        self._endpoints.clear()
        await self.register_endpoints()

        ieee = self.state.node_info.ieee
        self.devices[ieee] = VirtualCoordinator(self, ieee, self.state.node_info.nwk)
        task = self._device.schedule_initialize()
        if task is not None:
            await task

    def _go_off_air(self) -> None:
        if self._port.nwk is not None:
            self.air.detach(self._port)
            self.air.set_trust_center(None)
            self._port.nwk = None

    async def load_network_info(self, *, load_devices: bool = False) -> None:
        radio = self.radio_state
        if radio.network_info is None or radio.node_info is None:
            raise zigpy.exceptions.NetworkNotFormed("the virtual radio has no network")
        network_info = radio.network_info.replace(
            source=f"han-emu@{_version()}",
            network_key=radio.network_info.network_key.replace(tx_counter=radio.nwk_frame_counter),
        )
        if load_devices:
            others = [n for n in self.air.nodes if n is not self._port and n.nwk is not None]
            network_info = network_info.replace(
                children=[n.ieee for n in others if not n.is_router],
                nwk_addresses={n.ieee: t.NWK(n.nwk) for n in others},
                key_table=[
                    zigpy.state.Key(key=key, partner_ieee=ieee)
                    for ieee, key in {
                        **{i: k for i, (_until, k) in self._node_permits.items()},
                        **self._link_keys,
                    }.items()
                ],
            )
        self.state.network_info = network_info
        self.state.node_info = radio.node_info

    async def write_network_info(
        self,
        *,
        network_info: zigpy.state.NetworkInfo,
        node_info: zigpy.state.NodeInfo,
    ) -> None:
        radio = self.radio_state
        ieee = node_info.ieee
        if ieee == t.EUI64.UNKNOWN:
            ieee = radio.ieee  # "use the radio's own address"
        radio.ieee = ieee
        self._port.ieee = ieee
        # A stack never sends a counter twice: forming afresh (counter 0) or
        # restoring an older backup does not take it back.
        radio.nwk_frame_counter = max(radio.nwk_frame_counter, network_info.network_key.tx_counter)
        radio.node_info = zigpy.state.NodeInfo(
            nwk=COORDINATOR_NWK,
            ieee=ieee,
            logical_type=zdo_t.LogicalType.Coordinator,
            model=MODEL,
            manufacturer=MANUFACTURER,
            version=_version(),
        )
        radio.network_info = network_info.replace(
            channel_mask=t.Channels.from_channel_list([network_info.channel]),
            nwk_manager_id=COORDINATOR_NWK,
        )

    async def reset_network_info(self) -> None:
        self._go_off_air()
        self.radio_state.network_info = None
        self.radio_state.node_info = None

    # -- the outgoing NWK frame counter ----------------------------------------------

    @property
    def nwk_frame_counter(self) -> int:
        """The NWK frame counter the coordinator's next frame will carry: what to save."""
        return self.radio_state.nwk_frame_counter

    @property
    def aps_frame_counter(self) -> int:
        """The APS security frame counter of the coordinator's next APS-encrypted frame."""
        return self.radio_state.aps_frame_counter

    def restore_nwk_frame_counter(self, saved: int, margin: int = RESTART_MARGIN) -> int:
        """Carry on from a counter saved by an earlier run, plus ``margin`` for
        frames sent after that save (a crash loses them); never goes back.
        Call before the network starts; returns the next counter."""
        radio = self.radio_state
        radio.nwk_frame_counter = max(radio.nwk_frame_counter, after_restart(saved, margin))
        return radio.nwk_frame_counter

    def restore_aps_frame_counter(self, saved: int, margin: int = RESTART_MARGIN) -> int:
        """As :meth:`restore_nwk_frame_counter`, for the APS security counter."""
        radio = self.radio_state
        radio.aps_frame_counter = max(radio.aps_frame_counter, after_restart(saved, margin))
        return radio.aps_frame_counter

    # -- endpoints, joining, removal ----------------------------------------------

    async def add_endpoint(self, descriptor: SimpleDescriptor) -> None:
        self._endpoints[int(descriptor.endpoint)] = descriptor

    @property
    def endpoints(self) -> dict[int, SimpleDescriptor]:
        """The simple descriptors registered on the coordinator."""
        return dict(self._endpoints)

    async def permit_ncp(self, time_s: int = 60) -> None:
        self._set_permit(time_s)

    async def permit_with_link_key(
        self, node: t.EUI64, link_key: t.KeyData, time_s: int = 60
    ) -> None:
        """Let one node join, and only with this key (e.g. from its install code)."""
        until = asyncio.get_running_loop().time() + time_s
        self._node_permits[t.EUI64(node)] = (until, t.KeyData(link_key))

    async def permit_with_install_code(
        self, node: t.EUI64, code: bytes, time_s: int = 60
    ) -> t.KeyData:
        """Let one node join with the link key its install code gives
        (AES-MMO of the code, after its CRC is checked); returns that key."""
        key = zigpy.util.convert_install_code(bytes(code))
        await self.permit_with_link_key(node, key, time_s)
        return key

    # -- the trust centre's link-key table (APS security) --------------------------

    def link_key_for(self, ieee: t.EUI64) -> t.KeyData | None:
        """The APS link key held for ``ieee`` (None: the default TC link key)."""
        return self._link_keys_by_bytes.get(bytes(ieee) if type(ieee) is t.EUI64 else bytes(t.EUI64(ieee)))

    def install_link_key(self, ieee: t.EUI64, key: bytes) -> None:
        """Use ``key`` for APS security with ``ieee`` from now on (e.g. CBKE's KeyData)."""
        self._store_link_key(ieee, t.KeyData(bytes(key)))

    def remove_link_key(self, ieee: t.EUI64) -> None:
        ieee = t.EUI64(ieee)
        self._link_keys.pop(ieee, None)
        self._link_keys_by_bytes.pop(bytes(ieee), None)

    def _store_link_key(self, ieee: t.EUI64, key: t.KeyData) -> None:
        ieee = t.EUI64(ieee)
        self._link_keys[ieee] = key
        self._link_keys_by_bytes[bytes(ieee)] = key

    def ieee_of(self, nwk: int) -> t.EUI64 | None:
        """The IEEE address of the device at ``nwk`` (None when unknown): the
        lookup a Key Establishment server needs, since packets carry NWK sources."""
        if self._port.nwk is not None and nwk == self._port.nwk:
            return self._port.ieee
        # zigpy compares NWK addresses as ints: a plain int in range is looked
        # up as its t.NWK would be, without building one per frame.
        key = nwk if type(nwk) is int and 0 <= nwk <= 0xFFFF else t.NWK(nwk)
        try:
            return self.get_device(nwk=key).ieee
        except KeyError:
            node = self.air.node_by_nwk(nwk)
            return None if node is None else node.ieee

    def bound_destinations(self, endpoint: int, cluster: int) -> list[tuple[int, int]]:
        """(NWK, endpoint) of every unicast destination in the coordinator's
        binding table for ``cluster`` on its ``endpoint`` (ZDO Bind_req from
        the clients).  Destinations whose NWK address is not known yet, and
        group bindings (Smart Energy secures unicasts only), are left out."""
        out = []
        for binding in self._zdo.bindings:
            if int(binding.SrcEndpoint) != endpoint or int(binding.ClusterId) != cluster:
                continue
            dst = binding.DstAddress
            if dst.addrmode != 0x03:  # 0x01: a group
                continue
            node = self.air.node_by_ieee(dst.ieee)
            if node is not None and node.nwk is not None:
                out.append((int(node.nwk), int(dst.endpoint)))
        return out

    def _set_permit(self, time_s: int) -> None:
        loop = asyncio.get_running_loop()
        self._permit_until = loop.time() + time_s if time_s > 0 else None

    @property
    def permitting(self) -> bool:
        """True while the general join window is open."""
        until = self._permit_until
        return until is not None and asyncio.get_running_loop().time() < until

    def _accept_join(self, ieee: t.EUI64, link_key: t.KeyData | None) -> bool:
        now = asyncio.get_running_loop().time()
        node_permit = self._node_permits.get(ieee)
        if node_permit is not None and now < node_permit[0]:
            if link_key is None or bytes(link_key) != bytes(node_permit[1]):
                return False
            # The pre-configured key becomes this device's trust-centre link key.
            self._store_link_key(ieee, node_permit[1])
            return True
        return self.permitting

    async def force_remove(self, dev: zigpy.device.Device) -> None:
        node = self.air.node_by_ieee(dev.ieee)
        if node is not None and node is not self._port:
            self.air.leave(node)
            leave = getattr(node, "left_network", None)
            if callable(leave):
                leave()

    async def _subscribe_to_multicast_group(self, group_id: t.Group, endpoint_id: int) -> None:
        self._port.groups.add(int(group_id))

    async def _unsubscribe_from_multicast_group(self, group_id: t.Group, endpoint_id: int) -> None:
        self._port.groups.discard(int(group_id))

    # -- traffic --------------------------------------------------------------------

    async def send_packet(self, packet: t.ZigbeePacket) -> None:
        if self._port.nwk is None:
            raise zigpy.exceptions.DeliveryError("the virtual network is not running")
        own = nwk_address(self._port.nwk)
        if packet.src is None:
            packet = replace_packet(packet, src=own)
        dst = packet.dst
        if dst is not None and (
            (dst.addr_mode == t.AddrMode.NWK and dst.address == self._port.nwk)
            or (dst.addr_mode == t.AddrMode.IEEE and dst.address == self._port.ieee)
        ):
            self._loopback(packet.replace(src=own, dst=own))
            return
        await self.air.transmit(self._port, packet)

    def _loopback(self, packet: t.ZigbeePacket) -> None:
        """A frame to ourselves never reaches the air: the firmware answers ZDO,
        anything else comes straight back up."""
        loop = asyncio.get_running_loop()
        if packet.dst_ep == ZDO_ENDPOINT and packet.cluster_id < 0x8000:
            for reply in self._zdo.handle(packet):
                loop.call_soon(self.packet_received, reply.replace(dst=packet.src))
        else:
            loop.call_soon(self.packet_received, packet)

    def _air_receive(self, packet: t.ZigbeePacket) -> None:
        """A frame from the air: ZDO requests are the firmware's, the rest zigpy's."""
        if (
            packet.dst_ep == ZDO_ENDPOINT
            and packet.profile_id == ZDO_PROFILE
            and packet.cluster_id < 0x8000
            and packet.cluster_id != zdo_t.ZDOCmd.Device_annce
        ):
            for reply in self._zdo.handle(packet):
                self.create_task(self._send_reply(reply), "virtual-zdo-reply")
            return
        self.packet_received(packet)

    async def _send_reply(self, packet: t.ZigbeePacket) -> None:
        try:
            await self.air.transmit(self._port, packet)
        except zigpy.exceptions.DeliveryError as exc:
            LOGGER.debug("ZDO reply %r not delivered: %s", packet, exc)

    def _energy_scan(self, channels: t.Channels) -> dict[int, int]:
        return {ch: self.air.channel_energy.get(ch, 0) for ch in channels}

    def _channel_change(self, channel: int, update_id: int) -> None:
        radio = self.radio_state
        if radio.network_info is not None:
            radio.network_info = radio.network_info.replace(
                channel=channel,
                channel_mask=t.Channels.from_channel_list([channel]),
                nwk_update_id=update_id,
            )


def _version() -> str:
    return __version__
