"""tshark, the independent oracle, reads the Messaging frames the ESI and the
displays send: every field of DisplayMessage, CancelMessage, GetLastMessage and
MessageConfirmation as Wireshark's SE dissector (zbee_zcl_se.msg) decodes them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from clusters import Messaging
from han_emu.frames import PcapWriter, encode
from han_emu.frames.builders import aps_data, mac_data, nwk_frame, zcl_header
from han_emu.server.esi import EsiServer

from .server_helpers import frame
from .test_messaging import START, Y2K, build, request, utc_hex

NWK_KEY = bytes.fromhex("0123456789abcdef0123456789abcdef")
LINK_KEY = bytes.fromhex("5A6967426565416C6C69616E63653039")
ESI_IEEE = 0x0011223344556677
IHD_IEEE = 0x8899AABBCCDDEEFF


def on_air(zcl: bytes, *, from_esi: bool, seq: int) -> bytes:
    """One ZCL frame as the air carries it: MAC, NWK and APS, both layers encrypted."""
    fc, tsn, command = zcl[0], zcl[1], zcl[2]
    src, dst, ieee = (0x0000, 0x1234, ESI_IEEE) if from_esi else (0x1234, 0x0000, IHD_IEEE)
    return encode(
        mac_data(seq=seq, pan=0x1A62, dst=dst, src=src),
        nwk_frame(dst=dst, src=src, seq=seq, frame_counter=100 + seq, source_ieee=ieee),
        aps_data(cluster=Messaging.cluster_id, dst_endpoint=2 if from_esi else 1, src_endpoint=1 if from_esi else 2,
                 counter=seq, frame_counter=200 + seq, source_ieee=ieee),
        zcl_header(tsn=tsn, command_id=command, cluster_specific=bool(fc & 0x01),
                   server_to_client=bool(fc & 0x08), disable_default_response=bool(fc & 0x10)),
        zcl[3:],
        network_key=NWK_KEY,
        link_key=LINK_KEY,
    )


def conversation() -> list[tuple[bytes, bool]]:
    """(ZCL frame, sent by the ESI) for each Messaging command, made by the server
    itself and by requests built as the displays build them."""
    server: EsiServer
    server, meter, clock = build()
    get_last = "01 21 00"
    confirm = "01 22 01 01000000" + utc_hex(START + 30)
    ask = lambda hex_frame: [bytes.fromhex(frame(p)) for p in server.handle(request(hex_frame, Messaging.cluster_id))]
    ask(get_last)  # NOT_FOUND; the display is remembered
    server.send_message("Your supplier will visit on Monday", confirm=True)
    pushed = [p.data.serialize() for p in server.due()]
    clock.set(START + 40)
    ask(confirm)
    answer = ask(get_last)
    server.cancel_message()
    cancelled = [p.data.serialize() for p in server.due()]
    clock.set(START + 50)
    server.cancel_all_messages()
    cancelled_all = [p.data.serialize() for p in server.due()]
    get_cancellation = "01 23 02" + utc_hex(START)
    held = ask(get_cancellation)
    return [(pushed[0], True), (bytes.fromhex(confirm.replace(" ", "")), False),
            (bytes.fromhex(get_last.replace(" ", "")), False), (answer[0], True), (cancelled[0], True),
            (cancelled_all[0], True), (bytes.fromhex(get_cancellation.replace(" ", "")), False), (held[0], True)]


@pytest.mark.tshark
def test_tshark_decodes_our_messaging_frames(tshark: str, tmp_path: Path) -> None:
    path = tmp_path / "messaging.pcap"
    frames = conversation()
    with open(path, "wb") as f:
        writer = PcapWriter(f, 195)
        for i, (zcl, from_esi) in enumerate(frames):
            writer.write(on_air(zcl, from_esi=from_esi, seq=i + 1), 1780308000.0 + i)
    keys = f'"{NWK_KEY.hex()}","Normal","nwk"\n"{LINK_KEY.hex()}","Normal","tc"'
    base = [tshark, "-r", str(path), "-o", f"uat:zigbee_pc_keys:{keys}"]
    bad = subprocess.run([*base, "-Y", "_ws.malformed || _ws.expert.severity >= warning"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert bad == ""  # nothing malformed, and no CancelMessage "deprecated control" warning
    fields = ["zbee_zcl_se.msg.cmd.srv_tx.id", "zbee_zcl_se.msg.cmd.srv_rx.id", "zbee_zcl_se.msg.message.id",
              "zbee_zcl_se.msg.message.ctrl", "zbee_zcl_se.msg.message.ctrl.importance",
              "zbee_zcl_se.msg.message.ctrl.confirm", "zbee_zcl_se.msg.message.start_time",
              "zbee_zcl_se.msg.message.duration", "zbee_zcl_se.msg.message",
              "zbee_zcl_se.msg.message.ext.ctrl.status", "zbee_zcl_se.msg.message.confirm_time",
              "zbee_zcl_se.msg.impl_time", "zbee_zcl_se.msg.earliest_impl_time"]
    out = subprocess.run([*base, "-T", "json", *[x for f in fields for x in ("-e", f)]],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    rows = [pkt["_source"]["layers"] for pkt in json.loads(out)]
    assert len(rows) == 8
    display, confirmation, get_last, answer, cancel, cancel_all, get_cancellation, held = rows
    for row in (display, answer):
        assert row["zbee_zcl_se.msg.cmd.srv_tx.id"] == ["0x00"]  # Display Message
        assert row["zbee_zcl_se.msg.message.id"] == ["0x00000001"]
        assert row["zbee_zcl_se.msg.message.ctrl"] == ["0x84"]  # confirmation required, medium
        assert row["zbee_zcl_se.msg.message.ctrl.importance"] == ["0x01"]
        assert row["zbee_zcl_se.msg.message.ctrl.confirm"] == ["1"]
        assert row["zbee_zcl_se.msg.message.start_time"] == [str(START - Y2K)]
        assert row["zbee_zcl_se.msg.message.duration"] == ["65535"]  # until changed
        assert row["zbee_zcl_se.msg.message"] == ["Your supplier will visit on Monday"]
    assert display["zbee_zcl_se.msg.message.ext.ctrl.status"] == ["0"]
    assert answer["zbee_zcl_se.msg.message.ext.ctrl.status"] == ["1"]  # confirmed by then
    assert confirmation["zbee_zcl_se.msg.cmd.srv_rx.id"] == ["0x01"]  # Message Confirmation
    assert confirmation["zbee_zcl_se.msg.message.id"] == ["0x00000001"]
    assert confirmation["zbee_zcl_se.msg.message.confirm_time"][0].startswith("Jun  1, 2026 10:00:30")
    assert get_last["zbee_zcl_se.msg.cmd.srv_rx.id"] == ["0x00"]  # Get Last Message
    assert cancel["zbee_zcl_se.msg.cmd.srv_tx.id"] == ["0x01"]  # Cancel Message
    assert cancel["zbee_zcl_se.msg.message.id"] == ["0x00000001"]
    assert cancel["zbee_zcl_se.msg.message.ctrl"] == ["0x00"]
    for row in (cancel_all, held):
        assert row["zbee_zcl_se.msg.cmd.srv_tx.id"] == ["0x03"]  # Cancel All Messages
        assert row["zbee_zcl_se.msg.impl_time"][0].startswith("Jun  1, 2026 10:00:50")
    assert get_cancellation["zbee_zcl_se.msg.cmd.srv_rx.id"] == ["0x02"]  # Get Message Cancellation
    assert get_cancellation["zbee_zcl_se.msg.earliest_impl_time"][0].startswith("Jun  1, 2026 10:00:00")
