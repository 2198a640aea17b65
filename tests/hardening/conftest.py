"""Fixtures and reporting for the hardening tests (the count of fuzz inputs is
printed by the top conftest, which also gathers it from parallel workers)."""

from __future__ import annotations

from typing import Any

from .fuzzing import INPUTS


def pytest_sessionfinish(session: Any) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a parallel worker: its counts go back to the controller
        workeroutput["fuzz_inputs"] = dict(INPUTS)
