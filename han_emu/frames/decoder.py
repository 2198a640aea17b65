"""The one frame decoder: an 802.15.4 frame in; its NWK/APS addressing and ZCL bytes out.

Each header is read with the ``struct`` parse of ``fastparse``, which the tests
hold to the construct declarations (``mac``, ``nwk``, ``aps``) field for field;
a MAC frame outside that parse (MAC security, 802.15.4-2015 frames) is read
with the construct declaration, and from the NWK header on every frame takes
the same steps.  NWK and APS payloads are decrypted with one reused
``AESCCM`` object per key.  On the way the decoder learns what a capture
teaches: keys from Transport-Key commands, short <-> IEEE addresses from
extended NWK headers, auxiliary headers, association responses and device
announces; it keeps the network key that last worked first; and it reports a
key that fails once per key and device, not once per frame.  APS blocks go
to one :class:`~han_emu.frames.fragments.Reassembler`: a fragmented frame
comes out once, whole, at its last block.

:meth:`Decoder.decode` (the replay hot path) first tries the shape nearly
every Smart Energy frame has with flat ``struct`` reads, held by the tests to
agree with :meth:`Decoder.decode_general`.  ``stack.decode`` is this decoder
with every layer it reached parsed by the construct declarations, for tests
and tools that want each field.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from clusters.ids import ZDO_DEVICE_ANNOUNCE, ZDO_PROFILE_ID
from han_emu.frames import fastparse
from han_emu.frames.aps import ApsCommandId, TransportKeyType, parse_transport_key
from han_emu.frames.errors import FrameError, MicError
from han_emu.frames.fcs import fcs_bytes
from han_emu.frames.fragments import Reassembled, Reassembler
from han_emu.frames.keyring import KeyRing
from han_emu.frames.mac import mac_payload, parse_mac
from han_emu.frames.record import RawFrame
from han_emu.frames.secheader import MIC_LENGTH, SECURITY_LEVEL

DEVICE_ANNOUNCE = ZDO_DEVICE_ANNOUNCE
ZIGBEE_NWK_VERSIONS = (1, 2, 3)
_MAC_DATA, _MAC_COMMAND = 1, 3
_ASSOCIATION_RESPONSE = 0x02
_TRANSPORT_KEY = int(ApsCommandId.TRANSPORT_KEY)

_KEY_IDS = ("data (link key)", "network", "key-transport", "key-load")

# The common frame shape (see Decoder._common), as flat struct layouts.
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_NONCE = struct.Struct("<QIB")
_LEVEL5 = [bytes((b,)) for b in range(256)]
#: MAC frame control: data, no security, PAN ID compression, no sequence
#: suppression or IEs, short destination and source, frame version 0 or 1.
_MAC_MASK, _MAC_SHORT_DATA = 0xEF4F, 0x8841
#: NWK frame control: data frame, secured, no multicast or source route.
_NWK_MASK, _NWK_SECURE_DATA = 0x0703, 0x0200
_MAC_NWK = struct.Struct("<HHHH")  # MAC source; NWK frame control, dst, src (at MAC offset 7)
_AUX_EXT = struct.Struct("<BIQ")  # security control, frame counter, extended source
#: APS frame control: data frame, delivery unicast (0) or broadcast (2).
_APS_MASK = 0x07
_APS_DATA = struct.Struct("<BHHB")  # dst endpoint, cluster, profile, src endpoint (counter follows)

# Frame outcomes.
ZCL = "zcl"
OTHER = "other"  # a good frame that carries no ZCL (ACK, beacon, ZDP, NWK or APS command)
MALFORMED = "malformed"
UNDECRYPTED = "undecrypted"


@dataclass(slots=True)
class Peeled:
    """What one 802.15.4 frame held, down to its ZCL bytes if it had any."""

    kind: str
    error: str | None = None
    src: int | None = None  # NWK addresses
    dst: int | None = None
    src_ep: int | None = None
    dst_ep: int | None = None
    profile: int | None = None
    cluster: int | None = None
    zcl: bytes | None = None
    nwk_secured: bool = False
    nwk_decrypted: bool = False
    aps_decrypted: bool = False
    fragment: bool = False  # an APS data fragment (whole frame in ``zcl`` only at the one completing it)
    first_frame: int | None = None  # index of the first block's frame, for a reassembled frame


@dataclass
class Trace:
    """The bytes of each layer one decode reached and how they were opened,
    for callers that parse every field (``stack.decode``)."""

    nwk: bytes | None = None  # the NWK frame as sent (the MAC payload)
    nwk_payload: bytes | None = None  # its payload, decrypted
    aps: bytes | None = None  # the APS frame (the NWK payload of a data frame)
    aps_payload: bytes | None = None  # its payload, decrypted
    decrypted: list[str] = field(default_factory=list)
    keys_used: dict[str, bytes] = field(default_factory=dict)
    encrypted: str | None = None  # the layer left encrypted because no key was known
    failure: FrameError | None = None  # why a secured layer did not open although keys were known


def ieee_text(ieee: int) -> str:
    return ":".join(f"{b:02x}" for b in ieee.to_bytes(8, "big"))


def _declared_mac(frame: bytes) -> dict[str, Any] | None:
    """The MAC fields the decoder uses, read with the construct declaration
    (for frames the struct parse leaves out); None for a MAC-secured payload."""
    mac = parse_mac(frame, fcs=False)
    fc = mac.frame_control
    if fc.security_enabled:
        return None
    end = len(frame)
    out: dict[str, Any] = {
        "frame_type": int(fc.frame_type), "dst_addr_mode": int(fc.dst_addr_mode), "dst_addr": mac.dst_addr,
        "src_addr_mode": int(fc.src_addr_mode), "src_addr": mac.src_addr,
        "payload_start": end - len(mac_payload(mac)), "payload_end": end,
    }
    if out["frame_type"] == _MAC_COMMAND:
        out["command_id"] = mac.body.command_id
    return out


class Decoder:
    """Decodes frames one by one with a :class:`KeyRing` that it keeps learning into.

    ``warn`` receives one human-readable line per new problem worth telling a
    user about (a key that does not fit a device, a key learnt, ...).  With a
    ``trace`` the general path also records each layer's bytes in it.
    """

    def __init__(self, keys: KeyRing | None = None, warn: Callable[[str], None] | None = None,
                 reassembler: Reassembler | None = None, trace: Trace | None = None) -> None:
        self.keys = keys if keys is not None else KeyRing()
        self.warn = warn or (lambda message: None)
        self.fragments = reassembler if reassembler is not None else Reassembler()
        self.trace = trace
        self._ciphers: dict[bytes, AESCCM] = {}
        self._warned: set[tuple] = set()
        self._index = 0
        self._time = 0.0

    # -- keys ----------------------------------------------------------------------
    def _cipher(self, key: bytes) -> AESCCM:
        c = self._ciphers.get(key)
        if c is None:
            c = self._ciphers[key] = AESCCM(key, tag_length=MIC_LENGTH)
        return c

    def _once(self, token: tuple, message: str) -> None:
        if token not in self._warned:
            self._warned.add(token)
            self.warn(message)

    def _decrypt(self, layer: str, buf: bytes, start: int, hdr: dict, candidates: list[bytes],
                 source: int | None, who: str) -> bytes | None:
        """Plaintext of the secured layer at ``buf[start:]``; None (after a warning) if no key fits."""
        return self._open(layer, buf, start, start + hdr["header_end"], start + hdr["payload_start"],
                          hdr["sec_control"], hdr["frame_counter"], candidates, source, who)

    def _open(self, layer: str, buf: bytes, start: int, hs: int, ps: int, sc: int, counter: int,
              candidates: list[bytes], source: int | None, who: str | int) -> bytes | None:
        """Plaintext of the layer ``buf[start:]`` whose auxiliary header is at ``hs``
        and payload at ``ps``; None (after a warning) if no key fits.  ``who``
        names the sender in warnings (a short address is formatted only then)."""
        if not candidates:
            if self.trace is not None:
                self.trace.encrypted = layer
            key_id = sc >> 3 & 3
            what = "network key" if layer == "nwk" else f"key for key identifier {_KEY_IDS[key_id]}"
            self._once((layer, "nokey", key_id), f"{layer}: frames are encrypted and no {what} is known "
                       f"(first at frame {self._index}); give --key/--link-key or a --keylog")
            return None
        if source is None:
            if type(who) is int:
                who = f"0x{who:04x}"
            if self.trace is not None:
                self.trace.failure = FrameError(layer, "secured without the extended nonce and the sender's IEEE "
                                                "address is unknown")
            self._once((layer, "nosource", who), f"{layer}: cannot decrypt frames from {who}: its IEEE address is not "
                       f"known yet (first at frame {self._index})")
            return None
        level5 = (sc & 0xF8) | SECURITY_LEVEL  # the level on air is 0
        aad = b"".join((buf[start:hs], _LEVEL5[level5], buf[hs + 1 : ps]))
        nonce = _NONCE.pack(source, counter, level5)
        body = buf[ps:]
        if len(body) < MIC_LENGTH:
            raise FrameError(layer, f"secured payload of {len(body)} bytes is shorter than the MIC")
        ciphers = self._ciphers
        for i, key in enumerate(candidates):
            c = ciphers.get(key)
            if c is None:
                c = self._cipher(key)
            try:
                plain = c.decrypt(nonce, body, aad)
            except InvalidTag:
                continue
            if i and layer == "nwk":  # keep the key that worked first for the next frame
                ring = self.keys.network_keys
                ring.insert(0, ring.pop(ring.index(key)))
            if self.trace is not None:
                self.trace.decrypted.append(layer)
                self.trace.keys_used[layer] = key
            return plain
        if self.trace is not None:
            self.trace.failure = MicError(layer, f"none of {len(candidates)} candidate key(s) fits; source {source:016x}")
        for key in candidates:
            self._once((layer, key, source), f"{layer}: key {key.hex()} does not decrypt frames from "
                       f"{ieee_text(source)} ({who if type(who) is str else f'0x{who:04x}'}), "
                       f"first at frame {self._index}")
        return None

    def _learn_key(self, payload: bytes) -> None:
        try:
            tk = parse_transport_key(payload)
        except FrameError:
            return
        key = bytes(tk.key)
        if tk.key_type in (TransportKeyType.NETWORK, TransportKeyType.HIGH_SECURITY_NETWORK):
            if self.keys.add_network_key(key):
                self.warn(f"learnt network key {key.hex()} from the Transport-Key in frame {self._index}")
        elif tk.key_type in (TransportKeyType.TC_LINK, TransportKeyType.APP_LINK):
            if self.keys.add_link_key(key):
                self.warn(f"learnt link key {key.hex()} from the Transport-Key in frame {self._index}")

    # -- frames ----------------------------------------------------------------------
    def decode(self, raw: RawFrame) -> Peeled:
        """One captured frame: the common shape's flat path, else the general one."""
        self._index = raw.index
        self._time = raw.time
        frame = raw.frame
        if raw.fcs is not None and fcs_bytes(frame) != raw.fcs:
            return Peeled(MALFORMED, "mac: FCS mismatch")
        try:
            if len(frame) > 40 and (frame[0] | frame[1] << 8) & _MAC_MASK == _MAC_SHORT_DATA:
                out = self._common(frame)
                if out is not None:
                    return out
            return self.peel(frame)
        except FrameError as exc:
            return Peeled(MALFORMED, str(exc))

    def _common(self, frame: bytes) -> Peeled | None:
        """The shape nearly every frame of a Smart Energy HAN has, with flat
        ``struct`` reads: a MAC data frame between short addresses in one PAN,
        a NWK data frame secured with the network key and the extended nonce,
        an APS data frame (unicast or broadcast, no extended header).  None
        for anything else (before any decryption): the general path decides.
        Held to agree with :meth:`decode_general` by the tests."""
        mac_src, nfc, dst, src = _MAC_NWK.unpack_from(frame, 7)
        if nfc & _NWK_MASK != _NWK_SECURE_DATA or not 1 <= (nfc >> 2) & 15 <= 3:
            return None
        off = 17 + (8 if nfc & 0x0800 else 0) + (8 if nfc & 0x1000 else 0)
        ps = off + 14
        if ps > len(frame) or frame[off] & 0x38 != 0x28:  # extended nonce, network key (+ key sequence number)
            return None
        addresses = self.keys.addresses
        src_ieee = None
        if nfc & 0x1000:
            src_ieee = addresses[src] = _U64.unpack_from(frame, off - 8)[0]
        if nfc & 0x0800:
            addresses[dst] = _U64.unpack_from(frame, 17)[0]
        sc, counter, source = _AUX_EXT.unpack_from(frame, off)
        addresses[mac_src] = source
        plain = self._open("nwk", frame, 9, off, ps, sc, counter, self.keys.network_keys, source, mac_src)
        if plain is None:
            return Peeled(UNDECRYPTED, "nwk: not decrypted (no key fits or sender unknown)", src, dst, None, None,
                          None, None, None, True)
        afc = plain[0] if plain else 0xFF
        # APS data frame, unicast or broadcast, no extended header; its auxiliary header whole.
        if not afc & 0x20:
            aend = 8
        elif len(plain) > 8:
            aend = 13 + (8 if plain[8] & 0x20 else 0) + (plain[8] >> 3 & 3 == 1)
        else:
            aend = 0x7FFF
        if afc & _APS_MASK or afc & 0x80 or len(plain) < aend:
            out = Peeled(OTHER, None, src, dst, None, None, None, None, None, True, True)
            if not plain:
                raise FrameError("aps", "empty NWK payload")
            return self._aps(plain, {"src": src, "src_ieee": src_ieee}, out)
        dst_ep, cluster, profile, src_ep = _APS_DATA.unpack_from(plain, 1)
        aps_decrypted = False
        if afc & 0x20:
            asc = plain[8]
            key_id = asc >> 3 & 3
            if asc & 0x20:
                aps_source = _U64.unpack_from(plain, 13)[0]
            else:
                aps_source = src_ieee if src_ieee is not None else addresses.get(src)
            keys = self.keys
            plain = self._open("aps", plain, 0, 8, aend, asc, _U32.unpack_from(plain, 9)[0],
                               keys.link_keys if key_id == 0 else keys.aps_candidates(key_id), aps_source, src)
            if plain is None:
                return Peeled(UNDECRYPTED, "aps: not decrypted (no key fits or sender unknown)", src, dst, None, None,
                              None, None, None, True, True)
            aps_decrypted = True
        else:
            plain = plain[8:]
        if profile == ZDO_PROFILE_ID:
            if cluster == DEVICE_ANNOUNCE and len(plain) >= 11:
                self.keys.learn_address(plain[1] | plain[2] << 8, int.from_bytes(plain[3:11], "little"))
            return Peeled(OTHER, None, src, dst, src_ep, dst_ep, profile, cluster, None, True, True, aps_decrypted)
        return Peeled(ZCL, None, src, dst, src_ep, dst_ep, profile, cluster, plain, True, True, aps_decrypted)

    def decode_general(self, raw: RawFrame) -> Peeled:
        """Any frame through the general path (the FCS is not checked here)."""
        self._index = raw.index
        self._time = raw.time
        try:
            return self.peel(raw.frame)
        except FrameError as exc:
            return Peeled(MALFORMED, str(exc))

    def peel(self, frame: bytes) -> Peeled:
        """One MAC frame without its FCS, layer by layer; FrameError when a
        header does not parse (the ``decode`` methods turn that into MALFORMED)."""
        try:
            mac = fastparse.parse_mac(frame, fcs=False)
        except fastparse.NotCovered:
            mac = _declared_mac(frame)
            if mac is None:
                return Peeled(OTHER)
        if mac["frame_type"] != _MAC_DATA:
            if mac["frame_type"] == _MAC_COMMAND and mac.get("command_id") == _ASSOCIATION_RESPONSE:
                self._association(frame, mac)
            return Peeled(OTHER)
        if mac["payload_end"] <= mac["payload_start"]:
            return Peeled(OTHER)
        return self._nwk(frame, mac)

    def _association(self, frame: bytes, mac: dict) -> None:
        p = mac["payload_start"]
        if mac["dst_addr_mode"] == 3 and len(frame) >= p + 3 and frame[p + 2] == 0:
            self.keys.learn_address(frame[p] | frame[p + 1] << 8, mac["dst_addr"])

    def _nwk(self, frame: bytes, mac: dict) -> Peeled:
        start, end = mac["payload_start"], mac["payload_end"]
        nwk = fastparse.parse_nwk(frame, start)
        if nwk["protocol_version"] not in ZIGBEE_NWK_VERSIONS:
            raise FrameError("nwk", f"protocol version {nwk['protocol_version']} is not Zigbee")
        trace = self.trace
        if trace is not None:
            trace.nwk = frame[start:end]
        addresses = self.keys.addresses
        src = nwk["src"]
        if nwk["src_ieee"] is not None and src is not None:
            addresses[src] = nwk["src_ieee"]
        if nwk["dst_ieee"] is not None and nwk["dst"] is not None:
            addresses[nwk["dst"]] = nwk["dst_ieee"]
        out = Peeled(OTHER, src=src, dst=nwk["dst"])
        if nwk["security"]:
            out.nwk_secured = True
            mac_src = mac["src_addr"]
            if mac["src_addr_mode"] == 2 and nwk["sec_source"] is not None:
                addresses[mac_src] = nwk["sec_source"]
            source = nwk["sec_source"]
            if source is None:
                source = mac_src if mac["src_addr_mode"] == 3 else addresses.get(mac_src)
            who = f"0x{mac_src:04x}" if mac["src_addr_mode"] == 2 else "an unknown sender"
            plain = self._decrypt("nwk", frame[:end], start, nwk, self.keys.network_keys, source, who)
            if plain is None:
                out.kind, out.error = UNDECRYPTED, "nwk: not decrypted (no key fits or sender unknown)"
                return out
            out.nwk_decrypted = True
        else:
            plain = frame[start + nwk["payload_start"] : end]
        if trace is not None:
            trace.nwk_payload = plain
        if nwk["frame_type"] != 0:
            return out  # NWK command (or inter-PAN): no ZCL inside
        return self._aps(plain, nwk, out)

    def _aps(self, buf: bytes, nwk: dict, out: Peeled) -> Peeled:
        if not buf:
            raise FrameError("aps", "empty NWK payload")
        aps = fastparse.parse_aps(buf)
        trace = self.trace
        if trace is not None:
            trace.aps = buf
        ftype = aps["frame_type"]
        if aps["security"]:
            source = aps["sec_source"]
            src = nwk["src"]
            if source is None:
                source = nwk["src_ieee"] if nwk["src_ieee"] is not None else self.keys.addresses.get(src)
            key_id = aps["sec_control"] >> 3 & 3
            who = f"0x{src:04x}" if src is not None else "an unknown sender"
            plain = self._decrypt("aps", buf, 0, aps, self.keys.aps_candidates(key_id), source, who)
            if plain is None:
                out.kind, out.error = UNDECRYPTED, "aps: not decrypted (no key fits or sender unknown)"
                return out
            out.aps_decrypted = True
        else:
            plain = buf[aps["payload_start"] :]
        if trace is not None:
            trace.aps_payload = plain
        if ftype == 1:  # APS command
            if plain and plain[0] == _TRANSPORT_KEY:
                self._learn_key(plain[1:])
            return out
        if ftype != 0:
            return out  # ACK (of a frame or of a window of blocks) or inter-PAN
        out.profile, out.cluster = aps["profile"], aps["cluster"]
        out.src_ep, out.dst_ep = aps["src_endpoint"], aps["dst_endpoint"]
        if aps["fragmentation"]:
            out.fragment = True
            whole = self._block(out, aps["counter"], aps["fragmentation"], aps["block_number"], plain)
            if whole is None:
                return out
            plain, out.first_frame = whole.payload, whole.first_frame
        if out.profile == ZDO_PROFILE_ID:
            if out.cluster == DEVICE_ANNOUNCE and len(plain) >= 11:
                self.keys.learn_address(plain[1] | plain[2] << 8, int.from_bytes(plain[3:11], "little"))
            return out
        out.kind, out.zcl = ZCL, plain
        return out

    def _block(self, out: Peeled, counter: int, fragmentation: int, block_number: int,
               payload: bytes) -> Reassembled | None:
        """Hand one APS block (addressing already in ``out``) to the reassembler."""
        key = (out.src, out.dst, counter, out.profile, out.cluster, out.src_ep, out.dst_ep)
        return self.fragments.add(key, fragmentation, block_number, payload, self._index, self._time)

    def finish(self) -> None:
        """End of the capture: fragment sets still open count as incomplete."""
        self.fragments.finish()
