"""ZDO answers, as a node's firmware gives them: requests in, responses out.

The virtual coordinator, the simulated devices and both emulated NCPs
(EmberZNet and Z-Stack answer device and service discovery inside the chip)
need the same answers, so one answerer serves them all.  It works from a
description of the node: its addresses, its node descriptor, its endpoints'
simple descriptors and its binding table; hooks let the owner act on the
management requests.  Frames are built and parsed with zigpy's ZDO schemas;
only the rules of who answers what are written here (Zigbee spec 2.4.3 /
2.4.4).  Each NCP puts the answers on its own wire (``local_zdo`` of each
emulated stick).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import zigpy.types as t
import zigpy.zdo.types as zdo_t

from clusters.ids import ZDO_PROFILE_ID

LOGGER = logging.getLogger(__name__)

ZDO_PROFILE = ZDO_PROFILE_ID
ZDO_ENDPOINT = 0
WILDCARD_PROFILE = 0xFFFF

_BROADCASTS = {
    t.BroadcastAddress.ALL_DEVICES,
    t.BroadcastAddress.RX_ON_WHEN_IDLE,
    t.BroadcastAddress.ALL_ROUTERS_AND_COORDINATOR,
    t.BroadcastAddress.LOW_POWER_ROUTER,
}

#: The device and service discovery requests (Zigbee spec 2.4.3.1).
DISCOVERY_REQUESTS: frozenset[zdo_t.ZDOCmd] = frozenset(
    {
        zdo_t.ZDOCmd.NWK_addr_req,
        zdo_t.ZDOCmd.IEEE_addr_req,
        zdo_t.ZDOCmd.Node_Desc_req,
        zdo_t.ZDOCmd.Simple_Desc_req,
        zdo_t.ZDOCmd.Active_EP_req,
    }
)


def zdo_body(command: int, fields: tuple | list) -> bytes:
    """Serialize a ZDO command's fields (no TSN); fields left out at the end
    (or given as None there) are not sent, as the spec's optional fields."""
    values = list(fields)
    while values and values[-1] is None:
        values.pop()
    _, schema = zdo_t.CLUSTERS[zdo_t.ZDOCmd(command)]
    return t.serialize(values, schema)


def zdo_frame(command: zdo_t.ZDOCmd, tsn: int, *args: object) -> bytes:
    """Serialize a ZDO frame (TSN byte, then the command's fields)."""
    return bytes([tsn & 0xFF]) + zdo_body(command, args)


def parse_zdo(cluster_id: int, data: bytes) -> tuple[int, list]:
    """Parse a ZDO frame into (TSN, fields); raises ValueError if malformed."""
    _, schema = zdo_t.CLUSTERS[zdo_t.ZDOCmd(cluster_id)]
    if not data:
        raise ValueError("empty ZDO frame")
    args, _rest = t.deserialize(bytes(data[1:]), schema)
    return data[0], args


def node_descriptor(
    logical_type: zdo_t.LogicalType,
    *,
    mains_powered: bool = True,
    rx_on_when_idle: bool = True,
    manufacturer_code: int = 0x0000,
    maximum_buffer_size: int = 82,
    maximum_transfer_size: int = 82,
    network_manager: bool = False,
) -> zdo_t.NodeDescriptor:
    """A node descriptor for a 2.4 GHz node of the given kind (spec 2.3.2.3).

    The sizes are the stack's own (buffer in octets, largest ASDU in and out);
    ``network_manager`` sets server mask bit 6, which EmberZNet sets on the
    coordinator it runs.
    """
    flags = zdo_t.MACCapabilityFlags.AllocateAddress
    if logical_type != zdo_t.LogicalType.EndDevice:
        flags |= zdo_t.MACCapabilityFlags.FullFunctionDevice
    if logical_type == zdo_t.LogicalType.Coordinator:
        flags |= zdo_t.MACCapabilityFlags.AlternatePanCoordinator
    if mains_powered:
        flags |= zdo_t.MACCapabilityFlags.MainsPowered
    if rx_on_when_idle:
        flags |= zdo_t.MACCapabilityFlags.RxOnWhenIdle
    # Server mask bit 0: primary trust centre; bit 6: network manager;
    # bits 9-15: stack compliance revision 22.
    server_mask = (22 << 9) | (0x0001 if logical_type == zdo_t.LogicalType.Coordinator else 0)
    if network_manager:
        server_mask |= 0x0040
    return zdo_t.NodeDescriptor(
        logical_type=logical_type,
        complex_descriptor_available=0,
        user_descriptor_available=0,
        reserved=0,
        aps_flags=0,
        frequency_band=zdo_t.FrequencyBand.Freq2400MHz,
        mac_capability_flags=flags,
        manufacturer_code=manufacturer_code,
        maximum_buffer_size=maximum_buffer_size,
        maximum_incoming_transfer_size=maximum_transfer_size,
        server_mask=server_mask,
        maximum_outgoing_transfer_size=maximum_transfer_size,
        descriptor_capability_field=zdo_t.DescriptorCapability.NONE,
    )


def matches(
    descriptor: zdo_t.SimpleDescriptor,
    profile: int,
    in_clusters: list[int],
    out_clusters: list[int],
) -> bool:
    """The Match_Desc rule: same profile (or wildcard) and one cluster in common.

    The requester's input (server) clusters are looked up among our input
    clusters, its output clusters among our output clusters.
    """
    if profile not in (descriptor.profile, WILDCARD_PROFILE):
        return False
    return bool(set(in_clusters) & set(descriptor.input_clusters)) or bool(
        set(out_clusters) & set(descriptor.output_clusters)
    )


@dataclass(frozen=True)
class ZdoReply:
    """One ZDO response: its command (cluster), the request's TSN, and its fields."""

    command: zdo_t.ZDOCmd
    tsn: int
    fields: tuple

    @property
    def status(self) -> zdo_t.Status:
        return zdo_t.Status(self.fields[0])

    def body(self) -> bytes:
        """The response without its TSN."""
        return zdo_body(self.command, self.fields)

    def frame(self) -> bytes:
        """The response as it travels in an APS payload: TSN, then the fields."""
        return bytes([self.tsn & 0xFF]) + self.body()


@dataclass
class ZdoAnswerer:
    """Answers ZDO requests for one node.

    ``endpoints`` is read live, so endpoints added later are answered for.
    Hooks let the owner act on management requests; a hook left ``None`` makes
    the request NOT_SUPPORTED.  ``serves`` limits the requests the node answers
    itself (the others get no answer here: an NCP leaves them to its host);
    ``route_tables`` answers Mgmt_Lqi_req and Mgmt_Rtg_req with empty tables
    (every node of the HAN is one hop away) instead of NOT_SUPPORTED.
    ``on_bind`` keeps the binding table in the owner's place (an NCP's, with
    its size and policy): given a checked Bind_req or Unbind_req and its
    entry, it changes the table and returns the status to answer; without it
    ``bindings`` is the table, unbounded.
    """

    ieee: Callable[[], t.EUI64]
    nwk: Callable[[], t.NWK]
    descriptor: zdo_t.NodeDescriptor
    endpoints: Mapping[int, zdo_t.SimpleDescriptor]
    bindings: list[zdo_t.Binding] = field(default_factory=list)
    serves: Collection[zdo_t.ZDOCmd] | None = None
    route_tables: bool = False
    on_permit_joining: Callable[[int], None] | None = None
    on_leave: Callable[[bool], None] | None = None
    on_energy_scan: Callable[[t.Channels], dict[int, int]] | None = None
    on_channel_change: Callable[[int, int], None] | None = None
    on_bind: Callable[[zdo_t.ZDOCmd, zdo_t.Binding], zdo_t.Status] | None = None

    def reply_to(self, cluster_id: int, data: bytes, *, broadcast: bool = False) -> ZdoReply | None:
        """The answer to one request (``data`` starts with its TSN), or None
        when the node sends none: not a request it answers, malformed, or a
        broadcast that only some nodes answer."""
        if cluster_id >= 0x8000:
            return None
        try:
            command = zdo_t.ZDOCmd(cluster_id)
        except ValueError:
            return None
        if command == zdo_t.ZDOCmd.Device_annce:
            return None
        if self.serves is not None and command not in self.serves:
            return None
        try:
            tsn, args = parse_zdo(command, data)
        except (ValueError, KeyError):
            LOGGER.debug("Malformed ZDO %s: %s", command.name, bytes(data).hex())
            return None
        rsp = self._answer(command, args, broadcast)
        if rsp is None:
            return None
        rsp_cmd, fields = rsp
        return ZdoReply(rsp_cmd, tsn, fields)

    def handle(self, packet: t.ZigbeePacket) -> list[t.ZigbeePacket]:
        """Replies (addressed back to the sender) to one incoming ZDO request."""
        if packet.dst_ep != ZDO_ENDPOINT:
            return []
        broadcast = packet.dst is not None and packet.dst.addr_mode == t.AddrMode.Broadcast
        reply = self.reply_to(packet.cluster_id, packet.data.serialize(), broadcast=broadcast)
        if reply is None:
            return []
        return [
            t.ZigbeePacket(
                src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=self.nwk()),
                src_ep=ZDO_ENDPOINT,
                dst=packet.src,
                dst_ep=ZDO_ENDPOINT,
                tsn=reply.tsn,
                profile_id=ZDO_PROFILE,
                cluster_id=reply.command,
                data=t.SerializableBytes(reply.frame()),
                tx_options=t.TransmitOptions.NONE,
                radius=0,
            )
        ]

    # One method per request; each returns (response command, fields) or None.

    def _answer(
        self, cmd: zdo_t.ZDOCmd, args: list, broadcast: bool
    ) -> tuple[zdo_t.ZDOCmd, tuple] | None:
        Z = zdo_t.ZDOCmd
        S = zdo_t.Status
        me = self.nwk()
        if cmd == Z.NWK_addr_req:
            ieee, request_type, _start = args
            if ieee != self.ieee():
                return None if broadcast else (Z.NWK_addr_rsp, (S.DEVICE_NOT_FOUND, ieee, t.NWK(0xFFFF)))
            return self._addr_rsp(Z.NWK_addr_rsp, request_type)
        if cmd == Z.IEEE_addr_req:
            nwk, request_type, _start = args
            if nwk != me and nwk not in _BROADCASTS:
                return None if broadcast else (Z.IEEE_addr_rsp, (S.DEVICE_NOT_FOUND, t.EUI64.UNKNOWN, nwk))
            return self._addr_rsp(Z.IEEE_addr_rsp, request_type)
        if cmd == Z.Match_Desc_req:
            nwk, profile, in_clusters, out_clusters = args
            if nwk != me and nwk not in _BROADCASTS:
                return None if broadcast else (Z.Match_Desc_rsp, (S.DEVICE_NOT_FOUND, nwk, []))
            found = [
                t.uint8_t(ep)
                for ep, sd in sorted(self.endpoints.items())
                if matches(sd, profile, list(in_clusters), list(out_clusters))
            ]
            if broadcast and not found:
                return None
            return Z.Match_Desc_rsp, (S.SUCCESS, me, found)
        if broadcast and cmd != Z.Mgmt_Permit_Joining_req and cmd != Z.Mgmt_NWK_Update_req:
            return None  # the remaining requests are unicast only
        if cmd in (Z.Node_Desc_req, Z.Active_EP_req, Z.Simple_Desc_req, Z.Power_Desc_req):
            return self._descriptor_rsp(cmd, args)
        if cmd in (Z.Bind_req, Z.Unbind_req):
            return self._bind_rsp(cmd, args)
        if cmd == Z.Mgmt_Bind_req:
            (start,) = args
            table = self.bindings[start:]
            return Z.Mgmt_Bind_rsp, (S.SUCCESS, len(self.bindings), start, table)
        if cmd == Z.Mgmt_Permit_Joining_req:
            duration, _tc = args
            if self.on_permit_joining is None:
                return None if broadcast else (Z.Mgmt_Permit_Joining_rsp, (S.NOT_SUPPORTED,))
            self.on_permit_joining(int(duration))
            return None if broadcast else (Z.Mgmt_Permit_Joining_rsp, (S.SUCCESS,))
        if cmd == Z.Mgmt_Leave_req:
            ieee, options = args
            if self.on_leave is None or ieee not in (self.ieee(), t.EUI64.UNKNOWN):
                return Z.Mgmt_Leave_rsp, (S.NOT_SUPPORTED,)
            self.on_leave(bool(options & 0x80))
            return Z.Mgmt_Leave_rsp, (S.SUCCESS,)
        if cmd == Z.Mgmt_NWK_Update_req:
            return self._nwk_update(args[0], broadcast)
        if self.route_tables and cmd == Z.Mgmt_Lqi_req:
            (start,) = args
            return Z.Mgmt_Lqi_rsp, (S.SUCCESS, zdo_t.Neighbors(Entries=0, StartIndex=start, NeighborTableList=[]))
        if self.route_tables and cmd == Z.Mgmt_Rtg_req:
            (start,) = args
            return Z.Mgmt_Rtg_rsp, (S.SUCCESS, zdo_t.Routes(Entries=0, StartIndex=start, RoutingTableList=[]))
        rsp_id = cmd | 0x8000
        if rsp_id in zdo_t.ZDOCmd._value2member_map_:
            return Z(rsp_id), (S.NOT_SUPPORTED,)
        return None

    def _addr_rsp(
        self, rsp: zdo_t.ZDOCmd, request_type: int
    ) -> tuple[zdo_t.ZDOCmd, tuple]:
        S = zdo_t.Status
        if request_type == zdo_t.AddrRequestType.Single:
            return rsp, (S.SUCCESS, self.ieee(), self.nwk())
        if request_type == zdo_t.AddrRequestType.Extended:
            # No associated-device list is kept: report zero of them.
            return rsp, (S.SUCCESS, self.ieee(), self.nwk(), 0, 0)
        return rsp, (S.INV_REQUESTTYPE, self.ieee(), self.nwk())

    def _descriptor_rsp(
        self, cmd: zdo_t.ZDOCmd, args: list
    ) -> tuple[zdo_t.ZDOCmd, tuple]:
        Z = zdo_t.ZDOCmd
        S = zdo_t.Status
        nwk = args[0]
        rsp = Z(cmd | 0x8000)
        if nwk != self.nwk():
            if cmd == Z.Active_EP_req:
                return rsp, (S.DEVICE_NOT_FOUND, nwk, [])
            return rsp, (S.DEVICE_NOT_FOUND, nwk)
        if cmd == Z.Node_Desc_req:
            return rsp, (S.SUCCESS, nwk, self.descriptor)
        if cmd == Z.Active_EP_req:
            return rsp, (S.SUCCESS, nwk, [t.uint8_t(ep) for ep in sorted(self.endpoints)])
        if cmd == Z.Power_Desc_req:
            return rsp, (S.NOT_SUPPORTED, nwk)
        ep = args[1]
        if ep == 0 or ep == 0xFF:
            return rsp, (S.INVALID_EP, nwk)
        sd = self.endpoints.get(ep)
        if sd is None:
            return rsp, (S.NOT_ACTIVE, nwk)
        return rsp, (S.SUCCESS, nwk, zdo_t.SizePrefixedSimpleDescriptor(**sd.as_dict()))

    def _bind_rsp(self, cmd: zdo_t.ZDOCmd, args: list) -> tuple[zdo_t.ZDOCmd, tuple]:
        Z = zdo_t.ZDOCmd
        S = zdo_t.Status
        src_ieee, src_ep, cluster, dst = args
        rsp = Z(cmd | 0x8000)
        if src_ieee != self.ieee():
            return rsp, (S.NOT_SUPPORTED,)
        if src_ep not in self.endpoints:
            return rsp, (S.INVALID_EP,)
        entry = zdo_t.Binding(
            SrcAddress=src_ieee, SrcEndpoint=src_ep, ClusterId=cluster, DstAddress=dst
        )
        if self.on_bind is not None:
            return rsp, (self.on_bind(cmd, entry),)
        present = [b for b in self.bindings if b.serialize() == entry.serialize()]
        if cmd == Z.Bind_req:
            if not present:
                self.bindings.append(entry)
            return rsp, (S.SUCCESS,)
        if not present:
            return rsp, (S.NO_ENTRY,)
        self.bindings.remove(present[0])
        return rsp, (S.SUCCESS,)

    def _nwk_update(
        self, update: zdo_t.NwkUpdate, broadcast: bool
    ) -> tuple[zdo_t.ZDOCmd, tuple] | None:
        Z = zdo_t.ZDOCmd
        S = zdo_t.Status
        if update.ScanDuration <= 0x05:
            if broadcast:
                return None  # an energy scan is only answered when unicast
            if self.on_energy_scan is None:
                return Z.Mgmt_NWK_Update_rsp, (S.NOT_SUPPORTED, t.Channels.NO_CHANNELS, 0, 0, [])
            energy = self.on_energy_scan(update.ScanChannels)
            channels = t.Channels.from_channel_list(sorted(energy))
            values = [t.uint8_t(energy[ch]) for ch in sorted(energy)]
            return Z.Mgmt_NWK_Update_rsp, (S.SUCCESS, channels, 0, 0, values)
        if update.ScanDuration == zdo_t.NwkUpdate.CHANNEL_CHANGE_REQ:
            chans = list(update.ScanChannels)
            if self.on_channel_change is not None and len(chans) == 1:
                self.on_channel_change(chans[0], update.nwkUpdateId)
        return None  # channel change and manager updates have no response
