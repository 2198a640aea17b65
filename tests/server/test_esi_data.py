"""Data a real display would otherwise show wrongly: prices that last until
the next one, IssuerEventIDs that change only with the price, tariff
information in both directions, the profile period, a new meter's history and
a partial first interval, all as the ESI serves them."""

from __future__ import annotations

from datetime import datetime, timezone

from clusters import Price
from han_emu.meter.clock import VirtualClock
from han_emu.meter.model import Flow, TwinMeter
from han_emu.meter.settings import MeterSettings, PRIMARY, SECONDARY
from han_emu.server.esi import EsiServer

from .server_helpers import h, request
from .test_esi import _publish_price, ask, build, ts, utc_hex


def _price_at(server: EsiServer, ep: int):
    [reply] = server.handle(request("01 50 00 00", cluster=0x0700, dst_ep=ep))
    return _publish_price(reply)


def test_price_duration_reaches_the_next_price() -> None:
    # 12:00:30 GMT on E7: the next switch (00:30) is 749.5 minutes away;
    # rounded down the price would end 30 s before the next one starts.
    server, _, _ = build(until=int(ts(2026, 12, 3, 12)) + 30)
    assert _price_at(server, 1).duration_in_minutes == 750
    # The secondary's price carries the generation price: it lasts until the
    # export tier changes at 16:00, not "until changed" on a flat import tariff.
    assert _price_at(server, 2).duration_in_minutes == 240


def test_scheduled_prices_follow_the_generation_tier_too() -> None:
    server, _, _ = build()
    # GetScheduledPrices from now, 2 events: export tier 3 at 16:00, tier 4 at 19:00.
    replies = server.handle(request("01 51 01 00000000 02", cluster=0x0700, dst_ep=2))
    starts = [_publish_price(r).start_time for r in replies]
    assert [int(s) for s in starts] == [ts(2026, 12, 3, 16) - 946684800, ts(2026, 12, 3, 19) - 946684800]
    first = _publish_price(replies[0])
    assert first.duration_in_minutes == 180 and first.generation_tier == 3


def test_secondary_issuer_event_id_changes_only_with_its_price() -> None:
    server, meter, clock = build(until=ts(2026, 12, 3, 13))
    seen = set()
    for minute in range(0, 180, 30):  # 13:00 .. 15:30, export tier 2 throughout
        meter.advance(ts(2026, 12, 3, 13) + minute * 60 + 60)
        clock.set(meter.time)
        seen.add(int(_price_at(server, 2).issuer_event_id))
    assert seen == {ts(2026, 12, 3, 7)}  # export tier 2 began at 07:00
    meter.advance(ts(2026, 12, 3, 16, 1))
    clock.set(meter.time)
    price = _price_at(server, 2)
    assert price.generation_tier == 3 and int(price.issuer_event_id) == ts(2026, 12, 3, 16)


def test_issuer_event_id_of_a_flat_price_is_the_tariffs_start_even_after_days() -> None:
    start = ts(2026, 12, 3)
    meter = TwinMeter(MeterSettings().validate(), start)
    meter.advance(ts(2026, 12, 20, 12))
    clock = VirtualClock(meter.time)
    server = EsiServer(meter, clock)
    # Secondary import is flat: GetTariffInformation (delivered) names the tariff's start.
    replies = server.handle(request("01 52 06 00000000 00000000 01 00", cluster=0x0700, dst_ep=2))
    info = Price.ClientCommandDefs.publish_tariff_information.schema.deserialize(replies[0].data.serialize()[3:])[0]
    assert int(info.issuer_event_id) == start


def test_get_tariff_information_both_directions() -> None:
    server, _, _ = build()
    schema = Price.ClientCommandDefs.publish_tariff_information.schema
    replies = server.handle(request("01 53 06 00000000 00000000 02 02", cluster=0x0700, dst_ep=2))
    infos = [schema.deserialize(r.data.serialize()[3:])[0] for r in replies]
    assert [r.data.serialize()[2] for r in replies] == [0x04, 0x04]
    assert [int(i.tariff_type_charging_scheme.tariff_type) for i in infos] == [0, 1]
    assert [bytes(i.tariff_label) for i in infos] == [b"Secondary import", b"Secondary export TOU"]
    assert [int(i.issuer_tariff_id) for i in infos] == [2, 3]
    # The primary element has an import tariff only: that one answers.
    [only] = server.handle(request("01 54 06 00000000 00000000 02 02", cluster=0x0700, dst_ep=1))
    assert int(schema.deserialize(only.data.serialize()[3:])[0].tariff_type_charging_scheme.tariff_type) == 0


def test_profile_interval_period_is_served_on_both_esis() -> None:
    server, _, _ = build()
    for ep in (1, 2):
        assert ask(server, "00 55 00 0f00", ep=ep) == [h("18 55 01 0f00 00 30 02")]


def test_new_meter_serves_current_week_and_month() -> None:
    server, _, _ = build()  # started on Thursday 3 Dec 2026 at 00:00, 12 h at 1 kW export
    got = ask(server, "00 56 00 3104 4104", ep=2)
    assert got == [h("18 56 01 3104 00 22 e02e00 4104 00 23 e02e0000")]
    # The previous week and month predate the meter: still invalid.
    assert ask(server, "00 57 00 3304 4304", ep=2) == [h("18 57 01 3304 00 22 ffffff 4304 00 23 ffffffff")]


def test_partial_first_interval_start_time_is_when_measuring_began() -> None:
    start = int(datetime(2026, 12, 3, 10, 12, tzinfo=timezone.utc).timestamp())
    meter = TwinMeter(MeterSettings().validate(), start)
    meter.set_flow(SECONDARY, Flow(export_w=1800.0))
    meter.set_flow(PRIMARY, Flow(import_w=600.0))
    meter.advance(start + 480)
    server = EsiServer(meter, VirtualClock(meter.time))
    # CurrentPartialProfileIntervalStartTimeReceived 0x0406 and value 0x0408: 8 min at 1.8 kW.
    got = ask(server, "00 58 00 0604 0804", ep=2)
    assert got == [h(f"18 58 01 0604 00 e2 {utc_hex(start)} 0804 00 22 f00000")]
