"""Configure Reporting, Read Reporting Configuration and the reporting engine in virtual time."""

from __future__ import annotations

from .server_helpers import ESI_EP, IHD, IHD_EP, START, Model, frame, h, request

from han_emu.meter.clock import VirtualClock
from han_emu.server.engine import ZclServer

#: Configure Reporting: CurrentSummationDelivered (uint48), min 10 s, max 60 s,
#: reportable change 100.
CONFIGURE_SUMMATION = "00 20 06  00 0000 25 0a00 3c00 640000000000"


def test_configure_reporting_success_is_one_status(server: ZclServer) -> None:
    (reply,) = server.handle(request(CONFIGURE_SUMMATION))
    assert frame(reply) == h("18 20 07 00")
    assert reply.dst_ep == IHD_EP and reply.src_ep == ESI_EP


def test_configure_reporting_per_record_statuses(server: ZclServer) -> None:
    (reply,) = server.handle(
        request(
            "00 21 06"
            " 00 3412 20 0100 0a00 01"  # unknown attribute
            " 00 0703 41 0100 0a00"  # SiteID: octet string, not reportable
            " 00 0100 23 0100 0a00 01000000"  # summation received given as uint32
            " 00 0004 2a 0100 0a00 0a0000"  # InstantaneousDemand int24, change 10: fine
        )
    )
    # Only failures are listed, each as status, direction, attribute id.
    assert frame(reply) == h("18 21 07  86 00 3412  8c 00 0703  8d 00 0100")


def test_configure_reporting_rejects_max_below_min(server: ZclServer) -> None:
    (reply,) = server.handle(request("00 22 06  00 0000 25 3c00 0a00 010000000000"))
    assert frame(reply) == h("18 22 07 87 00 0000")


def test_read_reporting_configuration(server: ZclServer) -> None:
    server.handle(request(CONFIGURE_SUMMATION))
    server.handle(request("00 23 06  00 0004 2a 0100 0a00 0a0000"))
    (reply,) = server.handle(
        request("00 24 08  00 0000  00 0004  00 0100  00 3412  00 0703")
    )
    assert frame(reply) == h(
        "18 24 09"
        " 00 00 0000 25 0a00 3c00 640000000000"
        " 00 00 0004 2a 0100 0a00 0a0000"
        " 8b 00 0100"  # reportable but not configured: NOT_FOUND
        " 86 00 3412"
        " 8c 00 0703"
    )


def test_receive_direction_is_remembered(server: ZclServer) -> None:
    (reply,) = server.handle(request("00 25 06  01 0000 2c01"))
    assert frame(reply) == h("18 25 07 00")
    (reply,) = server.handle(request("00 26 08  01 0000  01 0001"))
    assert frame(reply) == h("18 26 09  00 01 0000 2c01  8b 01 0001")


def test_min_interval_suppresses_max_interval_forces(
    server: ZclServer, model: Model, clock: VirtualClock
) -> None:
    model.summation = 1000
    server.handle(request(CONFIGURE_SUMMATION))
    assert server.due() == []
    assert server.next_due() == START + 60

    clock.advance(5)
    model.summation = 1200  # a reportable change, but within min interval
    assert server.due() == []
    assert server.next_due() == START + 10

    clock.advance(5)
    (report,) = server.due()
    # Report Attributes, server->client, no default response; server's own TSN.
    assert frame(report) == h("18 01 0a  0000 25 b00400000000")
    assert report.dst == IHD and report.dst_ep == IHD_EP and report.src_ep == ESI_EP
    assert report.cluster_id == 0x0702 and report.profile_id == 0x0109 and report.tsn == 1
    assert server.due() == []
    assert server.next_due() == START + 70

    clock.advance(20)
    model.summation = 1250  # below the reportable change of 100
    assert server.due() == []
    assert server.next_due() == START + 70

    clock.set(START + 70)
    (report,) = server.due()  # max interval: report even without a big change
    assert frame(report) == h("18 02 0a  0000 25 e20400000000")

    clock.advance(15)
    model.summation = 1400  # >= 100 since the last report, min interval passed
    (report,) = server.due()
    assert frame(report) == h("18 03 0a  0000 25 780500000000")


def test_discrete_reports_on_change_only(server: ZclServer, model: Model, clock: VirtualClock) -> None:
    # UnitOfMeasure (enum8): min 0, max 0 (no periodic reports); no change field
    (reply,) = server.handle(request("00 30 06  00 0003 30 0000 0000"))
    assert frame(reply) == h("18 30 07 00")
    assert server.next_due() is None
    clock.advance(3600)
    assert server.due() == []
    model.unit = 0x80
    (report,) = server.due()
    assert frame(report) == h("18 01 0a  0003 30 80")
    clock.advance(3600)
    assert server.due() == []


def test_due_reports_share_a_frame(server: ZclServer, model: Model, clock: VirtualClock) -> None:
    server.handle(request("00 31 06  00 0000 25 0000 1e00 000000000000  00 0100 25 0000 1e00 000000000000"))
    clock.advance(30)
    (report,) = server.due()
    assert frame(report) == h("18 01 0a  0000 25 060504030201  0100 25 000000000000")


def test_max_ffff_stops_reporting(server: ZclServer, clock: VirtualClock) -> None:
    server.handle(request(CONFIGURE_SUMMATION))
    assert len(server.reporting) == 1
    (reply,) = server.handle(request("00 32 06  00 0000 25 0a00 ffff 640000000000"))
    assert frame(reply) == h("18 32 07 00")
    assert len(server.reporting) == 0
    clock.advance(1000)
    assert server.due() == [] and server.next_due() is None


def test_each_client_gets_its_own_reports(server: ZclServer, clock: VirtualClock) -> None:
    from zigpy import types as t

    ppmid = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x5678)
    server.handle(request("00 40 06  00 0000 25 0000 0a00 000000000000"))
    server.handle(request("00 41 06  00 0000 25 0000 1400 000000000000", src=ppmid, src_ep=0x05))
    clock.advance(10)
    (first,) = server.due()
    assert first.dst == IHD
    clock.advance(10)
    reports = server.due()
    assert {(r.dst, r.dst_ep) for r in reports} == {(IHD, IHD_EP), (ppmid, 0x05)}


def test_unsolicited_send_goes_out_on_due(server: ZclServer, clock: VirtualClock) -> None:
    tsn = server.send(ESI_EP, 0x0700, 0x00, bytes.fromhex("01020304"), IHD, IHD_EP)
    assert server.next_due() == clock.now()
    (packet,) = server.due()
    assert frame(packet) == h(f"09 {tsn:02x} 00 01020304")
    assert packet.cluster_id == 0x0700 and packet.dst_ep == IHD_EP
    assert server.due() == []


def test_broken_getter_does_not_stop_other_reports(
    server: ZclServer, model: Model, clock: VirtualClock
) -> None:
    server.handle(request("00 50 06  00 0000 25 0000 0a00 000000000000  00 0100 25 0000 0a00 000000000000"))
    model.summation = 1 << 60  # the model now holds a value uint48 cannot carry
    clock.advance(10)
    (report,) = server.due()
    assert frame(report) == h("18 01 0a  0100 25 000000000000")
