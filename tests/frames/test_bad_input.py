"""Bad input never crashes a reader: a broken file is one clear CaptureError
(with the record index and offset), a bad frame is counted and skipped with
its index while the rest of the file decodes.

The container bytes are written out by hand (pcap header and record layout,
pcapng block layout from the reference); the frames come from the encoder,
since only how they fail matters here.
"""

from __future__ import annotations

import struct

import pytest

from han_emu.frames import CaptureError, CaptureReport, KeyRing, decode_capture, read_capture
from han_emu.frames.fcs import fcs_bytes
from han_emu.frames.builders import aps_data, mac_data, nwk_frame, zcl_header
from han_emu.frames.stack import encode

NWK_KEY = bytes.fromhex("0123456789abcdef0123456789abcdef")
LINK_KEY = bytes.fromhex("5A6967426565416C6C69616E63653039")
ESI = 0x0011223344556677

# pcap global header, little-endian, microseconds: magic, 2.4, zone 0, sigfigs 0, snaplen 65535, link type 230
PCAP_230 = bytes.fromhex("d4c3b2a1" "0200" "0400" "00000000" "00000000" "ffff0000" "e6000000")
PCAP_195 = PCAP_230[:20] + bytes.fromhex("c3000000")
MAC_ACK = bytes.fromhex("020080b031")  # ACK for seq 0x80, FCS 0x31b0


def record(data: bytes, ts_sec: int = 1) -> bytes:
    """A pcap record header (ts_sec, ts_usec, incl_len, orig_len) and its bytes."""
    return struct.pack("<IIII", ts_sec, 0, len(data), len(data)) + data


def se_frame(counter: int, *, key: bytes = NWK_KEY) -> bytes:
    """ESI -> IHD Read Attributes Response, NWK- and APS-encrypted, with FCS."""
    return encode(
        mac_data(seq=counter & 0xFF, pan=0x1A62, dst=0x4D2C, src=0x0000),
        nwk_frame(dst=0x4D2C, src=0x0000, seq=counter & 0xFF, frame_counter=counter, source_ieee=ESI),
        aps_data(cluster=0x0702, dst_endpoint=1, src_endpoint=1, counter=counter & 0xFF, frame_counter=counter, source_ieee=ESI),
        zcl_header(tsn=counter & 0xFF, command_id=0x01, server_to_client=True),
        struct.pack("<HBB", 0, 0, 0x25) + (1000 + counter).to_bytes(6, "little"),
        network_key=key, link_key=LINK_KEY,
    )


def ring() -> KeyRing:
    return KeyRing.of([NWK_KEY], [LINK_KEY])


def test_a_file_of_good_and_bad_frames_decodes_the_good_ones() -> None:
    good = se_frame(1)
    tampered = bytearray(se_frame(2))
    tampered[30] ^= 0x01  # one ciphertext bit: the NWK MIC fails (FCS recomputed below)
    tampered[-2:] = fcs_bytes(bytes(tampered[:-2]))
    wrong_key = se_frame(3, key=bytes(16))
    short = bytes.fromhex("4188")  # a data frame's frame control, then nothing: no room for seq, PAN, addresses
    bad_fcs = good[:-2] + b"\x00\x00"
    data = PCAP_195 + b"".join(record(r) for r in (good, tampered, short, b"\x01", wrong_key, bad_fcs, MAC_ACK, se_frame(4)))
    report = CaptureReport()
    out = list(decode_capture(data, ring(), report=report))
    assert [i for i, _, _ in out] == [0, 6, 7]
    assert [f.zcl.tsn for _, _, f in out if f.zcl is not None] == [1, 4]
    assert (report.records, report.decoded) == (8, 3)
    skipped = {s.index: s.reason for s in report.skipped}
    assert sorted(skipped) == [1, 2, 3, 4, 5]
    assert skipped[1].startswith("nwk: MIC check failed") and skipped[4].startswith("nwk: MIC check failed")
    assert skipped[2] == "FCS mismatch"  # 2 bytes under link type 195 are all FCS: nothing matches
    assert skipped[3] == "1-byte record cannot hold an FCS"
    assert skipped[5] == "FCS mismatch"
    # offsets point at each record header: 24-byte file header, 16-byte record headers
    offsets = [24]
    for r in (good, tampered, short, b"\x01", wrong_key):
        offsets.append(offsets[-1] + 16 + len(r))
    assert [s.offset for s in report.skipped] == offsets[1:6]


def test_frame_too_short_for_its_header_without_fcs() -> None:
    # link type 230: "41 88 07 62 1a" is frame control, seq and PAN, then the addresses are missing
    data = PCAP_230 + record(bytes.fromhex("4188" "07" "621a")) + record(MAC_ACK[:-2])
    report = CaptureReport()
    out = list(decode_capture(data, report=report))
    assert [i for i, _, _ in out] == [1] and out[0][2].mac.seq == 0x80
    [skip] = report.skipped
    assert skip.index == 0 and skip.offset == 24
    assert skip.reason.startswith("mac: truncated")


def test_truncated_file_is_one_clear_error_after_the_good_records() -> None:
    data = PCAP_230 + record(MAC_ACK[:-2]) + record(MAC_ACK[:-2])[:-1]  # second record one byte short
    got = []
    with pytest.raises(CaptureError) as err:
        for index, _, frame in decode_capture(data):
            got.append(index)
    assert got == [0]
    assert (err.value.record, err.value.offset) == (1, 24 + 19 + 16)  # where the second record's data starts
    assert str(err.value) == "capture: record 1: truncated record data: needs 3 bytes, 2 present at offset 59"
    with pytest.raises(CaptureError, match="^capture: truncated file header"):
        list(read_capture(b"\xd4\xc3"))
    with pytest.raises(CaptureError, match="truncated pcap header"):
        list(read_capture(PCAP_230[:10]))


@pytest.mark.parametrize("head", [b"GIF89a" + bytes(18), bytes(24), b"\xa1\xb2\xc3"])
def test_wrong_magic_number(head: bytes) -> None:
    with pytest.raises(CaptureError, match="not a pcap or pcapng file|truncated") as err:
        list(decode_capture(head))
    assert err.value.offset == 0 and err.value.record is None


def test_unknown_link_type() -> None:
    ethernet = PCAP_230[:20] + struct.pack("<I", 1)
    with pytest.raises(CaptureError, match="unsupported link type 1 at offset 20"):
        list(decode_capture(ethernet + record(bytes(14))))
    # pcapng: SHB (type, length 28, byte-order magic, version 1.0, section length -1, length)
    shb = bytes.fromhex("0a0d0d0a" "1c000000" "4d3c2b1a" "0100" "0000" "ffffffffffffffff" "1c000000")
    # IDB for link type 105 (802.11), then one EPB of 4 bytes
    idb = bytes.fromhex("01000000" "14000000" "6900" "0000" "00000000" "14000000")
    epb = bytes.fromhex("06000000" "24000000" "00000000" "00000000" "00000000" "04000000" "04000000" "deadbeef" "24000000")
    with pytest.raises(CaptureError, match="unsupported link type 105 at offset 48") as err:
        list(decode_capture(shb + idb + epb))
    assert err.value.record is None  # nothing good came before it


def test_malformed_tap_header_is_a_skipped_frame() -> None:
    pcap_283 = PCAP_230[:20] + struct.pack("<I", 283)
    # TAP header claims 40 bytes of header in an 8-byte record
    bad = bytes.fromhex("00002800" "01000100")
    # a good TAP record: header length 12, TLV FCS type (0, length 1, value 1, padded), then the ACK with FCS
    good = bytes.fromhex("00000c00" "00000100" "01000000") + MAC_ACK
    report = CaptureReport()
    out = list(decode_capture(pcap_283 + record(bad) + record(good), report=report))
    assert [i for i, _, _ in out] == [1]
    assert [(s.index, s.reason.split(" (")[0]) for s in report.skipped] == [(0, "malformed TAP header")]


def test_unreadable_path_is_a_capture_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CaptureError, match="cannot open"):
        list(read_capture(tmp_path / "missing.pcap"))
