"""Test-only helpers for the radio tests: a tiny PacketServer and a hosted virtual app."""

from __future__ import annotations

from collections.abc import Sequence

import zigpy.types as t
from zigpy.zdo.types import SimpleDescriptor

from han_emu.meter.clock import Clock
from han_emu.radio.host import ServerHost
from han_emu.radio.virtual import VirtualControllerApplication

ESI_EP = 1
SE_PROFILE = 0x0109
METERING = 0x0702
CURRENT_SUMMATION_RECEIVED = 0x0001
# 0x0000_0001_E240 = 123,456 Wh, as a uint48 (type 0x25).
SUMMATION_VALUE = 123_456


def read_rsp_frame(tsn: int) -> bytes:
    """Read Attributes Response for 0x0001, written out by hand from ZCL 2.5.2:
    frame control 0x18 (general, server->client, disable default response),
    TSN, command 0x01, then attribute id 0x0001 LE, status 0x00, type 0x25,
    six little-endian value bytes."""
    return bytes([0x18, tsn, 0x01, 0x01, 0x00, 0x00, 0x25, 0x40, 0xE2, 0x01, 0x00, 0x00, 0x00])


class FixedMeterServer:
    """Answers Read Attributes of 0x0702/0x0001 on endpoint 1; anything else it
    wants is counted and ignored.  Optionally publishes one frame per period."""

    def __init__(self, clock: Clock | None = None, period: float | None = None) -> None:
        self.clock = clock
        self.period = period
        self.handled: list[t.ZigbeePacket] = []
        self.subscriber: tuple[t.NWK, int] | None = None
        self._next: float | None = None
        self.explode = False

    def descriptors(self) -> Sequence[SimpleDescriptor]:
        return [
            SimpleDescriptor(
                endpoint=ESI_EP,
                profile=SE_PROFILE,
                device_type=0x0500,
                device_version=0,
                input_clusters=[0x0000, 0x000A, 0x0700, METERING, 0x0800],
                output_clusters=[0x0800],
            )
        ]

    def wants(self, packet: t.ZigbeePacket) -> bool:
        return packet.profile_id == SE_PROFILE and packet.dst_ep == ESI_EP

    def handle(self, packet: t.ZigbeePacket) -> list[t.ZigbeePacket]:
        self.handled.append(packet)
        if self.explode:
            raise RuntimeError("server bug")
        data = packet.data.serialize()
        # general, client->server, Read Attributes of 0x0001 on Metering
        if packet.cluster_id == METERING and data[0] & 0x0B == 0x00 and data[2] == 0x00:
            if self.period is not None and self.subscriber is None:
                self.subscriber = (packet.src.address, packet.src_ep)
                self._next = self.clock.now() + self.period
            return [self._to(packet.src.address, packet.src_ep, packet.cluster_id, read_rsp_frame(data[1]), packet.tsn)]
        return []

    def _to(self, nwk: int, ep: int, cluster: int, frame: bytes, tsn: int) -> t.ZigbeePacket:
        return t.ZigbeePacket(
            src_ep=ESI_EP,
            dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=nwk),
            dst_ep=ep,
            tsn=tsn,
            profile_id=SE_PROFILE,
            cluster_id=cluster,
            data=t.SerializableBytes(frame),
            tx_options=t.TransmitOptions.ACK | t.TransmitOptions.APS_Encryption,
        )

    def due(self) -> list[t.ZigbeePacket]:
        if self._next is None or self.subscriber is None or self.clock.now() < self._next:
            return []
        self._next += self.period
        nwk, ep = self.subscriber
        # Report Attributes (0x0A), server->client, default response wanted:
        # 0x08 frame control, TSN 0x77, 0x0A, attr 0x0001, type 0x25, value.
        frame = bytes([0x08, 0x77, 0x0A, 0x01, 0x00, 0x25, 0x40, 0xE2, 0x01, 0x00, 0x00, 0x00])
        return [self._to(nwk, ep, METERING, frame, 0x77)]

    def next_due(self) -> float | None:
        return self._next


class HostedVirtualApp(ServerHost, VirtualControllerApplication):
    """The virtual coordinator carrying a packet server."""


async def start_hosted(air, server=None, **config) -> HostedVirtualApp:
    """A hosted virtual coordinator, network formed, joins permitted."""
    app = HostedVirtualApp({"nwk": {"channel": 15}, **config}, air=air)
    if server is not None:
        app.attach_server(server)
    await app.startup(auto_form=True)
    await app.permit_ncp(254)
    return app
