"""A virtual HAN for the dashboard tests: a meter with 40 days of history,
held still so that everything the displays read equals the meter model
exactly, in a paused runner at a fixed time.

The meter is prepared up to :data:`METER_END`, later than the HAN's clock
will reach, so the HAN never drives it on: the displays read a meter that
does not change under them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from han_emu.han.config import Config, load
from han_emu.meter.model import TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.meter.simulate import run
from han_emu.tui.controls import RecordingHook
from han_emu.tui.han_thread import HanRunner
from han_emu.han.virtual import VirtualHan

#: Wednesday 3 June 2026, 12:10 UTC (13:10 BST): PV exporting, export tier 2.
START = datetime(2026, 6, 3, 12, 10, tzinfo=timezone.utc).timestamp()
HISTORY_DAYS = 40
WARMUP_S = 120.0
METER_END = START + 600
SIZE = (140, 50)


def prepared_meter(config: Config) -> TwinMeter:
    meter = TwinMeter(config.meter, START - HISTORY_DAYS * 86400)
    run(meter, Scenario(config.scenario), METER_END, 300)
    return meter


def frozen_runner(recorder: RecordingHook | None = None, ledger=None) -> HanRunner:
    config = load(None)

    def make() -> VirtualHan:
        return VirtualHan(config, prepared_meter(config))

    return HanRunner(make, START, None, warmup=WARMUP_S, paused=True, recorder=recorder, ledger=ledger)
