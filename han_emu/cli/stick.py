"""A real coordinator stick: ``han-emu run --radio znp:PORT|ezsp:PORT`` and ``han-emu permit``.

Radio problems end in one line on stderr and exit status 3; options that
cannot be honoured on a stick, in one line and status 2 (before the stick is
opened).  Ctrl-C stops the run cleanly, with exit status 130.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from han_emu.cli.args import (
    EXIT_INTERRUPTED,
    KEEP,
    OptionError,
    add_input,
    add_output,
    eui64_key,
    inform,
    install_code,
    permit_seconds,
    warn,
)
from han_emu.han.runner import open_meter
from han_emu.cli.textview import show_live
from han_emu.han.config import Config, load

if TYPE_CHECKING:
    from han_emu.han.hardware import HardwareHan
    from han_emu.radio.backend import NetworkSettings, RadioSpec

Body = Callable[["HardwareHan"], Awaitable[int]]


def add_radio_options(parser: argparse.ArgumentParser) -> None:
    """``--radio``, the serial line's settings and ``--keylog``."""
    parser.add_argument("--radio", default="virtual", metavar="virtual|znp:PORT|ezsp:PORT",
                        help="the coordinator: the virtual HAN (default), or a Z-Stack / EZSP stick at PORT "
                        "(a device path or a serial URL such as socket://HOST:PORT)")
    parser.add_argument("--baudrate", type=int, help="serial speed (default: the radio library's, 115200)")
    parser.add_argument("--flow-control", choices=("hardware", "software", "none"), help="serial flow control")
    add_output(parser, "--keylog", metavar="FILE", use=KEEP,
               help="write every key in use to FILE in Wireshark's zigbee_pc_keys format (secret!)")


def add_network_options(parser: argparse.ArgumentParser) -> None:
    """What the coordinator forms a new network with (the virtual HAN forms one each run)."""
    parser.add_argument("--channel", help="2.4 GHz channel (11-26) when a network is formed (virtual: 15)")
    parser.add_argument("--pan-id", help="PAN ID in hex when a network is formed, e.g. 1A62")
    parser.add_argument("--extended-pan-id", help="extended PAN ID, 8 bytes hex, when a network is formed")
    parser.add_argument("--network-key", help="network key, 16 bytes hex, when a network is formed")


def radio_spec(args: argparse.Namespace) -> RadioSpec:
    """The radio ``--radio`` and the serial options name; OptionError says what is wrong."""
    from han_emu.radio.backend import parse_radio

    try:
        spec = parse_radio(args.radio, baudrate=args.baudrate, flow_control=args.flow_control)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    if not spec.hardware:
        serial = [o for o, v in (("--baudrate", args.baudrate), ("--flow-control", args.flow_control)) if v]
        if serial:
            raise OptionError(f"{' and '.join(serial)} {'set' if len(serial) > 1 else 'sets'} a stick's serial "
                              "line: the virtual radio has none (give --radio znp:PORT or ezsp:PORT)")
    return spec


def network_settings(args: argparse.Namespace) -> NetworkSettings:
    """The network options of ``run``; OptionError says what is wrong."""
    from han_emu.radio import backend as rb

    def read(text: str | None, parse: Callable[[str], Any]) -> Any:
        return None if text is None else parse(text)

    try:
        return rb.NetworkSettings(
            channel=read(args.channel, rb.parse_channel),
            pan_id=read(args.pan_id, rb.parse_pan_id),
            extended_pan_id=read(args.extended_pan_id, rb.parse_extended_pan_id),
            network_key=read(args.network_key, rb.parse_network_key),
        )
    except ValueError as exc:
        raise OptionError(str(exc)) from None


def _error(message: str) -> int:
    print(f"han-emu: {message}", file=sys.stderr, flush=True)
    return 2


def on_stick(spec: RadioSpec, network: NetworkSettings, config: Config, body: Body, *, state: str | None,
             keylog: str | None, accept_unencrypted: bool = False, start: bool = True,
             backfill: float | None = None) -> int:
    """Run ``body(han)`` on a HardwareHan over the stick ``spec``; radio problems end in one line and exit code 3.

    ``start=False``: ``body`` starts the HAN itself (the dashboard does, to show the start's steps);
    ``backfill``: seconds of history the meter is given before it serves (``--backfill``)."""
    from han_emu.frames.keylog import KeyLog
    from han_emu.han.hardware import HardwareHan
    from han_emu.radio.backend import RadioError

    # The radio libraries log link trouble with tracebacks; han-emu reports it in one line.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("zigpy", "zigpy_znp", "bellows", "serialx"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    meter, store = open_meter(config, state, time.time(), warn=warn, backfill=backfill, inform=inform)
    keys = KeyLog(keylog) if keylog else None

    def report(line: str) -> None:
        print(f"han-emu: {line}", file=sys.stderr, flush=True)

    async def main() -> int:
        han = HardwareHan(config, meter, spec, network=network, store=store, keylog=keys,
                          accept_unencrypted=accept_unencrypted, report=report)
        try:
            if start:
                await han.start()
        except RadioError as exc:
            report(str(exc))
            return 3
        try:
            return await body(han)
        except RadioError as exc:
            report(str(exc))
            return 3
        finally:
            await han.stop()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        print("han-emu: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    finally:
        if keys is not None:
            keys.close()
        if store is not None:
            store.close()


# -- han-emu run --radio znp:PORT|ezsp:PORT ------------------------------------------------


def run_on_stick(args: argparse.Namespace, config: Config, spec: RadioSpec, network: NetworkSettings) -> int:
    """``han-emu run`` on a stick: the ESIs served until stopped, as text or in the dashboard
    (the options were checked against a stick run by ``han_emu.cli.run``)."""
    from han_emu.han.recording import RecordingError, ServedRecording
    from han_emu.han.status import StatusFile

    interactive = sys.stdout.isatty() and not args.no_tui
    try:  # what the ESI serves, synthesized into frames: opened now so a bad path fails early
        recording = ServedRecording(pcap=args.pcap, linktype=args.linktype, pcapng=args.pcapng or None, zep=args.zep,
                                    warn=warn)
    except RecordingError as exc:
        return _error(str(exc))

    async def body(han: HardwareHan) -> int:
        recording.attach_hardware(han)
        status = None
        if args.status_json:  # the emulator's own accounting of the traffic the stick serves
            status = StatusFile(args.status_json, han, period=2.0, accounting=han.accounting,
                                warn=lambda line: han.report(line))  # a notice while the dashboard runs
            status.start()
        try:
            if interactive:
                return await _dashboard(han, config, duration=args.duration)
            print(han.status_line(), flush=True)
            await show_live(han, terminal=False, duration=args.duration, interval=args.interval, speed=1.0)
            return 0
        finally:
            if status is not None:
                await status.stop()
            recording.close()

    try:
        return on_stick(spec, network, config, body, state=args.state, keylog=args.keylog,
                        accept_unencrypted=args.lab_accept_unencrypted, start=not interactive,
                        backfill=args.backfill)
    finally:
        recording.close()  # also when the stick never came up


async def _dashboard(han: HardwareHan, config: Config, *, duration: float | None) -> int:
    """The dashboard over the stick: the meter as the ESI serves it, joins, frames, link and NCP duty cycle.

    While it owns the terminal, the HAN's messages and warnings become notices on it."""
    from han_emu import tui
    from han_emu.tui.hardware_source import HardwareControls, HardwareSource, NoticeHandler

    source = HardwareSource(han, endpoints=config.endpoints).attach()
    controls = HardwareControls(han, Path.cwd())
    report, han.report = han.report, source.report
    root = logging.getLogger()
    handlers, root.handlers = root.handlers[:], [NoticeHandler(source)]
    try:
        await tui.run_dashboard(source, controls=controls, thresholds=config.ihd, duration=duration,
                                starting=han.start())  # opens at once: its status line names each step
    finally:
        root.handlers = handlers
        han.report = report
        controls.close()
        source.close()
    return 0


# -- han-emu permit ------------------------------------------------------------------------------


def add_permit_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``permit --radio znp:PORT|ezsp:PORT (--install-code EUI64:CODE | --install-codes FILE |
    --link-key EUI64:KEY)``."""
    permit = subparsers.add_parser(
        "permit", help="let devices join a coordinator stick (install codes or lab link key)",
        epilog="exit status: 0 the device(s) joined, 1 one did not join while joining was open, "
               "2 bad arguments, 3 the stick failed")
    add_input(permit, "--config", "-c", help="configuration file (TOML)")
    permit.add_argument("--state", help="state database (as for run)")
    add_radio_options(permit)
    who = permit.add_mutually_exclusive_group(required=True)
    who.add_argument("--install-code", type=install_code, metavar="EUI64:CODE",
                     help="the device's EUI-64 and install code (hex, with its CRC)")
    who.add_argument("--install-codes", metavar="FILE",
                     help="every device in FILE, one EUI64:INSTALLCODE line each ('#' starts a comment), as "
                     "`han-emu fake-ncp --codes-file` writes it; returns once all have joined (and done CBKE)")
    who.add_argument("--link-key", type=eui64_key, metavar="EUI64:KEY",
                     help="LAB ONLY: the device's EUI-64 and a pre-configured 16-byte link key (hex)")
    permit.add_argument("--duration", type=permit_seconds, default=180, metavar="S",
                        help="seconds the network stays open (1-254, default 180)")
    permit.set_defaults(handler=cmd_permit)
    return permit


def cmd_permit(args: argparse.Namespace) -> int:
    """Open the stick's network to one device for ``--duration`` seconds, with
    the ESIs up so the device can find the meter as soon as it has joined."""
    import zigpy.types as zt

    from han_emu.radio.backend import NetworkSettings

    spec = radio_spec(args)
    if not spec.hardware:
        raise OptionError("permit needs a stick: --radio znp:PORT or ezsp:PORT")
    codes = _install_codes(args.install_codes) if args.install_codes else None
    config = load(args.config)

    async def body(han: HardwareHan) -> int:
        if codes is not None:
            return await _admit_all(han, codes, args.duration, args.install_codes)
        ieee, secret = args.install_code or args.link_key
        if args.install_code:
            key = await han.permit_install_code(zt.EUI64.convert(ieee), secret, args.duration)
            print(f"joining open for {ieee} for {args.duration} s (install-code link key {bytes(key).hex()})",
                  flush=True)
        else:
            await han.permit_link_key(zt.EUI64.convert(ieee), secret, args.duration)
            print(f"joining open for {ieee} for {args.duration} s (pre-configured link key)", flush=True)
        await asyncio.sleep(args.duration)
        joined = [j[1] for j in han.joined]
        if joined:
            print(f"joined: {', '.join(map(str, joined))}", flush=True)
        if zt.EUI64.convert(ieee) in joined:
            return 0
        print(f"{ieee} did not join", flush=True)
        return 1  # scripts can tell: see the exit status in --help

    # A new meter gets its configured history here too, or a later run would find it without any.
    return on_stick(spec, NetworkSettings(), config, body, state=args.state, keylog=args.keylog,
                    backfill=config.backfill)


def _install_codes(path: str) -> list[Any]:
    """The devices of an install-code file; OptionError names the file and the bad line."""
    from han_emu.cli.args import check_input
    from han_emu.crypto.installcodes import InstallCodeError, parse_install_codes

    check_input(path, "--install-codes")
    try:
        with open(path, encoding="utf-8") as src:
            codes = parse_install_codes(src.read())
    except UnicodeDecodeError:
        raise OptionError(f"--install-codes {path}: not a text file") from None
    except OSError as exc:
        raise OptionError(f"--install-codes {path}: cannot be read ({exc.strerror or exc})") from None
    except InstallCodeError as exc:
        raise OptionError(f"--install-codes {path}: {exc}") from None
    if not codes:
        raise OptionError(f"--install-codes {path}: no EUI64:INSTALLCODE line in it")
    return codes


async def _admit_all(han: HardwareHan, codes: list[Any], seconds: int, path: str) -> int:
    """Open the network to every device of an install-code file; done when each
    has joined and, where the host runs CBKE, completed it (or when joining closes)."""
    import zigpy.types as zt

    wanted = {zt.EUI64.convert(code.eui64): code for code in codes}
    for ieee, code in wanted.items():
        await han.permit_install_code(ieee, code.code, seconds)
    print(f"joining open for {len(wanted)} device(s) of {path} for {seconds} s", flush=True)

    def missing() -> list[zt.EUI64]:
        if han.cbke_mode is not None:  # done once its CBKE is
            return [i for i in wanted if bytes(i) not in han.authorised]
        joined = {j[1] for j in han.joined}
        return [i for i in wanted if i not in joined]

    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while missing() and loop.time() < until:
        await asyncio.sleep(0.2)
    for ieee in wanted:
        if ieee not in missing():
            print(f"joined: {ieee}" + (", CBKE done" if bytes(ieee) in han.authorised else ""), flush=True)
    left = missing()
    for ieee in left:
        print(f"{ieee} did not {'join' if ieee not in {j[1] for j in han.joined} else 'complete CBKE'}", flush=True)
    return 1 if left else 0
