"""On-air frame codecs: 802.15.4 MAC, Zigbee NWK/APS (+AES-CCM*), ZCL header,
ZEP and pcap/pcapng/TAP.

Each format is one construct declaration used to parse and to build;
``fastparse`` is the struct-based header reader for the replay hot path.
"""

from han_emu.frames.errors import CaptureError, FcsError, FrameError, MicError
from han_emu.frames import fastparse
from han_emu.frames.keys import KeyRing
from han_emu.frames.pcap import CaptureRecord, LinkType, PcapngWriter, PcapWriter, read_capture
from han_emu.frames.stack import CaptureReport, DecodedFrame, SkippedFrame, decode, decode_capture, encode

__all__ = [
    "CaptureError",
    "CaptureRecord",
    "CaptureReport",
    "DecodedFrame",
    "FcsError",
    "FrameError",
    "KeyRing",
    "LinkType",
    "MicError",
    "PcapWriter",
    "PcapngWriter",
    "SkippedFrame",
    "decode",
    "decode_capture",
    "encode",
    "fastparse",
    "read_capture",
]
