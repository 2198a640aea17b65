"""An EmberZNet NCP without I/O: the EZSP command interpreter, its frame
sections (UG100's configuration, networking, messaging, security, tables and
CBKE frames) and the protocol versions composed from them."""

from han_emu.radio.fakencp.ezsp.ncp.messaging_frames import SentMessage
from han_emu.radio.fakencp.ezsp.ncp.v13 import EzspNcpV13
from han_emu.radio.fakencp.ezsp.ncp.v14 import EzspNcpV14

EzspNcp = EzspNcpV13
"""The protocol version the emulated stick speaks."""

__all__ = ["EzspNcp", "EzspNcpV13", "EzspNcpV14", "SentMessage"]
