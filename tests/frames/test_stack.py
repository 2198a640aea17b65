"""encode/decode across all layers, tshark as the independent oracle, and
the promise that bad input only ever raises FrameError."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from han_emu.frames import FrameError, KeyRing, MicError, PcapngWriter, PcapWriter, decode, encode
from han_emu.frames.builders import aps_ack, aps_data, mac_ack, mac_data, nwk_frame, zcl_header
from han_emu.frames.secheader import KeyId

NWK_KEY = bytes.fromhex("0123456789abcdef0123456789abcdef")
LINK_KEY = bytes.fromhex("5A6967426565416C6C69616E63653039")
ESI = 0x0011223344556677
IHD = 0x8899AABBCCDDEEFF
SUMMATION = 123456789
# Read Attributes Response: attribute 0x0000 CurrentSummationDelivered, status 0, uint48
RAR_PAYLOAD = struct.pack("<HBB", 0x0000, 0x00, 0x25) + SUMMATION.to_bytes(6, "little")


def se_frame(key_id: int = KeyId.DATA) -> bytes:
    """ESI -> IHD: Metering Read Attributes Response, NWK- and APS-encrypted."""
    return encode(
        mac_data(seq=0x42, pan=0x1A62, dst=0x4D2C, src=0x0000),
        nwk_frame(dst=0x4D2C, src=0x0000, seq=7, frame_counter=1000, source_ieee=ESI),
        aps_data(cluster=0x0702, dst_endpoint=1, src_endpoint=1, counter=3, frame_counter=2000,
                 source_ieee=ESI, key_id=key_id),
        zcl_header(tsn=9, command_id=0x01, server_to_client=True, disable_default_response=True),
        RAR_PAYLOAD,
        network_key=NWK_KEY,
        link_key=LINK_KEY,
    )


def test_encode_decode_se_frame() -> None:
    frame = se_frame()
    # hand-checked plaintext prefix: MAC fc 0x8861, seq, PAN, dst, src
    assert frame[:9] == bytes.fromhex("6188" "42" "621a" "2c4d" "0000")
    d = decode(frame, KeyRing.of([NWK_KEY], [LINK_KEY]))
    assert d.decrypted == ["nwk", "aps"] and d.keys_used == {"nwk": NWK_KEY, "aps": LINK_KEY}
    assert (d.aps.profile, d.aps.cluster, d.aps.counter, d.aps.aux.frame_counter) == (0x0109, 0x0702, 3, 2000)
    assert (d.zcl.tsn, d.zcl.command_id, d.zcl.frame_control.server_to_client) == (9, 1, True)
    assert d.payload == RAR_PAYLOAD


def test_encoded_sizes_match_reference_overheads() -> None:
    # MAC 9 + NWK 8 + aux 14 + APS 8 + APS aux 13 + ZCL 3 + payload + MIC 4 + MIC 4 + FCS 2
    assert len(se_frame()) == 9 + 8 + 14 + 8 + 13 + 3 + len(RAR_PAYLOAD) + 4 + 4 + 2


def test_wrong_link_key_gives_mic_error() -> None:
    with pytest.raises(MicError, match="^aps: MIC check failed"):
        decode(se_frame(), KeyRing.of([NWK_KEY], ["00" * 16]))
    d = decode(se_frame(), KeyRing.of([NWK_KEY], ["00" * 16]), strict=False)
    assert d.decrypted == ["nwk"] and d.zcl is None and "MIC check failed" in (d.error or "")


def test_key_transport_key_frame_decodes_with_link_key_only() -> None:
    d = decode(se_frame(KeyId.KEY_TRANSPORT), KeyRing.of([NWK_KEY], [LINK_KEY]))
    assert d.decrypted == ["nwk", "aps"] and d.keys_used["aps"] != LINK_KEY


def test_apsack_and_mac_ack() -> None:
    ack = encode(mac_data(seq=1, pan=0x1A62, dst=0, src=0x4D2C),
                 nwk_frame(dst=0, src=0x4D2C, seq=8, frame_counter=5, source_ieee=IHD),
                 aps_ack(cluster=0x0702, dst_endpoint=1, src_endpoint=1, counter=3), network_key=NWK_KEY)
    d = decode(ack, KeyRing.of([NWK_KEY]))
    assert d.aps.frame_control.frame_type == 2 and d.aps.counter == 3 and d.zcl is None
    assert encode(mac_ack(seq=0x80)) == bytes.fromhex("020080b031")  # control4-sample.pcap frame 4


def test_encode_needs_key_and_source() -> None:
    with pytest.raises(FrameError, match="nwk: security bit set but no key"):
        encode(mac_data(seq=1, pan=1, dst=2, src=3), nwk_frame(dst=2, src=3, seq=1, frame_counter=1, source_ieee=ESI))
    with pytest.raises(FrameError, match="nwk: no source IEEE"):
        encode(mac_data(seq=1, pan=1, dst=2, src=3), nwk_frame(dst=2, src=3, seq=1, frame_counter=1), network_key=NWK_KEY)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_only_raise_frame_error(data: bytes) -> None:
    try:
        decode(data, KeyRing.of([NWK_KEY], [LINK_KEY]))
    except FrameError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(se_frame()) - 1), st.integers(min_value=1, max_value=255))
def test_corrupted_se_frame_is_rejected(position: int, flip: int) -> None:
    frame = bytearray(se_frame())
    frame[position] ^= flip
    with pytest.raises(FrameError):
        decode(bytes(frame), KeyRing.of([NWK_KEY], [LINK_KEY]))


# tshark oracle ------------------------------------------------------------

def _tshark(tshark: str, path: Path, *args: str) -> str:
    keys = f'"{NWK_KEY.hex()}","Normal","nwk"\n"{LINK_KEY.hex()}","Normal","tc"'
    out = subprocess.run(
        [tshark, "-r", str(path), "-o", f"uat:zigbee_pc_keys:{keys}", *args],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return out.stdout


@pytest.mark.tshark
@pytest.mark.parametrize(("writer", "linktype"), [(PcapWriter, 195), (PcapWriter, 230), (PcapWriter, 283), (PcapngWriter, 283)])
def test_tshark_decodes_our_se_frames(tshark: str, tmp_path: Path, writer: type, linktype: int) -> None:
    path = tmp_path / f"se-{linktype}.cap"
    frames = [se_frame(), se_frame(KeyId.KEY_TRANSPORT), encode(mac_ack(seq=0x42))]
    with open(path, "wb") as f:
        w = writer(f, linktype)
        for i, frame in enumerate(frames):
            w.write(frame, 1700000000.0 + i, channel=3, page=28, rssi=-70.0)
    assert _tshark(tshark, path, "-Y", "_ws.malformed || _ws.expert.severity >= error").strip() == ""
    fields = ["frame.protocols", "wpan.seq_no", "wpan.dst_pan", "zbee.sec.src64", "zbee_aps.cluster",
              "zbee_aps.profile", "zbee_aps.counter", "zbee_zcl.cmd.tsn", "zbee_zcl.cmd.id",
              "zbee_zcl_se.met.attr_id", "zbee_zcl.attr.uint48", "wpan-tap.ch_num", "wpan-tap.ch_page"]
    out = _tshark(tshark, path, "-T", "json", *[x for f in fields for x in ("-e", f)])
    layers = [pkt["_source"]["layers"] for pkt in json.loads(out)]
    assert len(layers) == 3
    for row in layers[:2]:
        assert row["frame.protocols"][0].endswith("zbee_nwk:zbee_aps:zbee_zcl")
        assert row["wpan.seq_no"] == ["66"] and row["wpan.dst_pan"] == ["0x1a62"]
        assert row["zbee.sec.src64"] == ["00:11:22:33:44:55:66:77"] * 2  # NWK and APS aux headers
        assert (row["zbee_aps.cluster"], row["zbee_aps.profile"], row["zbee_aps.counter"]) == (["0x0702"], ["0x0109"], ["3"])
        assert (row["zbee_zcl.cmd.tsn"], row["zbee_zcl.cmd.id"]) == (["9"], ["0x01"])
        assert row["zbee_zcl_se.met.attr_id"] == ["0x0000"] and row["zbee_zcl.attr.uint48"] == [str(SUMMATION)]
        if linktype == 283:
            assert (row["wpan-tap.ch_num"], row["wpan-tap.ch_page"]) == (["3"], ["28"])
    assert "zbee" not in layers[2]["frame.protocols"][0]


@pytest.mark.tshark
def test_tshark_reads_our_rewrite_of_public_capture(tshark: str, tmp_path: Path) -> None:
    from .frames_support import capture

    from han_emu.frames import read_capture

    src = capture("control4-sample.pcap")
    path = tmp_path / "c4.pcapng"
    with open(path, "wb") as f:
        w = PcapngWriter(f, 283)
        for r in read_capture(src):
            w.write(r.psdu, r.timestamp, channel=11)
    ours = _tshark(tshark, path, "-T", "fields", "-e", "zbee_nwk.seqno", "-e", "zbee_zcl.cmd.tsn")
    orig = _tshark(tshark, src, "-T", "fields", "-e", "zbee_nwk.seqno", "-e", "zbee_zcl.cmd.tsn")
    assert ours == orig and ours.count("\n") == 407
