"""Helpers shared by the frame tests: where the public captures are, their keys.

The Zlib-licensed Silicon Labs traces ship in ``tests/fixtures``; the others
(GPL-2.0 test data of other projects, the KillerBee sample) are read from the
shared public-captures folder beside the repository when it is there.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_ROOT_CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"
_spec = importlib.util.spec_from_file_location("_han_emu_root_conftest", _ROOT_CONFTEST)
assert _spec is not None and _spec.loader is not None
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)

PUBLIC_CAPTURES: Path = _root.PUBLIC_CAPTURES
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

ZIGATOR_KEY = "11111111111111111111111111111111"
CONTROL4_KEY = "26546b723b396a727b5d5271517d392f"
TC_LINK_KEY = "5A6967426565416C6C69616E63653039"

# file -> (record count as tshark/capinfos report it, network keys, link keys)
CAPTURES: dict[str, tuple[int, list[str], list[str]]] = {
    "03-nwk-testing.pcap": (15, [ZIGATOR_KEY], []),
    "04-aps-testing.pcap": (11, [ZIGATOR_KEY], []),
    "06-zcl-testing.pcap": (1, [ZIGATOR_KEY], []),
    "control4-sample.pcap": (407, [CONTROL4_KEY], []),
    "zigbee-transport-key-skke_1.pcap": (1, [CONTROL4_KEY], []),
    "zigbee-join-authenticate.pcap": (54, [], []),
    "trace_app_link_key.pcapng": (185, [], [TC_LINK_KEY]),
    "trace_joining_well_known_key.pcapng": (186, [], [TC_LINK_KEY]),
    "trace_nwk_key_update.pcapng": (155, [], [TC_LINK_KEY]),
    "trace_tc_unique_linkkey.pcapng": (142, [], [TC_LINK_KEY]),
}


def capture(name: str) -> Path:
    """The capture ``name``: a shipped fixture, else the shared copy (the test
    is skipped when neither exists)."""
    for folder in (FIXTURES, PUBLIC_CAPTURES):
        if (folder / name).is_file():
            return folder / name
    pytest.skip(f"{name} is not shipped with the tests and the public-captures folder is absent")
