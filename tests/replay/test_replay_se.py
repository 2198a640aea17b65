"""A synthesized, doubly-encrypted Smart Energy capture decodes to hand-written objects."""

from __future__ import annotations

import json

import pytest

from han_emu.cli.main import main
from han_emu.readout import Readout
from han_emu.replay import ErrorEvent, Replay, ZclEvent

from .helpers import LINK_KEY, NWK_KEY, T0, conversation_psdus, pcap_bytes, zep_capture

EXPECTED = [
    {"frame": 1, "time": T0, "src": "0x4d2c", "dst": "0x0000", "src_ep": 1, "dst_ep": 1, "profile": 0x0109,
     "cluster": 0x0702, "command": "read_attributes",
     "attributes": {"0x0000": None, "0x0001": None, "0x0301": None, "0x0302": None, "0x0307": None, "0x0400": None},
     "payload": None},
    {"frame": 3, "time": T0 + 1, "src": "0x0000", "dst": "0x4d2c", "src_ep": 1, "dst_ep": 1, "profile": 0x0109,
     "cluster": 0x0702, "command": "read_attributes_rsp",
     "attributes": {"0x0000": 1234567, "0x0001": 42, "0x0301": 1, "0x0302": 1000, "0x0307": "1234567890123",
                    "0x0400": None},
     "payload": {"statuses": {"0x0400": 0x86}}},
    {"frame": 5, "time": T0 + 2, "src": "0x4d2c", "dst": "0x0000", "src_ep": 1, "dst_ep": 2, "profile": 0x0109,
     "cluster": 0x0702, "command": "get_profile", "attributes": None,
     "payload": {"interval_channel": 1, "end_time": 0, "number_of_periods": 3}},
    {"frame": 7, "time": T0 + 3, "src": "0x0000", "dst": "0x4d2c", "src_ep": 2, "dst_ep": 1, "profile": 0x0109,
     "cluster": 0x0702, "command": "get_profile_response", "attributes": None,
     "payload": {"end_time": 757382400, "status": 0, "profile_interval_period": 2,
                 "number_of_periods_delivered": 3, "intervals": [100, 200, 300]}},
    {"frame": 9, "time": T0 + 4, "src": "0x0000", "dst": "0x4d2c", "src_ep": 2, "dst_ep": 1, "profile": 0x0109,
     "cluster": 0x0700, "command": "publish_price", "attributes": None,
     "payload": {"provider_id": 1, "rate_label": "EXPORT", "issuer_event_id": 2, "current_time": 757382400,
                 "unit_of_measure": 0, "currency": 826, "price_trailing_digit": 5, "price_tier": 2,
                 "number_of_price_tiers": 4, "register_tier": 2, "start_time": 0,
                 "duration_in_minutes": 65535, "price": 15000}},
    {"frame": 11, "time": T0 + 5, "src": "0x0000", "dst": "0x4d2c", "src_ep": 2, "dst_ep": 1, "profile": 0x0109,
     "cluster": 0x0702, "command": "report_attributes", "attributes": {"0x0001": 98765, "0x0301": 1, "0x0302": 1000},
     "payload": None},
]


@pytest.fixture
def se_capture(tmp_path):
    path = tmp_path / "se.pcap"
    path.write_bytes(pcap_bytes(conversation_psdus()))
    return path


def test_library_events_match_hand_written_objects(se_capture) -> None:
    replay = Replay(se_capture, [NWK_KEY], [LINK_KEY])
    events = list(replay.frames())
    assert all(isinstance(e, ZclEvent) for e in events)
    assert [e.to_json() for e in events] == EXPECTED
    s = replay.summary
    assert (s.frames, s.decoded, s.failed_to_decrypt, s.malformed) == (12, 6, 0, 0)
    assert (s.nwk_decrypted, s.aps_decrypted) == (6, 6)
    assert replay.devices == {0x0000: 0x0011223344556677, 0x4D2C: 0x8877665544332211}


@pytest.mark.parametrize("linktype", [195, 230, 283])
def test_every_link_type_gives_the_same_events(tmp_path, linktype) -> None:
    path = tmp_path / f"se{linktype}.pcap"
    path.write_bytes(pcap_bytes(conversation_psdus(), linktype))
    assert [e.to_json() for e in Replay(path, [NWK_KEY], [LINK_KEY]).frames()] == EXPECTED


def test_zep_in_udp_capture_decodes(tmp_path) -> None:
    path = tmp_path / "zep.pcap"
    path.write_bytes(zep_capture(conversation_psdus()))
    events = list(Replay(path, [NWK_KEY], [LINK_KEY]).frames())
    # each frame is followed by a DNS packet: Wireshark numbers those too
    assert [e.to_json()["frame"] for e in events] == [1, 5, 9, 13, 17, 21]
    assert [e.to_json()["command"] for e in events] == [o["command"] for o in EXPECTED]
    assert events[4].to_json()["payload"] == EXPECTED[4]["payload"]


def test_cli_jsonl_and_readout_json(se_capture, tmp_path, capsys) -> None:
    readout_path = tmp_path / "readout.json"
    rc = main(["replay", str(se_capture), "--key", NWK_KEY.hex(), "--link-key", LINK_KEY.hex(),
               "--format", "jsonl", "--readout-json", str(readout_path)])
    assert rc == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[:-1] == EXPECTED
    summary = lines[-1]["summary"]
    assert (summary["frames"], summary["decoded"], summary["failed_to_decrypt"], summary["malformed"]) == (12, 6, 0, 0)
    readout = json.loads(readout_path.read_text())
    primary, secondary = readout["elements"]["primary"], readout["elements"]["secondary"]
    assert primary["import_kwh"] == 1234.567
    assert primary["export_kwh"] == 0.042
    assert primary["mpan_import"] == "1234567890123"
    assert secondary["export_kwh"] == 98.765
    assert secondary["profile_intervals"] == {"1": 3}


def test_readout_model_holds_what_the_frames_carried(se_capture) -> None:
    readout = Readout()
    Replay(se_capture, [NWK_KEY], [LINK_KEY], readout=readout).run()
    sec = readout.elements[2]
    assert sec.profile[1] == {int(T0): 100, int(T0) - 1800: 200, int(T0) - 3600: 300}
    price = sec.current_price
    assert (price.price, price.tier, price.tiers, price.trailing_digit, price.currency, price.label) == (
        15000, 2, 4, 5, 826, "EXPORT")
    assert readout.elements[1].summation == {"delivered": 1234567, "received": 42}


def test_cli_text_format_one_line_per_zcl_frame(se_capture, capsys) -> None:
    rc = main(["replay", str(se_capture), "--key", NWK_KEY.hex(), "--link-key", LINK_KEY.hex()])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert len(out) == 7  # six frames and the summary
    assert "Metering (0x0702) read_attributes_rsp" in out[1] and "current_summ_delivered=1234567" in out[1]
    assert "Price (0x0700) publish_price" in out[4] and "price_tier=2" in out[4] and 'rate_label="EXPORT"' in out[4]
    assert out[-1].startswith("12 frames: 6 ZCL decoded")


def test_wrong_key_is_reported_once_per_key_and_device(se_capture, capsys) -> None:
    wrong = bytes(16)
    replay = Replay(se_capture, [wrong], [LINK_KEY])
    events = list(replay.frames())
    assert all(isinstance(e, ErrorEvent) and e.kind == "undecrypted" for e in events)
    assert len(events) == 6 and replay.summary.failed_to_decrypt == 6
    failing = [w for w in replay.warnings if wrong.hex() in w]
    assert len(failing) == 2  # two senders, one key
    assert any("00:11:22:33:44:55:66:77" in w for w in failing)
    assert any("88:77:66:55:44:33:22:11" in w for w in failing)
    rc = main(["replay", str(se_capture), "--key", wrong.hex(), "--format", "jsonl"])
    captured = capsys.readouterr()
    assert rc == 0
    assert captured.err.count(wrong.hex()) == 2
    objs = [json.loads(line) for line in captured.out.splitlines()]
    assert [o["frame"] for o in objs[:-1]] == [1, 3, 5, 7, 9, 11]
    assert all(set(o) == {"frame", "error"} for o in objs[:-1])


def test_wrong_link_key_fails_only_aps(se_capture) -> None:
    replay = Replay(se_capture, [NWK_KEY], [bytes(range(16))])
    events = list(replay.frames())
    assert replay.summary.nwk_decrypted == 6 and replay.summary.aps_decrypted == 0
    assert all(e.error.startswith("aps") for e in events)
    assert len([w for w in replay.warnings if "does not decrypt" in w]) == 2


def test_network_key_learnt_from_transport_key(tmp_path) -> None:
    from han_emu.frames.aps import ApsFrameType
    from han_emu.frames.builders import aps_data, mac_data, nwk_frame
    from han_emu.frames.secheader import KeyId
    from han_emu.frames.stack import encode

    from .helpers import ESI, ESI_IEEE, IHD, IHD_IEEE, PAN
    tc_link = bytes.fromhex("5a6967426565416c6c69616e63653039")
    # APS command Transport-Key (0x05), key type 1 (network): key, seq 0, dst IEEE, src IEEE
    payload = (bytes([0x05, 0x01]) + NWK_KEY + b"\x00" + IHD_IEEE.to_bytes(8, "little")
               + ESI_IEEE.to_bytes(8, "little"))
    aps = aps_data(cluster=0, dst_endpoint=0, src_endpoint=0, counter=1, frame_counter=7,
                   key_id=KeyId.KEY_TRANSPORT, source_ieee=ESI_IEEE)
    aps["frame_control"]["frame_type"] = ApsFrameType.COMMAND
    for k in ("dst_endpoint", "cluster", "profile", "src_endpoint"):
        aps[k] = None
    tk = encode(mac_data(seq=1, pan=PAN, dst=IHD, src=ESI), nwk_frame(dst=IHD, src=ESI, seq=1), aps,
                payload=payload, link_key=tc_link)
    psdus = [(T0 - 1, tk)] + conversation_psdus(with_acks=False)
    path = tmp_path / "join.pcap"
    path.write_bytes(pcap_bytes(psdus))
    replay = Replay(path, [], [tc_link, LINK_KEY])
    events = list(replay.frames())
    assert [e.command for e in events] == [o["command"] for o in EXPECTED]
    assert NWK_KEY in replay.keys.network_keys
    assert any("learnt network key" in w for w in replay.warnings)
