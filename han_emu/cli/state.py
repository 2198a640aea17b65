"""``han-emu state``: check the state database and restore its last good snapshot."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from han_emu.han.store import CorruptStateError, StateStore, StoreError, restore_snapshot, snapshot_path


def add_state_commands(subparsers: Any) -> None:
    """Register ``state check DB`` and ``state restore DB`` on the CLI's subparsers."""
    state = subparsers.add_parser("state", help="check the state database or restore its last good snapshot")
    sub = state.add_subparsers(dest="action", required=True)
    check = sub.add_parser("check", help="check a state database (and say whether a snapshot exists)")
    check.add_argument("db")
    check.set_defaults(handler=cmd_state_check)
    restore = sub.add_parser(
        "restore", help="replace a damaged state database by its last good snapshot (the damaged one is kept aside)"
    )
    restore.add_argument("db")
    restore.set_defaults(handler=cmd_state_restore)


def cmd_state_check(args: argparse.Namespace) -> int:
    try:
        StateStore(args.db, snapshot_every=0).close()
    except CorruptStateError as exc:
        print(f"han-emu: {exc}", file=sys.stderr)
        return 1
    snap = snapshot_path(args.db)
    print(f"{args.db}: OK" + (f" (snapshot {snap})" if snap.exists() else " (no snapshot yet)"))
    return 0


def cmd_state_restore(args: argparse.Namespace) -> int:
    try:
        aside = restore_snapshot(args.db)
    except StoreError as exc:
        print(f"han-emu: {exc}", file=sys.stderr)
        return 2
    print(f"restored {args.db} from {snapshot_path(args.db)}; the damaged database is kept as {aside}")
    return 0

