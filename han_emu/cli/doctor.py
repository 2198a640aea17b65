"""``han-emu doctor --radio URL``: probe a coordinator stick, read only, and say what will work.

Exit status: 0 the stick is ready (perhaps with warnings), 1 it is not usable
for a session with a GB display, 2 bad arguments, 3 the stick could not be
probed (no such port, nothing answering, not a Zigbee NCP), in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from han_emu.cli.args import EXIT_INTERRUPTED, OptionError, add_input, duration
from han_emu.han.config import load

EXIT_NOT_USABLE = 1
EXIT_STICK_FAILED = 3


def add_doctor_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``doctor --radio znp:PORT|ezsp:PORT [--format text|json]``."""
    parser = subparsers.add_parser(
        "doctor", help="probe a coordinator stick (read only) and say what will work",
        description="Probe a Z-Stack or EZSP coordinator stick and report its stack and firmware, where CBKE "
                    "can run, its key tables, address cache, flow control and the network it holds, with a "
                    "verdict and a one-line fix for each problem. Read only: it never forms, leaves or changes "
                    "a network and never writes a key (an EZSP stick is reset and resumes the network it "
                    "holds, as at any start).",
        epilog="exit status: 0 ready (perhaps with warnings), 1 not usable, 2 bad arguments, "
               "3 the stick could not be probed")
    parser.add_argument("--radio", required=True, metavar="znp:PORT|ezsp:PORT",
                        help="the stick: a device path or a serial URL such as socket://HOST:PORT, as for run")
    parser.add_argument("--baudrate", type=int, help="serial speed (default: the radio library's, 115200)")
    parser.add_argument("--flow-control", choices=("hardware", "software", "none"), help="serial flow control")
    add_input(parser, "--config", "-c",
              help="configuration file (TOML): its [cbke] certificate sets are checked against the stick")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text for people (default), json for scripts")
    parser.add_argument("--timeout", type=duration, default=None, metavar="S",
                        help="give up on a stick that has not answered everything within S seconds (default 30)")
    parser.set_defaults(handler=cmd_doctor)
    return parser


def cmd_doctor(args: argparse.Namespace) -> int:
    from han_emu.cli.stick import radio_spec
    from han_emu.radio.backend import RadioError
    from han_emu.radio.doctor import DEFAULT_TIMEOUT, NOT_USABLE, probe_stick

    spec = radio_spec(args)
    if not spec.hardware:
        raise OptionError("doctor probes a stick: give --radio znp:PORT or ezsp:PORT")
    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    config = load(args.config)
    # The radio libraries log link trouble with tracebacks; the probe reports it in one line.
    for name in ("zigpy", "zigpy_znp", "bellows", "serialx"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        findings = asyncio.run(probe_stick(spec, certificates=config.cbke, timeout=timeout))
    except RadioError as exc:
        print(f"han-emu doctor: {exc}", file=sys.stderr, flush=True)
        return EXIT_STICK_FAILED
    except KeyboardInterrupt:
        print("han-emu doctor: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    print(findings.to_json() if args.format == "json" else findings.to_text(), flush=True)
    return EXIT_NOT_USABLE if findings.verdict == NOT_USABLE else 0
