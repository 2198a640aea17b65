"""The one frame decoder: its replay path (flat reads for the common shape,
field dicts for the rest) agrees with the construct parse of every layer on
the shipped captures; frames outside the struct parse (802.15.4-2015, MAC
security) are read with the MAC declaration and take the same steps after it;
an APS block is never taken for a ZCL frame on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from han_emu.frames import KeyRing, decode, read_capture
from han_emu.frames.builders import aps_data, mac_data, nwk_frame, zcl_header
from han_emu.frames.decoder import MALFORMED, OTHER, UNDECRYPTED, ZCL, Decoder
from han_emu.frames.fcs import fcs_bytes
from han_emu.frames.keylog import read_keylog_rows
from han_emu.frames.record import RawFrame
from han_emu.frames.stack import encode
from han_emu.frames.zcl import build_zcl

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
SHIPPED = ["ihd-mp184", "cad-profile-paging"]

NWK_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
LINK_KEY = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
ESI, ESI_IEEE, IHD = 0x0000, 0x0011223344556677, 0x4D2C
RSP = bytes.fromhex("1801010000002587d612000000")  # Read Attributes Response, by hand


def se_frame(*, mac: dict[str, Any] | None = None, aps: dict[str, Any] | None = None, payload: bytes = RSP[3:],
             fcs: bool = False) -> bytes:
    """ESI -> IHD, NWK- and APS-secured: a Metering Read Attributes Response unless ``aps`` says otherwise."""
    return encode(
        mac or mac_data(seq=5, pan=0x1A62, dst=IHD, src=ESI),
        nwk_frame(dst=IHD, src=ESI, seq=5, frame_counter=100, source_ieee=ESI_IEEE),
        aps or aps_data(cluster=0x0702, dst_endpoint=1, src_endpoint=1, counter=5, frame_counter=200),
        zcl_header(tsn=1, command_id=0x01, server_to_client=True, disable_default_response=True) if aps is None
        else None,
        payload, network_key=NWK_KEY, link_key=LINK_KEY, aps_source=ESI_IEEE, fcs=fcs,
    )


def peel(frame: bytes, fcs: bytes | None = None) -> Any:
    return Decoder(KeyRing.of([NWK_KEY], [LINK_KEY])).decode(RawFrame(1, 0.0, frame, fcs, 0))


@pytest.mark.parametrize("name", SHIPPED)
def test_replay_path_agrees_with_the_construct_layers(name: str) -> None:
    keys = [k for k, _ in read_keylog_rows(CAPTURES / f"{name}.keys")]
    network, links = keys[:1], keys[1:]
    replay = Decoder(KeyRing.of(network, links))
    ring = KeyRing.of(network, links)
    zcl_frames = 0
    for i, record in enumerate(read_capture(CAPTURES / f"{name}.pcapng"), 1):
        p = replay.decode(RawFrame(i, record.timestamp, record.frame, record.fcs, record.offset))
        d = decode(record.psdu, ring)
        assert p.kind in (ZCL, OTHER), (i, p.error)
        aps = d.aps
        if aps is not None and aps.extended is not None and aps.extended.control.fragmentation:
            data = aps.frame_control.frame_type == 0  # else an APS ACK of a window of blocks
            assert d.zcl is None and p.fragment == data  # blocks are ZCL only whole, at the last one
            continue
        assert (p.kind == ZCL) == (d.zcl is not None)
        if d.zcl is None:
            continue
        zcl_frames += 1
        assert p.zcl == build_zcl(d.zcl)
        assert (p.src, p.dst, p.src_ep, p.dst_ep, p.profile, p.cluster) == (
            d.nwk.src, d.nwk.dst, d.aps.src_endpoint, d.aps.dst_endpoint, d.aps.profile, d.aps.cluster)
    assert zcl_frames > 20


def test_2015_frames_take_the_declared_mac_and_the_same_steps() -> None:
    mac = mac_data(seq=5, pan=0x1A62, dst=IHD, src=ESI)
    mac["frame_control"]["frame_version"] = 2  # same header layout for short addresses in one PAN
    frame = se_frame(mac=mac)
    p = peel(frame)
    assert p == peel(se_frame())
    assert (p.kind, p.zcl, p.cluster, p.nwk_decrypted, p.aps_decrypted) == (ZCL, RSP, 0x0702, True, True)
    d = decode(frame, KeyRing.of([NWK_KEY], [LINK_KEY]), fcs=False)
    assert d.mac.frame_control.frame_version == 2 and build_zcl(d.zcl) == RSP


def test_mac_secured_frames_are_left_alone() -> None:
    mac = mac_data(seq=5, pan=0x1A62, dst=IHD, src=ESI)
    mac["frame_control"]["security_enabled"] = True
    mac["security_header"] = {"control": {"reserved": 0, "asn_in_nonce": False, "frame_counter_suppressed": False,
                                          "key_id_mode": 0, "level": 5}, "frame_counter": 9, "key_source": b"",
                              "key_index": None}
    assert peel(se_frame(mac=mac)).kind == OTHER
    d = decode(se_frame(mac=mac), fcs=False)
    assert d.nwk is None and d.decrypted == []


def test_fcs_and_key_failures() -> None:
    frame = se_frame()
    assert peel(frame, fcs_bytes(frame)).kind == ZCL
    bad = peel(frame, bytes(2))
    assert (bad.kind, bad.error) == (MALFORMED, "mac: FCS mismatch")
    wrong = Decoder(KeyRing.of([bytes(16)])).decode(RawFrame(1, 0.0, frame, None, 0))
    assert wrong.kind == UNDECRYPTED and wrong.nwk_secured and not wrong.nwk_decrypted


@pytest.mark.parametrize(("fragmentation", "block_number"), [(1, 2), (1, 0), (2, 1)])
def test_an_aps_block_alone_is_not_zcl(fragmentation: int, block_number: int) -> None:
    aps = aps_data(cluster=0x0702, dst_endpoint=1, src_endpoint=1, counter=5, frame_counter=200)
    aps["frame_control"]["extended_header"] = True
    aps["extended"] = {"control": {"reserved": 0, "fragmentation": fragmentation}, "block_number": block_number,
                       "ack_bitfield": None}
    frame = se_frame(aps=aps, payload=RSP)  # a block that would parse as a ZCL frame
    d = decode(frame, KeyRing.of([NWK_KEY], [LINK_KEY]), fcs=False)
    assert d.zcl is None and d.payload == RSP and d.decrypted == ["nwk", "aps"]
    p = peel(frame)
    assert p.kind == OTHER and p.fragment and p.zcl is None
