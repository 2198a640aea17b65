"""End to end on the virtual HAN: simulated displays against the ESI server."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from zigpy.zcl import foundation

from clusters.mp184 import EndpointMap
from han_emu.han.config import load
from han_emu.meter.model import Channel, TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.meter.settings import PRIMARY, SECONDARY
from han_emu.meter.simulate import run
from han_emu.radio.virtual import SimNode, ihd_endpoint
from han_emu.radio.vtime import run_virtual
from han_emu.sim.display import SimDisplay
from han_emu.sim.schedule import DeviceSettings, cad
from han_emu.han.virtual import VirtualHan

START = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()
QUIET = DeviceSettings("ihd", "IHD", demand_s=0, registers_s=0, prices_s=0, profile_s=0,
                       history_s=0, time_s=0, report=False)


def prepared_meter(days: float) -> TwinMeter:
    config = load(None)
    meter = TwinMeter(config.meter, START)
    run(meter, Scenario(config.scenario), START + days * 86400, 300)
    return meter


def frozen_han(meter: TwinMeter, devices, *, cbke: bool = True) -> VirtualHan:
    # A meter step far in the future: the meter stays as prepared while displays read it.
    return VirtualHan(load(None), meter, devices=devices, step_s=10**9, cbke=cbke)


def test_ihd_reads_every_mp184_item_exactly() -> None:
    meter = prepared_meter(10.3)

    async def main() -> SimDisplay:
        han = frozen_han(meter, [QUIET])
        await han.start()
        ihd = han.devices[0]
        await ihd.read_demand()
        await ihd.read_registers()
        await ihd.read_history()
        await ihd.fetch_profile(EndpointMap().secondary, 1, 96)
        await han.stop()
        return ihd

    ihd = run_virtual(main(), meter.time)
    assert ihd.key_established  # install code, then CBKE with the ESI's trust centre
    sec = ihd.readout.by_role("secondary")
    assert sec is not None and sec.endpoint == 2
    el = meter.elements[SECONDARY]
    # R1: the active export register.
    assert sec.summation["received"] == meter.reading(Channel.SECONDARY_EXPORT) > 0
    # R2: four export TOU registers, their prices, the active export tier.
    assert {t: sec.tiers[("received", t)] for t in range(1, 5)} == {
        t: el.tier_register("export", t) for t in range(1, 5)
    }
    exp = meter.tariff(SECONDARY, "export")
    assert {t: sec.money(sec.prices[("received", t)]) for t in range(1, 5)} == {
        t: exp.price_of(t) for t in range(1, 5)
    }
    assert sec.active_tier["received"] == meter.active_tier(SECONDARY, "export")
    # R3: the half-hourly export profile.
    log = meter.profiles[Channel.SECONDARY_EXPORT]
    newest = log.newest_end
    assert sec.profile[1] == {newest - i * 1800: log.get(newest - i * 1800) for i in range(96)}
    # R4: the export MPAN at its (provisional) home.
    assert sec.export_mpan == meter.settings.mpans.secondary_export
    # R6: export history like the primary's: days, weeks, months.
    today = meter.today()
    now = meter.reading(Channel.SECONDARY_EXPORT)
    for back in range(0, 9):
        assert sec.history[("day", "received", back)] == meter.daily.day(today, Channel.SECONDARY_EXPORT, now, back)
    assert sec.history[("week", "received", 1)] == meter.daily.week(today, Channel.SECONDARY_EXPORT, now, 1)
    # And the primary element is not mixed up with it.
    pri = ihd.readout.by_role("primary")
    assert pri is not None
    assert pri.summation["delivered"] == meter.reading(Channel.PRIMARY_IMPORT)
    assert pri.demand == round(meter.elements[PRIMARY].flow.demand_w)


def test_cad_pages_through_the_whole_export_log_exactly_once() -> None:
    meter = prepared_meter(95)

    async def main() -> SimDisplay:
        han = frozen_han(meter, [cad()])  # a CAD reads the full log when it starts
        await han.start()
        await han.stop()
        return han.devices[0]

    device = run_virtual(main(), meter.time)
    log = meter.profiles[Channel.SECONDARY_EXPORT]
    got = device.readout.by_role("secondary").profile[1]
    assert len(got) == 4416
    assert got == dict(log.items())
    # 4416 intervals at 24 a page: 184 GetProfile requests, none repeated.
    assert device.requests[0x0702] >= 184


def test_reporting_obeys_min_and_max_intervals_in_virtual_time() -> None:
    meter = prepared_meter(0.5)
    reports: list[tuple[float, int, int]] = []
    schema = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Report_Attributes].schema

    def spy(han: VirtualHan, frame) -> None:
        data = frame.packet.data.serialize() if not frame.aps_ack else b""
        if int(frame.src) == 0 and len(data) > 3 and data[0] & 0x03 == 0 and data[2] == 0x0A:
            report, _ = schema.deserialize(data[3:])
            for record in report.attribute_reports:
                reports.append((han.clock.now(), int(frame.packet.src_ep), int(record.attrid)))

    async def main() -> None:
        settings = DeviceSettings("ihd", "IHD", demand_s=0, registers_s=0, prices_s=0, profile_s=0,
                                  history_s=0, time_s=0, report=True, report_min_s=10, report_max_s=300)
        han = VirtualHan(load(None), meter, devices=[settings], step_s=10)
        han.listeners.append(spy)
        await han.start()
        await han.run_for(3 * 3600)
        await han.stop()

    run_virtual(main(), meter.time)
    seen = {(ep, attr) for _, ep, attr in reports}
    # Summations delivered/received and demand, on both ESIs.
    assert seen == {(ep, attr) for ep in (1, 2) for attr in (0x0000, 0x0001, 0x0400)}
    for ep, attr in seen:
        times = [when for when, e, a in reports if (e, a) == (ep, attr)]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert gaps and min(gaps) >= 10 - 0.01  # the minimum interval holds reports back
        assert max(gaps) <= 300 + 10  # the maximum interval forces one (within a meter step)
    # Export on the secondary changes every step by day: reported at the 10 s minimum.
    export = [when for when, e, a in reports if (e, a) == (2, 0x0001)]
    assert len(export) > 3 * 360 / 4


def test_malformed_frames_get_an_error_or_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    meter = prepared_meter(0.2)

    async def main() -> list:
        han = frozen_han(meter, [], cbke=False)
        await han.start()
        node = SimNode(han.air, "00:0d:6f:00:00:0a:0b:0c", [ihd_endpoint()], request_timeout=2)
        await node.join()
        out = []
        # GetProfile cut short after the channel: Default Response MALFORMED_COMMAND (0x80).
        rsp = await node.request(0x0000, 2, 0x0702, bytes.fromhex("01 00 00 01".replace(" ", "")))
        out.append(rsp.data.serialize()[2:].hex())
        # One byte is not even a ZCL header: dropped with a log line, no answer.
        with caplog.at_level(logging.WARNING):
            with pytest.raises(TimeoutError):
                await node.request(0x0000, 2, 0x0702, b"\x00\x00")
        # The server still answers properly afterwards.
        rsp = await node.request(0x0000, 2, 0x0702, bytes.fromhex("0000000100"))
        out.append(rsp.data.serialize()[2:5].hex())
        await han.stop()
        return out

    out = run_virtual(main(), meter.time)
    assert out[0] == "0b0080"
    assert out[1] == "010100"  # Read Attributes Response for 0x0001


def test_a_device_that_skips_cbke_is_refused_smart_energy_data() -> None:
    meter = prepared_meter(0.2)

    async def main() -> str:
        han = frozen_han(meter, [])
        await han.start()
        node = SimNode(han.air, "00:0d:6f:00:00:0a:0b:0d", [ihd_endpoint()], request_timeout=2)
        await han.app.permit_ncp(60)
        await node.join()  # default trust-centre link key, no key establishment
        rsp = await node.request(0x0000, 2, 0x0702, bytes.fromhex("0000000100"))
        await han.stop()
        return rsp.data.serialize()[2:].hex()

    assert run_virtual(main(), meter.time) == "0b007e"  # Default Response NOT_AUTHORIZED


def _publishes_to(frames: list, nwk: int) -> list[int]:
    """Source endpoints of the PublishPrice commands the ESI sent to ``nwk``."""
    out = []
    for f in frames:
        data = f.packet.data.serialize()
        if (not f.aps_ack and int(f.src) == 0x0000 and f.packet.cluster_id == 0x0700
                and f.packet.dst is not None and int(f.packet.dst.address) == nwk
                and data[0] & 0x0B == 0x09 and data[2] == 0x00):
            out.append(int(f.packet.src_ep))
    return out


def test_a_display_bound_to_price_is_pushed_new_prices_until_it_unbinds() -> None:
    """ZDO Bind to the ESI's Price cluster is a subscription: a display that
    never sets GetCurrentPrice's receiver-on bit is pushed PublishPrice at each
    tier change, once per change even when it is also subscribed, and no
    longer once it has unbound."""
    import zigpy.zdo.types as zdo_t

    bound = DeviceSettings("ihd", "BOUND", demand_s=0, registers_s=0, prices_s=0, profile_s=0,
                           history_s=0, time_s=0, report=False, bind_price=True)
    asker = DeviceSettings("ihd", "ASKER", demand_s=0, registers_s=0, prices_s=0, profile_s=0,
                           history_s=0, time_s=0, report=False)
    config = load(None)
    meter = TwinMeter(config.meter, START)

    async def main() -> tuple[list[int], list[int], list[int], list]:
        han = VirtualHan(config, meter, devices=[bound, asker])
        frames: list = []
        await han.start()
        han.air.add_listener(frames.append)
        a, b = han.devices
        assert a.failures == 0 and a.key_established
        esi = han.config.endpoints
        table = (han.app.bound_destinations(esi.primary, 0x0700), han.app.bound_destinations(esi.secondary, 0x0700))
        await han.run_for(86400)
        pushed_a, pushed_b = _publishes_to(frames, int(a.nwk)), _publishes_to(frames, int(b.nwk))
        frames.clear()
        me = zdo_t.MultiAddress(addrmode=0x03, ieee=a.ieee, endpoint=1)
        for ep in a.esi_endpoints:
            (status,) = await a.zdo_request(0x0000, zdo_t.ZDOCmd.Unbind_req, han.app.state.node_info.ieee,
                                            ep, 0x0700, me)
            assert status == zdo_t.Status.SUCCESS
        await han.run_for(86400)
        after = _publishes_to(frames, int(a.nwk))
        await han.stop()
        return pushed_a, pushed_b, after, list(table)

    pushed_a, pushed_b, after, table = run_virtual(main(), START)
    assert table[0] and table[1]  # a is on the coordinator's binding table for both ESIs' Price
    assert len(table[0]) == 1 and len(table[1]) == 1
    assert pushed_a and sorted(pushed_a) == sorted(pushed_b)  # bound = subscribed, one push per change
    assert after == []  # unbound, and never subscribed by the receiver-on bit
