"""Capture replay: capture file -> decoded Smart Energy ZCL events -> readout model.

Library use::

    replay = Replay("meter.pcapng", network_keys=[nwk_hex], link_keys=[aps_hex], readout=Readout())
    for event in replay.frames():   # ZclEvent or ErrorEvent
        ...
    replay.summary, replay.readout.to_json()

``Replay.play(speed)`` is the same stream paced by the capture's timestamps;
``replay_dutycycle(path, phy)`` charges the capture's airtime to its senders;
``recorded_scenario(path, keys)`` turns the readings a capture shows into a
scenario that drives the meter model (``han-emu run --scenario-from``).
"""

from .capture import CaptureProblem, RawFrame, iter_records
from .dutycycle import ReplayDutyCycle, replay_dutycycle
from .engine import ErrorEvent, Replay, ReplaySummary, ZclEvent, build_keyring, paced
from .keylog import KeylogError, load_keylog, read_keylog
from .scenario import recorded_scenario, recording_from_capture
from .zcl import ZclDecodeError, ZclMessage, decode_zcl

__all__ = [
    "CaptureProblem", "ErrorEvent", "KeylogError", "RawFrame", "Replay", "ReplayDutyCycle",
    "ReplaySummary", "ZclDecodeError", "ZclEvent", "ZclMessage", "build_keyring", "decode_zcl",
    "iter_records", "load_keylog", "paced", "read_keylog", "recorded_scenario", "recording_from_capture",
    "replay_dutycycle",
]
