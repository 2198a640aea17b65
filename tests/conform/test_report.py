"""The JUnit XML and Markdown reports, parsed back: one testcase per check, failures
naming the check with its evidence, pending counted as failing, the run's properties."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from han_emu.conform.model import CheckSpec, EventRecord, RunLog, Verdict
from han_emu.conform.report import markdown, write_junit, write_markdown

LOG = RunLog("mp184-ihd", "virtual ihd (faults: ignore-secondary)", 3600.0,
             capture="/tmp/run/mp184-ihd.pcap", keylog="/tmp/run/mp184-ihd.keys")
VERDICTS = [
    Verdict(CheckSpec("reads-attribute", "demand every 10 s", {"cluster": "Metering", "every_s": 10}), True,
            "the DUT reads demand at least every 10 s", "read 360 times; longest gap 10.2 s", (12, 40, 44)),
    Verdict(CheckSpec("discovers-endpoint", "finds the secondary ESI", {"endpoint": "secondary"}), False,
            "a Match_Desc_rsp lists the secondary ESI and the DUT talks to it",
            "Match_Desc_rsp in frame 7 listed endpoint 2, but the DUT sent it nothing | ever", (7,)),
    Verdict(CheckSpec("confirms-message", "confirms <urgent> & \"quoted\""), None,
            "a MessageConfirmation within 60 s", "the run ended 10 s after the message", ()),
]


def test_junit_has_one_testcase_per_check_and_failures_with_evidence(tmp_path: Path) -> None:
    path = tmp_path / "report.xml"
    write_junit(path, LOG, VERDICTS)
    assert path.read_bytes().startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "2", "0")
    (suite,) = root
    assert suite.tag == "testsuite" and suite.get("name") == "mp184-ihd"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("3", "2", "0", "0")
    assert float(suite.get("time", "")) == 3600.0
    props = {p.get("name"): p.get("value") for p in suite.find("properties") or []}
    assert props == {"dut": "virtual ihd (faults: ignore-secondary)", "plan": "mp184-ihd",
                     "capture": "/tmp/run/mp184-ihd.pcap", "keylog": "/tmp/run/mp184-ihd.keys"}
    cases = suite.findall("testcase")
    assert [(c.get("name"), c.get("classname")) for c in cases] == [
        ("demand every 10 s", "reads-attribute"), ("finds the secondary ESI", "discovers-endpoint"),
        ("confirms <urgent> & \"quoted\"", "confirms-message")]
    passed, failed, pending = cases
    assert passed.find("failure") is None
    assert passed.findtext("system-out") == ("expected: the DUT reads demand at least every 10 s\n"
                                             "seen: read 360 times; longest gap 10.2 s\n"
                                             "frames 12, 40, 44 in mp184-ihd.pcap\n")
    failure = failed.find("failure")
    assert failure is not None and failure.get("type") == "failed"
    assert failure.get("message") == (
        "check 'finds the secondary ESI' (discovers-endpoint) failed: expected a Match_Desc_rsp lists the secondary "
        "ESI and the DUT talks to it; seen Match_Desc_rsp in frame 7 listed endpoint 2, but the DUT sent it nothing "
        "| ever; frame 7 in mp184-ihd.pcap")
    assert failure.text == ("expected: a Match_Desc_rsp lists the secondary ESI and the DUT talks to it\n"
                            "seen: Match_Desc_rsp in frame 7 listed endpoint 2, but the DUT sent it nothing | ever\n"
                            "frame 7 in mp184-ihd.pcap\n")
    failure = pending.find("failure")
    assert failure is not None and failure.get("type") == "pending"
    assert failure.get("message", "").startswith("check 'confirms <urgent> & \"quoted\"' (confirms-message) pending: ")
    assert failure.get("message", "").endswith("; no frames")
    # Every element is one the JUnit format knows, each where it belongs
    allowed = {"testsuites": {"testsuite"}, "testsuite": {"properties", "testcase", "system-out"},
               "properties": {"property"},
               "testcase": {"failure", "system-out"}, "property": set(), "failure": set(), "system-out": set()}
    for element in root.iter():
        assert {child.tag for child in element} <= allowed[element.tag]


def test_junit_of_a_run_without_capture(tmp_path: Path) -> None:
    log = RunLog("price-change", "ezsp:/dev/ttyUSB0 00:0d:6f:00:00:01:10:00", 60.0)
    path = tmp_path / "r.xml"
    write_junit(path, log, VERDICTS[1:2])
    suite = ET.parse(path).getroot()[0]
    props = {p.get("name"): p.get("value") for p in suite.find("properties") or []}
    assert props["capture"] == "" and props["keylog"] == ""
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("message", "").endswith("; frame 7 in the run's capture")


def test_markdown_summary_table_then_every_check(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    write_markdown(path, LOG, VERDICTS)
    text = path.read_text()
    assert text == markdown(LOG, VERDICTS)
    lines = text.splitlines()
    assert lines[0] == "# Conformance: mp184-ihd"
    assert "- **Result:** 1 passed, 1 failed, 1 pending" in lines
    table = lines[lines.index("| Check | Type | Result | Frames |"):]
    assert table[1:5] == [
        "|---|---|---|---|",
        "| demand every 10 s | reads-attribute | passed | 12, 40, 44 |",
        "| finds the secondary ESI | discovers-endpoint | failed | 7 |",
        "| confirms <urgent> & \"quoted\" | confirms-message | pending | - |",
    ]
    section = lines[lines.index("## finds the secondary ESI: failed"):]
    assert section[1:7] == [
        "",
        "Type `discovers-endpoint`, parameters: `endpoint = 'secondary'`.",
        "",
        "- **Expected:** a Match_Desc_rsp lists the secondary ESI and the DUT talks to it",
        "- **Seen:** Match_Desc_rsp in frame 7 listed endpoint 2, but the DUT sent it nothing | ever",
        "- **Evidence:** frame 7 in mp184-ihd.pcap",
    ]
    assert "## confirms <urgent> & \"quoted\": pending" in lines and "Type `confirms-message`." in lines


EVENTS = [
    EventRecord("tier-switch", 2.0, {"element": "primary"}, {"published_to": 1, "tier": 2}),
    EventRecord("cbke-rekey", 12.5, {}, {"error": "cbke-rekey: the display serves no Key Establishment cluster"}),
    EventRecord("message", 30.0, {"text": "a | b", "confirm": True, "minutes": 0}, {"message_id": 7}),
    EventRecord("network-key-update", 40.0, {"switch_s": 5.0}, {"sent_to": ["00:0d:6f:00:00:01:10:00"],
                                                                "switch": 45.25}),
]


def test_markdown_lists_the_events_applied_after_the_summary_table() -> None:
    log = RunLog("events", "virtual ihd", 60.0, events=EVENTS)
    lines = markdown(log, VERDICTS).splitlines()
    start = lines.index("## Events")
    assert lines.index("| confirms <urgent> & \"quoted\" | confirms-message | pending | - |") < start
    assert start < lines.index("## demand every 10 s: passed")
    assert lines[start + 1:start + 8] == [
        "",
        "| Time | Event | Parameters | Outcome |",
        "|---|---|---|---|",
        "| 2 s | tier-switch | element = primary | published_to = 1, tier = 2 |",
        "| 12.5 s | cbke-rekey | - | error: cbke-rekey: the display serves no Key Establishment cluster |",
        "| 30 s | message | text = a \\| b, confirm = True, minutes = 0 | message_id = 7 |",
        "| 40 s | network-key-update | switch_s = 5 | sent_to = [00:0d:6f:00:00:01:10:00], switch = 45.25 |",
    ]


def test_markdown_of_a_run_without_events_says_so() -> None:
    lines = markdown(LOG, VERDICTS).splitlines()
    start = lines.index("## Events")
    assert lines[start + 1:start + 3] == ["", "None applied."]


def test_junit_carries_the_events_in_the_suites_system_out(tmp_path: Path) -> None:
    path = tmp_path / "r.xml"
    write_junit(path, RunLog("events", "virtual ihd", 60.0, events=EVENTS), VERDICTS)
    suite = ET.parse(path).getroot()[0]
    assert [child.tag for child in suite][-1] == "system-out"  # after the testcases, as the schema orders it
    assert suite.findtext("system-out") == (
        "t=2 s tier-switch (element = primary): published_to = 1, tier = 2\n"
        "t=12.5 s cbke-rekey: error: cbke-rekey: the display serves no Key Establishment cluster\n"
        "t=30 s message (text = a | b, confirm = True, minutes = 0): message_id = 7\n"
        "t=40 s network-key-update (switch_s = 5): sent_to = [00:0d:6f:00:00:01:10:00], switch = 45.25\n")
    write_junit(path, LOG, VERDICTS)  # no events: no suite output
    assert ET.parse(path).getroot()[0].find("system-out") is None
