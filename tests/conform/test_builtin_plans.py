"""A good simulated IHD passes every built-in plan, and each fault fails the checks it should, and only those.

The faults are run against one short plan that has every event and check
they touch (twenty minutes of virtual time each), so that the proof stays fast.
"""

from __future__ import annotations

import logging

import pytest

from han_emu.conform.plan import builtin_plans, load_plan, parse_plan
from han_emu.conform.run import VirtualDut, VirtualRun

JUNE = 1_780_300_800.0  # 2026-06-01 08:00 UTC


@pytest.fixture(autouse=True)
def _quiet() -> None:
    logging.getLogger("han_emu").setLevel(logging.ERROR)  # the silent meter makes the host warn


def failed(plan, dut: str) -> set[str]:
    run = VirtualRun(plan, VirtualDut.parse(dut), start=None if plan.events and any(
        e.kind == "dst-change" for e in plan.events) else JUNE)
    run.run()
    assert len(run.status.verdicts) == len(plan.checks)
    return {v.spec.name for v in run.status.verdicts if v.passed is not True}


@pytest.mark.parametrize("name", sorted(builtin_plans()))
def test_a_good_virtual_display_passes_every_built_in_plan(name: str) -> None:
    plan = load_plan(name)
    assert failed(plan, plan.dut[0]) == set()


ALL = parse_plan({
    "name": "every-fault", "duration": "20m", "dut": "ihd",
    "event": [
        {"at": "+2m", "kind": "message", "text": "confirm me", "confirm": True},
        {"at": "+4m", "kind": "tier-switch", "element": "primary"},
        {"at": "+8m", "kind": "meter-restart", "down_s": 30},
        {"at": "+13m", "kind": "supply-interruption", "minutes": 1},
        {"at": "+16m", "kind": "cbke-rekey"},
    ],
    "check": [
        {"type": "discovers-endpoint", "name": "discovers", "endpoint": "secondary"},
        {"type": "reads-mp184-export", "name": "mp184"},
        {"type": "asks-profile", "name": "profile", "endpoint": "secondary", "channel": 1},
        {"type": "reads-attribute", "name": "demand", "endpoint": "primary", "cluster": 0x0702,
         "attribute": 0x0400, "every_s": 12},
        {"type": "reads-attribute", "name": "export", "endpoint": "secondary", "cluster": 0x0702,
         "attribute": 0x0001, "every_s": 15},
        {"type": "follows-price-change", "name": "price", "within_s": 60},
        {"type": "confirms-message", "name": "confirm", "within_s": 60},
        {"type": "recovers-after-restart", "name": "recover", "within_s": 120},
        {"type": "completes-cbke", "name": "cbke"},
        {"type": "completes-cbke", "name": "rekey", "after": "cbke-rekey", "within_s": 60},
        {"type": "no-unserved-attributes", "name": "served"},
    ],
}, "every-fault")

#: What each fault must fail: its own check, and what follows from it (a display
#: without CBKE is refused service, so pushes, confirmations and recovery fail
#: too; one that gives up after an outage stops reading).
EXPECTED = {
    "": set(),
    "ignore-secondary": {"discovers", "mp184", "profile", "export"},
    "slow-poll": {"demand", "export"},
    "no-cbke": {"cbke", "rekey", "confirm", "recover", "price"},
    "ignore-price-push": {"price"},
    "no-confirm": {"confirm"},
    "no-recovery": {"recover", "demand", "export"},
}


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_each_fault_fails_its_checks_and_only_those(fault: str) -> None:
    assert failed(ALL, f"ihd:{fault}" if fault else "ihd") == EXPECTED[fault]


def test_the_rekey_plan_fails_a_display_without_cbke_on_the_rekey_only() -> None:
    """A ``no-cbke`` display refuses the meter's re-key; it still asks for demand and prices on
    time (and is refused NOT_AUTHORIZED), which those checks do not judge."""
    plan = load_plan("cbke-rekey")
    run = VirtualRun(plan, VirtualDut.parse("ihd:no-cbke"), start=JUNE)
    run.run()
    verdicts = {v.spec.name: v for v in run.status.verdicts}
    assert {name for name, v in verdicts.items() if v.passed is not True} == {"completes the meter's re-key within 60 s"}
    rekey = verdicts["completes the meter's re-key within 60 s"]
    assert rekey.passed is False
    assert rekey.seen.startswith("cbke-rekey at t=300 s: the DUT refused key establishment (UNSUP_CLUSTER_COMMAND)")
    # The meter found the display's Key Establishment endpoint by Match_Desc (no CBKE of its own to go by).
    assert run.log.events[0].outcome["endpoint_from"] == "Match_Desc"
