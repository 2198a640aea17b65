"""The meter's text messages: the schedule, the message in force, its confirmations.

Pure: times are POSIX seconds given by the caller.  The ESI turns these into
Messaging commands (DisplayMessage, CancelMessage); the board is saved with the
meter (:meth:`MessageBoard.to_state`) so the message in force, its id and its
confirmation survive a restart.

A scheduled message is due once: the board remembers which scheduled messages
it has delivered (by start time and text), so a restart does not send an
absolute-time message again.  A relative one (``+2h``) counts from the run's
start: each run schedules it anew.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterable

#: Importance names, in MessageControl order (SE 1.4: low, medium, high, critical).
IMPORTANCES = ("low", "medium", "high", "critical")
#: Confirmations kept (newest last).
CONFIRMATIONS_KEPT = 50
_MAX_ID = 0xFFFFFFFF


@dataclass(frozen=True)
class ScheduledMessage:
    """One ``[[messages]]`` entry: at an absolute time (``at``) or ``after_s``
    seconds from the run's start; ``duration_min`` None: until changed."""

    text: str
    at: float | None = None
    after_s: float | None = None
    duration_min: int | None = None
    confirm: bool = False
    importance: str = "medium"

    def start(self, anchor: float) -> float:
        """When it is due, for a run that started at ``anchor``."""
        if self.at is not None:
            return self.at
        return anchor + (self.after_s or 0.0)


@dataclass
class Message:
    """A message the meter has sent (the one in force, or the last one)."""

    id: int
    text: str
    start: float
    duration_min: int | None = None  # None: until changed
    confirm: bool = False
    importance: str = "medium"
    confirmed_at: float | None = None  # the display's confirmation time
    confirmed_by: str | None = None
    cancelled: bool = False

    @property
    def end(self) -> float | None:
        return None if self.duration_min is None else self.start + 60.0 * self.duration_min

    def in_force(self, now: float) -> bool:
        """Started, not over, not cancelled."""
        end = self.end
        return not self.cancelled and self.start <= now and (end is None or now < end)


@dataclass(frozen=True)
class Confirmation:
    """A MessageConfirmation as the meter received it."""

    message_id: int
    confirmed_at: float  # the display's ConfirmationTime
    received_at: float  # the meter's clock when it arrived
    by: str  # who sent it (an address, as the server names it)
    known: bool  # it named the message in force


@dataclass
class MessageBoard:
    """The message in force, what is scheduled, and who confirmed what."""

    current: Message | None = None
    next_id: int = 1
    confirmations: list[Confirmation] = field(default_factory=list)
    delivered: set[str] = field(default_factory=set)
    pending: list[tuple[float, str, ScheduledMessage]] = field(default_factory=list)
    #: When the meter last cancelled every message (CancelAllMessages), for
    #: GetMessageCancellation; None: never.
    cancelled_all_at: float | None = None

    # -- scheduling ---------------------------------------------------------------
    @staticmethod
    def _key(start: float, text: str) -> str:
        return f"{int(start)}|{text}"

    def schedule(self, items: Iterable[ScheduledMessage], anchor: float) -> None:
        """Take the configured messages for a run that starts at ``anchor``;
        those already delivered (by an earlier run) are left out."""
        self.pending = []
        keys = set()
        for item in items:
            start = float(int(item.start(anchor)))  # whole seconds, as UTCTime carries them
            key = self._key(start, item.text)
            keys.add(key)
            if key not in self.delivered:
                self.pending.append((start, key, item))
        self.pending.sort(key=lambda p: p[0])
        self.delivered &= keys  # what the configuration no longer has is forgotten

    def next_due(self) -> float | None:
        return self.pending[0][0] if self.pending else None

    def due(self, now: float) -> list[Message]:
        """Scheduled messages whose time has come, each now the message in force
        (the last one wins).  One whose whole duration passed unseen (the meter
        was down) is skipped, but counts as delivered."""
        out = []
        while self.pending and self.pending[0][0] <= now:
            start, key, item = self.pending.pop(0)
            self.delivered.add(key)
            message = self._new(item.text, start, item.duration_min, item.confirm, item.importance)
            if message.end is not None and message.end <= now:
                continue
            self.current = message
            out.append(message)
        return out

    def compose(self, text: str, now: float, *, duration_min: int | None = None, confirm: bool = False,
                importance: str = "medium") -> Message:
        """A new message from now on (the dashboard's key): it replaces the one in force."""
        self.current = self._new(text, now, duration_min, confirm, importance)
        return self.current

    def _new(self, text: str, start: float, duration_min: int | None, confirm: bool, importance: str) -> Message:
        if importance not in IMPORTANCES:
            raise ValueError(f"importance must be one of {', '.join(IMPORTANCES)}, not {importance!r}")
        message = Message(self.next_id, text, float(start), duration_min, confirm, importance)
        self.next_id = self.next_id % _MAX_ID + 1
        return message

    # -- the message in force -----------------------------------------------------------
    def in_force(self, now: float) -> Message | None:
        """The message a display should show at ``now`` (None: none, expired or cancelled)."""
        current = self.current
        return current if current is not None and current.in_force(now) else None

    def cancel(self, now: float) -> Message | None:
        """Withdraw the message in force; returns it (None: there was none)."""
        message = self.in_force(now)
        if message is not None:
            message.cancelled = True
        return message

    def cancel_all(self, now: float) -> Message | None:
        """Withdraw every message from ``now`` (CancelAllMessages) and remember
        when, so a display that was away can ask for it; returns the message
        that was in force, if any."""
        message = self.cancel(now)
        self.cancelled_all_at = float(int(now))  # whole seconds, as UTCTime carries them
        return message

    def cancellation_since(self, earliest: float) -> float | None:
        """The CancelAllMessages held with an implementation time at or after
        ``earliest`` (SE 1.4 D.5.2.3.3: the server holds the last one), or None."""
        at = self.cancelled_all_at
        return at if at is not None and at >= earliest else None

    def confirm(self, message_id: int, confirmed_at: float, received_at: float, by: str) -> Confirmation:
        """Record a MessageConfirmation; it confirms the current message when the ids match."""
        current = self.current
        known = current is not None and current.id == message_id
        if known and current is not None and current.confirmed_at is None:
            current.confirmed_at = confirmed_at
            current.confirmed_by = by
        record = Confirmation(message_id, confirmed_at, received_at, by, known)
        self.confirmations = [*self.confirmations, record][-CONFIRMATIONS_KEPT:]
        return record

    # -- persistence -----------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """JSON-ready; the schedule itself is not kept (it comes from the configuration)."""
        return {
            "current": None if self.current is None else asdict(self.current),
            "next_id": self.next_id,
            "confirmations": [asdict(c) for c in self.confirmations],
            "delivered": sorted(self.delivered),
            "cancelled_all_at": self.cancelled_all_at,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> MessageBoard:
        """The board :meth:`to_state` saved (None, from a state file older than
        messages: an empty board)."""
        if not state:
            return cls()
        current = state.get("current")
        board = cls(
            current=None if current is None else Message(**current),
            next_id=int(state.get("next_id", 1)),
            confirmations=[Confirmation(**c) for c in state.get("confirmations", [])],
            delivered={str(k) for k in state.get("delivered", [])},
            cancelled_all_at=None if state.get("cancelled_all_at") is None else float(state["cancelled_all_at"]),
        )
        if board.current is not None:
            board.current = replace(board.current, start=float(board.current.start))
        return board
