"""tshark, the independent oracle, decodes the Prepayment traffic the ESI and a
PPMID exchange: every request and every answer of a top-up, an emergency
credit selection, a snapshot and a top-up log, inside NWK- and APS-secured
frames in a pcap."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from han_emu.frames import PcapWriter, encode
from han_emu.frames.builders import aps_data, mac_data, nwk_frame

from .server_helpers import frame, request
from .test_prepayment import START, UTRN, build, top_up_frame, utc_hex

NWK_KEY = bytes.fromhex("0123456789abcdef0123456789abcdef")
LINK_KEY = bytes.fromhex("5A6967426565416C6C69616E63653039")
ESI = 0x0011223344556677
PPMID = 0x8899AABBCCDDEEFF
PPMID_NWK = 0x1234


def air_frame(zcl: bytes, seq: int, to_esi: bool) -> bytes:
    src, dst = (PPMID_NWK, 0x0000) if to_esi else (0x0000, PPMID_NWK)
    ieee = PPMID if to_esi else ESI
    return encode(
        mac_data(seq=seq, pan=0x1A62, dst=dst, src=src),
        nwk_frame(dst=dst, src=src, seq=seq, frame_counter=1000 + seq, source_ieee=ieee),
        aps_data(cluster=0x0705, dst_endpoint=1, src_endpoint=1, counter=seq, frame_counter=2000 + seq,
                 source_ieee=ieee),
        None,
        zcl,
        network_key=NWK_KEY,
        link_key=LINK_KEY,
    )


def conversation() -> list[tuple[bytes, bool]]:
    """(ZCL frame, sent to the ESI) for each frame, as the ESI answered them."""
    server, _, _ = build()
    out: list[tuple[bytes, bool]] = []
    requests = [
        "00 01 00 0100 0200 0300 0500",  # Read Attributes: credit, emergency credit, status, debt
        f"01 02 00 {utc_hex(START)} 02",  # SelectAvailableEmergencyCredit from an IHD-type device
        top_up_frame(0x03, UTRN.encode()),  # ConsumerTopUp, accepted
        top_up_frame(0x04, b"123"),  # ConsumerTopUp, malformed UTRN: refused
        "01 05 07 00000000 ffffffff 00 ffffffff",  # GetPrepaySnapshot
        "01 06 08 ffffffff 00",  # GetTopUpLog
    ]
    for hex_frame in requests:
        packet = request(hex_frame.replace(" ", ""), 0x0705, dst_ep=1)
        out.append((packet.data.serialize(), True))
        out += [(bytes.fromhex(frame(reply)), False) for reply in server.handle(packet)]
    return out


def tshark_json(tshark: str, path: Path, fields: list[str], *extra: str) -> list[dict]:
    keys = f'"{NWK_KEY.hex()}","Normal","nwk"\n"{LINK_KEY.hex()}","Normal","tc"'
    out = subprocess.run(
        [tshark, "-r", str(path), "-o", f"uat:zigbee_pc_keys:{keys}", *extra, "-T", "json",
         *[x for f in fields for x in ("-e", f)]],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    return [pkt["_source"]["layers"] for pkt in json.loads(out or "[]")]


@pytest.mark.tshark
def test_tshark_decodes_the_prepayment_conversation(tshark: str, tmp_path: Path) -> None:
    frames = conversation()
    path = tmp_path / "prepayment.pcap"
    with open(path, "wb") as f:
        w = PcapWriter(f, 195)
        for i, (zcl, to_esi) in enumerate(frames):
            w.write(air_frame(zcl, i + 1, to_esi), 1_700_000_000.0 + i)
    assert tshark_json(tshark, path, ["frame.number"], "-Y", "_ws.malformed || _ws.expert.severity >= error") == []
    pp = "zbee_zcl_se.pp."
    rows = tshark_json(tshark, path, [
        "zbee_aps.cluster", pp + "cmd.srv_rx.id", pp + "cmd.srv_tx.id", pp + "attr_id",
        pp + "select_available_emc.originating_device", pp + "consumer_top_up.originating_device",
        pp + "consumer_top_up.top_up_code", pp + "consumer_top_up_response.result_type",
        pp + "consumer_top_up_response.top_up_value", pp + "consumer_top_up_response.source_of_top_up",
        pp + "consumer_top_up_response.credit_remaining", pp + "get_prepay_snapshot.snapshot_offset",
        pp + "publish_prepay_snapshot.snapshot_id", pp + "publish_prepay_snapshot.snapshot_cause",
        pp + "publish_prepay_snapshot.total_snapshots_found", pp + "publish_prepay_snapshot.snapshot_payload",
        pp + "get_top_up_log.number_of_records", pp + "publish_top_up_log.total_number_of_commands",
        pp + "publish_top_up_log.top_up_amount", pp + "publish_top_up_log.top_up_code",
        "zbee_zcl.attr.int32", "zbee_zcl.cmd.id",
    ])
    assert len(rows) == len(frames) == 12
    assert all(r["zbee_aps.cluster"] == ["0x0705"] for r in rows)
    read_rsp = rows[1]
    assert read_rsp[pp + "attr_id"] == ["0x0001", "0x0002", "0x0003", "0x0005"]
    assert read_rsp["zbee_zcl.attr.int32"] == ["50000", "500000", "2800000"]  # credit, EC, debt
    select, select_rsp = rows[2], rows[3]
    assert select[pp + "cmd.srv_rx.id"] == ["0x00"] and select[pp + "select_available_emc.originating_device"] == ["2"]
    assert select_rsp["zbee_zcl.cmd.id"] == ["0x0b"]  # Default Response
    top_up, top_up_rsp = rows[4], rows[5]
    assert top_up[pp + "cmd.srv_rx.id"] == ["0x04"]
    assert top_up[pp + "consumer_top_up.top_up_code"] == [":".join(f"{b:02x}" for b in UTRN.encode())]
    assert top_up_rsp[pp + "cmd.srv_tx.id"] == ["0x03"]
    # accepted: 10.00, of which 12.5 % goes to the meter fee; credit 0.50 + 8.75 (no emergency credit used)
    assert (top_up_rsp[pp + "consumer_top_up_response.result_type"], top_up_rsp[pp + "consumer_top_up_response.top_up_value"],
            top_up_rsp[pp + "consumer_top_up_response.source_of_top_up"]) == (["0"], ["1000000"], ["2"])
    assert top_up_rsp[pp + "consumer_top_up_response.credit_remaining"] == ["925000"]
    bad_rsp = rows[7]
    assert bad_rsp[pp + "consumer_top_up_response.result_type"] == ["1"]  # Rejected: invalid top-up
    snap_req, snap = rows[8], rows[9]
    assert snap_req[pp + "cmd.srv_rx.id"] == ["0x07"] and snap_req[pp + "get_prepay_snapshot.snapshot_offset"] == ["0"]
    assert snap[pp + "cmd.srv_tx.id"] == ["0x01"]
    assert snap[pp + "publish_prepay_snapshot.snapshot_id"] == ["1"]
    assert snap[pp + "publish_prepay_snapshot.total_snapshots_found"] == ["1"]
    assert snap[pp + "publish_prepay_snapshot.snapshot_cause"] == ["0x00040000"]
    assert len(snap[pp + "publish_prepay_snapshot.snapshot_payload"][0].replace(":", "")) == 48  # 24 bytes
    log_req, log = rows[10], rows[11]
    assert log_req[pp + "get_top_up_log.number_of_records"] == ["0"]
    assert log[pp + "cmd.srv_tx.id"] == ["0x05"]
    assert log[pp + "publish_top_up_log.total_number_of_commands"] == ["1"]
    assert log[pp + "publish_top_up_log.top_up_amount"] == ["1000000"]
