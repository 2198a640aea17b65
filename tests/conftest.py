"""Shared test fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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
