"""The configuration file: one TOML document for MPANs, tariffs and switching
tables, payment modes, endpoints, scenario, state storage, the Basic cluster's
identity and scheduled messages.

Every key is checked: an unknown key or a value of the wrong type is a
:class:`ConfigError` whose message names the key, e.g.
``tariff.secondary.export.prices[2]: expected a number, got 'abc'``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from clusters.messaging import MAX_MESSAGE_BYTES
from clusters.mp184 import EndpointMap, ExportMpanHome
from han_emu.crypto.certsets import CertCheckError, CertificateSet
from han_emu.meter.credit import DebtSettings, PrepaymentError, PrepaymentSettings
from han_emu.meter.messages import IMPORTANCES, ScheduledMessage
from han_emu.meter.clock import parse_duration
from han_emu.meter.mpan import MpanError
from han_emu.meter.scenario import ScenarioSettings
from han_emu.meter.settings import (
    ELEMENTS,
    ElementSettings,
    MeterSettings,
    Mpans,
    default_primary,
    default_secondary,
)
from han_emu.meter.simulate import check_backfill
from han_emu.meter.tariff import WEEKDAYS, DayProfile, SwitchingTable, Tariff, TariffError
from han_emu.server.basic import BasicInfo
from han_emu.server.metering import AmbientThresholds
from han_emu.sim.schedule import DeviceSettings, default_devices


class ConfigError(ValueError):
    """A configuration problem; the message starts with the offending key."""


@dataclass(frozen=True)
class EndpointSettings:
    """The ``[endpoints]`` table: HAN placement choices GBCS has not fixed
    (the defaults are the MP184 table's, :class:`EndpointMap`)."""

    primary: int = EndpointMap.primary
    secondary: int = EndpointMap.secondary
    export_mpan_cluster: int = ExportMpanHome.cluster_id
    export_mpan_attribute: int = ExportMpanHome.attribute_id
    export_mpan_manufacturer: int = ExportMpanHome.manufacturer_code

    def to_map(self) -> EndpointMap:
        return EndpointMap(
            self.primary,
            self.secondary,
            ExportMpanHome(self.export_mpan_cluster, self.export_mpan_attribute, self.export_mpan_manufacturer),
        )


@dataclass(frozen=True)
class Config:
    meter: MeterSettings = field(default_factory=MeterSettings)
    scenario: ScenarioSettings = field(default_factory=ScenarioSettings)
    endpoints: EndpointMap = field(default_factory=EndpointMap)
    state_path: str | None = None
    start: float | None = None
    devices: tuple[DeviceSettings, ...] = field(default_factory=default_devices)
    #: The ESI's own CBKE certificate sets (one per suite); empty: the built-in test CA.
    cbke: tuple[CertificateSet, ...] = ()
    #: The ``[ihd]`` table: ambient consumption thresholds shared by the ESI's
    #: indicator and the dashboard's IHD screen.
    ihd: AmbientThresholds = field(default_factory=AmbientThresholds)
    #: The ``[basic]`` table: what the ESI's Basic cluster says about the meter.
    basic: BasicInfo = field(default_factory=BasicInfo)
    #: The ``[[messages]]`` tables: text messages the ESI sends the displays.
    messages: tuple[ScheduledMessage, ...] = ()
    #: ``[meter] backfill``: seconds of history the meter runs its scenario
    #: over before it serves, when it has none yet (None: no backfill).
    backfill: float | None = None


def example_text() -> str:
    """The commented example configuration shipped with the package."""
    return resources.files("han_emu.han").joinpath("example.toml").read_text(encoding="utf-8")


def load(path: str | Path | None) -> Config:
    """Read and check a configuration file; ``None`` gives the defaults."""
    if path is None:
        return parse({})
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a configuration file: a configuration is TOML text, and byte "
                          f"{exc.start} is not UTF-8") from None
    return loads(text, source=str(path))


def loads(text: str, source: str = "<config>") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    return parse(data)


# -- checking helpers ----------------------------------------------------------
def _table(data: Any, path: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table, got {type(data).__name__}")
    return data


def _no_unknown(data: dict[str, Any], allowed: set[str], path: str) -> None:
    for key in data:
        if key not in allowed:
            where = f"{path}.{key}" if path else key
            raise ConfigError(f"{where}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{path}: expected an integer, got {value!r}")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path}: expected a number, got {value!r}")
    return float(value)


def _decimal(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{path}: expected a number, got {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{path}: expected a number, got {value!r}") from None


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{path}: expected a string, got {value!r}")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: expected true or false, got {value!r}")
    return value


def _hhmm(value: Any, path: str) -> int:
    text = _str(value, path)
    try:
        hours, minutes = text.split(":")
        h, m = int(hours), int(minutes)
    except ValueError:
        raise ConfigError(f"{path}: expected a time of day as \"HH:MM\", got {text!r}") from None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ConfigError(f"{path}: {text!r} is not a time of day")
    return h * 60 + m


def _date(value: Any, path: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(_str(value, path))
    except ValueError:
        raise ConfigError(f"{path}: expected a date YYYY-MM-DD, got {value!r}") from None


def _timestamp(value: Any, path: str) -> float:
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(_str(value, path))
        except ValueError:
            raise ConfigError(f"{path}: expected a date-time like 2026-06-01T00:00:00Z, got {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


# -- sections --------------------------------------------------------------------
def _switching(data: dict[str, Any], path: str) -> SwitchingTable:
    profiles_raw = _table(data.get("day_profiles", {}), f"{path}.day_profiles")
    if not profiles_raw:
        raise ConfigError(f"{path}.day_profiles: at least one day profile is required")
    profiles: dict[str, DayProfile] = {}
    for name, switches in profiles_raw.items():
        where = f"{path}.day_profiles.{name}"
        if not isinstance(switches, list):
            raise ConfigError(f"{where}: expected a list of [\"HH:MM\", tier] pairs")
        pairs = []
        for i, item in enumerate(switches):
            if not isinstance(item, list) or len(item) != 2:
                raise ConfigError(f"{where}[{i}]: expected [\"HH:MM\", tier]")
            pairs.append((_hhmm(item[0], f"{where}[{i}][0]"), _int(item[1], f"{where}[{i}][1]")))
        profiles[name] = DayProfile(tuple(pairs))
    week_raw = data.get("week")
    if week_raw is None:
        if len(profiles) != 1:
            raise ConfigError(f"{path}.week: required when there is more than one day profile")
        week = (next(iter(profiles)),) * 7
    else:
        week_tbl = _table(week_raw, f"{path}.week")
        _no_unknown(week_tbl, set(WEEKDAYS), f"{path}.week")
        missing = [d for d in WEEKDAYS if d not in week_tbl]
        if missing:
            raise ConfigError(f"{path}.week.{missing[0]}: missing (all seven days are needed)")
        week = tuple(_str(week_tbl[d], f"{path}.week.{d}") for d in WEEKDAYS)
    special_raw = _table(data.get("special_days", {}), f"{path}.special_days")
    special = {
        _date(k, f"{path}.special_days.{k}"): _str(v, f"{path}.special_days.{k}")
        for k, v in special_raw.items()
    }
    return SwitchingTable(profiles, week, special)  # type: ignore[arg-type]


def _tariff(data: Any, path: str) -> Tariff:
    tbl = _table(data, path)
    _no_unknown(tbl, {"label", "prices", "standing_charge", "day_profiles", "week", "special_days"}, path)
    if "prices" not in tbl:
        raise ConfigError(f"{path}.prices: required (GBP per kWh for each tier)")
    prices_raw = tbl["prices"]
    if not isinstance(prices_raw, list) or not prices_raw:
        raise ConfigError(f"{path}.prices: expected a non-empty list of numbers")
    prices = tuple(_decimal(p, f"{path}.prices[{i}]") for i, p in enumerate(prices_raw))
    for key in ("week", "special_days"):
        if key in tbl and "day_profiles" not in tbl:  # would be silently ignored otherwise
            raise ConfigError(f"{path}.{key}: needs day_profiles (they name the day profiles to use)")
    switching = _switching(tbl, path) if "day_profiles" in tbl else SwitchingTable.flat()
    tariff = Tariff(
        label=_str(tbl.get("label", path.split(".", 1)[1]), f"{path}.label"),
        prices=prices,
        switching=switching,
        standing_charge=_decimal(tbl.get("standing_charge", 0), f"{path}.standing_charge"),
    )
    try:
        tariff.validate(path)
    except TariffError as exc:
        raise ConfigError(str(exc)) from None
    return tariff


def _element(data: Any, path: str, default: ElementSettings, export_allowed: bool) -> ElementSettings:
    tbl = _table(data, path)
    _no_unknown(tbl, {"import", "export"} if export_allowed else {"import"}, path)
    imp = _tariff(tbl["import"], f"{path}.import") if "import" in tbl else default.import_tariff
    exp = _tariff(tbl["export"], f"{path}.export") if "export" in tbl else default.export_tariff
    return ElementSettings(imp, exp)


def _dataclass_section(cls: type, data: Any, path: str) -> Any:
    """Fill a flat dataclass of numbers/bools/strings from a TOML table."""
    tbl = _table(data, path)
    kinds = {f.name: f.type for f in fields(cls)}
    _no_unknown(tbl, set(kinds), path)
    values: dict[str, Any] = {}
    for key, value in tbl.items():
        kind = kinds[key]
        where = f"{path}.{key}"
        if kind in ("int", int):
            values[key] = _int(value, where)
        elif kind in ("float", float):
            values[key] = _number(value, where)
        elif kind in ("bool", bool):
            values[key] = _bool(value, where)
        else:
            values[key] = _str(value, where)
    return cls(**values)


def parse(data: dict[str, Any]) -> Config:
    """Check a parsed TOML document and build the configuration."""
    _no_unknown(data, {"meter", "mpan", "endpoints", "tariff", "prepayment", "scenario", "state", "devices", "cbke",
                       "ihd", "basic", "messages"}, "")

    meter_tbl = _table(data.get("meter", {}), "meter")
    _no_unknown(
        meter_tbl,
        {"serial", "profile_capacity", "daily_capacity", "start", "price_trailing_digit", "backfill"},
        "meter",
    )
    mpan_tbl = _table(data.get("mpan", {}), "mpan")
    _no_unknown(mpan_tbl, {f.name for f in fields(Mpans)}, "mpan")
    # An empty string leaves that MPAN unset.
    mpans = Mpans(**{k: (_str(v, f"mpan.{k}") or None) for k, v in mpan_tbl.items()})

    tariff_tbl = _table(data.get("tariff", {}), "tariff")
    _no_unknown(tariff_tbl, set(ELEMENTS), "tariff")
    primary = _element(tariff_tbl.get("primary", {}), "tariff.primary", default_primary(), False)
    secondary = _element(tariff_tbl.get("secondary", {}), "tariff.secondary", default_secondary(), True)
    prepay_tbl = _table(data.get("prepayment", {}), "prepayment")
    _no_unknown(prepay_tbl, set(ELEMENTS), "prepayment")
    primary = replace(primary, prepayment=_prepayment(prepay_tbl.get("primary", {}), "prepayment.primary"))
    secondary = replace(secondary, prepayment=_prepayment(prepay_tbl.get("secondary", {}), "prepayment.secondary"))

    settings = MeterSettings(
        serial=_str(meter_tbl.get("serial", MeterSettings.serial), "meter.serial"),
        mpans=mpans,
        primary=primary,
        secondary=secondary,
        profile_capacity=_int(meter_tbl.get("profile_capacity", MeterSettings.profile_capacity), "meter.profile_capacity"),
        daily_capacity=_int(meter_tbl.get("daily_capacity", MeterSettings.daily_capacity), "meter.daily_capacity"),
        price_trailing_digit=_int(
            meter_tbl.get("price_trailing_digit", MeterSettings.price_trailing_digit),
            "meter.price_trailing_digit",
        ),
    )
    try:
        settings = settings.validate()
    except (MpanError, TariffError, PrepaymentError) as exc:
        raise ConfigError(str(exc)) from None

    try:
        scenario = _dataclass_section(ScenarioSettings, data.get("scenario", {}), "scenario").validate()
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from None
    ep_settings = _dataclass_section(EndpointSettings, data.get("endpoints", {}), "endpoints")
    for name in ("primary", "secondary"):
        if not 1 <= getattr(ep_settings, name) <= 240:
            raise ConfigError(f"endpoints.{name}: an application endpoint is 1..240")
    if ep_settings.primary == ep_settings.secondary:
        raise ConfigError("endpoints.secondary: must differ from endpoints.primary")
    for name in ("export_mpan_cluster", "export_mpan_attribute", "export_mpan_manufacturer"):
        if not 0 <= getattr(ep_settings, name) <= 0xFFFF:
            raise ConfigError(f"endpoints.{name}: a 16-bit value, 0x0000..0xFFFF")
    endpoints = ep_settings.to_map()

    state_tbl = _table(data.get("state", {}), "state")
    _no_unknown(state_tbl, {"path"}, "state")
    state_path = _str(state_tbl["path"], "state.path") if "path" in state_tbl else None
    start = _timestamp(meter_tbl["start"], "meter.start") if "start" in meter_tbl else None
    devices = default_devices()
    if "devices" in data:
        raw = data["devices"]
        if not isinstance(raw, list):
            raise ConfigError("devices: expected an array of tables ([[devices]])")
        parsed = []
        for i, item in enumerate(raw):
            where = f"devices[{i}]"
            if isinstance(item, dict) and "band" in item and not isinstance(item["band"], str):
                raise ConfigError(f"{where}.band: \"2.4\" or \"gb868\" (a quoted string), got {item['band']!r}")
            device = _dataclass_section(DeviceSettings, item, where)
            try:
                parsed.append(device.validate(where))
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        devices = tuple(parsed)
    cbke_tbl = _table(data.get("cbke", {}), "cbke")
    _no_unknown(cbke_tbl, {"suite1", "suite2"}, "cbke")
    cert_sets = []
    for name, raw in sorted(cbke_tbl.items()):
        where = f"cbke.{name}"
        tbl = _table(raw, where)
        _no_unknown(tbl, {"ca", "certificate", "private_key"}, where)
        for key in ("ca", "certificate", "private_key"):
            if key not in tbl:
                raise ConfigError(f"{where}.{key}: required (hex)")
        try:
            cert_sets.append(CertificateSet.from_hex(
                int(name[-1]),
                _str(tbl["ca"], f"{where}.ca"),
                _str(tbl["certificate"], f"{where}.certificate"),
                _str(tbl["private_key"], f"{where}.private_key"),
            ))
        except CertCheckError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if not cert_sets[-1].key_matches:
            raise ConfigError(f"{where}.private_key: does not belong to the certificate")
    backfill = _backfill(meter_tbl["backfill"], settings) if "backfill" in meter_tbl else None
    return Config(settings, scenario, endpoints, state_path, start, devices, tuple(cert_sets),
                  ihd=_ihd(data.get("ihd", {})), basic=_basic(data.get("basic", {})),
                  messages=_messages(data.get("messages", [])), backfill=backfill)


def _basic(data: Any) -> BasicInfo:
    """The ``[basic]`` table: the identity the ESI's Basic cluster gives the meter."""
    tbl = _table(data, "basic")
    _no_unknown(tbl, {f.name for f in fields(BasicInfo)}, "basic")
    info = _dataclass_section(BasicInfo, tbl, "basic")
    try:
        return info.validate("basic")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|min|m|s)")
_UNIT_S = {"d": 86400.0, "h": 3600.0, "min": 60.0, "m": 60.0, "s": 1.0}


def _after(text: str, path: str) -> float:
    """``+2h``, ``+90s``, ``+1h30m``, ``+1d``: seconds from the run's start."""
    body = text[1:].replace(" ", "")
    spans = list(_SPAN.finditer(body))
    if not body or "".join(m.group(0) for m in spans) != body:
        raise ConfigError(f"{path}: expected \"+\" and a span such as \"+2h\", \"+90s\" or \"+1h30m\" "
                          f"(units d, h, m or min, s), got {text!r}")
    return sum(float(m.group(1)) * _UNIT_S[m.group(2)] for m in spans)


def _messages(data: Any) -> tuple[ScheduledMessage, ...]:
    """The ``[[messages]]`` tables: when (``at``), what (``text``), how long
    (``duration_min``; none: until changed), ``confirm`` and ``importance``."""
    if not isinstance(data, list):
        raise ConfigError("messages: expected an array of tables ([[messages]])")
    out = []
    for i, raw in enumerate(data):
        where = f"messages[{i}]"
        tbl = _table(raw, where)
        _no_unknown(tbl, {"at", "text", "duration_min", "confirm", "importance"}, where)
        for key in ("at", "text"):
            if key not in tbl:
                raise ConfigError(f"{where}.{key}: required")
        at_raw = tbl["at"]
        at = after = None
        if isinstance(at_raw, str) and at_raw.strip().startswith("+"):
            after = _after(at_raw.strip(), f"{where}.at")
        else:
            at = _timestamp(at_raw, f"{where}.at")
        text = _str(tbl["text"], f"{where}.text")
        size = len(text.encode("utf-8"))
        if not text.strip() or size > MAX_MESSAGE_BYTES:
            raise ConfigError(f"{where}.text: 1..{MAX_MESSAGE_BYTES} bytes of UTF-8 (one frame), got {size}")
        duration = None
        if "duration_min" in tbl:
            duration = _int(tbl["duration_min"], f"{where}.duration_min")
            if not 1 <= duration <= 0xFFFE:
                raise ConfigError(f"{where}.duration_min: 1..65534 minutes (leave it out: until changed), "
                                  f"got {duration}")
        importance = _str(tbl.get("importance", "medium"), f"{where}.importance")
        if importance not in IMPORTANCES:
            raise ConfigError(f"{where}.importance: one of {', '.join(IMPORTANCES)}, got {importance!r}")
        out.append(ScheduledMessage(text=text, at=at, after_s=after, duration_min=duration,
                                    confirm=_bool(tbl.get("confirm", False), f"{where}.confirm"),
                                    importance=importance))
    return tuple(out)


def _backfill(value: Any, settings: MeterSettings) -> float:
    """``meter.backfill``: a duration as the command line writes it ("400d"), or seconds."""
    path = "meter.backfill"
    try:
        if isinstance(value, str):
            return check_backfill(parse_duration(value), settings)
        seconds = _number(value, path)
        if not 0 < seconds < float("inf"):
            raise ValueError(f"{value!r}: a duration must be more than zero (and finite)")
        return check_backfill(seconds, settings)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{path}: {exc}") from None


def _ihd(data: Any) -> AmbientThresholds:
    """The ``[ihd]`` table: ``ambient_medium_kw`` and ``ambient_high_kw``."""
    tbl = _table(data, "ihd")
    _no_unknown(tbl, {"ambient_medium_kw", "ambient_high_kw"}, "ihd")
    default = AmbientThresholds()
    medium = _decimal(tbl.get("ambient_medium_kw", str(default.medium_kw)), "ihd.ambient_medium_kw")
    high = _decimal(tbl.get("ambient_high_kw", str(default.high_kw)), "ihd.ambient_high_kw")
    if medium < 0:
        raise ConfigError(f"ihd.ambient_medium_kw: must not be negative, got {medium}")
    if high <= medium:
        raise ConfigError(f"ihd.ambient_high_kw: must be above ihd.ambient_medium_kw ({medium}), got {high}")
    return AmbientThresholds(medium, high)


_PREPAY_AMOUNTS = ("initial_credit", "emergency_credit_limit", "emergency_credit_threshold",
                   "low_credit_warning", "top_up_amount")


def _prepayment(data: Any, path: str) -> PrepaymentSettings:
    """A ``[prepayment.<element>]`` table: the mode, amounts in GBP and up to three
    ``[[prepayment.<element>.debts]]``."""
    tbl = _table(data, path)
    _no_unknown(tbl, {"mode", "debts", *_PREPAY_AMOUNTS}, path)
    values: dict[str, Any] = {k: _decimal(tbl[k], f"{path}.{k}") for k in _PREPAY_AMOUNTS if k in tbl}
    if "mode" in tbl:
        values["mode"] = _str(tbl["mode"], f"{path}.mode")
    if "debts" in tbl:
        raw = tbl["debts"]
        if not isinstance(raw, list):
            raise ConfigError(f"{path}.debts: expected an array of tables ([[{path}.debts]])")
        debts = []
        for i, item in enumerate(raw):
            where = f"{path}.debts[{i}]"
            debt = _table(item, where)
            _no_unknown(debt, {"label", "amount", "method", "rate", "frequency", "percentage"}, where)
            for key in ("label", "amount"):
                if key not in debt:
                    raise ConfigError(f"{where}.{key}: required")
            debts.append(DebtSettings(
                label=_str(debt["label"], f"{where}.label"),
                amount=_decimal(debt["amount"], f"{where}.amount"),
                method=_str(debt.get("method", "time"), f"{where}.method"),
                rate=_decimal(debt.get("rate", 0), f"{where}.rate"),
                frequency=_str(debt.get("frequency", "day"), f"{where}.frequency"),
                percentage=_decimal(debt.get("percentage", 0), f"{where}.percentage"),
            ))
        values["debts"] = tuple(debts)
    settings = PrepaymentSettings(**values)
    try:
        settings.validate(path)
    except PrepaymentError as exc:
        raise ConfigError(str(exc)) from None
    return settings


def with_state_path(config: Config, path: str | None) -> Config:
    return config if path is None else replace(config, state_path=path)
