"""The struct-based frame builder writes what the construct declarations write.

``fastbuild.encode`` is the recording hot path's copy of ``stack.encode``;
these tests hold it to the declarations byte for byte: golden bytes both ways
(built by the fast path, read back by the declarations), generated frames of
every shape the fast path covers, fields out of range (both refuse), and the
shapes it leaves to the declarations.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from han_emu.frames import FrameError, KeyRing, decode
from han_emu.frames import fastbuild
from han_emu.frames.aps import DeliveryMode, Fragmentation
from han_emu.frames.builders import aps_ack, aps_data, aux_header, mac_ack, mac_data, nwk_frame, zcl_header
from han_emu.frames.mac import BROADCAST, AddrMode
from han_emu.frames.secheader import KeyId
from han_emu.frames.stack import encode as construct_encode

NWK_KEY = bytes.fromhex("0123456789abcdef0123456789abcdef")
LINK_KEY = bytes.fromhex("5A6967426565416C6C69616E63653039")
ESI = 0x0011223344556677
IHD = 0x8899AABBCCDDEEFF
RAR = bytes.fromhex("1809010000002515cd5b070000")

#: ESI -> IHD Read Attributes Response, NWK- and APS-secured, as the declarations build it.
GOLDEN_SE = bytes.fromhex(
    "618842621a2c4d000048022c4d00001e0728e8030000776655443322110000d792577ae3f95e518583ecb1f321530895"
    "a0109e4cee3888a3967032aabf4f0ebef56772a0d0df9f7ae17796"
)
GOLDEN_ACK = bytes.fromhex("02000515e2")


def se_layers() -> dict:
    return dict(
        mac=mac_data(seq=0x42, pan=0x1A62, dst=0x4D2C, src=0x0000),
        nwk=nwk_frame(dst=0x4D2C, src=0x0000, seq=7, frame_counter=1000, source_ieee=ESI),
        aps=aps_data(cluster=0x0702, dst_endpoint=1, src_endpoint=1, counter=3, frame_counter=2000, source_ieee=ESI),
    )


def test_golden_se_frame_both_ways() -> None:
    built = fastbuild.encode(**se_layers(), payload=RAR, network_key=NWK_KEY, link_key=LINK_KEY)
    assert built == GOLDEN_SE
    keys = KeyRing(network_keys=[NWK_KEY], link_keys=[LINK_KEY])
    frame = decode(GOLDEN_SE, keys)
    assert (frame.mac.seq, frame.mac.dst_pan, frame.mac.dst_addr, frame.mac.src_addr) == (0x42, 0x1A62, 0x4D2C, 0)
    assert (frame.nwk.seq, frame.nwk.aux.frame_counter, frame.nwk.aux.source) == (7, 1000, ESI)
    assert (frame.aps.cluster, frame.aps.counter, frame.aps.aux.frame_counter) == (0x0702, 3, 2000)
    assert frame.decrypted == ["nwk", "aps"]
    assert frame.zcl is not None and frame.zcl.tsn == 9


def test_golden_mac_ack_both_ways() -> None:
    assert fastbuild.encode(mac_ack(seq=5)) == GOLDEN_ACK
    assert decode(GOLDEN_ACK).mac.seq == 5


def _both(*layers: dict | None, **kwargs: object) -> tuple[bytes | type, bytes | type]:
    """(declarations, fast path): the bytes each builds, or the error class each raises."""
    results = []
    for build in (construct_encode, fastbuild.encode):
        try:
            results.append(build(*layers, **kwargs))
        except (FrameError, TypeError) as exc:  # the declarations' path lets a None key id through as TypeError
            results.append(type(exc))
    return results[0], results[1]


u8, u16, u32, u64 = (st.integers(0, (1 << n) - 1) for n in (8, 16, 32, 64))


@st.composite
def frames(draw: st.DrawFn) -> tuple:
    """Layer mappings of the shapes the recorder builds, and some it does not."""
    dst = draw(st.one_of(u16, st.just(BROADCAST)))
    mac = mac_data(seq=draw(u8), pan=draw(u16), dst=dst, src=draw(u16), ack_request=draw(st.booleans()),
                   frame_pending=draw(st.booleans()))
    if draw(st.booleans()):
        mac["frame_control"]["src_addr_mode"] = draw(st.sampled_from([AddrMode.NONE, AddrMode.SHORT, AddrMode.EXTENDED]))
        mac["frame_control"]["dst_addr_mode"] = draw(st.sampled_from([AddrMode.NONE, AddrMode.SHORT, AddrMode.EXTENDED]))
        mac["frame_control"]["panid_compression"] = draw(st.booleans())
        mac["frame_control"]["frame_version"] = draw(st.integers(0, 2))
        mac["src_pan"], mac["src_addr"], mac["dst_addr"] = draw(u16), draw(u64), draw(u64)
    secure_nwk = draw(st.booleans())
    nwk = nwk_frame(dst=draw(u16), src=draw(u16), seq=draw(u8), radius=draw(u8),
                    frame_counter=draw(u32) if secure_nwk else None,
                    source_ieee=draw(st.one_of(st.none(), u64)), key_seq=draw(u8), command=draw(st.booleans()),
                    discover_route=draw(st.integers(0, 3)), src_ieee=draw(st.one_of(st.none(), u64)),
                    dst_ieee=draw(st.one_of(st.none(), u64)))
    kind = draw(st.sampled_from(["data", "ack", "command", "none"]))
    aps = None
    if kind == "data":
        mode = draw(st.sampled_from([DeliveryMode.UNICAST, DeliveryMode.BROADCAST, DeliveryMode.GROUP]))
        secure = draw(st.booleans())
        aps = aps_data(cluster=draw(u16), dst_endpoint=draw(u8), src_endpoint=draw(u8), counter=draw(u8),
                       profile=draw(u16), ack_request=draw(st.booleans()), frame_counter=draw(u32) if secure else None,
                       key_id=draw(st.sampled_from(list(KeyId))), source_ieee=draw(st.one_of(st.none(), u64)),
                       delivery_mode=mode, group=draw(u16))
    elif kind == "ack":
        aps = aps_ack(cluster=draw(u16), dst_endpoint=draw(u8), src_endpoint=draw(u8), counter=draw(u8), profile=draw(u16))
        aps["frame_control"]["ack_format"] = draw(st.booleans())
    elif kind == "command":
        aps = aps_data(cluster=0, dst_endpoint=0, src_endpoint=0, counter=draw(u8), frame_counter=draw(u32),
                       key_id=draw(st.sampled_from(list(KeyId))), source_ieee=draw(st.one_of(st.none(), u64)))
        aps["frame_control"]["frame_type"] = 1
    if aps is not None and draw(st.booleans()):
        fragmentation = draw(st.sampled_from(list(Fragmentation)))
        aps["frame_control"]["extended_header"] = True
        aps["extended"] = dict(control=dict(reserved=0, fragmentation=fragmentation), block_number=draw(u8),
                               ack_bitfield=draw(u8))
    nwk_or_none = nwk if kind != "none" or draw(st.booleans()) else None
    keys = dict(network_key=draw(st.sampled_from([NWK_KEY, None])), link_key=draw(st.sampled_from([LINK_KEY, None])),
                nwk_source=draw(st.one_of(st.none(), u64)), aps_source=draw(st.one_of(st.none(), u64)))
    return mac, nwk_or_none, aps, draw(st.binary(max_size=60)), keys


@settings(max_examples=400, deadline=None)
@given(frames())
def test_fast_path_writes_the_declarations_bytes(frame: tuple) -> None:
    mac, nwk, aps, payload, keys = frame
    declared, fast = _both(mac, nwk, aps, None, payload, **keys)
    assert fast == declared


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(["mac.seq", "mac.dst_pan", "nwk.radius", "nwk.dst", "nwk.fc.discover_route",
                              "nwk.fc.protocol_version", "aux.frame_counter", "aux.key_id", "aux.level",
                              "aps.counter", "aps.cluster", "aps.delivery_mode", "ext.block_number"]),
       value=st.one_of(st.integers(-3, -1), st.integers(4, 1 << 70), st.none()))
def test_out_of_range_fields_refused_alike(field: str, value: int | None) -> None:
    layers = se_layers()
    aps = layers["aps"]
    aps["frame_control"]["extended_header"] = True
    aps["extended"] = dict(control=dict(reserved=0, fragmentation=Fragmentation.FIRST), block_number=2, ack_bitfield=None)
    where = {"mac.seq": (layers["mac"], "seq"), "mac.dst_pan": (layers["mac"], "dst_pan"),
             "nwk.radius": (layers["nwk"], "radius"), "nwk.dst": (layers["nwk"], "dst"),
             "nwk.fc.discover_route": (layers["nwk"]["frame_control"], "discover_route"),
             "nwk.fc.protocol_version": (layers["nwk"]["frame_control"], "protocol_version"),
             "aux.frame_counter": (layers["nwk"]["aux"], "frame_counter"),
             "aux.key_id": (aps["aux"]["control"], "key_id"), "aux.level": (aps["aux"]["control"], "level"),
             "aps.counter": (aps, "counter"), "aps.cluster": (aps, "cluster"),
             "aps.delivery_mode": (aps["frame_control"], "delivery_mode"),
             "ext.block_number": (aps["extended"], "block_number")}
    target, key = where[field]
    target[key] = value
    declared, fast = _both(layers["mac"], layers["nwk"], aps, None, RAR, network_key=NWK_KEY, link_key=LINK_KEY)
    assert fast == declared


def test_shapes_left_to_the_declarations() -> None:
    """A ZCL layer, a MAC beacon and an inter-PAN APS frame come out as the declarations build them."""
    layers = se_layers()
    with_zcl = _both(layers["mac"], layers["nwk"], layers["aps"], zcl_header(tsn=1, command_id=0), b"\x00\x00",
                     network_key=NWK_KEY, link_key=LINK_KEY)
    assert with_zcl[0] == with_zcl[1] and isinstance(with_zcl[0], bytes)
    inter_pan = se_layers()
    inter_pan["aps"]["frame_control"]["frame_type"] = 3
    inter_pan["aps"]["frame_control"]["security"] = False
    result = _both(inter_pan["mac"], None, inter_pan["aps"], None, b"x")
    assert result[0] == result[1]
    secured_mac = mac_data(seq=1, pan=1, dst=2, src=3)
    secured_mac["frame_control"]["security_enabled"] = True
    result = _both(secured_mac)
    assert result[0] == result[1]


@pytest.mark.parametrize("key_id", list(KeyId))
def test_every_aps_key_id(key_id: int) -> None:
    layers = se_layers()
    layers["aps"]["aux"] = aux_header(frame_counter=77, key_id=key_id, source=IHD)
    declared, fast = _both(*layers.values(), None, RAR, network_key=NWK_KEY, link_key=LINK_KEY)
    assert isinstance(declared, bytes) and fast == declared


@settings(max_examples=200, deadline=None)
@given(sec=u32, frac=u32, data=st.binary(max_size=140), ticks=u64)
def test_capture_record_heads_agree_with_the_declarations(sec: int, frac: int, data: bytes, ticks: int) -> None:
    """The writers' struct-packed record heads are the declarations' "pcap_record" and "epb"."""
    from han_emu.frames.pcap import _EPB_HEAD, _LE, _PCAP_RECORD

    assert _PCAP_RECORD.pack(sec, frac, len(data), len(data)) == _LE["pcap_record"].build(
        dict(ts_sec=sec, ts_frac=frac, incl_len=len(data), orig_len=len(data)))
    fast = _EPB_HEAD.pack(0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)) + data + bytes(-len(data) % 4)
    assert fast == _LE["epb"].build(dict(interface=0, ts_high=ticks >> 32, ts_low=ticks & 0xFFFFFFFF,
                                         captured_len=len(data), orig_len=len(data), data=data, options=b""))


@settings(max_examples=100, deadline=None)
@given(channel=st.one_of(st.none(), u16), page=st.one_of(st.none(), st.integers(0, 31)),
       rssi=st.one_of(st.none(), st.floats(-100, 10, width=32)), lqi=st.one_of(st.none(), u8),
       frame=st.binary(max_size=127))
def test_tap_header_once_per_info_is_the_declarations(channel: int | None, page: int | None, rssi: float | None,
                                                       lqi: int | None, frame: bytes) -> None:
    """The cached TAP header plus the frame is what the declaration builds for both, and parses back."""
    from han_emu.frames.tap import TapHeader, TapInfo, build_tap, parse_tap, tap_header

    info = TapInfo(channel=channel, page=(page or 0) if channel is not None else None, rssi=rssi, lqi=lqi)
    built = build_tap(frame, info)
    head = tap_header(info)
    whole = TapHeader.parse(built)
    assert built == TapHeader.build({"reserved": 0, "length": whole.length, "tlvs": whole.tlvs, "frame": frame})
    assert len(head) == whole.length and built[len(head):] == frame
    assert parse_tap(built) == (info, frame)
