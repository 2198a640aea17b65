"""The meter a command runs: its state database, opened or made fresh."""

from __future__ import annotations

import os
from pathlib import Path

from han_emu.han.config import Config
from han_emu.han.store import StateStore
from han_emu.meter.model import TwinMeter


def default_state_path() -> Path:
    """Where the meter keeps its registers and logs unless told otherwise."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "han-emu" / "meter.db"


def open_meter(config: Config, state: str | None, now: float) -> tuple[TwinMeter, StateStore | None]:
    """The meter saved in ``state`` (default: the configured path, else the user's state
    directory), resumed at ``now``; a new one when there is none yet or ``state`` is ``none``."""
    store = None
    meter = None
    if state != "none":
        path = Path(state or config.state_path or default_state_path())
        path.parent.mkdir(parents=True, exist_ok=True)
        store = StateStore(path)
        meter = store.load(config.meter)
    if meter is None:
        meter = TwinMeter(config.meter, now)
    else:
        meter.resume(now)
    return meter, store
