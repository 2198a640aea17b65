"""Conformance runs: events on the running meter, and observations numbered as the capture's frames."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from clusters.ids import KEY_ESTABLISHMENT, MESSAGING, METERING, PRICE, SE_PROFILE_ID
from han_emu.conform.plan import parse_plan
from han_emu.conform.run import VirtualDut, VirtualRun, record_of
from han_emu.frames.keylog import tshark_option

JUNE = 1_780_300_800.0  # 2026-06-01 08:00 UTC
CBKE = [{"type": "completes-cbke", "name": "cbke"}]


def plan_of(events: list[dict], duration: str = "10m", checks: list[dict] = CBKE, **extra: object):
    return parse_plan({"name": "test", "duration": duration, "event": events, "check": checks, **extra}, "test")


def test_the_dut_parses_with_its_faults() -> None:
    assert VirtualDut.parse("ppmid:slow-poll, no-cbke") == VirtualDut("ppmid", frozenset({"slow-poll", "no-cbke"}))
    with pytest.raises(ValueError, match="no fault nope"):
        VirtualDut.parse("ihd:nope")
    with pytest.raises(ValueError, match="the kind is one of"):
        VirtualDut.parse("tv")


def test_observations_carry_the_capture_frame_numbers_tshark_sees(tmp_path: Path, tshark: str) -> None:
    """The frame numbers of the run's observations are Wireshark's: tshark,
    reading the capture with the run's key log, finds the same cluster and
    ZCL command at each number."""
    pcap, keys = tmp_path / "run.pcap", tmp_path / "run.keys"
    plan = plan_of([{"at": "+1m", "kind": "message", "text": "hello", "confirm": True}], duration="3m")
    run = VirtualRun(plan, VirtualDut("ihd"), pcap=str(pcap), keylog=str(keys), start=JUNE, judge=False)
    log = run.run()
    numbered = [o for o in log.observations if o.frame is not None]
    assert len(numbered) == len(log.observations) > 100
    assert [o.frame for o in numbered] == sorted(o.frame for o in numbered)
    zcl = {o.frame: o for o in numbered if o.profile == SE_PROFILE_ID and o.command is not None}
    option = tshark_option(keys.read_text().splitlines())
    out = subprocess.run([tshark, "-r", str(pcap), "-o", option, "-Y", "zbee_zcl && !zbee_aps.fragmentation",
                          "-T", "fields", "-e", "frame.number", "-e", "zbee_aps.cluster", "-e", "zbee_zcl.cmd.id",
                          "-e", "zbee_zcl.cs.cmd.id"],
                         capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    seen, clusters = {}, {}
    for line in out:
        number, cluster, general, specific = (line.split("\t") + ["", "", "", ""])[:4]
        command = (general or specific).split(",")[0]
        clusters[int(number)] = int(cluster, 16)
        if command:  # Key Establishment has fields of its own, no command id
            seen[int(number)] = (int(cluster, 16), int(command, 16))
    assert all(clusters.get(n) == o.cluster for n, o in zcl.items()), "a frame number points elsewhere"
    general = [n for n, o in zcl.items() if o.general]  # cluster commands have per-cluster fields in tshark
    assert len(general) > 100 and all(seen.get(n) == (zcl[n].cluster, zcl[n].command) for n in general)
    # The message went out and the DUT confirmed it; both are on record with their frames.
    confirm = [o for o in numbered if o.cluster == MESSAGING and o.incoming and o.command == 0x01]
    assert confirm and clusters[confirm[0].frame] == MESSAGING


def test_the_events_change_the_meter_and_what_the_dut_is_served() -> None:
    plan = plan_of([
        {"at": "+1m", "kind": "tier-switch", "element": "primary", "tier": 2},
        {"at": "+2m", "kind": "new-prices", "element": "primary", "change_pct": 20},
        {"at": "+3m", "kind": "export-burst", "kw": 5, "minutes": 2},
        {"at": "+4m", "kind": "register-near-rollover"},
        {"at": "+5m", "kind": "low-credit"},
        {"at": "+6m", "kind": "emergency-credit", "element": "secondary"},
        {"at": "+7m", "kind": "network-key-update"},
        {"at": "+8m", "kind": "cbke-rekey"},
    ], duration="10m")
    run = VirtualRun(plan, VirtualDut("ihd"), start=JUNE, judge=False)
    log = run.run()
    by_kind = {e.kind: e for e in log.events}
    assert [e.kind for e in log.events] == [e.kind for e in plan.events]
    assert all("error" not in e.outcome for e in log.events), log.events
    tier, prices = by_kind["tier-switch"], by_kind["new-prices"]
    assert (tier.outcome["from_tier"], tier.outcome["to_tier"]) == (1, 2)
    assert abs(tier.time - 60) < 1 and prices.outcome["issuer_event_id"] > tier.outcome["issuer_event_id"]
    # Both pushed PublishPrice to the IHD (it asked with the receiver-on bit).
    pushed = [o for o in log.observations if o.cluster == PRICE and not o.incoming and not o.general
              and o.command == 0x00 and 60 <= o.time < 180]
    assert len(pushed) >= 2
    meter = run.han.meter
    assert meter.settings.primary.import_tariff.prices[0] == Decimal("0.3420")  # 0.2850 + 20 %
    assert meter.elements["primary"].import_wh >= 10 ** 10 - 1000  # just below 10,000,000 kWh
    assert by_kind["register-near-rollover"].outcome["rollover_kwh"] == 10 ** 7
    assert by_kind["low-credit"].outcome["credit"] == 1.0
    assert by_kind["emergency-credit"].outcome["emergency_available"] is True
    assert by_kind["network-key-update"].outcome["key_seq"] == 1
    assert by_kind["export-burst"].outcome["end"] == pytest.approx(300, abs=1)
    # The re-key: the ESI started CBKE, the IHD answered, and both ends hold the new key;
    # the IHD is served under it (its requests answered, none refused).
    rekey = by_kind["cbke-rekey"]
    assert rekey.outcome["endpoint"] == 1 and rekey.outcome["endpoint_from"] == "its own key establishment"
    exchange = [o for o in log.observations if o.cluster == KEY_ESTABLISHMENT and o.time >= 480]
    assert [(o.incoming, o.command, o.data[0]) for o in exchange] == [
        (False, 0, 0x11), (True, 0, 0x19), (False, 1, 0x11), (True, 1, 0x19), (False, 2, 0x11), (True, 2, 0x19)]
    assert all(not o.secured for o in exchange) and len({o.data[1] for o in exchange}) == 1  # one TSN throughout
    outcomes = run.han.server.key_establishment.outcomes
    assert [(o.established, o.initiated) for o in outcomes] == [(True, False), (True, True)]
    device = run.han.devices[0]
    assert run.han.app.link_key_for(device.ieee) == device.link_key and device.cbke_responder.exchanges == 1
    after = [o for o in log.observations if o.time > 481 and not o.incoming and o.cluster == METERING]
    assert after and not [o for o in after if o.status == 0x7E] and device.failures == 0


def test_a_restart_and_an_interruption_silence_the_esi_then_serve_again() -> None:
    plan = plan_of([{"at": "+2m", "kind": "meter-restart", "down_s": 60},
                    {"at": "+6m", "kind": "supply-interruption", "minutes": 2}], duration="10m")
    run = VirtualRun(plan, VirtualDut("ihd"), start=JUNE, judge=False)
    log = run.run()
    restart, outage = record_of(log, "meter-restart")[0], record_of(log, "supply-interruption")[0]
    assert restart.outcome["end"] == pytest.approx(180, abs=1) and outage.outcome["end"] == pytest.approx(480, abs=1)
    answers = [o.time for o in log.observations if not o.incoming and o.cluster == METERING]
    assert not [t for t in answers if 121 <= t < 180 or 361 <= t < 480]  # silent while down
    assert [t for t in answers if 180 <= t < 200] and [t for t in answers if 480 <= t < 500]  # served again
    # The meter did not measure while the supply was off: its profile shows the gap.
    assert run.han.meter.interval_partial(int(JUNE) + 1800)


def test_a_sub_ghz_suspension_reaches_the_dut() -> None:
    plan = plan_of([{"at": "+1m", "kind": "subghz-suspend", "minutes": 2}], duration="5m", phy="gb868")
    log = VirtualRun(plan, VirtualDut("ihd"), start=JUNE, judge=False).run()
    assert log.events[0].outcome["sent"] is True
    requests = [o.time for o in log.observations if o.incoming and o.profile != 0 and 61 <= o.time < 180]
    assert requests == []


def test_a_dst_change_falls_in_the_run() -> None:
    plan = plan_of([{"at": "+2m", "kind": "dst-change", "to": "gmt"}], duration="5m")
    log = VirtualRun(plan, VirtualDut("ihd"), start=JUNE, judge=False).run()
    outcome = log.events[0].outcome
    assert (outcome["utc_offset_before"], outcome["utc_offset_after"]) == (3600, 0)
