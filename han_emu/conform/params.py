"""Parameters of check types: their defaults, and what a plan may give them.

A plan is written by people; a wrong parameter gets one clear sentence naming
the check, the parameter, what it takes and what it got, which the plan loader
shows as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from zigpy.zcl import Cluster

from clusters import SE_CLUSTERS
from clusters.metering import IntervalChannel
from clusters.mp184 import Role


class CheckError(ValueError):
    """A check in a plan cannot be used as written (unknown type, bad parameter)."""


REQUIRED: Final = object()
"""The default of a parameter a plan must give."""

#: ``parse(value, params so far) -> value``; raises ValueError with what it takes.
Parser = Callable[[Any, Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Param:
    """One parameter of a check type."""

    name: str
    doc: str
    parse: Parser
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def resolve(where: str, params: tuple[Param, ...], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` checked and completed with defaults, in declaration order (a
    parameter's parser sees the ones before it); CheckError naming ``where``."""
    known = {p.name for p in params}
    unknown = sorted(set(given) - known)
    if unknown:
        takes = f"takes {', '.join(sorted(known))}" if known else "takes no parameters"
        raise CheckError(f"{where}: unknown parameter {unknown[0]!r} ({takes})")
    out: dict[str, Any] = {}
    for p in params:
        if p.name not in given:
            if p.required:
                raise CheckError(f"{where}: parameter {p.name!r} is required ({p.doc})")
            out[p.name] = p.default
            continue
        try:
            out[p.name] = p.parse(given[p.name], out)
        except (ValueError, TypeError) as exc:
            raise CheckError(f"{where}: {p.name}: {exc}, got {given[p.name]!r}") from None
    return out


# -- parsers ---------------------------------------------------------------------------------

def seconds(value: Any, _: Mapping[str, Any] = {}) -> float:
    """A number of seconds > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError("a number of seconds above 0")
    return float(value)


def seconds_or_zero(value: Any, _: Mapping[str, Any] = {}) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError("a number of seconds, 0 or more")
    return float(value)


def role(value: Any, _: Mapping[str, Any] = {}) -> Role:
    """Which ESI: "primary" or "secondary"."""
    try:
        return Role(value)
    except ValueError:
        raise ValueError('"primary" or "secondary"') from None


def _number(value: Any, bits: int) -> int | None:
    """An id given as an integer or as text ("0x0400", "1024")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value, 0)
        except ValueError:
            return None
    else:
        return None
    return number if 0 <= number < 1 << bits else None


def cluster(value: Any, _: Mapping[str, Any] = {}) -> int:
    """A cluster the ESI serves, by name ("Metering", "price") or id (0x0702)."""
    number = _number(value, 16)
    if number is not None:
        return number
    if isinstance(value, str):
        for cid, cls in SE_CLUSTERS.items():
            if value.lower().replace("-", "_") in (cls.__name__.lower(), cls.ep_attribute):
                return cid
    names = ", ".join(cls.__name__ for cls in SE_CLUSTERS.values())
    raise ValueError(f"a cluster name ({names}) or a 16-bit id")


def attribute(value: Any, so_far: Mapping[str, Any]) -> int:
    """An attribute of the check's cluster, by its name ("instantaneous_demand") or id."""
    number = _number(value, 16)
    if number is not None:
        return number
    cls: type[Cluster] | None = SE_CLUSTERS.get(so_far.get("cluster", -1))
    if cls is not None and isinstance(value, str) and value in cls.attributes_by_name:
        return int(cls.attributes_by_name[value].id)
    where = f"{cls.__name__} " if cls is not None else ""
    raise ValueError(f"a {where}attribute name (as zigpy names it, e.g. instantaneous_demand) or a 16-bit id")


def channel(value: Any, _: Mapping[str, Any] = {}) -> int:
    """A GetProfile interval channel: a number, or its name ("consumption_received")."""
    number = _number(value, 8)
    if number is not None:
        return number
    if isinstance(value, str):
        for member in IntervalChannel:
            if member.name.lower() == value.lower():
                return int(member)
    names = ", ".join(f"{m.name.lower()} ({int(m)})" for m in IntervalChannel)
    raise ValueError(f"an interval channel number or name ({names})")


def after_what(value: Any, _: Mapping[str, Any] = {}) -> str:
    """What a key establishment check looks after: "join" or "cbke-rekey"."""
    if value not in ("join", "cbke-rekey"):
        raise ValueError('"join" or "cbke-rekey"')
    return str(value)


def describe_default(p: Param) -> str:
    """A parameter's default as a plan would write it (for the docs)."""
    if p.required:
        return "required"
    value = p.default
    if isinstance(value, Role):
        return f'"{value.value}"'
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)
