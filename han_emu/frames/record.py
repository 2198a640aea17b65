"""One 802.15.4 frame as a capture or a sniffer delivered it: what the decoder takes."""

from __future__ import annotations

from dataclasses import dataclass

from han_emu.frames.fcs import fcs_bytes


@dataclass(slots=True)
class RawFrame:
    """One 802.15.4 frame from a capture.

    ``frame`` is the MAC frame without FCS; ``fcs`` the two bytes stored after
    it (None when the capture has none).  ``index`` is 1-based, counting every
    record of the file as Wireshark numbers them.
    """

    index: int
    time: float
    frame: bytes
    fcs: bytes | None
    offset: int
    channel: int | None = None
    page: int | None = None

    @property
    def fcs_ok(self) -> bool | None:
        return None if self.fcs is None else fcs_bytes(self.frame) == self.fcs

    @property
    def psdu(self) -> bytes:
        """The frame as sent on air (the stored FCS, or the computed one)."""
        return self.frame + (self.fcs if self.fcs is not None else fcs_bytes(self.frame))
