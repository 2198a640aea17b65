"""The one exception type the frame codecs raise.

Callers (replay, radio adapters, the TUI) catch a single type and can still
tell which layer refused the bytes and why; construct's and struct's own
errors never escape the codecs.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import construct

T = TypeVar("T")


class FrameError(ValueError):
    """Bytes that a layer cannot parse, or a value it cannot build."""

    def __init__(self, layer: str, reason: str) -> None:
        self.layer = layer
        self.reason = reason
        super().__init__(f"{layer}: {reason}")


class MicError(FrameError):
    """AES-CCM* authentication failed: wrong key, wrong nonce or tampered bytes."""

    def __init__(self, layer: str, detail: str = "") -> None:
        reason = "MIC check failed" + (f" ({detail})" if detail else "")
        super().__init__(layer, reason)


class FcsError(FrameError):
    """The 802.15.4 frame check sequence does not match the frame."""


class CaptureError(FrameError):
    """A pcap/pcapng file is truncated or malformed at ``offset`` (in record
    ``record``, counted from 0, when the file's header was sound)."""

    def __init__(self, offset: int, reason: str, record: int | None = None) -> None:
        self.offset = offset
        self.record = record
        self.detail = reason
        prefix = f"record {record}: " if record is not None else ""
        super().__init__("capture", f"{prefix}{reason} at offset {offset}")


def guarded(layer: str, action: Callable[[], T]) -> T:
    """Run a construct parse/build, turning its errors into FrameError."""
    try:
        return action()
    except FrameError:
        raise
    except construct.ChecksumError as exc:
        raise FcsError(layer, _short(exc)) from None
    except construct.StreamError as exc:
        raise FrameError(layer, f"truncated: {_short(exc)}") from None
    except (construct.ConstructError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise FrameError(layer, _short(exc)) from None


def _short(exc: Any) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
