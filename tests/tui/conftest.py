"""One paused, frozen virtual HAN shared by the dashboard tests that only read it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from han_emu.tui.han_thread import HanRunner

from .helpers import frozen_runner


@pytest.fixture(scope="package")
def still_han() -> Iterator[HanRunner]:
    runner = frozen_runner()
    runner.start()
    yield runner
    runner.stop()
