"""The meter's state is sacred: every case as a user meets it, on the command line.

Each test runs ``han-emu`` in a scratch directory: in the test's process
(tests/support/command.py) where only its output and exit status matter, in a
process of its own where another process holds the state or the command runs on
a terminal.  Errors are one line on stderr with a non-zero exit and never a
traceback; what is not han-emu's is left byte for byte as it was; registers
never decrease.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from han_emu.han.config import load
from han_emu.han.statefile import APPLICATION_ID
from han_emu.han.store import StateStore
from han_emu.meter.model import Channel, TwinMeter
from tests.support.command import run_main

REPO = Path(__file__).resolve().parents[2]
SETTINGS = load(None).meter
ENV = dict(os.environ, PYTHONPATH=str(REPO))


def han_emu(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_main(args, cwd=cwd, timeout=timeout)


def one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (no traceback)."""
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("han-emu: ")
    return lines[0]


def saved(db: Path, settings=SETTINGS) -> TwinMeter:
    store = StateStore(db)
    try:
        meter = store.load(settings)
    finally:
        store.close()
    assert meter is not None
    return meter


def never_less(later: tuple[int, ...], earlier: tuple[int, ...]) -> bool:
    return all(b >= a for a, b in zip(earlier, later, strict=True))


def listing(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


# -- one process per state database ----------------------------------------------------------


def test_a_second_run_on_the_same_state_is_refused_naming_the_first(tmp_path: Path) -> None:
    first = subprocess.Popen(
        [sys.executable, "-m", "han_emu.cli.main", "run", "--state", "m.db", "--no-tui",
         "--duration", "120", "--interval", "60"],
        cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None and first.stdout.readline(), "the first run printed nothing"
        second = han_emu(tmp_path, "run", "--state", "m.db", "--no-tui", "--duration", "1")
        line = one_line_error(second)
        assert f"in use by process {first.pid} (han-emu run --state m.db" in line
        check = han_emu(tmp_path, "state", "check", "m.db")  # reads, even under a run
        assert check.returncode == 0 and f"in use by process {first.pid}" in check.stdout
    finally:
        first.send_signal(signal.SIGKILL)  # a crash: the kernel lets the lock go with the process
        first.communicate()
    again = han_emu(tmp_path, "run", "--state", "m.db", "--no-tui", "--duration", "1", "--interval", "1")
    assert again.returncode == 0, again.stderr


# -- what is not han-emu's ---------------------------------------------------------------------


def _foreign(path: Path, application_id: int = 0) -> None:
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA application_id = {application_id}")
    con.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO accounts (name) VALUES ('alice')")
    con.commit()
    con.close()


@pytest.mark.parametrize(("application_id", "named"), [
    (0, "another application's SQLite database (tables accounts)"),
    (0x46534C31, "another application's SQLite database (application_id 0x46534C31 'FSL1')"),
])
def test_another_applications_database_is_refused_and_left_unchanged(
        tmp_path: Path, application_id: int, named: str) -> None:
    _foreign(tmp_path / "other.db", application_id)
    before = listing(tmp_path)
    line = one_line_error(han_emu(tmp_path, "run", "--state", "other.db", "--simulate", "10m"))
    assert named in line and "not a han-emu state database" in line
    assert one_line_error(han_emu(tmp_path, "state", "adopt", "other.db")).endswith("leaves it as it is")
    assert one_line_error(han_emu(tmp_path, "state", "resync", "other.db")).endswith("leaves it as it is")
    check = one_line_error(han_emu(tmp_path, "state", "check", "other.db"))
    assert named in check and "corrupt" not in check
    assert listing(tmp_path) == before  # not one byte, and nothing beside it


def test_a_han_emu_database_from_before_the_mark_still_opens_and_is_marked(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    assert han_emu(tmp_path, "run", "--state", "m.db", "--simulate", "30m").returncode == 0
    con = sqlite3.connect(db)  # as an earlier han-emu left it: no application id, no identity
    con.execute("PRAGMA application_id = 0")
    con.execute("PRAGMA user_version = 0")
    con.execute("DELETE FROM meta WHERE key = 'meter'")
    con.commit()
    con.close()
    con = sqlite3.connect(db.as_uri() + "?mode=ro", uri=True)  # read as it is, unmarked
    core = json.loads(con.execute("SELECT state FROM core").fetchone()[0])
    con.close()
    before = tuple(int(core["elements"][ch.element][f"{ch.direction}_wh"]) for ch in Channel)
    check = han_emu(tmp_path, "state", "check", "m.db")
    assert check.returncode == 0 and "not yet marked" in check.stdout and "identity not recorded" in check.stdout
    out = han_emu(tmp_path, "run", "--state", "m.db", "--simulate", "30m")
    assert out.returncode == 0, out.stderr
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1
    assert json.loads(con.execute("SELECT value FROM meta WHERE key = 'meter'").fetchone()[0])[
        "meter.serial"] == SETTINGS.serial
    con.close()
    assert never_less(saved(db).readings(), before)


# -- another meter ---------------------------------------------------------------------------------


def test_another_meters_state_is_refused_until_adopted_on_purpose(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    assert han_emu(tmp_path, "run", "--state", "m.db", "--simulate", "1h").returncode == 0
    before = saved(db).readings()
    (tmp_path / "other.toml").write_text('[meter]\nserial = "OTHER0001"\n[mpan]\nsecondary_export = "1200023305967"\n')
    line = one_line_error(han_emu(tmp_path, "run", "--config", "other.toml", "--state", "m.db", "--simulate", "1m"))
    assert "holds another meter's registers" in line
    assert f"meter.serial is {SETTINGS.serial} there, OTHER0001 here" in line
    assert "mpan.secondary_export is 1200023305994 there, 1200023305967 here" in line
    assert "mpan.primary_import" not in line  # only what differs
    assert "`han-emu state adopt m.db`" in line
    assert saved(db).readings() == before  # refused: untouched

    adopt = han_emu(tmp_path, "state", "adopt", "m.db", "--config", "other.toml")
    assert adopt.returncode == 0, adopt.stderr
    assert "OTHER0001" in adopt.stdout and "registers kept" in adopt.stdout
    out = han_emu(tmp_path, "run", "--config", "other.toml", "--state", "m.db", "--simulate", "1m")
    assert out.returncode == 0, out.stderr
    other = load(tmp_path / "other.toml").meter
    assert never_less(saved(db, other).readings(), before)
    # ... and now the first configuration's meter is the other one.
    assert "holds another meter's registers" in one_line_error(
        han_emu(tmp_path, "run", "--state", "m.db", "--simulate", "1m"))


# -- state check and restore -------------------------------------------------------------------------


def test_state_check_on_a_missing_file_says_so_and_creates_nothing(tmp_path: Path) -> None:
    line = one_line_error(han_emu(tmp_path, "state", "check", "missing.db"))
    assert "missing.db: no such file" in line
    assert list(tmp_path.iterdir()) == []


def test_state_check_names_what_is_not_a_state_database(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    (tmp_path / "notes.txt").write_text("shopping: milk, eggs\n" * 20)
    (tmp_path / "empty.db").write_bytes(b"")
    before = listing(tmp_path)
    cases = {
        "dir.db": "dir.db is a directory",
        "notes.txt": "notes.txt is a file that is not an SQLite database",
        "empty.db": "empty.db is empty",
    }
    for name, named in cases.items():
        line = one_line_error(han_emu(tmp_path, "state", "check", name))
        assert named in line and "corrupt" not in line, line
    for name in ("dir.db", "notes.txt"):  # and a run leaves them alone too
        assert "not a han-emu state database" in one_line_error(
            han_emu(tmp_path, "run", "--state", name, "--simulate", "1m"))
    assert listing(tmp_path) == before and (tmp_path / "dir.db").is_dir()


def test_state_check_calls_a_damaged_database_corrupt(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    assert han_emu(tmp_path, "run", "--state", "m.db", "--simulate", "1h").returncode == 0
    ok = han_emu(tmp_path, "state", "check", "m.db")
    assert ok.returncode == 0 and ok.stdout.startswith("m.db: OK; meter HANEMU0000000001")
    data = bytearray(db.read_bytes())
    for i in range(4096, len(data), 97):
        data[i] = (data[i] * 7 + 13) & 0xFF
    db.write_bytes(bytes(data))
    line = one_line_error(han_emu(tmp_path, "state", "check", "m.db"))
    assert "m.db is corrupt" in line and "han-emu state restore m.db" in line


def test_state_restore_refuses_a_healthy_database_without_force(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    assert han_emu(tmp_path, "run", "--state", "m.db", "--simulate", "2h").returncode == 0
    assert (tmp_path / "m.db.snapshot").exists()
    before = db.read_bytes()
    line = one_line_error(han_emu(tmp_path, "state", "restore", "m.db"))
    assert "m.db is healthy" in line and "--force" in line
    assert db.read_bytes() == before
    forced = han_emu(tmp_path, "state", "restore", "m.db", "--force")
    assert forced.returncode == 0, forced.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("m.db.replaced-")]  # kept, not deleted


# -- the wall clock ------------------------------------------------------------------------------


def test_a_clock_ahead_is_reported_and_resync_brings_it_back_registers_kept(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    sim = han_emu(tmp_path, "run", "--state", "m.db", "--simulate", "3h")
    assert sim.returncode == 0
    assert "--simulate moves the meter clock saved in m.db ahead of the wall clock" in sim.stderr
    history = [saved(db).readings()]
    assert saved(db).time > time.time() + 2.5 * 3600

    live = han_emu(tmp_path, "run", "--state", "m.db", "--no-tui", "--duration", "1", "--interval", "1")
    assert live.returncode == 0, live.stderr
    warning = live.stderr.strip().splitlines()
    # about 3 h ahead: a little under when the runs took longer than the seconds the simulation ran past 3 h
    assert len(warning) == 1
    assert re.search(r"warning: the meter clock saved in m\.db is (2 h 5\d min|3 h( \d min)?) ahead", warning[0])
    assert "ahead of the wall clock" in warning[0] and "`han-emu state resync m.db`" in warning[0]
    history.append(saved(db).readings())

    resync = han_emu(tmp_path, "state", "resync", "m.db")
    assert resync.returncode == 0, resync.stderr
    # the same "about 3 h": the simulation's lead, less the wall time the runs took since
    assert re.search(r"meter clock brought back (2 h 5\d min|3 h( \d min)?) ", resync.stdout), resync.stdout
    assert "registers kept" in resync.stdout
    meter = saved(db)
    assert abs(meter.time - time.time()) < 120
    assert meter.readings() == history[-1]  # registers are never wound back
    for log in meter.profiles:  # nothing logged for times still to come
        assert log.newest_end is None or log.newest_end <= meter.time
    assert all(day <= meter.today() for day, _ in meter.daily.items())

    quiet = han_emu(tmp_path, "run", "--state", "m.db", "--no-tui", "--duration", "1", "--interval", "1")
    assert quiet.returncode == 0 and quiet.stderr == ""
    history.append(saved(db).readings())
    nothing = han_emu(tmp_path, "state", "resync", "m.db")
    assert nothing.returncode == 0 and "not ahead" in nothing.stdout
    assert all(never_less(b, a) for a, b in zip(history, history[1:]))


def test_speed_on_the_command_line_says_the_saved_clock_will_run_ahead(tmp_path: Path) -> None:
    out = han_emu(tmp_path, "run", "--state", "m.db", "--speed", "600", "--no-tui", "--duration", "1",
                  "--interval", "1")
    assert out.returncode == 0
    assert "warning: --speed 600 moves the meter clock saved in m.db ahead of the wall clock" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_speeding_up_the_dashboard_does_not_move_the_saved_clock(tmp_path: Path) -> None:
    """``han-emu run`` on a terminal, ``+`` pressed five times (x60): the saved meter stays on the wall clock."""
    import fcntl
    import struct
    import termios

    db = tmp_path / "m.db"
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    child = subprocess.Popen(
        [sys.executable, "-m", "han_emu.cli.main", "run", "--state", "m.db", "--duration", "60"],
        cwd=tmp_path, env=dict(ENV, TERM="xterm-256color"), stdin=slave, stdout=slave, stderr=slave,
        start_new_session=True)
    os.close(slave)
    screen = b""

    def read_until(wanted: bytes, timeout: float) -> bool:
        nonlocal screen
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wanted in screen:
                return True
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    screen += os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    return wanted in screen
        return wanted in screen

    try:
        assert read_until(b"Secondary export", 60), "the dashboard did not show"
        sped_up_at = time.time()
        for _ in range(5):
            os.write(master, b"+")
            time.sleep(0.3)  # keys typed as a person types them, one speed step at a time
        assert read_until(b"throwaway", 20), "the dashboard did not say the state is no longer saved"
        time.sleep(3)  # at x60: three virtual minutes, three saves' worth, had they been made
        os.write(master, b"q")
        read_until(b"\x00never", 30)  # drain the terminal until the dashboard is gone
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
    meter = saved(db)
    assert meter.time <= sped_up_at + 30, f"saved clock {meter.time - time.time():.0f} s off the wall clock"
    later = han_emu(tmp_path, "run", "--state", "m.db", "--no-tui", "--duration", "1", "--interval", "1")
    assert later.returncode == 0 and "ahead" not in later.stderr
