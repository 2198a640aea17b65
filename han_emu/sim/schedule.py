"""Poll schedules of the simulated devices (configurable per device)."""

from __future__ import annotations

from dataclasses import dataclass

from han_emu.air.accounting import BAND_868, BAND_2400

KINDS = ("ihd", "ppmid", "cad")
BANDS = (BAND_2400, BAND_868)
"""The radio a display joins on: the 2.4 GHz HAN, or the dual-band hub's
GB-868 sub-GHz HAN (where the hub's duty cycle pays for its traffic)."""


@dataclass(frozen=True)
class DeviceSettings:
    """One simulated device.  Periods are seconds; 0 turns a poll off.

    Defaults follow SMETS2 practice: an IHD refreshes electricity at least
    every 10 s, reads prices and tiers every minute, fetches the day's
    half-hourly profile every half hour, and reads this week's and this
    month's consumption every ``history_s`` and the whole history (8 days,
    5 weeks, 13 months) at start and just after each GB local midnight,
    when the meter has moved its periods on.
    """

    kind: str = "ihd"
    name: str = ""
    demand_s: float = 10.0
    registers_s: float = 60.0
    prices_s: float = 600.0
    profile_s: float = 1800.0
    history_s: float = 3600.0
    time_s: float = 3600.0
    full_log: bool = False  # a CAD reads the whole 3-month export log at start
    report: bool = True  # configure reporting on the summations and demand
    #: Reporting intervals asked of the ESI: a display that polls every 10 s
    #: wants reports only as a backstop, not a second copy of every poll.
    report_min_s: int = 60
    report_max_s: int = 900
    band: str = BAND_2400
    #: How the display hears of new prices: False, by GetCurrentPrice with the
    #: receiver-on-when-idle bit; True, by a ZDO Bind to each ESI's Price
    #: cluster (and GetCurrentPrice without the bit).
    bind_price: bool = False

    @property
    def sub_ghz(self) -> bool:
        return self.band == BAND_868

    def validate(self, where: str = "devices") -> "DeviceSettings":
        if self.kind not in KINDS:
            raise ValueError(f"{where}.kind: one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.band not in BANDS:
            raise ValueError(f"{where}.band: \"2.4\" or \"gb868\", got {self.band!r}")
        for name in ("demand_s", "registers_s", "prices_s", "profile_s", "history_s", "time_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{where}.{name}: cannot be negative")
        if not 0 <= self.report_min_s <= self.report_max_s <= 0xFFFE:
            raise ValueError(f"{where}.report_min_s/report_max_s: need 0 <= min <= max <= 65534")
        return self


def default_devices() -> tuple[DeviceSettings, ...]:
    """The virtual HAN's default population: one IHD and one PPMID."""
    return (
        DeviceSettings("ihd", "IHD"),
        DeviceSettings("ppmid", "PPMID", demand_s=30.0, registers_s=300.0, prices_s=300.0,
                       profile_s=0.0, history_s=3600.0),
    )


def cad(name: str = "CAD") -> DeviceSettings:
    return DeviceSettings("cad", name, demand_s=10.0, registers_s=60.0, prices_s=600.0,
                          profile_s=1800.0, history_s=3600.0, full_log=True, report=False)
