"""tshark, the independent oracle, reads the re-key of a virtual run's capture: the
meter's requests client to server (Wireshark's "srv_rx" commands, with QEU and
MACU, the initiator's), the display's responses server to client ("srv_tx",
QEV and MACV, the responder's), each certificate naming its sender, and the
display's traffic after it decrypted with the new key from the run's key log."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clusters.ids import KEY_ESTABLISHMENT
from han_emu.conform.run import VirtualDut, VirtualRun
from han_emu.frames.keylog import tshark_option
from han_emu.radio.virtual.medium import COORDINATOR_NWK

from .test_run import JUNE, plan_of

FIELDS = ["frame.number", "zbee_nwk.src", "zbee_aps.security", "zbee_zcl.dir", "zbee_zcl.cmd.tsn",
          "zbee_zcl_se.ke.cmd.srv_rx.id", "zbee_zcl_se.ke.cmd.srv_tx.id", "zbee_zcl_se.ke.cert.subject",
          "zbee_zcl_se.ke.qeu", "zbee_zcl_se.ke.qev", "zbee_zcl_se.ke.macu", "zbee_zcl_se.ke.macv"]


@pytest.mark.tshark
def test_tshark_reads_the_meters_rekey_with_the_roles_reversed(tshark: str, tmp_path: Path) -> None:
    pcap, keys = tmp_path / "rekey.pcap", tmp_path / "rekey.keys"
    plan = plan_of([{"at": "+30s", "kind": "cbke-rekey"}], duration="1m")
    run = VirtualRun(plan, VirtualDut("ihd"), pcap=str(pcap), keylog=str(keys), start=JUNE, judge=False)
    log = run.run()
    dut = run.han.devices[0]
    option = tshark_option(keys.read_text().splitlines())
    out = subprocess.run([tshark, "-r", str(pcap), "-o", option, "-Y", "zbee_aps.cluster == 0x0800 && zbee_zcl",
                          "-T", "fields", *[x for f in FIELDS for x in ("-e", f)]],
                         capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    rows = [dict(zip(FIELDS, line.split("\t"))) for line in out]
    rekey = [r for r in rows if int(r["frame.number"]) >= min(o.frame for o in log.observations if o.time >= 30)]
    assert len(rows) == 12 and len(rekey) == 6  # the join's exchange, then the meter's
    meter, display = f"0x{COORDINATOR_NWK:04x}", f"0x{int(dut.nwk):04x}"
    assert [(r["zbee_nwk.src"], r["zbee_zcl.dir"], r["zbee_zcl_se.ke.cmd.srv_rx.id"] or r["zbee_zcl_se.ke.cmd.srv_tx.id"])
            for r in rekey] == [(meter, "0", "0x00"), (display, "1", "0x00"), (meter, "0", "0x01"),
                                (display, "1", "0x01"), (meter, "0", "0x02"), (display, "1", "0x02")]
    assert {r["zbee_aps.security"] for r in rekey} == {"0"}  # under network security only
    assert len({r["zbee_zcl.cmd.tsn"] for r in rekey}) == 1
    coordinator = bytes(run.han.app.state.node_info.ieee)[::-1].hex()
    assert [r["zbee_zcl_se.ke.cert.subject"] for r in rekey[:2]] == [coordinator, bytes(dut.ieee)[::-1].hex()]
    assert all(len(rekey[i][field]) == 44 for i, field in ((2, "zbee_zcl_se.ke.qeu"), (3, "zbee_zcl_se.ke.qev")))
    assert rekey[4]["zbee_zcl_se.ke.macu"] and rekey[5]["zbee_zcl_se.ke.macv"]
    # The observations point at the same frames.
    ours = [o for o in log.observations if o.cluster == KEY_ESTABLISHMENT and o.time >= 30]
    assert [o.frame for o in ours] == [int(r["frame.number"]) for r in rekey]
    # The key log has the new key: the display's Metering requests after the re-key decrypt.
    after = subprocess.run([tshark, "-r", str(pcap), "-o", option, "-Y",
                            f"zbee_aps.cluster == 0x0702 && zbee_nwk.src == {display} && frame.number > "
                            f"{rekey[-1]['frame.number']}", "-T", "fields", "-e", "zbee_zcl.cmd.id"],
                           capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert after and set(after) == {"0x00"}  # Read Attributes, read in the clear by tshark
    assert keys.read_text().count(f"CBKE link key {bytes(dut.ieee)[::-1].hex().upper()}") == 2
