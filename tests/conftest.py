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
