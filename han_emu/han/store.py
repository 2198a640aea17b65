"""Crash-safe persistence of the meter: SQLite in WAL mode.

Each :meth:`StateStore.save` is one transaction holding the registers, the
profile intervals closed since the last save and the new daily readings, so
a process killed at any moment restarts from the last committed save: the
registers and logs are consistent with each other and never go backwards.

Every ``snapshot_every`` saves the store also copies itself (SQLite's online
backup) to ``<path>.snapshot``, atomically: if the database is ever found
corrupt at start, :class:`CorruptStateError` names that snapshot and
:func:`restore_snapshot` puts it back (``han-emu state restore``).

The meter's state is only ever its own: a path that is not a han-emu
database is refused before anything is written to it
(:func:`~han_emu.han.statefile.examine`); a run holds the database alone
(``exclusive``, :class:`~han_emu.han.statefile.StateLock`); and the database
remembers which meter it is (serial number and MPANs), so another
configuration's meter is refused (:class:`OtherMeterError`) unless adopted on
purpose.  A saved clock that ran ahead of the wall clock (a sped-up or
simulated run) is brought back by :meth:`StateStore.resync_clock`, registers
untouched.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
from datetime import date, datetime, timezone
from pathlib import Path

from han_emu.han.statefile import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    CorruptStateError,
    NotStateError,
    StateInUseError,
    StateLock,
    StoreError,
    examine,
    read_only_uri,
    snapshot_path,
)
from han_emu.meter.gbtime import local_datetime
from han_emu.meter.model import Channel, TwinMeter
from han_emu.meter.profile import PERIOD
from han_emu.meter.settings import MeterSettings

__all__ = [
    "SCHEMA_VERSION", "SNAPSHOT_EVERY", "CorruptStateError", "NotStateError", "OtherMeterError",
    "StateInUseError", "StateStore", "StoreError", "default_state_path", "meter_identity",
    "restore_snapshot", "snapshot_path",
]

#: Saves between two snapshots by default (the virtual HAN saves every virtual
#: minute, so about one snapshot per hour of meter time).
SNAPSHOT_EVERY = 60

#: The meta row naming the meter whose state the database holds.
IDENTITY_KEY = "meter"

LOGGER = logging.getLogger(__name__)


def meter_identity(settings: MeterSettings) -> dict[str, str | None]:
    """What makes a meter this meter, keyed as the configuration names it."""
    mpans = settings.mpans
    return {
        "meter.serial": settings.serial,
        "mpan.primary_import": mpans.primary_import,
        "mpan.primary_export": mpans.primary_export,
        "mpan.secondary_import": mpans.secondary_import,
        "mpan.secondary_export": mpans.secondary_export,
    }


class OtherMeterError(StoreError):
    """The database holds another meter's state; ``differences`` are
    (configuration key, value in the database, value configured)."""

    def __init__(self, path: Path, differences: list[tuple[str, str | None, str | None]]) -> None:
        self.path = path
        self.differences = differences
        listed = "; ".join(f"{key} is {theirs or 'unset'} there, {mine or 'unset'} here"
                           for key, theirs, mine in differences)
        super().__init__(
            f"state database {path} holds another meter's registers ({listed}); give this meter its own "
            f"--state, or carry those registers over to it on purpose with `han-emu state adopt {path}` "
            "(with this run's --config)")


def default_state_path() -> Path:
    """Where the meter keeps its registers and logs unless told otherwise."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "han-emu" / "meter.db"


def _owner_only(path: Path) -> None:
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass


def _check_database(path: Path) -> str | None:
    """None if ``path`` is a sound state database, else what is wrong with it
    (read without writing anything, even beside it)."""
    try:
        con = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            result = con.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                return str(result)
            row = con.execute("SELECT state FROM core WHERE id = 1").fetchone()
            if row is None:
                return "it holds no saved meter"
            core = json.loads(row[0])
            if not isinstance(core, dict) or not {"time", "elements"} <= core.keys():
                return "the saved meter state is incomplete"
        finally:
            con.close()
    except (sqlite3.DatabaseError, ValueError) as exc:
        return str(exc)
    return None


def healthy(path: str | Path) -> bool:
    """True if ``path`` is a sound han-emu database holding a saved meter."""
    path = Path(path)
    try:
        if examine(path) not in ("han-emu", "han-emu unmarked"):
            return False
    except StoreError:
        return False
    return _check_database(path) is None


def restore_snapshot(path: str | Path, *, force: bool = False) -> Path | None:
    """Put the last good snapshot back in place of the database at ``path``.

    The damaged database (and its WAL and shared-memory files, which must not
    be replayed onto the snapshot) is moved aside, not deleted; returns where
    it went (None: there was no database).  A healthy database is not
    replaced unless ``force``: the saves made since the snapshot would be lost.
    Raises StoreError if there is no sound snapshot, and StateInUseError while
    a run holds the database.
    """
    path = Path(path)
    snap = snapshot_path(path)
    if path.is_dir():
        raise NotStateError(f"{path} is a directory, not a state database; nothing restored")
    if not snap.exists():
        raise StoreError(f"no snapshot of {path} to restore ({snap} does not exist)")
    problem = _check_database(snap)
    if problem is not None:
        raise StoreError(f"the snapshot {snap} is not usable either: {problem}")
    lock = StateLock.take(path)
    try:
        if not force:
            try:
                examine(path)
            except NotStateError as exc:  # not ours to replace, even with a snapshot beside it
                raise NotStateError(f"{exc}; nothing restored (--force replaces it all the same)") from None
            except StoreError:
                pass  # damaged: what restore is for
        sound = healthy(path)
        if sound and not force:
            taken = datetime.fromtimestamp(snap.stat().st_mtime, timezone.utc)
            raise StoreError(f"state database {path} is healthy: restoring its snapshot (taken "
                             f"{taken:%Y-%m-%d %H:%M:%S} UTC) would lose every save since; add --force "
                             "to restore it anyway")
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        named = "replaced" if sound else "corrupt"
        aside = path.with_name(f"{path.name}.{named}-{stamp}")
        existed = path.exists()
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(path) + suffix)
            if part.exists():
                os.replace(part, Path(str(aside) + suffix))
        src = sqlite3.connect(read_only_uri(snap), uri=True)
        dst = sqlite3.connect(path)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        _owner_only(path)
    finally:
        lock.release()
    return aside if existed else None


class StateStore:
    """The meter's state database (see the module's notes)."""

    def __init__(self, path: str | Path, *, snapshot_every: int = SNAPSHOT_EVERY, exclusive: bool = False) -> None:
        """``snapshot_every``: saves between snapshots (0: never snapshot);
        ``exclusive``: hold the database's lock while the store is open, as a
        run does, so that a second process is refused (:class:`StateInUseError`).

        Nothing is written to a path that turns out not to be a han-emu
        database (:class:`NotStateError`); a han-emu database from before the
        application-id mark is marked."""
        self.path = Path(path)
        self.snapshot_every = snapshot_every
        self._saves = 0
        self._lock: StateLock | None = None
        examine(self.path)  # a path that is not ours is refused before anything (a lock file) is made
        if exclusive:
            self._lock = StateLock.take(self.path)
        try:
            self._open()
        except BaseException:
            self._release()
            raise
        self._saved_end: list[int | None] = [None] * len(Channel)
        self._saved_day: date | None = None

    @classmethod
    def read_only(cls, path: str | Path) -> StateStore:
        """The database at ``path`` for reading only (``han-emu state check``):
        nothing is created, marked or written, not even beside it; no lock."""
        store = cls.__new__(cls)
        store.path = Path(path)
        store.snapshot_every = 0
        store._saves = 0
        store._lock = None
        store._saved_end = [None] * len(Channel)
        store._saved_day = None
        try:
            store._db = sqlite3.connect(read_only_uri(store.path), uri=True, check_same_thread=False)
        except sqlite3.DatabaseError as exc:
            snap = snapshot_path(store.path)
            raise CorruptStateError(store.path, str(exc), snap if snap.exists() else None) from None
        return store

    def quick_check(self) -> str | None:
        """None if SQLite finds the database sound, else what it found."""
        try:
            result = self._db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            return str(exc)
        return None if result == "ok" else str(result)

    def _open(self) -> None:
        kind = examine(self.path)
        existed = kind not in ("absent", "empty")
        # Owner-only before SQLite opens it: SQLite gives the -wal and -shm
        # files it creates the database file's permissions.
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise StoreError(f"cannot open state database {self.path}: {exc.strerror}") from None
        _owner_only(self.path)
        try:
            # One thread at a time, but not always the one that opened it: the
            # dashboard's paused HAN is driven from the app's thread.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            if existed:
                result = self._db.execute("PRAGMA quick_check").fetchone()[0]
                if result != "ok":
                    raise sqlite3.DatabaseError(result)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._create()
        except sqlite3.DatabaseError as exc:
            if hasattr(self, "_db"):
                self._db.close()
            snap = snapshot_path(self.path)
            raise CorruptStateError(self.path, str(exc), snap if snap.exists() else None) from exc
        except StoreError:
            self._db.close()
            raise
        for suffix in ("-wal", "-shm"):  # left by an earlier run under another umask
            part = Path(str(self.path) + suffix)
            if part.exists():
                _owner_only(part)

    def _create(self) -> None:
        """Make (or complete) han-emu's tables and mark the database as han-emu's, in one transaction."""
        self._db.executescript(
            f"""
            BEGIN IMMEDIATE;
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS core (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS profile (
                channel INTEGER NOT NULL, end_time INTEGER NOT NULL, value INTEGER,
                PRIMARY KEY (channel, end_time)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS daily (day TEXT PRIMARY KEY, readings TEXT NOT NULL);
            INSERT OR IGNORE INTO meta VALUES ('schema', '{SCHEMA_VERSION}');
            """
        )
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if int(row[0]) != SCHEMA_VERSION:
                raise StoreError(f"state database {self.path} has schema {row[0]}, this version reads {SCHEMA_VERSION}")
            if self._db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def close(self) -> None:
        """Close the database and give up its lock (if held); closing twice is harmless."""
        self._db.close()
        self._release()

    @property
    def lock(self) -> StateLock | None:
        """This store's hold on the database (None unless ``exclusive``)."""
        return self._lock

    def meta(self, key: str) -> str | None:
        """A small value kept beside the meter (e.g. the radio's frame counter)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        try:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        except sqlite3.Error as exc:
            raise StoreError(f"could not save state to {self.path}: {exc}") from exc

    def saved_identity(self) -> dict[str, str | None] | None:
        """The identity of the meter whose state this is (None: not recorded yet)."""
        text = self.meta(IDENTITY_KEY)
        if text is None:
            return None
        try:
            saved = json.loads(text)
            if not isinstance(saved, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            snap = snapshot_path(self.path)
            raise CorruptStateError(self.path, f"the meter's identity is unreadable: {exc}",
                                    snap if snap.exists() else None) from None
        return saved

    def saved_time(self) -> float | None:
        """The saved meter's clock (POSIX seconds), None without a saved meter."""
        row = self._db.execute("SELECT state FROM core WHERE id = 1").fetchone()
        if row is None:
            return None
        try:
            return float(json.loads(row[0])["time"])
        except (ValueError, KeyError, TypeError) as exc:
            snap = snapshot_path(self.path)
            raise CorruptStateError(self.path, f"the saved meter state is unreadable: {exc}",
                                    snap if snap.exists() else None) from None

    def load(self, settings: MeterSettings, *, adopt: bool = False) -> TwinMeter | None:
        """The saved meter, or None for a new database.

        A meter saved under another serial number or other MPANs is refused
        (:class:`OtherMeterError`, naming what differs) unless ``adopt``, which
        records ``settings``' identity for it at once.  A database from before
        identities were kept takes ``settings``' identity."""
        mine = meter_identity(settings)
        saved = self.saved_identity()
        differences = [] if saved is None else [
            (key, saved.get(key), value) for key, value in mine.items() if saved.get(key) != value
        ]
        if differences and not adopt:
            raise OtherMeterError(self.path, differences)
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
        if saved is None or differences:
            self.set_meta(IDENTITY_KEY, json.dumps(mine))
        return meter

    def save(self, meter: TwinMeter) -> None:
        """Commit the meter's current state atomically."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO core VALUES (1, ?)", (json.dumps(meter.core_state()),)
            )
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                             (IDENTITY_KEY, json.dumps(meter_identity(meter.settings))))
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
            self._db.executemany(  # one statement for a backfill's hundreds of days
                "INSERT OR REPLACE INTO daily VALUES (?, ?)",
                [(day.isoformat(), json.dumps(readings)) for day, readings in meter.daily.items()
                 if self._saved_day is None or day > self._saved_day],
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

    # -- the clock ----------------------------------------------------------------------
    def resync_clock(self, now: float) -> float:
        """Bring a saved meter clock that is ahead of ``now`` back to ``now``;
        returns how many seconds it was ahead (0: it was not, nothing changed).

        Call it on a store whose meter is not loaded (``han-emu state
        resync``).  Registers never decrease, so they are kept as they are;
        what the meter logged for times after ``now`` is withdrawn, because
        those times are still to come: profile intervals ending after the
        half-hour ``now`` falls in, and daily readings of later days.  The
        interval in progress starts afresh at ``now`` from the registers, so
        every later interval and daily reading is a difference of registers
        that only grow: the logs stay consistent with the registers.  One
        transaction, then a fresh snapshot (the old one holds the clock ahead)."""
        row = self._db.execute("SELECT state FROM core WHERE id = 1").fetchone()
        if row is None:
            return 0.0
        try:
            core = json.loads(row[0])
            ahead = float(core["time"]) - now
            registers = [int(core["elements"][ch.element][f"{ch.direction}_wh"]) for ch in Channel]
        except (ValueError, KeyError, TypeError) as exc:
            snap = snapshot_path(self.path)
            raise CorruptStateError(self.path, f"the saved meter state is unreadable: {exc}",
                                    snap if snap.exists() else None) from None
        if ahead <= 0:
            return 0.0
        core["time"] = float(now)
        core["interval_start"] = registers
        interval_start = math.floor(now / PERIOD) * PERIOD
        # The interval in progress is measured from ``now`` on: partial unless
        # ``now`` is its start; the marks and starts of later times go.
        partial = [e for e in core.get("partial_ends", []) if e <= interval_start]
        if now > interval_start:
            partial.append(interval_start + PERIOD)
        core["partial_ends"] = partial
        core["measuring_since"] = float(now)
        for key in ("first_reading", "tariff_since"):
            if key in core:
                core[key] = min(float(core[key]), float(now))
        today = local_datetime(now).date()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE core SET state = ? WHERE id = 1", (json.dumps(core),))
            self._db.execute("DELETE FROM profile WHERE end_time > ?", (interval_start,))
            self._db.execute("DELETE FROM daily WHERE day > ?", (today.isoformat(),))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreError(f"could not resynchronise {self.path}: {exc}") from exc
        if self.snapshot_every:
            try:
                self.snapshot()
            except (sqlite3.Error, OSError) as exc:
                LOGGER.warning("could not snapshot %s: %s", self.path, exc)
        return ahead
