"""A deterministic household: load, PV and a battery, as power per element.

The default is the MP184 case: PV and a battery on the secondary element's
circuit (export by day and in the evening peak, grid charging on the cheap
night tier), the house load on the primary element, with optional PV there
too.  Randomness is keyed by (seed, time slot), not drawn in sequence, so the
flow at any instant is the same whatever step size the caller uses; only the
battery carries state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from han_emu.meter.gbtime import local_datetime, local_minute
from han_emu.meter.model import Flow
from han_emu.meter.settings import PRIMARY, SECONDARY

_DAY = 86400.0


@dataclass(frozen=True)
class ScenarioSettings:
    seed: int = 1
    house_base_w: float = 300.0
    house_peak_w: float = 2400.0
    appliance_w: float = 2000.0
    primary_pv_kwp: float = 1.0
    secondary_pv_kwp: float = 4.0
    battery_kwh: float = 5.0
    battery_max_w: float = 2500.0
    battery_grid_charge: bool = True
    power_factor: float = 0.95

    def validate(self) -> "ScenarioSettings":
        for name in ("house_base_w", "house_peak_w", "appliance_w", "primary_pv_kwp",
                     "secondary_pv_kwp", "battery_kwh", "battery_max_w"):
            if getattr(self, name) < 0:
                raise ValueError(f"scenario.{name}: cannot be negative")
        if not 0 < self.power_factor <= 1:
            raise ValueError("scenario.power_factor: must be in (0, 1]")
        return self


_MASK = (1 << 64) - 1


def _noise(seed: int, slot: int, salt: int) -> float:
    """A uniform [0, 1) value fixed by (seed, slot, salt): one SplitMix64 step,
    far cheaper than seeding a ``random.Random`` per call."""
    z = (seed * 0x9E3779B97F4A7C15 + slot * 0xBF58476D1CE4E5B9 + salt * 0x94D049BB133111EB) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((z ^ (z >> 31)) >> 11) / float(1 << 53)


class Scenario:
    """Power flows of both elements at any moment, fed to the meter."""

    def __init__(self, settings: ScenarioSettings | None = None, battery_soc: float = 0.5) -> None:
        self.settings = (settings or ScenarioSettings()).validate()
        self.battery_wh = self.settings.battery_kwh * 1000.0 * battery_soc
        self._last: float | None = None
        self._battery_w = 0.0  # + charging, - discharging

    @property
    def settings(self) -> ScenarioSettings:
        return self._settings

    @settings.setter
    def settings(self, settings: ScenarioSettings) -> None:
        """New settings (the dashboard switches variants) start the memos afresh."""
        self._settings = settings
        # Memos of pure functions of the time, keyed by what they depend on (the local
        # minute, the 300 s slot, the half hour, the local day): a run steps every 10 s,
        # and a value computed again is the same float, so the flows are the same.
        self._shapes: dict[tuple[int, int], float] = {}
        self._slots: dict[int, tuple[float, float]] = {}
        self._seasons: dict[int, tuple[float, float, float]] = {}  # by local day (ordinal)
        self._clouds: dict[int, float] = {}
        self._q = math.tan(math.acos(settings.power_factor))

    # -- the sources ---------------------------------------------------------
    def house_load_w(self, ts: float, local: datetime | None = None) -> float:
        """``local``: ``ts`` as GB local time, if the caller has it already."""
        s = self.settings
        local = local or local_datetime(ts)
        shape = self._shapes.get((local.hour, local.minute))
        if shape is None:
            hour = local.hour + local.minute / 60.0
            morning = math.exp(-((hour - 7.5) ** 2) / 1.5)
            evening = math.exp(-((hour - 18.5) ** 2) / 4.0)
            shape = self._shapes[(local.hour, local.minute)] = max(morning * 0.6, evening)
        slot = int(ts // 300)
        noise = self._slots.get(slot)
        if noise is None:
            if len(self._slots) > 1024:  # a backfill walks through a year of slots
                self._slots.clear()
            noise = self._slots[slot] = (s.appliance_w if _noise(s.seed, slot, 1) < 0.08 else 0.0,
                                         0.85 + 0.3 * _noise(s.seed, slot, 2))
        appliance, jitter = noise
        return (s.house_base_w + s.house_peak_w * shape) * jitter + appliance

    def solar_fraction(self, ts: float, local: datetime | None = None) -> float:
        """PV output as a fraction of peak: season, daylight and cloud."""
        local = local or local_datetime(ts)
        day = local.toordinal()
        seasonal = self._seasons.get(day)
        if seasonal is None:
            if len(self._seasons) > 1024:
                self._seasons.clear()
            day_of_year = local.timetuple().tm_yday
            season = math.cos(2 * math.pi * (day_of_year - 172) / 365.0)  # 1 at midsummer
            day_length = 12.25 + 4.25 * season  # hours of daylight in southern England
            seasonal = self._seasons[day] = (day_length, day_length * 3600.0, 0.55 + 0.3 * season)
        day_length, daylight_s, peak = seasonal
        solar_noon = 12 * 3600.0  # UTC
        t = (ts % _DAY) - (solar_noon - day_length * 1800.0)
        if not 0 <= t <= daylight_s:
            return 0.0
        height = math.sin(math.pi * t / daylight_s)
        half_hour = int(ts // 1800)
        cloud = self._clouds.get(half_hour)
        if cloud is None:
            if len(self._clouds) > 1024:
                self._clouds.clear()
            cloud = self._clouds[half_hour] = _noise(self.settings.seed, half_hour, 3)
        return max(0.0, height * peak * (1.0 - 0.8 * cloud * cloud))

    # -- the flows -----------------------------------------------------------
    def flows(self, ts: float, cheap_tier: bool = False) -> dict[str, Flow]:
        """Flows at ``ts``; call with non-decreasing times (the battery moves on).
        ``cheap_tier`` tells the battery it may charge from the grid."""
        s = self.settings
        if self._last is not None and ts > self._last:
            dt_h = (ts - self._last) / 3600.0
            cap = s.battery_kwh * 1000.0
            self.battery_wh = min(cap, max(0.0, self.battery_wh + self._battery_w * dt_h))
        self._last = ts

        local = local_minute(ts)  # once: a backfill asks for a year of steps (only its minute is read)
        sun = self.solar_fraction(ts, local)
        pv2 = s.secondary_pv_kwp * 1000.0 * sun
        pv1 = s.primary_pv_kwp * 1000.0 * sun
        load = self.house_load_w(ts, local)
        hour = local.hour

        cap = s.battery_kwh * 1000.0
        room = cap - self.battery_wh
        battery = 0.0
        if cap > 0:
            if pv2 > 0 and room > 1.0:
                battery = min(pv2, s.battery_max_w)
            elif 16 <= hour < 22 and self.battery_wh > 1.0:
                battery = -min(s.battery_max_w, 1500.0)
            elif cheap_tier and s.battery_grid_charge and room > 1.0:
                battery = min(s.battery_max_w, 2000.0)
        self._battery_w = battery

        net2 = pv2 - battery  # positive: the secondary circuit exports
        net1 = pv1 - load
        q = self._q  # math.tan(math.acos(s.power_factor)), the same every step
        return {
            PRIMARY: Flow(max(0.0, -net1), max(0.0, net1), max(0.0, -net1) * q, 0.0),
            SECONDARY: Flow(max(0.0, -net2), max(0.0, net2), max(0.0, -net2) * q, 0.0),
        }

    def state(self) -> dict[str, float]:
        return {"battery_wh": self.battery_wh, "battery_w": self._battery_w}
