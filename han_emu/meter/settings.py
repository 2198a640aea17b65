"""What a meter is configured with: identity, MPANs, tariffs, log sizes."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from han_emu.meter.daily import DEFAULT_DAYS
from han_emu.meter.mpan import validate_mpan
from han_emu.meter.credit import PrepaymentSettings
from han_emu.meter.profile import THREE_MONTHS
from han_emu.meter.tariff import DayProfile, SwitchingTable, Tariff, TariffError

PRIMARY = "primary"
SECONDARY = "secondary"
ELEMENTS = (PRIMARY, SECONDARY)


@dataclass(frozen=True)
class Mpans:
    """Up to four MPAN cores: import and export for each element.  MP184 adds
    the fourth, the secondary element's export MPAN.  The defaults are
    made-up cores with valid check digits, for a meter that works unconfigured."""

    primary_import: str | None = "1200023305967"
    primary_export: str | None = "1200023305976"
    secondary_import: str | None = "1200023305985"
    secondary_export: str | None = "1200023305994"

    def validated(self) -> "Mpans":
        values = {}
        for name in ("primary_import", "primary_export", "secondary_import", "secondary_export"):
            value = getattr(self, name)
            values[name] = None if value is None else validate_mpan(value, f"mpan.{name}")
        return Mpans(**values)

    def of(self, element: str, direction: str) -> str | None:
        return getattr(self, f"{element}_{direction}")


@dataclass(frozen=True)
class ElementSettings:
    """Tariffs of one element: import always; export TOU only where the meter
    has export tier registers (the MP184 secondary element); and how the
    element is paid for (credit or prepayment mode)."""

    import_tariff: Tariff
    export_tariff: Tariff | None = None
    prepayment: PrepaymentSettings = field(default_factory=PrepaymentSettings)


@dataclass(frozen=True)
class MeterSettings:
    serial: str = "HANEMU0000000001"
    mpans: Mpans = field(default_factory=Mpans)
    primary: ElementSettings = field(default_factory=lambda: default_primary())
    secondary: ElementSettings = field(default_factory=lambda: default_secondary())
    profile_capacity: int = THREE_MONTHS
    daily_capacity: int = DEFAULT_DAYS
    currency: int = 826  # ISO 4217 GBP
    #: Digits right of the decimal point in prices on the HAN: prices are in
    #: pounds, so 5 sends 0.28500 GBP/kWh as 28500.
    price_trailing_digit: int = 5

    def scaled_price(self, pounds) -> int:
        """A price or charge in GBP as the HAN carries it (an integer)."""
        return int((pounds * (10 ** self.price_trailing_digit)).to_integral_value())

    def element(self, name: str) -> ElementSettings:
        return self.primary if name == PRIMARY else self.secondary

    def validate(self) -> "MeterSettings":
        """Check everything; return a copy with normalised MPANs."""
        for name in ELEMENTS:
            el = self.element(name)
            el.import_tariff.validate(f"tariff.{name}.import")
            if el.export_tariff is not None:
                el.export_tariff.validate(f"tariff.{name}.export")
            el.prepayment.validate(f"prepayment.{name}")
        if self.profile_capacity < THREE_MONTHS:
            raise TariffError(
                f"meter.profile_capacity: at least {THREE_MONTHS} half-hours (3 months) are required"
            )
        if self.daily_capacity < 1:
            raise TariffError("meter.daily_capacity: must be positive")
        if not 0 <= self.price_trailing_digit <= 9:
            raise TariffError("meter.price_trailing_digit: 0..9 (one nibble on the HAN)")
        if not 1 <= len(self.serial) <= 24:
            raise TariffError("meter.serial: 1..24 characters")
        from dataclasses import replace

        return replace(self, mpans=self.mpans.validated())


def _economy7() -> SwitchingTable:
    """Cheap tier 2 from 00:30 to 07:30 local, tier 1 otherwise."""
    day = DayProfile(((0, 1), (30, 2), (450, 1)))
    return SwitchingTable({"weekday": day}, ("weekday",) * 7)


def _export_tou() -> SwitchingTable:
    """Four export tiers: night, morning, peak (16:00-19:00), evening; a flat
    tier-2 day profile at weekends and on special days."""
    weekday = DayProfile(((0, 1), (420, 2), (960, 3), (1140, 4)))
    weekend = DayProfile(((0, 2),))
    return SwitchingTable(
        {"weekday": weekday, "weekend": weekend},
        ("weekday",) * 5 + ("weekend",) * 2,
    )


def default_primary() -> ElementSettings:
    return ElementSettings(
        import_tariff=Tariff(
            "Primary import E7",
            (Decimal("0.2850"), Decimal("0.1350")),
            _economy7(),
            standing_charge=Decimal("0.5320"),
        )
    )


def default_secondary() -> ElementSettings:
    return ElementSettings(
        import_tariff=Tariff("Secondary import", (Decimal("0.1350"),), SwitchingTable.flat()),
        export_tariff=Tariff(
            "Secondary export TOU",
            (Decimal("0.0550"), Decimal("0.1200"), Decimal("0.2500"), Decimal("0.1500")),
            _export_tou(),
        ),
    )
