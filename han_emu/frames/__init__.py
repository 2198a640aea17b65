"""On-air frame codecs: 802.15.4 MAC, Zigbee NWK/APS (+AES-CCM*), ZCL header,
ZEP and pcap/pcapng/TAP; and the one frame decoder.

Each format is one construct declaration used to parse and to build;
``fastparse`` is the struct reading of the MAC, NWK and APS headers for the
decoder's hot path, tested to agree with the declarations (docs/codecs.md).
``decoder.Decoder`` peels frames for replay; ``decode`` is the same decoder
with every layer parsed by the declarations.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from han_emu.frames import fastparse
    from han_emu.frames.decoder import Decoder
    from han_emu.frames.errors import CaptureError, FcsError, FrameError, MicError
    from han_emu.frames.keyring import KeyRing
    from han_emu.frames.pcap import CaptureRecord, LinkType, PcapngWriter, PcapWriter, read_capture
    from han_emu.frames.record import RawFrame
    from han_emu.frames.stack import CaptureReport, DecodedFrame, SkippedFrame, decode, decode_capture, encode

#: Where each name of the package lives, loaded on first use (PEP 562): a
#: module that needs one codec does not import every other with it.
_HOMES = {
    "CaptureError": "errors", "FcsError": "errors", "FrameError": "errors", "MicError": "errors",
    "Decoder": "decoder", "KeyRing": "keyring", "CaptureRecord": "pcap", "LinkType": "pcap",
    "PcapngWriter": "pcap", "PcapWriter": "pcap", "read_capture": "pcap", "RawFrame": "record",
    "CaptureReport": "stack", "DecodedFrame": "stack", "SkippedFrame": "stack", "decode": "stack",
    "decode_capture": "stack", "encode": "stack",
}


def __getattr__(name: str) -> Any:
    if name == "fastparse":
        return importlib.import_module("han_emu.frames.fastparse")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'han_emu.frames' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"han_emu.frames.{home}"), name)
    globals()[name] = value
    return value


__all__ = [*_HOMES, "fastparse"]  # the names are listed once, in _HOMES
