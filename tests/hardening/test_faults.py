"""Faults with a clear error and nothing acknowledged lost: the state database
full, the state database corrupt at start (snapshot and restore), and the
coordinator leaving the air in the middle of GetProfile paging."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from han_emu.han.config import load
from han_emu.meter.model import Channel, Flow, TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.meter.settings import PRIMARY, SECONDARY, MeterSettings
from han_emu.meter.simulate import run
from han_emu.radio.vtime import run_virtual
from han_emu.sim.schedule import DeviceSettings
from han_emu.cli.main import main as state_main
from han_emu.han.store import CorruptStateError, StateStore, StoreError, snapshot_path
from han_emu.han.virtual import VirtualHan

from .esi_support import fingerprint

START = datetime(2026, 9, 1, tzinfo=timezone.utc).timestamp()
SETTINGS = MeterSettings().validate()


def meter_at(hours: float) -> TwinMeter:
    m = TwinMeter(SETTINGS, START)
    m.set_flow(SECONDARY, Flow(import_w=50.0, export_w=1500.0))
    m.set_flow(PRIMARY, Flow(import_w=700.0))
    m.advance(START + hours * 3600)
    return m


def same_state(a: TwinMeter, b: TwinMeter) -> bool:
    return fingerprint(a) == fingerprint(b)


# -- the disk is full ------------------------------------------------------------------


def test_full_database_raises_store_error_and_the_next_save_catches_up(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = StateStore(path, snapshot_every=0)
    meter = meter_at(2)
    store.save(meter)
    # No room for one more page: what a full filesystem does to SQLite.
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")
    failures = 0
    for hour in range(3, 24 * 8):  # a week of half-hours and days that cannot be written
        meter.advance(START + hour * 3600)
        try:
            store.save(meter)
        except StoreError as exc:
            failures += 1
            assert "could not save state" in str(exc) and str(path) in str(exc) and "full" in str(exc)
    assert failures > 0
    # The meter kept running in memory all along.
    assert meter.time == START + (24 * 8 - 1) * 3600
    assert meter.reading(Channel.SECONDARY_EXPORT) == round(1500 * (24 * 8 - 1))
    store._db.execute("PRAGMA max_page_count = 1073741823")  # space is back
    store.save(meter)
    store.close()
    again = StateStore(path).load(SETTINGS)
    assert again is not None and same_state(again, meter)  # everything, the outage included


# -- the database is corrupt at start ------------------------------------------------------


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    for i in range(page, len(data), 97):  # scribble over everything after the header page
        data[i] = (data[i] * 7 + 13) & 0xFF
    path.write_bytes(bytes(data))


def test_snapshots_are_taken_every_n_saves_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = StateStore(path, snapshot_every=5)
    meter = meter_at(1)
    for hour in range(2, 6):
        meter.advance(START + hour * 3600)
        store.save(meter)
    assert not snapshot_path(path).exists()  # 4 saves: none yet
    meter.advance(START + 6 * 3600)
    store.save(meter)  # the 5th
    store.close()
    snap = snapshot_path(path)
    assert snap.exists() and snap.stat().st_mode & 0o077 == 0
    restored = StateStore(snap, snapshot_every=0).load(SETTINGS)
    assert restored is not None and same_state(restored, meter)


def test_corrupt_database_names_the_snapshot_and_restore_brings_it_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.db"
    store = StateStore(path, snapshot_every=3)
    meter = meter_at(1)
    snapshots: list[tuple] = []
    for hour in range(2, 60):
        meter.advance(START + hour * 3600)
        store.save(meter)
        if hour % 3 == 1:  # the 3rd, 6th, ... save: a snapshot was just taken
            snapshots.append(fingerprint(meter))
    store.close()
    _corrupt(path)
    with pytest.raises(CorruptStateError) as info:
        StateStore(path).load(SETTINGS)
    message = str(info.value)
    assert str(path) in message and "is corrupt" in message
    assert f"han-emu state restore {path}" in message and str(snapshot_path(path)) in message

    assert state_main(["state", "check", str(path)]) == 1
    assert state_main(["state", "restore", str(path)]) == 0
    out = capsys.readouterr().out
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("m.db.corrupt-")]
    assert kept and str(kept[0]) in out  # the damaged database is kept, not deleted
    restored = StateStore(path).load(SETTINGS)
    assert restored is not None
    assert fingerprint(restored) == snapshots[-1]  # the last good snapshot
    assert path.stat().st_mode & 0o077 == 0
    assert state_main(["state", "check", str(path)]) == 0


def test_corrupt_database_without_snapshot_says_so(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = StateStore(path, snapshot_every=0)
    meter = meter_at(1)
    for hour in range(2, 40):
        meter.advance(START + hour * 3600)
        store.save(meter)
    store.close()
    _corrupt(path)
    with pytest.raises(CorruptStateError, match="no snapshot exists; move it aside"):
        StateStore(path).load(SETTINGS)
    assert state_main(["state", "restore", str(path)]) == 2


def test_cli_run_reports_a_corrupt_database_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from han_emu.cli.main import main

    path = tmp_path / "m.db"
    store = StateStore(path, snapshot_every=1)
    meter = meter_at(1)
    for hour in range(2, 40):
        meter.advance(START + hour * 3600)
        store.save(meter)
    store.close()
    _corrupt(path)
    assert main(["run", "--state", str(path), "--simulate", "1m"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("han-emu: state database") and "state restore" in err


def test_stale_wal_is_not_replayed_onto_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = StateStore(path, snapshot_every=2)
    meter = meter_at(1)
    for hour in range(2, 8):
        meter.advance(START + hour * 3600)
        store.save(meter)
    expected = fingerprint(meter)  # the 6th save: snapshot
    # Leave a WAL behind as a killed process would, then damage the database.
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_autocheckpoint = 0")
    con.execute("UPDATE core SET state = '{}'")
    con.commit()
    store._db.close()
    assert Path(str(path) + "-wal").exists()
    _corrupt(path)
    with pytest.raises(CorruptStateError):  # damaged pages, or the emptied core row
        StateStore(path).load(SETTINGS)
    assert state_main(["state", "restore", str(path)]) == 0
    con.close()
    restored = StateStore(path).load(SETTINGS)
    assert restored is not None and fingerprint(restored) == expected


# -- the coordinator leaves mid-paging ----------------------------------------------------------

QUIET_CAD = DeviceSettings("cad", "CAD", demand_s=0, registers_s=0, prices_s=0, profile_s=0,
                           history_s=0, time_s=0, report=False)


def _paging_with_the_coordinator_leaving(tmp_path: Path, on_ack: bool) -> tuple[int, int, dict, tuple, TwinMeter, tuple]:
    """A CAD pages back through the export log; the ESI's radio goes off the air
    after its 5th GetProfileResponse (when the CAD acknowledged it, or while
    that response is still in flight)."""
    import asyncio

    config = load(None)
    meter = TwinMeter(config.meter, START)
    run(meter, Scenario(config.scenario), START + 12 * 86400, 300)
    store = StateStore(tmp_path / "m.db", snapshot_every=0)
    store.save(meter)
    before = fingerprint(meter)

    async def main() -> tuple[int, int, dict]:
        han = VirtualHan(config, meter, store=store, devices=[QUIET_CAD], step_s=10**9)
        await han.start()
        cad = han.devices[0]
        responses = 0

        def on_air(h: VirtualHan, frame) -> None:
            nonlocal responses
            if int(frame.packet.cluster_id) != 0x0702:
                return
            if on_ack and frame.aps_ack and int(frame.src) != 0:
                responses += 1  # the CAD acknowledges a response from the ESI
            elif not on_ack and not frame.aps_ack and int(frame.src) == 0:
                data = frame.packet.data.serialize()
                responses += data[:1] == b"\x19" and data[2:3] == b"\x00"
            else:
                return
            if responses == 5:
                asyncio.get_running_loop().create_task(han.app.disconnect())

        han.listeners.append(on_air)
        got = await cad.fetch_full_log(2, channel=1)
        result = got, cad.failures, dict(cad.readout.by_role("secondary").profile[1])
        await han.stop()
        return result

    got, failures, profile = run_virtual(main(), meter.time)
    store.close()
    return got, failures, profile, before, meter, fingerprint(StateStore(tmp_path / "m.db").load(config.meter))


def test_coordinator_leaving_during_get_profile_paging(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    got, failures, profile, before, meter, on_disk = _paging_with_the_coordinator_leaving(tmp_path, on_ack=True)
    # The display noticed: paging stopped after the pages it got, with the failure counted.
    assert got == 5 * 24 and failures == 1
    # What it did receive is exact, and only that.
    log = meter.profiles[Channel.SECONDARY_EXPORT]
    newest = log.newest_end
    assert profile == {newest - i * 1800: log.get(newest - i * 1800) for i in range(5 * 24)}
    # The meter and its log are intact, in memory and on disk (the virtual HAN
    # brought the meter up to its clock: a hundredth of a second later).
    for after in (fingerprint(meter), on_disk):
        assert after[3:] == before[3:]  # profile and daily logs
        assert all(a >= b for a, b in zip(after[1], before[1])) and after[0] >= before[0]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_coordinator_leaving_with_a_response_in_flight(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    got, failures, profile, before, meter, on_disk = _paging_with_the_coordinator_leaving(tmp_path, on_ack=False)
    assert fingerprint(meter)[3:] == before[3:] and on_disk[3:] == before[3:]  # this part holds
    assert failures == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_virtual_han_keeps_metering_through_a_full_disk(tmp_path: Path) -> None:
    config = load(None)
    meter = TwinMeter(config.meter, START)
    store = StateStore(tmp_path / "m.db", snapshot_every=0)
    store.save(meter)

    async def main() -> float:
        han = VirtualHan(config, meter, store=store, devices=[], cbke=False, step_s=300)
        await han.start()
        await han.run_for(600)
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk fills up
        await han.run_for(3 * 86400)
        store._db.execute("PRAGMA max_page_count = 1073741823")  # space is back
        await han.run_for(600)
        saved = StateStore(tmp_path / "m.db", snapshot_every=0).load(config.meter)
        await han.stop()
        assert saved is not None
        return meter.time - saved.time

    behind = run_virtual(main(), START)
    assert behind <= 600  # saved within the last two meter steps
