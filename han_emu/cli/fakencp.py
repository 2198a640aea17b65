"""``han-emu fake-ncp``: an emulated coordinator stick on a TCP port.

Anyone can try the hardware path without a stick: start
``han-emu fake-ncp --protocol znp --listen 127.0.0.1:8765`` in one terminal and
``han-emu run --radio znp:socket://127.0.0.1:8765`` in another.  The first
line printed on stdout names the serial URL to use (with the port the system
picked when the given port is 0).  It serves until ``--duration`` passes or
it is stopped: SIGTERM ends it with exit status 0, Ctrl-C with 130.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from typing import Any

from han_emu.cli.args import EXIT_INTERRUPTED, UPDATE, OptionError, add_output, duration, endpoint

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
    parser.add_argument("--cbke-test-certificates", action="store_true",
                        help="ezsp only: act as a Smart Energy NCP image (CBKE/ECC libraries) holding "
                        "test-CA certificates for its own EUI-64, so CBKE runs on the NCP")
    parser.add_argument("--firmware", metavar="NAME",
                        help="the firmware image to emulate (each protocol's FIRMWARES; ezsp: "
                        "v13 = EmberZNet 7.3, v14 = EmberZNet 7.4; default: the first)")
    parser.set_defaults(handler=cmd_fake_ncp)
    return parser


def firmwares(protocol: str) -> dict[str, str]:
    """The firmware images the ``protocol`` emulator offers (name -> description)."""
    module_name = PROTOCOLS[protocol][0]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return {}
    return dict(getattr(module, "FIRMWARES", {}))


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
        await server.close()
    print("Emulated NCP stopped", flush=True)
    return EXIT_INTERRUPTED if signal.SIGINT in stopped_by else 0


def cmd_fake_ncp(args: argparse.Namespace) -> int:
    if args.cbke_test_certificates and args.protocol != "ezsp":
        raise OptionError("--cbke-test-certificates: only the ezsp emulator has CBKE libraries")
    if args.firmware is not None:
        offered = firmwares(args.protocol)
        if args.firmware.lower() not in offered:
            choices = ", ".join(offered) or "none in this build"
            raise OptionError(f"--firmware {args.firmware}: the {args.protocol} emulator offers {choices}")
        args.firmware = args.firmware.lower()
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
