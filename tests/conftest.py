"""Shared test fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

#: Hypothesis's per-example deadline and its too-slow health check time the machine, not the
#: code: on a loaded machine, or with the suite's workers sharing the cores, a 0.1 ms example
#: is sometimes descheduled past the 200 ms deadline.  What the examples check is unchanged.
settings.register_profile("han-emu", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("han-emu")

#: Workers per core for ``-n logical`` / ``-n auto``.  Much of the suite waits on the wall clock
#: (emulated sticks and the displays on their air run in real time), so two workers per core
#: keep the cores busy: on two cores the suite took 4 min 10 s instead of 5 min 55 s.
#: ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still sets the number outright.
WORKERS_PER_CORE = 2


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores) * WORKERS_PER_CORE


REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
#: Other projects' public Zigbee captures ship with the tests (licences in its README).
PUBLIC_CAPTURES = FIXTURES


@pytest.fixture(scope="session")
def tshark() -> str:
    """Path to tshark, the independent decoder oracle.

    Missing tshark skips the test on a developer machine but fails in CI,
    where ``.ci/run`` installs it.
    """
    path = shutil.which("tshark")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("tshark is required in CI (.ci/run installs it)")
        pytest.skip("tshark is not installed")
    return path


@pytest.fixture(autouse=True)
def _logger_levels():
    """Commands run in-process set library loggers' levels (a stick run quiets
    zigpy's); put every level back so no test depends on the order tests ran in."""
    import logging

    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger)]
    levels = {lg: lg.level for lg in loggers}
    yield
    for lg in [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                      if isinstance(lg, logging.Logger)]:
        lg.setLevel(levels.get(lg, logging.NOTSET))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """A parallel worker (pytest-xdist) finished: add the fuzz inputs its tests executed."""
    from tests.hardening.fuzzing import INPUTS

    INPUTS.update(getattr(node, "workeroutput", {}).get("fuzz_inputs", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fuzz inputs executed, counted, not estimated (docs/reliability.md)."""
    from tests.hardening.fuzzing import EXAMPLES, INPUTS

    if INPUTS:
        total = sum(INPUTS.values())
        terminalreporter.write_line(
            f"fuzz inputs executed: {total} ({EXAMPLES} examples per test; "
            + ", ".join(f"{k} {v}" for k, v in sorted(INPUTS.items())) + ")"
        )
