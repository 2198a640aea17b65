"""The ZDO answerer against frames written by hand from the Zigbee spec (2.4.3, 2.4.4).

Requests are parsed from hand-written bytes and the responses compared with
hand-written bytes, so both directions of the codec use are checked.
"""

from __future__ import annotations

import zigpy.types as t
import zigpy.zdo.types as zdo_t
from zigpy.zdo.types import SimpleDescriptor

from han_emu.radio.fakencp.ezsp import local_zdo as ezsp_local_zdo
from han_emu.radio.fakencp.znp import local_zdo as znp_local_zdo
from han_emu.radio.zdo_answers import DISCOVERY_REQUESTS, ZdoAnswerer, node_descriptor, parse_zdo, zdo_frame

ME = t.NWK(0x1234)
MY_IEEE = t.EUI64.convert("00:0d:6f:00:0a:bc:de:f0")
PEER = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000)

ESI = SimpleDescriptor(
    endpoint=1,
    profile=0x0109,
    device_type=0x0500,
    device_version=0,
    input_clusters=[0x0702],
    output_clusters=[],
)


def responder(**hooks: object) -> ZdoAnswerer:
    return ZdoAnswerer(
        ieee=lambda: MY_IEEE,
        nwk=lambda: ME,
        descriptor=node_descriptor(zdo_t.LogicalType.Coordinator),
        endpoints={1: ESI},
        **hooks,  # type: ignore[arg-type]
    )


def request(cluster: int, data: bytes, *, broadcast: int | None = None) -> t.ZigbeePacket:
    dst = (
        t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast, address=broadcast)
        if broadcast is not None
        else t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=ME)
    )
    return t.ZigbeePacket(
        src=PEER,
        src_ep=0,
        dst=dst,
        dst_ep=0,
        profile_id=0,
        cluster_id=cluster,
        data=t.SerializableBytes(data),
    )


def only_reply(r: ZdoAnswerer, packet: t.ZigbeePacket) -> t.ZigbeePacket:
    replies = r.handle(packet)
    assert len(replies) == 1
    reply = replies[0]
    assert reply.dst == PEER and reply.dst_ep == 0 and reply.src_ep == 0
    assert reply.profile_id == 0
    return reply


def test_active_ep() -> None:
    # TSN 0x05, NWKAddrOfInterest 0x1234 (LE)
    reply = only_reply(responder(), request(0x0005, bytes.fromhex("05 34 12")))
    assert reply.cluster_id == 0x8005
    # TSN, SUCCESS, NWK 0x1234, count 1, endpoint 1
    assert reply.data.serialize() == bytes.fromhex("05 00 34 12 01 01")


def test_match_desc_unicast_for_se_metering() -> None:
    # TSN 0x2A, NWK 0x1234, profile 0x0109, 1 input cluster 0x0702, 0 output clusters
    data = bytes.fromhex("2A 34 12 09 01 01 02 07 00")
    reply = only_reply(responder(), request(0x0006, data))
    assert reply.cluster_id == 0x8006
    assert reply.data.serialize() == bytes.fromhex("2A 00 34 12 01 01")


def test_match_desc_unicast_without_match_answers_empty_list() -> None:
    # profile 0x0104 (HA) does not match the SE endpoint
    data = bytes.fromhex("2B 34 12 04 01 01 02 07 00")
    reply = only_reply(responder(), request(0x0006, data))
    assert reply.data.serialize() == bytes.fromhex("2B 00 34 12 00")


def test_match_desc_broadcast_answers_only_on_a_match() -> None:
    hit = bytes.fromhex("2C FD FF 09 01 01 02 07 00")
    miss = bytes.fromhex("2D FD FF 09 01 01 00 07 00")  # Price 0x0700: not served
    r = responder()
    assert r.handle(request(0x0006, miss, broadcast=0xFFFD)) == []
    reply = only_reply(r, request(0x0006, hit, broadcast=0xFFFD))
    assert reply.data.serialize() == bytes.fromhex("2C 00 34 12 01 01")


def test_simple_desc() -> None:
    reply = only_reply(responder(), request(0x0004, bytes.fromhex("07 34 12 01")))
    assert reply.cluster_id == 0x8004
    # TSN, SUCCESS, NWK, length 10, ep 1, profile 0x0109, device 0x0500, version 0,
    # 1 input cluster 0x0702, 0 output clusters
    assert reply.data.serialize() == bytes.fromhex("07 00 34 12 0A 01 09 01 00 05 00 01 02 07 00")


def test_simple_desc_of_missing_endpoint_is_not_active() -> None:
    reply = only_reply(responder(), request(0x0004, bytes.fromhex("08 34 12 07")))
    assert reply.data.serialize() == bytes.fromhex("08 83 34 12")


def test_node_desc_of_a_coordinator() -> None:
    reply = only_reply(responder(), request(0x0002, bytes.fromhex("09 34 12")))
    assert reply.cluster_id == 0x8002
    # byte 1: logical type 0 (coordinator); byte 2: band bit 3 (2.4 GHz) -> 0x40;
    # MAC capability 0x8F (alt PAN coord, FFD, mains, rx on, allocate address);
    # manufacturer 0x0000; max buffer 82; max incoming 82; server mask 0x2C01
    # (primary trust centre, stack compliance revision 22); max outgoing 82; 0x00.
    assert reply.data.serialize() == bytes.fromhex(
        "09 00 34 12 00 40 8F 00 00 52 52 00 01 2C 52 00 00"
    )


def test_ieee_addr_single() -> None:
    reply = only_reply(responder(), request(0x0001, bytes.fromhex("0A 34 12 00 00")))
    assert reply.cluster_id == 0x8001
    assert reply.data.serialize() == bytes.fromhex("0A 00 F0 DE BC 0A 00 6F 0D 00 34 12")


def test_nwk_addr_broadcast_for_someone_else_is_ignored() -> None:
    other = bytes.fromhex("0B 01 02 03 04 05 06 07 08 00 00")
    assert responder().handle(request(0x0000, other, broadcast=0xFFFD)) == []


def test_bind_then_unbind_then_unbind_again() -> None:
    # SrcAddress (our IEEE, LE), SrcEndpoint 1, ClusterID 0x0702,
    # DstAddress mode 3 + IEEE 11:22:..:88 + endpoint 2
    body = bytes.fromhex("F0 DE BC 0A 00 6F 0D 00 01 02 07 03 88 77 66 55 44 33 22 11 02")
    r = responder()
    assert only_reply(r, request(0x0021, b"\x10" + body)).data.serialize() == b"\x10\x00"
    assert len(r.bindings) == 1
    assert only_reply(r, request(0x0022, b"\x11" + body)).data.serialize() == b"\x11\x00"
    # NO_ENTRY (0x88)
    assert only_reply(r, request(0x0022, b"\x12" + body)).data.serialize() == b"\x12\x88"


def test_permit_joining_calls_the_hook_and_answers_unicast_only() -> None:
    calls: list[int] = []
    r = responder(on_permit_joining=calls.append)
    # TSN 0x20, PermitDuration 60, TC_Significance 1
    assert only_reply(r, request(0x0036, bytes.fromhex("20 3C 01"))).data.serialize() == b"\x20\x00"
    assert r.handle(request(0x0036, bytes.fromhex("21 00 01"), broadcast=0xFFFC)) == []
    assert calls == [60, 0]


def test_energy_scan_answered_from_the_hook() -> None:
    r = responder(on_energy_scan=lambda channels: {ch: 0x10 + ch for ch in channels})
    # TSN, ScanChannels = 11 and 15 (bits 11, 15 -> 0x00008800), ScanDuration 2, ScanCount 1
    reply = only_reply(r, request(0x0038, bytes.fromhex("30 00 88 00 00 02 01")))
    assert reply.cluster_id == 0x8038
    # SUCCESS, scanned 0x00008800, total tx 0, failures 0, 2 energy values
    assert reply.data.serialize() == bytes.fromhex("30 00 00 88 00 00 00 00 00 00 02 1B 1F")


def test_unknown_request_is_not_supported() -> None:
    # Mgmt_Lqi_req StartIndex 0 -> Mgmt_Lqi_rsp NOT_SUPPORTED (0x84)
    reply = only_reply(responder(), request(0x0031, bytes.fromhex("40 00")))
    assert reply.cluster_id == 0x8031
    assert reply.data.serialize() == b"\x40\x84"


def test_builder_and_parser_agree_with_the_spec_layout() -> None:
    assert zdo_frame(zdo_t.ZDOCmd.Device_annce, 0x99, t.NWK(0xBEEF), MY_IEEE, 0x8E) == (
        bytes.fromhex("99 EF BE F0 DE BC 0A 00 6F 0D 00 8E")
    )
    tsn, fields = parse_zdo(0x0013, bytes.fromhex("99 EF BE F0 DE BC 0A 00 6F 0D 00 8E"))
    assert tsn == 0x99
    assert fields == [0xBEEF, MY_IEEE, 0x8E]


def test_a_stick_answers_only_the_requests_it_serves() -> None:
    # EmberZNet answers device and service discovery itself and leaves the rest to its host.
    r = ZdoAnswerer(
        ieee=lambda: MY_IEEE,
        nwk=lambda: ME,
        descriptor=node_descriptor(zdo_t.LogicalType.Coordinator),
        endpoints={1: ESI},
        serves=DISCOVERY_REQUESTS,
    )
    assert r.handle(request(0x0006, bytes.fromhex("2A 34 12 09 01 01 02 07 00"))) == []  # Match_Desc
    assert only_reply(r, request(0x0005, bytes.fromhex("05 34 12"))).data.serialize() == bytes.fromhex(
        "05 00 34 12 01 01"
    )


def test_route_tables_are_empty_when_kept() -> None:
    # Mgmt_Lqi_req StartIndex 0 -> SUCCESS, NeighborTableEntries 0, StartIndex 0, list count 0
    r = ZdoAnswerer(
        ieee=lambda: MY_IEEE,
        nwk=lambda: ME,
        descriptor=node_descriptor(zdo_t.LogicalType.Coordinator),
        endpoints={1: ESI},
        route_tables=True,
    )
    assert only_reply(r, request(0x0031, bytes.fromhex("40 00"))).data.serialize() == bytes.fromhex("40 00 00 00 00")
    # Mgmt_Rtg_req StartIndex 0 -> the same, for the routing table
    assert only_reply(r, request(0x0032, bytes.fromhex("41 00"))).data.serialize() == bytes.fromhex("41 00 00 00 00")


def test_stick_node_descriptors_written_from_the_spec() -> None:
    # EmberZNet: coordinator, 2.4 GHz, MAC 0x8F, Silicon Labs 0x1002, buffer 82,
    # transfers 128, server mask 0x2C41 (primary trust centre, network manager, rev 22).
    assert ezsp_local_zdo.NODE_DESCRIPTOR.serialize() == bytes.fromhex("00 40 8F 02 10 52 80 00 41 2C 80 00 00")
    # Z-Stack: buffer 80, transfers 160, server mask 0x2C01, manufacturer 0x0000.
    assert znp_local_zdo.NODE_DESCRIPTOR.serialize() == bytes.fromhex("00 40 8F 00 00 50 A0 00 01 2C A0 00 00")
