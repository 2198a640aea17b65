"""Reading conformance plans: the built-in ones, and one clear line for each mistake."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from han_emu.conform.plan import EVENT_PARAMS, PlanError, builtin_plans, load_plan, next_dst_change, parse_plan
from han_emu.meter.gbtime import utc_offset

BASE = {"name": "t", "duration": "1h", "check": [{"type": "completes-cbke", "name": "cbke"}]}


def test_the_built_in_plans_load() -> None:
    names = set(builtin_plans())
    assert {"mp184-ihd", "gb-ihd-basics", "price-change", "dst-change", "restart-recovery", "subghz-suspend",
            "cbke-rekey"} <= names
    for name in names:
        plan = load_plan(name)
        assert plan.name == name and plan.checks and plan.duration > 0
        assert [e.at for e in plan.events] == sorted(e.at for e in plan.events)


def test_built_in_plans_ship_with_the_package() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["han_emu"]
    assert "**/*.toml" in patterns
    assert all(p.parent.name == "plans" and p.suffix == ".toml" for p in builtin_plans().values())


def test_events_are_read_with_their_defaults_and_offsets() -> None:
    plan = parse_plan({**BASE, "event": [
        {"at": "+90s", "kind": "export-burst", "kw": 2, "minutes": 5},
        {"at": "+10m", "kind": "tier-switch"},
        {"at": "+0", "kind": "message", "text": "hello"},
    ]})
    assert [(e.at, e.kind) for e in plan.events] == [(0.0, "message"), (90.0, "export-burst"), (600.0, "tier-switch")]
    assert plan.events[2].params == {"element": "primary", "direction": "import", "tier": 0}
    assert plan.events[0].params == {"text": "hello", "confirm": False, "minutes": 0}


def test_an_iso_time_counts_from_the_plan_start() -> None:
    plan = parse_plan({**BASE, "start": "2026-06-01T10:00:00Z",
                       "event": [{"at": "2026-06-01T10:20:00+00:00", "kind": "network-key-update"}]})
    assert plan.events[0].at == 1200.0 and plan.start_for(0.0) == plan.start


@pytest.mark.parametrize(("change", "message"), [
    ({"durtion": "1h"}, "plan.toml: unknown key 'durtion'"),
    ({"duration": "soon"}, "plan.toml: duration: not a duration"),
    ({"dut": "tv"}, "plan.toml: dut: one of ihd, ppmid, cad"),
    ({"phy": "5g"}, "plan.toml: phy:"),
    ({"event": [{"at": "+1m", "kind": "earthquake"}]}, "plan.toml: [[event]] 1: kind must be one of"),
    ({"event": [{"at": "+1m", "kind": "supply-interruption"}]}, "[[event]] 1 (supply-interruption): minutes is required"),
    ({"event": [{"at": "+1m", "kind": "tier-switch", "teir": 2}]}, "[[event]] 1 (tier-switch): unknown key 'teir'"),
    ({"event": [{"at": "+2h", "kind": "tier-switch"}]}, "is not before the plan's end"),
    ({"event": [{"at": "2026-06-01T10:00:00Z", "kind": "tier-switch"}]}, "an ISO time needs the plan's start"),
    ({"event": [{"at": "+1m", "kind": "export-burst", "kw": "lots", "minutes": 1}]}, "kw must be int or float"),
    ({"event": [{"at": "+1m", "kind": "subghz-suspend"}]}, "needs a sub-GHz HAN"),
    ({"check": []}, "a plan needs at least one [[check]]"),
    ({"check": [{"type": "reads-everything", "name": "x"}]}, "[[check]] 1: type must be one of"),
    ({"check": [{"type": "completes-cbke"}]}, "[[check]] 1 (completes-cbke): name: required"),
    ({"check": [{"type": "reads-attribute", "name": "r", "attribute": 1024}]}, "parameter 'cluster' is required"),
    ({"check": [{"type": "completes-cbke", "name": "a"}, {"type": "completes-cbke", "name": "a"}]}, "used twice"),
])
def test_each_mistake_is_one_line_naming_the_key(change: dict, message: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_plan({**BASE, **change}, "plan.toml")
    text = str(err.value)
    assert message in text and "\n" not in text and text.startswith("plan.toml: ")


def test_a_plan_file_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(PlanError, match=r"bad.toml: not valid TOML"):
        load_plan(str(bad))
    with pytest.raises(PlanError, match="no such plan file"):
        load_plan(str(tmp_path / "missing.toml"))
    with pytest.raises(PlanError, match="no built-in plan"):
        load_plan("nonsense")


def test_every_event_kind_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "conformance.md").read_text()
    for kind, params in EVENT_PARAMS.items():
        assert f"`{kind}`" in doc
        for name in params:
            assert f"`{name}`" in doc, (kind, name)
    assert "## Checks" in doc


def test_a_dst_change_plan_starts_so_the_change_falls_at_its_time() -> None:
    plan = load_plan("dst-change")
    event = plan.events[0]
    start = plan.start_for(1_780_300_800.0)  # June 2026: the next change to GMT is in October
    change = start + event.at
    assert change == next_dst_change(1_780_300_800.0, "gmt")
    assert utc_offset(change - 1) == 3600 and utc_offset(change) == 0
