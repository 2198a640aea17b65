"""``han-emu replay FILE --tui``: a capture played into the dashboard.

The capture plays through the readout model at its own pace (or N times it,
or as fast as possible); at the end the dashboard stays open on the final
readout until the user quits.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from han_emu.frames.keylog import KeylogError
from han_emu.replay.dutycycle import ReplayDutyCycle


def cmd_replay_tui(args: argparse.Namespace) -> int:
    """The ``--tui`` branch of ``han-emu replay``: 0, or 2 on bad input."""
    from han_emu.tui import launch

    duty = ReplayDutyCycle(args.phy) if args.phy else None
    try:
        source = launch.run_replay_dashboard(args.file, args.key, args.link_key, keylog=args.keylog,
                                             speed=args.speed, duty=duty)
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
