"""docs/conformance.md documents every check type with its parameters and
defaults, and every display fault, as the code has them."""

from __future__ import annotations

import re
from pathlib import Path

from han_emu.conform.checks import CHECKS
from han_emu.conform.params import describe_default
from han_emu.sim.faults import FAULTS

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"


def checks_section() -> str:
    text = DOC.read_text()
    start = text.index("\n## Checks\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_every_check_type_has_its_heading_doc_and_parameters() -> None:
    section = checks_section()
    headings = re.findall(r"^### (\S+)$", section, re.M)
    assert headings[:len(CHECKS)] == list(CHECKS)
    for kind in CHECKS.values():
        part = section.split(f"\n### {kind.name}\n", 1)[1].split("\n### ", 1)[0]
        assert kind.doc in part
        rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|$", part, re.M)
        assert [(name, default.strip(), meaning.strip()) for name, default, meaning in rows] == [
            (p.name, describe_default(p), p.doc) for p in kind.params]
        if not kind.params:
            assert "No parameters." in part


def test_every_fault_is_documented() -> None:
    section = checks_section().split("\n### Display faults\n", 1)[1]
    rows = dict(re.findall(r"^\| `([\w-]+)` \| ([^|]+) \|", section, re.M))
    assert {name: text.strip() for name, text in rows.items()} == FAULTS
