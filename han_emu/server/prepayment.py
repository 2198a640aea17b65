"""The Prepayment cluster (0x0705) of one element's ESI, bound to its account.

Attributes read the element's :class:`~han_emu.meter.credit.PrepaymentAccount`
(money in GBP scaled by the meter's price trailing digit, as Price carries
prices).  The commands a PPMID sends are answered: SelectAvailableEmergencyCredit,
ConsumerTopUp (a lab UTRN: see the meter model), GetPrepaySnapshot and
GetTopUpLog.  The WAN-side commands (ChangeDebt, EmergencyCreditSetup,
CreditAdjustment, ChangePaymentMode, SetMaximumCreditLimit, SetOverallDebtCap)
come through DCC in GB and are not served: they get UNSUP_CLUSTER_COMMAND.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from zigpy.zcl.foundation import Status

from clusters import posix_to_utctime
from clusters.prepayment import (
    ANY_CAUSE,
    DEBTS,
    TOP_UP_RECORDS,
    DebtCreditStatus,
    DebtRecoveryFrequency,
    DebtRecoveryMethod,
    PaymentControlConfiguration,
    Prepayment,
    SnapshotPayloadType,
    TopUpRecord,
)
from clusters.price_split import MAX_ZCL_PAYLOAD_UNFRAGMENTED
from clusters.utctime import UTCTIME_INVALID, ZCL_EPOCH_POSIX
from han_emu.meter.model import TwinMeter
from han_emu.meter.credit import PERCENTAGE_BASED, PrepaymentAccount, Snapshot
from han_emu.server.attributes import AttributeTable
from han_emu.server.command import ZclError, ZclReply, ZclRequest

LOGGER = logging.getLogger(__name__)

_CMD = Prepayment.ClientCommandDefs
_REQ = Prepayment.ServerCommandDefs
_PCC = PaymentControlConfiguration
#: Prepayment mode: supply interrupted on no credit, accounting and display on, a
#: contactor fitted; debt collection halts when credit is exhausted (the model's rule).
PCC_PREPAYMENT = (_PCC.Disconnection_Enabled | _PCC.Prepayment_Enabled | _PCC.Credit_Management_Enabled
                  | _PCC.Credit_Display_Enabled | _PCC.Contactor_Fitted | _PCC.Debt_Configuration)
#: Credit mode: the meter keeps accounts against the tariff, no prepayment.
PCC_CREDIT = _PCC.Credit_Management_Enabled | _PCC.Contactor_Fitted
_FREQUENCY = {"hour": DebtRecoveryFrequency.Per_Hour, "day": DebtRecoveryFrequency.Per_Day,
              "week": DebtRecoveryFrequency.Per_Week, "month": DebtRecoveryFrequency.Per_Month,
              "quarter": DebtRecoveryFrequency.Per_Quarter}
INT32 = (-(2**31), 2**31 - 1)
UINT32 = (0, 2**32 - 2)  # 0xFFFFFFFF is the invalid value
_OPEN_ENDS = (0, UTCTIME_INVALID)  # "latest end time" values meaning no limit


class ElementPrepayment:
    """Prepayment attributes and command handlers of one element."""

    def __init__(self, meter: TwinMeter, element: str) -> None:
        self.meter = meter
        self.element = element

    @property
    def account(self) -> PrepaymentAccount:
        return self.meter.prepayment[self.element]

    def money(self, pounds: float, bounds: tuple[int, int] = INT32) -> int:
        """GBP as the HAN carries it: scaled by the price trailing digit, clamped to the type."""
        raw = round(pounds * 10 ** self.meter.settings.price_trailing_digit)
        return max(bounds[0], min(bounds[1], raw))

    # -- attributes -----------------------------------------------------------
    def table(self) -> AttributeTable:
        def a() -> PrepaymentAccount:  # looked up on each read: the account outlives no restore
            return self.account

        settings = self.meter.settings.element(self.element).prepayment
        getters: dict[str, Callable[[], Any]] = {
            "payment_control_configuration": lambda: PCC_PREPAYMENT if a().prepayment else PCC_CREDIT,
            "credit_remaining": lambda: self.money(a().credit),
            "emergency_credit_remaining": lambda: self.money(a().emergency_credit),
            "credit_status": lambda: a().status(),
            "credit_remaining_timestamp": lambda: posix_to_utctime(a().time),
            "accumulated_debt": lambda: self.money(a().accumulated_debt),
            "emergency_credit_limit_allowance": lambda: self.money(float(settings.emergency_credit_limit), UINT32),
            "emergency_credit_threshold": lambda: self.money(float(settings.emergency_credit_threshold), UINT32),
            "total_credit_added": lambda: self.money(a().total_added, (0, 2**48 - 2)),
            "low_credit_warning_level": lambda: self.money(float(settings.low_credit_warning), UINT32),
            "cut_off_value": lambda: 0,
        }
        for n in range(1, TOP_UP_RECORDS + 1):
            getters[f"top_up_date_time{n}"] = lambda n=n: self._top_up(n, "time")
            getters[f"top_up_amount{n}"] = lambda n=n: self._top_up(n, "amount")
            getters[f"originating_device{n}"] = lambda n=n: self._top_up(n, "device")
            getters[f"top_up_code{n}"] = lambda n=n: self._top_up(n, "code")
        for n, debt in enumerate(settings.debts[:DEBTS], start=1):
            time_based = debt.method != PERCENTAGE_BASED
            getters[f"debt_label{n}"] = lambda d=debt: d.label.encode("utf-8")
            getters[f"debt_amount{n}"] = lambda n=n: self.money(a().debts[n - 1].amount, UINT32)
            getters[f"debt_recovery_method{n}"] = lambda t=time_based: (
                DebtRecoveryMethod.Time_Based if t else DebtRecoveryMethod.Percentage_Based)
            getters[f"debt_recovery_frequency{n}"] = lambda d=debt: _FREQUENCY[d.frequency]
            getters[f"debt_recovery_amount{n}"] = lambda d=debt: self.money(float(d.rate), UINT32)
            # hundredths of a percent (provisional: see docs/clusters-prepayment.md)
            getters[f"debt_recovery_top_up_percentage{n}"] = lambda d=debt: int(round(d.percentage * 100))
        return AttributeTable.from_cluster(Prepayment, getters)

    def _top_up(self, n: int, what: str) -> Any:
        """Top-up record ``n`` (1 is the newest), or None while there are fewer."""
        log = self.account.top_ups
        if n > len(log):
            return None
        top = log[-n]
        if what == "time":
            return posix_to_utctime(top.time)
        if what == "amount":
            return self.money(top.amount)
        if what == "device":
            return top.device
        return top.code.encode("ascii", errors="replace")

    # -- handlers -------------------------------------------------------------
    def select_available_emergency_credit(self, request: ZclRequest) -> list[ZclReply]:
        if not self.account.select_emergency_credit():
            raise ZclError(Status.FAILURE, f"no emergency credit to select on the {self.element} element")
        LOGGER.info("%s element: emergency credit selected (device %d)", self.element,
                    int(request.args.originating_device))
        return []

    def consumer_top_up(self, request: ZclRequest) -> list[ZclReply]:
        device = int(request.args.originating_device)
        code = bytes(request.args.top_up_code).decode("ascii", errors="replace")
        account = self.account
        result = account.top_up(code, device, self.meter.time)
        if result.amount:
            LOGGER.info("%s element: UTRN %s accepted, credited %.2f GBP (the element's top_up_amount); "
                        "credit now %.2f GBP", self.element, code, result.amount, account.credit)
        else:
            LOGGER.info("%s element: UTRN %r rejected (result 0x%02X)", self.element, code, result.result)
        payload = _CMD.consumer_top_up_response.schema(
            result_type=result.result,
            top_up_value=self.money(result.amount),
            source_of_top_up=device,
            credit_remaining=self.money(account.credit),
        )
        return [ZclReply(_CMD.consumer_top_up_response.id, payload)]

    def get_prepay_snapshot(self, request: ZclRequest) -> list[ZclReply]:
        a = request.args
        earliest = int(a.earliest_start_time) + ZCL_EPOCH_POSIX
        latest = None if int(a.latest_end_time) in _OPEN_ENDS else int(a.latest_end_time) + ZCL_EPOCH_POSIX
        cause = int(a.snapshot_cause)
        found = [s for s in reversed(self.account.snapshots)
                 if s.time >= earliest and (latest is None or s.time <= latest)
                 and (cause == ANY_CAUSE or s.cause & cause)]
        offset = int(a.snapshot_offset)
        if offset >= len(found):
            raise ZclError(Status.NOT_FOUND, f"{len(found)} snapshots match, offset {offset} asked")
        return [ZclReply(_CMD.publish_prepay_snapshot.id, self.publish_snapshot(found[offset], len(found)))]

    def publish_snapshot(self, snap: Snapshot, found: int = 1) -> Any:
        debts = list(snap.debts[:DEBTS]) + [0.0] * (DEBTS - len(snap.debts[:DEBTS]))
        return _CMD.publish_prepay_snapshot.schema(
            snapshot_id=snap.id & 0xFFFFFFFF,
            snapshot_time=posix_to_utctime(snap.time),
            total_snapshots_found=min(found, 255),
            command_index=0,
            total_number_of_commands=1,
            snapshot_cause=snap.cause,
            snapshot_payload_type=SnapshotPayloadType.Debt_Credit_Status,
            snapshot_payload=DebtCreditStatus(
                accumulated_debt=self.money(snap.accumulated_debt),
                type1_debt_remaining=self.money(debts[0], UINT32),
                type2_debt_remaining=self.money(debts[1], UINT32),
                type3_debt_remaining=self.money(debts[2], UINT32),
                emergency_credit_remaining=self.money(snap.emergency_credit),
                credit_remaining=self.money(snap.credit),
            ),
        )

    def get_top_up_log(self, request: ZclRequest) -> list[ZclReply]:
        a = request.args
        latest = None if int(a.latest_end_time) in _OPEN_ENDS else int(a.latest_end_time) + ZCL_EPOCH_POSIX
        records = [r for r in reversed(self.account.top_ups) if latest is None or r.time <= latest]
        if int(a.number_of_records):
            records = records[:int(a.number_of_records)]
        if not records:
            raise ZclError(Status.NOT_FOUND, "no top-ups in the log")
        entries = [TopUpRecord(top_up_code=r.code.encode("ascii", errors="replace"),
                               top_up_amount=self.money(r.amount), top_up_time=posix_to_utctime(r.time))
                   for r in records]
        pages = top_up_log_pages(entries)
        return [ZclReply(_CMD.publish_top_up_log.id, _CMD.publish_top_up_log.schema(
            command_index=i, total_number_of_commands=len(pages), top_ups=page)) for i, page in enumerate(pages)]

    def handlers(self) -> dict[int, tuple[Callable[[ZclRequest], list[ZclReply]], tuple[int, ...]]]:
        """Command id -> (handler, ids it may answer with)."""
        return {
            _REQ.select_available_emergency_credit.id: (self.select_available_emergency_credit, ()),
            _REQ.consumer_top_up.id: (self.consumer_top_up, (_CMD.consumer_top_up_response.id,)),
            _REQ.get_prepay_snapshot.id: (self.get_prepay_snapshot, (_CMD.publish_prepay_snapshot.id,)),
            _REQ.get_top_up_log.id: (self.get_top_up_log, (_CMD.publish_top_up_log.id,)),
        }


def top_up_log_pages(entries: list[TopUpRecord], max_payload: int = MAX_ZCL_PAYLOAD_UNFRAGMENTED) -> list[list[TopUpRecord]]:
    """Split PublishTopUpLog records into commands that each fit one frame
    (two bytes of CommandIndex and TotalNumberOfCommands, then whole records)."""
    room = max_payload - 2
    pages: list[list[TopUpRecord]] = [[]]
    used = 0
    for entry in entries:
        size = len(entry.serialize())
        if used + size > room and pages[-1]:
            pages.append([])
            used = 0
        pages[-1].append(entry)
        used += size
    return pages[:255]
