"""Messaging cluster (0x0703, SE 1.4 Annex D.5): text messages for the displays.

zigpy 2.4 declares the cluster id only.  Layouts follow SE 1.4 as Wireshark's SE
dissector (packet-zbee-zcl-se.c, "MESSAGING CLUSTER") reads them:

* DisplayMessage / DisplayProtectedMessage: MessageID u32, MessageControl map8,
  StartTime UTC (0 = now), DurationInMinutes u16 (0xFFFF = until changed),
  Message (ZCL character string, UTF-8), optional ExtendedMessageControl map8
  (bit 0: the message has been confirmed).
* CancelMessage: MessageID u32, MessageControl map8 (deprecated: 0x00).
* CancelAllMessages: ImplementationDateTime UTC.
* GetLastMessage: no payload.  MessageConfirmation: MessageID u32,
  ConfirmationTime UTC, optional MessageConfirmationControl map8 and
  MessageResponse (octet string).  GetMessageCancellation: EarliestImplementationTime UTC.

The cluster has no attributes of its own.
"""

from __future__ import annotations

from typing import Final

import zigpy.types as t
from zigpy.zcl import Cluster
from zigpy.zcl.foundation import BaseCommandDefs, ZCLCommandDef

from clusters import ids

#: DurationInMinutes meaning "until changed".
DURATION_UNTIL_CHANGED: Final = 0xFFFF
#: StartTime meaning "now".
START_NOW: Final = 0
#: The longest message text (UTF-8 bytes) whose DisplayMessage fits one
#: APS-encrypted frame: 82 bytes of ZCL frame less the 3-byte header and
#: 13 bytes of fixed fields (id 4, control 1, start 4, duration 2, length 1,
#: extended control 1).  SE allows longer messages over APS fragmentation;
#: han-emu keeps to one frame (a choice, not a rule of the specification).
MAX_MESSAGE_BYTES: Final = 66
#: MessageResponse of MessageConfirmation: at most 20 bytes (SE 1.4).
MessageResponse = t.LimitedLVBytes(20)


class Utf8String(t.CharacterString):
    """A ZCL character string whose length byte counts UTF-8 bytes.

    zigpy's CharacterString counts characters, which is wrong for any text
    beyond ASCII ("£" is two bytes); SE messages are UTF-8.
    """

    def serialize(self) -> bytes:
        if self.invalid:
            return b"\xff"
        data = self.encode("utf-8", errors="surrogateescape")
        if len(data) >= 0xFF:
            raise ValueError("string is too long (a ZCL character string holds at most 254 bytes)")
        return bytes([len(data)]) + data

    @classmethod
    def deserialize(cls, data: bytes) -> tuple["Utf8String", bytes]:
        """Every byte kept: a NUL or a byte that is not UTF-8 survives a round trip
        (zigpy's reading stops at the first NUL and replaces bad bytes)."""
        if not data:
            raise ValueError("Data is too short")
        length = data[0]
        if length == 0xFF:
            return cls("", invalid=True), data[1:]
        if len(data) < 1 + length:
            raise ValueError("Data is too short")
        raw = data[1 : 1 + length]
        text = cls(raw.decode("utf-8", errors="surrogateescape"))
        text.raw = raw
        return text, data[1 + length :]


class Transmission(t.enum2):
    """MessageControl bits 0-1."""

    Normal = 0b00
    Normal_And_Interpan = 0b01
    Interpan_Only = 0b10
    Reserved = 0b11


class Importance(t.enum2):
    """MessageControl bits 2-3."""

    Low = 0b00
    Medium = 0b01
    High = 0b10
    Critical = 0b11


class MessageControl(t.IntStruct, t.uint8_t):
    """MessageControl: transmission (bits 0-1), importance (2-3), reserved (4),
    enhanced confirmation required (5, SE 1.2+), reserved (6), confirmation
    required (7)."""

    transmission: Transmission
    importance: Importance
    reserved4: t.uint1_t
    enhanced_confirmation_required: t.uint1_t
    reserved6: t.uint1_t
    confirmation_required: t.uint1_t


class ExtendedMessageControl(t.bitmap8):
    """ExtendedMessageControl (SE 1.2+): bit 0, the message has been confirmed."""

    Confirmed = 0x01


class MessageConfirmationControl(t.bitmap8):
    """MessageConfirmationControl of an enhanced confirmation: the user's answer."""

    No = 0x01
    Yes = 0x02


def message_control(*, importance: Importance = Importance.Medium, confirm: bool = False,
                    transmission: Transmission = Transmission.Normal) -> MessageControl:
    """A MessageControl byte (reserved bits zero, no enhanced confirmation)."""
    return MessageControl(transmission=transmission, importance=importance, reserved4=0,
                          enhanced_confirmation_required=0, reserved6=0,
                          confirmation_required=1 if confirm else 0)


_DISPLAY = {
    "message_id": t.uint32_t,
    "message_control": MessageControl,
    "start_time": t.UTCTime,
    "duration_in_minutes": t.uint16_t,
    "message": Utf8String,
    "extended_message_control?": ExtendedMessageControl,
}


class Messaging(Cluster):
    """Smart Energy Messaging: the ESI sends, the displays show and confirm."""

    _skip_registry = True

    cluster_id: Final[t.uint16_t] = ids.MESSAGING
    ep_attribute: Final = "smartenergy_messaging"

    class ServerCommandDefs(BaseCommandDefs):
        """Client -> server."""

        get_last_message: Final = ZCLCommandDef(id=0x00, schema={})
        message_confirmation: Final = ZCLCommandDef(
            id=0x01,
            schema={
                "message_id": t.uint32_t,
                "confirmation_time": t.UTCTime,
                "message_confirmation_control?": MessageConfirmationControl,
                "message_response?": MessageResponse,
            },
        )
        get_message_cancellation: Final = ZCLCommandDef(
            id=0x02, schema={"earliest_implementation_time": t.UTCTime}
        )

    class ClientCommandDefs(BaseCommandDefs):
        """Server -> client."""

        display_message: Final = ZCLCommandDef(id=0x00, schema=dict(_DISPLAY))
        cancel_message: Final = ZCLCommandDef(
            id=0x01, schema={"message_id": t.uint32_t, "message_control": MessageControl}
        )
        display_protected_message: Final = ZCLCommandDef(id=0x02, schema=dict(_DISPLAY))
        cancel_all_messages: Final = ZCLCommandDef(
            id=0x03, schema={"implementation_date_time": t.UTCTime}
        )
