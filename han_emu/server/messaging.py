"""The Messaging cluster (0x0703) of the primary ESI, bound to the meter's message board.

GetLastMessage is answered with a DisplayMessage of the message in force (its
remaining duration, the confirmed bit in ExtendedMessageControl once a display
confirmed it), or a Default Response NOT_FOUND when there is none.
MessageConfirmation is recorded on the board (and logged) with the display's
confirmation time.  A client that asks GetLastMessage is remembered as a
display to push new messages to.  GetMessageCancellation is answered with the
CancelAllMessages the meter holds, when its implementation time is at or after
the one asked for (SE 1.4 D.5.2.3.3), else a Default Response NOT_FOUND.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from zigpy.zcl.foundation import Status

from clusters import posix_to_utctime, utctime_to_posix
from clusters.messaging import (
    DURATION_UNTIL_CHANGED,
    ExtendedMessageControl,
    Importance,
    Messaging,
    message_control,
)
from han_emu.meter.clock import Clock
from han_emu.meter.messages import IMPORTANCES, Message
from han_emu.meter.model import TwinMeter
from han_emu.server.command import ZclError, ZclReply, ZclRequest

LOGGER = logging.getLogger(__name__)

_CMD = Messaging.ClientCommandDefs
_REQ = Messaging.ServerCommandDefs


def display_message(message: Message) -> Any:
    """The DisplayMessage payload of ``message`` (its own start and duration)."""
    duration = DURATION_UNTIL_CHANGED if message.duration_min is None else min(message.duration_min,
                                                                                DURATION_UNTIL_CHANGED - 1)
    confirmed = ExtendedMessageControl.Confirmed if message.confirmed_at is not None else ExtendedMessageControl(0)
    return _CMD.display_message.schema(
        message_id=message.id,
        message_control=message_control(importance=Importance(IMPORTANCES.index(message.importance)),
                                        confirm=message.confirm),
        start_time=posix_to_utctime(message.start),
        duration_in_minutes=duration,
        message=message.text,
        extended_message_control=confirmed,
    )


def cancel_message(message: Message) -> Any:
    """The CancelMessage payload (MessageControl is deprecated there: 0x00)."""
    return _CMD.cancel_message.schema(message_id=message.id, message_control=0)


def cancel_all_messages(at: float) -> Any:
    """The CancelAllMessages payload: from when every message is withdrawn."""
    return _CMD.cancel_all_messages.schema(implementation_date_time=posix_to_utctime(at))


class MessagingServer:
    """Messaging on one ESI endpoint: the handlers and the displays heard from."""

    def __init__(self, meter: TwinMeter, clock: Clock) -> None:
        self.meter = meter
        self.clock = clock
        #: (NWK, endpoint) of the clients that asked GetLastMessage.
        self.subscribers: set[tuple[int, int]] = set()

    def get_last_message(self, request: ZclRequest) -> list[ZclReply]:
        src = request.packet.src
        if src is not None:
            self.subscribers.add((int(src.address), int(request.packet.src_ep or 0)))
        message = self.meter.messages.in_force(self.clock.now())
        if message is None:
            raise ZclError(Status.NOT_FOUND, "no message in force")
        return [ZclReply(_CMD.display_message.id, display_message(message))]

    def message_confirmation(self, request: ZclRequest) -> list[ZclReply]:
        args = request.args
        src = request.packet.src
        by = f"0x{int(src.address):04X}" if src is not None else "?"
        now = self.clock.now()
        try:
            confirmed_at = utctime_to_posix(int(args.confirmation_time))
        except ValueError:  # 0xFFFFFFFF: the display did not say when; take the arrival
            confirmed_at = now
        record = self.meter.messages.confirm(int(args.message_id), confirmed_at, now, by)
        if record.known:
            LOGGER.info("message %d confirmed by %s at %s", record.message_id, by, int(args.confirmation_time))
        else:
            LOGGER.warning("%s confirmed message %d, which is not the message in force", by, record.message_id)
        return []

    def get_message_cancellation(self, request: ZclRequest) -> list[ZclReply]:
        earliest = int(request.args.earliest_implementation_time)
        at = self.meter.messages.cancellation_since(utctime_to_posix(earliest) if earliest else 0.0)
        if at is None:
            raise ZclError(Status.NOT_FOUND, "no CancelAllMessages at or after that time")
        return [ZclReply(_CMD.cancel_all_messages.id, cancel_all_messages(at))]

    def handlers(self) -> dict[int, tuple[Callable[[ZclRequest], list[ZclReply]], tuple[int, ...]]]:
        """Command id -> (handler, ids it may answer with)."""
        return {
            _REQ.get_last_message.id: (self.get_last_message, (_CMD.display_message.id,)),
            _REQ.message_confirmation.id: (self.message_confirmation, ()),
            _REQ.get_message_cancellation.id: (self.get_message_cancellation, (_CMD.cancel_all_messages.id,)),
        }
