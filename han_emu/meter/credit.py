"""The prepayment account of one element: credit, emergency credit and debts.

Pure bookkeeping in GBP (floats), driven by the meter as it integrates energy.
What is modelled (SE 1.4 D.7 and SMETS2's prepayment rules, simplified):

* **Modes.**  In *credit* mode the meter bills on account: consumption does not
  draw the balance, nothing is recovered and emergency credit is not offered;
  top-ups are still accepted and added (they show as credit).  In
  *prepayment* mode everything below applies.
* **Charges.**  Import energy at the price of the import tier it was measured
  in, plus the import tariff's standing charge pro rata by the second.
* **Debt recovery.**  Time-based debts are recovered pro rata by the second at
  their rate (per hour, day, week, month = 1/12 year, quarter = 1/4 year)
  while there is credit; recovery pauses once credit is used up.  Percentage-
  based debts take their share of every top-up before the rest is credited.
  A debt stops being recovered at zero.
* **Emergency credit.**  Once credit falls below the threshold, emergency
  credit (the configured limit) becomes available; once selected it is drawn
  when credit reaches zero.  A top-up repays the emergency credit used before
  it adds to the balance; when it is fully repaid the selection ends.
* **Exhausted.**  Credit below zero with no emergency credit left to draw:
  the Credit Exhausted status.  The emulator does not interrupt the supply
  (the scenario's flows go on), so the balance goes negative and a top-up
  repays it first.
* **Top-ups.**  A lab UTRN is any 20-digit code; its value is the element's
  configured ``top_up_amount`` (real UTRNs carry an encrypted value).  A code
  already in the top-up log is a duplicate.
* **Snapshots.**  One on each top-up (cause Top Up Addition) and one at each GB
  local midnight (cause General), for GetPrepaySnapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

CREDIT = "credit"
PREPAYMENT = "prepayment"
MODES = (CREDIT, PREPAYMENT)
TIME_BASED = "time"
PERCENTAGE_BASED = "percentage"
RECOVERY_METHODS = (TIME_BASED, PERCENTAGE_BASED)
#: Seconds per recovery period, by the SE DebtRecoveryFrequency names used in the configuration.
PERIODS: dict[str, float] = {
    "hour": 3600.0,
    "day": 86400.0,
    "week": 7 * 86400.0,
    "month": 365.2425 * 86400.0 / 12,
    "quarter": 365.2425 * 86400.0 / 4,
}
UTRN_DIGITS = 20
TOP_UP_LOG = 30
SNAPSHOTS = 32

# Credit status bits (SE 1.4 Table D-131; the cluster declaration names them too).
CREDIT_OK = 0x01
LOW_CREDIT = 0x02
EC_ENABLED = 0x04
EC_AVAILABLE = 0x08
EC_SELECTED = 0x10
EC_IN_USE = 0x20
CREDIT_EXHAUSTED = 0x40

# Snapshot causes this model takes (SE 1.4 Table D-151).
CAUSE_GENERAL = 0x00000001
CAUSE_TOP_UP = 0x00040000

# Top-up outcomes (SE 1.4 Table D-154 values).
ACCEPTED = 0x00
REJECTED_INVALID = 0x01
REJECTED_DUPLICATE = 0x02


class PrepaymentError(ValueError):
    """A prepayment setting that cannot work; the message names the field."""


@dataclass(frozen=True)
class DebtSettings:
    """One debt as configured: what is owed and how it is recovered."""

    label: str
    amount: Decimal
    method: str = TIME_BASED
    #: Time-based: GBP recovered per ``frequency``.
    rate: Decimal = Decimal(0)
    frequency: str = "day"
    #: Percentage-based: the share of each top-up, in percent.
    percentage: Decimal = Decimal(0)

    def validate(self, where: str) -> None:
        if len(self.label.encode("utf-8")) > 12:
            raise PrepaymentError(f"{where}.label: at most 12 bytes (the HAN's DebtLabel)")
        if self.amount < 0:
            raise PrepaymentError(f"{where}.amount: cannot be negative")
        if self.method not in RECOVERY_METHODS:
            raise PrepaymentError(f"{where}.method: {' or '.join(RECOVERY_METHODS)}, got {self.method!r}")
        if self.rate < 0:
            raise PrepaymentError(f"{where}.rate: cannot be negative")
        if self.frequency not in PERIODS:
            raise PrepaymentError(f"{where}.frequency: one of {', '.join(PERIODS)}, got {self.frequency!r}")
        if not 0 <= self.percentage <= 100:
            raise PrepaymentError(f"{where}.percentage: 0..100, got {self.percentage}")


@dataclass(frozen=True)
class PrepaymentSettings:
    """One element's payment settings (amounts in GBP)."""

    mode: str = CREDIT
    initial_credit: Decimal = Decimal("10.00")
    emergency_credit_limit: Decimal = Decimal("5.00")
    emergency_credit_threshold: Decimal = Decimal("1.00")
    low_credit_warning: Decimal = Decimal("2.00")
    #: What one lab UTRN is worth.
    top_up_amount: Decimal = Decimal("10.00")
    debts: tuple[DebtSettings, ...] = ()

    def validate(self, where: str) -> None:
        if self.mode not in MODES:
            raise PrepaymentError(f"{where}.mode: {' or '.join(MODES)}, got {self.mode!r}")
        for name in ("emergency_credit_limit", "emergency_credit_threshold", "low_credit_warning"):
            if getattr(self, name) < 0:
                raise PrepaymentError(f"{where}.{name}: cannot be negative")
        if self.top_up_amount <= 0:
            raise PrepaymentError(f"{where}.top_up_amount: must be above zero")
        if len(self.debts) > 3:
            raise PrepaymentError(f"{where}.debts: at most 3 (the HAN carries debts 1..3)")
        for i, debt in enumerate(self.debts):
            debt.validate(f"{where}.debts[{i}]")


@dataclass
class DebtState:
    """One debt as it stands."""

    settings: DebtSettings
    amount: float

    def take(self, wanted: float) -> float:
        got = min(max(wanted, 0.0), self.amount)
        self.amount -= got
        return got


@dataclass(frozen=True)
class TopUp:
    time: float
    amount: float
    device: int  # SE OriginatingDevice
    code: str


@dataclass(frozen=True)
class Snapshot:
    id: int
    time: float
    cause: int
    credit: float
    emergency_credit: float
    debts: tuple[float, ...]

    @property
    def accumulated_debt(self) -> float:
        return sum(self.debts)


@dataclass(frozen=True)
class TopUpResult:
    result: int
    amount: float  # credited value, 0 when rejected


def utrn_valid(code: str) -> bool:
    """A well-formed lab UTRN: exactly 20 ASCII digits."""
    return len(code) == UTRN_DIGITS and code.isascii() and code.isdigit()


def lab_utrn(serial: int) -> str:
    """A well-formed lab UTRN made from a number (what the simulated PPMID's
    keypad enters): 20 digits, zero-padded."""
    return f"{serial % 10**UTRN_DIGITS:0{UTRN_DIGITS}d}"


@dataclass
class PrepaymentAccount:
    """The balances, logs and selection of one element."""

    settings: PrepaymentSettings
    time: float
    credit: float = 0.0
    emergency_credit: float = 0.0
    emergency_selected: bool = False
    total_added: float = 0.0
    debts: list[DebtState] = field(default_factory=list)
    top_ups: list[TopUp] = field(default_factory=list)  # oldest first
    snapshots: list[Snapshot] = field(default_factory=list)  # oldest first
    next_snapshot_id: int = 1

    @classmethod
    def new(cls, settings: PrepaymentSettings, time: float) -> PrepaymentAccount:
        return cls(
            settings,
            time,
            credit=float(settings.initial_credit),
            emergency_credit=float(settings.emergency_credit_limit),
            debts=[DebtState(d, float(d.amount)) for d in settings.debts],
        )

    @property
    def prepayment(self) -> bool:
        return self.settings.mode == PREPAYMENT

    @property
    def accumulated_debt(self) -> float:
        return sum((d.amount for d in self.debts), 0.0)

    @property
    def emergency_limit(self) -> float:
        return float(self.settings.emergency_credit_limit)

    # -- what the HAN shows ---------------------------------------------------------------
    def status(self) -> int:
        """The CreditStatus bitmap (SE 1.4 Table D-131)."""
        if not self.prepayment:
            return CREDIT_OK
        bits = EC_ENABLED if self.emergency_limit > 0 else 0
        if self.credit > 0:
            bits |= CREDIT_OK if self.credit > float(self.settings.low_credit_warning) else LOW_CREDIT
        elif self.emergency_selected and self.emergency_credit > 0:
            bits |= EC_IN_USE
        else:
            bits |= CREDIT_EXHAUSTED
        if self.emergency_selected:
            bits |= EC_SELECTED
        elif self.emergency_available():
            bits |= EC_AVAILABLE
        return bits

    def emergency_available(self) -> bool:
        """Emergency credit can be selected: prepayment mode, below the
        threshold, not yet selected and some left."""
        return (self.prepayment and not self.emergency_selected and self.emergency_credit > 0
                and self.credit < float(self.settings.emergency_credit_threshold))

    # -- driving ---------------------------------------------------------------------------
    def charge(self, to: float, import_kwh: float, price: float, standing_per_day: float) -> None:
        """Account for the time up to ``to``: ``import_kwh`` at ``price`` GBP/kWh,
        the standing charge and time-based debt recovery (prepayment mode only)."""
        seconds = max(0.0, to - self.time)
        self.time = max(self.time, to)
        if not self.prepayment or seconds == 0.0 and import_kwh == 0.0:
            return
        cost = import_kwh * price + standing_per_day * seconds / 86400.0
        if self.credit > 0:
            for debt in self.debts:
                s = debt.settings
                if s.method == TIME_BASED and debt.amount > 0:
                    cost += debt.take(float(s.rate) * seconds / PERIODS[s.frequency])
        self._draw(cost)

    def _draw(self, amount: float) -> None:
        if amount <= self.credit:
            self.credit -= amount
            return
        amount -= max(self.credit, 0.0)
        self.credit = min(self.credit, 0.0)
        if self.emergency_selected and self.emergency_credit > 0:
            used = min(amount, self.emergency_credit)
            self.emergency_credit -= used
            amount -= used
        self.credit -= amount

    def select_emergency_credit(self) -> bool:
        """Select the emergency credit on offer; False if none is available."""
        if not self.emergency_available():
            return False
        self.emergency_selected = True
        return True

    def top_up(self, code: str, device: int, now: float) -> TopUpResult:
        """Apply a UTRN: validated, checked against the log, then credited with
        :attr:`PrepaymentSettings.top_up_amount`, percentage debts first."""
        if not utrn_valid(code):
            return TopUpResult(REJECTED_INVALID, 0.0)
        if any(t.code == code for t in self.top_ups):
            return TopUpResult(REJECTED_DUPLICATE, 0.0)
        amount = float(self.settings.top_up_amount)
        rest = amount
        if self.prepayment:
            for debt in self.debts:
                s = debt.settings
                if s.method == PERCENTAGE_BASED:
                    rest -= debt.take(amount * float(s.percentage) / 100.0)
        self.credit += rest
        repay = min(max(self.credit, 0.0), self.emergency_limit - self.emergency_credit)
        if repay > 0:
            self.credit -= repay
            self.emergency_credit += repay
        if self.emergency_credit >= self.emergency_limit:
            self.emergency_selected = False
        self.total_added += amount
        self.top_ups = (self.top_ups + [TopUp(now, amount, device, code)])[-TOP_UP_LOG:]
        self.take_snapshot(now, CAUSE_TOP_UP)
        return TopUpResult(ACCEPTED, amount)

    def take_snapshot(self, now: float, cause: int) -> Snapshot:
        snap = Snapshot(self.next_snapshot_id, now, cause, self.credit, self.emergency_credit,
                        tuple(d.amount for d in self.debts))
        self.next_snapshot_id += 1
        self.snapshots = (self.snapshots + [snap])[-SNAPSHOTS:]
        return snap

    def summary(self) -> dict[str, Any]:
        """Mode, balances and debt in GBP (to the HAN's 1e-5), for run summaries."""
        return {
            "mode": self.settings.mode,
            "credit": round(self.credit, 5),
            "emergency_credit": round(self.emergency_credit, 5),
            "emergency_selected": self.emergency_selected,
            "debt": round(self.accumulated_debt, 5),
            "credit_status": self.status(),
            "total_added": round(self.total_added, 5),
            "top_ups": len(self.top_ups),
        }

    # -- persistence (pure: the meter's core state carries it) --------------------------
    def state(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "credit": self.credit,
            "emergency_credit": self.emergency_credit,
            "emergency_selected": self.emergency_selected,
            "total_added": self.total_added,
            "debts": [d.amount for d in self.debts],
            "top_ups": [[t.time, t.amount, t.device, t.code] for t in self.top_ups],
            "snapshots": [[s.id, s.time, s.cause, s.credit, s.emergency_credit, list(s.debts)]
                          for s in self.snapshots],
            "next_snapshot_id": self.next_snapshot_id,
        }

    @classmethod
    def from_state(cls, settings: PrepaymentSettings, data: dict[str, Any]) -> PrepaymentAccount:
        """The saved account under the current settings: debts configured since
        start from their configured amount, debts no longer configured are dropped."""
        saved = list(data.get("debts", []))
        debts = [DebtState(d, float(saved[i]) if i < len(saved) else float(d.amount))
                 for i, d in enumerate(settings.debts)]
        return cls(
            settings,
            float(data["time"]),
            credit=float(data["credit"]),
            emergency_credit=min(float(data["emergency_credit"]), float(settings.emergency_credit_limit)),
            emergency_selected=bool(data["emergency_selected"]),
            total_added=float(data["total_added"]),
            debts=debts,
            top_ups=[TopUp(float(a), float(b), int(c), str(d)) for a, b, c, d in data.get("top_ups", [])],
            snapshots=[Snapshot(int(i), float(tm), int(c), float(cr), float(ec), tuple(float(x) for x in ds))
                       for i, tm, c, cr, ec, ds in data.get("snapshots", [])],
            next_snapshot_id=int(data.get("next_snapshot_id", 1)),
        )
