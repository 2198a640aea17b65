"""``han-emu sniff``: a live sniffer's frames decoded as they are heard.

The same decoding and output as ``han-emu replay``, fed by ZEP datagrams
(``--zep``, the default) or a growing pcap/pcapng stream (``--pcap-stream``)
instead of a file.  It runs until the stream ends, ``--duration`` passes or
Ctrl-C; any of these prints the summary and writes the readout (Ctrl-C with
exit status 130).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from han_emu.cli.args import EXIT_INTERRUPTED, KEEP, LISTEN_ANY, OptionError, add_output, duration, listen_address
from han_emu.cli.replay import add_decode_options
from han_emu.frames.keylog import KeylogError
from han_emu.frames.zep import ZEP_PORT

if TYPE_CHECKING:
    from han_emu.replay.dutycycle import ReplayDutyCycle
    from han_emu.replay.live import LiveRecords

PROG = "han-emu sniff"
ZEP_LISTEN = (LISTEN_ANY, ZEP_PORT)


def add_sniff_command(subparsers: Any) -> None:
    """Register ``sniff [--zep [HOST:]PORT | --pcap-stream FILE|-] [--key HEX ...] [--link-key HEX ...]
    [--keylog FILE] [--format text|jsonl] [--readout-json FILE] [--phy auto|gb868|2.4] [--tui] [--save FILE]
    [--duration S]``."""
    p = subparsers.add_parser("sniff", help="decode a live sniffer's frames (ZEP over UDP, or a pcap stream)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--zep", metavar="[HOST:]PORT", type=listen_address, default=ZEP_LISTEN, nargs="?",
                       const=ZEP_LISTEN, help=f"listen for ZEP v1/v2 datagrams (the default, on {LISTEN_ANY}:{ZEP_PORT})")
    where.add_argument("--pcap-stream", metavar="FILE|-",
                       help="read a pcap or pcapng stream as it grows: - for standard input, a pipe, "
                            "or a file a sniffer is still writing")
    add_decode_options(p, "when sniffing stops",
                       keylog_note="; followed as it grows, and it need not exist yet")
    p.add_argument("--tui", action="store_true",
                   help="show the frames in the dashboard as they arrive (on a terminal; text output otherwise)")
    add_output(p, "--save", metavar="FILE", use=KEEP, help="write every frame heard to this pcapng, flushed per frame")
    p.add_argument("--duration", type=duration, metavar="S", help="stop after S seconds (or 15m, 2h ...)")
    p.set_defaults(handler=cmd_sniff)


def open_live(args: argparse.Namespace, warn: Any) -> LiveRecords:
    """The source the arguments name; OSError or ValueError when it cannot be opened."""
    from han_emu.replay.live import FrameSaver, StreamRecords, ZepListener

    try:
        save = FrameSaver(args.save) if args.save else None
    except OSError as exc:
        raise OSError(f"cannot write {args.save}: {exc.strerror or exc}") from None
    try:
        if args.pcap_stream is not None:
            try:
                return StreamRecords(args.pcap_stream, save=save, duration=args.duration, warn=warn)
            except OSError as exc:
                raise OSError(f"cannot read {args.pcap_stream}: {exc.strerror or exc}") from None
        host, port = args.zep
        try:
            return ZepListener(host, port, save=save, duration=args.duration, warn=warn)
        except socket.gaierror as exc:
            raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except BaseException:
        if save is not None:
            save.close()
        raise


def cmd_sniff(args: argparse.Namespace) -> int:
    """Sniff until the source ends or the duration passes: 0; Ctrl-C: 130; 1 when the
    stream was not a readable capture or the reader failed; 2 on bad input."""
    from han_emu.readout import Readout

    from han_emu.replay.dutycycle import ReplayDutyCycle
    from han_emu.replay.player import ErrorEvent, Replay
    from han_emu.replay.output import TextLines, jsonl_line, summary_line, text_summary
    from han_emu.replay.parallel import ParallelReplay, can_fork_workers

    def warn(message: str) -> None:
        print(f"{PROG}: {message}", file=sys.stderr, flush=True)

    if args.tui and sys.stdout.isatty() and args.format != "text":
        raise OptionError(f"--format {args.format} is for text output: --tui shows the dashboard")
    try:
        live = open_live(args, warn)
    except (OSError, ValueError) as exc:
        warn(str(exc))
        return 2
    if args.tui:
        if sys.stdout.isatty():
            return _cmd_sniff_tui(args, live, warn)
        warn("--tui needs a terminal; writing text output")
    out = sys.stdout
    jsonl = args.format == "jsonl"
    readout = Readout() if args.readout_json else None
    duty = ReplayDutyCycle(args.phy) if args.phy else None
    parallel = None  # jsonl alone: decoded on every CPU, written in order (replay.parallel)
    try:
        if jsonl and readout is None and duty is None and can_fork_workers():
            parallel = ParallelReplay(None, args.key, args.link_key, keylog=args.keylog, follow_keylog=True,
                                      warn=warn)
            replay = parallel.replay
        else:
            replay = Replay(live, args.key, args.link_key, keylog=args.keylog, follow_keylog=True,
                            readout=readout, warn=warn,
                            on_frame=duty.add if duty is not None else None)
    except (OSError, KeylogError) as exc:
        live.stop()
        warn(str(exc))
        return 2
    how = "end"
    text_line = TextLines()
    live.on_wait = out.flush  # live: the lines are out before the source is waited on
    try:
        try:
            warn(f"listening: {live.name}" + (f" for {args.duration:g} s" if args.duration else "")
                 + ("; Ctrl-C stops" if sys.stdin.isatty() else ""))
            if parallel is not None:
                parallel.run_live(live, out.write, out.flush)
            for event in replay.frames() if parallel is None else ():
                if type(event) is ErrorEvent:
                    if jsonl:
                        out.write(jsonl_line(event) + "\n")
                    elif event.kind == "malformed" and event.time is not None:
                        warn(f"frame {event.frame}: {event.error}")
                    else:
                        continue
                else:
                    out.write((jsonl_line(event) if jsonl else text_line(event)) + "\n")
            if args.duration and not live.ended:
                how = "duration"
        except KeyboardInterrupt:
            how = "interrupted"
        finally:
            live.stop()
        _write_summary(out, jsonl, replay.summary, live, duty, how, summary_line, text_summary)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:  # a second Ctrl-C while the summary was written: still write the readout
        how = "interrupted"
    if readout is not None:
        Path(args.readout_json).write_text(json.dumps(readout.to_json(), indent=2) + "\n", encoding="utf-8")
    if live.error is not None:
        warn(f"reading {live.name} failed: {live.error}")
        return 1
    if live.damaged:
        warn(f"{live.name} was not a readable capture to its end")
        return 1
    return EXIT_INTERRUPTED if how == "interrupted" else 0


def _live_stats(live: LiveRecords, how: str) -> dict[str, Any]:
    stats: dict[str, Any] = {"source": live.name, "stopped": how}
    if hasattr(live, "not_zep"):
        stats["not_zep"] = live.not_zep
    if live.save is not None:
        stats["saved"] = live.save.frames
        stats["save_file"] = str(live.save.path)
    return stats


def _write_summary(out: Any, jsonl: bool, summary: Any, live: LiveRecords, duty: ReplayDutyCycle | None, how: str,
                   summary_line: Any, text_summary: Any) -> None:
    from han_emu.replay.output import duty_text

    stats = _live_stats(live, how)
    report = duty.report() if duty is not None else None
    if jsonl:
        if report is not None:
            out.write(json.dumps({"dutycycle": report}, separators=(",", ":")) + "\n")
        out.write(json.dumps({"sniff": stats}, separators=(",", ":")) + "\n")
        out.write(summary_line(summary) + "\n")
    else:
        if report is not None:
            out.write(duty_text(report))
        line = f"{stats['source']}, stopped ({how}): " + text_summary(summary)
        if stats.get("not_zep"):
            line += f"; {stats['not_zep']} datagrams were not ZEP (ignored)"
        if "saved" in stats:
            line += f"; {stats['saved']} frames saved to {stats['save_file']}"
        out.write(line + "\n")
    out.flush()


def _cmd_sniff_tui(args: argparse.Namespace, live: LiveRecords, warn: Any) -> int:
    """The ``--tui`` branch: the dashboard until the user quits or ``--duration`` passes."""
    from han_emu.replay.dutycycle import ReplayDutyCycle
    from han_emu.tui import launch

    duty = ReplayDutyCycle(args.phy) if args.phy else None
    live.duration = None  # the dashboard's own timer ends the session
    live.warn = None  # the status line counts what is not ZEP; a print would tear the screen
    try:
        source = launch.run_sniff_dashboard(live, args.key, args.link_key, keylog=args.keylog, duty=duty,
                                     duration=args.duration)
    except (OSError, KeylogError) as exc:
        live.stop()
        warn(str(exc))
        return 2
    for message in source.replay.warnings:
        warn(message)
    summary = source.replay.summary
    warn(f"{live.name}: {summary.frames} frames, {summary.decoded} ZCL decoded")
    if args.readout_json:
        Path(args.readout_json).write_text(json.dumps(source.readout.to_json(), indent=2) + "\n", encoding="utf-8")
    if source.error is not None:
        warn(f"stopped at frame {source.frame}: {source.error}")
        return 1
    return 0

