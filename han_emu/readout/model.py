"""The readout model: the HAN values a display holds for each ESI endpoint.

Values are kept as the HAN carries them (raw integers plus the scaling the
meter advertises) and converted on the way out, so the readout equals the
meter model exactly when both use the same units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from clusters.metering import PREVIOUS_DAYS, PREVIOUS_MONTHS, PREVIOUS_WEEKS
from han_emu.readout.costs import Classifier, TierMark, premises_json

#: History kinds a SMETS2 IHD keeps, with how far back the Metering cluster
#: goes: 8 previous days, 5 previous weeks, 13 previous months.
HISTORY_DEPTH = {"day": PREVIOUS_DAYS[-1], "week": PREVIOUS_WEEKS[-1], "month": PREVIOUS_MONTHS[-1]}


@dataclass
class PriceInfo:
    """A PublishPrice received: the one in force, or one scheduled to start later."""

    price: int | None = None
    tier: int | None = None
    tiers: int | None = None
    trailing_digit: int | None = None
    currency: int | None = None
    generation_price: int | None = None
    generation_tier: int | None = None
    duration_minutes: int | None = None
    label: str | None = None
    start: float | None = None  # POSIX; None: in force from when it came


@dataclass
class PrepaymentInfo:
    """What the Prepayment cluster told a display about one element (raw HAN
    values: money in the meter's price trailing digit)."""

    control: int | None = None  # PaymentControlConfiguration
    credit: int | None = None
    emergency_credit: int | None = None
    status: int | None = None  # CreditStatus
    debt: int | None = None  # AccumulatedDebt
    low_credit_warning: int | None = None
    emergency_limit: int | None = None
    emergency_threshold: int | None = None
    total_added: int | None = None
    debts: dict[int, tuple[str | None, int | None]] = field(default_factory=dict)  # n -> (label, amount)
    last_top_up: tuple[int, int, int] | None = None  # (result, value, credit) of the last ConsumerTopUpResponse

    @property
    def prepayment_mode(self) -> bool | None:
        return None if self.control is None else bool(self.control & 0x0002)


@dataclass
class MessageInfo:
    """The last text message from the ESI (Messaging DisplayMessage), as a display holds it."""

    id: int
    text: str
    start: float | None  # None: "now", i.e. when it arrived
    duration_min: int | None  # None: until changed
    importance: str
    confirm_required: bool
    received_at: float | None = None
    confirmed: bool = False
    confirmed_at: float | None = None
    cancelled: bool = False

    @property
    def begins(self) -> float | None:
        """When it took effect (its start time, or its arrival for "now")."""
        return self.start if self.start is not None else self.received_at

    def showing(self, now: float | None) -> bool:
        """Whether a display shows it at ``now``: not cancelled, started, not expired."""
        if self.cancelled:
            return False
        begins = self.begins
        if now is None or begins is None:
            return True
        if now < begins:
            return False
        return self.duration_min is None or now < begins + 60.0 * self.duration_min

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "text": self.text, "start": self.begins, "duration_min": self.duration_min,
            "importance": self.importance, "confirm_required": self.confirm_required,
            "confirmed": self.confirmed, "confirmed_at": self.confirmed_at, "cancelled": self.cancelled,
        }


@dataclass
class ElementReadout:
    """Everything a display knows about one element (one ESI endpoint)."""

    endpoint: int
    role: str = "unknown"
    summation: dict[str, int] = field(default_factory=dict)  # "delivered"/"received" -> raw
    tiers: dict[tuple[str, int], int] = field(default_factory=dict)  # (direction, tier) -> raw
    active_tier: dict[str, int] = field(default_factory=dict)
    demand: int | None = None
    multiplier: int = 1
    divisor: int = 1
    unit: int | None = None
    site_id: str | None = None
    export_mpan: str | None = None
    serial: str | None = None
    ambient: int | None = None
    prices: dict[tuple[str, int], int] = field(default_factory=dict)  # (direction, tier) -> raw
    price_trailing_digit: int | None = None
    currency: int | None = None
    standing_charge: int | None = None
    tariff_label: dict[str, str] = field(default_factory=dict)
    history: dict[tuple[str, str, int], int | None] = field(default_factory=dict)  # (kind, dir, back)
    partial: dict[str, tuple[int, int]] = field(default_factory=dict)  # dir -> (start posix, raw)
    day_marks: dict[date, TierMark] = field(default_factory=dict)  # import tiers at each local midnight seen
    profile: dict[int, dict[int, int | None]] = field(default_factory=dict)  # channel -> end -> raw
    current_price: PriceInfo = field(default_factory=PriceInfo)
    next_price: PriceInfo | None = None  # a PublishPrice with a later start, until it starts
    prepayment: PrepaymentInfo = field(default_factory=PrepaymentInfo)
    updated: float | None = None

    # -- scaling -------------------------------------------------------------------
    def kwh(self, raw: int | None) -> Decimal | None:
        """Energy in kWh from a raw summation/consumption value."""
        if raw is None:
            return None
        return Decimal(raw) * self.multiplier / self.divisor

    def kw(self, raw: int | None) -> Decimal | None:
        return self.kwh(raw)

    def money(self, raw: int | None) -> Decimal | None:
        """GBP from a raw price or charge (the meter's trailing digit)."""
        if raw is None or self.price_trailing_digit is None:
            return None
        return Decimal(raw) / (Decimal(10) ** self.price_trailing_digit)

    # -- what the screens show --------------------------------------------------------
    def import_kw(self) -> Decimal | None:
        return None if self.demand is None else max(Decimal(0), self.kw(self.demand))  # type: ignore[arg-type]

    def export_kw(self) -> Decimal | None:
        return None if self.demand is None else max(Decimal(0), -self.kw(self.demand))  # type: ignore[operator]

    def price_now(self, direction: str = "delivered") -> Decimal | None:
        tier = self.active_tier.get(direction)
        if tier is None:
            return None
        return self.money(self.prices.get((direction, tier)))

    def cost_per_hour(self) -> Decimal | None:
        kw, price = self.import_kw(), self.price_now("delivered")
        return None if kw is None or price is None else kw * price

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON view (keys are strings; energy in kWh, money in GBP)."""

        def num(x: Decimal | None) -> float | None:
            return None if x is None else float(x)

        return {
            "endpoint": self.endpoint,
            "role": self.role,
            "import_kwh": num(self.kwh(self.summation.get("delivered"))),
            "export_kwh": num(self.kwh(self.summation.get("received"))),
            "demand_kw": num(self.kw(self.demand)),
            "tiers": {f"{d}{t}": num(self.kwh(v)) for (d, t), v in sorted(self.tiers.items())},
            "active_tier": dict(self.active_tier),
            "prices": {f"{d}{t}": num(self.money(v)) for (d, t), v in sorted(self.prices.items())},
            "standing_charge": num(self.money(self.standing_charge)),
            "mpan_import": self.site_id,
            "mpan_export": self.export_mpan,
            "history": {f"{k}:{d}:{b}": num(self.kwh(v)) for (k, d, b), v in sorted(self.history.items())},
            "profile_intervals": {str(ch): len(v) for ch, v in self.profile.items()},
            "prepayment": self.prepayment_json(),
        }

    def prepayment_json(self) -> dict[str, Any] | None:
        """Credit, emergency credit and debt in GBP (None until the Prepayment cluster was read)."""
        p = self.prepayment
        if p.control is None and p.credit is None:
            return None

        def gbp(raw: int | None) -> float | None:
            value = self.money(raw)
            return None if value is None else float(value)

        return {
            "mode": None if p.prepayment_mode is None else ("prepayment" if p.prepayment_mode else "credit"),
            "credit": gbp(p.credit),
            "emergency_credit": gbp(p.emergency_credit),
            "debt": gbp(p.debt),
            "credit_status": p.status,
            "debts": {str(n): {"label": label, "amount": gbp(amount)} for n, (label, amount) in sorted(p.debts.items())},
        }


@dataclass
class Readout:
    """Readouts for every ESI endpoint seen, plus the HAN clock."""

    elements: dict[int, ElementReadout] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)  # endpoint -> "primary"/"secondary"
    time_utc: float | None = None  # from the Time cluster
    time_local_offset: int | None = None
    time_read_at: float | None = None  # local clock when Time was read
    message: MessageInfo | None = None  # the last Messaging DisplayMessage
    #: The meter's Basic cluster as read (attribute name -> value): manufacturer, model, versions...
    basic: dict[str, Any] = field(default_factory=dict)

    def element(self, endpoint: int) -> ElementReadout:
        el = self.elements.get(endpoint)
        if el is None:
            el = ElementReadout(endpoint, role=self.roles.get(endpoint, "unknown"))
            self.elements[endpoint] = el
        return el

    def by_role(self, role: str) -> ElementReadout | None:
        for el in self.elements.values():
            if el.role == role:
                return el
        return None

    def to_json(self, now: float | None = None, ambient: Classifier | None = None) -> dict[str, Any]:
        """Every element, and the premises (both elements, with the split) as
        the display's clock stands at ``now`` (see ``costs``)."""
        return {
            "time_utc": self.time_utc,
            "message": None if self.message is None else self.message.to_json(),
            "basic": dict(self.basic),
            "elements": {el.role if el.role != "unknown" else str(ep): el.to_json() for ep, el in self.elements.items()},
            "premises": premises_json(self, now, ambient, HISTORY_DEPTH),
        }
