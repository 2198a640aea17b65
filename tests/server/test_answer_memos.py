"""Answers the ESI keeps between requests are the answers it would build afresh.

Read Attributes plans found by the request's payload bytes, and the PublishPrice
a GetCurrentPrice gets, made once per set of fields with the current time put
in: each is held here to the plain way over a simulated day.
"""

from __future__ import annotations

import struct

import zigpy.types as t
from zigpy.zcl.foundation import ZCLAttributeDef

from clusters import Metering
from han_emu.meter.clock import VirtualClock
from han_emu.meter.model import TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.meter.settings import MeterSettings
from han_emu.meter.simulate import step
from han_emu.server.attributes import AttributeTable
from han_emu.server.esi import EsiServer
from han_emu.server.price import _around_current_time

START = 1780272000.0  # 2026-06-01 00:00 UTC


def test_a_payloads_read_plan_is_its_ids_plan() -> None:
    clock = VirtualClock(START)
    server = EsiServer(TwinMeter(MeterSettings(), clock.now()), clock)
    for endpoint in server.zcl.endpoints.values():
        side = endpoint.side(Metering.cluster_id, server=True)
        table = side.attributes
        ids = table.ids() + [0x7777, 0x0000]
        for n in range(1, len(ids)):
            chunk = tuple(ids[n - 1:n + 5])
            payload = struct.pack(f"<{len(chunk)}H", *chunk)
            for _ in range(2):  # the second from the memo
                assert table.read_plan_of(payload) == table.read_plan(chunk)
                assert table.read_plan_of(payload, 0x1234) == table.read_plan(chunk, 0x1234)


def test_read_plans_by_payload_follow_added_bindings() -> None:
    table = AttributeTable()
    assert table.read_plan_of(b"\x01\x00") == ((b"\x01\x00\x86", None),)
    binding = table.bind(ZCLAttributeDef(id=0x0001, type=t.uint8_t, access="r", name="x"), lambda: 3)
    assert table.read_plan_of(b"\x01\x00") == ((b"\x01\x00\x00", binding),)


def test_get_current_price_bytes_are_the_publish_price_serialized() -> None:
    """Every 10 s of a day (tier switches, durations counting down) on both elements."""
    clock = VirtualClock(START)
    meter = TwinMeter(MeterSettings(), clock.now())
    server = EsiServer(meter, clock)
    scenario = Scenario()
    for _ in range(8640):
        step(meter, scenario, meter.time + 10.0)
        for prices in server.prices.values():
            assert prices.publish_price_bytes() == prices.publish_price().serialize()
    assert all(len(p._published) > 1 for p in server.prices.values())  # the price did change


def test_current_time_is_found_between_the_bytes_around_it() -> None:
    clock = VirtualClock(START + 1234.5)
    server = EsiServer(TwinMeter(MeterSettings(), clock.now()), clock)
    for prices in server.prices.values():
        fields = prices._publish_fields(None)
        before, after, now = _around_current_time(fields)
        assert after is not None and now == int(fields["current_time"])
        whole = prices.publish_price().serialize()
        assert whole == before + now.to_bytes(4, "little") + after
        assert len(before) == 4 + 1 + len(fields["rate_label"]) + 4  # ProviderID, RateLabel, IssuerEventID
