"""The dashboard's screens: IHD, PPMID and HAN.

Each screen is built once and then fed snapshots through :meth:`DashScreen.show`;
every figure comes from a display's readout or the source's traffic, through
``views``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from clusters.prepayment import CreditStatus, ResultType
from clusters.price import DURATION_UNTIL_CHANGED
from han_emu.readout import costs
from han_emu.readout.costs import Split
from han_emu.tui import fmt, views
from han_emu.tui.controls import offers
from han_emu.tui.framelog import LoggedFrame, hexdump
from han_emu.tui.widgets import KeyFooter, Panel, ProgressLine, StatusBar

if TYPE_CHECKING:
    from han_emu.readout.model import Readout
    from han_emu.tui.source import Snapshot

_AMBIENT_STYLE = {"Low": "bold green", "Medium": "bold yellow", "High": "bold red"}
#: Terminals narrower than this many columns get the stacked layout (side by
#: side, the history panels need about 120 columns).
NARROW_BELOW = 120
NO_DATA = "no data yet"


def _grid(*columns: str, title: str | None = None, wrap: tuple[str, ...] = ()) -> Table:
    """A borderless table; the columns named in ``wrap`` may wrap their header
    and cells at spaces when the table is too wide, rather than be cut."""
    table = Table(box=None, padding=(0, 1), show_header=bool(columns and columns[0] is not None),
                  title=title, title_justify="left", expand=False)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=name not in wrap)
    return table


class DashScreen(Screen[None]):
    """A screen with the status bar on top and the key footer below.

    Below :data:`NARROW_BELOW` columns the screen has the ``-narrow`` class:
    the panels stack instead of standing side by side (``dashboard.tcss``)."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_BELOW, "-wide")]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield StatusBar(id="status")
        yield ProgressLine(id="progress")
        yield from self.body()
        yield KeyFooter()

    def body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self._show_latest()

    def on_screen_resume(self) -> None:
        self._show_latest()

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_latest)  # what is drawn to fit the width, drawn again

    def _show_latest(self) -> None:
        snapshot = getattr(self.app, "snapshot", None)
        if snapshot is not None:
            self.show(snapshot)

    def show(self, snapshot: Snapshot) -> None:
        # A refresh may arrive between a mode switch and the new screen's mount.
        if not self.is_mounted:
            return
        try:
            self.query_one(StatusBar).show(snapshot, getattr(self.app, "controls", None))
            self.query_one(ProgressLine).show(snapshot.progress)
            self.show_data(snapshot)
        except NoMatches:
            return

    def show_data(self, snapshot: Snapshot) -> None:
        """Each screen fills its own widgets; the base screen has none."""


# -- IHD ------------------------------------------------------------------------------------
class IhdScreen(DashScreen):
    """What a GB consumer's In-Home Display shows, from the simulated IHD's readout."""

    TITLE = "IHD"

    def body(self) -> ComposeResult:
        with VerticalScroll(id="ihd"):
            with Horizontal(classes="row"):
                yield Panel("Now", id="now")
                yield Panel("Secondary export (MP184)", id="export")
            yield Panel("Message", id="message")
            yield Panel("Consumption and cost", id="periods")
            with Horizontal(classes="row", id="history"):
                yield Panel("Previous days", id="days")
                yield Panel("Previous weeks", id="weeks")
                yield Panel("Previous months", id="months")
            yield Panel("Secondary export, half-hourly (kWh per half hour)", id="profile")
            yield Panel("MPANs", id="mpans")

    def show_data(self, snapshot: Snapshot) -> None:
        found = snapshot.display("ihd")
        if found is None:
            for panel in self.query(Panel):
                panel.update(Text("no display on this source", style="dim"))
            return
        name, readout = found
        self.sub_title = f"as the {name} sees it"
        now = snapshot.time
        thresholds = getattr(self.app, "thresholds", views.AmbientThresholds())
        self.query_one("#now", Panel).update(now_panel(readout, now, thresholds))
        self.query_one("#export", Panel).update(export_panel(readout))
        self.query_one("#message", Panel).update(message_panel(readout, now))
        self.query_one("#periods", Panel).update(periods_panel(views.current_periods(readout, now)))
        for kind, widget in (("day", "#days"), ("week", "#weeks"), ("month", "#months")):
            self.query_one(widget, Panel).update(periods_table(views.history(readout, kind, now), compact=True))
        profile = self.query_one("#profile", Panel)
        profile.update(profile_chart(readout, now, profile.content_size.width or None))
        self.query_one("#mpans", Panel).update(mpan_line(readout))


def now_panel(readout: Readout, now: float | None, thresholds: views.AmbientThresholds) -> Table:
    pri, sec = readout.by_role("primary"), readout.by_role("secondary")
    table = _grid("", "")
    table.show_header = False
    imp, cost = costs.import_now(readout), costs.cost_now(readout)
    table.add_row("Import now", Text(fmt.kw(imp.total), style="bold"))
    table.add_row(Text("  primary + secondary", style="dim"), split_cell(imp, _n, " kW"))
    table.add_row("Cost now", fmt.gbp(cost.total) + "/h")
    table.add_row(Text("  primary + secondary", style="dim"), split_cell(cost, fmt.gbp, "/h"))
    level = thresholds.level(imp.total)  # the premises' import: both elements
    table.add_row("Ambient", Text(level or fmt.DASH, style=_AMBIENT_STYLE.get(level or "", "")))
    tier = pri.active_tier.get(views.IMPORT) if pri else None
    table.add_row("Import tier", f"{tier if tier is not None else fmt.DASH} @ {fmt.price(pri.price_now() if pri else None)}")
    table.add_row("Export primary", fmt.kw(pri.export_kw() if pri else None))
    table.add_row("Export secondary", Text(fmt.kw(sec.export_kw() if sec else None), style="bold"))
    table.add_row("Clock", fmt.gb_local(views.clock_now(readout, now)))
    basic = readout.basic
    if basic:
        who = " ".join(str(basic[k]) for k in ("manufacturer", "model") if basic.get(k)) or fmt.DASH
        table.add_row("Meter", f"{who} ({basic['date_code']})" if basic.get("date_code") else who)
    return table


_IMPORTANCE_STYLE = {"high": "bold yellow", "critical": "bold red"}


def message_panel(readout: Readout, now: float | None) -> Text:
    """The last message from the ESI, as an IHD shows it: the text, then when,
    how long, and whether it asked for (and got) a confirmation."""
    m = readout.message
    if m is None:
        return Text("no message", style="dim")
    showing = m.showing(now)
    text = Text(m.text, style=_IMPORTANCE_STYLE.get(m.importance, "bold") if showing else "dim")
    state = "cancelled" if m.cancelled else ("shown" if showing else "not shown now")
    until = "until changed" if m.duration_min is None else f"for {m.duration_min} min"
    details = [f"#{m.id}", f"{m.importance} importance", f"from {fmt.gb_local(m.begins)}", until, state]
    if m.confirm_required:
        details.append(f"confirmed {fmt.gb_local(m.confirmed_at)}" if m.confirmed else "awaiting confirmation")
    return Text.assemble(text, "\n", (" · ".join(details), "dim"))


def export_panel(readout: Readout) -> Group:
    sec = readout.by_role("secondary")
    register = sec.kwh(sec.summation.get(views.EXPORT)) if sec else None
    head = Text.assemble("Export register  ", (fmt.kwh(register), "bold"))
    table = _grid("Tier", "Register", "Price")
    for row in views.tier_rows(sec, views.EXPORT):
        style = "reverse bold" if row.active else ""
        mark = "▶ " if row.active else "  "
        table.add_row(Text(f"{mark}T{row.tier}", style=style), Text(fmt.kwh(row.kwh), style=style),
                      Text(fmt.price(row.price), style=style))
    if not table.rows:
        return Group(head, Text(NO_DATA, style="dim"))
    return Group(head, table)


def split_cell(value: Split, show: Callable[[Decimal | None], str], unit: str = "") -> Text:
    """A figure's two parts, primary first: "0.345 + 2.000 kW"."""
    if value.primary is None and value.secondary is None:
        return Text(fmt.DASH, style="dim")
    return Text(f"{show(value.primary)} + {show(value.secondary)}{unit}", style="dim")


def periods_table(rows: list[views.PeriodRow], compact: bool = False) -> Table:
    """Import of both elements (the full table adds the split), the cost of
    both, and the secondary element's export."""
    table = _grid("", "Import", "Cost", "Export") if compact else \
        _grid("Period", "Import", "primary + secondary", "Cost (incl. standing)", "Secondary export",
              wrap=("primary + secondary", "Cost (incl. standing)", "Secondary export"))
    for row in rows:
        if compact:
            table.add_row(row.label, _n(row.import_kwh), fmt.gbp(row.cost), _n(row.export_kwh))
        else:
            table.add_row(row.label, fmt.kwh(row.import_kwh), split_cell(row.import_split, _n),
                          fmt.gbp(row.cost), fmt.kwh(row.export_kwh))
    return table


COST_NOTE = ("Cost: each tier's register at the period's end less at its start, at that tier's price, "
             "plus the standing charge a day; a dash until the display has read the registers "
             "just after the period's first midnight.")


def periods_panel(rows: list[views.PeriodRow]) -> Table | Group:
    """The current periods, with a note when a cost cannot be known yet."""
    table = periods_table(rows)
    if any(row.cost is None and row.import_kwh is not None for row in rows):
        return Group(table, Text(COST_NOTE, style="dim"))
    return table


def _n(value) -> str:
    return fmt.DASH if value is None else f"{value:.3f}"


def profile_chart(readout: Readout, now: float | None, width: int | None = None) -> Group | Text:
    """Each day's half hours as bars, two columns each, or one when ``width``
    columns cannot hold two (the time axis then fits as well)."""
    days = views.export_profile_days(readout, now)
    if not days:
        return Text(NO_DATA, style="dim")
    top = max((float(v) for _, values in days for v in values if v is not None), default=0.0)
    slots = len(days[0][1])
    cell = 2 if width is None or width >= 2 * slots + len("24:00") else 1
    parts: list = []
    for day, values in days:
        got = [v for v in values if v is not None]
        total = sum(got) if got else None
        label = Text.assemble((day.strftime("%a %d %b"), "bold"),
                              f"  {fmt.kwh(total)} in {len(got)} of {len(values)} half hours")
        parts.append(label)
        parts.append(fmt.bar_chart(values, height=2, top=top or None, width=cell))
    half = len(days[0][1]) * cell // 2
    parts.append(Text("00:00".ljust(half) + "12:00".ljust(half) + "24:00", style="dim"))
    return Group(*parts)


def mpan_line(readout: Readout) -> Table:
    table = _grid("", "", "", "")
    table.show_header = False
    m = views.mpans(readout)
    table.add_row("Primary import", m["primary import"] or fmt.DASH, "Primary export", m["primary export"] or fmt.DASH)
    table.add_row("Secondary import", m["secondary import"] or fmt.DASH,
                  "Secondary export", m["secondary export"] or fmt.DASH)
    return table


# -- PPMID ----------------------------------------------------------------------------------
class PpmidScreen(DashScreen):
    """The PPMID's tariff, price and credit view, from the simulated PPMID's
    readout; its keys top up (a lab UTRN, ConsumerTopUp) and select emergency
    credit through the PPMID, on the primary element."""

    TITLE = "PPMID"
    BINDINGS = [
        Binding("t", "top_up", "Top up"),
        Binding("e", "emergency", "Emergency credit"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offers(getattr(self.app, "controls", None), action)

    def _press(self, key: str, done: str) -> None:
        controls = getattr(self.app, "controls", None)
        if controls is None or not offers(controls, key):  # not offered: see check_action
            return
        if controls.ppmid_key(key):
            self.app.notify(done)
        else:
            self.app.notify("No PPMID on this HAN has found the ESI yet", severity="warning")

    def action_top_up(self) -> None:
        self._press("top_up", "PPMID: UTRN entered (ConsumerTopUp to the primary ESI)")

    def action_emergency(self) -> None:
        self._press("emergency", "PPMID: emergency credit asked for (SelectAvailableEmergencyCredit)")

    def body(self) -> ComposeResult:
        with VerticalScroll(id="ppmid"):
            with Horizontal(classes="row"):
                yield Panel("Import tariff (primary)", id="tariff")
                yield Panel("Export tariff (secondary)", id="export-tariff")
            yield Panel("Current price (PublishPrice)", id="current-price")
            yield Panel("Prepayment", id="prepay")

    def show_data(self, snapshot: Snapshot) -> None:
        found = snapshot.display("ppmid")
        if found is None:
            self.query_one("#prepay", Panel).update(Text(NO_DATA, style="dim"))
            return
        name, readout = found
        self.sub_title = f"as the {name} sees it"
        pri, sec = readout.by_role("primary"), readout.by_role("secondary")
        self.query_one("#tariff", Panel).update(tariff_table(pri, views.IMPORT))
        self.query_one("#export-tariff", Panel).update(tariff_table(sec, views.EXPORT))
        self.query_one("#current-price", Panel).update(current_price(readout))
        self.query_one("#prepay", Panel).update(prepayment_table(readout))


#: CreditStatus bits as a PPMID words them, most telling first.
_STATUS_WORDS = (
    (CreditStatus.Credit_Exhausted, "credit exhausted", "bold red"),
    (CreditStatus.Emergency_Credit_In_Use, "emergency credit in use", "bold yellow"),
    (CreditStatus.Emergency_Credit_Selected, "emergency credit selected", "yellow"),
    (CreditStatus.Emergency_Credit_Available, "emergency credit available (e)", "yellow"),
    (CreditStatus.Low_Credit, "low credit", "yellow"),
    (CreditStatus.Credit_OK, "credit OK", "green"),
)


def credit_status_text(bits: int | None) -> Text:
    if bits is None:
        return Text(fmt.DASH)
    words = [Text(word, style=style) for bit, word, style in _STATUS_WORDS if bits & bit]
    return Text(", ").join(words) if words else Text(f"0x{bits:02X}")


def prepayment_table(readout: Readout) -> Table | Text:
    """Credit, emergency credit and debt of each element (Prepayment cluster)."""
    table = _grid("Element", "Mode", "Credit", "Emergency credit", "Debt", "Status",
                  wrap=("Emergency credit", "Status"))
    for el in sorted(readout.elements.values(), key=lambda e: e.endpoint):
        p = el.prepayment
        if p.control is None and p.credit is None:
            table.add_row(el.role, NO_DATA, "", "", "", "")
            continue
        mode = fmt.DASH if p.prepayment_mode is None else ("prepayment" if p.prepayment_mode else "credit")
        debts = "; ".join(f"{label or f'#{n}'} {fmt.gbp(el.money(amount))}" for n, (label, amount)
                          in sorted(p.debts.items()) if amount is not None)
        debt = fmt.gbp(el.money(p.debt)) + (f" ({debts})" if debts else "")
        table.add_row(el.role, mode, fmt.gbp(el.money(p.credit)), fmt.gbp(el.money(p.emergency_credit)), debt,
                      credit_status_text(p.status))
    if not table.rows:
        return Text(NO_DATA, style="dim")
    lines: list = [table]
    for el in sorted(readout.elements.values(), key=lambda e: e.endpoint):
        if (last := el.prepayment.last_top_up) is not None:
            result, value, credit = last
            name = ResultType(result).name.replace("_", " ") if result in ResultType._value2member_map_ else hex(result)
            lines.append(Text(f"Last top-up ({el.role}): {name}, {fmt.gbp(el.money(value))}, "
                              f"credit then {fmt.gbp(el.money(credit))}"))
    return Group(*lines)


def tariff_table(el, direction: str) -> Group | Text:
    if el is None:
        return Text(NO_DATA, style="dim")
    label = el.tariff_label.get(direction) or fmt.DASH
    lines: list = [Text.assemble("Tariff  ", (label, "bold"))]
    table = _grid("Tier", "Price", "Register")
    for row in views.tier_rows(el, direction):
        style = "reverse bold" if row.active else ""
        table.add_row(Text(("▶ " if row.active else "  ") + f"T{row.tier}", style=style),
                      Text(fmt.price(row.price), style=style), Text(fmt.kwh(row.kwh), style=style))
    lines.append(table if table.rows else Text(NO_DATA, style="dim"))
    if direction == views.IMPORT:
        lines.append(Text(f"Standing charge  {fmt.gbp(el.money(el.standing_charge), 4)}/day"))
        lines.append(Text(f"Price now  {fmt.price(el.price_now())}   import now {fmt.kw(el.import_kw())}"
                          f"   {fmt.gbp(el.cost_per_hour())}/h"))
    else:
        lines.append(Text(f"Price now  {fmt.price(el.price_now(direction))}   export now {fmt.kw(el.export_kw())}"))
    return Group(*lines)


def current_price(readout: Readout) -> Table:
    table = _grid("Element", "Label", "Tier", "Tiers", "Price", "Generation price", "Duration",
                  wrap=("Label", "Generation price", "Duration"))
    for el in sorted(readout.elements.values(), key=lambda e: e.endpoint):
        p = el.current_price
        if p.price is None:
            table.add_row(el.role, NO_DATA, "", "", "", "", "")
            continue
        table.add_row(
            el.role, p.label or fmt.DASH, str(p.tier), str(p.tiers), fmt.price(el.money(p.price)),
            fmt.price(el.money(p.generation_price)) if p.generation_price not in (None, 0xFFFFFFFF) else fmt.DASH,
            "until changed" if p.duration_minutes == DURATION_UNTIL_CHANGED else f"{p.duration_minutes} min",
        )
    return table


# -- HAN ------------------------------------------------------------------------------------
class HanScreen(DashScreen):
    """Devices, traffic, the frame log and duty-cycle gauges."""

    TITLE = "HAN"
    BINDINGS = [
        Binding("b", "raw", "Raw bytes"),
        Binding("slash", "filter", "Filter"),
        Binding("escape", "unfocus", "Leave filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._log: dict[int, LoggedFrame] = {}
        self._shown: list[int] = []
        self._filter = ""
        self._raw_visible = False

    def body(self) -> ComposeResult:
        with VerticalScroll(id="han"):
            with Horizontal(id="han-top"):
                yield DataTable(id="devices", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="clusters", cursor_type="row", zebra_stripes=True)
            yield Panel("Duty cycle (rolling hour)", id="duty")
            yield Input(placeholder="filter the log: device, cluster or command (press / to type)", id="filter")
            yield DataTable(id="log", cursor_type="row", zebra_stripes=True)
            yield Panel("Raw bytes (APS payload)", id="raw")

    def on_mount(self) -> None:
        devices = self.query_one("#devices", DataTable)
        devices.border_title = "Devices"
        devices.add_columns("Device", "Kind", "NWK", "Last seen", "LQI", "Frames", "ACKs")
        clusters = self.query_one("#clusters", DataTable)
        clusters.border_title = "Frames per cluster"
        clusters.add_columns("From", "Frames", "Cluster")
        log = self.query_one("#log", DataTable)
        log.border_title = "Frame log"
        log.add_column("#", key="seq")
        log.add_columns("Time", "From", "To", "Cluster", "Frame")
        self.query_one("#raw").display = False
        super().on_mount()
        log.focus(scroll_visible=False)
        # Stacked on a narrow terminal, the screen scrolls: start at its foot, where the log is.
        self.call_after_refresh(lambda: self.query_one("#han").scroll_end(animate=False))

    def show_data(self, snapshot: Snapshot) -> None:
        devices = self.query_one("#devices", DataTable)
        devices.clear()
        for d in snapshot.devices:
            devices.add_row(d.name, d.kind, fmt.DASH if d.nwk is None else f"0x{d.nwk:04X}", fmt.clock(d.last_seen),
                            fmt.DASH if d.lqi is None else str(d.lqi), str(d.frames),
                            fmt.DASH if d.acks is None else str(d.acks), key=d.name)
        clusters = self.query_one("#clusters", DataTable)
        clusters.clear()
        for (device, label), n in snapshot.frames.items():
            clusters.add_row(device, str(n), label)
        self.query_one("#duty", Panel).update(duty_panel(snapshot))
        self._update_log(snapshot.log)

    # -- the frame log ------------------------------------------------------------------
    def _matches(self, entry: LoggedFrame) -> bool:
        words = self._filter.lower().split()
        text = entry.text()
        return all(w in text for w in words)

    def _update_log(self, entries: list[LoggedFrame]) -> None:
        table = self.query_one("#log", DataTable)
        self._log = {e.seq: e for e in entries}
        gone = [s for s in self._shown if s not in self._log]
        if len(gone) > 100:  # back from another screen: rebuilding beats removing row by row
            table.clear()
            self._shown = []
        else:
            for seq in gone:
                table.remove_row(str(seq))
            self._shown = [s for s in self._shown if s in self._log]
        last = self._shown[-1] if self._shown else 0
        follow = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        for entry in entries:
            if entry.seq > last and self._matches(entry):
                table.add_row(str(entry.seq), fmt.clock(entry.time), entry.src, entry.dst,
                              entry.cluster_name, entry.summary, key=str(entry.seq))
                self._shown.append(entry.seq)
        if follow and table.row_count:
            table.move_cursor(row=table.row_count - 1)

    def _rebuild_log(self) -> None:
        table = self.query_one("#log", DataTable)
        table.clear()
        self._shown = []
        self._update_log(list(self._log.values()))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._filter = event.value
            self._rebuild_log()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#log", DataTable).focus()

    def selected_frame(self) -> LoggedFrame | None:
        table = self.query_one("#log", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self._log.get(int(key)) if key is not None else None

    def _show_raw(self) -> None:
        raw = self.query_one("#raw", Panel)
        frame = self.selected_frame()
        if frame is None:
            raw.update(Text("no frame selected", style="dim"))
        else:
            raw.border_title = (f"Raw bytes of frame {frame.seq}: {frame.src} -> {frame.dst}, "
                                f"{frame.cluster_name} 0x{frame.cluster:04X}, ep {frame.src_ep} -> {frame.dst_ep}")
            raw.update(Text(hexdump(frame.raw)))

    def action_raw(self) -> None:
        self._raw_visible = not self._raw_visible
        self.query_one("#raw").display = self._raw_visible
        if self._raw_visible:
            self._show_raw()
        self._keep_cursor_in_view()

    def _keep_cursor_in_view(self) -> None:
        table = self.query_one("#log", DataTable)
        self.call_after_refresh(lambda: table.move_cursor(row=table.cursor_row, scroll=True))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "log" and self._raw_visible:
            self._show_raw()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "log":
            self._raw_visible = True
            self.query_one("#raw").display = True
            self._show_raw()
            self._keep_cursor_in_view()

    def action_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_unfocus(self) -> None:
        self.query_one("#log", DataTable).focus()


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value >= 10 else f"{value:.3f} s"


_STATE_STYLE = {"limited": "yellow", "critical": "red", "suspended": "bold reverse red"}
GAUGE_WIDTH = 30


def _gauge(airtime: float, limit: float | None, state: str) -> Text:
    if not limit:
        return Text("not regulated (measured only)", style="dim")
    cells = round(min(1.0, airtime / limit) * GAUGE_WIDTH)
    return Text("█" * cells + "░" * (GAUGE_WIDTH - cells), style=_STATE_STYLE.get(state, "green"))


def duty_panel(snapshot: Snapshot) -> Group | Text:
    duty = snapshot.duty
    if duty is None:
        return Text("no data: no duty-cycle ledger is attached to this source", style="dim")
    parts: list = []
    table = _grid("Device", "Page/ch", "Airtime", "Share", "Gauge (to the regulated limit)", "State", "Alerts")
    alerts: dict[str, int] = {}
    for event in duty.alerts:
        alerts[str(event.device)] = alerts.get(str(event.device), 0) + 1
    for u in duty.usages:
        limit = u.limits.suspended if u.limits is not None else None
        state = u.state.name.lower().replace("_", " ")
        style = _STATE_STYLE.get(state, "green")
        table.add_row(duty.name(u.device), f"{u.page}/{u.channel}",
                      _seconds(u.airtime) + (f" of {limit:g} s" if limit else ""), f"{u.percent:.2f}%",
                      _gauge(u.airtime, limit, state), Text(state, style=style),
                      str(alerts.get(str(u.device), 0)) if limit else fmt.DASH)
    if duty.usages:
        parts.append(table)
    elif duty.ncp is None:
        parts.append(Text("no frames charged yet", style="dim"))
    if duty.ncp is not None:
        parts.append(ncp_duty(duty.ncp))
    if duty.ncp is None or duty.alerts:
        recent = list(zip(duty.alerts, duty.culprits or (None,) * len(duty.alerts)))[-3:]
        if not recent:
            parts.append(Text("Alerts: none", style="dim"))
        for event, culprit in reversed(recent):  # newest first: the panel may cut the last lines
            name = duty.name(event.device)
            cause = f" (caused by {culprit})" if culprit is not None and culprit != name else ""
            parts.append(Text(f"{fmt.clock(event.time)}  {name}  0x{int(event.alert):04X} "
                              f"{event.alert.name.lower().replace('_', ' ')} -> {event.state.name.lower()}{cause}"))
    return Group(*parts)


def ncp_duty(ncp) -> Group | Text:
    """The coordinator stick's own duty-cycle figures, as it reported them."""
    if ncp.supported is False:
        return Text("Coordinator (NCP): the stick reports no duty cycle of its own", style="dim")
    head = Text.assemble("Coordinator's own view (NCP): ", (ncp.state, "bold"))
    if ncp.page is not None:
        head.append(f"  page {ncp.page} channel {ncp.channel}")
    if ncp.limits is not None:
        lim = ncp.limits
        head.append(f"  limits: {lim.describe()}")
    if ncp.updated is not None:
        head.append(f"  as of {fmt.clock(ncp.updated)}", style="dim")
    if not ncp.consumed:
        return Group(head, Text("no per-device figures reported yet", style="dim"))
    table = _grid("Device", "Airtime", "Share", "Gauge (to the regulated limit)")
    limit = ncp.limits.suspended if ncp.limits is not None else None
    for device, seconds in ncp.consumed:
        state = ncp.limits.state_for(seconds).name.lower() if ncp.limits is not None else ""
        table.add_row(device, _seconds(seconds), f"{seconds / 36:.2f}%", _gauge(seconds, limit, state))
    return Group(head, table)
