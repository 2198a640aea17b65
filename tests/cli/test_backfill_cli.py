"""``han-emu run --backfill`` as a user runs it: simulated, live on a stick,
from the configuration, on a meter that has history, and with bad values."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from han_emu.cli.main import main
from han_emu.han.config import load
from han_emu.han.store import StateStore
from han_emu.meter.model import Channel, TwinMeter
from han_emu.meter.profile import PERIOD

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()
DAY = 86400
SETTINGS = load(None).meter


def config(tmp_path: Path, extra: str = "") -> str:
    """A configuration with a fixed start and no displays (the meter is what is looked at)."""
    path = tmp_path / "han.toml"
    path.write_text(f'devices = []\n[meter]\nstart = "2026-06-01T00:00:00Z"\n{extra}')
    return str(path)


def saved(db: Path) -> TwinMeter:
    store = StateStore(db)
    try:
        meter = store.load(SETTINGS)
    finally:
        store.close()
    assert meter is not None
    return meter


def first_interval_end(meter: TwinMeter) -> int | None:
    return meter.profiles[Channel.PRIMARY_IMPORT].oldest_end


def test_simulate_backfills_up_to_the_configured_start_and_keeps_it(tmp_path: Path, capsys) -> None:
    db = tmp_path / "m.db"
    assert main(["run", "-c", config(tmp_path), "--simulate", "1h", "--backfill", "3d", "--state", str(db)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "backfill" in line][0].startswith("han-emu: backfill: 3 d of history filled in ")
    assert err[0].endswith("; the meter's first reading is at 2026-05-29T01:00:00+01:00")
    meter = saved(db)
    assert meter.time == pytest.approx(START + 3600, abs=1)  # the hour simulated after the backfill
    assert first_interval_end(meter) == START - 3 * DAY + PERIOD
    assert len(meter.profiles[Channel.SECONDARY_EXPORT]) == 3 * 48 + 2


def test_the_configured_backfill_the_option_overriding_it_and_a_meter_with_history(tmp_path: Path, capsys) -> None:
    cfg = config(tmp_path, 'backfill = "2d"\n')
    assert main(["run", "-c", cfg, "--simulate", "10m", "--state", str(tmp_path / "a.db")]) == 0
    assert first_interval_end(saved(tmp_path / "a.db")) == START - 2 * DAY + PERIOD
    assert main(["run", "-c", cfg, "--simulate", "10m", "--backfill", "1d", "--state", str(tmp_path / "b.db")]) == 0
    assert first_interval_end(saved(tmp_path / "b.db")) == START - DAY + PERIOD
    capsys.readouterr()
    # Again on the first database: it has history (up to 00:10), which is kept.
    assert main(["run", "-c", cfg, "--simulate", "10m", "--state", str(tmp_path / "a.db")]) == 0
    err = capsys.readouterr().err
    assert (f"han-emu: backfill: state database {tmp_path / 'a.db'} already holds this meter's history, up to "
            "2026-06-01T01:10:00+01:00: nothing to fill (a new --state backfills from scratch)") in err
    again = saved(tmp_path / "a.db")
    assert first_interval_end(again) == START - 2 * DAY + PERIOD and again.time == pytest.approx(START + 1200, abs=1)


@pytest.mark.parametrize(("value", "message"), [
    ("abc", "han-emu run: error: argument --backfill: not a duration: 'abc' (try 90, 90s, 15m, 24h or 3d) "
            "(see 'han-emu run --help')"),
    ("0", "han-emu run: error: argument --backfill: '0': a duration must be more than zero (and finite) "
          "(see 'han-emu run --help')"),
    ("=-2d", "han-emu run: error: argument --backfill: '-2d': a duration must be more than zero (and finite) "
             "(see 'han-emu run --help')"),
])
def test_bad_backfill_values_are_one_usage_line(value: str, message: str, capsys) -> None:
    args = ["run", f"--backfill{value}"] if value.startswith("=") else ["run", "--backfill", value]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--simulate", "1h"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines() == [message]


def test_too_long_a_backfill_and_one_beside_a_capture_are_refused(tmp_path: Path, capsys) -> None:
    assert main(["run", "--simulate", "1h", "--backfill", "451d"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "han-emu run: --backfill: 451 days is more history than the meter keeps: at most 450 days "
        "(meter.daily_capacity and meter.profile_capacity)"]
    capture = tmp_path / "c.pcap"
    capture.write_bytes(b"")
    assert main(["run", "--simulate", "1h", "--backfill", "1d", "--scenario-from", str(capture)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "han-emu run: --backfill runs the configured scenario over the past; --scenario-from drives the meter "
        "from a capture (leave out one)"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[meter]\nbackfill = "soon"\n')
    assert main(["run", "-c", str(bad), "--simulate", "1h"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "han-emu: meter.backfill: not a duration: 'soon' (try 90, 90s, 15m, 24h or 3d)"]


def test_help_says_what_backfill_does_to_a_meter_with_history(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--backfill DURATION before serving, run the meter's scenario over this much past (e.g. 400d)" in text
    assert "A meter whose state database has history is kept: it continues from its last reading" in text


async def test_a_stick_run_serves_a_backfilled_meter(tmp_path: Path) -> None:
    """``run --radio znp:...``: the shared meter runner backfills before the stick serves."""
    from han_emu.radio.fakencp.znp.server import FakeZnpServer

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    db = tmp_path / "m.db"
    async with FakeZnpServer(state_path=tmp_path / "nv.json") as fake:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "han_emu.cli", "run", "--radio", f"znp:{fake.url}", "--no-tui", "--duration", "1",
            "--backfill", "2d", "--state", str(db),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert err.decode().startswith("han-emu: backfill: 2 d of history filled in ")
    assert b"coordinator:" in out
    meter = saved(db)
    newest = meter.profiles[Channel.PRIMARY_IMPORT].newest_end
    assert newest is not None and first_interval_end(meter) is not None
    assert newest - first_interval_end(meter) >= 2 * DAY - 2 * PERIOD  # two days of half-hours up to the run
