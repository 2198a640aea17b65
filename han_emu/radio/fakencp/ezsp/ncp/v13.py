"""EZSP protocol version 13, as EmberZNet 7.3 speaks it.

The NCP of one protocol version is its frame sections composed over the
interpreter, with that version's command schemas; a later version is a
subclass that swaps ``COMMANDS`` and overrides or adds the frames that
changed, as bellows' protocol classes do on the host side.
"""

from __future__ import annotations

import bellows.types as bt
from bellows.ezsp.v13.commands import COMMANDS as V13_COMMANDS

from han_emu.radio.fakencp.ezsp.ncp.cbke_frames import CbkeFrames
from han_emu.radio.fakencp.ezsp.ncp.configuration_frames import ConfigurationFrames
from han_emu.radio.fakencp.ezsp.ncp.interpreter import CommandSpec
from han_emu.radio.fakencp.ezsp.ncp.messaging_frames import MessagingFrames
from han_emu.radio.fakencp.ezsp.ncp.networking_frames import DutyCycleLimits, NetworkingFrames
from han_emu.radio.fakencp.ezsp.ncp.security_frames import SecurityFrames

#: Where bellows' schema and the firmware disagree, the NCP sends what firmware sends.
SCHEMA_FIXES: dict[str, CommandSpec] = {
    "getDutyCycleLimits": (0x004B, {}, {"status": bt.EmberStatus, "limits": DutyCycleLimits}),
    "setDutyCycleLimitsInStack": (0x0040, {"limits": DutyCycleLimits}, {"status": bt.EmberStatus}),
}


class EzspNcpV13(
    ConfigurationFrames,
    NetworkingFrames,
    MessagingFrames,
    SecurityFrames,
    CbkeFrames,
):
    """An EmberZNet 7.3.2.0 NCP speaking EZSP v13."""

    PROTOCOL_VERSION = 13
    STACK_VERSION = (7, 3, 2, 0)
    COMMANDS = {**V13_COMMANDS, **SCHEMA_FIXES}
