"""Fixtures and reporting for the hardening tests."""

from __future__ import annotations

from typing import Any

from .fuzzing import EXAMPLES, INPUTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if INPUTS:
        total = sum(INPUTS.values())
        terminalreporter.write_line(
            f"fuzz inputs executed: {total} ({EXAMPLES} examples per test; "
            + ", ".join(f"{k} {v}" for k, v in sorted(INPUTS.items())) + ")"
        )
