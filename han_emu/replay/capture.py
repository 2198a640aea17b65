"""Streaming capture reader for replay: pcap and pcapng records to 802.15.4 frames.

``han_emu.frames.pcap`` is the reference reader (construct declarations, one
per container format); replay needs a few microseconds per record and must
also take sniffer files that carry ZEP over Ethernet/IP/UDP, and must keep
going after a damaged record where it can.  So this module reads the same
containers with ``struct`` and yields, per record, either a
:class:`~han_emu.frames.record.RawFrame` (what the frame decoder takes) or a
:class:`CaptureProblem` naming the frame index and file offset.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

from han_emu.frames.errors import FrameError
from han_emu.frames.pcap import ticks_to_seconds
from han_emu.frames.record import RawFrame
from han_emu.frames.zep import ZEP_PORT, ZepType, ntp_to_posix, parse_zep

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_WITHFCS = 195
LINKTYPE_NOFCS = 230
LINKTYPE_TAP = 283
SUPPORTED_LINKTYPES = frozenset(
    {LINKTYPE_WITHFCS, LINKTYPE_NOFCS, LINKTYPE_TAP, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_IPV4}
)
#: Larger than any record a Zigbee or ZEP capture holds; past it a length field is garbage.
MAX_RECORD = 65535
#: How far past a damaged pcap record header we look for the next good one.
RESYNC_WINDOW = 1 << 16

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_TAP_TLV = struct.Struct("<HH")
_U16BE = struct.Struct(">H")


@dataclass(slots=True)
class CaptureProblem:
    """A record that could not be read (``index`` may be 0 for the file header)."""

    index: int
    offset: int
    message: str
    fatal: bool = False  # nothing after it could be read


class _Skip(Exception):
    """A record that carries no 802.15.4 frame (other traffic in an Ethernet capture)."""


# --- link-layer payloads -----------------------------------------------------------


def _tap(data: bytes) -> tuple[bytes, bytes | None, int | None, int | None]:
    if len(data) < 4 or data[0] != 0:
        raise FrameError("tap", "not a version 0 TAP header")
    length = data[2] | data[3] << 8
    if length < 4 or length > len(data):
        raise FrameError("tap", f"header length {length} does not fit a {len(data)}-byte record")
    fcs_len, channel, page, off = 2, None, None, 4
    while off + 4 <= length:
        kind, n = _TAP_TLV.unpack_from(data, off)
        value = data[off + 4 : off + 4 + n]
        if len(value) < n:
            raise FrameError("tap", f"TLV type {kind} overruns the header")
        if kind == 0 and n >= 1:
            fcs_len = {0: 0, 1: 2, 2: 4}.get(value[0], -1)
            if fcs_len < 0:
                raise FrameError("tap", f"unknown FCS type {value[0]}")
        elif kind == 3 and n >= 3:
            channel, page = value[0] | value[1] << 8, value[2]
        off += 4 + n + (-n % 4)
    frame = data[length:]
    if len(frame) < fcs_len:
        raise FrameError("tap", "frame shorter than its FCS")
    if fcs_len == 0:
        return frame, None, channel, page
    if fcs_len == 4:  # a 32-bit FCS is not the 802.15.4 CRC-16 we check
        return frame[:-4], None, channel, page
    return frame[:-2], frame[-2:], channel, page


def _udp_in_ip(data: bytes, off: int) -> bytes:
    """The UDP payload of an IPv4 or IPv6 packet starting at ``off``, if ZEP."""
    if len(data) < off + 1:
        raise _Skip
    version = data[off] >> 4
    if version == 4:
        ihl = (data[off] & 0x0F) * 4
        if data[off + 9] != 17 or ihl < 20:
            raise _Skip
        frag = _U16BE.unpack_from(data, off + 6)[0]
        if frag & 0x1FFF:
            raise _Skip  # a later IP fragment has no UDP header
        udp = off + ihl
    elif version == 6:
        if data[off + 6] != 17:
            raise _Skip
        udp = off + 40
    else:
        raise _Skip
    if len(data) < udp + 8:
        raise FrameError("udp", "truncated UDP header")
    sport, dport, ulen = struct.unpack_from(">HHH", data, udp)
    if ZEP_PORT not in (sport, dport):
        raise _Skip
    return data[udp + 8 : udp + ulen] if ulen >= 8 else data[udp + 8 :]


_ZEP_V1 = struct.Struct(">BHBB7sB")  # after "EX" and the version: channel, device, LQI mode, LQI, reserved, length
_ZEP_V2_DATA = struct.Struct(">BBHBBQI10sB")  # type, then as v1 with the NTP timestamp and sequence
_ZEP_V2_ACK = b"EX\x02\x02"


def _zep(payload: bytes) -> tuple[bytes, bytes | None, int | None, float | None]:
    """Frame, FCS, channel and (v2, when set) the sender's timestamp.

    The fast reading of the ZEP declaration (``frames.zep``) for a live
    sniffer's every datagram; whatever it does not take whole (short or
    unknown datagrams) goes to the declaration, which names the problem.
    Held to the declaration by ``tests/replay/test_zep_reading.py``."""
    n = len(payload)
    if n >= 32 and payload[:4] == b"EX\x02\x01":
        _type, channel, _device, lqi_mode, _lqi, timestamp, _seq, _res, length = _ZEP_V2_DATA.unpack_from(payload, 3)
        if 32 + length <= n and length >= 2:
            frame = payload[32 : 32 + length]
            stamp = ntp_to_posix(timestamp) if timestamp else None
            return frame[:-2], (frame[-2:] if lqi_mode == 1 else None), channel, stamp
    elif n >= 16 and payload[:3] == b"EX\x01":
        channel, _device, lqi_mode, _lqi, _res, length = _ZEP_V1.unpack_from(payload, 3)
        if 16 + length <= n and length >= 2:
            frame = payload[16 : 16 + length]
            return frame[:-2], (frame[-2:] if lqi_mode == 1 else None), channel, None
    elif n >= 8 and payload[:4] == _ZEP_V2_ACK:
        raise _Skip
    return _zep_declared(payload)


def _zep_declared(payload: bytes) -> tuple[bytes, bytes | None, int | None, float | None]:
    """:func:`_zep` read with the construct declaration."""
    zep = parse_zep(payload)
    if zep.version == 2 and zep.content.type == ZepType.ACK:
        raise _Skip
    body = zep.content.body if zep.version == 2 else zep.content
    frame = bytes(body.frame)
    if len(frame) < 2:
        raise FrameError("zep", f"{len(frame)}-byte frame cannot hold an FCS")
    stamp = ntp_to_posix(body.timestamp) if zep.version == 2 and body.timestamp else None
    # LQI mode (0) puts link-quality bytes where the FCS would be: not checkable.
    return frame[:-2], (frame[-2:] if body.lqi_mode == 1 else None), int(body.channel), stamp


def zep_frame(index: int, payload: bytes, arrival: float, offset: int = 0) -> RawFrame | None:
    """The 802.15.4 frame of one ZEP datagram (None for a ZEP ack).

    Its time is the sender's ZEP v2 timestamp, which is when the sniffer
    heard the frame (and what a forwarded capture carries), else ``arrival``.
    Raises FrameError for a datagram that is not well-formed ZEP."""
    try:
        frame, fcs, channel, stamp = _zep(payload)
    except _Skip:
        return None
    return RawFrame(index, arrival if stamp is None else stamp, frame, fcs, offset, channel, None)


def _ethertype_payload(linktype: int, data: bytes) -> int:
    """Offset of the IP header inside a record of ``linktype``."""
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4):
        return 0
    if linktype == LINKTYPE_LINUX_SLL:
        if len(data) < 16:
            raise FrameError("sll", "truncated cooked header")
        etype, off = _U16BE.unpack_from(data, 14)[0], 16
    else:
        if len(data) < 14:
            raise FrameError("ethernet", "truncated header")
        etype, off = _U16BE.unpack_from(data, 12)[0], 14
        while etype in (0x8100, 0x88A8) and len(data) >= off + 4:  # VLAN tags
            etype, off = _U16BE.unpack_from(data, off + 2)[0], off + 4
    if etype not in (0x0800, 0x86DD):
        raise _Skip
    return off


def frame_of(index: int, linktype: int, data: bytes, ts: float, offset: int) -> RawFrame:
    """The 802.15.4 frame inside one record; FrameError when it is damaged,
    :class:`_Skip` when the record carries none."""
    if linktype == LINKTYPE_WITHFCS:
        if len(data) < 2:
            raise FrameError("capture", f"{len(data)}-byte record cannot hold an FCS")
        return RawFrame(index, ts, data[:-2], data[-2:], offset)
    if linktype == LINKTYPE_NOFCS:
        return RawFrame(index, ts, data, None, offset)
    if linktype == LINKTYPE_TAP:
        frame, fcs, channel, page = _tap(data)
        return RawFrame(index, ts, frame, fcs, offset, channel, page)
    try:
        payload = _udp_in_ip(data, _ethertype_payload(linktype, data))
    except IndexError:
        raise FrameError("ip", "truncated header") from None
    frame, fcs, channel, _stamp = _zep(payload)
    return RawFrame(index, ts, frame, fcs, offset, channel, None)


# --- containers -----------------------------------------------------------------------


class _Stream:
    """Buffered reads with the file offset; works on pipes (no seeking)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.buf = b""
        self.pos = 0  # in buf
        self.offset = 0  # file offset of buf[pos]

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.buf):
            self.buf = self.buf[self.pos :] + self._fill(n - (len(self.buf) - self.pos))
            self.pos, end = 0, n
        out = self.buf[self.pos : end]
        self.pos += len(out)
        self.offset += len(out)
        return out

    def _fill(self, need: int) -> bytes:
        """At least ``need`` more bytes, fewer only at the end of the stream.

        ``read1`` returns what one read gives (a pipe's bytes so far) where
        ``read(n)`` on a buffered pipe would wait for all ``n``: a sniffer's
        pipe delivers a record at a time, and each must come out as it lands.
        """
        read = getattr(self.f, "read1", self.f.read)
        chunks = [read(max(need, 1 << 18))]
        got = len(chunks[0])
        while got < need and chunks[-1]:
            chunks.append(read(max(need - got, 1 << 16)))
            got += len(chunks[-1])
        return b"".join(chunks)

    def peek(self, n: int) -> bytes:
        data = self.take(n)
        self.pos -= len(data)
        self.offset -= len(data)
        return data


def iter_records(source: str | Path | BinaryIO | bytes) -> Iterator[RawFrame | CaptureProblem]:
    """Every record of a capture as a frame or a problem, streaming."""
    if isinstance(source, (bytes, bytearray)):
        import io

        yield from _records(_Stream(io.BytesIO(bytes(source))))
    elif isinstance(source, (str, Path)):
        with open(source, "rb") as f:
            yield from _records(_Stream(f))
    else:
        yield from _records(_Stream(source))


#: What the replay engine reads: a capture (path, bytes, binary stream) or records already cut.
RecordSource = Union[str, Path, BinaryIO, bytes, Iterable[Union[RawFrame, CaptureProblem]]]


def records_of(source: RecordSource) -> Iterator[RawFrame | CaptureProblem]:
    """The records of ``source``: a capture is read with :func:`iter_records`;
    anything else is taken to be an iterable of records already (a live
    sniffer, see ``han_emu.replay.live``)."""
    if isinstance(source, (str, Path, bytes, bytearray)) or hasattr(source, "read"):
        return iter_records(source)  # type: ignore[arg-type]
    return iter(source)  # type: ignore[arg-type]


def _records(s: _Stream) -> Iterator[RawFrame | CaptureProblem]:
    head = s.peek(4)
    if head == _PCAPNG_SHB:
        yield from _pcapng(s)
    elif head in _PCAP_MAGICS:
        yield from _pcap(s, *_PCAP_MAGICS[head])
    else:
        yield CaptureProblem(0, 0, f"not a pcap or pcapng file (starts {head.hex() or 'empty'})", True)


def _convert(index: int, linktype: int, data: bytes, ts: float, offset: int) -> RawFrame | CaptureProblem | None:
    try:
        return frame_of(index, linktype, data, ts, offset)
    except _Skip:
        return None
    except FrameError as exc:
        return CaptureProblem(index, offset, f"frame {index}: damaged record at offset {offset}: {exc}")


def _pcap(s: _Stream, order: str, unit: float) -> Iterator[RawFrame | CaptureProblem]:
    header = s.take(24)
    if len(header) < 24:
        yield CaptureProblem(0, 0, "truncated pcap file header", True)
        return
    linktype = struct.unpack_from(order + "I", header, 20)[0] & 0xFFFF
    if linktype not in SUPPORTED_LINKTYPES:
        yield CaptureProblem(0, 20, f"unsupported link type {linktype} (replay reads 195, 230, 283 and ZEP in UDP)", True)
        return
    yield from _pcap_records(s, order, unit, linktype)


def _pcap_records(s: _Stream, order: str, unit: float, linktype: int, index: int = 0,
                  last_ts: float | None = None) -> Iterator[RawFrame | CaptureProblem]:
    """The records after the file header (or, for a :class:`Chunk`, from where it starts)."""
    rec = struct.Struct(order + "IIII")
    with_fcs = linktype == LINKTYPE_WITHFCS
    while True:
        start = s.offset
        buf, pos = s.buf, s.pos
        if pos + 16 <= len(buf):  # the record in the buffer already: no copies of its header
            sec, frac, incl, orig = rec.unpack_from(buf, pos)
            end = pos + 16 + incl
            if end <= len(buf) and incl <= MAX_RECORD and incl <= orig:
                index += 1
                s.pos, s.offset = end, start + 16 + incl
                last_ts = sec + frac * unit
                if with_fcs and incl >= 2:  # frame_of's first case, without the calls
                    yield RawFrame(index, last_ts, buf[pos + 16 : end - 2], buf[end - 2 : end], start)
                    continue
                out = _convert(index, linktype, buf[pos + 16 : end], last_ts, start)
                if out is not None:
                    yield out
                continue
        raw = s.take(16)
        if not raw:
            return
        index += 1
        if len(raw) < 16:
            yield CaptureProblem(index, start, f"frame {index}: truncated record header at offset {start} ({len(raw)} of 16 bytes)", True)
            return
        sec, frac, incl, orig = rec.unpack(raw)
        if incl > MAX_RECORD or incl > orig:
            found = _resync(s, rec, last_ts, unit)
            skipped = s.offset - start
            if found:
                yield CaptureProblem(index, start, f"frame {index}: malformed record header at offset {start} (length {incl}); skipped {skipped} bytes to the next record")
                continue
            yield CaptureProblem(index, start, f"frame {index}: malformed record header at offset {start} (length {incl}); no record follows", True)
            return
        data = s.take(incl)
        if len(data) < incl:
            yield CaptureProblem(index, start, f"frame {index}: truncated record at offset {start}: needs {incl} bytes, {len(data)} present", True)
            return
        last_ts = sec + frac * unit
        out = _convert(index, linktype, data, last_ts, start)
        if out is not None:
            yield out


def _resync(s: _Stream, rec: struct.Struct, last_ts: float | None, unit: float) -> bool:
    """Step past a garbled record header to the next plausible one.

    A candidate is a header whose lengths fit and whose timestamp is within a
    day of the last good one, and which is followed by another such header or
    the end of the file."""
    s.offset -= 15
    s.pos -= 15  # one byte past the bad header's start
    window = s.peek(RESYNC_WINDOW + 32)
    for i in range(len(window) - 15):
        if _plausible(window, i, rec, last_ts, unit):
            n = rec.unpack_from(window, i)[2]
            nxt = i + 16 + n
            if nxt == len(window) < RESYNC_WINDOW + 32 or (nxt + 16 <= len(window) and _plausible(window, nxt, rec, last_ts, unit)):
                s.take(i)
                return True
    s.take(len(window))
    return False


def _plausible(buf: bytes, i: int, rec: struct.Struct, last_ts: float | None, unit: float) -> bool:
    sec, frac, incl, orig = rec.unpack_from(buf, i)
    if incl > MAX_RECORD or incl > orig or frac * unit >= 1.0 or incl == 0:
        return False
    return last_ts is None or abs(sec - last_ts) < 86400


def _pcapng(s: _Stream, order: str = "<", known: Iterable[tuple[int, float]] = (),
            index: int = 0) -> Iterator[RawFrame | CaptureProblem]:
    """The blocks of a pcapng file (or, for a :class:`Chunk`, from where it starts,
    with the byte order and ``known`` interfaces of its section)."""
    interfaces: list[tuple[int, float]] = list(known)
    while True:
        start = s.offset
        head = s.take(8)
        if not head:
            return
        if len(head) < 8:
            yield CaptureProblem(index + 1, start, f"frame {index + 1}: truncated block header at offset {start}", True)
            return
        if head[:4] == _PCAPNG_SHB:
            bom = s.peek(4)
            if bom == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                yield CaptureProblem(index, start, f"malformed section header at offset {start}", True)
                return
            interfaces = []
        btype, length = struct.unpack(order + "II", head)
        if length < 12 or length % 4 or length > MAX_RECORD + 64:
            yield CaptureProblem(index + 1, start, f"frame {index + 1}: malformed block at offset {start} (length {length}); nothing after it can be read", True)
            return
        body = s.take(length - 8)
        if len(body) < length - 8:
            yield CaptureProblem(index + 1, start, f"frame {index + 1}: truncated block at offset {start}: needs {length} bytes, {len(body) + 8} present", True)
            return
        if struct.unpack_from(order + "I", body, length - 12)[0] != length:
            yield CaptureProblem(index + 1, start, f"frame {index + 1}: malformed block at offset {start} (trailer does not match length {length})", True)
            return
        if btype == 1:  # interface description
            if len(body) < 12:
                yield CaptureProblem(index, start, f"malformed interface block at offset {start}", True)
                return
            linktype = struct.unpack_from(order + "H", body, 0)[0]
            interfaces.append((linktype, _tsresol(body[8 : length - 12], order)))
        elif btype in (6, 3):
            index += 1
            if btype == 6:
                if len(body) < 24:
                    yield CaptureProblem(index, start, f"frame {index}: malformed packet block at offset {start}")
                    continue
                iface, hi, lo, cap, _orig = struct.unpack_from(order + "IIIII", body, 0)
                data = body[20 : 20 + cap]
                if len(data) < cap or 20 + cap > length - 12:
                    yield CaptureProblem(index, start, f"frame {index}: packet block at offset {start} claims {cap} bytes, holds fewer")
                    continue
            else:
                iface, hi, lo = 0, 0, 0
                orig = struct.unpack_from(order + "I", body, 0)[0]
                data = body[4 : min(4 + orig, length - 12)]
            if iface >= len(interfaces):
                yield CaptureProblem(index, start, f"frame {index}: packet on undeclared interface {iface} at offset {start}")
                continue
            linktype, unit = interfaces[iface]
            if linktype not in SUPPORTED_LINKTYPES:
                yield CaptureProblem(index, start, f"frame {index}: unsupported link type {linktype}")
                continue
            out = _convert(index, linktype, data, ticks_to_seconds((hi << 32) | lo, unit), start)
            if out is not None:
                yield out


def _tsresol(options: bytes, order: str) -> float:
    off = 0
    while off + 4 <= len(options):
        code, n = struct.unpack_from(order + "HH", options, off)
        if code == 0:
            break
        if code == 9 and n >= 1:
            v = options[off + 4]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
        off += 4 + n + (-n % 4)
    return 1e-6


# --- chunks: runs of whole records, read on their own (replay on several processes) ---------


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of whole records of a capture file, with the reader's state where it starts.

    ``end`` is None for the last chunk of a file that is damaged or cut short
    after ``start``: that chunk is read as a stream to the end of the file, so
    the damage is met and reported as a reading of the whole file meets it.
    ``Chunk(0, None, ...)`` is the whole file."""

    start: int
    end: int | None
    index: int  # records before it
    pcapng: bool = False
    order: str = "<"
    linktype: int = 0  # pcap
    unit: float = 1e-6  # pcap
    last_ts: float | None = None  # pcap: the previous record's time, for resynchronising after damage
    interfaces: tuple[tuple[int, float], ...] = ()  # pcapng: the section's interfaces so far


def capture_chunks(path: str | Path, size: int) -> Iterator[Chunk]:
    """The capture at ``path`` cut into chunks of about ``size`` bytes at record
    boundaries, streaming (only record and block headers are read).  Reading
    every chunk with :func:`chunk_records`, in order, gives what
    :func:`iter_records` gives for the whole file."""
    with open(path, "rb") as f:
        s = _Stream(f)
        head = s.peek(4)
        if head == _PCAPNG_SHB:
            yield from _pcapng_chunks(s, size)
        elif head in _PCAP_MAGICS:
            yield from _pcap_chunks(s, size, *_PCAP_MAGICS[head])
        else:
            yield Chunk(0, None, 0)


def chunk_records(path: str | Path, chunk: Chunk) -> Iterator[RawFrame | CaptureProblem]:
    """The records of one chunk of the capture at ``path`` (numbered and placed as in the whole file)."""
    with open(path, "rb") as f:
        if chunk.start == 0 and chunk.end is None:
            yield from _records(_Stream(f))
            return
        f.seek(chunk.start)
        if chunk.end is None:
            s = _Stream(f)
        else:
            import io

            s = _Stream(io.BytesIO(f.read(chunk.end - chunk.start)))
        s.offset = chunk.start
        if chunk.pcapng:
            yield from _pcapng(s, chunk.order, chunk.interfaces, chunk.index)
        else:
            yield from _pcap_records(s, chunk.order, chunk.unit, chunk.linktype, chunk.index, chunk.last_ts)


def _pcap_chunks(s: _Stream, size: int, order: str, unit: float) -> Iterator[Chunk]:
    header = s.take(24)
    linktype = struct.unpack_from(order + "I", header, 20)[0] & 0xFFFF if len(header) == 24 else -1
    if linktype not in SUPPORTED_LINKTYPES:
        yield Chunk(0, None, 0)  # the reader reports the header
        return
    rec = struct.Struct(order + "IIII")
    index, last_ts = 0, None
    start, first_index, first_ts = 24, 0, None
    end: int | None = None  # None: damage or a cut-short record follows
    unpack = rec.unpack_from
    while True:
        buf, pos = s.buf, s.pos
        n, base = len(buf), s.offset - pos  # base: the file offset of buf[0]
        full = start + size - base  # where in buf the chunk is full
        while pos + 16 <= n:  # the records whole in the buffer, with local variables only
            sec, frac, incl, orig = unpack(buf, pos)
            nxt = pos + 16 + incl
            if nxt > n or incl > MAX_RECORD or incl > orig:
                break
            pos = nxt
            index += 1
            last_ts = sec + frac * unit
            if pos >= full:
                yield Chunk(start, base + pos, first_index, False, order, linktype, unit, first_ts)
                start, first_index, first_ts = base + pos, index, last_ts
                full = start + size - base
        s.pos, s.offset = pos, base + pos
        if pos + 16 > len(buf):
            rest = len(s.peek(16))
            if rest < 16:
                end = None if rest else s.offset
                break
            buf, pos = s.buf, s.pos
        sec, frac, incl, orig = rec.unpack_from(buf, pos)
        if incl > MAX_RECORD or incl > orig:
            break
        if pos + 16 + incl <= len(buf):
            s.pos, s.offset = pos + 16 + incl, s.offset + 16 + incl
        elif len(s.take(16 + incl)) < 16 + incl:
            break
        index += 1
        last_ts = sec + frac * unit
        if s.offset - start >= size:
            yield Chunk(start, s.offset, first_index, False, order, linktype, unit, first_ts)
            start, first_index, first_ts = s.offset, index, last_ts
    if end is None or end > start:
        yield Chunk(start, end, first_index, False, order, linktype, unit, first_ts)


def _pcapng_chunks(s: _Stream, size: int) -> Iterator[Chunk]:
    order = "<"
    interfaces: list[tuple[int, float]] = []
    index = 0
    start, first = 0, Chunk(0, 0, 0, True)
    end: int | None = None
    while True:
        head = s.peek(12)
        if not head:
            end = s.offset
            break
        if len(head) < 8:
            break
        if head[:4] == _PCAPNG_SHB:
            bom = head[8:12]
            if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                break
            order = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = []
        btype, length = struct.unpack_from(order + "II", head)
        if length < 12 or length % 4 or length > MAX_RECORD + 64:
            break
        block = s.take(length)
        if len(block) < length or struct.unpack_from(order + "I", block, length - 4)[0] != length:
            break
        if btype == 1:
            if length < 20:
                break
            interfaces.append((struct.unpack_from(order + "H", block, 8)[0], _tsresol(block[16 : length - 4], order)))
        elif btype in (6, 3):
            index += 1
        if s.offset - start >= size:
            yield Chunk(start, s.offset, first.index, True, first.order, interfaces=first.interfaces)
            start, first = s.offset, Chunk(s.offset, s.offset, index, True, order, interfaces=tuple(interfaces))
    if end is None or end > start:
        yield Chunk(start, end, first.index, True, first.order, interfaces=first.interfaces)
