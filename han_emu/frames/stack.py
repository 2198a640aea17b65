"""Whole-frame decode and encode across MAC, NWK, APS and ZCL.

``decode`` runs the one frame decoder (``decoder.Decoder``) on one MAC frame
and parses every layer it reached with the construct declarations, so a
caller sees each field; ``encode`` does the reverse from per-layer field
mappings (see ``builders`` for ready-made ones) and keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from han_emu.frames.aps import ApsCommandId, ApsFrameType, build_aps, parse_aps, parse_aps_command, parse_transport_key
from han_emu.frames.decoder import ZCL, Decoder, Trace
from han_emu.frames.errors import FrameError, MicError
from han_emu.frames.keyring import KeyRing
from han_emu.frames.mac import build_mac, mac_payload, parse_mac
from han_emu.frames.nwk import NwkFrameType, build_nwk, parse_nwk, parse_nwk_command
from han_emu.frames.pcap import CaptureRecord, read_capture
from han_emu.frames.secheader import KeyId
from han_emu.frames.security import aps_key, encrypt
from han_emu.frames.zcl import build_zcl, parse_zcl


@dataclass
class DecodedFrame:
    """Every layer that could be read from one MAC frame, as construct parses.

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


def decode(data: bytes, keys: KeyRing | None = None, *, fcs: bool = True, strict: bool = True) -> DecodedFrame:
    """Decode one MAC frame (with its FCS unless ``fcs`` is False).

    The key ring learns IEEE addresses and the keys delivered in
    Transport-Key commands.  A secured layer whose sender's IEEE address is
    unknown raises FrameError; with ``strict`` a MIC failure under every
    candidate key raises MicError, otherwise decoding stops at that layer and
    ``error`` says why.  An APS block is not ZCL on its own: ``payload`` holds
    its bytes.
    """
    keys = keys if keys is not None else KeyRing()
    mac = parse_mac(data, fcs=fcs)
    out = DecodedFrame(mac=mac, payload=mac_payload(mac))
    trace = Trace()
    peeled = Decoder(keys, trace=trace).peel(data[:-2] if fcs else data)
    if trace.failure is not None:
        if strict or not isinstance(trace.failure, MicError):
            raise trace.failure
        out.error = str(trace.failure)
    out.decrypted, out.keys_used, out.encrypted = trace.decrypted, trace.keys_used, trace.encrypted
    if trace.nwk is None:
        return out
    out.nwk = parse_nwk(trace.nwk)
    out.payload = bytes(out.nwk.payload)
    if trace.nwk_payload is None:
        return out
    out.payload = trace.nwk_payload
    if int(out.nwk.frame_control.frame_type) == NwkFrameType.COMMAND:
        out.nwk_command = parse_nwk_command(trace.nwk_payload)
        out.payload = bytes(out.nwk_command.payload)
        return out
    if trace.aps is None:
        return out
    out.aps = parse_aps(trace.aps)
    out.payload = bytes(out.aps.payload)
    if trace.aps_payload is None:
        return out
    out.payload = trace.aps_payload
    if int(out.aps.frame_control.frame_type) == ApsFrameType.COMMAND:
        out.aps_command = parse_aps_command(trace.aps_payload)
        out.payload = bytes(out.aps_command.payload)
        if out.aps_command.command_id == ApsCommandId.TRANSPORT_KEY:
            out.transport_key = parse_transport_key(out.payload)
    elif peeled.kind == ZCL and peeled.zcl is not None:
        out.zcl = parse_zcl(peeled.zcl)
        out.payload = bytes(out.zcl.payload)
    return out


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
                frame = decode(record.psdu, keys)
            except FrameError as exc:
                reason = str(exc)
            else:
                report.decoded += 1
                yield index, record, frame
                continue
        report.skipped.append(SkippedFrame(index, record.offset, reason))
