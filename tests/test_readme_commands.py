"""The README opens with two commands a new user copies; CI must run exactly the
second one.  Read both files as text: the README's second ``sh`` block is the
last line of ``.ci/run``, and the README's first block runs the emulator."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_blocks() -> list[str]:
    text = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    return [b.strip() for b in re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = [line for line in ROOT.joinpath(".ci", "run").read_text().splitlines() if line.strip()]
    test_command = readme_blocks()[1]
    assert "\n" not in test_command and "pytest" in test_command
    assert ci[-1] == test_command


def test_the_readme_says_which_command_ci_runs_and_the_ci_script_names_that_line() -> None:
    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    intro = readme.split("```sh", 2)[1].split("```", 1)[1].strip().splitlines()[0]
    assert "exactly as CI runs it" in intro
    assert intro in ROOT.joinpath(".ci", "run").read_text()


def test_the_first_readme_command_installs_and_runs_the_emulator() -> None:
    first = readme_blocks()[0]
    assert first.startswith("python3 -m venv .venv") and first.endswith(".venv/bin/han-emu run")
