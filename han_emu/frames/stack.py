"""Whole-frame decode and encode across MAC, NWK, APS and ZCL.

``decode`` peels the layers of one MAC frame, decrypting NWK and APS with the
key ring's candidates; ``encode`` does the reverse from per-layer field
mappings (see ``builders`` for ready-made ones) and keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from han_emu.frames.aps import ApsCommandId, ApsFrameType, TransportKeyType, build_aps, parse_aps, parse_aps_command, parse_transport_key
from han_emu.frames.errors import FrameError, MicError
from han_emu.frames.keys import KeyRing
from han_emu.frames.mac import AddrMode, MacFrameType, build_mac, mac_payload, parse_mac
from han_emu.frames.nwk import NwkFrameType, build_nwk, parse_nwk, parse_nwk_command
from han_emu.frames.pcap import CaptureRecord, read_capture
from han_emu.frames.secheader import KeyId
from han_emu.frames.security import aps_key, decrypt, encrypt
from han_emu.frames.zcl import build_zcl, parse_zcl

ZDP_PROFILE = 0x0000
DEVICE_ANNOUNCE = 0x0013
ZIGBEE_NWK_VERSIONS = (1, 2, 3)


@dataclass
class DecodedFrame:
    """Every layer that could be read from one MAC frame.

    ``payload`` is the innermost bytes reached: the ZCL payload, a ZDP or
    command payload, or still-encrypted bytes when a key was missing
    (``encrypted`` then names that layer).
    """

    mac: Any
    nwk: Any = None
    nwk_command: Any = None
    aps: Any = None
    aps_command: Any = None
    transport_key: Any = None
    zcl: Any = None
    payload: bytes = b""
    decrypted: list[str] = field(default_factory=list)
    keys_used: dict[str, bytes] = field(default_factory=dict)
    encrypted: str | None = None
    error: str | None = None

    @property
    def layers(self) -> list[str]:
        names = ["mac"]
        for name in ("nwk", "nwk_command", "aps", "aps_command", "zcl"):
            if getattr(self, name) is not None:
                names.append(name)
        return names


def _mac_source_ieee(mac: Any, keys: KeyRing) -> int | None:
    mode = int(mac.frame_control.src_addr_mode)
    if mode == AddrMode.EXTENDED:
        return int(mac.src_addr)
    if mode == AddrMode.SHORT:
        return keys.addresses.get(int(mac.src_addr))
    return None


def _try_keys(out: DecodedFrame, layer: str, raw: bytes, parsed: Any, candidates: list[bytes], source: int | None) -> bytes | None:
    """Plaintext under the first candidate whose MIC checks; None if no candidates."""
    if not candidates:
        return None
    if source is None:
        raise FrameError(layer, "secured without the extended nonce and the sender's IEEE address is unknown")
    for key in candidates:
        try:
            plain = decrypt(layer, raw, parsed, key, source)
        except MicError:
            continue
        out.decrypted.append(layer)
        out.keys_used[layer] = key
        return plain
    raise MicError(layer, f"none of {len(candidates)} candidate key(s) fits; source {source:016x}")


def decode(data: bytes, keys: KeyRing | None = None, *, fcs: bool = True, learn: bool = True, strict: bool = True) -> DecodedFrame:
    """Decode one MAC frame (with its FCS unless ``fcs`` is False).

    With ``learn`` the ring picks up IEEE addresses and keys delivered in
    Transport-Key commands.  With ``strict`` a MIC failure raises MicError;
    otherwise decoding stops at that layer and ``error`` says why.
    """
    keys = keys if keys is not None else KeyRing()
    mac = parse_mac(data, fcs=fcs)
    out = DecodedFrame(mac=mac, payload=mac_payload(mac))
    if int(mac.frame_control.frame_type) != MacFrameType.DATA or mac.frame_control.security_enabled or not out.payload:
        return out
    try:
        _decode_nwk(out, keys, learn)
    except MicError as exc:
        if strict:
            raise
        out.error = str(exc)
    return out


def _decode_nwk(out: DecodedFrame, keys: KeyRing, learn: bool) -> None:
    raw = out.payload
    nwk = parse_nwk(raw)
    if nwk.frame_control.protocol_version not in ZIGBEE_NWK_VERSIONS:
        raise FrameError("nwk", f"protocol version {nwk.frame_control.protocol_version} is not Zigbee")
    out.nwk = nwk
    mac = out.mac
    if learn:
        if nwk.src_ieee is not None:
            keys.learn_address(nwk.src, nwk.src_ieee)
        if nwk.dst_ieee is not None:
            keys.learn_address(nwk.dst, nwk.dst_ieee)
        if nwk.aux is not None and nwk.aux.source is not None and int(mac.frame_control.src_addr_mode) == AddrMode.SHORT:
            keys.learn_address(int(mac.src_addr), nwk.aux.source)
    payload = bytes(nwk.payload)
    if nwk.aux is not None:
        source = nwk.aux.source if nwk.aux.source is not None else _mac_source_ieee(mac, keys)
        plain = _try_keys(out, "nwk", raw, nwk, keys.network_keys, source)
        if plain is None:
            out.encrypted, out.payload = "nwk", payload
            return
        payload = plain
    out.payload = payload
    ftype = int(nwk.frame_control.frame_type)
    if ftype == NwkFrameType.COMMAND:
        out.nwk_command = parse_nwk_command(payload)
        out.payload = bytes(out.nwk_command.payload)
        return
    _decode_aps(out, keys, learn, payload)


def _aps_source(out: DecodedFrame, keys: KeyRing) -> int | None:
    nwk, mac = out.nwk, out.mac
    if nwk.src_ieee is not None:
        return int(nwk.src_ieee)
    if nwk.src is not None and nwk.src in keys.addresses:
        return keys.addresses[nwk.src]
    if int(mac.frame_control.src_addr_mode) == AddrMode.SHORT and nwk.src == mac.src_addr:
        if nwk.aux is not None and nwk.aux.source is not None:
            return int(nwk.aux.source)
    return None


def _decode_aps(out: DecodedFrame, keys: KeyRing, learn: bool, raw: bytes) -> None:
    aps = parse_aps(raw)
    out.aps = aps
    payload = bytes(aps.payload)
    if aps.aux is not None:
        source = aps.aux.source if aps.aux.source is not None else _aps_source(out, keys)
        plain = _try_keys(out, "aps", raw, aps, keys.aps_candidates(aps.aux.control.key_id), source)
        if plain is None:
            out.encrypted, out.payload = "aps", payload
            return
        payload = plain
    out.payload = payload
    ftype = int(aps.frame_control.frame_type)
    if ftype == ApsFrameType.ACK:
        return
    if ftype == ApsFrameType.COMMAND:
        cmd = parse_aps_command(payload)
        out.aps_command, out.payload = cmd, bytes(cmd.payload)
        if cmd.command_id == ApsCommandId.TRANSPORT_KEY:
            out.transport_key = parse_transport_key(out.payload)
            if learn:
                _learn_key(keys, out.transport_key)
        return
    fragment = aps.extended is not None and aps.extended.block_number
    if fragment:
        return  # a later block: bytes continue the first block's ZCL frame
    if aps.profile == ZDP_PROFILE:
        if learn and aps.cluster == DEVICE_ANNOUNCE and len(payload) >= 11:
            keys.learn_address(int.from_bytes(payload[1:3], "little"), int.from_bytes(payload[3:11], "little"))
        return
    out.zcl = parse_zcl(payload)
    out.payload = bytes(out.zcl.payload)


def _learn_key(keys: KeyRing, tk: Any) -> None:
    if tk.key_type in (TransportKeyType.NETWORK, TransportKeyType.HIGH_SECURITY_NETWORK):
        keys.add_network_key(bytes(tk.key))
    elif tk.key_type in (TransportKeyType.TC_LINK, TransportKeyType.APP_LINK):
        keys.add_link_key(bytes(tk.key))


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
    """Build a complete MAC frame (PSDU with FCS unless ``fcs`` is False).

    Layers nest inside out: ``payload`` goes in the ZCL frame, that in the APS
    frame, that in the NWK frame, that in the MAC frame; omit the inner
    layers you do not want.  A layer whose security bit is set is encrypted:
    NWK with ``network_key``; APS with the key its key identifier names
    (derived from ``link_key``, or ``network_key`` for key id 1).  The nonce's
    source is the auxiliary header's source, else ``nwk_source``/``aps_source``.
    """
    inner = bytes(payload)
    if zcl is not None:
        inner = build_zcl({**zcl, "payload": inner})
    if aps is not None:
        inner = _secure_layer("aps", aps, inner, build_aps, parse_aps, aps_source, _aps_key(aps, network_key, link_key))
    if nwk is not None:
        inner = _secure_layer("nwk", nwk, inner, build_nwk, parse_nwk, nwk_source, network_key)
    body = dict(mac.get("body") or {})
    body["payload"] = inner
    return build_mac({**mac, "body": body}, fcs=fcs)


def _aps_key(aps: Mapping[str, Any], network_key: bytes | None, link_key: bytes | None) -> bytes | None:
    aux = aps.get("aux")
    if not aux:
        return None
    key_id = int(aux["control"]["key_id"])
    base = network_key if key_id == KeyId.NETWORK else link_key
    return None if base is None else aps_key(key_id, base)


def _secure_layer(layer: str, fields: Mapping[str, Any], inner: bytes, build: Any, parse: Any, source: int | None, key: bytes | None) -> bytes:
    if not fields["frame_control"]["security"]:
        return build({**fields, "payload": inner})
    header = build({**fields, "payload": b""})
    parsed = parse(header)
    src = parsed.aux.source if parsed.aux.source is not None else source
    if src is None:
        raise FrameError(layer, "no source IEEE address for the nonce (set the extended nonce or pass the source)")
    if key is None:
        raise FrameError(layer, "security bit set but no key given")
    return encrypt(layer, header, parsed, inner, key, src)


@dataclass(frozen=True)
class SkippedFrame:
    """A record of a capture that did not decode: its index (from 0), file offset and why."""

    index: int
    offset: int
    reason: str


@dataclass
class CaptureReport:
    """What :func:`decode_capture` made of a file so far."""

    records: int = 0
    decoded: int = 0
    skipped: list[SkippedFrame] = field(default_factory=list)


def decode_capture(
    source: str | Path | BinaryIO | bytes,
    keys: KeyRing | None = None,
    *,
    report: CaptureReport | None = None,
    learn: bool = True,
) -> Iterator[tuple[int, CaptureRecord, DecodedFrame]]:
    """Decode every record of a capture, yielding (index, record, frame).

    A bad frame never stops the file: a record with no usable frame, a bad
    FCS, a frame too short for its headers or one whose MIC fails under
    every candidate key is counted in ``report.skipped`` with its index and
    reason, and decoding goes on.  A broken file (wrong magic number,
    unknown link type, truncation) raises CaptureError after the records
    before the break have been yielded.
    """
    keys = keys if keys is not None else KeyRing()
    report = report if report is not None else CaptureReport()
    for index, record in enumerate(read_capture(source)):
        report.records += 1
        reason = record.error or ("FCS mismatch" if record.fcs_ok is False else None)
        if reason is None:
            try:
                frame = decode(record.psdu, keys, learn=learn)
            except FrameError as exc:
                reason = str(exc)
            else:
                report.decoded += 1
                yield index, record, frame
                continue
        report.skipped.append(SkippedFrame(index, record.offset, reason))
