"""Helpers for the ZCL server tests: a small model, an ESI endpoint, packets.

The server is tested with zigpy's own cluster classes so the machinery is shown
to work for any zigpy-idiom cluster, not only the project's SE definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import zigpy.types as t
from zigpy.zcl.clusters.general import Basic, Time
from zigpy.zcl.clusters.smartenergy import Metering

from han_emu.server.attributes import AttributeTable
from han_emu.server.command import ZclReply, ZclRequest
from han_emu.server.endpoint import Endpoint

IHD = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x1234)
ESI = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000)
IHD_EP = 0x02
ESI_EP = 0x01
START = 1_700_000_000.0


@dataclass
class Model:
    """Stand-in for the meter model: plain values the getters read."""

    summation: int | None = 0x010203040506
    received: int = 0
    demand: int = -1500
    site_id: bytes | None = None
    unit: int = 0x00
    time_zone: int = 0
    location: str = "kitchen"
    writes: list[tuple[str, Any]] = field(default_factory=list)

    def set_time_zone(self, value: int) -> None:
        if not -86400 <= value <= 86400:
            raise ValueError("time zone out of range")
        self.time_zone = value
        self.writes.append(("time_zone", value))


def build_endpoint(model: Model) -> Endpoint:
    ep = Endpoint(ESI_EP)
    metering = AttributeTable.from_cluster(
        Metering,
        {
            "current_summ_delivered": lambda: model.summation,
            "current_summ_received": lambda: model.received,
            "instantaneous_demand": lambda: model.demand,
            "site_id": lambda: model.site_id,
            "unit_of_measure": lambda: model.unit,
        },
        reportable=["current_summ_delivered", "current_summ_received", "instantaneous_demand", "unit_of_measure"],
    )
    ep.add_server_cluster(Metering, metering)
    time_table = AttributeTable.from_cluster(
        Time,
        {"time": lambda: 0x2D000000, "time_zone": lambda: model.time_zone},
        {"time_zone": model.set_time_zone},
    )
    ep.add_server_cluster(Time, time_table)
    basic = AttributeTable.from_cluster(
        Basic,
        {"zcl_version": lambda: 3, "location_desc": lambda: model.location},
        {"location_desc": lambda v: setattr(model, "location", str(v))},
        cluster_revision=2,
    )
    ep.add_server_cluster(Basic, basic)
    ep.add_client_cluster(Time)

    def get_profile(request: ZclRequest) -> list[ZclReply]:
        # Answer with a fixed, hand-written GetProfileResponse body.
        return [ZclReply(0x00, bytes.fromhex("00000000" "05" "02" "00"))]

    ep.on_command(Metering.cluster_id, 0x00, get_profile, generates=[0x00])
    ep.declare_generated(Metering.cluster_id, [0x01])
    return ep


def request(
    hex_frame: str,
    cluster: int = 0x0702,
    *,
    encrypted: bool = True,
    dst_ep: int = ESI_EP,
    profile: int = 0x0109,
    src: t.AddrModeAddress = IHD,
    src_ep: int = IHD_EP,
    dst: t.AddrModeAddress = ESI,
) -> t.ZigbeePacket:
    """An incoming packet as a radio backend would hand it to the server."""
    return t.ZigbeePacket(
        src=src,
        src_ep=src_ep,
        dst=dst,
        dst_ep=dst_ep,
        tsn=0,
        profile_id=profile,
        cluster_id=cluster,
        data=t.SerializableBytes(bytes.fromhex(hex_frame.replace(" ", ""))),
        tx_options=t.TransmitOptions.APS_Encryption if encrypted else t.TransmitOptions.NONE,
    )


def frame(packet: t.ZigbeePacket) -> str:
    """The ZCL bytes of an outgoing packet, as spaced-free lowercase hex."""
    return packet.data.serialize().hex()


def h(spaced_hex: str) -> str:
    """Hand-written hex with spaces for readability -> the compact form."""
    return spaced_hex.replace(" ", "").lower()
