"""Struct-based MAC, NWK and APS header parsing for the decoder's hot path.

construct takes tens of microseconds per header; replaying a large capture
needs a few.  These functions read the same fields as the construct
declarations in ``mac``, ``nwk`` and ``aps`` (the one declaration of each
format) into flat dicts; tests hold them to agree field for field on every
public-capture frame and on fuzzed bytes.  They cover what Zigbee sends:
2003/2006 MAC frames without MAC security; any other MAC frame raises
:class:`NotCovered` so the caller can read it with the declaration.
"""

from __future__ import annotations

import struct
from typing import Any

from han_emu.frames.errors import FrameError
from han_emu.frames.fcs import crc16_kermit

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_NWK_BASE = struct.Struct("<HHHBB")  # frame control, dst, src, radius, seq


class NotCovered(FrameError):
    """A MAC frame this parse leaves to the construct declaration (MAC security, 2015 frames)."""


def parse_mac(buf: bytes, fcs: bool = True) -> dict[str, Any]:
    """MAC header fields plus ``payload_start``/``payload_end`` offsets into ``buf``."""
    try:
        end = len(buf)
        if fcs:
            end -= 2
            if end < 0 or crc16_kermit(buf[:end]) != _U16.unpack_from(buf, end)[0]:
                raise FrameError("mac", "FCS mismatch")
        fc = _U16.unpack_from(buf, 0)[0]
        ftype, version = fc & 7, (fc >> 12) & 3
        if fc & 0x08 or fc & 0x200 or version > 1 or fc & 0x100:
            raise NotCovered("mac", "fast path handles 2003/2006 frames without security or IEs")
        dmode, smode, comp = (fc >> 10) & 3, (fc >> 14) & 3, bool(fc & 0x40)
        out: dict[str, Any] = {
            "frame_type": ftype, "security_enabled": False, "frame_pending": bool(fc & 0x10),
            "ack_request": bool(fc & 0x20), "panid_compression": comp, "reserved": (fc >> 7) & 1,
            "seq_suppressed": False, "ie_present": False, "dst_addr_mode": dmode,
            "frame_version": version, "src_addr_mode": smode, "seq": buf[2],
        }
        off = 3
        dst_pan = dst = src_pan = src = None
        if dmode:
            dst_pan = _U16.unpack_from(buf, off)[0]
            off += 2
            if dmode == 2:
                dst = _U16.unpack_from(buf, off)[0]
                off += 2
            elif dmode == 3:
                dst = _U64.unpack_from(buf, off)[0]
                off += 8
        if smode:
            if not comp:
                src_pan = _U16.unpack_from(buf, off)[0]
                off += 2
            if smode == 2:
                src = _U16.unpack_from(buf, off)[0]
                off += 2
            elif smode == 3:
                src = _U64.unpack_from(buf, off)[0]
                off += 8
        if off > end:
            raise FrameError("mac", "truncated header")
        out.update(dst_pan=dst_pan, dst_addr=dst, src_pan=src_pan, src_addr=src, header_end=off)
        if ftype == 3:  # command: the id belongs to the header on this path
            if off >= end:
                raise FrameError("mac", "truncated command")
            out["command_id"] = buf[off]
            off += 1
        out["payload_start"], out["payload_end"] = off, end
        return out
    except (struct.error, IndexError):
        raise FrameError("mac", "truncated header") from None


def _aux(buf: bytes, off: int, out: dict[str, Any]) -> int:
    sc = buf[off]
    out["sec_control"] = sc
    out["frame_counter"] = _U32.unpack_from(buf, off + 1)[0]
    off += 5
    if sc & 0x20:
        out["sec_source"] = _U64.unpack_from(buf, off)[0]
        off += 8
    else:
        out["sec_source"] = None
    if (sc >> 3) & 3 == 1:
        out["key_seq"] = buf[off]
        off += 1
    else:
        out["key_seq"] = None
    return off


def parse_nwk(buf: bytes, off: int = 0) -> dict[str, Any]:
    """NWK header fields from ``buf[off:]``; offsets in the result are relative to ``off``."""
    try:
        base = off
        fc = _U16.unpack_from(buf, off)[0]
        ftype = fc & 3
        out: dict[str, Any] = {
            "frame_type": ftype, "protocol_version": (fc >> 2) & 15, "discover_route": (fc >> 6) & 3,
            "multicast": bool(fc & 0x100), "security": bool(fc & 0x200), "source_route": bool(fc & 0x400),
            "ext_dst": bool(fc & 0x800), "ext_src": bool(fc & 0x1000), "end_device_initiator": bool(fc & 0x2000),
            "reserved": fc >> 14,
            "dst": None, "src": None, "radius": None, "seq": None, "dst_ieee": None, "src_ieee": None,
            "multicast_control": None, "relay_index": None, "relays": None,
        }
        if ftype == 3:
            off += 2
        else:
            _, out["dst"], out["src"], out["radius"], out["seq"] = _NWK_BASE.unpack_from(buf, off)
            off += 8
        if fc & 0x800:
            out["dst_ieee"] = _U64.unpack_from(buf, off)[0]
            off += 8
        if fc & 0x1000:
            out["src_ieee"] = _U64.unpack_from(buf, off)[0]
            off += 8
        if fc & 0x100:
            out["multicast_control"] = buf[off]
            off += 1
        if fc & 0x400:
            count, out["relay_index"] = buf[off], buf[off + 1]
            out["relays"] = struct.unpack_from(f"<{count}H", buf, off + 2)
            off += 2 + 2 * count
        out["header_end"] = off - base
        if fc & 0x200:
            off = _aux(buf, off, out)
        if off > len(buf):
            raise IndexError
        out["payload_start"] = off - base
        return out
    except (struct.error, IndexError):
        raise FrameError("nwk", "truncated header") from None


def parse_aps(buf: bytes, off: int = 0) -> dict[str, Any]:
    """APS header fields from ``buf[off:]``; offsets in the result are relative to ``off``."""
    try:
        base = off
        fc = buf[off]
        ftype, mode, ack_format = fc & 3, (fc >> 2) & 3, bool(fc & 0x10)
        out: dict[str, Any] = {
            "frame_type": ftype, "delivery_mode": mode, "ack_format": ack_format,
            "security": bool(fc & 0x20), "ack_request": bool(fc & 0x40), "extended_header": bool(fc & 0x80),
            "dst_endpoint": None, "group": None, "cluster": None, "profile": None, "src_endpoint": None,
            "counter": None, "fragmentation": None, "block_number": None, "ack_bitfield": None,
        }
        off += 1
        if ftype == 0 and mode in (0, 2) or ftype == 2 and not ack_format:
            out["dst_endpoint"] = buf[off]
            off += 1
        if ftype in (0, 3) and mode == 3:
            out["group"] = _U16.unpack_from(buf, off)[0]
            off += 2
        if ftype in (0, 3) or ftype == 2 and not ack_format:
            out["cluster"], out["profile"] = _U16.unpack_from(buf, off)[0], _U16.unpack_from(buf, off + 2)[0]
            off += 4
        if ftype == 0 or ftype == 2 and not ack_format:
            out["src_endpoint"] = buf[off]
            off += 1
        if ftype != 3:
            out["counter"] = buf[off]
            off += 1
        if fc & 0x80:
            ext = buf[off]
            out["ext_control"] = ext
            frag = ext & 3
            out["fragmentation"] = frag
            off += 1
            if frag:
                out["block_number"] = buf[off]
                off += 1
                if ftype == 2:
                    out["ack_bitfield"] = buf[off]
                    off += 1
        out["header_end"] = off - base
        if fc & 0x20:
            off = _aux(buf, off, out)
        if off > len(buf):
            raise IndexError
        out["payload_start"] = off - base
        return out
    except (struct.error, IndexError):
        raise FrameError("aps", "truncated header") from None
