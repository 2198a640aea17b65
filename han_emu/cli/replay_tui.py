"""``han-emu replay FILE --tui``: a capture played into the dashboard.

The capture plays through the readout model at its own pace (or N times it,
or as fast as possible) on the dashboard's loop; at the end the dashboard
stays open on the final readout until the user quits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from han_emu.replay.dutycycle import ReplayDutyCycle
from han_emu.frames.keylog import KeylogError

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from clusters.mp184 import EndpointMap
    from han_emu.server.metering import AmbientThresholds
    from han_emu.tui.replay_source import ReplaySource


def parse_speed(text: str) -> float | None:
    """``--speed``: a factor from 1 to 3600, or ``max`` (as fast as possible: None)."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a speed: {text!r} (a number from 1 to 3600, or max)") from None
    if not 1 <= speed <= 3600:
        raise argparse.ArgumentTypeError("--speed must be between 1 and 3600, or max")
    return speed


def run_replay_dashboard(
    capture: str | Path,
    network_keys: Iterable[bytes | str] = (),
    link_keys: Iterable[bytes | str] = (),
    *,
    keylog: str | Path | None = None,
    speed: float | None = 1.0,
    thresholds: AmbientThresholds | None = None,
    endpoints: EndpointMap | None = None,
    duty: ReplayDutyCycle | None = None,
    headless: bool = False,
    auto_pilot: Callable[[Pilot[None]], Coroutine[Any, Any, None]] | None = None,
) -> ReplaySource:
    """Play ``capture`` into the dashboard until the user quits; returns the
    :class:`~han_emu.tui.replay_source.ReplaySource` (its readout is final
    if the capture was played to its end).  ``headless`` and ``auto_pilot``
    are Textual's, for running the dashboard without a terminal."""
    from han_emu.tui.app import DashboardApp
    from han_emu.tui.replay_source import ReplaySource

    source = ReplaySource(capture, network_keys, link_keys, keylog=keylog, endpoints=endpoints, speed=speed,
                          duty=duty)

    async def main() -> None:
        source.start()
        try:
            await DashboardApp(source, source, thresholds=thresholds).run_async(headless=headless,
                                                                               auto_pilot=auto_pilot)
        finally:
            await source.stop()

    asyncio.run(main())
    return source


def cmd_replay_tui(args: argparse.Namespace) -> int:
    """The ``--tui`` branch of ``han-emu replay``: 0, or 2 on bad input."""
    duty = ReplayDutyCycle(args.phy) if args.phy else None
    try:
        source = run_replay_dashboard(args.file, args.key, args.link_key, keylog=args.keylog, speed=args.speed,
                                      duty=duty)
    except (OSError, KeylogError) as exc:
        print(f"han-emu replay: {exc}", file=sys.stderr)
        return 2
    for message in source.replay.warnings:
        print(f"han-emu replay: {message}", file=sys.stderr)
    if source.error is not None:
        print(f"han-emu replay: stopped at frame {source.frame}: {source.error}", file=sys.stderr)
        return 1
    if args.readout_json:  # what was shown when the user quit: the whole capture once it had finished
        if not source.finished:
            print(f"han-emu replay: quit at frame {source.frame}: the readout covers the capture up to there",
                  file=sys.stderr)
        Path(args.readout_json).write_text(json.dumps(source.readout.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0
