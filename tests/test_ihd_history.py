"""The simulated IHD's history on the virtual HAN: the whole history (8 days,
5 weeks, 13 months, import and the secondary's export) at start and just after
each GB local midnight, this week and month hourly in between; what it read
equals the meter; and the tier registers it read just after midnight give
today's cost."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from zigpy.zcl import foundation

from clusters.metering import previous_day_attr, previous_month_attr, previous_week_attr
from clusters.zcl_header import ZclHeader
from han_emu.han.config import load
from han_emu.han.virtual import VirtualHan
from han_emu.meter.gbtime import local_midnight
from han_emu.meter.model import Channel, TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.meter.simulate import run
from han_emu.radio.vtime import run_virtual
from han_emu.readout.costs import period_cost
from han_emu.sim.display import HISTORY_AFTER_MIDNIGHT_S
from han_emu.sim.schedule import DeviceSettings

#: Wednesday 3 June 2026, 21:30 UTC (22:30 BST); GB midnight is at 23:00 UTC.
START = datetime(2026, 6, 3, 21, 30, tzinfo=timezone.utc).timestamp()
MIDNIGHT = datetime(2026, 6, 3, 23, 0, tzinfo=timezone.utc).timestamp()
RUN_S = 4 * 3600.0
IHD = DeviceSettings("ihd", "IHD", demand_s=0, registers_s=60, prices_s=0, profile_s=0,
                     history_s=3600, time_s=0, report=False)
WHOLE = previous_day_attr(8)  # only the whole-history read asks for the eighth day back
CURRENT = {previous_week_attr(0), previous_week_attr(0, True), previous_month_attr(0), previous_month_attr(0, True)}
_READ = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes].schema


def history_reads(frames, ihd_nwk: int) -> list[tuple[float, int, set[int]]]:
    """(time, ESI endpoint, attribute ids) of each Read Attributes on Metering
    from the IHD that asks for history."""
    out = []
    for f in frames:
        p = f.packet
        if f.aps_ack or int(f.src) != ihd_nwk or int(p.cluster_id) != 0x0702:
            continue
        header, body = ZclHeader.deserialize(p.data.serialize())
        if not header.frame_control.is_general or header.command_id != foundation.GeneralCommand.Read_Attributes:
            continue
        ids = {int(a) for a in _READ.deserialize(body)[0].attribute_ids}
        history = {a for a in ids if 0x0430 <= a <= 0x045B or 0x0403 <= a <= 0x0404 or 0x0420 <= a <= 0x042F}
        if history:
            out.append((f.time, int(p.dst_ep), history))
    return out


def bursts(times) -> list[float]:
    """The first time of each run of reads (one poll sends several, seconds apart)."""
    out: list[float] = []
    for t in sorted(times):
        if not out or t - last > 60:
            out.append(t)
        last = t
    return out


def test_the_ihd_reads_its_history_at_start_after_midnight_and_the_current_periods_hourly() -> None:
    config = load(None)
    meter = TwinMeter(config.meter, START - 40 * 86400)
    run(meter, Scenario(config.scenario), START, 300)

    async def main():
        han = VirtualHan(config, meter, devices=[IHD])
        frames: list = []
        await han.start()
        ihd = han.devices[0]
        started = han.clock.now()
        han.air.add_listener(frames.append)
        await han.run_for(RUN_S)
        end = {ch: han.meter.reading(ch) for ch in Channel}
        today = han.meter.today()
        await han.stop()
        return ihd, frames, started, end, today

    ihd, frames, started, end, today = run_virtual(main(), START)
    reads = history_reads(frames, int(ihd.nwk))
    whole = bursts(t for t, _ep, ids in reads if WHOLE in ids)
    current = bursts(t for t, _ep, ids in reads if ids <= CURRENT)
    # The whole history when the schedule starts and just after GB midnight, and not again.
    assert len(whole) == 2 and started <= whole[0] < started + 60
    assert MIDNIGHT + HISTORY_AFTER_MIDNIGHT_S <= whole[1] < MIDNIGHT + HISTORY_AFTER_MIDNIGHT_S + 60
    # This week and month hourly in between: 22:30 UTC; 00:02, 01:02 UTC (23:02 is the whole read).
    assert len(current) == 3
    assert 3600 <= current[0] - whole[0] < 3660 and current[0] < whole[1]
    assert [round(b - a) for a, b in zip([whole[1], *current[1:]], current[1:])] == [3600, 3600]
    # Both elements, import on both and export on the secondary (MP184 R6), every period back.
    eps = {ep for _t, ep, ids in reads if WHOLE in ids}
    assert eps == {1, 2}
    asked = set().union(*(ids for _t, ep, ids in reads if ep == 2))
    assert {previous_week_attr(n, True) for n in range(6)} <= asked
    assert {previous_month_attr(n, True) for n in range(14)} <= asked
    # What it holds equals the meter's logs for every previous period (they do not move after midnight).
    for role, element in (("primary", "primary"), ("secondary", "secondary")):
        el = ihd.readout.by_role(role)
        for direction in ("import", "export") if role == "secondary" else ("import",):
            ch = Channel.of(element, direction)
            zcl = "delivered" if direction == "import" else "received"
            for back in range(1, 6):
                assert el.history[("week", zcl, back)] == meter.daily.week(today, ch, end[ch], back), (role, back)
            for back in range(1, 14):
                assert el.history[("month", zcl, back)] == meter.daily.month(today, ch, end[ch], back), (role, back)
            for back in range(1, 9):
                assert el.history[("day", zcl, back)] == meter.daily.day(today, ch, end[ch], back), (role, back)
    pri = ihd.readout.by_role("primary")
    # May is whole in the meter's log; months before it began are invalid on the HAN and unknown here.
    assert pri.history[("month", "delivered", 1)] is not None
    assert pri.history[("month", "delivered", 13)] is None
    # The registers read in the first minute of Thursday are its mark; today's cost follows from them.
    mark = pri.day_marks[today]
    assert local_midnight(today) <= mark.at <= local_midnight(today) + IHD.registers_s
    cost = period_cost(ihd.readout, "day", 0, ihd.clock.now()).primary
    price = {n: pri.money(pri.prices[("delivered", n)]) for n in (1, 2)}
    expected = sum((pri.kwh(pri.tiers[("delivered", n)] - mark.registers[n]) * price[n] for n in (1, 2)), Decimal(0))
    assert cost == expected + pri.money(pri.standing_charge)
    # The registers' difference is today's consumption but for the seconds before the mark's read
    # and after the last read.
    used = sum(pri.tiers[("delivered", n)] - mark.registers[n] for n in (1, 2))
    after_last = end[Channel.PRIMARY_IMPORT] - sum(pri.tiers[("delivered", n)] for n in (1, 2))
    today_wh = meter.daily.day(today, Channel.PRIMARY_IMPORT, end[Channel.PRIMARY_IMPORT])
    assert -2 <= today_wh - used - after_last <= 100  # Wh: tiers and total round apart
