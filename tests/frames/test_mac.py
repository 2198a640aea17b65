"""802.15.4 MAC codec against frames from the public captures (fields as
tshark shows them) and hand-assembled bytes from the standard."""

from __future__ import annotations

import pytest

from han_emu.frames.errors import FcsError, FrameError
from han_emu.frames.fcs import crc16_kermit, fcs_ok
from han_emu.frames.mac import MacFrame, build_mac, parse_mac

# zigbee-join-authenticate.pcap (link type 230, no FCS), hex from `tshark -x`
BEACON_REQUEST = bytes.fromhex("030806ffffffff07")
BEACON = bytes.fromhex("008063ff010000ffcf000000208473656e736f720000ffffff00")
ASSOC_REQUEST = bytes.fromhex("23c80cff010000ffff072000ffffda1c0001ce")
ACK = bytes.fromhex("020080b031")  # control4-sample.pcap frame 4: seq 128, FCS 0x31b0
ASSOC_RESPONSE = bytes.fromhex("63cc35ff01072000ffffda1c0058c50d00006f0d00024d2c00")
# control4-sample.pcap frame 151 (link type 195: ends in a valid FCS 4f24)
C4_151 = bytes.fromhex(
    "6188305933909000000800909000001edd01dc050126546b723b396a727b5d5271517d392f"
    "001a5b410000ff0f00ffffffffffffffff4f24"
)


def test_crc16_kermit_check_value() -> None:
    assert crc16_kermit(b"123456789") == 0x2189


def test_fcs_of_capture_frames() -> None:
    assert fcs_ok(C4_151)
    assert fcs_ok(ACK)
    assert not fcs_ok(C4_151[:-1] + b"\x00")


def test_data_frame_fields_and_rebuild() -> None:
    f = parse_mac(C4_151)
    fc = f.frame_control
    assert (fc.frame_type, fc.ack_request, fc.panid_compression, fc.frame_version) == (1, True, True, 0)
    assert (fc.dst_addr_mode, fc.src_addr_mode) == (2, 2)
    assert (f.seq, f.dst_pan, f.dst_addr, f.src_addr, f.src_pan) == (0x30, 0x3359, 0x9090, 0x0000, None)
    assert f.body.payload == C4_151[9:-2]
    assert build_mac(f) == C4_151


def test_beacon_request_command() -> None:
    f = parse_mac(BEACON_REQUEST, fcs=False)
    assert f.frame_control.frame_type == 3
    assert (f.seq, f.dst_pan, f.dst_addr, f.src_addr) == (6, 0xFFFF, 0xFFFF, None)
    assert f.body.command_id == 0x07 and f.body.payload == b""
    assert build_mac(f, fcs=False) == BEACON_REQUEST


def test_beacon_superframe_and_payload() -> None:
    f = parse_mac(BEACON, fcs=False)
    assert f.frame_control.frame_type == 0
    assert (f.seq, f.src_pan, f.src_addr, f.dst_addr) == (0x63, 0x01FF, 0x0000, None)
    sf = f.body.superframe
    assert (sf.beacon_order, sf.superframe_order, sf.final_cap_slot) == (15, 15, 15)
    assert sf.pan_coordinator and sf.association_permit and not sf.battery_life_extension
    assert f.body.gts_spec.count == 0 and not f.body.gts_spec.permit
    assert f.body.pending_spec.short_count == 0 and f.body.pending_spec.extended_count == 0
    assert f.body.payload == bytes.fromhex("00208473656e736f720000ffffff00")  # Zigbee beacon payload
    assert build_mac(f, fcs=False) == BEACON


def test_beacon_with_gts_and_pending_addresses() -> None:
    # Hand-assembled: superframe 0xcfff, GTS spec 0x81 (1 descriptor, permit),
    # directions 0x01, descriptor {0x1234, 0x21}, pending spec 0x11 (1 short,
    # 1 extended), 0x5678, 0x0102030405060708.
    raw = bytes.fromhex("0080" "01" "ff01" "0000" "ffcf" "81" "01" "3412" "21" "11" "7856" "0807060504030201" "aa")
    f = parse_mac(raw, fcs=False)
    assert f.body.gts_spec.permit and f.body.gts_directions == 1
    assert [(g.short_address, g.info) for g in f.body.gts_list] == [(0x1234, 0x21)]
    assert list(f.body.pending_short) == [0x5678]
    assert list(f.body.pending_extended) == [0x0102030405060708]
    assert f.body.payload == b"\xaa"
    assert build_mac(f, fcs=False) == raw


def test_extended_addresses_and_association_commands() -> None:
    f = parse_mac(ASSOC_REQUEST, fcs=False)
    assert (f.frame_control.dst_addr_mode, f.frame_control.src_addr_mode) == (2, 3)
    assert (f.dst_pan, f.dst_addr, f.src_pan) == (0x01FF, 0x0000, 0xFFFF)
    assert f.src_addr == 0x001CDAFFFF002007
    assert (f.body.command_id, f.body.payload) == (0x01, b"\xce")
    assert build_mac(f, fcs=False) == ASSOC_REQUEST

    r = parse_mac(ASSOC_RESPONSE, fcs=False)
    assert (r.dst_addr, r.src_addr) == (0x001CDAFFFF002007, 0x000D6F00000DC558)
    assert r.src_pan is None  # PAN ID compression
    assert (r.body.command_id, r.body.payload) == (0x02, bytes.fromhex("4d2c00"))
    assert build_mac(r, fcs=False) == ASSOC_RESPONSE


def test_ack() -> None:
    f = parse_mac(ACK)
    assert f.frame_control.frame_type == 2 and f.seq == 128
    assert (f.dst_addr, f.src_addr, f.dst_pan) == (None, None, None)
    assert build_mac(f) == ACK


def test_2015_frame_without_pan_ids() -> None:
    # Frame version 2, short dst and src, PAN ID compression set: only the
    # destination PAN is present (802.15.4-2015 table 7-2).
    raw = bytes.fromhex("41a8" "07" "3412" "cdab" "3412" "99")
    f = parse_mac(raw, fcs=False)
    assert f.frame_control.frame_version == 2
    assert (f.dst_pan, f.dst_addr, f.src_pan, f.src_addr) == (0x1234, 0xABCD, None, 0x1234)
    assert build_mac(f, fcs=False) == raw


def test_mac_security_header() -> None:
    # Data frame with security enabled, aux header: level 5, key id mode 1,
    # frame counter 1, key index 7; the payload stays opaque.
    raw = bytes.fromhex("49 88 01 3412 0100 0200 0d 01000000 07 deadbeef".replace(" ", ""))
    f = parse_mac(raw, fcs=False)
    sh = f.security_header
    assert (sh.control.level, sh.control.key_id_mode, sh.frame_counter, sh.key_index) == (5, 1, 1, 7)
    assert f.body.payload == bytes.fromhex("deadbeef")
    assert build_mac(f, fcs=False) == raw


def test_bad_fcs_is_reported() -> None:
    with pytest.raises(FcsError, match="mac: FCS mismatch"):
        parse_mac(C4_151[:-2] + b"\x00\x00")


@pytest.mark.parametrize("raw", [b"", b"\x61", bytes.fromhex("6188"), bytes.fromhex("618830")])
def test_truncated_frames_raise_frame_error(raw: bytes) -> None:
    with pytest.raises(FrameError, match="^mac: "):
        parse_mac(raw, fcs=False)


def test_build_errors_are_frame_errors() -> None:
    f = parse_mac(C4_151)
    f.dst_addr = "nonsense"
    with pytest.raises(FrameError, match="^mac: "):
        build_mac(f)
    assert MacFrame is not None


def test_crc_matches_a_bitwise_reference() -> None:
    """The C-speed CRC agrees with the textbook bitwise KERMIT on many inputs."""
    import random

    def bitwise(data: bytes) -> int:
        crc = 0
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        return crc

    rng = random.Random(5)
    for n in range(200):
        data = bytes(rng.randrange(256) for _ in range(n % 130))
        assert crc16_kermit(data) == bitwise(data)
    assert crc16_kermit(b"123456789") == 0x2189
