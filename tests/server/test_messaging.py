"""The primary ESI's Messaging cluster and both ESIs' Basic cluster, frame by frame.

Frames are written by hand from the SE 1.4 layouts (see clusters/messaging.py):
DisplayMessage = id u32, control map8, start UTC, duration u16, text (length in
bytes), extended control map8.
"""

from __future__ import annotations

from datetime import datetime, timezone

import zigpy.types as t

from clusters import Messaging
from han_emu import __version__
from han_emu.meter.clock import VirtualClock
from han_emu.meter.messages import ScheduledMessage
from han_emu.meter.model import TwinMeter
from han_emu.meter.settings import MeterSettings
from han_emu.server.basic import BasicInfo
from han_emu.server.esi import EsiServer

from .server_helpers import IHD, IHD_EP, frame, h, request

MSG = Messaging.cluster_id
START = int(datetime(2026, 6, 1, 10, tzinfo=timezone.utc).timestamp())
Y2K = 946684800


def utc_hex(posix: float) -> str:
    return (int(posix) - Y2K).to_bytes(4, "little").hex()


def build(**kw) -> tuple[EsiServer, TwinMeter, VirtualClock]:
    clock = VirtualClock(START)
    meter = TwinMeter(MeterSettings().validate(), START)
    return EsiServer(meter, clock, **kw), meter, clock


def ask(server: EsiServer, hex_frame: str, ep: int = 1, cluster: int = MSG, **kw) -> list[str]:
    return [frame(p) for p in server.handle(request(hex_frame, cluster, dst_ep=ep, **kw))]


def test_messaging_on_the_primary_esi_only() -> None:
    server, _, _ = build()
    primary, secondary = server.descriptors()
    assert MSG in primary.input_clusters and MSG not in secondary.input_clusters
    # GetLastMessage on the secondary: Default Response UNSUPPORTED_CLUSTER (0xC3)
    assert ask(server, "01 05 00", ep=2) == [h("18 05 0b 00 c3")]


def test_get_last_message_without_a_message_is_not_found() -> None:
    server, _, _ = build()
    # Default Response to command 0x00, status NOT_FOUND (0x8B)
    assert ask(server, "01 07 00") == [h("18 07 0b 00 8b")]


def test_get_last_message_answers_with_the_message_in_force() -> None:
    server, meter, clock = build()
    meter.messages.compose("Hello £5", START, duration_min=30, confirm=True, importance="high")
    clock.set(START + 600)
    # cluster-specific, server->client, no default response; DisplayMessage 0x00;
    # id 1, control 0x88 (confirm, high), start, 30 min, "Hello £5" = 9 bytes, ext 0x00
    assert ask(server, "01 08 00") == [h(
        "19 08 00  01000000 88" + utc_hex(START) + "1e00 09 48656c6c6f20c2a335 00")]
    clock.set(START + 1800)  # expired
    assert ask(server, "01 09 00") == [h("18 09 0b 00 8b")]


def test_confirmation_is_recorded_with_its_time() -> None:
    server, meter, clock = build()
    meter.messages.compose("Visit on Monday", START, confirm=True)
    clock.set(START + 90)
    # MessageConfirmation 0x01: id 1, confirmation time START+60; Default Response SUCCESS
    assert ask(server, "01 0a 01 01000000" + utc_hex(START + 60)) == [h("18 0a 0b 01 00")]
    current = meter.messages.current
    assert current is not None and current.confirmed_at == START + 60
    assert current.confirmed_by == f"0x{int(IHD.address):04X}"
    record = meter.messages.confirmations[-1]
    assert (record.message_id, record.received_at, record.known) == (1, START + 90, True)
    # GetLastMessage now carries the confirmed bit in ExtendedMessageControl
    assert ask(server, "01 0b 00")[0].endswith("01")
    # a confirmation of some other message is logged, not taken for this one
    ask(server, "01 0c 01 09000000" + utc_hex(START + 61))
    assert meter.messages.confirmations[-1].known is False and current.confirmed_at == START + 60


def test_a_new_message_is_pushed_to_the_displays_that_asked() -> None:
    server, meter, clock = build()
    ask(server, "01 0d 00")  # the IHD asks (NOT_FOUND), and is remembered
    message = server.send_message("Price change", confirm=False)
    out = server.due()
    assert len(out) == 1
    packet = out[0]
    assert (packet.dst, packet.dst_ep, packet.src_ep, packet.cluster_id) == (IHD, IHD_EP, 1, MSG)
    assert t.TransmitOptions.APS_Encryption in packet.tx_options
    tsn = packet.data.serialize()[1]
    # server->client, default response wanted: frame control 0x09; medium importance 0x04; until changed
    assert frame(packet) == h(f"09 {tsn:02x} 00 01000000 04" + utc_hex(START) + "ffff 0c 507269636520636861" "6e6765 00")
    assert message.id == 1
    # CancelMessage: id, control 0x00 (deprecated)
    assert server.cancel_message() is message
    cancel = server.due()
    assert [frame(p)[4:] for p in cancel] == [h("01 01000000 00")]
    assert ask(server, "01 0e 00") == [h("18 0e 0b 00 8b")]  # nothing in force now


def test_scheduled_messages_fall_due_on_the_servers_clock() -> None:
    items = [ScheduledMessage("Later", after_s=7200, duration_min=60),
             ScheduledMessage("Absolute", at=START + 3 * 3600, confirm=True)]
    server, meter, clock = build(messages=items)
    ask(server, "01 0f 00")
    assert server.next_due() <= START + 7200
    clock.set(START + 7200)
    assert server.next_due() == START + 7200
    pushed = server.due()
    assert [frame(p)[4:16] for p in pushed] == [h("00 01000000 04")]
    assert meter.messages.in_force(START + 7200).text == "Later"
    clock.set(START + 3 * 3600)
    pushed = server.due()
    assert [frame(p)[4:16] for p in pushed] == [h("00 02000000 84")]  # confirmation required
    assert server.due() == []


def test_basic_attributes_read_back() -> None:
    info = BasicInfo(manufacturer="Acme", model="E470", date_code="20250102 lab", application_version=7,
                     stack_version=3, hardware_version=2)
    server, _, _ = build(basic=info)
    # Read Attributes 0x0000..0x0007 and 0x4000 on the Basic cluster of both ESIs
    for ep in (1, 2):
        got = ask(server, "00 10 00 0000 0100 0200 0300 0400 0500 0600 0700 0040", ep=ep, cluster=0x0000)
        build_id = __version__.encode()
        assert got == [h(
            "18 10 01"
            "0000 00 20 01"  # ZCLVersion uint8
            "0100 00 20 07"  # ApplicationVersion
            "0200 00 20 03"  # StackVersion
            "0300 00 20 02"  # HWVersion
            "0400 00 42 04 41636d65"  # ManufacturerName "Acme"
            "0500 00 42 04 45343730"  # ModelIdentifier "E470"
            "0600 00 42 0c 3230323530313032206c6162"  # DateCode "20250102 lab"
            "0700 00 30 01"  # PowerSource enum8: mains single phase
            f"0040 00 42 {len(build_id):02x} {build_id.hex()}"  # SWBuildID
        )]


def test_cancel_all_messages_is_pushed_and_held_for_get_message_cancellation() -> None:
    server, meter, clock = build()
    # GetMessageCancellation 0x02, earliest implementation time 0 (any): none held -> NOT_FOUND
    assert ask(server, "01 10 02 00000000") == [h("18 10 0b 02 8b")]
    ask(server, "01 11 00")  # the IHD asks GetLastMessage and is remembered
    meter.messages.compose("Visit on Monday", START)
    clock.set(START + 120)
    assert server.cancel_all_messages() is not None
    # CancelAllMessages 0x03: implementation time = when the meter cancelled
    assert [frame(p)[4:] for p in server.due()] == [h("03" + utc_hex(START + 120))]
    assert ask(server, "01 12 00") == [h("18 12 0b 00 8b")]  # nothing in force any more
    # held: asked from before or at that time -> CancelAllMessages; from after -> NOT_FOUND
    assert ask(server, "01 13 02" + utc_hex(START)) == [h("19 13 03" + utc_hex(START + 120))]
    assert ask(server, "01 14 02" + utc_hex(START + 120)) == [h("19 14 03" + utc_hex(START + 120))]
    assert ask(server, "01 15 02" + utc_hex(START + 121)) == [h("18 15 0b 02 8b")]


def test_the_cancellation_survives_a_restart() -> None:
    server, meter, clock = build()
    clock.set(START + 60)
    server.cancel_all_messages()
    again = type(meter.messages).from_state(meter.messages.to_state())
    assert again.cancellation_since(START) == START + 60
    assert type(meter.messages).from_state({"current": None, "next_id": 3}).cancelled_all_at is None
