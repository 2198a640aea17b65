"""A small Smart Energy HAN conversation, NWK- and APS-encrypted, built with the
frame encoder; ZCL payloads are written out by hand from the SE tables."""

from __future__ import annotations

import io
import struct

from han_emu.frames.builders import mac_ack, mac_data, nwk_frame, aps_data, zcl_header
from han_emu.frames.pcap import PcapWriter
from han_emu.frames.stack import encode
from han_emu.frames.zep import zep_v2_data

NWK_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
LINK_KEY = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
PAN = 0x1A62
ESI, ESI_IEEE = 0x0000, 0x0011223344556677
IHD, IHD_IEEE = 0x4D2C, 0x8877665544332211
T0 = 1_704_067_200.0  # 2024-01-01 00:00:00 UTC

# --- ZCL frames, by hand -----------------------------------------------------------

# IHD -> primary ESI: Read Attributes 0x0000 0x0001 0x0301 0x0302 0x0307 0x0400 (Metering)
READ_ATTRIBUTES = bytes.fromhex("00" "05" "00" "0000" "0100" "0103" "0203" "0703" "0004")
# primary ESI -> IHD: Read Attributes Response
READ_ATTRIBUTES_RSP = bytes.fromhex(
    "18" "05" "01"
    "0000" "00" "25" "87d612000000"          # CurrentSummationDelivered uint48 = 1234567
    "0100" "00" "25" "2a0000000000"          # CurrentSummationReceived uint48 = 42
    "0103" "00" "22" "010000"                # Multiplier uint24 = 1
    "0203" "00" "22" "e80300"                # Divisor uint24 = 1000
    "0703" "00" "41" "0d" + "1234567890123".encode().hex() +  # SiteID octstr (MPAN)
    "0004" "86"                              # 0x0400: UNSUPPORTED_ATTRIBUTE
)
# IHD -> secondary ESI: GetProfile, channel 1 (consumption received), end now, 3 periods
GET_PROFILE = bytes.fromhex("01" "06" "00" "01" "00000000" "03")
# secondary ESI -> IHD: GetProfileResponse, end 2024-01-01 00:00 (0x2d24bd00), success, 30 min, 3 intervals
GET_PROFILE_RSP = bytes.fromhex("09" "06" "00" "00bd242d" "00" "02" "03" "640000" "c80000" "2c0100")
# secondary ESI -> IHD: PublishPrice (Price 0x0700)
PUBLISH_PRICE = bytes.fromhex(
    "09" "07" "00"
    "01000000"            # provider id 1
    "06" + b"EXPORT".hex() +  # rate label
    "02000000"            # issuer event id 2
    "00bd242d"            # current time
    "00"                  # unit of measure: kWh
    "3a03"                # currency 826 (GBP)
    "52"                  # trailing digit 5 | price tier 2
    "42"                  # 4 price tiers | register tier 2
    "00000000"            # start now
    "ffff"                # until changed
    "983a0000"            # price 15000
)
# secondary ESI -> IHD: Report Attributes CurrentSummationReceived = 98765, Multiplier 1, Divisor 1000
REPORT_ATTRIBUTES = bytes.fromhex("18" "08" "0a" "0100" "25" "cd8101000000" "0103" "22" "010000" "0203" "22" "e80300")

# (zcl bytes, src, dst, src_ep, dst_ep, cluster)
CONVERSATION = [
    (READ_ATTRIBUTES, IHD, ESI, 1, 1, 0x0702),
    (READ_ATTRIBUTES_RSP, ESI, IHD, 1, 1, 0x0702),
    (GET_PROFILE, IHD, ESI, 1, 2, 0x0702),
    (GET_PROFILE_RSP, ESI, IHD, 2, 1, 0x0702),
    (PUBLISH_PRICE, ESI, IHD, 2, 1, 0x0700),
    (REPORT_ATTRIBUTES, ESI, IHD, 2, 1, 0x0702),
]

_IEEE = {ESI: ESI_IEEE, IHD: IHD_IEEE}


def se_frame(i: int, zcl: bytes, src: int, dst: int, src_ep: int, dst_ep: int, cluster: int,
             *, network_key: bytes = NWK_KEY, link_key: bytes = LINK_KEY) -> bytes:
    """One unicast, NWK-secured (extended nonce) and APS-secured (link key, no
    extended nonce: the decoder must know the sender's IEEE) Smart Energy frame."""
    ieee = _IEEE[src]
    header = zcl[:3]
    return encode(
        mac_data(seq=i & 0xFF, pan=PAN, dst=dst, src=src),
        nwk_frame(dst=dst, src=src, seq=i & 0xFF, frame_counter=1000 + i, source_ieee=ieee),
        aps_data(cluster=cluster, dst_endpoint=dst_ep, src_endpoint=src_ep, counter=i & 0xFF,
                 frame_counter=2000 + i, source_ieee=None),
        _zcl_fields(header),
        zcl[3:],
        network_key=network_key, link_key=link_key, aps_source=ieee,
    )


def _zcl_fields(header: bytes) -> dict:
    fc, tsn, cmd = header
    return zcl_header(tsn=tsn, command_id=cmd, cluster_specific=bool(fc & 1), server_to_client=bool(fc & 8),
                      disable_default_response=bool(fc & 0x10))


def conversation_psdus(with_acks: bool = True) -> list[tuple[float, bytes]]:
    """(time, PSDU) of the conversation, each data frame followed by its MAC ACK."""
    out = []
    for i, (zcl, src, dst, sep, dep, cl) in enumerate(CONVERSATION):
        t = T0 + i
        out.append((t, se_frame(i, zcl, src, dst, sep, dep, cl)))
        if with_acks:
            out.append((t + 0.002, encode(mac_ack(seq=i & 0xFF))))
    return out


def pcap_bytes(psdus: list[tuple[float, bytes]], linktype: int = 195) -> bytes:
    buf = io.BytesIO()
    w = PcapWriter(buf, linktype)
    for t, p in psdus:
        w.write(p, t, channel=11 if linktype == 283 else None)
    return buf.getvalue()


# --- ZEP inside Ethernet/IPv4/UDP, headers by hand ---------------------------------


def ipv4_udp(payload: bytes, sport: int = 17754, dport: int = 17754) -> bytes:
    """Ethernet II + IPv4 (no options, checksum left 0) + UDP carrying ``payload``."""
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])) + udp
    eth = bytes.fromhex("ffffffffffff" "020000000001" "0800")
    return eth + ip


def ethernet_pcap(packets: list[tuple[float, bytes]]) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for t, pkt in packets:
        sec = int(t)
        out += struct.pack("<IIII", sec, round((t - sec) * 1e6), len(pkt), len(pkt)) + pkt
    return out


def zep_capture(psdus: list[tuple[float, bytes]], channel: int = 15) -> bytes:
    packets = []
    for n, (t, p) in enumerate(psdus):
        packets.append((t, ipv4_udp(zep_v2_data(p, channel=channel, timestamp=t, sequence=n))))
        # unrelated traffic in the same capture: a DNS query to port 53
        packets.append((t, ipv4_udp(b"\x12\x34\x01\x00", sport=40000, dport=53)))
    return ethernet_pcap(packets)
