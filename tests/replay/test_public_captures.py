"""Public captures (shipped in tests/fixtures) decode with their known keys, and agree
with tshark on the counts."""

from __future__ import annotations

import subprocess

import pytest

from han_emu.replay import Replay

from ..conftest import FIXTURES

ZIGATOR = "11111111111111111111111111111111"
CONTROL4 = "26546b723b396a727b5d5271517d392f"
TC_LINK = "5a6967426565416c6c69616e63653039"

# file -> (network keys, link keys)
CAPTURES = {
    "03-nwk-testing.pcap": ([ZIGATOR], []),
    "04-aps-testing.pcap": ([ZIGATOR], []),
    "06-zcl-testing.pcap": ([ZIGATOR], []),
    "control4-sample.pcap": ([CONTROL4], []),
    "trace_app_link_key.pcapng": ([], [TC_LINK]),
    "trace_joining_well_known_key.pcapng": ([], [TC_LINK]),
    "trace_nwk_key_update.pcapng": ([], [TC_LINK]),
    "trace_tc_unique_linkkey.pcapng": ([], [TC_LINK]),
}


def _tshark_count(tshark: str, path, keys: list[str], display_filter: str) -> int:
    uat = "\n".join(f'"{k.upper()}","Normal","k{i}"' for i, k in enumerate(keys))
    args = [tshark, "-r", str(path), "-Y", display_filter]
    if uat:
        args[3:3] = ["-o", f"uat:zigbee_pc_keys:{uat}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    return len(out.splitlines())


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_counts_agree_with_tshark(name, tshark) -> None:
    path = FIXTURES / name
    network, link = CAPTURES[name]
    replay = Replay(path, network, link)
    zcl = sum(1 for e in replay.frames() if hasattr(e, "message"))
    keys = network + link
    assert zcl == replay.summary.decoded == _tshark_count(tshark, path, keys, "zbee_zcl")
    assert replay.summary.nwk_decrypted == _tshark_count(
        tshark, path, keys, "zbee_nwk.security == 1 && (zbee_aps || zbee_nwk.cmd.id)")


def test_control4_known_decodes() -> None:
    replay = Replay(FIXTURES / "control4-sample.pcap", [CONTROL4])
    events = list(replay.frames())
    s = replay.summary
    assert (s.frames, s.decoded, s.nwk_decrypted) == (407, 55, 194)
    bad = {e.frame for e in events if getattr(e, "kind", None) == "malformed"}
    assert 155 in bad  # the README's bad-FCS frame
    assert all(e.error == "mac: FCS mismatch" for e in events if getattr(e, "kind", None) == "malformed")


def test_network_keys_learnt_from_transport_key() -> None:
    replay = Replay(FIXTURES / "trace_nwk_key_update.pcapng", [], [TC_LINK])
    replay.run()
    learnt = [w for w in replay.warnings if w.startswith("learnt network key")]
    assert len(learnt) == 2  # the first key and the updated one
    assert replay.summary.nwk_decrypted == 65
    assert len(replay.devices) >= 2


def test_zcl_frame_of_zigator_capture() -> None:
    (event,) = list(Replay(FIXTURES / "06-zcl-testing.pcap", [ZIGATOR]).frames())
    assert event.to_json() == {
        "frame": 1, "time": 1599997441.0, "src": "0x0000", "dst": "0x1102", "src_ep": 1, "dst_ep": 1,
        "profile": 0x0104, "cluster": 0x0000, "command": "read_attributes", "attributes": {"0x0001": None},
        "payload": None,
    }
