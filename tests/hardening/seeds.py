"""Valid inputs to mutate: frames and files from the repository's example capture
and the public captures shipped in tests/fixtures."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from han_emu.frames import KeyRing, decode, read_capture
from han_emu.frames.mac import mac_payload, parse_mac
from han_emu.frames.zep import zep_v2_data
from han_emu.frames.keylog import load_keylog

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "captures" / "ihd-mp184.pcapng"
EXAMPLE_KEYS = REPO / "captures" / "ihd-mp184.keys"
PUBLIC = REPO / "tests" / "fixtures"


def keyring() -> KeyRing:
    return load_keylog(EXAMPLE_KEYS.read_text())


@cache
def capture_files() -> tuple[bytes, ...]:
    files = [EXAMPLE.read_bytes()]
    if PUBLIC.is_dir():
        # The heads of the small public captures: several link types and both formats.
        files += [p.read_bytes()[:4096] for p in sorted(PUBLIC.glob("*.pcap*"))]
    return tuple(files)


@cache
def psdus() -> tuple[bytes, ...]:
    """Whole 802.15.4 frames (with FCS)."""
    out = [rec.psdu for rec in read_capture(EXAMPLE)]
    if PUBLIC.is_dir():
        for p in sorted(PUBLIC.glob("*.pcap*")):
            try:
                out += [rec.psdu for _, rec in zip(range(40), read_capture(p))]
            except Exception:
                continue
    return tuple(out)


@cache
def layer_seeds() -> dict[str, tuple[bytes, ...]]:
    """Each layer's bytes as found in the example capture, decrypted where keys allow."""
    keys = keyring()
    nwk, aps, zcl = [], [], []
    for frame in psdus():
        try:
            mac = parse_mac(frame)
            payload = mac_payload(mac)
            if payload:
                nwk.append(payload)
            d = decode(frame, keys, strict=False)
        except Exception:
            continue
        if d.aps is not None:
            # The NWK payload (its plaintext when secured) is the APS frame.
            aps.append(bytes(d.nwk.payload) if d.nwk.aux is None else _nwk_plain(frame, keys))
        if d.zcl is not None:
            zcl.append(_zcl_bytes(d))
    zep = [zep_v2_data(f, channel=11, timestamp=1.8e9 + i, sequence=i) for i, f in enumerate(psdus()[:8])]
    return {"nwk": tuple(nwk), "aps": tuple(a for a in aps if a), "zcl": tuple(zcl), "zep": tuple(zep)}


def _nwk_plain(frame: bytes, keys: KeyRing) -> bytes:
    from han_emu.frames.security import decrypt
    from han_emu.frames.nwk import parse_nwk

    raw = mac_payload(parse_mac(frame))
    parsed = parse_nwk(raw)
    for key in keys.network_keys:
        try:
            return decrypt("nwk", raw, parsed, key, parsed.aux.source)
        except Exception:
            continue
    return b""


def _zcl_bytes(d) -> bytes:
    z = d.zcl
    fc = (z.frame_control.frame_type | z.frame_control.manufacturer_specific << 2
          | z.frame_control.server_to_client << 3 | z.frame_control.disable_default_response << 4)
    head = bytes([fc]) + (int(z.manufacturer).to_bytes(2, "little") if z.manufacturer is not None else b"")
    return head + bytes([z.tsn, z.command_id]) + bytes(z.payload)
