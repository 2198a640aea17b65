"""What lies at a state path, and who holds it: han-emu's own database or not.

A han-emu state database is an SQLite file marked with
``PRAGMA application_id`` = :data:`APPLICATION_ID` ("HANE") and
``PRAGMA user_version`` = :data:`SCHEMA_VERSION`.  :func:`examine` tells what
a path holds *without changing it* (no journal, no side files, nothing
created), so that a directory, a file that is not a database, or another
application's database is named for what it is and left alone.  Databases
written before the mark (application id 0 and exactly han-emu's tables) are
recognised, so a user's existing state still opens (the store marks them).

One process per state database: :class:`StateLock` holds ``flock`` on the
sidecar ``<db>.lock``, which names the holder's process id and command line
so that a second process can say who has it.  The kernel drops the lock when
the holder exits, however it ends (``kill -9`` too), so a lock file left
behind never blocks anyone; it is not deleted (deleting it would race with a
process about to lock it).  Where ``fcntl`` does not exist (Windows) there is
no lock.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

#: ``PRAGMA application_id`` of every han-emu state database: ASCII "HANE".
APPLICATION_ID = 0x48414E45
#: ``PRAGMA user_version`` (and the ``schema`` meta row) of the layout this version writes.
SCHEMA_VERSION = 1
#: The tables of a han-emu state database, marked or from before the mark.
TABLES = frozenset({"meta", "core", "profile", "daily"})

SQLITE_MAGIC = b"SQLite format 3\x00"

#: What :func:`examine` found: nothing, an empty file or database (ours to
#: create), a marked han-emu database, or one from before the mark.
Kind = Literal["absent", "empty", "han-emu", "han-emu unmarked"]


class StoreError(RuntimeError):
    """The state database cannot be used; the message says why and where."""


class CorruptStateError(StoreError):
    """The state database is damaged; ``snapshot`` is the last good copy, if any."""

    def __init__(self, path: Path, reason: str, snapshot: Path | None) -> None:
        self.path = path
        self.snapshot = snapshot
        # SQLite's integrity checks report a problem a line, after a banner: one line here.
        problems = [line.strip() for line in reason.splitlines() if line.strip() and not line.startswith("***")]
        reason = "; ".join(problems[:1]) + (f" and {len(problems) - 1} more problems" if len(problems) > 1 else "")
        if snapshot is not None:
            taken = datetime.fromtimestamp(snapshot.stat().st_mtime, timezone.utc)
            advice = (f"the last good snapshot is {snapshot} (taken {taken:%Y-%m-%d %H:%M:%S} UTC): "
                      f"`han-emu state restore {path}` puts it back (saves made after it are lost), "
                      "or move the database aside to start afresh")
        else:
            advice = "no snapshot exists; move it aside to start afresh"
        super().__init__(f"state database {path} is corrupt ({reason}); {advice}")


class NotStateError(StoreError):
    """The path holds something that is not a han-emu state database; it is left as it is."""


class StateInUseError(StoreError):
    """Another process holds the state database (``holder``: its id and command, if known)."""

    def __init__(self, path: Path, holder: str | None) -> None:
        self.path = path
        self.holder = holder
        who = f"process {holder}" if holder else "another process"
        super().__init__(f"state database {path} is in use by {who}; one process per state database: "
                         "stop that one first, or give this one another --state")


def snapshot_path(path: str | Path) -> Path:
    """Where the store keeps the last good copy of the database at ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".snapshot")


def lock_path(path: str | Path) -> Path:
    """The sidecar file whose ``flock`` says which process has the database at ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def read_only_uri(path: Path) -> str:
    """An SQLite URI that reads ``path`` without writing anything beside it.

    ``immutable`` keeps SQLite from making ``-wal``/``-shm`` files (a read-only
    connection to a WAL database otherwise leaves both behind); where a
    ``-wal`` exists already (a writer is running, or was killed) its pages must
    be read, so the file is opened read-only the ordinary way."""
    uri = path.absolute().as_uri()
    return uri + ("?mode=ro" if Path(str(path) + "-wal").exists() else "?mode=ro&immutable=1")


def _not_ours(path: Path, what: str) -> NotStateError:
    return NotStateError(f"{path} is {what}, not a han-emu state database; han-emu leaves it as it is")


def examine(path: str | Path) -> Kind:
    """What ``path`` holds, found without changing anything.

    Raises :class:`NotStateError` for a directory, a file that is not an
    SQLite database or another application's database;
    :class:`CorruptStateError` for a damaged han-emu database (a file with a
    snapshot beside it was ours, even if its header is gone); :class:`StoreError`
    for one written by a newer han-emu."""
    path = Path(path)
    snap = snapshot_path(path)
    if path.is_dir():
        raise _not_ours(path, "a directory")
    if not path.exists():
        return "absent"
    if not path.is_file():
        raise _not_ours(path, "not a regular file")
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as exc:
        raise StoreError(f"cannot read state database {path}: {exc.strerror}") from None
    if not head:
        return "empty"
    if not head.startswith(SQLITE_MAGIC):
        if snap.exists():
            raise CorruptStateError(path, "its SQLite header is gone", snap)
        raise _not_ours(path, "a file that is not an SQLite database")
    try:
        con = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            app_id = con.execute("PRAGMA application_id").fetchone()[0] & 0xFFFFFFFF
            version = con.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise CorruptStateError(path, str(exc), snap if snap.exists() else None) from None
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise StoreError(f"state database {path} has schema {version}; this version of han-emu reads "
                             f"{SCHEMA_VERSION} (a newer han-emu wrote it)")
        return "han-emu"
    if app_id != 0:
        tag = app_id.to_bytes(4, "big")
        named = f" {tag.decode()!r}" if all(0x20 <= b < 0x7F for b in tag) else ""
        raise _not_ours(path, f"another application's SQLite database (application_id 0x{app_id:08X}{named})")
    if not tables:
        return "empty"
    if tables == TABLES:
        return "han-emu unmarked"
    listed = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
    raise _not_ours(path, f"another application's SQLite database (tables {listed})")


# -- one process per database ----------------------------------------------------------------


def _command() -> str:
    """This process's command line, as a user would recognise it."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("han-emu", "main.py", "__main__.py"):
        argv[0] = "han-emu"
    text = " ".join(argv)
    return text if len(text) <= 200 else text[:197] + "..."


def _holder_of(fd: int) -> str | None:
    """``PID (command)`` from a lock file's text, None if it says nothing yet."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return None
    pid, _, command = text.partition("\n")
    if not pid.strip().isdigit():
        return None
    command = command.strip()
    return f"{pid.strip()} ({command})" if command else pid.strip()


class StateLock:
    """This process's hold on one state database (see the module's notes).

    Counted within a process: the dashboard's thread reopens the database its
    main thread opened, and both are the one owner; :meth:`release` as many
    times as :meth:`take` (or :meth:`retain`)."""

    _guard = threading.Lock()
    _held: dict[str, StateLock] = {}

    def __init__(self, key: str, fd: int | None) -> None:
        self._key = key
        self._fd = fd
        self._count = 1

    @classmethod
    def take(cls, path: str | Path) -> StateLock:
        """Hold the database at ``path``; raises :class:`StateInUseError`
        (naming the holder) at once if another process has it."""
        lock = lock_path(path)
        key = os.path.realpath(lock)
        with cls._guard:
            held = cls._held.get(key)
            if held is not None:
                held._count += 1
                return held
            if fcntl is None:  # pragma: no cover - no flock here
                fd = None
            else:
                try:
                    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
                except OSError as exc:
                    raise StoreError(f"cannot lock state database {path} ({lock}: {exc.strerror})") from None
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    holder = _holder_of(fd)
                    os.close(fd)
                    raise StateInUseError(Path(path), holder) from None
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n{_command()}\n".encode(), 0)
            taken = cls(key, fd)
            cls._held[key] = taken
            return taken

    def retain(self) -> None:
        """One more holder in this process (released separately)."""
        with self._guard:
            self._count += 1

    def release(self) -> None:
        with self._guard:
            self._count -= 1
            if self._count > 0:
                return
            self._held.pop(self._key, None)
            if self._fd is not None:
                try:
                    os.ftruncate(self._fd, 0)  # a lock file nobody holds names nobody
                except OSError:
                    pass
                os.close(self._fd)  # closing drops the flock
                self._fd = None


def holder(path: str | Path) -> str | None:
    """Who holds the database at ``path`` now (``PID (command)``, or "another
    process"), None if nobody does; creates nothing."""
    lock = lock_path(path)
    if fcntl is None or not lock.exists():
        return None
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _holder_of(fd) or "another process"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
