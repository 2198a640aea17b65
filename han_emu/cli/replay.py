"""``han-emu replay``: decode a capture to text or jsonl, optionally a readout and airtime.

Ctrl-C stops the replay with the summary of the frames read so far (and the
readout), exit status 130.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from han_emu.air.phy import AUTO, PHYS
from han_emu.cli.args import EXIT_INTERRUPTED, OptionError, add_input, add_output, key, speed_or_max
from han_emu.cli.progress import capture_progress
from han_emu.frames.keylog import KeylogError

if TYPE_CHECKING:
    from clusters.mp184 import EndpointMap
    from han_emu.meter.recorded import RecordedScenario


_BATCH = 512


def add_replay_command(subparsers: Any) -> None:
    """Register ``replay FILE [--key HEX ...] [--link-key HEX ...] [--keylog FILE]
    [--format text|jsonl] [--readout-json FILE] [--phy auto|gb868|2.4] [--tui [--speed N|max]]``."""
    p = subparsers.add_parser("replay", help="decode a Zigbee capture (pcap/pcapng, ZEP) to Smart Energy ZCL events")
    add_input(p, "file", metavar="FILE", help="pcap or pcapng file (link types 195, 230, 283, or ZEP over UDP)")
    add_decode_options(p, "after the capture", keylog_input=True)
    p.add_argument("--tui", action="store_true",
                   help="play the capture into the dashboard (on a terminal; text output otherwise)")
    p.add_argument("--speed", type=speed_or_max, default=1.0, metavar="N|max",
                   help="with --tui: capture seconds per wall second, 1..3600, or max (default 1: real time)")
    p.set_defaults(handler=cmd_replay)


def add_decode_options(p: argparse.ArgumentParser, when: str, *, keylog_note: str = "",
                       keylog_input: bool = False) -> None:
    """The keys and outputs ``replay`` and ``sniff`` share: ``--key``, ``--link-key``,
    ``--keylog`` (its help ending with ``keylog_note``; checked before the
    start when ``keylog_input``), ``--format``, ``--readout-json`` (the
    readout ``when``), ``--phy``."""
    p.add_argument("--key", action="append", type=key, default=[], metavar="HEX",
                   help="network key (32 hex digits); repeat for several")
    p.add_argument("--link-key", action="append", type=key, default=[], metavar="HEX",
                   help="APS link key (trust-centre or CBKE-derived); lets network keys be learnt from Transport-Key")
    keylog_help = "key log: Wireshark zigbee_pc_keys rows or hex keys, one a line" + keylog_note
    if keylog_input:
        add_input(p, "--keylog", metavar="FILE", help=keylog_help)
    else:  # a live sniffer's key log may not exist yet
        p.add_argument("--keylog", metavar="FILE", help=keylog_help)
    p.add_argument("--format", choices=("text", "jsonl"), default="text",
                   help="text: one line per ZCL frame; jsonl: one JSON object per frame and a summary")
    add_output(p, "--readout-json", metavar="FILE", help=f"write what an IHD would show {when}")
    p.add_argument("--phy", choices=(AUTO, *PHYS),
                   help="also report airtime and duty cycle per transmitting device on this PHY "
                        "(auto: the one the capture's TAP or ZEP metadata names, else GB-868, said to be assumed)")


def cmd_replay(args: argparse.Namespace) -> int:
    """Run the replay; 0 when the file was read to its end, 1 when it was damaged, 2 on bad input,
    130 when Ctrl-C stopped it."""
    from han_emu.replay.parallel import can_run_parallel

    if args.speed != 1.0 and not args.tui:
        raise OptionError("--speed sets the pace of --tui (text output is written as fast as it can)")
    if args.tui:
        if sys.stdout.isatty():
            from han_emu.cli.replay_tui import cmd_replay_tui

            if args.format != "text":
                raise OptionError(f"--format {args.format} is for text output: --tui shows the dashboard")
            return cmd_replay_tui(args)
        print("han-emu replay: --tui needs a terminal; writing text output", file=sys.stderr)
    out = sys.stdout
    jsonl = args.format == "jsonl"

    def warn(message: str) -> None:
        print(f"han-emu replay: {message}", file=sys.stderr)

    if jsonl and not args.readout_json and not args.phy and can_run_parallel(args.file):
        return _replay_parallel(args, warn)  # imports only what decoding to jsonl needs
    from han_emu.replay.jsonl import jsonl_line, summary_line
    from han_emu.replay.player import ErrorEvent, Replay

    readout = duty = None  # their modules (and the text output's) are imported only when asked for
    if args.readout_json:
        from han_emu.readout import Readout

        readout = Readout()
    if args.phy:
        from han_emu.replay.dutycycle import ReplayDutyCycle

        duty = ReplayDutyCycle(args.phy)
    if not jsonl:
        from han_emu.replay.output import TextLines, duty_text, text_summary
    try:
        replay = Replay(args.file, args.key, args.link_key, keylog=args.keylog, readout=readout, warn=warn,
                        on_frame=duty.add if duty is not None else None)
    except (OSError, KeylogError) as exc:
        print(f"han-emu replay: {exc}", file=sys.stderr)
        return 2
    bars = ExitStack()  # a bar while a big capture is read, when the output is not the terminal
    replay.on_frame = bars.enter_context(capture_progress(args.file, replay.on_frame, output=out))
    damaged = False
    lines: list[str] = []  # written in batches: one write per line costs more than the line
    add = lines.append

    def write(text: str) -> None:
        add(text)
        if len(lines) >= _BATCH:
            flush()

    def flush() -> None:
        out.write("".join(lines))
        lines.clear()

    line = jsonl_line if jsonl else TextLines()
    interrupted = False
    try:
        try:
            for event in replay.frames():
                if type(event) is ErrorEvent:
                    if event.kind == "malformed":
                        damaged = damaged or event.time is None
                        if not jsonl and event.time is not None:
                            flush()
                            warn(f"frame {event.frame}: {event.error}")
                    if jsonl:
                        add(jsonl_line(event) + "\n")
                else:
                    add(line(event) + "\n")
                if len(lines) >= _BATCH:
                    flush()
        except KeyboardInterrupt:
            interrupted = True
            bars.close()
            flush()
            warn(f"interrupted after {replay.summary.frames} frames: the summary covers those")
        report = duty.report() if duty is not None else None
        if jsonl:
            if report is not None:
                write(json.dumps({"dutycycle": report}, separators=(",", ":")) + "\n")
            if interrupted:
                write(json.dumps({"interrupted": {"frames": replay.summary.frames}}, separators=(",", ":")) + "\n")
            write(summary_line(replay.summary) + "\n")
        else:
            if report is not None:
                write(duty_text(report))
            write(text_summary(replay.summary) + "\n")
        flush()
        out.flush()
    except BrokenPipeError:
        return 0
    finally:
        bars.close()
    if readout is not None:
        Path(args.readout_json).write_text(json.dumps(readout.to_json(), indent=2) + "\n", encoding="utf-8")
    if interrupted:
        return EXIT_INTERRUPTED
    return 1 if damaged else 0


class _CtrlC:
    """Ctrl-C while a capture is replayed on the workers: noted at once, but
    raised only while the parent waits on a worker (before the chunk counts)
    or after a chunk is written; so every chunk is counted and written, or
    neither, and the summary covers exactly the lines out.  (A signal mask
    would not do: the pool's threads would take the signal for this one.)"""

    def __init__(self) -> None:
        self.pressed = False
        self._waiting = False
        self._previous: Any = None

    def __enter__(self) -> "_CtrlC":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._caught)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _caught(self, signum: int, frame: Any) -> None:
        self.pressed = True
        if self._waiting:
            raise KeyboardInterrupt

    @contextmanager
    def waiting(self) -> Iterator[None]:
        self._waiting = True
        try:
            if self.pressed:
                raise KeyboardInterrupt
            yield
        finally:
            self._waiting = False


def _replay_parallel(args: argparse.Namespace, warn: Callable[[str], None]) -> int:
    """``--format jsonl`` of a big capture on every CPU: the same output, the
    same exit statuses (``replay.parallel``)."""
    from han_emu.frames.record import RawFrame
    from han_emu.replay.jsonl import summary_line
    from han_emu.replay.parallel import ParallelReplay

    out = sys.stdout
    try:
        replay = ParallelReplay(args.file, args.key, args.link_key, keylog=args.keylog, warn=warn)
    except (OSError, KeylogError) as exc:
        print(f"han-emu replay: {exc}", file=sys.stderr)
        return 2
    interrupted = False
    bars = ExitStack()
    ctrl_c = _CtrlC().__enter__()  # until the summary is out: a late Ctrl-C cannot cut it
    replay.waiting = ctrl_c.waiting
    try:
        try:
            bar = bars.enter_context(capture_progress(args.file, None, output=out))
            with closing(replay.texts()) as texts:
                for text in texts:
                    out.write(text)
                    if bar is not None:  # the bar counts bytes: the end of the chunk just written
                        bar(RawFrame(0, 0.0, b"", None, replay.done_bytes))
                    if ctrl_c.pressed:
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            interrupted = True
        if interrupted or ctrl_c.pressed:  # pressed after the last chunk: the summary is still that of a stop
            interrupted = True
            bars.close()
            warn(f"interrupted after {replay.summary.frames} frames: the summary covers those")
            out.write(json.dumps({"interrupted": {"frames": replay.summary.frames}}, separators=(",", ":")) + "\n")
        out.write(summary_line(replay.summary) + "\n")
        out.flush()
    except BrokenPipeError:
        return 0
    finally:
        bars.close()
        ctrl_c.__exit__()
    if interrupted:
        return EXIT_INTERRUPTED
    return 1 if replay.damaged else 0


# --- `han-emu run --scenario-from FILE` -------------------------------------------------------


def add_scenario_arguments(parser: argparse.ArgumentParser) -> None:
    """``--scenario-from FILE [--scenario-key HEX ...] [--scenario-keylog FILE] [--scenario-after hold|loop]``
    (``--keylog`` on ``run`` writes the emulator's own keys, so the capture's are named apart)."""
    add_input(parser, "--scenario-from", metavar="FILE",
              help="drive the meter with the readings and profile intervals of a capture (pcap/pcapng)")
    parser.add_argument("--scenario-key", action="append", type=key, default=[], metavar="HEX",
                        help="with --scenario-from: a network or link key of the capture; repeat for several")
    add_input(parser, "--scenario-keylog", metavar="FILE",
              help="with --scenario-from: the capture's key log (Wireshark zigbee_pc_keys rows)")
    parser.add_argument("--scenario-after", choices=("hold", "loop"),
                        help="after the capture's end: hold the last power (default), or loop the recorded "
                             "increments")


def scenario_for_run(args: argparse.Namespace, endpoints: EndpointMap, start: float | None) -> "RecordedScenario":
    """The capture's scenario from the ``run`` arguments, shifted by whole half
    hours to begin at ``start`` (None: at the capture's own time)."""
    from han_emu.replay.scenario import recorded_scenario

    warnings: list[str] = []  # said once the scenario is made; folded into the error line if it cannot be
    try:
        scenario = recorded_scenario(args.scenario_from, args.scenario_key, keylog=args.scenario_keylog,
                                     endpoints=endpoints, after=args.scenario_after or "hold", warn=warnings.append)
    except (OSError, KeylogError, ValueError) as exc:
        why = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) and exc.strerror else str(exc)
        seen = f" ({'; '.join(warnings)})" if warnings else ""
        print(f"han-emu run: --scenario-from {args.scenario_from}: {why}{seen}", file=sys.stderr)
        raise SystemExit(2) from None
    for message in warnings:
        print(f"han-emu run: {message}", file=sys.stderr)
    return scenario if start is None else scenario.anchored(start)
