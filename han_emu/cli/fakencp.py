"""``han-emu fake-ncp``: an emulated coordinator stick on a TCP port.

Anyone can try the hardware path without a stick: start
``han-emu fake-ncp --protocol znp --listen 127.0.0.1:8765`` in one terminal and
``han-emu run --radio znp:socket://127.0.0.1:8765`` in another.  The first
line printed on stdout names the serial URL to use (with the port the system
picked when the given port is 0).  It serves until ``--duration`` passes or
it is stopped: SIGTERM ends it with exit status 0, Ctrl-C with 130.

With ``--displays ihd,ppmid --codes-file FILE`` simulated displays live on the
emulated stick's air: they join when ``han-emu permit --install-codes FILE``
opens the network, run CBKE and poll the meter (:mod:`han_emu.han.fakestick`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from typing import Any

from han_emu.cli.args import EXIT_INTERRUPTED, UPDATE, OptionError, add_output, duration, endpoint, inform

#: Protocol -> (module, serve function, what it is called).
PROTOCOLS = {
    "znp": ("han_emu.radio.fakencp.znp.server", "serve_znp", "Z-Stack (ZNP) NCP"),
    "ezsp": ("han_emu.radio.fakencp.ezsp.server", "serve_ezsp", "EmberZNet (EZSP) NCP"),
}


def add_fake_ncp_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``fake-ncp`` on the ``han-emu`` subcommand parsers."""
    parser = subparsers.add_parser(
        "fake-ncp",
        help="serve an emulated coordinator stick (Z-Stack or EZSP) on a TCP port",
        description="Serve an emulated Zigbee coordinator NCP speaking the real serial protocol "
        "over TCP, so `han-emu run --radio PROTOCOL:socket://HOST:PORT` works without hardware.",
    )
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), required=True,
                        help="the wire protocol: znp (zigpy-znp, MT) or ezsp (bellows, ASH + EZSP)")
    parser.add_argument("--listen", type=endpoint, default=("127.0.0.1", 0), metavar="HOST:PORT",
                        help="address to listen on (port 0 picks a free one; default 127.0.0.1:0)")
    add_output(parser, "--state", metavar="FILE", use=UPDATE,
               help="keep the NCP's non-volatile memory (network, keys) in this JSON file")
    parser.add_argument("--duration", type=duration, help="stop after this many seconds (or 15m, 2h ...)")
    parser.add_argument("--firmware", metavar="NAME",
                        help="the firmware image to emulate (its table sizes and version replies); "
                        "`--firmware list` names each protocol's choices")
    parser.add_argument("--cbke-test-certificates", action="store_true",
                        help="ezsp only: act as a Smart Energy NCP image (CBKE/ECC libraries) holding "
                        "test-CA certificates for its own EUI-64, so CBKE runs on the NCP")
    parser.add_argument("--displays", type=_kinds, metavar="ihd,ppmid[,cad]",
                        help="simulated displays on the stick's air: they join when the network is opened to "
                        "their install codes, run CBKE and poll the meter")
    add_output(parser, "--codes-file", metavar="FILE", use=UPDATE,
               help="with --displays: one EUI64:INSTALLCODE line per display, for `han-emu permit "
               "--install-codes FILE`; an existing file is read (the same displays), never overwritten")
    add_output(parser, "--displays-state", metavar="FILE", use=UPDATE,
               help="with --displays: the displays' own memory (network address, link key), so that after a "
               "restart they carry on without joining again; without it they forget their network at exit")
    add_output(parser, "--host-config", metavar="FILE",
               help="with --displays: write a han-emu configuration whose [cbke] certificates (built-in test CA) "
               "name this stick, for `permit` and `run --config FILE` to run CBKE with the displays")
    parser.set_defaults(handler=cmd_fake_ncp)
    return parser


def firmwares(protocol: str) -> dict[str, str]:
    """The emulator module's ``FIRMWARES`` (name -> description); empty when it has none."""
    try:
        module = importlib.import_module(PROTOCOLS[protocol][0])
    except ImportError:
        return {}
    return dict(getattr(module, "FIRMWARES", {}) or {})


def _kinds(text: str) -> list[str]:
    from han_emu.han.fakestick import parse_kinds

    try:
        return parse_kinds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


async def serve(
    protocol: str, host: str, port: int, state: str | None, *, cbke_test_certificates: bool = False,
    firmware: str | None = None,
) -> Any:
    """Start the emulator for ``protocol``; returns the running server."""
    module_name, function, _ = PROTOCOLS[protocol]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise RuntimeError(f"the {protocol} emulator is not part of this build") from None
    extra: dict[str, Any] = {}
    if firmware is not None:
        extra["firmware"] = firmware
    if protocol == "ezsp":
        # Announce a power-on reset to each new connection, as zigbeed does:
        # bellows then starts at once instead of waiting to reset the NCP.
        extra["rstack_on_connect"] = 0.2
        extra["cbke_test_certificates"] = cbke_test_certificates
    elif cbke_test_certificates:
        raise ValueError("--cbke-test-certificates: only the ezsp emulator has CBKE libraries")
    if firmware is not None:
        extra["firmware"] = firmware
    return await getattr(module, function)(host, port, state_path=state, **extra)


async def _run(args: argparse.Namespace) -> int:
    host, port = args.listen
    name = PROTOCOLS[args.protocol][2]
    codes = None
    if args.displays:  # the codes file first: it exists once the stick says it listens
        from han_emu.han.fakestick import display_codes

        try:
            codes = display_codes(args.displays, args.codes_file)
        except (OSError, ValueError) as exc:
            print(f"han-emu: --codes-file {args.codes_file}: {exc}", file=sys.stderr)
            return 1
    try:
        server = await serve(args.protocol, host, port, args.state,
                             cbke_test_certificates=args.cbke_test_certificates, firmware=args.firmware)
    except OSError as exc:
        print(f"han-emu: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except (ValueError, KeyError, TypeError) as exc:
        if args.state is None:
            raise
        # not JSON, or not text at all, or JSON of something else: the NV memory cannot be read from it
        print(f"han-emu: --state {args.state}: not a state file of the {args.protocol} emulator "
              f"({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"han-emu: {exc}", file=sys.stderr)
        return 1
    print(f"Emulated {name} listening on {server.url}", flush=True)
    print(f"  try: han-emu run --radio {args.protocol}:{server.url}", flush=True)
    displays = None
    if codes is not None:
        try:
            displays = await _start_displays(args, server, codes)
        except (OSError, ValueError) as exc:
            await server.close()
            print(f"han-emu: {exc}", file=sys.stderr)
            return 1
    stop = asyncio.Event()
    stopped_by: list[int] = []
    loop = asyncio.get_running_loop()

    def stop_on(sig: int) -> None:
        stopped_by.append(sig)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop_on, sig)
        except (NotImplementedError, RuntimeError):  # not on this platform / thread
            pass
    try:
        async with asyncio.timeout(args.duration):
            await stop.wait()
    except TimeoutError:
        pass
    finally:
        if displays is not None:
            await displays.stop()
            for line in displays.describe():
                print(f"  {line}", flush=True)
        await server.close()
    print("Emulated NCP stopped", flush=True)
    return EXIT_INTERRUPTED if signal.SIGINT in stopped_by else 0


async def _start_displays(args: argparse.Namespace, server: Any, codes: list[Any]) -> Any:
    """Put the simulated displays on the stick's air; OSError or ValueError say what is wrong."""
    import zigpy.types as zt

    from han_emu.han.fakestick import StickDisplays, host_config_text

    ieee = zt.EUI64(server.device.ieee if args.protocol == "znp" else server.tokens.eui64)
    if args.host_config:
        with open(args.host_config, "w", encoding="utf-8") as out:
            out.write(host_config_text(ieee))
    try:
        displays = StickDisplays(server, args.displays, codes, memory=args.displays_state)
    except ValueError as exc:
        raise ValueError(f"--displays-state {args.displays_state}: not a display memory file ({exc})") from None
    await displays.start()
    names = ", ".join(f"{d.name} {d.ieee}" for d in displays.devices)
    print(f"Simulated displays: {names}", flush=True)
    print(f"  admit them: han-emu permit --radio {args.protocol}:{server.url} --install-codes {args.codes_file}"
          + (f" --config {args.host_config}" if args.host_config else ""), flush=True)
    if args.state and not args.displays_state:
        inform("the displays forget their network at exit (--displays-state FILE keeps it)")
    return displays


def cmd_fake_ncp(args: argparse.Namespace) -> int:
    if args.cbke_test_certificates and args.protocol != "ezsp":
        raise OptionError("--cbke-test-certificates: only the ezsp emulator has CBKE libraries")
    if args.firmware is not None:
        choices = firmwares(args.protocol)
        if args.firmware == "list":
            for name, what in sorted(choices.items()):
                print(f"{name}: {what}")
            return 0
        if args.firmware not in choices:
            names = ", ".join(sorted(choices)) or "none"
            raise OptionError(f"--firmware {args.firmware}: not a {args.protocol} firmware (choose from {names})")
    given = [o for o, v in (("--codes-file", args.codes_file), ("--displays-state", args.displays_state),
                            ("--host-config", args.host_config)) if v]
    if given and not args.displays:
        raise OptionError(f"{given[0]} goes with --displays (the simulated displays it is for)")
    if args.displays and not args.codes_file:
        raise OptionError("--displays needs --codes-file FILE (where their install codes go, for `permit`)")
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
