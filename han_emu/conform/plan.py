"""Conformance plans: TOML files of meter events at given times and checks on the display.

A plan names the run (``name``, ``description``), how long it lasts
(``duration``), which displays it is written for (``dut``), and optionally when
the meter's clock starts (``start``, ISO 8601) and the PHY (``phy``: "2.4" or
"gb868", the sub-GHz HAN).  Each ``[[event]]`` has ``at`` ("+10m" from the
start, or an ISO time) and ``kind`` with the kind's parameters; each
``[[check]]`` has ``type``, ``name`` (unique: the JUnit testcase) and the
type's parameters.  Everything is checked when the plan is read, and the first
problem is one line naming the plan file and the key (:class:`PlanError`), so
a typo never costs a run.  The built-in plans live beside this module, in
``plans/``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from han_emu.conform.model import CheckSpec
from han_emu.meter.clock import parse_duration

PLANS_DIR = Path(__file__).with_name("plans")
KINDS = ("ihd", "ppmid", "cad")
PHYS = ("2.4", "gb868")
ELEMENTS = ("primary", "secondary")

_TOP = {"name", "description", "duration", "dut", "start", "phy", "event", "check"}


class PlanError(ValueError):
    """A plan that cannot be run: the message names the file and the key."""


@dataclass(frozen=True)
class Param:
    """One parameter of an event kind or check type: its type, and its default (None: required)."""

    kind: type | tuple[type, ...]
    default: Any = None
    choices: tuple[Any, ...] = ()
    minimum: float | None = None


_NUM = (int, float)
#: Event kinds and their parameters (docs/conformance.md describes each).
EVENT_PARAMS: dict[str, dict[str, Param]] = {
    "tier-switch": {"element": Param(str, "primary", ELEMENTS),
                    "direction": Param(str, "import", ("import", "export")), "tier": Param(int, 0, minimum=0)},
    "new-prices": {"element": Param(str, "primary", ELEMENTS), "change_pct": Param(_NUM, 10.0, minimum=-99)},
    "dst-change": {"to": Param(str, "gmt", ("gmt", "bst"))},
    "supply-interruption": {"minutes": Param(_NUM, minimum=0.1)},
    "meter-restart": {"down_s": Param(_NUM, 30.0, minimum=0)},
    "export-burst": {"kw": Param(_NUM, minimum=0.01), "minutes": Param(_NUM, minimum=0.1)},
    "register-near-rollover": {"element": Param(str, "primary", ELEMENTS),
                               "direction": Param(str, "import", ("import", "export")),
                               "below_kwh": Param(_NUM, 1.0, minimum=0)},
    "network-key-update": {"switch_s": Param(_NUM, 10.0, minimum=0)},
    "message": {"text": Param(str), "confirm": Param(bool, False), "minutes": Param(int, 0, minimum=0)},
    "low-credit": {"element": Param(str, "primary", ELEMENTS)},
    "emergency-credit": {"element": Param(str, "primary", ELEMENTS)},
    "cbke-rekey": {},
    "subghz-suspend": {"minutes": Param(int, 5, minimum=1)},
}

@dataclass(frozen=True)
class PlanEvent:
    """One scheduled meter event: ``at`` seconds after the run starts."""

    at: float
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    name: str
    description: str
    duration: float
    dut: tuple[str, ...]
    events: tuple[PlanEvent, ...]
    checks: tuple[CheckSpec, ...]
    start: float | None = None
    phy: str = "2.4"
    source: str = ""

    @property
    def sub_ghz(self) -> bool:
        return self.phy == "gb868"

    def start_for(self, now: float) -> float:
        """When the meter's clock starts: the plan's ``start``, or so that a
        ``dst-change`` event falls on the next such change after ``now``, or ``now``."""
        if self.start is not None:
            return self.start
        for event in self.events:
            if event.kind == "dst-change":
                return next_dst_change(now + event.at, event.params["to"]) - event.at
        return now


def next_dst_change(after: float, to: str) -> float:
    """POSIX time of the next GB change to GMT (October) or to BST (March) after ``after``."""
    from han_emu.meter.gbtime import bst_window

    year = datetime.fromtimestamp(after, timezone.utc).year
    for y in (year, year + 1):
        start, end = bst_window(y)
        when = end if to == "gmt" else start
        if when > after:
            return float(when)
    raise AssertionError("unreachable: one change a year")


# -- reading ------------------------------------------------------------------------------------


def builtin_plans() -> dict[str, Path]:
    """Name -> file of every built-in plan."""
    return {p.stem: p for p in sorted(PLANS_DIR.glob("*.toml"))}


def find_plan(text: str) -> Path:
    """A built-in plan's name or a plan file's path; PlanError when it is neither."""
    plans = builtin_plans()
    if text in plans:
        return plans[text]
    path = Path(text)
    if path.is_file():
        return path
    if path.suffix or "/" in text:
        raise PlanError(f"{text}: no such plan file")
    raise PlanError(f"{text!r} is no built-in plan ({', '.join(plans)}) and no file")


def load_plan(text: str) -> Plan:
    """Read and check the plan ``text`` names (see :func:`find_plan`)."""
    path = find_plan(text)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"{path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not a text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path}: not valid TOML: {exc}") from None
    return parse_plan(data, str(path))


def parse_plan(data: dict[str, Any], source: str = "plan") -> Plan:
    """A :class:`Plan` from parsed TOML; PlanError names ``source`` and the bad key."""

    def fail(message: str) -> PlanError:
        return PlanError(f"{source}: {message}")

    for key in data:
        if key not in _TOP:
            raise fail(f"unknown key {key!r} (a plan has {', '.join(sorted(_TOP))})")
    name = _string(data, "name", fail)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise fail("description: must be text")
    duration = _duration(data.get("duration"), "duration", fail)
    dut = data.get("dut", list(KINDS))
    dut = [dut] if isinstance(dut, str) else dut
    if not isinstance(dut, list) or not dut or any(d not in KINDS for d in dut):
        raise fail(f"dut: one of {', '.join(KINDS)} or a list of them, got {data.get('dut')!r}")
    start = None
    if "start" in data:
        start = _iso(data["start"], "start", fail)
    phy = data.get("phy", "2.4")
    if phy not in PHYS:
        raise fail(f"phy: \"2.4\" or \"gb868\", got {phy!r}")
    events = []
    raw_events = data.get("event", [])
    if not isinstance(raw_events, list):
        raise fail("event: write each event as an [[event]] table")
    for i, raw in enumerate(raw_events, 1):
        events.append(_event(raw, f"[[event]] {i}", start, duration, fail))
    events.sort(key=lambda e: e.at)
    for event in events:
        if event.kind == "subghz-suspend" and phy != "gb868":
            raise fail("[[event]] subghz-suspend: needs a sub-GHz HAN (phy = \"gb868\")")
        if event.kind == "dst-change" and start is not None:
            raise fail("[[event]] dst-change: leave out start (the run starts so that the change falls at 'at')")
    if sum(e.kind == "dst-change" for e in events) > 1:
        raise fail("[[event]] dst-change: one per plan")
    checks = []
    raw_checks = data.get("check", [])
    if not isinstance(raw_checks, list) or not raw_checks:
        raise fail("check: a plan needs at least one [[check]]")
    names: set[str] = set()
    for i, raw in enumerate(raw_checks, 1):
        spec = _check(raw, f"[[check]] {i}", fail)
        if spec.name in names:
            raise fail(f"[[check]] {i}: name {spec.name!r} is used twice (names are the testcases)")
        names.add(spec.name)
        checks.append(spec)
    return Plan(name, description, duration, tuple(dut), tuple(events), tuple(checks), start, phy, source)


def _string(table: dict[str, Any], key: str, fail: Any, where: str = "") -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{where}{key}: required, as text")
    return value


def _duration(value: Any, key: str, fail: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise fail(f"{key}: required, e.g. \"2h\" or \"90m\"")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise fail(f"{key}: {exc}") from None


def _iso(value: Any, key: str, fail: Any) -> float:
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            raise fail(f"{key}: not an ISO 8601 time: {value!r} (e.g. 2026-06-01T10:00:00Z)") from None
    if when.tzinfo is None:
        raise fail(f"{key}: give the zone, e.g. {when.isoformat()}Z")
    return when.timestamp()


def _offset(value: Any, key: str, start: float | None, fail: Any) -> float:
    if isinstance(value, str) and value.startswith("+"):
        text = value[1:]
        if text.strip().rstrip("smhd") in ("0", "0.0"):
            return 0.0
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise fail(f"{key}: {exc}") from None
    when = _iso(value, key, fail)
    if start is None:
        raise fail(f"{key}: an ISO time needs the plan's start (or write an offset such as \"+10m\")")
    if when < start:
        raise fail(f"{key}: {value} is before the plan's start")
    return when - start


def _params(raw: dict[str, Any], spec: dict[str, Param], where: str, fail: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        param = spec.get(key)
        if param is None:
            known = ", ".join(spec) or "no parameters"
            raise fail(f"{where}: unknown key {key!r} (it takes {known})")
        bad_bool = isinstance(value, bool) and param.kind is not bool
        if bad_bool or not isinstance(value, param.kind):
            kinds = param.kind if isinstance(param.kind, tuple) else (param.kind,)
            raise fail(f"{where}: {key} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
        if param.choices and value not in param.choices:
            raise fail(f"{where}: {key} must be one of {', '.join(map(str, param.choices))}, got {value!r}")
        if param.minimum is not None and value < param.minimum:
            raise fail(f"{where}: {key} must be at least {param.minimum:g}, got {value!r}")
        out[key] = value
    for key, param in spec.items():
        if key not in out:
            if param.default is None:
                raise fail(f"{where}: {key} is required")
            out[key] = param.default
    return out


def _event(raw: Any, where: str, start: float | None, duration: float, fail: Any) -> PlanEvent:
    if not isinstance(raw, dict):
        raise fail(f"{where}: must be a table")
    kind = raw.get("kind")
    if kind not in EVENT_PARAMS:
        raise fail(f"{where}: kind must be one of {', '.join(EVENT_PARAMS)}, got {kind!r}")
    where = f"{where} ({kind})"
    if "at" not in raw:
        raise fail(f"{where}: at is required (\"+10m\" or an ISO time)")
    at = _offset(raw["at"], f"{where}: at", start, fail)
    if at >= duration:
        raise fail(f"{where}: at {raw['at']!r} is not before the plan's end ({duration:g} s)")
    rest = {k: v for k, v in raw.items() if k not in ("at", "kind")}
    return PlanEvent(at, kind, _params(rest, EVENT_PARAMS[kind], where, fail))


def _check(raw: Any, where: str, fail: Any) -> CheckSpec:
    from han_emu.conform.checks import CHECKS, CheckError, check_params

    if not isinstance(raw, dict):
        raise fail(f"{where}: must be a table")
    kind = raw.get("type")
    if kind not in CHECKS:
        raise fail(f"{where}: type must be one of {', '.join(CHECKS)}, got {kind!r}")
    name = _string(raw, "name", fail, f"{where} ({kind}): ")
    spec = CheckSpec(kind, name, {k: v for k, v in raw.items() if k not in ("type", "name")})
    try:
        check_params(spec)
    except CheckError as exc:
        raise fail(str(exc)) from None
    return spec
