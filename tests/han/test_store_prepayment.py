"""The prepayment accounts are saved with the meter and survive a restart; a
state database from before prepayment still loads."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from han_emu.han.store import StateStore
from han_emu.meter.credit import DebtSettings, PrepaymentSettings, lab_utrn
from han_emu.meter.model import Flow, TwinMeter
from han_emu.meter.settings import PRIMARY, MeterSettings

START = datetime(2026, 9, 1, tzinfo=timezone.utc).timestamp()


def settings() -> MeterSettings:
    base = MeterSettings()
    prepay = PrepaymentSettings(mode="prepayment", initial_credit=Decimal("2"),
                                debts=(DebtSettings("Old", Decimal("9"), "time", rate=Decimal("1")),))
    return replace(base, primary=replace(base.primary, prepayment=prepay)).validate()


def test_credit_emergency_credit_debt_and_logs_survive_a_restart(tmp_path: Path) -> None:
    s = settings()
    meter = TwinMeter(s, START)
    meter.set_flow(PRIMARY, Flow(import_w=1000.0))
    meter.advance(START + 6 * 3600)
    account = meter.prepayment[PRIMARY]
    assert account.credit < 1.0 and account.select_emergency_credit()
    meter.advance(START + 12 * 3600)  # into the emergency credit
    account.top_up(lab_utrn(11), 2, meter.time)
    meter.advance(START + 26 * 3600)  # past midnight: a daily snapshot too
    store = StateStore(tmp_path / "m.db")
    store.save(meter)
    store.close()

    again = StateStore(tmp_path / "m.db").load(s)
    assert again is not None
    back = again.prepayment[PRIMARY]
    assert back.state() == account.state()
    assert [sn.cause for sn in back.snapshots] == [0x00040000, 0x00000001]
    assert back.top_ups[0].code == lab_utrn(11)
    # and it goes on from there: the same UTRN is a duplicate after the restart
    assert back.top_up(lab_utrn(11), 2, again.time).result == 0x02


def test_a_state_database_from_before_prepayment_loads(tmp_path: Path) -> None:
    s = settings()
    meter = TwinMeter(s, START)
    meter.advance(START + 3600)
    store = StateStore(tmp_path / "m.db")
    store.save(meter)
    store.close()
    with sqlite3.connect(tmp_path / "m.db") as con:  # what an older han-emu wrote: no accounts
        core = json.loads(con.execute("SELECT state FROM core WHERE id = 1").fetchone()[0])
        del core["prepayment"]
        con.execute("UPDATE core SET state = ? WHERE id = 1", (json.dumps(core),))
    again = StateStore(tmp_path / "m.db").load(s)
    assert again is not None and again.time == meter.time
    fresh = again.prepayment[PRIMARY]
    assert fresh.credit == 2.0 and fresh.debts[0].amount == 9.0 and fresh.time == meter.time
