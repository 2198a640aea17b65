"""The check types a conformance plan can use, and judging a run by them.

:data:`CHECKS` names every type with a one-line description and its
parameters (defaults, what each takes); :func:`check_params` validates a
plan's check and gives its parameters complete, raising :class:`CheckError`
with one sentence the plan loader can show; :func:`evaluate` turns a run's
log into one :class:`~han_emu.conform.model.Verdict` per check.  Checks are
pure functions of the log: no I/O, no clock.

What the checks read from an :class:`~han_emu.conform.model.Observation`:
its parsed fields, and for a few payload fields (a GetProfile's channel, a
MessageConfirmation's message id, a Suspend's minutes, a Match_Desc_rsp's
endpoints, Read Attributes Response records) its ``data``, the ZCL frame with
or without its header, ZDO with or without its transaction number.  From an
:class:`~han_emu.conform.model.EventRecord`: its kind and time; a message's
``params["confirm"]`` and ``outcome["message_id"]``; when a meter restart or
supply interruption ends, ``outcome["end"]`` or else ``params`` "minutes" /
"seconds" after its time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from clusters.metering import IntervalChannel
from clusters.mp184 import Role
from han_emu.conform import event_checks, reading_checks
from han_emu.conform.evidence import Finding
from han_emu.conform.model import CheckSpec, RunLog, Verdict
from han_emu.conform.params import (
    CheckError,
    Param,
    after_what,
    attribute,
    channel,
    cluster,
    resolve,
    role,
    seconds,
    seconds_or_zero,
)

__all__ = ["CHECKS", "CheckError", "CheckType", "check_params", "evaluate"]


@dataclass(frozen=True)
class CheckType:
    """One kind of check: its name in plans, what it checks, its parameters."""

    name: str
    doc: str
    params: tuple[Param, ...]
    judge: Callable[[Mapping[str, Any], RunLog], Finding]

    def resolve(self, params: Mapping[str, Any], check: str | None = None) -> dict[str, Any]:
        """``params`` checked and completed; CheckError names the check and the parameter."""
        where = f"check {check!r} ({self.name})" if check else f"check type {self.name}"
        return resolve(where, self.params, params)


def _endpoint(default: Role) -> Param:
    return Param("endpoint", 'which ESI: "primary" or "secondary"', role, default)


def _within(default: float, what: str) -> Param:
    return Param("within_s", f"seconds allowed {what}", seconds, default)


_TYPES: Final = (
    CheckType("reads-attribute", "The DUT reads an attribute (or receives reports of it) at least every N seconds "
              "over the run, after its first read.", (
                  _endpoint(Role.PRIMARY),
                  Param("cluster", 'the cluster, by name ("Metering", "Price", "Time", ...) or id', cluster),
                  Param("attribute", 'the attribute, by zigpy name ("instantaneous_demand") or id', attribute),
                  Param("every_s", "the longest time allowed between two reads", seconds, 10.0),
                  Param("tolerance_s", "lateness forgiven on each gap (the display's own request time)",
                        seconds_or_zero, 1.0),
              ), reading_checks.judge_reads_attribute),
    CheckType("discovers-endpoint", "A Match_Desc_rsp lists the endpoint and the DUT then talks to it, "
              "or the DUT asks its Simple_Desc.", (_endpoint(Role.SECONDARY),),
              reading_checks.judge_discovers_endpoint),
    CheckType("reads-mp184-export", "On the secondary ESI the DUT reads the export register, the four TOU export "
              "registers and their prices, asks GetProfile on the export channel and reads the export MPAN.",
              (), reading_checks.judge_reads_mp184_export),
    CheckType("asks-profile", "The DUT asks GetProfile on an interval channel of an ESI.", (
        _endpoint(Role.SECONDARY),
        Param("channel", "the interval channel: 0 or consumption_delivered, 1 or consumption_received",
              channel, int(IntervalChannel.Consumption_Received)),
    ), reading_checks.judge_asks_profile),
    CheckType("follows-price-change", "After each tier switch or new prices, the DUT re-reads the price "
              "(GetCurrentPrice or a Price read) or accepts the pushed PublishPrice within N seconds.",
              (_within(60.0, "after each tier-switch or new-prices event"),),
              event_checks.judge_follows_price_change),
    CheckType("confirms-message", "After each message asking for confirmation, the DUT sends "
              "MessageConfirmation within N seconds.", (_within(60.0, "after each message event"),),
              event_checks.judge_confirms_message),
    CheckType("recovers-after-restart", "After each meter restart or supply interruption ends, a request of "
              "the DUT is answered successfully within N seconds.",
              (_within(120.0, "after the meter is back"),), event_checks.judge_recovers_after_restart),
    CheckType("completes-cbke", "The DUT completes Key Establishment (Initiate, Ephemeral Data and Confirm Key "
              "answered, no Terminate), and again after each CBKE re-key.",
              (_within(120.0, "for each re-key after its cbke-rekey event"),
               Param("after", '"join": the key establishment of the join, then each re-key; '
                     '"cbke-rekey": only the re-keys', after_what, "join")),
              event_checks.judge_completes_cbke),
    CheckType("obeys-suspend", "No ZCL request from the DUT while the hub has it suspended (Sub-GHz Suspend ZCL "
              "Messages) after a subghz-suspend event.", (
                  Param("grace_s", "a request sent this soon after the Suspend frame was already under way",
                        seconds_or_zero, 1.0),
              ), event_checks.judge_obeys_suspend),
    CheckType("no-unserved-attributes", "No Read Attributes of the DUT is answered UNSUPPORTED_ATTRIBUTE.",
              (), reading_checks.judge_no_unserved_attributes),
)
CHECKS: Final[dict[str, CheckType]] = {c.name: c for c in _TYPES}


def check_params(spec: CheckSpec) -> dict[str, Any]:
    """The check's parameters, checked and completed with defaults; CheckError
    (one sentence naming the check) for an unknown type or a bad parameter."""
    kind = CHECKS.get(spec.type)
    if kind is None:
        raise CheckError(f"check {spec.name!r}: unknown type {spec.type!r} (one of {', '.join(CHECKS)})")
    return kind.resolve(spec.params, spec.name)


def evaluate(specs: Sequence[CheckSpec], log: RunLog) -> list[Verdict]:
    """One verdict per check, in the plan's order (CheckError if a check is unusable)."""
    verdicts = []
    for spec in specs:
        params = check_params(spec)
        found = CHECKS[spec.type].judge(params, log)
        verdicts.append(Verdict(spec, found.passed, found.expected, found.seen, found.frames))
    return verdicts
