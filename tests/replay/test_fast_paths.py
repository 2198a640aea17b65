"""The replay hot paths agree with the general ones: the flat struct decoder
with the field-dict decoder (itself held to the construct declarations), the
field-by-field jsonl with ``json`` of the event's dict, the in-buffer pcap
records with the record-by-record reader."""

from __future__ import annotations

import json

import pytest

from han_emu.frames.aps import DeliveryMode
from han_emu.frames.builders import aps_data, mac_data, nwk_frame, zcl_header
from han_emu.frames.keyring import KeyRing
from han_emu.frames.stack import encode
from han_emu.frames.decoder import Decoder
from han_emu.frames.record import RawFrame
from han_emu.replay.capture import iter_records
from han_emu.replay.player import ErrorEvent, Replay, ZclEvent
from han_emu.replay.output import jsonl_line
from han_emu.replay.zcl import ZclMessage, _int_list

from .helpers import CONVERSATION, ESI, ESI_IEEE, IHD, IHD_IEEE, LINK_KEY, NWK_KEY, PAN, T0, conversation_psdus, pcap_bytes, se_frame

WRONG_KEY = bytes(16)
ZCL = bytes.fromhex("1801010000002587d612000000")  # a Read Attributes Response, by hand


def variant(i: int, *, ext_src: bool = False, ext_dst: bool = False, aps_nonce: bool = False,
            aps_secure: bool = True, broadcast: bool = False, profile: int = 0x0109) -> bytes:
    """One frame of the common shape, or a neighbour of it (without its FCS)."""
    return encode(
        mac_data(seq=i, pan=PAN, dst=0xFFFF if broadcast else ESI, src=IHD),
        nwk_frame(dst=0xFFFD if broadcast else ESI, src=IHD, seq=i, frame_counter=500 + i, source_ieee=IHD_IEEE,
                  src_ieee=IHD_IEEE if ext_src else None, dst_ieee=ESI_IEEE if ext_dst else None),
        aps_data(cluster=0x0702, dst_endpoint=0xFF if broadcast else 1, src_endpoint=1, counter=i,
                 frame_counter=(700 + i) if aps_secure else None, source_ieee=IHD_IEEE if aps_nonce else None,
                 profile=profile, delivery_mode=DeliveryMode.BROADCAST if broadcast else DeliveryMode.UNICAST),
        zcl_header(tsn=i, command_id=0x01, server_to_client=True),
        ZCL[3:],
        network_key=NWK_KEY, link_key=LINK_KEY if aps_secure else None, aps_source=IHD_IEEE,
    )[:-2]


def frames() -> list[bytes]:
    out = [p[:-2] for _, p in conversation_psdus(with_acks=True)]
    out += [variant(1), variant(2, ext_src=True), variant(3, ext_dst=True, ext_src=True), variant(4, aps_nonce=True),
            variant(5, aps_secure=False), variant(6, broadcast=True, aps_secure=False), variant(7, profile=0x0104)]
    whole = variant(8)
    out += [whole[:n] for n in range(len(whole) - 6, len(whole))]  # cut in the payload, the MIC, the aux header
    out += [variant(9, aps_nonce=True)[:n] for n in (41, 44, 50, 55)]
    return out


def decode_both(ring: KeyRing, raws: list[bytes]):
    fast, general = Decoder(_copy(ring)), Decoder(_copy(ring))
    warned_fast: list[str] = []
    warned_general: list[str] = []
    fast.warn, general.warn = warned_fast.append, warned_general.append
    for i, frame in enumerate(raws, 1):
        raw = RawFrame(i, T0 + i, frame, None, 0)
        assert fast.decode(raw) == general.decode_general(raw), f"frame {i}: {frame.hex()}"
        assert fast.keys.addresses == general.keys.addresses
    assert fast.keys.network_keys == general.keys.network_keys
    assert warned_fast == warned_general
    return warned_fast


def _copy(ring: KeyRing) -> KeyRing:
    new = KeyRing()
    for k in ring.link_keys:
        new.add_link_key(k)
    for k in reversed(ring.network_keys):
        new.add_network_key(k)
    new.addresses.update(ring.addresses)
    return new


def ring(network: list[bytes], link: list[bytes], addresses: dict[int, int] | None = None) -> KeyRing:
    r = KeyRing()
    for k in link:
        r.add_link_key(k)
    for k in network:
        r.add_network_key(k)
    r.addresses.update(addresses or {})
    return r


def test_the_common_shape_really_takes_the_fast_path() -> None:
    d = Decoder(ring([NWK_KEY], [LINK_KEY]))
    frame = se_frame(0, *CONVERSATION[1])[:-2]
    peeled = d._common(frame)
    assert peeled is not None and peeled.kind == "zcl" and peeled.zcl == CONVERSATION[1][0]
    assert (peeled.src, peeled.dst, peeled.src_ep, peeled.dst_ep, peeled.cluster) == (ESI, IHD, 1, 1, 0x0702)


@pytest.mark.parametrize("keys", [
    ([NWK_KEY], [LINK_KEY]),  # everything decrypts
    ([WRONG_KEY, NWK_KEY], [LINK_KEY]),  # the second network key fits and moves to the front
    ([NWK_KEY], []),  # APS layer without a link key
    ([NWK_KEY], [WRONG_KEY]),  # APS link key wrong
    ([WRONG_KEY], [LINK_KEY]),  # network key wrong
    ([], []),
])
def test_fast_and_general_decoders_agree(keys) -> None:
    decode_both(ring(*keys), frames())


def test_fast_and_general_agree_when_the_aps_sender_is_unknown() -> None:
    # The conversation's APS frames carry no extended nonce: the sender's IEEE
    # comes from the NWK auxiliary header learnt on the same frame.
    warned = decode_both(ring([NWK_KEY], [LINK_KEY]), [variant(5, aps_secure=True)])
    assert warned == []


def test_jsonl_lines_are_json_of_the_event_dict() -> None:
    events = list(Replay(pcap_bytes(conversation_psdus()), [NWK_KEY], [LINK_KEY]).frames())
    assert len([e for e in events if type(e) is ZclEvent]) == len(CONVERSATION)
    odd = ZclEvent(7, 1.1234567, None, 0xFFFF, None, 255, 0x0109, 0x0700,
                   ZclMessage(True, True, None, 1, 0, "publish_price", None,
                              {"rate_label": 'Prix "été"\n', "price": -1, "ratio": 0.5, "list": [1, None, True]}), b"")
    for event in [*events, odd, ErrorEvent(9, None, "malformed", "damaged \u00e9")]:
        line = jsonl_line(event)
        assert line == json.dumps(event.to_json(), separators=(",", ":"), ensure_ascii=False)
        assert json.loads(line) == json.loads(json.dumps(event.to_json()))


def test_records_read_in_the_buffer_match_the_written_ones() -> None:
    # Past the reader's 256 KiB buffer: records cross its edges and refills.
    psdus = [(T0 + i, p) for i, (_, p) in enumerate(conversation_psdus() * 400)]
    records = list(iter_records(pcap_bytes(psdus)))
    assert len(records) == len(psdus)
    assert all(type(r) is RawFrame for r in records)
    assert [(r.index, r.time, r.frame + r.fcs) for r in records] == [(i, t, p) for i, (t, p) in enumerate(psdus, 1)]
    offsets = [r.offset for r in records]
    assert offsets[0] == 24 and all(b - a == 16 + len(p) for a, b, (_, p) in zip(offsets, offsets[1:], psdus))


@pytest.mark.parametrize("size", [1, 2, 3, 4, 6, 8])
@pytest.mark.parametrize("signed", [False, True])
def test_packed_integer_lists_read_as_int_from_bytes(size: int, signed: bool) -> None:
    data = bytes((37 * i + 200) % 256 for i in range(size * 5 + 1))
    expected = [int.from_bytes(data[i : i + size], "little", signed=signed) for i in range(1, 1 + size * 5, size)]
    assert _int_list(data, 1, 1 + size * 5, size, signed) == expected
