"""On-air frame codecs: 802.15.4 MAC, Zigbee NWK/APS (+AES-CCM*), ZCL header,
ZEP and pcap/pcapng/TAP; and the one frame decoder.

Each format is one construct declaration used to parse and to build;
``fastparse`` is the struct reading of the MAC, NWK and APS headers for the
decoder's hot path, tested to agree with the declarations (docs/codecs.md).
``decoder.Decoder`` peels frames for replay; ``decode`` is the same decoder
with every layer parsed by the declarations.
"""

from han_emu.frames.errors import CaptureError, FcsError, FrameError, MicError
from han_emu.frames import fastparse
from han_emu.frames.decoder import Decoder
from han_emu.frames.keyring import KeyRing
from han_emu.frames.pcap import CaptureRecord, LinkType, PcapngWriter, PcapWriter, read_capture
from han_emu.frames.record import RawFrame
from han_emu.frames.stack import CaptureReport, DecodedFrame, SkippedFrame, decode, decode_capture, encode

__all__ = [
    "CaptureError",
    "CaptureRecord",
    "CaptureReport",
    "DecodedFrame",
    "Decoder",
    "FcsError",
    "FrameError",
    "KeyRing",
    "LinkType",
    "MicError",
    "PcapWriter",
    "PcapngWriter",
    "RawFrame",
    "SkippedFrame",
    "decode",
    "decode_capture",
    "encode",
    "fastparse",
    "read_capture",
]
