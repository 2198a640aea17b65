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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from han_emu.frames.keylog import KeylogError, load_keylog, read_keyring
    from han_emu.frames.record import RawFrame
    from han_emu.replay.capture import CaptureProblem, RecordSource, iter_records, records_of, zep_frame
    from han_emu.replay.dutycycle import ReplayDutyCycle, replay_dutycycle
    from han_emu.replay.player import ErrorEvent, Replay, ReplaySummary, ZclEvent, build_keyring, paced
    from han_emu.replay.live import FrameSaver, LiveRecords, StreamRecords, ZepListener
    from han_emu.replay.scenario import recorded_scenario, recording_from_capture
    from han_emu.replay.zcl import ZclDecodeError, ZclMessage, decode_zcl

#: Where each name of the package lives, loaded on first use (PEP 562): a
#: module that needs one part (the CLI, a worker process) does not import the others.
_HOMES = {
    "KeylogError": "han_emu.frames.keylog", "load_keylog": "han_emu.frames.keylog",
    "read_keyring": "han_emu.frames.keylog", "RawFrame": "han_emu.frames.record",
    "CaptureProblem": "han_emu.replay.capture", "RecordSource": "han_emu.replay.capture",
    "iter_records": "han_emu.replay.capture", "records_of": "han_emu.replay.capture",
    "zep_frame": "han_emu.replay.capture", "ReplayDutyCycle": "han_emu.replay.dutycycle",
    "replay_dutycycle": "han_emu.replay.dutycycle", "ErrorEvent": "han_emu.replay.player",
    "Replay": "han_emu.replay.player", "ReplaySummary": "han_emu.replay.player",
    "ZclEvent": "han_emu.replay.player", "build_keyring": "han_emu.replay.player",
    "paced": "han_emu.replay.player", "FrameSaver": "han_emu.replay.live", "LiveRecords": "han_emu.replay.live",
    "StreamRecords": "han_emu.replay.live", "ZepListener": "han_emu.replay.live",
    "recorded_scenario": "han_emu.replay.scenario", "recording_from_capture": "han_emu.replay.scenario",
    "ZclDecodeError": "han_emu.replay.zcl", "ZclMessage": "han_emu.replay.zcl", "decode_zcl": "han_emu.replay.zcl",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'han_emu.replay' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [*_HOMES]  # the names are listed once, in _HOMES
