"""A conformance run's verdicts as JUnit XML (for CI) and as Markdown (for people).

JUnit: one ``<testsuite>`` for the plan inside ``<testsuites>``, one
``<testcase>`` per check, named by the check's name with the check type as its
``classname``.  A failing check carries ``<failure>`` whose message names the
check and gives the evidence (what was expected, what was seen, the frame
numbers in the run's capture); a pending check (the run ended before it could
be decided) fails too, as "pending".  The suite's properties say which display
was tested, by which plan, and where the capture and key log are; its
``<system-out>`` lists the events the run applied, one line each, with their
outcomes (errors included).  The Markdown report has them in a table after the summary.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from han_emu import __version__
from han_emu.conform.evidence import seconds
from han_emu.conform.model import EventRecord, RunLog, Verdict

PASSED = "passed"
FAILED = "failed"
PENDING = "pending"


def outcome(verdict: Verdict) -> str:
    """``passed``, ``failed`` or ``pending``."""
    return PENDING if verdict.passed is None else PASSED if verdict.passed else FAILED


def frames_text(log: RunLog, verdict: Verdict) -> str:
    """``frames 12, 15 in run.pcap``, or ``no frames`` (``in the capture`` when unnamed)."""
    if not verdict.frames:
        return "no frames"
    where = f"in {Path(log.capture).name}" if log.capture else "in the run's capture"
    label = "frame" if len(verdict.frames) == 1 else "frames"
    return f"{label} {', '.join(str(f) for f in verdict.frames)} {where}"


def failure_message(log: RunLog, verdict: Verdict) -> str:
    """One line naming the check, with its evidence."""
    spec = verdict.spec
    return (f"check {spec.name!r} ({spec.type}) {outcome(verdict)}: expected {verdict.expected}; "
            f"seen {verdict.seen}; {frames_text(log, verdict)}")


def evidence_text(log: RunLog, verdict: Verdict) -> str:
    """The evidence, a line each: expected, seen, frames."""
    return f"expected: {verdict.expected}\nseen: {verdict.seen}\n{frames_text(log, verdict)}\n"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {_value(v)}" for k, v in values.items())


def event_params(event: EventRecord) -> str:
    """The event's parameters, ``key = value, ...`` (``-`` for none)."""
    return _pairs(event.params) or "-"


def event_outcome(event: EventRecord) -> str:
    """What the event did, ``key = value, ...``, or ``error: why`` when it could not be applied."""
    if "error" in event.outcome:
        return f"error: {event.outcome['error']}"
    return _pairs(event.outcome) or "done"


def event_line(event: EventRecord) -> str:
    """One line: ``t=2 s tier-switch (element = primary): published_to = 1``."""
    params = f" ({_pairs(event.params)})" if event.params else ""
    return f"t={seconds(event.time)} {event.kind}{params}: {event_outcome(event)}"


def counts(verdicts: Sequence[Verdict]) -> dict[str, int]:
    out = {PASSED: 0, FAILED: 0, PENDING: 0}
    for v in verdicts:
        out[outcome(v)] += 1
    return out


def junit_tree(log: RunLog, verdicts: Sequence[Verdict]) -> ET.ElementTree:
    """The JUnit XML document of a run."""
    n = counts(verdicts)
    failures = str(n[FAILED] + n[PENDING])
    time = f"{log.duration:.3f}"
    root = ET.Element("testsuites", name=f"han-emu {__version__} conform", tests=str(len(verdicts)),
                      failures=failures, errors="0", time=time)
    suite = ET.SubElement(root, "testsuite", name=log.plan, tests=str(len(verdicts)), failures=failures,
                          errors="0", skipped="0", time=time)
    props = ET.SubElement(suite, "properties")
    for name, value in (("dut", log.dut), ("plan", log.plan), ("capture", log.capture), ("keylog", log.keylog)):
        ET.SubElement(props, "property", name=name, value=value or "")
    for v in verdicts:
        case = ET.SubElement(suite, "testcase", name=v.spec.name, classname=v.spec.type, time="0")
        if v.passed:
            ET.SubElement(case, "system-out").text = evidence_text(log, v)
        else:
            failure = ET.SubElement(case, "failure", message=failure_message(log, v), type=outcome(v))
            failure.text = evidence_text(log, v)
    if log.events:
        ET.SubElement(suite, "system-out").text = "".join(f"{event_line(e)}\n" for e in log.events)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(path: str | Path, log: RunLog, verdicts: Sequence[Verdict]) -> None:
    """Write the run's verdicts as JUnit XML to ``path``."""
    junit_tree(log, verdicts).write(path, encoding="utf-8", xml_declaration=True)


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(log: RunLog, verdicts: Sequence[Verdict]) -> str:
    """The run as Markdown: what was tested, a summary table, the events applied, every check with its evidence."""
    n = counts(verdicts)
    lines = [
        f"# Conformance: {log.plan}",
        "",
        f"- **Display under test:** {log.dut}",
        f"- **Plan:** {log.plan}",
        f"- **Run:** {log.duration:.0f} s",
        f"- **Capture:** {log.capture or 'none'}",
        f"- **Key log:** {log.keylog or 'none'}",
        f"- **Result:** {n[PASSED]} passed, {n[FAILED]} failed, {n[PENDING]} pending",
        "",
        "| Check | Type | Result | Frames |",
        "|---|---|---|---|",
    ]
    for v in verdicts:
        frames = ", ".join(str(f) for f in v.frames) or "-"
        lines.append(f"| {_cell(v.spec.name)} | {v.spec.type} | {outcome(v)} | {frames} |")
    lines += ["", "## Events", ""]
    if log.events:
        lines += ["| Time | Event | Parameters | Outcome |", "|---|---|---|---|"]
        lines += [f"| {seconds(e.time)} | {e.kind} | {_cell(event_params(e))} | {_cell(event_outcome(e))} |"
                  for e in log.events]
    else:
        lines.append("None applied.")
    for v in verdicts:
        lines += [
            "",
            f"## {v.spec.name}: {outcome(v)}",
            "",
            f"Type `{v.spec.type}`" + (f", parameters: {_params(v)}" if v.spec.params else "") + ".",
            "",
            f"- **Expected:** {v.expected}",
            f"- **Seen:** {v.seen}",
            f"- **Evidence:** {frames_text(log, v)}",
        ]
    return "\n".join(lines) + "\n"


def _params(v: Verdict) -> str:
    return ", ".join(f"`{k} = {value!r}`" for k, value in v.spec.params.items())


def write_markdown(path: str | Path, log: RunLog, verdicts: Sequence[Verdict]) -> None:
    """Write the run's verdicts as a Markdown report to ``path``."""
    Path(path).write_text(markdown(log, verdicts), encoding="utf-8")
