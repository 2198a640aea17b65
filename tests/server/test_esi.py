"""The twin ESME's ESIs answering with the meter model's data (MP184 items)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest
import zigpy.types as t

from clusters import Price
from han_emu.meter.clock import VirtualClock
from han_emu.meter.model import Channel, Flow, TwinMeter
from han_emu.meter.settings import MeterSettings, Mpans, PRIMARY, SECONDARY
from han_emu.server.esi import EsiServer

from .server_helpers import IHD, frame, h, request

Y2K = 946684800


def ts(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp())


def utc_hex(posix: int) -> str:
    return (posix - Y2K).to_bytes(4, "little").hex()


def build(settings: MeterSettings | None = None, until: int | None = None) -> tuple[EsiServer, TwinMeter, VirtualClock]:
    # Thursday 3 Dec 2026 (GMT): the secondary element exports 1 kW, the primary imports 600 W.
    start = ts(2026, 12, 3)
    clock = VirtualClock(start)
    meter = TwinMeter((settings or MeterSettings()).validate(), start)
    meter.set_flow(SECONDARY, Flow(export_w=1000.0))
    meter.set_flow(PRIMARY, Flow(import_w=600.0))
    end = until or ts(2026, 12, 3, 12)
    meter.advance(end)
    clock.set(end)
    return EsiServer(meter, clock), meter, clock


def ask(server: EsiServer, hex_frame: str, ep: int, cluster: int = 0x0702, **kw) -> list[str]:
    return [frame(p) for p in server.handle(request(hex_frame, cluster, dst_ep=ep, **kw))]


def test_secondary_export_register_r1() -> None:
    server, _, _ = build()
    # 12 h at 1 kW = 12000 Wh = 0x2EE0 (uint48, type 0x25).
    assert ask(server, "00 11 00 0100", ep=2) == [h("18 11 01 0100 00 25 e02e00000000")]


def test_export_tou_registers_and_active_tier_r2() -> None:
    server, _, _ = build()
    # Weekday export table: T1 00-07 (7000 Wh), T2 from 07:00 (5000 Wh by noon).
    got = ask(server, "00 12 00 0101 0301 0501 0701 2100", ep=2)
    assert got == [h(
        "18 12 01"
        "0101 00 25 581b00000000"
        "0301 00 25 881300000000"
        "0501 00 25 000000000000"
        "0701 00 25 000000000000"
        "2100 00 30 02"
    )]


def test_export_prices_r2() -> None:
    server, _, _ = build()
    # Received Tier1..4 Block1 prices: 0.055, 0.12, 0.25, 0.15 GBP at 5 trailing digits.
    got = ask(server, "00 13 00 1084 2084 3084 4084", ep=2, cluster=0x0700)
    assert got == [h(
        "18 13 01"
        "1084 00 23 7c150000"
        "2084 00 23 e02e0000"
        "3084 00 23 a8610000"
        "4084 00 23 983a0000"
    )]


def test_export_mpan_r4_at_its_provisional_home() -> None:
    server, _, _ = build()
    mpan = b"1200023305994".hex()
    # Manufacturer-specific (frame control bit 2) under the home's code 0xFFF1.
    assert ask(server, "04 f1ff 14 00 07e3", ep=2) == [h(f"1c f1ff 14 01 07e3 00 41 0d {mpan}")]
    # Without the code the id is a standard one, which no ESI serves.
    assert ask(server, "00 16 00 07e3", ep=2) == [h("18 16 01 07e3 86")]
    # The primary element serves its own export MPAN there, and SiteID is the import MPAN.
    assert ask(server, "00 15 00 0703", ep=1) == [h(f"18 15 01 0703 00 41 0d {b'1200023305967'.hex()}")]
    assert ask(server, "04 f1ff 17 00 07e3", ep=1) == [h(f"1c f1ff 17 01 07e3 00 41 0d {b'1200023305976'.hex()}")]


def test_get_profile_newest_three_export_intervals_r3() -> None:
    server, _, _ = build()
    end = utc_hex(ts(2026, 12, 3, 12))
    got = ask(server, "01 22 00 01 00000000 03", ep=2)
    assert got == [h(f"19 22 00 {end} 00 02 03 f40100 f40100 f40100")]


def test_get_profile_pages_through_three_months_exactly_once() -> None:
    start = ts(2026, 8, 1)
    clock = VirtualClock(start)
    meter = TwinMeter(MeterSettings().validate(), start)
    for hour in range(0, 24 * 100):
        meter.set_flow(SECONDARY, Flow(export_w=float(hour % 7) * 100.0))
        meter.advance(start + (hour + 1) * 3600)
    clock.set(meter.time)
    server = EsiServer(meter, clock)
    log = meter.profiles[Channel.SECONDARY_EXPORT]
    seen: dict[int, int] = {}
    end_hex = "00000000"
    for _ in range(400):
        [reply] = server.handle(request(f"01 30 00 01 {end_hex} 18", dst_ep=2))
        body = reply.data.serialize()[3:]
        end = int.from_bytes(body[0:4], "little") + Y2K
        status, count = body[4], body[6]
        if status == 5:
            break
        assert status == 0 and body[5] == 2
        for i in range(count):
            when = end - i * 1800
            assert when not in seen
            seen[when] = int.from_bytes(body[7 + 3 * i: 10 + 3 * i], "little")
        end_hex = utc_hex(end - count * 1800)
    assert len(seen) == 4416
    assert seen == {e: v for e, v in log.items()}


@pytest.mark.parametrize(
    ("payload", "status", "count"),
    [
        ("05 00000000 03", 1, 0),  # undefined interval channel
        ("01 00000000 1e", 4, 24),  # more than MaxNumberOfPeriodsDelivered
        ("01 ffffff7f 03", 3, 0),  # end time in the future
        ("00 01000000 03", 5, 0),  # 2000-01-01: long before the log
    ],
)
def test_get_profile_status_codes(payload: str, status: int, count: int) -> None:
    server, _, _ = build()
    [reply] = server.handle(request(f"01 40 00 {payload}", dst_ep=2))
    body = reply.data.serialize()[3:]
    assert body[4] == status
    assert body[6] == count and len(body) == 7 + 3 * count


def test_get_profile_channel_not_supported_without_an_export_mpan() -> None:
    server, _, _ = build(replace(MeterSettings(), mpans=Mpans(primary_export=None)))
    [reply] = server.handle(request("01 41 00 01 00000000 03", dst_ep=1))
    assert reply.data.serialize()[3:][4] == 2


def _publish_price(packet: t.ZigbeePacket):
    data = packet.data.serialize()
    assert data[0] & ~0x10 == 0x09 and data[2] == 0x00  # cluster-specific, server->client, PublishPrice
    schema = Price.ClientCommandDefs.publish_price.schema
    return schema.deserialize(data[3:])[0]


def test_get_current_price_secondary_publishes_export_price_and_tier() -> None:
    server, _, _ = build()
    [reply] = server.handle(request("01 50 00 00", cluster=0x0700, dst_ep=2))
    price = _publish_price(reply)
    assert price.price == 13500  # secondary import, 0.135 GBP
    assert price.generation_price == 12000  # export tier 2 at noon, 0.12 GBP
    assert price.generation_tier == 2 and price.number_of_generation_tiers == 4
    assert price.currency == 826


def test_get_current_price_primary_is_import_e7() -> None:
    server, _, _ = build()
    [reply] = server.handle(request("01 51 00 00", cluster=0x0700, dst_ep=1))
    price = _publish_price(reply)
    assert price.price == 28500 and price.generation_price is None
    # 12:00 GMT on E7: tier 1 until the next switch at 00:30, 750 minutes away.
    assert price.duration_in_minutes == 750


def test_tier_change_publishes_to_subscribers() -> None:
    server, meter, clock = build(until=ts(2026, 12, 3, 15, 30))
    server.handle(request("01 52 00 01", cluster=0x0700, dst_ep=2))  # receiver on when idle
    assert server.due() == []
    meter.advance(ts(2026, 12, 3, 16, 0, 1))
    clock.set(meter.time)
    [push] = server.due()
    assert push.dst == IHD and push.src_ep == 2
    assert _publish_price(push).generation_tier == 3


def test_get_price_matrix_for_the_export_tariff() -> None:
    server, _, _ = build()
    [reply] = server.handle(request("01 53 07 03000000", cluster=0x0700, dst_ep=2))
    data = reply.data.serialize()
    assert data[2] == 0x05
    # ... sub-payload control 01 (TOU) then four (tier, price) pairs.
    assert data[-21:].hex() == h("01 01 7c150000 02 e02e0000 03 a8610000 04 983a0000")


def test_se_clusters_refuse_unencrypted_requests() -> None:
    server, _, _ = build()
    got = ask(server, "00 60 00 0000", ep=2, encrypted=False)
    assert got == [h("18 60 0b 00 7e")]  # Default Response NOT_AUTHORIZED
    # Basic is not a Smart Energy cluster: allowed in the clear.
    assert ask(server, "00 61 00 0000", ep=2, cluster=0x0000, encrypted=False) == [h("18 61 01 0000 00 20 01")]


def test_time_cluster_gives_utc_and_gb_dst() -> None:
    server, _, _ = build()
    dst_start = utc_hex(ts(2026, 3, 29, 1))
    got = ask(server, "00 70 00 0000 0300 0500", ep=1, cluster=0x000A, encrypted=False)
    assert got == [h(f"18 70 01 0000 00 e2 {utc_hex(ts(2026, 12, 3, 12))} 0300 00 23 {dst_start} 0500 00 2b 100e0000")]
