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
``Replay(ZepListener(host, port))`` or ``Replay(StreamRecords(pipe))`` decodes
a live sniffer the same way (``han-emu sniff``).
"""

from han_emu.frames.keylog import KeylogError, load_keylog, read_keyring
from han_emu.frames.record import RawFrame
from han_emu.replay.capture import CaptureProblem, RecordSource, iter_records, records_of, zep_frame
from han_emu.replay.dutycycle import ReplayDutyCycle, replay_dutycycle
from han_emu.replay.player import ErrorEvent, Replay, ReplaySummary, ZclEvent, build_keyring, paced
from han_emu.replay.live import FrameSaver, LiveRecords, StreamRecords, ZepListener
from han_emu.replay.scenario import recorded_scenario, recording_from_capture
from han_emu.replay.zcl import ZclDecodeError, ZclMessage, decode_zcl

__all__ = [
    "CaptureProblem", "ErrorEvent", "FrameSaver", "KeylogError", "LiveRecords", "RawFrame", "RecordSource",
    "Replay", "ReplayDutyCycle", "ReplaySummary", "StreamRecords", "ZclDecodeError", "ZclEvent", "ZclMessage",
    "ZepListener", "build_keyring", "decode_zcl", "iter_records", "load_keylog", "paced",
    "read_keyring", "records_of", "recorded_scenario", "recording_from_capture", "replay_dutycycle", "zep_frame",
]
