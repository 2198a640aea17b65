"""The Conformance screen: a conformance run's progress, its checks with their verdicts, and evidence.

Fed like the other screens, from each snapshot's
:class:`~han_emu.tui.conform_source.ConformView`.  During the run a check
shows ``passing`` (a pass so far, which a later frame may still turn),
``FAIL`` (a failure no later frame can undo) or ``pending``; once the run
has reached the plan's end, the final ``PASS``, ``FAIL`` or ``PENDING``.
The evidence of the highlighted check (what was expected, what was seen,
the frames in the run's capture) is shown below the table; when the run
ends the cursor goes to the first check that did not pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable

from han_emu.tui.screens import DashScreen
from han_emu.tui.widgets import Panel

if TYPE_CHECKING:
    from han_emu.conform.model import CheckSpec, Verdict
    from han_emu.tui.conform_source import ConformView
    from han_emu.tui.source import Snapshot

BAR_WIDTH = 20
SEEN_WIDTH = 90
"""Characters of a verdict's evidence shown in the table (all of it is in the evidence panel)."""


def verdict_label(verdict: Verdict | None, finished: bool) -> Text:
    """A check's verdict as a word: final once the run has finished, "so far" before."""
    if verdict is None or verdict.passed is None:
        return Text("PENDING" if finished else "pending", style="yellow" if finished else "dim")
    if verdict.passed:
        return Text("PASS" if finished else "passing", style="bold green" if finished else "green")
    return Text("FAIL", style="bold red")


def first_sentence(text: str) -> str:
    """A plan's description up to its first colon or full stop (as ``conform --list-plans`` shows it)."""
    return text.split(": ")[0].split(". ")[0].strip()


def run_panel(view: ConformView) -> Group:
    """The plan, the display under test, where the run is, and the totals."""
    head = Table(box=None, padding=(0, 1), show_header=False)
    head.add_column(style="bold", no_wrap=True)
    head.add_column()
    head.add_row("Plan", Text.assemble((view.plan, "bold"), "  ", (first_sentence(view.description), "dim")))
    head.add_row("Display", view.dut)
    fraction = min(1.0, view.done_s / view.duration) if view.duration else 1.0
    cells = round(fraction * BAR_WIDTH)
    bar = Text("█" * cells + "░" * (BAR_WIDTH - cells), style="green" if view.finished else "cyan")
    bar.append(f"  {view.done_s:,.0f} of {view.duration:,.0f} s  ·  events {view.events_done} of {view.events}")
    head.add_row("Run", bar)
    if view.error is not None:
        state = Text(f"failed: {view.error}", style="bold red")
    elif view.interrupted:
        state = Text(f"{view.step}: the verdicts are those so far", style="bold yellow")
    elif view.finished:
        state = Text("finished: final verdicts", style="bold green")
    else:
        state = Text(view.step)
    head.add_row("Step", state)
    passed, failed, pending = view.counts()
    totals = Text.assemble((f"{passed} passed", "green"), ", ", (f"{failed} failed", "red" if failed else ""),
                           ", ", (f"{pending} pending", "yellow" if pending else ""))
    head.add_row("Checks", totals)
    if view.capture:
        head.add_row("Capture", Text(view.capture, style="dim"))
    return Group(head)


def evidence(view: ConformView, spec: CheckSpec | None) -> Group | Text:
    """What one check expected and saw, and where in the capture."""
    if spec is None:
        return Text("no check selected", style="dim")
    verdict = view.verdict(spec.name)
    title = Text.assemble(verdict_label(verdict, view.finished), "  ", (spec.name, "bold"), (f"  ({spec.type})", "dim"))
    if verdict is None:
        return Group(title, Text("not judged yet", style="dim"))
    where = f" in {Path(view.capture).name}" if view.capture else " (no capture: add --pcap for frame numbers)"
    label = "frame" if len(verdict.frames) == 1 else "frames"
    frames = (f"{label} {', '.join(map(str, verdict.frames))}{where}" if verdict.frames else
              "no frames" + ("" if view.capture else where))
    table = Table(box=None, padding=(0, 1), show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_row("Expected", verdict.expected)
    table.add_row("Seen", verdict.seen)
    table.add_row("Frames", frames)
    return Group(title, table)


class ConformScreen(DashScreen):
    """A conformance run: the plan's checks and their verdicts, live."""

    TITLE = "Conformance"

    def __init__(self) -> None:
        super().__init__()
        self._view: ConformView | None = None
        self._rows: list[str] = []
        self._ended = False

    def body(self) -> ComposeResult:
        with VerticalScroll(id="conform"):
            yield Panel("Conformance run", id="conform-run")
            yield DataTable(id="checks", cursor_type="row", zebra_stripes=True)
            yield Panel("Evidence", id="evidence")

    def on_mount(self) -> None:
        table = self.query_one("#checks", DataTable)
        table.border_title = "Checks"
        table.add_column("Verdict", key="verdict", width=8)
        table.add_column("Check", key="check")
        table.add_column("Seen", key="seen")
        super().on_mount()
        table.focus()

    def show_data(self, snapshot: Snapshot) -> None:
        view = snapshot.conformance
        if view is None:
            self.query_one("#conform-run", Panel).update(Text("no conformance run on this source", style="dim"))
            return
        self._view = view
        self.sub_title = f"{view.plan} on {view.dut}"
        self.query_one("#conform-run", Panel).update(run_panel(view))
        table = self.query_one("#checks", DataTable)
        names = [c.name for c in view.checks]
        if names != self._rows:
            table.clear()
            for spec in view.checks:
                table.add_row(*self._cells(view, spec), key=spec.name)
            self._rows = names
        else:
            for spec in view.checks:
                for column, value in zip(("verdict", "check", "seen"), self._cells(view, spec)):
                    table.update_cell(spec.name, column, value, update_width=True)
        if view.finished and not self._ended:
            self._ended = True
            first = next((i for i, c in enumerate(view.checks) if (v := view.verdict(c.name)) is None
                          or v.passed is not True), None)
            if first is not None:
                table.move_cursor(row=first)
        self._show_evidence()

    @staticmethod
    def _cells(view: ConformView, spec: CheckSpec) -> tuple[Text, str, str]:
        verdict = view.verdict(spec.name)
        seen = "" if verdict is None else verdict.seen
        if len(seen) > SEEN_WIDTH:
            seen = seen[:SEEN_WIDTH - 4].rstrip() + " ..."
        return verdict_label(verdict, view.finished), spec.name, seen

    def selected(self) -> CheckSpec | None:
        view = self._view
        table = self.query_one("#checks", DataTable)
        if view is None or table.row_count == 0:
            return None
        row = min(table.cursor_row, len(view.checks) - 1)
        return view.checks[row]

    def _show_evidence(self) -> None:
        panel = self.query_one("#evidence", Panel)
        if self._view is None:
            panel.update(Text("no conformance run on this source", style="dim"))
            return
        panel.update(evidence(self._view, self.selected()))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "checks":
            self._show_evidence()
