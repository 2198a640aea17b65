"""The Metering cluster (0x0702) of one element's ESI, bound to the meter.

Units on the HAN: kWh (UnitOfMeasure 0, binary) with Multiplier 1 and Divisor
1000, so summations, consumption figures and profile intervals are whole Wh,
and InstantaneousDemand is whole W (positive import, negative export).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from clusters import Metering, posix_to_utctime, utctime_to_posix
from clusters.metering import (
    INVALID_INTERVAL,
    PREVIOUS_DAYS,
    PREVIOUS_MONTHS,
    PREVIOUS_WEEKS,
    ProfileIntervalPeriod,
    ProfileStatus,
    export_site_id_def,
    get_profile_response,
)
from clusters.mp184 import ExportMpanHome
from han_emu.meter.model import Channel, TwinMeter
from han_emu.meter.profile import PERIOD
from han_emu.server.attributes import AttributeTable
from han_emu.server.command import ZclReply, ZclRequest

MULTIPLIER = 1
DIVISOR = 1000
#: 7 digits left and 3 right of the point, leading zeros suppressed.
SUMMATION_FORMATTING = 0x80 | (7 << 3) | 3
DEMAND_FORMATTING = 0x80 | (5 << 3) | 3
MAX_PERIODS = 24
#: Default ambient consumption indicator thresholds (import W): below LOW is
#: Low, below HIGH is Medium, otherwise High.  The configuration's ``[ihd]``
#: table overrides them through :class:`AmbientThresholds`.
AMBIENT_LOW_W = 1000
AMBIENT_HIGH_W = 3000


@dataclass(frozen=True)
class AmbientThresholds:
    """Import power (kW) at which the ambient consumption indicator turns
    Medium, and High.

    One object serves both the ESI's IAmbientConsumptionIndicator and the
    IHD screen, and both classify the same figure (the InstantaneousDemand
    the ESI serves, in whole W), so a display and the meter never disagree
    at a boundary.
    """

    medium_kw: Decimal = Decimal(AMBIENT_LOW_W) / DIVISOR
    high_kw: Decimal = Decimal(AMBIENT_HIGH_W) / DIVISOR

    def __post_init__(self) -> None:
        if not 0 <= self.medium_kw < self.high_kw:
            raise ValueError("ambient thresholds: need 0 <= medium < high")

    def indicator(self, kw: Decimal) -> int:
        """The ZCL enumeration: 0 low, 1 medium, 2 high energy usage."""
        return 2 if kw >= self.high_kw else 1 if kw >= self.medium_kw else 0

    def level(self, kw: Decimal | None) -> str | None:
        """"Low", "Medium" or "High" (None when the power is not known)."""
        return None if kw is None else ("Low", "Medium", "High")[self.indicator(kw)]

_DIRECTIONS = {"delivered": "import", "received": "export"}


def _u24(value: int | None) -> int | None:
    return None if value is None else min(value, 0xFFFFFE)


def metering_table(meter: TwinMeter, element: str, export_mpan: ExportMpanHome | None,
                   ambient_thresholds: AmbientThresholds | None = None) -> AttributeTable:
    """Attribute getters for one element's Metering server; ``export_mpan``
    (a Metering home) adds the export MPAN as a manufacturer-specific attribute."""
    el = meter.elements[element]
    thresholds = ambient_thresholds or AmbientThresholds()
    mpans = meter.settings.mpans

    def reading(direction: str) -> Callable[[], int]:
        ch = Channel.of(element, direction)  # once: the busiest getters of a simulated day
        return lambda: meter.reading(ch)

    def tier(direction: str, n: int) -> Callable[[], int]:
        return lambda: el.tier_register(direction, n)

    def history(kind: str, direction: str, back: int) -> Callable[[], int | None]:
        ch = Channel.of(element, direction)

        def get() -> int | None:
            log = getattr(meter.daily, kind)
            value = log(meter.today(), ch, meter.reading(ch), back)
            return value if kind == "month" else _u24(value)

        return get

    def partial(direction: str, what: str) -> Callable[[], Any]:
        ch = Channel.of(element, direction)

        def get() -> Any:
            start, value = meter.partial_interval(ch)
            return posix_to_utctime(start) if what == "start" else _u24(value)

        return get

    def demand() -> int:
        return round(el.flow.demand_w)

    levels: dict[int, int] = {}  # whole W -> indicator: the thresholds are fixed, the demand repeats

    def ambient() -> int:
        # Classify the import a display reads from InstantaneousDemand (whole W).
        w = max(0, demand())
        level = levels.get(w)
        if level is None:
            if len(levels) >= 4096:
                levels.clear()
            level = levels[w] = thresholds.indicator(Decimal(w) / DIVISOR)
        return level

    getters: dict[str, Callable[[], Any]] = {
        "current_summ_delivered": reading("import"),
        "current_summ_received": reading("export"),
        "supply_status": lambda: Metering.SupplyStatus.Supply_On,
        "status": lambda: 0,
        "iambient_consumption_indicator": ambient,
        "unit_of_measure": lambda: 0,
        "multiplier": lambda: MULTIPLIER,
        "divisor": lambda: DIVISOR,
        "summation_formatting": lambda: SUMMATION_FORMATTING,
        "demand_formatting": lambda: DEMAND_FORMATTING,
        "historical_consumption_formatting": lambda: SUMMATION_FORMATTING,
        "metering_device_type": lambda: 0,  # electric metering
        "site_id": lambda: (mpans.of(element, "import") or "").encode(),
        "meter_serial_number": lambda: meter.settings.serial.encode(),
        "instantaneous_demand": demand,
        "max_number_of_periods_delivered": lambda: MAX_PERIODS,
        # The export profile's period (MP184 R3) and the import one's: half hours.
        "profile_interval_period": lambda: ProfileIntervalPeriod.Minutes_30,
        "active_register_tier_delivered": lambda: meter.active_tier(element, "import"),
    }
    reportable = ["current_summ_delivered", "current_summ_received", "instantaneous_demand",
                  "active_register_tier_delivered"]
    for n in range(1, len(el.import_tiers) + 1):
        getters[f"current_tier{n}_summ_delivered"] = tier("import", n)
        reportable.append(f"current_tier{n}_summ_delivered")
    if el.export_tiers:  # MP184 R2: export TOU registers and the active export tier
        getters["active_register_tier_received"] = lambda: meter.active_tier(element, "export")
        reportable.append("active_register_tier_received")
        for n in range(1, len(el.export_tiers) + 1):
            getters[f"current_tier{n}_summ_received"] = tier("export", n)
            reportable.append(f"current_tier{n}_summ_received")

    for zcl_dir, direction in _DIRECTIONS.items():
        getters[f"currentday_consumption_{zcl_dir}"] = history("day", direction, 0)
        getters[f"previousday_consumption_{zcl_dir}"] = history("day", direction, 1)
        for n in PREVIOUS_DAYS:
            getters[f"previous_day{n}_consumption_{zcl_dir}"] = history("day", direction, n)
        getters[f"current_week_consumption_{zcl_dir}"] = history("week", direction, 0)
        getters[f"previous_week_consumption_{zcl_dir}"] = history("week", direction, 1)
        for n in PREVIOUS_WEEKS:
            getters[f"previous_week{n}_consumption_{zcl_dir}"] = history("week", direction, n)
        getters[f"current_month_consumption_{zcl_dir}"] = history("month", direction, 0)
        getters[f"previous_month_consumption_{zcl_dir}"] = history("month", direction, 1)
        for n in PREVIOUS_MONTHS:
            getters[f"previous_month{n}_consumption_{zcl_dir}"] = history("month", direction, n)
        getters[f"cur_part_profile_int_start_time_{zcl_dir}"] = partial(direction, "start")
        getters[f"cur_part_profile_int_value_{zcl_dir}"] = partial(direction, "value")
        reportable.append(f"currentday_consumption_{zcl_dir}")
    table = AttributeTable.from_cluster(Metering, getters, reportable=reportable)
    if export_mpan is not None:  # MP184 R4: only a frame with the manufacturer code reaches it
        table.bind(export_site_id_def(export_mpan.attribute_id),
                   lambda: (mpans.of(element, "export") or "").encode(),
                   manufacturer_code=export_mpan.manufacturer_code)
    return table


def profile_handler(meter: TwinMeter, element: str, logged: set[str]) -> Callable[[ZclRequest], list[ZclReply]]:
    """GetProfile on this element: channel 0 import, 1 export (both when logged)."""

    def respond(end: int, status: ProfileStatus, values: list[int | None]) -> list[ZclReply]:
        intervals = [INVALID_INTERVAL if v is None else min(v, 0xFFFFFE) for v in values]
        payload = get_profile_response(end, status, ProfileIntervalPeriod.Minutes_30, intervals)
        return [ZclReply(Metering.ClientCommandDefs.get_profile_response.id, payload)]

    def handle(request: ZclRequest) -> list[ZclReply]:
        args = request.args
        channel = int(args.interval_channel)
        wanted = int(args.number_of_periods)
        if channel not in (0, 1):
            return respond(0, ProfileStatus.Undefined_Interval_Channel_Requested, [])
        direction = "import" if channel == 0 else "export"
        if direction not in logged:
            return respond(0, ProfileStatus.Interval_Channel_Not_Supported, [])
        log = meter.profiles[Channel.of(element, direction)]
        if log.newest_end is None:
            return respond(0, ProfileStatus.No_Intervals_Available_For_The_Requested_Time, [])
        if int(args.end_time) == 0:
            end = log.newest_end
        else:
            try:
                asked = utctime_to_posix(int(args.end_time))
            except ValueError:
                return respond(0, ProfileStatus.Invalid_End_Time, [])
            if asked > meter.time:
                return respond(0, ProfileStatus.Invalid_End_Time, [])
            end = min(log.newest_end, int(asked // PERIOD) * PERIOD)
        if not log.holds(end):
            return respond(0, ProfileStatus.No_Intervals_Available_For_The_Requested_Time, [])
        status = ProfileStatus.Success
        if wanted > MAX_PERIODS:
            status = ProfileStatus.More_Periods_Requested_Than_Can_Be_Returned
            wanted = MAX_PERIODS
        values = log.newest_first(end, wanted)
        return respond(int(posix_to_utctime(end)), status, values)

    return handle
