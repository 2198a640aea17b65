"""Test-only: a tiny metering server on the virtual coordinator, and one
recorded virtual-HAN exchange that the recorder tests share."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import zigpy.types as t
import zigpy.zcl.foundation as foundation
from zigpy.zdo.types import SimpleDescriptor

from clusters.ids import ESI_DEVICE_ID, METERING
from clusters.ids import SE_PROFILE_ID as SE_PROFILE
from han_emu.air.recorder import AirRecorder
from han_emu.air.synth import FrameSynthesizer, NetworkContext, OnAirFrame, ieee_int
from han_emu.radio.host import ServerHost
from han_emu.radio.virtual import SimNode, VirtualAir, VirtualControllerApplication, ihd_endpoint
from han_emu.radio.vtime import run_virtual

EPOCH = 1_700_000_000.0
ESI_EP = 1
IHD_EP = 3
IHD_IEEE = "00:0d:6f:00:00:00:00:02"
NETWORK_KEY = bytes.fromhex("0F0E0D0C0B0A09080706050403020100")
CBKE_KEY = bytes.fromhex("A1A2A3A4A5A6A7A8A9AAABACADAEAFB0")
SUMMATION = 123_456
# Read Attributes of CurrentSummationDelivered (0x0000), by hand: frame
# control 0x00, TSN (replaced by the node), command 0x00, attribute id LE.
READ_SUMMATION = bytes([0x00, 0x00, 0x00, 0x00, 0x00])
# 70 attribute ids: a 143-byte ZCL frame, which needs APS fragments.
READ_MANY = bytes([0x00, 0x00, 0x00]) + b"".join(i.to_bytes(2, "little") for i in range(0x0100, 0x0146))


class TinyMeterServer:
    """Answers Read Attributes on Metering, endpoint 1: 0x0000 has a value,
    every other attribute is unsupported."""

    def descriptors(self) -> Sequence[SimpleDescriptor]:
        return [SimpleDescriptor(endpoint=ESI_EP, profile=SE_PROFILE, device_type=ESI_DEVICE_ID, device_version=0,
                                 input_clusters=[METERING], output_clusters=[])]

    def wants(self, packet: t.ZigbeePacket) -> bool:
        return packet.profile_id == SE_PROFILE and packet.dst_ep == ESI_EP

    def handle(self, packet: t.ZigbeePacket) -> list[t.ZigbeePacket]:
        header, body = foundation.ZCLHeader.deserialize(packet.data.serialize())
        if packet.cluster_id != METERING or header.command_id != foundation.GeneralCommand.Read_Attributes:
            return []
        ids, _ = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes].schema.deserialize(body)
        records = [
            foundation.ReadAttributeRecord(a, foundation.Status.SUCCESS, foundation.TypeValue(0x25, t.uint48_t(SUMMATION)))
            if a == 0 else foundation.ReadAttributeRecord(a, foundation.Status.UNSUPPORTED_ATTRIBUTE)
            for a in ids.attribute_ids
        ]
        rsp = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes_rsp].schema(status_records=records)
        hdr = foundation.ZCLHeader.general(header.tsn, foundation.GeneralCommand.Read_Attributes_rsp,
                                           direction=foundation.Direction.Server_to_Client)
        hdr.frame_control = hdr.frame_control.replace(disable_default_response=1)
        return [t.ZigbeePacket(
            src_ep=ESI_EP, dst=packet.src, dst_ep=packet.src_ep, tsn=header.tsn, profile_id=SE_PROFILE,
            cluster_id=METERING, data=t.SerializableBytes(hdr.serialize() + rsp.serialize()),
            tx_options=t.TransmitOptions.ACK | t.TransmitOptions.APS_Encryption,
        )]

    def due(self) -> list[t.ZigbeePacket]:
        return []

    def next_due(self) -> float | None:
        return None


class HostedApp(ServerHost, VirtualControllerApplication):
    pass


@dataclass
class Exchange:
    """What one recorded run left behind."""

    network: NetworkContext
    frames: list[tuple[float, OnAirFrame]]
    esi_ieee: int
    ihd_ieee: int
    keys: list[tuple[str, bytes, str]] = field(default_factory=list)


def run_exchange() -> Exchange:
    """Coordinator-hosted ESI and a simulated IHD: join, find the ESI, switch
    to a CBKE-style pair key, read one attribute, then a fragmented read."""

    async def main() -> Exchange:
        air = VirtualAir()
        app = HostedApp({"network": {"channel": 15, "key": list(NETWORK_KEY), "pan_id": 0x1A62}}, air=air)
        app.attach_server(TinyMeterServer())
        await app.startup(auto_form=True)
        await app.permit_ncp(254)
        ctx = NetworkContext.from_network_info(app.state.network_info, app.state.node_info)
        recorder = AirRecorder(FrameSynthesizer(ctx))
        recorder.keep = True
        keys: list[tuple[str, bytes, str]] = []
        ctx.subscribe_keys(lambda *row: keys.append(row))
        recorder.attach(air)
        ihd = SimNode(air, IHD_IEEE, [ihd_endpoint(endpoint=IHD_EP)], name="ihd")
        try:
            await ihd.join()
            assert await ihd.find_esi(METERING) == [(0x0000, ESI_EP)]
            esi = ieee_int(app.state.node_info.ieee)
            ctx.set_link_key(esi, ihd.ieee, CBKE_KEY)
            await ihd.request(0x0000, ESI_EP, METERING, READ_SUMMATION)
            await ihd.request(0x0000, ESI_EP, METERING, READ_MANY)
            await asyncio.sleep(1)
        finally:
            await app.shutdown()
        return Exchange(ctx, recorder.frames, esi, ieee_int(ihd.ieee), keys)

    return run_virtual(main(), EPOCH)
