"""The struct fast path agrees with the construct declarations on every
public-capture frame (MAC, NWK, and APS where it can be decrypted)."""

from __future__ import annotations

from typing import Any

import pytest
from .frames_support import CAPTURES, capture

from han_emu.frames import FrameError, KeyRing, decode, fastparse, read_capture
from han_emu.frames.mac import AddrMode
from han_emu.frames.security import decrypt


def mac_view(f: Any) -> dict[str, Any]:
    """The construct parse flattened into fastparse's field names."""
    fc = f.frame_control
    out = {k: fc[k] for k in ("frame_type", "security_enabled", "frame_pending", "ack_request", "panid_compression",
                              "reserved", "seq_suppressed", "ie_present", "dst_addr_mode", "frame_version", "src_addr_mode")}
    out.update(seq=f.seq, dst_pan=f.dst_pan, dst_addr=f.dst_addr, src_pan=f.src_pan, src_addr=f.src_addr)
    if fc.frame_type == 3:
        out["command_id"] = f.body.command_id
    return out


def aux_view(aux: Any) -> dict[str, Any]:
    if aux is None:
        return {}
    c = aux.control
    control = c.reserved << 6 | c.extended_nonce << 5 | c.key_id << 3 | c.level
    return {"sec_control": control, "frame_counter": aux.frame_counter, "sec_source": aux.source, "key_seq": aux.key_seq}


def nwk_view(n: Any) -> dict[str, Any]:
    fc = n.frame_control
    out = {k: fc[k] for k in ("frame_type", "protocol_version", "discover_route", "multicast", "security", "source_route",
                              "ext_dst", "ext_src", "end_device_initiator", "reserved")}
    mc = n.multicast_control
    out.update(
        dst=n.dst, src=n.src, radius=n.radius, seq=n.seq, dst_ieee=n.dst_ieee, src_ieee=n.src_ieee,
        multicast_control=None if mc is None else mc.max_non_member_radius << 5 | mc.non_member_radius << 2 | mc.mode,
        relay_index=None if n.source_route is None else n.source_route.relay_index,
        relays=None if n.source_route is None else tuple(n.source_route.relays),
        header_end=n.header_end, payload_start=n.payload_start, **aux_view(n.aux),
    )
    return out


def aps_view(a: Any) -> dict[str, Any]:
    fc = a.frame_control
    out = {k: fc[k] for k in ("frame_type", "delivery_mode", "ack_format", "security", "ack_request", "extended_header")}
    ext = a.extended
    out.update(
        dst_endpoint=a.dst_endpoint, group=a.group, cluster=a.cluster, profile=a.profile, src_endpoint=a.src_endpoint,
        counter=a.counter, fragmentation=None if ext is None else ext.control.fragmentation,
        block_number=None if ext is None else ext.block_number, ack_bitfield=None if ext is None else ext.ack_bitfield,
        header_end=a.header_end, payload_start=a.payload_start, **aux_view(a.aux),
    )
    if ext is not None:
        out["ext_control"] = ext.control.reserved << 2 | ext.control.fragmentation
    return out


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_fastparse_agrees_with_construct(name: str) -> None:
    _, nwk_keys, link_keys = CAPTURES[name]
    ring = KeyRing.of(nwk_keys, link_keys)
    layers = {"mac": 0, "nwk": 0, "aps": 0}
    for rec in read_capture(capture(name)):
        if rec.fcs_ok is False:
            with pytest.raises(FrameError, match="FCS"):
                fastparse.parse_mac(rec.psdu)
            continue
        psdu = rec.psdu
        d = decode(psdu, ring, strict=False)
        fast = fastparse.parse_mac(psdu)
        assert {k: fast[k] for k in mac_view(d.mac)} == mac_view(d.mac)
        if d.mac.frame_control.frame_type != 0:  # beacons: the superframe etc. stay in the fast payload
            assert psdu[fast["payload_start"] : fast["payload_end"]] == d.mac.body.payload
        layers["mac"] += 1
        if d.nwk is None:
            continue
        fn = fastparse.parse_nwk(psdu, fast["payload_start"])
        assert fn == nwk_view(d.nwk)
        layers["nwk"] += 1
        if d.aps is None:
            continue
        nwk_raw = bytes(d.mac.body.payload)
        if "nwk" in d.decrypted:
            plain = decrypt("nwk", nwk_raw, d.nwk, d.keys_used["nwk"], d.nwk.aux.source)
        else:
            plain = bytes(d.nwk.payload)
        assert fastparse.parse_aps(plain) == aps_view(d.aps)
        layers["aps"] += 1
    assert layers["mac"] > 0
    if name not in ("zigbee-join-authenticate.pcap",):
        assert layers["aps"] > 0


def test_fastparse_rejects_what_it_does_not_cover() -> None:
    secured = bytes.fromhex("4988013412010002000d0100000007deadbeef")
    with pytest.raises(FrameError, match="mac: fast path"):
        fastparse.parse_mac(secured, fcs=False)
    for bad in (b"", b"\x61\x88", bytes.fromhex("618830593390")):
        with pytest.raises(FrameError, match="mac: "):
            fastparse.parse_mac(bad, fcs=False)
    with pytest.raises(FrameError, match="nwk: truncated"):
        fastparse.parse_nwk(bytes.fromhex("0802021100001e"))
    with pytest.raises(FrameError, match="aps: truncated"):
        fastparse.parse_aps(bytes.fromhex("400100"))
    assert AddrMode.SHORT == 2
