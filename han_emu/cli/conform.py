"""``han-emu conform``: a plan of meter events run against a display, its checks judged, reports written.

``--virtual-dut KIND[:FAULT,...]`` (the default, an IHD) runs a simulated
display in virtual time as fast as it goes; ``--radio znp:PORT|ezsp:PORT``
serves a real display on a stick, admitted by ``--install-code``, on the wall
clock.  Exit status: 0 every check passed, 1 a check failed or is pending,
2 a usage or plan error, 3 the stick failed.  On a terminal the run shows its
step and the checks passed, failed and pending as it goes; it ends with a
table of the verdicts.

``--tui`` (on a terminal) shows the run in the dashboard, on its Conformance
screen (key 4): the checks with their verdicts so far, then the final ones
with their evidence; the other screens show the display under test (a
virtual DUT) or the meter as the stick serves it (``--radio``: the stick is
started first, so one that cannot be opened ends in one line and status 3
before the dashboard opens).  Quitting before the plan's end stops the run:
the reports are written with the verdicts so far (what may still come
pending) and the exit status is 130.  After the end the dashboard stays open
until quit; the exit status is then as without it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import textwrap
from contextlib import ExitStack
from typing import Any

from han_emu.cli.args import EXIT_INTERRUPTED, KEEP, OptionError, add_input, add_output, install_code, speed
from han_emu.cli.progress import status_bar
from han_emu.conform.model import RunLog, Verdict
from han_emu.conform.plan import Plan, PlanError, builtin_plans, load_plan
from han_emu.conform.run import RadioRun, RunError, RunStatus, VirtualDut, VirtualRun
from han_emu.han.config import load

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_RADIO = 0, 1, 2, 3


def add_conform_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``conform`` on the ``han-emu`` subcommand parsers."""
    conform = subparsers.add_parser(
        "conform", help="run a conformance plan against a display (simulated, or real on a stick)",
        epilog="exit status: 0 every check passed, 1 a check failed or is pending, 2 a usage or plan error, "
               "3 the stick failed")
    conform.add_argument("--plan", metavar="NAME|FILE", help="a built-in plan (see --list-plans) or a plan file")
    conform.add_argument("--list-plans", action="store_true", help="list the built-in plans and exit")
    dut = conform.add_mutually_exclusive_group()
    dut.add_argument("--virtual-dut", metavar="KIND[:FAULT,...]",
                     help="a simulated display as the device under test: ihd, ppmid or cad, with faults "
                          "(ignore-secondary, slow-poll, no-cbke, ignore-price-push, no-confirm, no-recovery); "
                          "the default is the plan's first kind")
    dut.add_argument("--radio", metavar="znp:PORT|ezsp:PORT", help="a real display, on a coordinator stick")
    conform.add_argument("--install-code", type=install_code, metavar="EUI64:CODE",
                         help="with --radio: the display's EUI-64 and install code (it is admitted as permit does)")
    conform.add_argument("--join-timeout", type=float, default=254.0, metavar="S",
                         help="with --radio: seconds to wait for the display to join (default 254)")
    add_input(conform, "--config", "-c", help="configuration file (TOML): the meter, its tariffs and endpoints")
    conform.add_argument("--seed", type=int, default=1, metavar="N",
                         help="virtual DUT: seed of the network's keys and addresses (default 1: repeatable)")
    conform.add_argument("--tui", action="store_true",
                         help="watch the run in the dashboard, on its Conformance screen (on a terminal; text "
                              "progress otherwise)")
    conform.add_argument("--speed", type=speed, default=None, metavar="N",
                         help="virtual DUT: virtual seconds per wall second, 1..3600 (default: as fast as it goes)")
    add_output(conform, "--junit", metavar="FILE", help="write the verdicts as JUnit XML (one testcase per check)")
    add_output(conform, "--report", metavar="FILE.md", help="write the verdicts and their evidence as Markdown")
    add_output(conform, "--pcap", metavar="FILE", use=KEEP,
               help="record the run's frames to FILE (frame numbers in the evidence then point into it)")
    add_output(conform, "--keylog", metavar="FILE", use=KEEP,
               help="write the run's keys in Wireshark's zigbee_pc_keys format (secret!)")
    conform.set_defaults(handler=cmd_conform)
    return conform


def cmd_conform(args: argparse.Namespace) -> int:
    if args.list_plans:
        if args.plan or args.virtual_dut or args.radio:
            raise OptionError("--list-plans lists the plans: give it alone")
        print(list_plans())
        return EXIT_PASSED
    if not args.plan:
        raise OptionError("give --plan NAME|FILE (or --list-plans)")
    try:
        plan = load_plan(args.plan)
    except PlanError as exc:
        print(f"han-emu conform: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.radio is None and (args.install_code is not None):
        raise OptionError("--install-code admits a real display: give --radio znp:PORT|ezsp:PORT too")
    if args.radio is not None and args.speed is not None:
        raise OptionError("--speed is for a virtual DUT (a display on a stick runs on the wall clock)")
    config = load(args.config)
    _quiet_logs()
    if args.radio is not None:
        return _radio(args, plan, config)
    try:
        dut = VirtualDut.parse(args.virtual_dut) if args.virtual_dut else VirtualDut(plan.dut[0])
    except ValueError as exc:
        raise OptionError(f"--virtual-dut {exc}") from None
    if dut.kind not in plan.dut:
        raise OptionError(f"plan {plan.name} is written for {', '.join(plan.dut)}, not a {dut.kind}")
    if args.tui:
        if sys.stdout.isatty():
            return _dashboard(args, plan, dut, config)
        print("han-emu conform: --tui needs a terminal; showing progress as text", file=sys.stderr)
    with status_bar(f"{plan.name}: starting") as show:
        run = VirtualRun(plan, dut, config=config, pcap=args.pcap, keylog=args.keylog, seed=args.seed,
                         speed=args.speed, listener=_progress(show))
        try:
            log = run.run()
        except RunError as exc:
            print(f"han-emu conform: {exc}", file=sys.stderr)
            return EXIT_USAGE
    return _finish(args, plan, log, run.status)


def _dashboard(args: argparse.Namespace, plan: Plan, dut: VirtualDut, config: Any) -> int:
    """The run in the dashboard until the user quits; the reports as without it, or
    (quit before the plan's end) with the verdicts so far and exit status 130."""
    from han_emu.tui import launch

    run = VirtualRun(plan, dut, config=config, pcap=args.pcap, keylog=args.keylog, seed=args.seed,
                     speed=args.speed)
    runner = launch.run_conform_dashboard(run, thresholds=config.ihd)
    if isinstance(runner.error, RunError):
        print(f"han-emu conform: {runner.error}", file=sys.stderr)
        return EXIT_USAGE
    if runner.error is not None:
        raise runner.error
    if runner.log is None:  # the run's thread did not end in time: nothing is known to report
        print("han-emu conform: the run did not stop in time; no report written", file=sys.stderr)
        return EXIT_INTERRUPTED
    return _after_dashboard(args, plan, runner.log, run.status)


def _after_dashboard(args: argparse.Namespace, plan: Plan, log: RunLog, status: RunStatus) -> int:
    """The reports and exit status of a run the dashboard showed: 130 when it was quit before the plan's end."""
    code = _finish(args, plan, log, status)
    if status.interrupted:
        print(f"han-emu conform: stopped at {status.done_s:.0f} s of {plan.duration:.0f} s: the verdicts are "
              "those so far (what may still come is pending)", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


def _radio(args: argparse.Namespace, plan: Plan, config: Any) -> int:
    from han_emu.radio.backend import RadioError, parse_radio

    try:
        spec = parse_radio(args.radio)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    if not spec.hardware:
        raise OptionError("--radio names a stick (znp:PORT or ezsp:PORT); for a simulated display use --virtual-dut")
    if args.install_code is None:
        raise OptionError("--radio needs --install-code EUI64:CODE: the display is admitted by its install code")
    ieee, code = args.install_code
    try:
        run = RadioRun(plan, spec, ieee, code, config=config, pcap=args.pcap, keylog=args.keylog,
                       join_timeout=args.join_timeout, report=_say)
    except RunError as exc:
        print(f"han-emu conform: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.tui:
        if sys.stdout.isatty():
            return _radio_dashboard(args, plan, run, config)
        print("han-emu conform: --tui needs a terminal; showing progress as text", file=sys.stderr)
    with status_bar(f"{plan.name}: starting") as show:
        run.listener = _progress(show)
        try:
            log = asyncio.run(run.run())
        except RadioError as exc:
            print(f"han-emu conform: {exc}", file=sys.stderr)
            return EXIT_RADIO
        except RunError as exc:
            print(f"han-emu conform: {exc}", file=sys.stderr)
            return EXIT_FAILED
    return _finish(args, plan, log, run.status)


def _radio_dashboard(args: argparse.Namespace, plan: Plan, run: RadioRun, config: Any) -> int:
    """The stick started (one line and exit status 3 if it cannot be), then the run in the
    dashboard on the same loop until the user quits; the reports as for ``_dashboard``."""
    from han_emu.radio.backend import RadioError
    from han_emu.tui import launch

    with ExitStack() as starting:  # a status line on the terminal until the stick is up
        starting.enter_context(status_bar(f"{plan.name}: starting {run.spec.describe()}"))
        try:
            source = launch.run_stick_conform_dashboard(run, thresholds=config.ihd, endpoints=config.endpoints,
                                                        on_up=starting.close)
        except RadioError as exc:
            starting.close()
            print(f"han-emu conform: {exc}", file=sys.stderr)
            return EXIT_RADIO
    error = source.error
    if isinstance(error, (RadioError, RunError)):  # as without the dashboard: the stick, or no display joined
        print(f"han-emu conform: {error}", file=sys.stderr)
        return EXIT_RADIO if isinstance(error, RadioError) else EXIT_FAILED
    if error is not None:
        raise error
    if source.log is None:  # the run did not stop in time: nothing is known to report
        print("han-emu conform: the run did not stop in time; no report written", file=sys.stderr)
        return EXIT_INTERRUPTED
    return _after_dashboard(args, plan, source.log, run.status)


def _say(line: str) -> None:
    print(f"han-emu: {line}", file=sys.stderr, flush=True)


def _quiet_logs() -> None:
    """The run's HAN says a lot while the meter is made silent on purpose: only errors are worth a line."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    for name in ("zigpy", "zigpy_znp", "bellows", "serialx", "han_emu"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _progress(show: Any) -> Any:
    if show is None:
        return None

    def listener(status: RunStatus) -> None:
        passed, failed, pending = status.counts()
        show(status.done_s, status.plan.duration,
             f"{status.plan.name}: {status.step}: {passed} passed, {failed} failed, {pending} pending")
    return listener


def _finish(args: argparse.Namespace, plan: Plan, log: RunLog, status: RunStatus) -> int:
    from han_emu.conform.report import write_junit, write_markdown

    verdicts = status.verdicts
    if args.junit:
        write_junit(args.junit, log, verdicts)
    if args.report:
        write_markdown(args.report, log, verdicts)
    sys.stdout.write(summary_table(plan, log, verdicts))
    for event in log.events:
        if "error" in event.outcome:
            print(f"han-emu: warning: {event.kind} at {event.time:g} s: {event.outcome['error']}", file=sys.stderr)
    passed, failed, pending = status.counts()
    return EXIT_PASSED if passed == len(plan.checks) else EXIT_FAILED


_MARK = {True: "PASS", False: "FAIL", None: "PENDING"}


def summary_table(plan: Plan, log: RunLog, verdicts: list[Verdict]) -> str:
    """The verdicts as a text table, with a line of totals."""
    lines = [f"plan {plan.name} on {log.dut}: {len(log.observations)} packets observed, "
             f"{len(log.events)} events in {log.duration / 60:.4g} min"]
    width = max([len(v.spec.name) for v in verdicts] + [5])
    lines.append(f"{'':8}{'check':{width}}  seen")
    for v in verdicts:
        seen = textwrap.shorten(v.seen, 100, placeholder=" ...")
        frames = f" [frames {', '.join(map(str, v.frames))}]" if v.frames and v.passed is not True else ""
        lines.append(f"{_MARK[v.passed]:8}{v.spec.name:{width}}  {seen}{frames}")
    passed = sum(v.passed is True for v in verdicts)
    failed = sum(v.passed is False for v in verdicts)
    lines.append(f"{passed} passed, {failed} failed, {len(verdicts) - passed - failed} pending")
    return "\n".join(lines) + "\n"


def list_plans() -> str:
    """Every built-in plan: name, duration, displays, first sentence of its description."""
    rows = []
    for name in builtin_plans():
        plan = load_plan(name)
        first = plan.description.split(": ")[0].split(". ")[0].strip()
        rows.append(f"{name:18} {plan.duration / 60:5g} min  {','.join(plan.dut):14} {textwrap.shorten(first, 90)}")
    return "\n".join(rows)
