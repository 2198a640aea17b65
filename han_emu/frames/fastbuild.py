"""Struct-based MAC, NWK and APS frame building for the recording hot path.

Building a frame with the construct declarations (``mac``, ``nwk``, ``aps``)
takes about two milliseconds; a recorded virtual day builds tens of
thousands.  :func:`encode` takes the same per-layer field mappings as
``stack.encode`` (see ``builders``) and writes the same bytes with ``struct``
for what Zigbee sends: 2003/2006 MAC data and ACK frames without MAC
security, NWK data and command frames, APS data, command and ACK frames,
each with its auxiliary security header.  Anything else (beacons, MAC
commands, MAC security, 2015 frames, multicast or source-routed NWK frames,
inter-PAN, a ZCL layer, a field out of range) goes to ``stack.encode``, so
the answer is always the declaration's.  Tests hold the two to agree byte for
byte (``tests/frames/test_fastbuild.py``).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from han_emu.frames.aps import ApsFrameType, DeliveryMode, Fragmentation
from han_emu.frames.errors import FrameError
from han_emu.frames.fcs import fcs_bytes
from han_emu.frames.mac import MacFrameType
from han_emu.frames.nwk import NwkFrameType
from han_emu.frames.secheader import KeyId, with_level
from han_emu.frames.security import _cipher, aps_key
from han_emu.frames.stack import encode as construct_encode


class _Fallback(Exception):
    """This frame is outside the fast path: build it with the declarations."""


_B = struct.Struct("<B")
_H = struct.Struct("<H")
_I = struct.Struct("<I")
_Q = struct.Struct("<Q")
_NWK_BASE = struct.Struct("<HHHBB")
_ADDR = {0: None, 2: _H, 3: _Q}


def _flag(value: Any) -> int:
    return 1 if value else 0


def _bits(value: Any, width: int) -> int:
    """``value`` as an unsigned field of ``width`` bits; the declaration says what is wrong with any other."""
    value = int(value)
    if not 0 <= value < 1 << width:
        raise _Fallback
    return value


def mac_header(mac: Mapping[str, Any]) -> bytes:
    """The MAC header (frame control through source address) of ``mac``."""
    fc = mac["frame_control"]
    ftype, version = int(fc["frame_type"]), int(fc["frame_version"])
    if ftype not in (MacFrameType.DATA, MacFrameType.ACK) or version > 1 or fc["security_enabled"] or fc["ie_present"]:
        raise _Fallback
    dst_mode, src_mode, comp = int(fc["dst_addr_mode"]), int(fc["src_addr_mode"]), _flag(fc["panid_compression"])
    if dst_mode not in _ADDR or src_mode not in _ADDR:
        raise _Fallback
    word = (ftype | _flag(fc["frame_pending"]) << 4 | _flag(fc["ack_request"]) << 5 | comp << 6
            | _bits(fc["reserved"], 1) << 7 | _flag(fc["seq_suppressed"]) << 8 | dst_mode << 10
            | version << 12 | src_mode << 14)
    out = [_H.pack(word)]
    if not fc["seq_suppressed"]:
        out.append(_B.pack(mac["seq"]))
    if dst_mode:
        out.append(_H.pack(mac["dst_pan"]))
        out.append(_ADDR[dst_mode].pack(mac["dst_addr"]))  # type: ignore[union-attr]
    if src_mode:
        if not comp:
            out.append(_H.pack(mac["src_pan"]))
        out.append(_ADDR[src_mode].pack(mac["src_addr"]))  # type: ignore[union-attr]
    return b"".join(out)


def aux_header(aux: Mapping[str, Any]) -> bytes:
    """The auxiliary security header of ``aux`` (as ``builders.aux_header`` gives it)."""
    control = aux["control"]
    key_id, nonce = int(control["key_id"]), _flag(control["extended_nonce"])
    out = [_B.pack(_bits(control["reserved"], 2) << 6 | nonce << 5 | _bits(key_id, 2) << 3 | _bits(control["level"], 3)),
           _I.pack(aux["frame_counter"])]
    if nonce:
        out.append(_Q.pack(aux["source"]))
    if key_id == KeyId.NETWORK:
        out.append(_B.pack(aux["key_seq"]))
    return b"".join(out)


def nwk_header(nwk: Mapping[str, Any]) -> tuple[bytes, int]:
    """(NWK header through its auxiliary header, where the auxiliary header starts)."""
    fc = nwk["frame_control"]
    ftype = int(fc["frame_type"])
    if ftype not in (NwkFrameType.DATA, NwkFrameType.COMMAND) or fc["multicast"] or fc["source_route"]:
        raise _Fallback
    ext_dst, ext_src, secure = _flag(fc["ext_dst"]), _flag(fc["ext_src"]), _flag(fc["security"])
    word = (ftype | _bits(fc["protocol_version"], 4) << 2 | _bits(fc["discover_route"], 2) << 6 | secure << 9
            | ext_dst << 11 | ext_src << 12 | _flag(fc["end_device_initiator"]) << 13 | _bits(fc["reserved"], 2) << 14)
    out = [_NWK_BASE.pack(word, nwk["dst"], nwk["src"], nwk["radius"], nwk["seq"])]
    if ext_dst:
        out.append(_Q.pack(nwk["dst_ieee"]))
    if ext_src:
        out.append(_Q.pack(nwk["src_ieee"]))
    header = b"".join(out)
    return (header + aux_header(nwk["aux"]) if secure else header), len(header)


def aps_header(aps: Mapping[str, Any]) -> tuple[bytes, int]:
    """(APS header through its auxiliary header, where the auxiliary header starts)."""
    fc = aps["frame_control"]
    ftype, mode = int(fc["frame_type"]), int(fc["delivery_mode"])
    if ftype == ApsFrameType.INTER_PAN:
        raise _Fallback
    extended, secure = _flag(fc["extended_header"]), _flag(fc["security"])
    out = [_B.pack(extended << 7 | _flag(fc["ack_request"]) << 6 | secure << 5 | _flag(fc["ack_format"]) << 4
                   | _bits(mode, 2) << 2 | _bits(ftype, 2))]
    addressed_ack = ftype == ApsFrameType.ACK and not fc["ack_format"]
    data = ftype == ApsFrameType.DATA
    if (data and mode in (DeliveryMode.UNICAST, DeliveryMode.BROADCAST)) or addressed_ack:
        out.append(_B.pack(aps["dst_endpoint"]))
    if data and mode == DeliveryMode.GROUP:
        out.append(_H.pack(aps["group"]))
    if data or addressed_ack:
        out.append(_H.pack(aps["cluster"]))
        out.append(_H.pack(aps["profile"]))
        out.append(_B.pack(aps["src_endpoint"]))
    out.append(_B.pack(aps["counter"]))
    if extended:
        ext = aps["extended"]
        fragmentation = _bits(ext["control"]["fragmentation"], 2)
        out.append(_B.pack(_bits(ext["control"]["reserved"], 6) << 2 | fragmentation))
        if fragmentation != Fragmentation.NONE:
            out.append(_B.pack(ext["block_number"]))
            if ftype == ApsFrameType.ACK:
                out.append(_B.pack(ext["ack_bitfield"]))
    header = b"".join(out)
    return (header + aux_header(aps["aux"]) if secure else header), len(header)


def seal(header: bytes, aux_at: int, plaintext: bytes, key: bytes, source: int) -> bytes:
    """The secured layer: ``header`` (ending in its auxiliary header, which
    starts at ``aux_at``), then ``plaintext`` encrypted and its MIC (CCM*,
    level 5 substituted in the nonce and the authenticated data)."""
    control = with_level(header[aux_at])
    aad = header[:aux_at] + bytes((control,)) + header[aux_at + 1:]
    nonce = source.to_bytes(8, "little") + header[aux_at + 1 : aux_at + 5] + bytes((control,))
    return header + _cipher(key).encrypt(nonce, plaintext, aad)


def _layer(header: bytes, aux_at: int, fields: Mapping[str, Any], inner: bytes,
           source: int | None, key: bytes | None) -> bytes:
    if not fields["frame_control"]["security"]:
        return header + inner
    aux_source = fields["aux"]["source"] if fields["aux"]["control"]["extended_nonce"] else None
    src = aux_source if aux_source is not None else source
    if src is None or key is None:
        raise _Fallback  # the declarations' path says which is missing
    return seal(header, aux_at, inner, bytes(key), src)


def _aps_key(aps: Mapping[str, Any], network_key: bytes | None, link_key: bytes | None) -> bytes | None:
    if not aps["frame_control"]["security"]:
        return None
    key_id = int(aps["aux"]["control"]["key_id"])
    base = network_key if key_id == KeyId.NETWORK else link_key
    return None if base is None else aps_key(key_id, base)


def encode(
    mac: Mapping[str, Any],
    nwk: Mapping[str, Any] | None = None,
    aps: Mapping[str, Any] | None = None,
    zcl: Mapping[str, Any] | None = None,
    payload: bytes = b"",
    *,
    network_key: bytes | None = None,
    link_key: bytes | None = None,
    nwk_source: int | None = None,
    aps_source: int | None = None,
    fcs: bool = True,
) -> bytes:
    """``stack.encode`` with the same arguments and the same bytes, faster."""
    try:
        if zcl is not None:
            raise _Fallback
        inner = bytes(payload)
        if aps is not None:
            header, aux_at = aps_header(aps)
            inner = _layer(header, aux_at, aps, inner, aps_source, _aps_key(aps, network_key, link_key))
        if nwk is not None:
            header, aux_at = nwk_header(nwk)
            inner = _layer(header, aux_at, nwk, inner, nwk_source, network_key)
        frame = mac_header(mac) + inner
    except (_Fallback, struct.error, KeyError, TypeError, ValueError, FrameError):
        return construct_encode(mac, nwk, aps, zcl, payload, network_key=network_key, link_key=link_key,
                                nwk_source=nwk_source, aps_source=aps_source, fcs=fcs)
    return frame + fcs_bytes(frame) if fcs else frame
