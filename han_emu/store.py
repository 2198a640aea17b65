"""Crash-safe persistence of the meter: SQLite in WAL mode.

Each :meth:`StateStore.save` is one transaction holding the registers, the
profile intervals closed since the last save and the new daily readings, so
a process killed at any moment restarts from the last committed save: the
registers and logs are consistent with each other and never go backwards.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import date
from pathlib import Path

from han_emu.meter.model import Channel, TwinMeter
from han_emu.meter.settings import MeterSettings

SCHEMA_VERSION = 1


class StoreError(RuntimeError):
    """The state database cannot be used; the message says why and where."""


class StateStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._create()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"state database {self.path} is unusable ({exc}); move it aside to start afresh") from exc
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass
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
        except (sqlite3.DatabaseError, ValueError, KeyError) as exc:
            raise StoreError(f"state database {self.path} is corrupt ({exc})") from exc
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
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreError(f"could not save state to {self.path}: {exc}") from exc
        for ch in Channel:
            self._saved_end[ch] = meter.profiles[ch].newest_end
        days = meter.daily.items()
        self._saved_day = days[-1][0] if days else None
