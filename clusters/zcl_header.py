"""The ZCL frame header (ZCL 2.4.1): the fast reading every hot path uses.

The one declaration of the header is the construct ``ZclFrame`` in
``han_emu.frames.zcl`` (build, tests, the whole-frame decoder); this module
reads and writes the same three-to-five bytes with plain integer operations,
because the layers that need it most (the ESI server, the simulated devices,
the readout, replay) sit below the codecs or run per frame.  zigpy's
``foundation.ZCLHeader`` costs about 75 us to parse or build, which dominates
a simulated day of HAN traffic; :class:`ZclHeader` is a slotted dataclass with
the attribute names the code uses from zigpy's class
(``frame_control.frame_type``, ``.direction``, ``tsn``...), so it can stand in
for it.  Tests hold :func:`read_header` and :class:`ZclHeader` to the construct
declaration byte for byte and to zigpy on every input (docs/codecs.md).
:func:`read_header` and the flags live in ``clusters.zcl_frame``, which needs
no zigpy (a capture replay reads headers without it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from zigpy.zcl.foundation import Direction, FrameType

from clusters.zcl_frame import (  # noqa: F401 - the header's bytes, read here as before
    DISABLE_DEFAULT_RESPONSE,
    FRAME_TYPE_MASK,
    MANUFACTURER_SPECIFIC,
    SERVER_TO_CLIENT,
    read_header,
)


@dataclass(frozen=True, slots=True)
class FrameControl:
    frame_type: FrameType
    is_manufacturer_specific: bool
    direction: Direction
    disable_default_response: bool
    reserved: int = 0

    @property
    def is_general(self) -> bool:
        return self.frame_type == FrameType.GLOBAL_COMMAND

    @property
    def is_cluster(self) -> bool:
        return self.frame_type == FrameType.CLUSTER_COMMAND

    def replace(self, **changes: object) -> "FrameControl":
        if "disable_default_response" in changes:
            changes["disable_default_response"] = bool(changes["disable_default_response"])
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_byte(self) -> int:
        return (
            int(self.frame_type)
            | (MANUFACTURER_SPECIFIC if self.is_manufacturer_specific else 0)
            | (SERVER_TO_CLIENT if self.direction == Direction.Server_to_Client else 0)
            | (DISABLE_DEFAULT_RESPONSE if self.disable_default_response else 0)
            | (self.reserved << 5)
        )


_FRAME_CONTROLS: dict[int, FrameControl] = {}
"""Frame control byte -> its (immutable) reading: a frame control is one of a
few bytes, read per frame on every hot path."""


@dataclass(slots=True)
class ZclHeader:
    frame_control: FrameControl
    tsn: int
    command_id: int
    manufacturer: int | None = None

    @property
    def direction(self) -> Direction:
        return self.frame_control.direction

    def serialize(self) -> bytes:
        fc = self.frame_control
        if self.manufacturer is not None and not fc.is_manufacturer_specific:
            fc = fc.replace(is_manufacturer_specific=True)
        if fc.is_manufacturer_specific:
            mfr = self.manufacturer or 0
            return bytes((fc.to_byte(), mfr & 0xFF, mfr >> 8, self.tsn, self.command_id))
        return bytes((fc.to_byte(), self.tsn, self.command_id))

    @classmethod
    def deserialize(cls, data: bytes) -> tuple["ZclHeader", bytes]:
        """Parse the header; raises ValueError when ``data`` is too short."""
        b, manufacturer, tsn, command_id, off = read_header(data)
        fc = _FRAME_CONTROLS.get(b)
        if fc is None:
            fc = _FRAME_CONTROLS[b] = FrameControl(
                frame_type=FrameType(b & FRAME_TYPE_MASK),
                is_manufacturer_specific=bool(b & MANUFACTURER_SPECIFIC),
                direction=Direction.Server_to_Client if b & SERVER_TO_CLIENT else Direction.Client_to_Server,
                disable_default_response=bool(b & DISABLE_DEFAULT_RESPONSE),
                reserved=b >> 5,
            )
        return cls(fc, tsn, command_id, manufacturer), data[off:]

    @classmethod
    def make(
        cls,
        tsn: int,
        command_id: int,
        *,
        general: bool,
        direction: Direction = Direction.Client_to_Server,
        manufacturer: int | None = None,
        disable_default_response: bool = False,
    ) -> "ZclHeader":
        fc = FrameControl(
            FrameType.GLOBAL_COMMAND if general else FrameType.CLUSTER_COMMAND,
            manufacturer is not None,
            direction,
            disable_default_response,
        )
        return cls(fc, tsn & 0xFF, command_id & 0xFF, manufacturer)
