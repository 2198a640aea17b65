"""pcap and pcapng reading and writing for 802.15.4 link types 195, 230, 283.

Readers stream: they yield each record and, at the first truncated or
malformed spot of the file's structure, raise CaptureError naming the record
index and the file offset.  A record whose framing is sound but whose
contents are not (too short for an FCS, a malformed TAP header) is yielded
with ``error`` set, so a reader can count and skip it and go on.  Writers take the
PSDU (MAC frame with FCS, as ``encode`` makes it) and store it in the form
their link type wants.
"""

from __future__ import annotations

import functools
import io
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, BinaryIO

from construct import Bytes, GreedyBytes, GreedyRange, Int16ub, Int16ul, Int32ub, Int32ul, Int32sb, Int32sl, Int64sb, Int64sl, Padding, Struct, this

from han_emu.frames.errors import CaptureError, FrameError
from han_emu.frames.fcs import fcs_bytes
from han_emu.frames.tap import FcsType, TapInfo, build_tap, parse_tap


class LinkType(IntEnum):
    IEEE802_15_4_WITHFCS = 195
    IEEE802_15_4_NOFCS = 230
    IEEE802_15_4_TAP = 283


SUPPORTED = frozenset(int(t) for t in LinkType)
MAX_RECORD = 262144  # larger than any 802.15.4 record; past it the length field is garbage

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BOM = 0x1A2B3C4D
BLOCK_IDB, BLOCK_SPB, BLOCK_EPB = 1, 3, 6
OPT_ENDOFOPT, OPT_IF_TSRESOL = 0, 9


def _formats(le: bool) -> dict[str, Any]:
    """The container declarations in one byte order (files may be either)."""
    u16, u32, s32, s64 = (Int16ul, Int32ul, Int32sl, Int64sl) if le else (Int16ub, Int32ub, Int32sb, Int64sb)
    option = Struct("code" / u16, "length" / u16, "value" / Bytes(this.length), Padding(lambda c: -c.length % 4))
    return {
        "pcap_header": Struct(
            "magic" / u32, "version_major" / u16, "version_minor" / u16,
            "thiszone" / s32, "sigfigs" / u32, "snaplen" / u32, "linktype" / u32,
        ),
        "pcap_record": Struct("ts_sec" / u32, "ts_frac" / u32, "incl_len" / u32, "orig_len" / u32),
        "block_head": Struct("type" / u32, "length" / u32),
        "shb": Struct("bom" / u32, "major" / u16, "minor" / u16, "section_length" / s64, "options" / GreedyRange(option)),
        "idb": Struct("linktype" / u16, "reserved" / u16, "snaplen" / u32, "options" / GreedyRange(option)),
        "epb": Struct(
            "interface" / u32, "ts_high" / u32, "ts_low" / u32, "captured_len" / u32, "orig_len" / u32,
            "data" / Bytes(this.captured_len), Padding(lambda c: -c.captured_len % 4), "options" / GreedyBytes,
        ),
        "spb": Struct("orig_len" / u32, "data" / GreedyBytes),
        "option": option,
    }


_LE, _BE = _formats(True), _formats(False)
# The per-record headers the writers put before every frame, as ``struct`` packs
# them (the declarations above take tens of microseconds a record); tests hold
# them to the declarations' "pcap_record" and "epb" builds.
_PCAP_RECORD = struct.Struct("<IIII")
_EPB_HEAD = struct.Struct("<IIIII")


@dataclass(frozen=True)
class CaptureRecord:
    """One captured frame.  ``frame`` is the MAC frame without FCS; ``fcs`` is
    the two trailing bytes as stored (None when the link type has none)."""

    timestamp: float
    linktype: int
    frame: bytes
    fcs: bytes | None
    offset: int
    channel: int | None = None
    page: int | None = None
    rssi: float | None = None
    lqi: int | None = None
    error: str | None = None
    """Why this record holds no usable frame (None for a good one)."""

    @property
    def fcs_ok(self) -> bool | None:
        return None if self.fcs is None else self.fcs == fcs_bytes(self.frame)

    @property
    def psdu(self) -> bytes:
        """The frame with its FCS (stored, or computed where none was stored)."""
        return self.frame + (self.fcs if self.fcs is not None else fcs_bytes(self.frame))


def _record(linktype: int, data: bytes, ts: float, offset: int) -> CaptureRecord:
    if linktype == LinkType.IEEE802_15_4_NOFCS:
        return CaptureRecord(ts, linktype, data, None, offset)
    if linktype == LinkType.IEEE802_15_4_WITHFCS:
        if len(data) < 2:
            return CaptureRecord(ts, linktype, data, None, offset, error=f"{len(data)}-byte record cannot hold an FCS")
        return CaptureRecord(ts, linktype, data[:-2], data[-2:], offset)
    if linktype == LinkType.IEEE802_15_4_TAP:
        try:
            info, frame = parse_tap(data)
        except FrameError as exc:
            return CaptureRecord(ts, linktype, data, None, offset, error=f"malformed TAP header ({exc.reason})")
        n = {FcsType.NONE: 0, FcsType.CRC16: 2, FcsType.CRC32: 4}.get(info.fcs_type)
        if n is None or len(frame) < n:
            return CaptureRecord(ts, linktype, frame, None, offset, info.channel, info.page, info.rssi, info.lqi,
                                 error=f"TAP FCS type {info.fcs_type} does not fit the frame")
        body, fcs = (frame[:-n], frame[-n:]) if n else (frame, None)
        return CaptureRecord(ts, linktype, body, fcs, offset, info.channel, info.page, info.rssi, info.lqi)
    raise CaptureError(offset, f"unsupported link type {linktype}")


class _Reader:
    """Byte reader that tracks the file offset; needs no seekable stream."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.offset = 0
        self._pending = b""

    def read(self, n: int, what: str) -> bytes:
        data = self._pending + self.stream.read(n - len(self._pending))
        self._pending = b""
        if len(data) < n:
            raise CaptureError(self.offset, f"truncated {what}: needs {n} bytes, {len(data)} present")
        self.offset += n
        return data

    def at_end(self) -> bool:
        if not self._pending:
            self._pending = self.stream.read(1)
        return not self._pending


def read_capture(source: str | Path | BinaryIO | bytes) -> Iterator[CaptureRecord]:
    """Yield the records of a pcap or pcapng file (path, bytes or binary stream)."""
    if isinstance(source, (bytes, bytearray)):
        yield from _numbered(io.BytesIO(bytes(source)))
    elif isinstance(source, (str, Path)):
        try:
            f = open(source, "rb")
        except OSError as exc:
            raise CaptureError(0, f"cannot open {source}: {exc.strerror or exc}") from None
        with f:
            yield from _numbered(f)
    else:
        yield from _numbered(source)


def _numbered(stream: BinaryIO) -> Iterator[CaptureRecord]:
    """Records with, on failure, the index of the record that broke (0-based:
    how many good records came before it)."""
    count = 0
    try:
        for record in _read(stream):
            yield record
            count += 1
    except CaptureError as exc:
        if exc.record is not None or not count:
            raise
        raise CaptureError(exc.offset, exc.detail, record=count) from None


def _read(stream: BinaryIO) -> Iterator[CaptureRecord]:
    r = _Reader(stream)
    head = r.read(4, "file header")
    if head == struct.pack("<I", PCAPNG_SHB):
        yield from _read_pcapng(r, head)
        return
    for le in (True, False):
        magic = struct.unpack("<I" if le else ">I", head)[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            yield from _read_pcap(r, head, le, magic == PCAP_MAGIC_NS)
            return
    raise CaptureError(0, f"not a pcap or pcapng file (magic {head.hex()})")


def _read_pcap(r: _Reader, head: bytes, le: bool, ns: bool) -> Iterator[CaptureRecord]:
    fmt = _LE if le else _BE
    header = fmt["pcap_header"].parse(head + r.read(20, "pcap header"))
    linktype = header.linktype & 0xFFFF
    if linktype not in SUPPORTED:
        raise CaptureError(20, f"unsupported link type {linktype}")
    scale = 1e-9 if ns else 1e-6
    while not r.at_end():
        start = r.offset
        rec = fmt["pcap_record"].parse(r.read(16, "record header"))
        if rec.incl_len > MAX_RECORD:
            raise CaptureError(start, f"malformed record header: length {rec.incl_len}")
        data = r.read(rec.incl_len, "record data")
        yield _record(linktype, data, rec.ts_sec + rec.ts_frac * scale, start)


def ticks_to_seconds(ticks: int, unit: float) -> float:
    """A pcapng timestamp (``ticks`` of ``unit`` seconds) as POSIX seconds,
    with one rounding: ``ticks * unit`` rounds twice (the 64-bit count to a
    float, then the product) and lands up to a few hundred ns off, so a time
    written back and read again would drift.  Decimal units split exactly."""
    per_second = _decimal_rate(unit)
    if per_second:
        sec, frac = divmod(ticks, per_second)
        return sec + frac / per_second
    return ticks * unit


@functools.lru_cache(maxsize=16)
def _decimal_rate(unit: float) -> int:
    """Ticks a second of a decimal ``unit`` (10**-n), 0 for any other."""
    per_second = round(1 / unit)
    decimal = per_second > 1 and str(per_second).rstrip("0") == "1"
    return per_second if decimal and abs(per_second * unit - 1) < 1e-12 else 0


def _tsresol(options: Any) -> float:
    for opt in options:
        if opt.code == OPT_IF_TSRESOL and opt.length >= 1:
            v = opt.value[0]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
    return 1e-6


def _read_pcapng(r: _Reader, head: bytes) -> Iterator[CaptureRecord]:
    fmt = _LE
    interfaces: list[tuple[int, float]] = []
    first = True
    while first or not r.at_end():
        start = r.offset
        head = head if first else r.read(4, "block header")
        first = False
        if head == struct.pack("<I", PCAPNG_SHB):
            length_raw, bom_raw = r.read(4, "section header"), r.read(4, "section header")
            if struct.unpack("<I", bom_raw)[0] == PCAPNG_BOM:
                fmt = _LE
            elif struct.unpack(">I", bom_raw)[0] == PCAPNG_BOM:
                fmt = _BE
            else:
                raise CaptureError(start, "malformed section header: bad byte-order magic")
            length = fmt["block_head"].parse(head + length_raw).length
            body_len = _check_length(start, length, 12)
            body = bom_raw + r.read(body_len - 4, "section header")
            interfaces = []
        else:
            block = fmt["block_head"].parse(head + r.read(4, "block header"))
            length = block.length
            body_len = _check_length(start, length, 12)
            body = r.read(body_len, f"block of type {block.type}")
            btype = block.type
        trailer = fmt["block_head"].subcons[1].parse(r.read(4, "block trailer"))
        if trailer != length:
            raise CaptureError(start, f"malformed block: length {length} but trailer says {trailer}")
        if head == struct.pack("<I", PCAPNG_SHB):
            continue
        try:
            if btype == BLOCK_IDB:
                idb = fmt["idb"].parse(body)
                interfaces.append((idb.linktype, _tsresol(idb.options)))
            elif btype == BLOCK_EPB:
                epb = fmt["epb"].parse(body)
                if epb.interface >= len(interfaces):
                    raise CaptureError(start, f"packet on undeclared interface {epb.interface}")
                linktype, unit = interfaces[epb.interface]
                ts = ticks_to_seconds((epb.ts_high << 32) | epb.ts_low, unit)
                yield _record(linktype, bytes(epb.data), ts, start)
            elif btype == BLOCK_SPB:
                if not interfaces:
                    raise CaptureError(start, "simple packet before any interface")
                spb = fmt["spb"].parse(body)
                yield _record(interfaces[0][0], bytes(spb.data)[: spb.orig_len], 0.0, start)
        except CaptureError:
            raise
        except Exception as exc:  # construct errors inside a block body
            raise CaptureError(start, f"malformed block of type {btype}: {str(exc).splitlines()[-1]}") from None


def _check_length(offset: int, length: int, minimum: int) -> int:
    if length < minimum or length % 4 or length > MAX_RECORD + 64:
        raise CaptureError(offset, f"malformed block: total length {length}")
    return length - 12


def _split_time(ts: float, per_second: int) -> tuple[int, int]:
    ticks = _ticks(ts, per_second)
    return ticks // per_second, ticks % per_second


def _ticks(ts: float, per_second: int) -> int:
    """``ts`` in whole ticks, rounded from its exact value: ``ts * per_second``
    in floating point is off by up to 128 ns at today's times, enough to move a
    time read back from the file to the next float."""
    sec = math.floor(ts)
    return sec * per_second + round((ts - sec) * per_second)


def _link_bytes(linktype: int, psdu: bytes, info: TapInfo) -> bytes:
    if linktype == LinkType.IEEE802_15_4_WITHFCS:
        return psdu
    if linktype == LinkType.IEEE802_15_4_NOFCS:
        return psdu[:-2]
    if linktype == LinkType.IEEE802_15_4_TAP:
        return build_tap(psdu, info)
    raise FrameError("capture", f"cannot write link type {linktype}")


class PcapWriter:
    """Classic pcap (microsecond, little-endian)."""

    def __init__(self, stream: BinaryIO, linktype: int = LinkType.IEEE802_15_4_TAP, snaplen: int = 65535) -> None:
        if linktype not in SUPPORTED:
            raise FrameError("capture", f"cannot write link type {linktype}")
        self.stream, self.linktype = stream, int(linktype)
        stream.write(_LE["pcap_header"].build(dict(
            magic=PCAP_MAGIC_US, version_major=2, version_minor=4, thiszone=0, sigfigs=0,
            snaplen=snaplen, linktype=self.linktype,
        )))

    def write(self, psdu: bytes, timestamp: float, *, channel: int | None = None, page: int = 0,
              rssi: float | None = None, lqi: int | None = None) -> None:
        """Store one PSDU (MAC frame + FCS)."""
        data = _link_bytes(self.linktype, psdu, TapInfo(FcsType.CRC16, channel, page if channel is not None else None, rssi, lqi))
        sec, usec = _split_time(timestamp, 1_000_000)
        try:
            head = _PCAP_RECORD.pack(sec, usec, len(data), len(data))
        except struct.error:  # out of range: the declaration says how
            head = _LE["pcap_record"].build(dict(ts_sec=sec, ts_frac=usec, incl_len=len(data), orig_len=len(data)))
        self.stream.write(head + data)


class PcapngWriter:
    """pcapng with one interface; timestamps in nanoseconds (if_tsresol 9)."""

    def __init__(self, stream: BinaryIO, linktype: int = LinkType.IEEE802_15_4_TAP, snaplen: int = 0) -> None:
        if linktype not in SUPPORTED:
            raise FrameError("capture", f"cannot write link type {linktype}")
        self.stream, self.linktype = stream, int(linktype)
        shb = _LE["shb"].build(dict(bom=PCAPNG_BOM, major=1, minor=0, section_length=-1, options=[]))
        self._block(PCAPNG_SHB, shb)
        options = [dict(code=OPT_IF_TSRESOL, length=1, value=b"\x09"), dict(code=OPT_ENDOFOPT, length=0, value=b"")]
        self._block(BLOCK_IDB, _LE["idb"].build(dict(linktype=self.linktype, reserved=0, snaplen=snaplen, options=options)))

    def _block(self, btype: int, body: bytes) -> None:
        length = len(body) + 12
        self.stream.write(struct.pack("<II", btype, length) + body + struct.pack("<I", length))

    def write(self, psdu: bytes, timestamp: float, *, channel: int | None = None, page: int = 0,
              rssi: float | None = None, lqi: int | None = None) -> None:
        data = _link_bytes(self.linktype, psdu, TapInfo(FcsType.CRC16, channel, page if channel is not None else None, rssi, lqi))
        ticks = _ticks(timestamp, 1_000_000_000)
        try:
            body = _EPB_HEAD.pack(0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)) + data + bytes(-len(data) % 4)
        except struct.error:  # out of range: the declaration says how
            body = _LE["epb"].build(dict(
                interface=0, ts_high=ticks >> 32, ts_low=ticks & 0xFFFFFFFF,
                captured_len=len(data), orig_len=len(data), data=data, options=b"",
            ))
        self._block(BLOCK_EPB, body)
