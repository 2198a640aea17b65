"""Captures as scenarios: a synthesized meter session drives the meter model,
and a simulated IHD on the virtual HAN then reads what the capture showed."""

from __future__ import annotations

import io
import json
import struct

import pytest

from clusters.mp184 import EndpointMap
from han_emu.cli.main import main as cli_main
from han_emu.han.config import load
from han_emu.meter.model import Channel
from han_emu.meter.settings import PRIMARY, SECONDARY
from han_emu.meter.simulate import step
from han_emu.radio.vtime import run_virtual
from han_emu.replay.scenario import recorded_scenario, recording_from_capture
from han_emu.sim.schedule import DeviceSettings
from han_emu.han.virtual import VirtualHan

from .helpers import ESI, IHD, LINK_KEY, NWK_KEY, T0, pcap_bytes, se_frame

ZCL_EPOCH = 946_684_800
EXPORT_W = [0, 600, 1800, 3000, 1200, 0]  # secondary export, per half hour from T0
IMPORT_W = [350, 300, 2400, 500, 700, 900]  # primary import
START_EXPORT, START_IMPORT = 250_000, 4_000_000  # Wh at T0
READ_AT = [T0 + 420 + 1200 * k for k in range(9)] + [T0 + 3 * 3600 + 30]


def wh(powers: list[int], ts: float) -> int:
    e = 0.0
    for k, p in enumerate(powers):
        a = T0 + k * 1800
        if ts > a:
            e += p * (min(ts, a + 1800) - a) / 3600
    return int(e)


def demand_at(powers: list[int], ts: float) -> int:
    return powers[min(int((ts - T0) // 1800), len(powers) - 1)]


# --- ZCL frames written from the Metering tables ---------------------------------------


def u48(v: int) -> bytes:
    return v.to_bytes(6, "little")


def read_rsp(tsn: int, summ_id: int, summ: int, demand: int) -> bytes:
    """Read Attributes Response: CurrentSummation (uint48, 0x25), InstantaneousDemand (int24, 0x2a)."""
    return (bytes([0x18, tsn, 0x01]) + struct.pack("<HBB", summ_id, 0, 0x25) + u48(summ)
            + struct.pack("<HBB", 0x0400, 0, 0x2A) + demand.to_bytes(3, "little", signed=True))


def read_req(tsn: int, *ids: int) -> bytes:
    return bytes([0x00, tsn, 0x00]) + b"".join(struct.pack("<H", i) for i in ids)


SCALING_REPORT = bytes.fromhex("18" "01" "0a" "0103" "22" "010000" "0203" "22" "e80300")  # Multiplier 1, Divisor 1000


def get_profile(tsn: int, channel: int, count: int) -> bytes:
    return bytes([0x01, tsn, 0x00, channel]) + struct.pack("<I", 0) + bytes([count])


def get_profile_rsp(tsn: int, end: float, values: list[int]) -> bytes:
    """Status 0, ProfileIntervalPeriod 2 (30 min), intervals newest first as uint24."""
    return (bytes([0x09, tsn, 0x00]) + struct.pack("<IBBB", int(end) - ZCL_EPOCH, 0, 2, len(values))
            + b"".join(v.to_bytes(3, "little") for v in values))


def capture() -> bytes:
    frames: list[tuple[float, bytes, int, int, int, int, int]] = []  # t, zcl, src, dst, sep, dep, cluster
    frames.append((T0 + 60, SCALING_REPORT, ESI, IHD, 1, 1, 0x0702))
    frames.append((T0 + 61, SCALING_REPORT, ESI, IHD, 2, 1, 0x0702))
    tsn = 10
    for ts in READ_AT:
        frames.append((ts - 0.2, read_req(tsn, 0x0000, 0x0400), IHD, ESI, 1, 1, 0x0702))
        frames.append((ts, read_rsp(tsn, 0x0000, START_IMPORT + wh(IMPORT_W, ts), demand_at(IMPORT_W, ts)),
                       ESI, IHD, 1, 1, 0x0702))
        frames.append((ts + 0.3, read_req(tsn + 1, 0x0001, 0x0400), IHD, ESI, 1, 2, 0x0702))
        frames.append((ts + 0.5, read_rsp(tsn + 1, 0x0001, START_EXPORT + wh(EXPORT_W, ts + 0.5),
                                          -demand_at(EXPORT_W, ts + 0.5)), ESI, IHD, 2, 1, 0x0702))
        tsn += 2
    end = T0 + 3 * 3600
    t = end + 40
    frames.append((t, get_profile(tsn, 1, 6), IHD, ESI, 1, 2, 0x0702))
    frames.append((t + 0.2, get_profile_rsp(tsn, end, [p // 2 for p in reversed(EXPORT_W)]), ESI, IHD, 2, 1, 0x0702))
    frames.append((t + 1, get_profile(tsn + 1, 0, 6), IHD, ESI, 1, 1, 0x0702))
    frames.append((t + 1.2, get_profile_rsp(tsn + 1, end, [p // 2 for p in reversed(IMPORT_W)]), ESI, IHD, 1, 1, 0x0702))
    psdus = [(ts, se_frame(i, zcl, src, dst, sep, dep, cl)) for i, (ts, zcl, src, dst, sep, dep, cl) in enumerate(frames)]
    return pcap_bytes(psdus)


LAST_EXPORT = START_EXPORT + wh(EXPORT_W, READ_AT[-1] + 0.5)
LAST_IMPORT = START_IMPORT + wh(IMPORT_W, READ_AT[-1])
INTERVAL_ENDS = [int(T0 + (k + 1) * 1800) for k in range(6)]


@pytest.fixture(scope="module")
def capture_bytes() -> bytes:
    return capture()


def test_the_capture_yields_the_time_series(capture_bytes: bytes) -> None:
    rec = recording_from_capture(capture_bytes, [NWK_KEY], [LINK_KEY])
    exp = rec.channel(SECONDARY, "export")
    assert [t for t, _ in exp.readings] == [ts + 0.5 for ts in READ_AT]
    assert exp.readings[-1][1] == LAST_EXPORT  # Divisor 1000, kWh: one raw unit is one Wh
    assert rec.channel(PRIMARY, "import").readings[0] == (READ_AT[0], START_IMPORT + wh(IMPORT_W, READ_AT[0]))
    assert exp.intervals == {end: p // 2 for end, p in zip(INTERVAL_ENDS, EXPORT_W)}
    assert rec.channel(PRIMARY, "import").intervals == {end: p // 2 for end, p in zip(INTERVAL_ENDS, IMPORT_W)}
    assert rec.channel(SECONDARY, "import").readings == []
    assert rec.elements[SECONDARY].demand[3] == (READ_AT[3] + 0.5, -1800.0)  # 01:07: the third half hour


def test_swapped_endpoint_roles_swap_the_elements(capture_bytes: bytes) -> None:
    rec = recording_from_capture(capture_bytes, [NWK_KEY], [LINK_KEY], endpoints=EndpointMap(primary=2, secondary=1))
    assert rec.channel(PRIMARY, "export").readings[-1][1] == LAST_EXPORT
    assert rec.channel(SECONDARY, "import").readings[-1][1] == LAST_IMPORT


def test_the_meter_ends_on_the_last_readings_with_the_recorded_intervals(capture_bytes: bytes) -> None:
    # One key list for both layers, as --key gives it.
    scenario = recorded_scenario(capture_bytes, [NWK_KEY.hex(), LINK_KEY.hex()])
    # The capture's first and last frames: the scaling report, the last profile answer.
    assert scenario.start == T0 + 60 and scenario.end == pytest.approx(T0 + 3 * 3600 + 41.2)
    meter = scenario.new_meter(load(None).meter)
    before = meter.readings()
    last_reading = READ_AT[-1] + 0.5
    while meter.time < last_reading:
        step(meter, scenario, min(last_reading, meter.time + 10))
        now = meter.readings()
        assert all(b >= a for a, b in zip(before, now))
        before = now
    assert meter.reading(Channel.SECONDARY_EXPORT) == LAST_EXPORT
    assert meter.reading(Channel.PRIMARY_IMPORT) == LAST_IMPORT
    for channel, powers in ((Channel.SECONDARY_EXPORT, EXPORT_W), (Channel.PRIMARY_IMPORT, IMPORT_W)):
        log = meter.profiles[channel]
        assert [log.get(end) for end in INTERVAL_ENDS] == [p // 2 for p in powers]


def test_a_simulated_ihd_reads_the_captured_values_on_the_virtual_han(capture_bytes: bytes) -> None:
    config = load(None)
    scenario = recorded_scenario(capture_bytes, [NWK_KEY, LINK_KEY])
    meter = scenario.new_meter(config.meter)
    quiet = DeviceSettings("ihd", "IHD", demand_s=0, registers_s=0, prices_s=0, profile_s=0,
                           history_s=0, time_s=0, report=False)

    async def main():
        han = VirtualHan(config, meter, devices=[quiet], step_s=10, scenario=scenario)
        await han.start()
        await han.run_for(READ_AT[-1] + 0.5 - scenario.start)  # up to the last readings
        ihd = han.devices[0]
        await ihd.read_demand()  # demand and both summations of each element
        await ihd.fetch_profile(2, 1, 6)
        await ihd.fetch_profile(1, 0, 6)
        await han.stop()
        return ihd

    ihd = run_virtual(main(), scenario.start)
    sec, pri = ihd.readout.by_role("secondary"), ihd.readout.by_role("primary")
    assert sec.summation["received"] == LAST_EXPORT
    assert pri.summation["delivered"] == LAST_IMPORT
    assert {end: sec.profile[1][end] for end in INTERVAL_ENDS} == {e: p // 2 for e, p in zip(INTERVAL_ENDS, EXPORT_W)}
    assert {end: pri.profile[0][end] for end in INTERVAL_ENDS} == {e: p // 2 for e, p in zip(INTERVAL_ENDS, IMPORT_W)}


def test_run_scenario_from_on_the_command_line(tmp_path, capture_bytes: bytes, capsys) -> None:
    path = tmp_path / "meter.pcap"
    path.write_bytes(capture_bytes)
    keylog = tmp_path / "keys.txt"
    keylog.write_text(f'"{LINK_KEY.hex()}","Normal","trust centre link"\n')
    config = tmp_path / "han.toml"  # one display polling every 10 s
    config.write_text('[[devices]]\nkind = "ihd"\nname = "IHD"\nregisters_s = 0\nprices_s = 0\nprofile_s = 0\n'
                      'history_s = 0\ntime_s = 0\nreport = false\n')
    summary = tmp_path / "summary.json"
    rc = cli_main(["run", "--config", str(config), "--scenario-from", str(path), "--scenario-key", NWK_KEY.hex(),
                   "--scenario-keylog", str(keylog), "--simulate", "1h", "--summary-json", str(summary), "--no-cbke"])
    assert rc == 0
    data = json.loads(summary.read_text())
    # Simulations run at the capture's own time, from its first frame.
    assert abs(data["meter_time"] - (T0 + 60 + 3600)) < 10
    seen = data["devices"]["IHD"]["readout"]["elements"]
    # The IHD polls every 10 s: it saw the register of the last minute of that hour.
    low, high = START_EXPORT + wh(EXPORT_W, T0 + 3600), START_EXPORT + wh(EXPORT_W, T0 + 3660)
    assert low / 1000 <= seen["secondary"]["export_kwh"] <= high / 1000


def test_run_scenario_from_a_capture_without_readings_is_refused(tmp_path, capsys) -> None:
    path = tmp_path / "empty.pcap"
    path.write_bytes(pcap_bytes([]))
    with pytest.raises(SystemExit) as exc:
        cli_main(["run", "--scenario-from", str(path), "--simulate", "1h"])
    assert exc.value.code == 2
    assert "no Metering readings" in capsys.readouterr().err
