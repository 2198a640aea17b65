"""Struct-based MAC, NWK and APS header parsing for the replay hot path.

construct takes tens of microseconds per header; replaying a large capture
needs a few.  These functions read the same fields as the construct
declarations in ``mac``, ``nwk`` and ``aps`` (the tests hold them to agree
on every public-capture frame) into flat dicts.  They cover what Zigbee
sends: 2003/2006 MAC frames without MAC security; anything else raises
FrameError so the caller can fall back to the construct codecs.

``iter_psdus`` and ``FastDecoder`` finish the hot path: records straight
from the file bytes, NWK and APS decryption with reused AESCCM objects, and
the ZCL command with its attribute ids and values.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from han_emu.frames.errors import FrameError
from han_emu.frames.fcs import crc16_kermit

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_NWK_BASE = struct.Struct("<HHHBB")  # frame control, dst, src, radius, seq


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
            raise FrameError("mac", "fast path handles 2003/2006 frames without security or IEs")
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


# -- the replay hot path: records, decryption, ZCL ----------------------------------------

_PCAP_HEAD = struct.Struct("<IHHiIII")
_PCAP_REC = struct.Struct("<IIII")
_BLOCK = struct.Struct("<II")
_EPB = struct.Struct("<IIIII")
_TAP_HEAD = struct.Struct("<BBH")

# ZCL data types of fixed size (ZCL spec table 2-10); strings carry their own length
_ZCL_SIZES: dict[int, int] = {0x10: 1, 0x30: 1, 0x31: 2, 0x38: 2, 0x39: 4, 0x3A: 8, 0xE0: 4, 0xE1: 4, 0xE2: 4,
                              0xE8: 2, 0xE9: 2, 0xEA: 4, 0xF0: 8, 0xF1: 16}
for _base in (0x08, 0x18, 0x20, 0x28):
    for _n in range(8):
        _ZCL_SIZES[_base + _n] = _n + 1
_ZCL_LENGTH_PREFIX = {0x41: 1, 0x42: 1, 0x43: 2, 0x44: 2}


def iter_psdus(data: bytes | memoryview) -> Iterator[tuple[bytes, bool]]:
    """(frame bytes, has FCS) for each record of a little-endian pcap or pcapng
    file held in ``data`` (an mmap keeps memory flat), link types 195/230/283.

    Raises FrameError on anything unusual; callers fall back to
    ``pcap.read_capture``, which says exactly what is wrong.
    """
    view = memoryview(data)
    try:
        magic = _U32.unpack_from(view, 0)[0]
        if magic == 0xA1B2C3D4:
            linktype = _PCAP_HEAD.unpack_from(view, 0)[6] & 0xFFFF
            off, end = 24, len(view)
            while off < end:
                _, _, incl, _ = _PCAP_REC.unpack_from(view, off)
                off += 16
                if off + incl > end:
                    raise FrameError("capture", "truncated record")
                yield _link_psdu(linktype, bytes(view[off:off + incl]))
                off += incl
        elif magic == 0x0A0D0D0A:
            off, end, linktypes = 0, len(view), []
            while off < end:
                btype, length = _BLOCK.unpack_from(view, off)
                if length < 12 or off + length > end:
                    raise FrameError("capture", "malformed block")
                if btype == 0x0A0D0D0A:
                    if _U32.unpack_from(view, off + 8)[0] != 0x1A2B3C4D:
                        raise FrameError("capture", "big-endian section")
                    linktypes = []
                elif btype == 1:
                    linktypes.append(_U16.unpack_from(view, off + 8)[0])
                elif btype == 6:
                    iface, _, _, captured, _ = _EPB.unpack_from(view, off + 8)
                    yield _link_psdu(linktypes[iface], bytes(view[off + 28:off + 28 + captured]))
                off += length
        else:
            raise FrameError("capture", "not a little-endian pcap or pcapng file")
    except (struct.error, IndexError):
        raise FrameError("capture", "truncated file") from None


def _link_psdu(linktype: int, data: bytes) -> tuple[bytes, bool]:
    if linktype == 195:
        return data, True
    if linktype == 230:
        return data, False
    if linktype == 283:
        length = _TAP_HEAD.unpack_from(data, 0)[2]
        return data[length:], True  # the emulator's TAP records carry a 16-bit FCS
    raise FrameError("capture", f"unsupported link type {linktype}")


class FastDecoder:
    """Parse, decrypt and ZCL-decode frames with struct and AESCCM only.

    ``decode`` returns (cluster, ZCL command id, attribute ids, values) for a
    frame carrying ZCL, else None.  Keys are tried newest first, and the key
    that last worked for a sender is tried first next time.  Frames the fast
    path does not cover raise FrameError (use ``stack.decode`` for those).
    """

    def __init__(self, network_keys: Iterable[bytes], link_keys: Iterable[bytes] = ()) -> None:
        self.network = [AESCCM(bytes(k), tag_length=4) for k in network_keys]
        self.link = [AESCCM(bytes(k), tag_length=4) for k in link_keys]
        self.addresses: dict[int, int] = {}
        self._last: dict[tuple[str, int], AESCCM] = {}

    def _open(self, layer: str, ciphers: list[AESCCM], source: int, counter: int, control: int,
              aad: bytes, body: bytes) -> bytes:
        nonce = _U64.pack(source) + _U32.pack(counter) + bytes([control])
        first = self._last.get((layer, source))
        for cipher in ([first] if first is not None else []) + ciphers:
            try:
                plain = cipher.decrypt(nonce, body, aad)
            except InvalidTag:
                continue
            self._last[(layer, source)] = cipher
            return plain
        raise FrameError(layer, "MIC check failed")

    def decode(self, psdu: bytes, fcs: bool = True) -> tuple[int, int, list[int], list[int | bytes]] | None:
        mac = parse_mac(psdu, fcs)
        if mac["frame_type"] != 1:
            return None
        start, end = mac["payload_start"], mac["payload_end"]
        nwk = parse_nwk(psdu, start)
        if nwk["frame_type"] != 0:
            return None
        if nwk["security"]:
            source = nwk["sec_source"]
            if source is None:
                source = self.addresses.get(nwk["src"])
                if source is None:
                    raise FrameError("nwk", "sender's IEEE address unknown")
            else:
                self.addresses[nwk["src"]] = source
            hs, ps = start + nwk["header_end"], start + nwk["payload_start"]
            control = (psdu[hs] & 0xF8) | 5
            aad = psdu[start:hs] + bytes([control]) + psdu[hs + 1:ps]
            payload = self._open("nwk", self.network, source, nwk["frame_counter"], control, aad, psdu[ps:end])
        else:
            payload = psdu[start + nwk["payload_start"]:end]
        aps = parse_aps(payload)
        if aps["frame_type"] != 0 or aps["profile"] == 0 or aps["fragmentation"]:
            return None
        if aps["security"]:
            source = aps["sec_source"] if aps["sec_source"] is not None else nwk["sec_source"] or self.addresses.get(nwk["src"])
            if source is None:
                raise FrameError("aps", "sender's IEEE address unknown")
            hs, ps = aps["header_end"], aps["payload_start"]
            control = (payload[hs] & 0xF8) | 5
            ciphers = self.network if (control >> 3) & 3 == 1 else self.link
            aad = payload[:hs] + bytes([control]) + payload[hs + 1:ps]
            zcl = self._open("aps", ciphers, source, aps["frame_counter"], control, aad, payload[ps:])
        else:
            zcl = payload[aps["payload_start"]:]
        return (aps["cluster"], *_zcl(zcl))


def _zcl(frame: bytes) -> tuple[int, list[int], list[int | bytes]]:
    """(command id, attribute ids, values) of a ZCL frame; attributes only for
    the general commands that carry them (read, read response, report)."""
    try:
        fc = frame[0]
        off = 5 if fc & 0x04 else 3
        command = frame[off - 1]
        ids: list[int] = []
        values: list[int | bytes] = []
        if fc & 0x03:  # cluster-specific
            return command, ids, values
        end = len(frame)
        if command == 0x00:
            ids = list(struct.unpack_from(f"<{(end - off) // 2}H", frame, off))
        elif command in (0x01, 0x0A):
            while off < end:
                attr = frame[off] | frame[off + 1] << 8
                off += 2
                ids.append(attr)
                if command == 0x01:
                    status = frame[off]
                    off += 1
                    if status:
                        continue
                kind = frame[off]
                off += 1
                size = _ZCL_SIZES.get(kind)
                if size is not None:
                    values.append(int.from_bytes(frame[off:off + size], "little"))
                else:
                    prefix = _ZCL_LENGTH_PREFIX.get(kind)
                    if prefix is None:
                        break  # arrays and structures: not on this path
                    size = prefix + int.from_bytes(frame[off:off + prefix], "little")
                    values.append(frame[off + prefix:off + size])
                off += size
        return command, ids, values
    except IndexError:
        raise FrameError("zcl", "truncated") from None
