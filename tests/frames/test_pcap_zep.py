"""Capture writing and reading, truncation handling, the TAP header and ZEP."""

from __future__ import annotations

import io
import struct

import pytest
from .frames_support import capture

from han_emu.frames import CaptureError, FrameError, LinkType, PcapngWriter, PcapWriter, read_capture
from han_emu.frames.tap import TapInfo, build_tap, parse_tap
from han_emu.frames.zep import build_zep, ntp_to_posix, parse_zep, posix_to_ntp, zep_v2_data

C4_151 = bytes.fromhex(
    "6188305933909000000800909000001edd01dc050126546b723b396a727b5d5271517d392f"
    "001a5b410000ff0f00ffffffffffffffff4f24"
)
ACK = bytes.fromhex("020080b031")


@pytest.mark.parametrize("writer", [PcapWriter, PcapngWriter])
@pytest.mark.parametrize("linktype", [195, 230, 283])
def test_write_then_read(writer: type, linktype: int) -> None:
    buf = io.BytesIO()
    w = writer(buf, linktype)
    w.write(C4_151, 1700000000.25, channel=3, page=28, rssi=-61.5, lqi=200)
    w.write(ACK, 1700000000.5, channel=3, page=28)
    recs = list(read_capture(buf.getvalue()))
    assert [r.psdu for r in recs] == [C4_151, ACK]
    assert [r.timestamp for r in recs] == [1700000000.25, 1700000000.5]
    assert all(r.linktype == linktype for r in recs)
    if linktype == 283:
        assert (recs[0].channel, recs[0].page, recs[0].rssi, recs[0].lqi) == (3, 28, -61.5, 200)
        assert recs[0].fcs_ok
    elif linktype == 230:
        assert recs[0].fcs is None and recs[0].frame == C4_151[:-2]


def test_pcap_header_golden() -> None:
    buf = io.BytesIO()
    PcapWriter(buf, LinkType.IEEE802_15_4_TAP)
    # magic, 2.4, zone 0, sigfigs 0, snaplen 65535, link type 283 (all LE)
    assert buf.getvalue() == bytes.fromhex("d4c3b2a1" "0200" "0400" "00000000" "00000000" "ffff0000" "1b010000")


def test_tap_header_golden() -> None:
    # version 0, reserved 0, length 20; FCS-type TLV {0, 1, 01 + pad};
    # channel TLV {3, 3, channel 11 (u16), page 0 + pad}
    raw = bytes.fromhex("00001400" "00000100" "01000000" "03000300" "0b000000") + ACK
    assert build_tap(ACK, TapInfo(fcs_type=1, channel=11, page=0)) == raw
    info, frame = parse_tap(raw)
    assert (info.fcs_type, info.channel, info.page, info.rssi) == (1, 11, 0, None) and frame == ACK


def test_big_endian_and_nanosecond_pcap() -> None:
    header = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 195)
    rec = struct.pack(">IIII", 10, 500_000_000, len(ACK), len(ACK)) + ACK
    (r,) = read_capture(header + rec)
    assert r.timestamp == 10.5 and r.psdu == ACK and r.fcs_ok


def _pcap(n: int) -> bytes:
    buf = io.BytesIO()
    w = PcapWriter(buf, 195)
    for i in range(n):
        w.write(C4_151, float(i))
    return buf.getvalue()


def test_truncated_pcap_yields_good_records_then_names_offset() -> None:
    data = _pcap(3)
    record = 16 + len(C4_151)
    cut = data[: 24 + 2 * record + 10]  # third record header cut short
    got: list[bytes] = []
    with pytest.raises(CaptureError, match=f"truncated record header.* at offset {24 + 2 * record}") as err:
        for r in read_capture(cut):
            got.append(r.psdu)
    assert got == [C4_151, C4_151] and err.value.offset == 24 + 2 * record
    cut = data[: 24 + 2 * record + 20]  # third record's data cut short
    with pytest.raises(CaptureError, match="truncated record data"):
        list(read_capture(cut))


def test_truncated_public_pcapng() -> None:
    data = capture("trace_app_link_key.pcapng").read_bytes()
    full = list(read_capture(data))
    cut = data[: full[100].offset + 20]
    got = []
    with pytest.raises(CaptureError) as err:
        for r in read_capture(cut):
            got.append(r)
    assert len(got) == 100 and err.value.offset >= full[99].offset
    assert "truncated" in str(err.value) and "offset" in str(err.value)


def test_malformed_pcapng_block_length() -> None:
    buf = io.BytesIO()
    w = PcapngWriter(buf, 230)
    w.write(ACK, 1.0)
    w.write(ACK, 2.0)
    data = bytearray(buf.getvalue())
    last = len(data) - (12 + 20 + 4)  # the last EPB: 12 framing + 20 fixed + 4 data (3 bytes padded)
    data[-4:] = struct.pack("<I", 999)
    got = []
    with pytest.raises(CaptureError, match=f"trailer says 999 at offset {last}"):
        for r in read_capture(bytes(data)):
            got.append(r)
    assert len(got) == 1


def test_not_a_capture() -> None:
    with pytest.raises(CaptureError, match="not a pcap or pcapng file.* at offset 0"):
        list(read_capture(b"GIF89a" + bytes(40)))
    with pytest.raises(CaptureError, match="unsupported link type 1"):
        list(read_capture(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)))
    assert issubclass(CaptureError, FrameError)


# ZEP, hand-assembled from the header layouts
ZEP_V1 = bytes.fromhex("4558" "01" "0b" "1234" "01" "ff" "00000000000000" "05") + ACK
ZEP_V2 = (
    bytes.fromhex("4558" "02" "01" "0f" "0001" "01" "c8")
    + bytes.fromhex("e8ab0c2080000000")  # NTP: 0xe8ab0c20 s since 1900, fraction 0.5
    + bytes.fromhex("0000002a")
    + bytes(10)
    + bytes.fromhex("05")
    + ACK
)
ZEP_ACK = bytes.fromhex("4558" "02" "02" "0000002a")


def test_zep_v1() -> None:
    z = parse_zep(ZEP_V1)
    assert (z.version, z.content.channel, z.content.device_id, z.content.lqi_mode, z.content.lqi) == (1, 11, 0x1234, 1, 255)
    assert z.content.frame == ACK and build_zep(z) == ZEP_V1


def test_zep_v2_data_and_ack() -> None:
    z = parse_zep(ZEP_V2)
    body = z.content.body
    assert (z.content.type, body.channel, body.device_id, body.lqi, body.sequence) == (1, 15, 1, 200, 42)
    assert ntp_to_posix(body.timestamp) == 0xE8AB0C20 - 2208988800 + 0.5
    assert body.frame == ACK and build_zep(z) == ZEP_V2
    assert zep_v2_data(ACK, channel=15, timestamp=ntp_to_posix(body.timestamp), sequence=42, device_id=1, lqi=200) == ZEP_V2
    a = parse_zep(ZEP_ACK)
    assert (a.content.type, a.content.body.sequence) == (2, 42) and build_zep(a) == ZEP_ACK
    assert ntp_to_posix(posix_to_ntp(1700000000.75)) == 1700000000.75


@pytest.mark.parametrize("raw", [b"EX", b"EX\x03", b"EX\x02\x07", b"XX\x01", ZEP_V2[:-1]])
def test_zep_errors(raw: bytes) -> None:
    with pytest.raises(FrameError, match="^zep: "):
        parse_zep(raw)


class _Pipe(io.RawIOBase):
    """A non-seekable stream, as from a pipe or socket."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        chunk = self._data.read(min(len(b), 7))  # short reads, too
        b[: len(chunk)] = chunk
        return len(chunk)


def test_reads_from_non_seekable_stream() -> None:
    data = capture("trace_tc_unique_linkkey.pcapng").read_bytes()
    assert [r.frame for r in read_capture(io.BufferedReader(_Pipe(data)))] == [r.frame for r in read_capture(data)]
