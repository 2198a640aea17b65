"""Verdicts on a run not over yet: what later frames may still bring is pending, what they cannot undo fails."""

from __future__ import annotations


from clusters.ids import METERING
from han_emu.conform.checks import evaluate
from han_emu.conform.model import CheckSpec, EventRecord, RunLog
from han_emu.conform.partial import verdicts_so_far
from han_emu.conform.plan import load_plan
from han_emu.conform.run import VirtualDut, VirtualRun

from .builders import Frames

DEMAND = 0x0400
READS = CheckSpec("reads-attribute", "reads demand", {"endpoint": "primary", "cluster": METERING,
                                                      "attribute": DEMAND, "every_s": 10})
DISCOVERS = CheckSpec("discovers-endpoint", "discovers the secondary ESI", {})
CONFIRMS = CheckSpec("confirms-message", "confirms the message", {"within_s": 60})


def verdict(spec: CheckSpec, log: RunLog, now: float) -> bool | None:
    [v] = verdicts_so_far([spec], log, now)
    return v.passed


def test_what_has_not_come_yet_is_pending_not_failed() -> None:
    log = RunLog("t", "virtual ihd", 3600.0)
    assert verdict(DISCOVERS, log, 30.0) is None
    assert verdict(READS, log, 30.0) is None  # never read so far: the first read may still come
    [v] = verdicts_so_far([DISCOVERS], log, 30.0)
    assert v.seen.startswith("not yet, after 30 s: ")
    # The same log judged as a whole run fails both.
    assert [v.passed for v in evaluate([DISCOVERS, READS], log)] == [False, False]


def test_a_gap_in_the_reads_fails_at_once() -> None:
    f = Frames()
    log = RunLog("t", "virtual ihd", 3600.0, observations=[f.read(1.0, METERING, (DEMAND,)),
                                                          f.read(9.0, METERING, (DEMAND,))])
    assert verdict(READS, log, 15.0) is True  # passing so far
    assert verdict(READS, log, 40.0) is False  # 31 s since the last read: no later frame undoes that


def test_a_message_not_confirmed_in_time_fails_before_the_run_ends() -> None:
    f = Frames()
    message = EventRecord("message", 100.0, {"confirm": True}, {"message_id": 7})
    log = RunLog("t", "virtual ihd", 3600.0, observations=[f.read(1.0, METERING, (DEMAND,))], events=[message])
    assert verdict(CONFIRMS, log, 130.0) is None  # still within its 60 s
    assert verdict(CONFIRMS, log, 200.0) is False


def test_a_good_display_never_shows_a_failure_while_the_run_goes() -> None:
    """The progress a run reports (terminal line, dashboard) judges what has been seen so far."""
    plan = load_plan("mp184-ihd")
    seen: list[tuple[float, tuple[int, int, int]]] = []
    run = VirtualRun(plan, VirtualDut("ihd"), listener=lambda s: seen.append((s.done_s, s.counts())))
    run.run()
    during = [counts for done, counts in seen[:-1]]
    assert during and all(failed == 0 for _, failed, _ in during)
    assert any(passed >= 4 for passed, _, _ in during[:5])  # decided early: discovery, the export reads
    assert seen[-1][1] == (len(plan.checks), 0, 0)
