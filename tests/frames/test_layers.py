"""NWK, APS and ZCL codecs and AES-CCM* against public-capture frames.

Field values are the ones tshark shows for these frames; plaintexts are
written out from tshark's decode of the same fields.
"""

from __future__ import annotations

import pytest
from zigpy.zcl import foundation

from clusters.zcl_header import ZclHeader, read_header
from han_emu.crypto.mmo import key_load_key, transport_key
from han_emu.frames.aps import build_aps, parse_aps, parse_aps_command, parse_transport_key
from han_emu.frames.errors import FrameError, MicError
from han_emu.frames.nwk import build_nwk, parse_nwk, parse_nwk_command
from han_emu.frames.secheader import KeyId
from han_emu.frames.security import aps_key, ccm_nonce, decrypt, encrypt
from han_emu.frames.zcl import build_zcl, parse_zcl

ZIGATOR_KEY = bytes.fromhex("11" * 16)
CONTROL4_KEY = bytes.fromhex("26546b723b396a727b5d5271517d392f")

# 03-nwk-testing.pcap frame 2 (Route Reply), NWK layer (after the 9-byte MAC header, before the FCS)
NWK_ROUTE_REPLY = bytes.fromhex(
    "091a011102111da2" "0200000000777777" "0300000000777777"
    "28" "12270000" "0300000000777777" "00"
    "179bab129ace96cd202519666648cca5ad60a8356ef620cc" "b7a631cf"
)
# cmd 0x02, options 0x30, route id 5, originator 0x1101, responder 0x0000,
# path cost 8, extended originator, extended responder
ROUTE_REPLY_PLAIN = bytes.fromhex("02" "30" "05" "0111" "0000" "08" "0200000000777777" "0100000000777777")

# 06-zcl-testing.pcap frame 1: NWK layer, and the APS+ZCL plaintext inside it
NWK_ZCL = bytes.fromhex(
    "0802021100001ec0" "28" "e0290000" "0100000000777777" "00" "95ff22b54b9a50b6d5676b0c2f" "671af32c"
)
APS_ZCL_PLAIN = bytes.fromhex("40" "01" "0000" "0401" "01" "50" "00" "00" "00" "0100")

# control4-sample.pcap frame 151: APS Transport-Key in the clear, NWK unsecured
NWK_TRANSPORT_KEY = bytes.fromhex(
    "0800909000001edd" "01" "dc" "05" "01" "26546b723b396a727b5d5271517d392f"
    "00" "1a5b410000ff0f00" "ffffffffffffffff"
)


def test_nwk_header_fields_and_rebuild() -> None:
    f = parse_nwk(NWK_ROUTE_REPLY)
    fc = f.frame_control
    assert (fc.frame_type, fc.protocol_version, fc.discover_route) == (1, 2, 0)
    assert fc.security and fc.ext_dst and fc.ext_src and not fc.multicast and not fc.source_route
    assert (f.dst, f.src, f.radius, f.seq) == (0x1101, 0x1102, 29, 162)
    assert (f.dst_ieee, f.src_ieee) == (0x7777770000000002, 0x7777770000000003)
    aux = f.aux
    assert (aux.control.key_id, aux.control.extended_nonce, aux.control.level) == (KeyId.NETWORK, True, 0)
    assert (aux.frame_counter, aux.source, aux.key_seq) == (10002, 0x7777770000000003, 0)
    assert (f.header_end, f.payload_start) == (24, 38)
    assert build_nwk(f) == NWK_ROUTE_REPLY


def test_nwk_decrypt_route_reply() -> None:
    f = parse_nwk(NWK_ROUTE_REPLY)
    plain = decrypt("nwk", NWK_ROUTE_REPLY, f, ZIGATOR_KEY, f.aux.source)
    assert plain == ROUTE_REPLY_PLAIN
    cmd = parse_nwk_command(plain)
    assert cmd.command_id == 0x02 and cmd.payload[0] == 0x30


def test_nonce_layout() -> None:
    # source LE, frame counter LE, control 0x28 with level 5 -> 0x2d
    assert ccm_nonce(0x7777770000000003, 10002, 0x28) == bytes.fromhex("0300000000777777" "12270000" "2d")


def test_nwk_encrypt_reproduces_capture_bytes() -> None:
    f = parse_nwk(NWK_ROUTE_REPLY)
    header = NWK_ROUTE_REPLY[: f.payload_start]
    assert encrypt("nwk", header, parse_nwk(header), ROUTE_REPLY_PLAIN, ZIGATOR_KEY, f.aux.source) == NWK_ROUTE_REPLY


def test_wrong_key_is_a_mic_failure_not_garbage() -> None:
    f = parse_nwk(NWK_ROUTE_REPLY)
    with pytest.raises(MicError, match="nwk: MIC check failed"):
        decrypt("nwk", NWK_ROUTE_REPLY, f, CONTROL4_KEY, f.aux.source)
    tampered = NWK_ROUTE_REPLY[:-5] + bytes([NWK_ROUTE_REPLY[-5] ^ 1]) + NWK_ROUTE_REPLY[-4:]
    with pytest.raises(MicError):
        decrypt("nwk", tampered, parse_nwk(tampered), ZIGATOR_KEY, f.aux.source)
    with pytest.raises(MicError):  # wrong nonce source
        decrypt("nwk", NWK_ROUTE_REPLY, f, ZIGATOR_KEY, 0x7777770000000002)


def test_aps_data_and_zcl_inside_nwk() -> None:
    nwk = parse_nwk(NWK_ZCL)
    assert (nwk.dst, nwk.src, nwk.radius, nwk.seq, nwk.src_ieee) == (0x1102, 0x0000, 30, 0xC0, None)
    plain = decrypt("nwk", NWK_ZCL, nwk, ZIGATOR_KEY, nwk.aux.source)
    assert plain == APS_ZCL_PLAIN
    aps = parse_aps(plain)
    assert (aps.frame_control.frame_type, aps.frame_control.ack_request, aps.frame_control.security) == (0, True, False)
    assert (aps.dst_endpoint, aps.cluster, aps.profile, aps.src_endpoint, aps.counter) == (1, 0x0000, 0x0104, 1, 80)
    assert aps.group is None and aps.extended is None
    assert build_aps(aps) == APS_ZCL_PLAIN
    zcl = parse_zcl(bytes(aps.payload))
    assert (zcl.frame_control.frame_type, zcl.tsn, zcl.command_id, zcl.payload) == (0, 0, 0x00, b"\x01\x00")
    assert build_zcl(zcl) == bytes(aps.payload)


def test_aps_ack_golden() -> None:
    # 04-aps-testing.pcap frame 1 decrypted: Ack, dst ep 0, cluster 0x0005,
    # profile 0 (ZDP), src ep 0, counter 78
    raw = bytes.fromhex("02" "00" "0500" "0000" "00" "4e")
    f = parse_aps(raw)
    assert (f.frame_control.frame_type, f.dst_endpoint, f.cluster, f.profile, f.src_endpoint, f.counter) == (2, 0, 5, 0, 0, 78)
    assert build_aps(f) == raw


def test_aps_fragmentation_extended_header() -> None:
    # Hand-assembled from the spec: data frame with the extended header
    # (fc 0x80), first block (ext fc 0x01, block 3) ...
    data = bytes.fromhex("80" "01" "0207" "0901" "01" "22" "01" "03" "abcd")
    f = parse_aps(data)
    assert f.extended.control.fragmentation == 1 and f.extended.block_number == 3
    assert f.extended.ack_bitfield is None and f.payload == b"\xab\xcd"
    assert build_aps(f) == data
    # ... and an ack of a fragmented frame: block number then the ack bitfield
    ack = bytes.fromhex("82" "01" "0207" "0901" "01" "22" "02" "04" "0f")
    g = parse_aps(ack)
    assert (g.extended.control.fragmentation, g.extended.block_number, g.extended.ack_bitfield) == (2, 4, 0x0F)
    assert build_aps(g) == ack


def test_aps_group_delivery() -> None:
    raw = bytes.fromhex("0c" "3412" "0600" "0401" "01" "07" "01")  # group 0x1234, no dst endpoint
    f = parse_aps(raw)
    assert (f.dst_endpoint, f.group, f.cluster, f.profile, f.src_endpoint, f.counter) == (None, 0x1234, 6, 0x104, 1, 7)
    assert build_aps(f) == raw


def test_aps_transport_key_in_clear() -> None:
    nwk = parse_nwk(NWK_TRANSPORT_KEY)
    assert not nwk.frame_control.security and (nwk.dst, nwk.src, nwk.seq) == (0x9090, 0x0000, 0xDD)
    aps = parse_aps(bytes(nwk.payload))
    assert aps.frame_control.frame_type == 1 and aps.counter == 0xDC and aps.cluster is None
    cmd = parse_aps_command(bytes(aps.payload))
    assert cmd.command_id == 0x05
    tk = parse_transport_key(bytes(cmd.payload))
    assert tk.key_type == 1 and tk.key == CONTROL4_KEY
    assert (tk.details.key_seq, tk.details.dst_ieee, tk.details.src_ieee) == (0, 0x000FFF0000415B1A, 0xFFFFFFFFFFFFFFFF)
    assert build_nwk(nwk) == NWK_TRANSPORT_KEY


def test_aps_key_identifiers() -> None:
    link = bytes.fromhex("5A6967426565416C6C69616E63653039")
    assert aps_key(KeyId.DATA, link) == link
    assert aps_key(KeyId.NETWORK, CONTROL4_KEY) == CONTROL4_KEY
    assert aps_key(KeyId.KEY_TRANSPORT, link) == transport_key(link)
    assert aps_key(KeyId.KEY_LOAD, link) == key_load_key(link)
    assert aps_key(KeyId.KEY_TRANSPORT, link) != aps_key(KeyId.KEY_LOAD, link)


def test_zcl_header_against_zigpy() -> None:
    # control4 frame 3: fc 0x30 (profile-wide, disable default response, one reserved bit)
    raw = bytes.fromhex("30" "74" "36") + b"\x01\x02"
    f = parse_zcl(raw)
    assert (f.frame_control.frame_type, f.frame_control.disable_default_response, f.frame_control.reserved) == (0, True, 1)
    assert (f.tsn, f.command_id, f.payload) == (116, 0x36, b"\x01\x02")
    assert build_zcl(f) == raw
    # manufacturer-specific, cluster-specific, server to client; zigpy agrees
    raw = bytes.fromhex("1d" "5f11" "2a" "07") + b"x"
    f = parse_zcl(raw)
    hdr, rest = foundation.ZCLHeader.deserialize(raw)
    assert f.manufacturer == hdr.manufacturer == 0x115F
    assert f.tsn == hdr.tsn == 0x2A and f.command_id == hdr.command_id == 7
    assert f.frame_control.server_to_client == (hdr.direction == foundation.Direction.Server_to_Client)
    assert f.frame_control.frame_type == 1 and rest == f.payload == b"x"
    assert build_zcl(f) == raw


def test_fast_zcl_header_agrees_with_the_declaration() -> None:
    """``clusters.zcl_header`` (the hot paths' reading) against ``frames.zcl``
    (the declaration): every frame control byte, every length up to a payload byte."""
    for fc in range(256):
        for length in range(1, 7):
            data = bytes([fc]) + bytes(range(0x41, 0x40 + length))
            try:
                slow = parse_zcl(data)
            except FrameError:
                slow = None
            try:
                header, rest = ZclHeader.deserialize(data)
                fields = read_header(data)
            except ValueError:
                header = None
            assert (slow is None) == (header is None), data.hex()
            if slow is None or header is None:
                continue
            fcb, manufacturer, tsn, command_id, off = fields
            assert (fcb, manufacturer, tsn, command_id, data[off:]) == (
                data[0], slow.manufacturer, slow.tsn, slow.command_id, slow.payload)
            fast_fc, slow_fc = header.frame_control, slow.frame_control
            assert (int(fast_fc.frame_type), fast_fc.reserved, fast_fc.disable_default_response) == (
                slow_fc.frame_type, slow_fc.reserved, slow_fc.disable_default_response)
            assert (header.direction == foundation.Direction.Server_to_Client) == slow_fc.server_to_client
            assert header.serialize() + rest == build_zcl(slow) == data


@pytest.mark.parametrize(
    ("parse", "raw", "layer"),
    [(parse_nwk, b"\x08", "nwk"), (parse_aps, b"\x40\x01", "aps"), (parse_zcl, b"\x00\x01", "zcl"),
     (parse_nwk, bytes.fromhex("0802021100001ec028e0"), "nwk")],
)
def test_truncated_layers_name_the_layer(parse, raw: bytes, layer: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FrameError) as err:
        parse(raw)
    assert err.value.layer == layer and "truncated" in err.value.reason


def test_short_secured_payload() -> None:
    raw = bytes.fromhex("0802021100001ec0" "28" "e0290000" "0100000000777777" "00" "6714")
    with pytest.raises(FrameError, match="shorter than the MIC"):
        decrypt("nwk", raw, parse_nwk(raw), ZIGATOR_KEY, 1)


def test_nwk_multicast_and_source_route() -> None:
    # Hand-assembled: fc 0x0508 (data, version 2, multicast, source route),
    # dst 0x1234, src 0x0001, radius 5, seq 9, multicast control 0x69
    # (member mode 1, non-member radius 2, max 3), relay count 2, index 1,
    # relays 0x1111 0x2222, payload 0xaa.
    raw = bytes.fromhex("0805" "3412" "0100" "05" "09" "69" "02" "01" "1111" "2222" "aa")
    f = parse_nwk(raw)
    assert f.frame_control.multicast and f.frame_control.source_route
    mc = f.multicast_control
    assert (mc.mode, mc.non_member_radius, mc.max_non_member_radius) == (1, 2, 3)
    sr = f.source_route
    assert (sr.relay_count, sr.relay_index, list(sr.relays)) == (2, 1, [0x1111, 0x2222])
    assert f.payload == b"\xaa" and f.aux is None
    assert build_nwk(f) == raw
