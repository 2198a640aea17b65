"""``han-emu state``: check, restore, adopt and resynchronise the state database.

``check`` only reads (it creates nothing, not even beside the file); the
others take the database's lock, so none of them runs under a live run.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from han_emu.han.config import ConfigError, load
from han_emu.han.runner import CLOCK_SLACK_S, describe_span
from han_emu.han.statefile import examine, holder
from han_emu.han.store import CorruptStateError, StateStore, StoreError, meter_identity, restore_snapshot, snapshot_path


def add_state_commands(subparsers: Any) -> None:
    """Register ``state check|restore|adopt|resync DB`` on the CLI's subparsers."""
    state = subparsers.add_parser("state", help="check, restore, adopt or resynchronise a state database")
    sub = state.add_subparsers(dest="action", required=True)
    check = sub.add_parser("check", help="check a state database without changing it")
    check.add_argument("db")
    check.set_defaults(handler=cmd_state_check)
    restore = sub.add_parser(
        "restore", help="replace a damaged state database by its last good snapshot (the damaged one is kept aside)"
    )
    restore.add_argument("db")
    restore.add_argument("--force", action="store_true",
                         help="restore even over a healthy database (the saves made since the snapshot are lost)")
    restore.set_defaults(handler=cmd_state_restore)
    adopt = sub.add_parser("adopt", help="make another meter's state this configuration's meter, registers kept")
    adopt.add_argument("db")
    adopt.add_argument("--config", "-c", help="the configuration whose meter adopts the state (as for run)")
    adopt.set_defaults(handler=cmd_state_adopt)
    resync = sub.add_parser("resync", help="bring a meter clock saved ahead of the wall clock back to it, "
                                           "registers kept")
    resync.add_argument("db")
    resync.set_defaults(handler=cmd_state_resync)


def _fail(message: str, code: int = 1) -> int:
    print(f"han-emu: {message}", file=sys.stderr)
    return code


def _utc(epoch: float) -> str:
    return f"{datetime.fromtimestamp(epoch, timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def cmd_state_check(args: argparse.Namespace) -> int:
    """Exit 0 for a sound han-emu database, 1 for anything else, named for what it is."""
    path = Path(args.db)
    try:
        kind = examine(path)
    except StoreError as exc:
        return _fail(str(exc))
    if kind == "absent":
        return _fail(f"{path}: no such file; nothing checked, nothing created")
    if kind == "empty":
        return _fail(f"{path} is empty: no meter has been saved in it")
    try:  # read-only: a private copy of the database's view, nothing written
        store = StateStore.read_only(path)
    except CorruptStateError as exc:
        return _fail(str(exc))
    try:
        problem = store.quick_check()
        if problem is not None:
            snap = snapshot_path(path)
            return _fail(str(CorruptStateError(path, problem, snap if snap.exists() else None)))
        identity = store.saved_identity()
        saved = store.saved_time()
    except StoreError as exc:
        return _fail(str(exc))
    finally:
        store.close()
    snap = snapshot_path(path)
    parts = [f"{path}: OK"]
    if saved is None:
        parts.append("no meter saved yet")
    else:
        serial = (identity or {}).get("meter.serial")
        parts.append(f"meter {serial or '(identity not recorded yet)'}, clock {_utc(saved)}")
        ahead = saved - time.time()
        if ahead > CLOCK_SLACK_S:
            parts.append(f"the clock is {describe_span(ahead)} ahead of the wall clock "
                         f"(`han-emu state resync {path}`)")
    parts.append(f"snapshot {snap}" if snap.exists() else "no snapshot yet")
    if kind == "han-emu unmarked":
        parts.append("not yet marked as han-emu's (the next run marks it)")
    if (who := holder(path)) is not None:
        parts.append(f"in use by process {who}")
    print("; ".join(parts))
    return 0


def cmd_state_restore(args: argparse.Namespace) -> int:
    try:
        aside = restore_snapshot(args.db, force=args.force)
    except StoreError as exc:
        return _fail(str(exc), 2)
    kept = f"; the replaced database is kept as {aside}" if aside is not None else ""
    print(f"restored {args.db} from {snapshot_path(args.db)}{kept}")
    return 0


def cmd_state_adopt(args: argparse.Namespace) -> int:
    """Carry a saved meter's registers and logs over to the configured meter."""
    path = Path(args.db)
    try:
        config = load(args.config)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    try:
        if examine(path) in ("absent", "empty"):
            return _fail(f"{path}: no saved meter to adopt")
        store = StateStore(path, exclusive=True)
        try:
            before = store.saved_identity()
            meter = store.load(config.meter, adopt=True)
            if meter is None:
                return _fail(f"{path}: no saved meter to adopt")
            store.save(meter)  # the adopted identity goes with the meter, in one transaction
        finally:
            store.close()
    except StoreError as exc:
        return _fail(str(exc), 2)
    mine = meter_identity(config.meter)
    changed = [f"{key} {before.get(key) or 'unset'} -> {value or 'unset'}"
               for key, value in mine.items() if before is not None and before.get(key) != value]
    what = "; ".join(changed) if changed else "it was this meter's already"
    print(f"{path} now holds meter {config.meter.serial}'s state, registers kept ({what})")
    return 0


def cmd_state_resync(args: argparse.Namespace) -> int:
    path = Path(args.db)
    try:
        if examine(path) in ("absent", "empty"):
            return _fail(f"{path}: no saved meter to resynchronise")
        store = StateStore(path, exclusive=True)
        try:
            now = time.time()
            ahead = store.resync_clock(now)
        finally:
            store.close()
    except StoreError as exc:
        return _fail(str(exc), 2)
    if ahead <= 0:
        print(f"{path}: the meter clock is not ahead of the wall clock; nothing changed")
    else:
        print(f"{path}: meter clock brought back {describe_span(ahead)} to {_utc(now)}; registers kept, "
              "logged intervals and daily readings after that withdrawn")
    return 0
