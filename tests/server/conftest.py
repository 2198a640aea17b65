"""Fixtures for the ZCL server tests (helpers live in server_helpers)."""

from __future__ import annotations

import pytest
from .server_helpers import ESI, START, Model, build_endpoint

from han_emu.meter.clock import VirtualClock
from han_emu.server.engine import ZclServer


@pytest.fixture
def model() -> Model:
    return Model()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def server(model: Model, clock: VirtualClock) -> ZclServer:
    return ZclServer([build_endpoint(model)], clock, address=ESI)
