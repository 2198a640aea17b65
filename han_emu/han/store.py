"""Crash-safe persistence of the meter: SQLite in WAL mode.

Each :meth:`StateStore.save` is one transaction holding the registers, the
profile intervals closed since the last save and the new daily readings, so
a process killed at any moment restarts from the last committed save: the
registers and logs are consistent with each other and never go backwards.

Every ``snapshot_every`` saves the store also copies itself (SQLite's online
backup) to ``<path>.snapshot``, atomically: if the database is ever found
corrupt at start, :class:`CorruptStateError` names that snapshot and
:func:`restore_snapshot` puts it back (``han-emu state restore``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from datetime import date, datetime, timezone
from pathlib import Path

from han_emu.meter.model import Channel, TwinMeter
from han_emu.meter.settings import MeterSettings

SCHEMA_VERSION = 1

#: Saves between two snapshots by default (the virtual HAN saves every virtual
#: minute, so about one snapshot per hour of meter time).
SNAPSHOT_EVERY = 60

LOGGER = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The state database cannot be used; the message says why and where."""


class CorruptStateError(StoreError):
    """The state database is damaged; ``snapshot`` is the last good copy, if any."""

    def __init__(self, path: Path, reason: str, snapshot: Path | None) -> None:
        self.path = path
        self.snapshot = snapshot
        if snapshot is not None:
            taken = datetime.fromtimestamp(snapshot.stat().st_mtime, timezone.utc)
            advice = (f"the last good snapshot is {snapshot} (taken {taken:%Y-%m-%d %H:%M:%S} UTC): "
                      f"`han-emu state restore {path}` puts it back (saves made after it are lost), "
                      "or move the database aside to start afresh")
        else:
            advice = "no snapshot exists; move it aside to start afresh"
        super().__init__(f"state database {path} is corrupt ({reason}); {advice}")


def default_state_path() -> Path:
    """Where the meter keeps its registers and logs unless told otherwise."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "han-emu" / "meter.db"


def snapshot_path(path: str | Path) -> Path:
    """Where the store keeps the last good copy of the database at ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".snapshot")


def _owner_only(path: Path) -> None:
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass


def _check_database(path: Path) -> str | None:
    """None if ``path`` is a sound state database, else what is wrong with it."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = con.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                return str(result)
            if con.execute("SELECT state FROM core WHERE id = 1").fetchone() is None:
                return "it holds no saved meter"
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None


def restore_snapshot(path: str | Path) -> Path:
    """Put the last good snapshot back in place of the database at ``path``.

    The damaged database (and its WAL and shared-memory files, which must not
    be replayed onto the snapshot) is moved aside, not deleted; returns where
    it went.  Raises StoreError if there is no sound snapshot.
    """
    path = Path(path)
    snap = snapshot_path(path)
    if not snap.exists():
        raise StoreError(f"no snapshot of {path} to restore ({snap} does not exist)")
    problem = _check_database(snap)
    if problem is not None:
        raise StoreError(f"the snapshot {snap} is not usable either: {problem}")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(path) + suffix)
        if part.exists():
            os.replace(part, Path(str(aside) + suffix))
    src = sqlite3.connect(f"file:{snap}?mode=ro", uri=True)
    dst = sqlite3.connect(path)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    _owner_only(path)
    return aside


class StateStore:
    def __init__(self, path: str | Path, *, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        """``snapshot_every``: saves between snapshots (0: never snapshot)."""
        self.path = Path(path)
        self.snapshot_every = snapshot_every
        self._saves = 0
        existed = self.path.exists() and self.path.stat().st_size > 0
        # Owner-only before SQLite opens it: SQLite gives the -wal and -shm
        # files it creates the database file's permissions.
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError:
            pass  # sqlite3 below says what is wrong with the path
        _owner_only(self.path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            if existed:
                result = self._db.execute("PRAGMA quick_check").fetchone()[0]
                if result != "ok":
                    raise sqlite3.DatabaseError(result)
            self._create()
        except sqlite3.DatabaseError as exc:
            if hasattr(self, "_db"):
                self._db.close()
            snap = snapshot_path(self.path)
            raise CorruptStateError(self.path, str(exc), snap if snap.exists() else None) from exc
        for suffix in ("-wal", "-shm"):  # left by an earlier run under another umask
            part = Path(str(self.path) + suffix)
            if part.exists():
                _owner_only(part)
        self._saved_end: list[int | None] = [None] * len(Channel)
        self._saved_day: date | None = None

    def _create(self) -> None:
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS core (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS profile (
                channel INTEGER NOT NULL, end_time INTEGER NOT NULL, value INTEGER,
                PRIMARY KEY (channel, end_time)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS daily (day TEXT PRIMARY KEY, readings TEXT NOT NULL);
            """
        )
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise StoreError(f"state database {self.path} has schema {row[0]}, this version reads {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def meta(self, key: str) -> str | None:
        """A small value kept beside the meter (e.g. the radio's frame counter)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        try:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        except sqlite3.Error as exc:
            raise StoreError(f"could not save state to {self.path}: {exc}") from exc

    def load(self, settings: MeterSettings) -> TwinMeter | None:
        """The saved meter, or None for a new database."""
        try:
            row = self._db.execute("SELECT state FROM core WHERE id = 1").fetchone()
            if row is None:
                return None
            core = json.loads(row[0])
            profile_rows = self._db.execute(
                "SELECT channel, end_time, value FROM profile ORDER BY channel, end_time"
            ).fetchall()
            daily_rows = [
                (date.fromisoformat(day), tuple(json.loads(readings)))
                for day, readings in self._db.execute("SELECT day, readings FROM daily ORDER BY day")
            ]
            if not isinstance(core, dict) or not {"time", "elements"} <= core.keys():
                raise ValueError("the saved meter state is incomplete")
        except (sqlite3.DatabaseError, ValueError, KeyError) as exc:
            snap = snapshot_path(self.path)
            raise CorruptStateError(self.path, str(exc), snap if snap.exists() else None) from exc
        try:
            meter = TwinMeter.restore(settings, core, profile_rows, daily_rows)
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"state database {self.path} does not fit this configuration: {exc}") from exc
        for ch in Channel:
            self._saved_end[ch] = meter.profiles[ch].newest_end
        self._saved_day = daily_rows[-1][0] if daily_rows else None
        return meter

    def save(self, meter: TwinMeter) -> None:
        """Commit the meter's current state atomically."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO core VALUES (1, ?)", (json.dumps(meter.core_state()),)
            )
            for ch in Channel:
                log = meter.profiles[ch]
                if log.newest_end is None or log.newest_end == self._saved_end[ch]:
                    continue
                saved = self._saved_end[ch]
                rows = []
                end = log.newest_end
                while log.holds(end) and (saved is None or end > saved):
                    rows.append((int(ch), end, log.get(end)))
                    end -= log.period
                self._db.executemany("INSERT OR REPLACE INTO profile VALUES (?, ?, ?)", rows)
                oldest = log.oldest_end
                self._db.execute(
                    "DELETE FROM profile WHERE channel = ? AND end_time < ?", (int(ch), oldest)
                )
            for day, readings in meter.daily.items():
                if self._saved_day is None or day > self._saved_day:
                    self._db.execute(
                        "INSERT OR REPLACE INTO daily VALUES (?, ?)", (day.isoformat(), json.dumps(readings))
                    )
            days = meter.daily.items()
            if days:
                oldest_day = days[0][0]
                self._db.execute("DELETE FROM daily WHERE day < ?", (oldest_day.isoformat(),))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite may have rolled back already; nothing was committed
            # Nothing below ran: the next save writes everything since the last good one.
            raise StoreError(f"could not save state to {self.path}: {exc}") from exc
        for ch in Channel:
            self._saved_end[ch] = meter.profiles[ch].newest_end
        days = meter.daily.items()
        self._saved_day = days[-1][0] if days else None
        self._saves += 1
        if self.snapshot_every and self._saves % self.snapshot_every == 0:
            try:
                self.snapshot()
            except (sqlite3.Error, OSError) as exc:  # the save itself is committed
                LOGGER.warning("could not snapshot %s: %s", self.path, exc)

    def snapshot(self) -> Path:
        """Copy the committed database to its snapshot file, atomically."""
        target = snapshot_path(self.path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.unlink(missing_ok=True)  # left by a crash mid-snapshot
        dst = sqlite3.connect(tmp)
        try:
            self._db.backup(dst)
        finally:
            dst.close()
        _owner_only(tmp)
        os.replace(tmp, target)
        return target
