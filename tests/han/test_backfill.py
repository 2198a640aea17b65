"""A run's meter with history from the start (``--backfill``): what the ESI
serves from it at once, how the store keeps it (one transaction), and the rule
for a meter that already has history: it continues from its last reading."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import zigpy.types as t
from zigpy.zcl import foundation

from clusters.metering import previous_day_attr, previous_month_attr, previous_week_attr
from han_emu.han.config import load
from han_emu.han.runner import backfill_meter, open_meter
from han_emu.han.store import StateStore
from han_emu.meter.clock import VirtualClock
from han_emu.meter.gbtime import local_midnight, week_start
from han_emu.meter.model import Channel, TwinMeter
from han_emu.meter.profile import PERIOD, THREE_MONTHS
from han_emu.server.esi import EsiServer

NOW = datetime(2026, 6, 2, 12, tzinfo=timezone.utc).timestamp()  # a Tuesday
DAY = 86400
Y2K = 946684800
SECONDARY_EP = 2
CONFIG = load(None)


def read_attributes(server: EsiServer, ids: list[int]) -> dict[int, int | None]:
    """Read Attributes on the secondary element's Metering cluster: id -> value (None: not successful)."""
    body = bytes([0x00, 0x21, 0x00]) + b"".join(i.to_bytes(2, "little") for i in ids)
    packet = t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x1234), src_ep=7,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000), dst_ep=SECONDARY_EP,
        tsn=0x21, profile_id=0x0109, cluster_id=0x0702, data=t.SerializableBytes(body),
        tx_options=t.TransmitOptions.APS_Encryption)
    [reply] = server.handle(packet)
    hdr, rest = foundation.ZCLHeader.deserialize(reply.data.serialize())
    rsp, _ = foundation.GENERAL_COMMANDS[hdr.command_id].schema.deserialize(rest)
    return {r.attrid: (r.value.value if r.status == foundation.Status.SUCCESS else None)
            for r in rsp.status_records}


def get_profile(server: EsiServer, end_utc: int) -> tuple[int, int, list[int]]:
    """GetProfile on the export channel (1) for 24 periods: (status, end, values)."""
    body = bytes([0x01, 0x30, 0x00, 0x01]) + end_utc.to_bytes(4, "little") + bytes([24])
    packet = t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x1234), src_ep=7,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000), dst_ep=SECONDARY_EP,
        tsn=0x30, profile_id=0x0109, cluster_id=0x0702, data=t.SerializableBytes(body),
        tx_options=t.TransmitOptions.APS_Encryption)
    [reply] = server.handle(packet)
    data = reply.data.serialize()[3:]
    end, status, count = int.from_bytes(data[0:4], "little"), data[4], data[6]
    return status, end, [int.from_bytes(data[7 + 3 * i: 10 + 3 * i], "little") for i in range(count)]


def export_between(meter: TwinMeter, start: float, end: float) -> int:
    """The secondary export the profile log holds for intervals ending in (start, end]."""
    log = meter.profiles[Channel.SECONDARY_EXPORT]
    return sum(log.get(int(e)) or 0 for e in range(int(start) + PERIOD, int(end) + 1, PERIOD))


def test_400_days_of_backfill_serve_the_ihd_screens_and_the_export_profile_at_once(tmp_path: Path) -> None:
    lines: list[str] = []
    meter, store = open_meter(CONFIG, str(tmp_path / "m.db"), NOW, backfill=400 * DAY, inform=lines.append)
    assert store is not None
    store.close()
    assert meter.time == NOW
    assert lines and lines[0].startswith("backfill: 400 d of history filled in ")
    assert lines[0].endswith("s; the meter's first reading is at 2025-04-28T13:00:00+01:00")
    server = EsiServer(meter, VirtualClock(NOW))

    # The 8-day screen: yesterday and the 7 days before, each the day's half-hours of export.
    today = meter.today()
    days = read_attributes(server, [previous_day_attr(n, received=True) for n in range(1, 9)])
    for n in range(1, 9):
        day = today - timedelta(days=n)
        expected = export_between(meter, local_midnight(day), local_midnight(day + timedelta(days=1)))
        assert days[previous_day_attr(n, received=True)] == expected > 0
    # The 5-week screen (weeks from Monday), from the profile the same way.
    monday = week_start(today)
    weeks = read_attributes(server, [previous_week_attr(n, received=True) for n in range(0, 6)])
    for n in range(1, 6):
        first = monday - timedelta(weeks=n)
        expected = export_between(meter, local_midnight(first), local_midnight(first + timedelta(weeks=1)))
        assert weeks[previous_week_attr(n, received=True)] == expected > 0
    # The 13-month screen: every previous month back to May 2025 is there, and they add up.
    months = read_attributes(server, [previous_month_attr(n, received=True) for n in range(0, 14)])
    assert None not in months.values() and min(months.values()) > 0
    assert sum(months.values()) < meter.reading(Channel.SECONDARY_EXPORT)  # 28-30 April 2025 came first

    # GetProfile pages back through the whole export profile: 3 months of half-hours, all measured.
    seen: dict[int, int] = {}
    end = 0
    while True:
        status, newest, values = get_profile(server, end)
        if status == 5:  # no intervals before the oldest
            break
        assert status == 0
        for i, value in enumerate(values):
            seen[newest + Y2K - i * PERIOD] = value
        end = newest - len(values) * PERIOD
    assert len(seen) == THREE_MONTHS
    assert max(seen) == NOW and min(seen) == NOW - (THREE_MONTHS - 1) * PERIOD
    assert 0xFFFFFF not in seen.values()
    assert seen == dict(meter.profiles[Channel.SECONDARY_EXPORT].items())

    # The store kept it all: a restart serves the same history.
    store = StateStore(tmp_path / "m.db")
    again = store.load(CONFIG.meter)
    store.close()
    assert again is not None and again.time == NOW and again.readings() == meter.readings()
    assert [list(p.items()) for p in again.profiles] == [list(p.items()) for p in meter.profiles]
    assert again.daily.items() == meter.daily.items() and len(again.daily) == 401
    assert {n: (e.import_tiers, e.export_tiers) for n, e in again.elements.items()} == \
           {n: (e.import_tiers, e.export_tiers) for n, e in meter.elements.items()}


def test_the_backfilled_history_is_saved_in_one_transaction(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "m.db", snapshot_every=0)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    meter = backfill_meter(CONFIG, None, NOW, 10 * DAY, store=store, inform=lambda line: None)
    store._db.set_trace_callback(None)
    store.close()
    verbs = [s.split()[0].upper() for s in statements]
    assert verbs.count("BEGIN") == 1 and verbs.count("COMMIT") == 1
    assert verbs[0] == "BEGIN" and verbs[-1] == "COMMIT"
    with sqlite3.connect(tmp_path / "m.db") as db:
        assert db.execute("SELECT count(*) FROM profile").fetchone()[0] == 4 * 10 * 48
        assert db.execute("SELECT count(*) FROM daily").fetchone()[0] == len(meter.daily) == 11


def saved_meter(tmp_path: Path, days: float) -> TwinMeter:
    meter, store = open_meter(CONFIG, str(tmp_path / "m.db"), NOW, backfill=days * DAY, inform=lambda line: None)
    assert store is not None
    store.close()
    return meter


def test_a_meter_with_history_continues_from_its_last_reading(tmp_path: Path) -> None:
    before = saved_meter(tmp_path, 2)
    lines: list[str] = []
    later = NOW + 5 * 3600
    meter, store = open_meter(CONFIG, str(tmp_path / "m.db"), later, backfill=2 * DAY, inform=lines.append)
    assert store is not None
    store.close()
    assert len(lines) == 1
    assert lines[0].startswith(f"backfill: state database {tmp_path / 'm.db'} already holds this meter's history: "
                               "continuing from its last reading at 2026-06-02T13:00:00+01:00, 5 h filled in ")
    assert lines[0].endswith(" (a new --state backfills from scratch)")
    assert meter.time == later
    log = meter.profiles[Channel.PRIMARY_IMPORT]
    assert log.oldest_end == before.profiles[Channel.PRIMARY_IMPORT].oldest_end  # history kept, not rewritten
    assert all(log.get(int(e)) is not None for e in range(int(NOW) + PERIOD, int(later) + 1, PERIOD))
    assert meter.daily.items()[0] == before.daily.items()[0]
    assert all(b >= a for a, b in zip(before.readings(), meter.readings()))
    store = StateStore(tmp_path / "m.db")
    assert store.saved_time() == later  # saved at once
    store.close()


def test_history_older_than_the_backfill_leaves_a_gap_before_it(tmp_path: Path) -> None:
    saved_meter(tmp_path, 1)
    lines: list[str] = []
    later = NOW + 5 * DAY
    meter, store = open_meter(CONFIG, str(tmp_path / "m.db"), later, backfill=DAY, inform=lines.append)
    assert store is not None
    store.close()
    assert "; the 4 d before 2026-06-06T13:00:00+01:00 stay unmeasured" in lines[0]
    log = meter.profiles[Channel.SECONDARY_EXPORT]
    assert log.get(int(NOW + 2 * DAY)) is None  # the meter was not running
    assert all(log.get(int(e)) is not None for e in range(int(later - DAY) + PERIOD, int(later) + 1, PERIOD))


def test_a_saved_clock_at_or_after_the_start_has_nothing_to_fill(tmp_path: Path) -> None:
    before = saved_meter(tmp_path, 1)
    lines: list[str] = []
    meter, store = open_meter(CONFIG, str(tmp_path / "m.db"), NOW - 3600, backfill=DAY, inform=lines.append,
                              warn=lambda line: None)
    assert store is not None
    store.close()
    assert meter.time == NOW and meter.readings() == before.readings()
    assert lines == [f"backfill: state database {tmp_path / 'm.db'} already holds this meter's history, up to "
                     "2026-06-02T13:00:00+01:00: nothing to fill (a new --state backfills from scratch)"]


def test_without_a_store_the_backfilled_meter_is_kept_nowhere() -> None:
    meter, store = open_meter(CONFIG, "none", NOW, backfill=3 * DAY, inform=lambda line: None)
    assert store is None and meter.time == NOW
    assert meter.profiles[Channel.PRIMARY_IMPORT].oldest_end == NOW - 3 * DAY + PERIOD


@pytest.mark.parametrize(("value", "message"), [
    ('"soon"', "meter.backfill: not a duration: 'soon' (try 90, 90s, 15m, 24h or 3d)"),
    ('"0d"', "meter.backfill: '0d': a duration must be more than zero (and finite)"),
    ("-5", "meter.backfill: -5: a duration must be more than zero (and finite)"),
    ("true", "meter.backfill: expected a number, got True"),
    ('"500d"', "meter.backfill: 500 days is more history than the meter keeps: at most 450 days "
               "(meter.daily_capacity and meter.profile_capacity)"),
])
def test_bad_configured_backfill_names_the_key(tmp_path: Path, value: str, message: str) -> None:
    from han_emu.han.config import ConfigError, loads

    with pytest.raises(ConfigError) as exc:
        loads(f"[meter]\nbackfill = {value}\n")
    assert str(exc.value) == message


def test_configured_backfill_as_text_or_seconds() -> None:
    from han_emu.han.config import loads

    assert loads('[meter]\nbackfill = "400d"\n').backfill == 400 * DAY
    assert loads("[meter]\nbackfill = 7200\n").backfill == 7200
    assert loads("").backfill is None
