"""Frame synthesis: golden bytes for a Metering Read Attributes exchange,
written out by hand from the layer layouts (802.15.4 MAC, Zigbee NWK and APS,
auxiliary security headers, CCM* nonce and authenticated data), plus the rules
for acknowledgements, fragments, broadcasts, retries, counters and timing."""

from __future__ import annotations

import pytest
import zigpy.types as t
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from han_emu.air.dutycycle import AirtimeLedger
from han_emu.frames import KeyRing, decode
from han_emu.frames.errors import FrameError
from han_emu.air.synth import (
    FrameKind,
    FrameSynthesizer,
    NetworkContext,
    NodeCounters,
    charge,
    ieee_int,
)

NWK_KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
LINK_KEY = bytes.fromhex("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF")
ESI, ESI_NWK = 0x0011223344556677, 0x0000
IHD, IHD_NWK = 0x8899AABBCCDDEEFF, 0x4D2C
ESI_LE = bytes.fromhex("7766554433221100")
IHD_LE = bytes.fromhex("ffeeddccbbaa9988")

# ZCL, by hand (ZCL 2.5.1 / 2.5.2): Read Attributes of CurrentSummationDelivered
# (frame control 0x00, TSN 5, command 0x00, attribute 0x0000), and its response
# (0x18: server->client, no default response; command 0x01; attribute 0x0000,
# status 0, type 0x25 uint48, 123456 = 0x01E240 little-endian in six bytes).
READ_REQ = bytes.fromhex("0005000000")
READ_RSP = bytes.fromhex("1805010000" "0025" "40e201000000")


def crc16_kermit(data: bytes) -> bytes:
    """The 802.15.4 FCS, bit by bit (reflected polynomial 0x8408, initial 0)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def ccm(key: bytes, source_le: bytes, counter: int, control: int, aad: bytes, plain: bytes) -> bytes:
    """CCM* level 5: nonce = source IEEE LE, frame counter LE, control with level 5."""
    nonce = source_le + counter.to_bytes(4, "little") + bytes([control])
    return AESCCM(key, tag_length=4).encrypt(nonce, plain, aad)


def secured(mac: str, nwk: str, nwk_fc: int, sender_le: bytes, aps: str, aps_fc: int, zcl: bytes) -> bytes:
    """A MAC frame carrying an NWK- and APS-secured frame, built from hand-written
    headers: ``nwk`` and ``aps`` are the layer headers before their aux headers."""
    aps_hdr = bytes.fromhex(aps)
    # APS aux: control 0x20 (extended nonce, key id 0 = data key, level 0 on air)
    aps_aux = b"\x20" + aps_fc.to_bytes(4, "little") + sender_le
    aps_aad = aps_hdr + b"\x25" + aps_aux[1:]  # level 5 substituted
    aps_frame = aps_hdr + aps_aux + ccm(LINK_KEY, sender_le, aps_fc, 0x25, aps_aad, zcl)
    nwk_hdr = bytes.fromhex(nwk)
    # NWK aux: control 0x28 (extended nonce, key id 1 = network key), key seq 0
    nwk_aux = b"\x28" + nwk_fc.to_bytes(4, "little") + sender_le + b"\x00"
    nwk_aad = nwk_hdr + b"\x2d" + nwk_aux[1:]
    body = bytes.fromhex(mac) + nwk_hdr + nwk_aux + ccm(NWK_KEY, sender_le, nwk_fc, 0x2D, nwk_aad, aps_frame)
    return body + crc16_kermit(body)


def mac_ack(seq: int) -> bytes:
    body = bytes([0x02, 0x00, seq])  # frame control 0x0002 (ACK), sequence number
    return body + crc16_kermit(body)


# MAC data frame control 0x8861: data, ack request, PAN ID compression,
# short destination and source.  NWK frame control 0x0248: data, version 2,
# discover route 1, security.  Radius 30 (0x1e).
GOLDEN = [
    # 1. IHD -> ESI: MAC seq 0x10, PAN 0x1a62, dst 0x0000, src 0x4d2c; NWK seq 0x20,
    #    frame counter 0x100; APS 0x60 (data, unicast, security, ack request),
    #    dst ep 1, cluster 0x0702, profile 0x0109, src ep 3, counter 0x30.
    (FrameKind.DATA, IHD, secured("6188" "10" "621a" "0000" "2c4d", "4802" "0000" "2c4d" "1e" "20", 0x100, IHD_LE,
                                  "60" "01" "0207" "0901" "03" "30", 0x200, READ_REQ)),
    (FrameKind.MAC_ACK, ESI, mac_ack(0x10)),
    # 2. ESI's APS ACK: APS 0x22 (ack, security), dst ep 3, cluster, profile, src ep 1,
    #    the acknowledged counter 0x30; its APS payload is empty (MIC only).
    (FrameKind.APS_ACK, ESI, secured("6188" "80" "621a" "2c4d" "0000", "4802" "2c4d" "0000" "1e" "90", 0x1000, ESI_LE,
                                     "22" "03" "0207" "0901" "01" "30", 0x2000, b"")),
    (FrameKind.MAC_ACK, IHD, mac_ack(0x80)),
]
GOLDEN_RSP = [
    # 3. ESI -> IHD: the response, ESI counters one further, its own APS counter 0x40.
    (FrameKind.DATA, ESI, secured("6188" "81" "621a" "2c4d" "0000", "4802" "2c4d" "0000" "1e" "91", 0x1001, ESI_LE,
                                  "60" "03" "0207" "0901" "01" "40", 0x2001, READ_RSP)),
    (FrameKind.MAC_ACK, IHD, mac_ack(0x81)),
    (FrameKind.APS_ACK, IHD, secured("6188" "11" "621a" "0000" "2c4d", "4802" "0000" "2c4d" "1e" "21", 0x101, IHD_LE,
                                     "22" "01" "0207" "0901" "03" "40", 0x201, b"")),
    (FrameKind.MAC_ACK, ESI, mac_ack(0x11)),
]


def context() -> NetworkContext:
    ctx = NetworkContext(pan_id=0x1A62, network_key=NWK_KEY, channel=15)
    ctx.learn(ESI, ESI_NWK)
    ctx.learn(IHD, IHD_NWK)
    ctx.set_link_key(ESI, IHD, LINK_KEY)
    ctx.counters[IHD] = NodeCounters(mac_seq=0x10, nwk_seq=0x20, nwk_frame_counter=0x100, aps_frame_counter=0x200, aps_counter=0x30)
    ctx.counters[ESI] = NodeCounters(mac_seq=0x80, nwk_seq=0x90, nwk_frame_counter=0x1000, aps_frame_counter=0x2000, aps_counter=0x40)
    return ctx


def nwk_addr(a: int) -> t.AddrModeAddress:
    return t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=a)


def packet(src: int, src_ep: int, dst: t.AddrModeAddress, dst_ep: int, data: bytes,
           tx: t.TransmitOptions = t.TransmitOptions.ACK | t.TransmitOptions.APS_Encryption) -> t.ZigbeePacket:
    return t.ZigbeePacket(src=nwk_addr(src), src_ep=src_ep, dst=dst, dst_ep=dst_ep, tsn=5, profile_id=0x0109,
                          cluster_id=0x0702, data=t.SerializableBytes(data), tx_options=tx)


def test_read_attributes_exchange_matches_golden_bytes() -> None:
    synth = FrameSynthesizer(context())
    req = synth.synthesize(packet(IHD_NWK, 3, nwk_addr(ESI_NWK), 1, READ_REQ))
    assert [(f.kind, f.tx_ieee, f.psdu) for f in req] == GOLDEN
    rsp = synth.synthesize(packet(ESI_NWK, 1, nwk_addr(IHD_NWK), 3, READ_RSP))
    assert [(f.kind, f.tx_ieee, f.psdu) for f in rsp] == GOLDEN_RSP
    assert [f.tx_nwk for f in req] == [IHD_NWK, ESI_NWK, ESI_NWK, IHD_NWK]


def test_golden_frames_parse_back() -> None:
    """The other direction: the hand-written frames decode to the fields they were written from."""
    ring = KeyRing.of([NWK_KEY], [LINK_KEY])
    data = decode(GOLDEN[0][2], ring)
    assert data.decrypted == ["nwk", "aps"]
    assert (data.mac.seq, data.mac.dst_pan, data.mac.dst_addr, data.mac.src_addr) == (0x10, 0x1A62, 0, IHD_NWK)
    assert (data.nwk.seq, data.nwk.aux.frame_counter, data.nwk.aux.source) == (0x20, 0x100, IHD)
    assert (data.aps.counter, data.aps.cluster, data.aps.src_endpoint, data.aps.dst_endpoint) == (0x30, 0x0702, 3, 1)
    assert data.aps.frame_control.ack_request and data.aps.aux.frame_counter == 0x200
    assert (data.zcl.tsn, data.zcl.command_id, data.payload) == (5, 0x00, b"\x00\x00")
    ack = decode(GOLDEN[2][2], ring)
    assert ack.decrypted == ["nwk", "aps"] and ack.aps.frame_control.frame_type == 2
    assert (ack.aps.counter, ack.aps.dst_endpoint, ack.aps.src_endpoint, ack.payload) == (0x30, 3, 1, b"")
    rsp = decode(GOLDEN_RSP[0][2], ring)
    assert rsp.zcl.frame_control.server_to_client and rsp.payload == READ_RSP[3:]


def test_timing_follows_the_phy() -> None:
    """2.4 GHz: 32 us a byte plus 6 bytes of SHR/PHR; ACK after 12 symbols (192 us);
    the APS ACK after the long inter-frame spacing (40 symbols, 640 us)."""
    frames = FrameSynthesizer(context()).synthesize(packet(IHD_NWK, 3, nwk_addr(ESI_NWK), 1, READ_REQ))
    data, ack, aps_ack, ack2 = frames
    assert data.airtime_us == (6 + len(data.psdu)) * 32 and ack.airtime_us == (6 + 5) * 32
    assert ack.offset == pytest.approx(data.airtime_us * 1e-6 + 192e-6)
    assert aps_ack.offset == pytest.approx(ack.offset + ack.airtime_us * 1e-6 + 640e-6)
    assert ack2.offset == pytest.approx(aps_ack.offset + aps_ack.airtime_us * 1e-6 + 192e-6)


def test_sub_ghz_timing_and_airtime() -> None:
    ctx = context()
    ctx.page, ctx.channel = 28, 3
    frames = FrameSynthesizer(ctx).synthesize(packet(IHD_NWK, 3, nwk_addr(ESI_NWK), 1, READ_REQ))
    # GB-868: 80 us a byte, 12 bytes before the PSDU; 2-FSK symbol 10 us; 5 ms LBT before the APS ACK
    assert frames[0].airtime_us == (12 + len(frames[0].psdu)) * 80
    assert frames[1].offset == pytest.approx(frames[0].airtime_us * 1e-6 + 120e-6)
    assert frames[2].offset == pytest.approx(frames[1].offset + frames[1].airtime_us * 1e-6 + 0.005)


def test_counters_advance_per_frame() -> None:
    ctx = context()
    synth = FrameSynthesizer(ctx)
    for _ in range(3):
        synth.synthesize(packet(IHD_NWK, 3, nwk_addr(ESI_NWK), 1, READ_REQ))
    ihd, esi = ctx.counters[IHD], ctx.counters[ESI]
    # each exchange: the IHD sends one data frame, the ESI one APS ACK
    assert (ihd.mac_seq, ihd.nwk_seq, ihd.nwk_frame_counter, ihd.aps_frame_counter, ihd.aps_counter) == (0x13, 0x23, 0x103, 0x203, 0x33)
    assert (esi.mac_seq, esi.nwk_frame_counter, esi.aps_frame_counter, esi.aps_counter) == (0x83, 0x1003, 0x2003, 0x40)


def test_mac_sequence_wraps() -> None:
    ctx = context()
    ctx.counters[IHD].mac_seq = 0xFF
    frames = FrameSynthesizer(ctx).synthesize(packet(IHD_NWK, 3, nwk_addr(ESI_NWK), 1, READ_REQ, t.TransmitOptions.NONE))
    assert [f.psdu[2] for f in frames] == [0xFF, 0xFF] and ctx.counters[IHD].mac_seq == 0


def test_unacknowledged_and_unencrypted() -> None:
    frames = FrameSynthesizer(context()).synthesize(packet(IHD_NWK, 3, nwk_addr(ESI_NWK), 1, READ_REQ, t.TransmitOptions.NONE))
    assert [f.kind for f in frames] == [FrameKind.DATA, FrameKind.MAC_ACK]
    d = decode(frames[0].psdu, KeyRing.of([NWK_KEY]))
    assert d.aps.aux is None and not d.aps.frame_control.ack_request and d.zcl.tsn == 5
    # MAC 9 + NWK 8 + aux 14 + APS 8 + ZCL 5 + MIC 4 + FCS 2
    assert len(frames[0].psdu) == 9 + 8 + 14 + 8 + 5 + 4 + 2


def test_broadcast_has_no_acks() -> None:
    dst = t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast, address=0xFFFD)
    frames = FrameSynthesizer(context()).synthesize(packet(ESI_NWK, 1, dst, 0xFF, READ_RSP))
    assert [f.kind for f in frames] == [FrameKind.DATA]
    psdu = frames[0].psdu
    # MAC frame control 0x8841 (no ack request), dst 0xffff; NWK frame control 0x0208
    # (discover route 0, security), dst 0xfffd
    assert psdu[:2] == bytes.fromhex("4188") and psdu[5:7] == b"\xff\xff"
    assert psdu[9:13] == bytes.fromhex("0802fdff")
    d = decode(psdu, KeyRing.of([NWK_KEY]))
    # Smart Energy secures broadcasts at the NWK layer only: no APS security
    assert d.aps.frame_control.delivery_mode == 2 and not d.aps.frame_control.ack_request
    assert d.aps.aux is None and d.zcl.tsn == 5


def test_group_delivery() -> None:
    dst = t.AddrModeAddress(addr_mode=t.AddrMode.Group, address=0x1234)
    frames = FrameSynthesizer(context()).synthesize(packet(ESI_NWK, 1, dst, 0, READ_RSP, t.TransmitOptions.NONE))
    d = decode(frames[0].psdu, KeyRing.of([NWK_KEY]))
    assert d.nwk.dst == 0xFFFD and d.aps.frame_control.delivery_mode == 3 and d.aps.group == 0x1234
    assert d.aps.dst_endpoint is None and len(frames) == 1


def test_ieee_destination_resolves_to_nwk() -> None:
    dst = t.AddrModeAddress(addr_mode=t.AddrMode.IEEE, address=t.EUI64(IHD.to_bytes(8, "little")))
    synth = FrameSynthesizer(context())
    synth.synthesize(packet(IHD_NWK, 3, nwk_addr(ESI_NWK), 1, READ_REQ))
    frames = synth.synthesize(packet(ESI_NWK, 1, dst, 3, READ_RSP))
    assert frames[0].psdu == GOLDEN_RSP[0][2]


def test_undelivered_unicast_is_retried_without_acks() -> None:
    frames = FrameSynthesizer(context()).synthesize(packet(IHD_NWK, 3, nwk_addr(ESI_NWK), 1, READ_REQ), delivered=False)
    assert [f.kind for f in frames] == [FrameKind.DATA] * 4
    assert [f.retry for f in frames] == [False, True, True, True]
    assert len({f.psdu for f in frames}) == 1  # the same frame, same sequence number


def test_air_reported_aps_ack() -> None:
    """The virtual air reports an APS ACK as the acknowledged packet turned round."""
    synth = FrameSynthesizer(context())
    ack = packet(ESI_NWK, 1, nwk_addr(IHD_NWK), 3, b"")
    frames = synth.synthesize(ack, aps_ack=True, aps_counter=0x30)
    assert [(f.kind, f.tx_ieee, f.psdu) for f in frames] == GOLDEN[2:]
    with pytest.raises(FrameError, match="counter"):
        synth.synthesize(ack, aps_ack=True)


def test_fragmentation() -> None:
    ctx = context()
    payload = READ_REQ[:3] + bytes(range(200))
    frames = FrameSynthesizer(ctx).synthesize(packet(IHD_NWK, 3, nwk_addr(ESI_NWK), 1, payload))
    kinds = [f.kind for f in frames]
    # window of one block: fragment, MAC ACK, APS ACK, MAC ACK per block
    assert kinds == [FrameKind.FRAGMENT, FrameKind.MAC_ACK, FrameKind.APS_ACK, FrameKind.MAC_ACK] * 4
    ring = KeyRing.of([NWK_KEY], [LINK_KEY])
    blocks, acks = [], []
    for f in frames:
        assert len(f.psdu) <= 127
        if f.kind == FrameKind.FRAGMENT:
            d = decode(f.psdu, ring)
            ext = d.aps.extended
            blocks.append((ext.control.fragmentation, ext.block_number, d.aps.counter))
            # the first block carries the ZCL header; later ones raw bytes
            acks.append(d.zcl.tsn if d.zcl is not None else d.payload)
        elif f.kind == FrameKind.APS_ACK:
            d = decode(f.psdu, ring)
            acks.append((d.aps.extended.block_number, d.aps.extended.ack_bitfield))
    # first block: fragmentation 1 and the block count; then 2 and the block index
    assert blocks == [(1, 4, 0x30), (2, 1, 0x30), (2, 2, 0x30), (2, 3, 0x30)]
    assert acks[1::2] == [(0, 1), (1, 1), (2, 1), (3, 1)]
    assert frames[0].psdu.__len__() == 127
    # every block but the last is full: MAC 9 + NWK 8+14 + APS 8 + ext 2 + aux 13 + MIC 4+4 + FCS 2 = 64
    sizes = [len(f.psdu) - 64 for f in frames if f.kind == FrameKind.FRAGMENT]
    assert sizes == [63, 63, 63, len(payload) - 189]


def test_fragment_window() -> None:
    ctx = context()
    ctx.aps_window = 3
    frames = FrameSynthesizer(ctx).synthesize(packet(IHD_NWK, 3, nwk_addr(ESI_NWK), 1, bytes(200)))
    ring = KeyRing.of([NWK_KEY], [LINK_KEY])
    acks = [decode(f.psdu, ring).aps.extended for f in frames if f.kind == FrameKind.APS_ACK]
    assert [(a.control.fragmentation, a.block_number, a.ack_bitfield) for a in acks] == [(1, 0, 0b111), (2, 3, 0b1)]


def test_broadcast_too_big_is_refused() -> None:
    dst = t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast, address=0xFFFF)
    with pytest.raises(FrameError, match="fragmentation"):
        FrameSynthesizer(context()).synthesize(packet(ESI_NWK, 1, dst, 1, bytes(150)))


def test_unknown_sender_is_an_error() -> None:
    with pytest.raises(FrameError, match="IEEE address is unknown"):
        FrameSynthesizer(context()).synthesize(packet(0x7777, 1, nwk_addr(IHD_NWK), 3, READ_RSP))


def test_frames_charge_a_ledger() -> None:
    frames = FrameSynthesizer(context()).synthesize(packet(IHD_NWK, 3, nwk_addr(ESI_NWK), 1, READ_REQ))
    ledger = AirtimeLedger()
    assert charge(ledger, frames, 1000.0, page=0, channel=15) == [True] * 4
    by_device = {dev: sum(u.airtime for u in ledger.device_usage(dev, 1000.1)) for dev in ledger.devices()}
    assert by_device[IHD] == pytest.approx((frames[0].airtime_us + frames[3].airtime_us) / 1e6)
    assert by_device[ESI] == pytest.approx((frames[1].airtime_us + frames[2].airtime_us) / 1e6)


def test_key_listeners_and_network_info() -> None:
    import zigpy.state

    info = zigpy.state.NetworkInfo(
        pan_id=t.PanId(0x1A62), extended_pan_id=t.ExtendedPanId.convert("00:11:22:33:44:55:66:77"), channel=20,
        network_key=zigpy.state.Key(key=t.KeyData(NWK_KEY), tx_counter=500, seq=2),
        nwk_addresses={t.EUI64(IHD.to_bytes(8, "little")): t.NWK(IHD_NWK)},
        key_table=[zigpy.state.Key(key=t.KeyData(LINK_KEY), partner_ieee=t.EUI64(IHD.to_bytes(8, "little")))],
    )
    node = zigpy.state.NodeInfo(nwk=t.NWK(0), ieee=t.EUI64(ESI.to_bytes(8, "little")))
    ctx = NetworkContext.from_network_info(info, node)
    assert (ctx.pan_id, ctx.extended_pan_id, ctx.channel, ctx.key_seq) == (0x1A62, 0x0011223344556677, 20, 2)
    assert ctx.nwk_of(IHD) == IHD_NWK and ctx.nwk_of(ESI) == 0 and ctx.counters[ESI].nwk_frame_counter == 500
    assert ctx.link_key(ESI, IHD) == LINK_KEY and ctx.link_key(IHD, 0x42) == ctx.default_link_key
    seen: list[tuple[str, bytes, str]] = []
    ctx.subscribe_keys(lambda *row: seen.append(row))
    assert [row[1] for row in seen] == [NWK_KEY, ctx.default_link_key, LINK_KEY]
    ctx.set_link_key(IHD, "00:00:00:00:00:00:00:42", bytes(16))
    assert seen[-1] == ("link", bytes(16), "link key 0000000000000042 8899AABBCCDDEEFF")
    assert ieee_int("88:99:aa:bb:cc:dd:ee:ff") == IHD
    eui = t.EUI64.convert("88:99:aa:bb:cc:dd:ee:ff")
    assert ieee_int(eui) == int.from_bytes(eui.serialize(), "little") == IHD
