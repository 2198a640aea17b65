"""Prepayment cluster (0x0705, SE 1.4 Annex D.7): attributes and commands.

zigpy 2.4 declares the cluster id only.  Ids, field orders and types follow
SE 1.4 D.7 as cross-checked against Wireshark's SE dissector (the "PREPAYMENT
CLUSTER" section of packet-zbee-zcl-se.c, which tshark uses); the bit and
enumeration values are those SE 1.4 tables D-130/D-131 (configuration, credit
status), D-135/D-136 (debt recovery), D-146 (originating device), D-151/D-152
(snapshot cause and payload) and D-154 (top-up result) give.

Declared: the Prepayment Information set (0x00xx), the Top-up set (0x01xx,
five records) and the Debt set (0x02xx, three debts), all commands of both
directions.  Not declared: the Alarm (0x04xx) and Historical Cost Consumption
(0x05xx) sets, which han-emu does not serve.

Naming scheme of the generated families:

* ``top_up_date_time{N}``, ``top_up_amount{N}``, ``originating_device{N}``,
  ``top_up_code{N}``                                              N = 1..5
* ``debt_label{N}``, ``debt_amount{N}``, ``debt_recovery_method{N}``,
  ``debt_recovery_start_time{N}``, ``debt_recovery_collection_time{N}``,
  ``debt_recovery_frequency{N}``, ``debt_recovery_amount{N}``,
  ``debt_recovery_top_up_percentage{N}``                         N = 1..3
"""

from __future__ import annotations

from typing import Final

import zigpy.types as t
from zigpy.zcl.clusters import smartenergy as zse
from zigpy.zcl.foundation import BaseAttributeDefs, BaseCommandDefs, ZCLAttributeDef, ZCLCommandDef

from clusters import ids
from clusters._families import add_attributes, attr

TOP_UP_RECORDS: Final = 5
DEBTS: Final = 3

#: A top-up code: an octet string of up to 25 octets after its length (SE D.7.2.3.5).
TopUpCode = t.LimitedLVBytes(25)
DebtLabel = t.LimitedLVBytes(12)
TokenCarrierId = t.LimitedLVBytes(20)


class PaymentControlConfiguration(t.bitmap16):
    """SE 1.4 Table D-130 (bit positions as Wireshark decodes them)."""

    Disconnection_Enabled = 0x0001
    Prepayment_Enabled = 0x0002
    Credit_Management_Enabled = 0x0004
    Credit_Display_Enabled = 0x0010
    Account_Base = 0x0040
    Contactor_Fitted = 0x0080
    Standing_Charge_Configuration = 0x0100
    Emergency_Standing_Charge_Configuration = 0x0200
    Debt_Configuration = 0x0400
    Emergency_Debt_Configuration = 1 << 11  # 0x0800


class CreditStatus(t.bitmap8):
    """SE 1.4 Table D-131."""

    Credit_OK = 0x01
    Low_Credit = 0x02
    Emergency_Credit_Enabled = 0x04
    Emergency_Credit_Available = 0x08
    Emergency_Credit_Selected = 0x10
    Emergency_Credit_In_Use = 0x20
    Credit_Exhausted = 0x40


class OriginatingDevice(t.enum8):
    """SE 1.4 Table D-146: who issued a selection or a top-up."""

    Energy_Service_Interface = 0x00
    Meter = 0x01
    In_Home_Display = 0x02


class DebtRecoveryMethod(t.enum8):
    """SE 1.4 Table D-135."""

    Time_Based = 0x00
    Percentage_Based = 0x01
    Catch_Up_Based = 0x02


class DebtRecoveryFrequency(t.enum8):
    """SE 1.4 Table D-136: the period one DebtRecoveryAmount is recovered over."""

    Per_Hour = 0x00
    Per_Day = 0x01
    Per_Week = 0x02
    Per_Month = 0x03
    Per_Quarter = 0x04


class ResultType(t.enum8):
    """ConsumerTopUpResponse result (SE 1.4 Table D-154)."""

    Accepted = 0x00
    Rejected_Invalid_Top_Up = 0x01
    Rejected_Duplicate_Top_Up = 0x02
    Rejected_Error = 0x03
    Rejected_Max_Credit_Reached = 0x04
    Rejected_Keypad_Lock = 0x05
    Rejected_Top_Up_Value_Too_Large = 0x06
    Accepted_Supply_Enabled = 0x10
    Accepted_Supply_Disabled = 0x11
    Accepted_Supply_Armed = 0x12


class SnapshotCause(t.bitmap32):
    """Prepayment snapshot causes (SE 1.4 Table D-151)."""

    General = 0x00000001
    End_Of_Billing_Period = 0x00000002
    Change_Of_Tariff_Information = 0x00000008
    Change_Of_Price_Matrix = 0x00000010
    Manually_Triggered_From_Client = 0x00000400
    Change_Of_Tenancy = 0x00001000
    Change_Of_Supplier = 0x00002000
    Change_Of_Meter_Mode = 0x00004000
    Top_Up_Addition = 0x00040000
    Debt_Credit_Addition = 0x00080000


#: GetPrepaySnapshot's SnapshotCause asking for snapshots of any cause.
ANY_CAUSE: Final = 0xFFFFFFFF


class SnapshotPayloadType(t.enum8):
    """SE 1.4 Table D-152."""

    Debt_Credit_Status = 0x00


class DebtType(t.enum8):
    """SE 1.4 Table D-149."""

    Debt_1 = 0x00
    Debt_2 = 0x01
    Debt_3 = 0x02
    All_Debts = 0xFF


class DebtCreditStatus(t.Struct):
    """The Debt/Credit Status snapshot payload (SE 1.4 Figure D-128)."""

    accumulated_debt: t.int32s
    type1_debt_remaining: t.uint32_t
    type2_debt_remaining: t.uint32_t
    type3_debt_remaining: t.uint32_t
    emergency_credit_remaining: t.int32s
    credit_remaining: t.int32s


class TopUpRecord(t.Struct):
    """One PublishTopUpLog entry (SE 1.4 Figure D-132)."""

    top_up_code: TopUpCode
    top_up_amount: t.int32s
    top_up_time: t.UTCTime


class DebtRecord(t.Struct):
    """One PublishDebtLog entry (SE 1.4 Figure D-134)."""

    collection_time: t.UTCTime
    amount_collected: t.uint32_t
    debt_type: DebtType
    outstanding_debt: t.uint32_t


def top_up_attr(record: int, offset: int = 0) -> int:
    """Top-up record N (1 newest .. 5): 0x0100 + 0x10(N-1) + field offset 0..3."""
    if not 1 <= record <= TOP_UP_RECORDS:
        raise ValueError(f"top-up record {record} outside 1..{TOP_UP_RECORDS}")
    return 0x0100 + 0x10 * (record - 1) + offset


def debt_attr(debt: int, offset: int = 0) -> int:
    """Debt N (1..3): 0x0210 + 0x10(N-1) + field offset (label 0 .. percentage 9)."""
    if not 1 <= debt <= DEBTS:
        raise ValueError(f"debt {debt} outside 1..{DEBTS}")
    return 0x0210 + 0x10 * (debt - 1) + offset


class _AttributeDefs(BaseAttributeDefs):
    # Prepayment Information set (D.7.2.2.1)
    payment_control_configuration: Final = ZCLAttributeDef(id=0x0000, type=PaymentControlConfiguration, access="r")
    credit_remaining: Final = ZCLAttributeDef(id=0x0001, type=t.int32s, access="r")
    emergency_credit_remaining: Final = ZCLAttributeDef(id=0x0002, type=t.int32s, access="r")
    credit_status: Final = ZCLAttributeDef(id=0x0003, type=CreditStatus, access="r")
    credit_remaining_timestamp: Final = ZCLAttributeDef(id=0x0004, type=t.UTCTime, access="r")
    accumulated_debt: Final = ZCLAttributeDef(id=0x0005, type=t.int32s, access="r")
    overall_debt_cap: Final = ZCLAttributeDef(id=0x0006, type=t.int32s, access="r")
    emergency_credit_limit_allowance: Final = ZCLAttributeDef(id=0x0010, type=t.uint32_t, access="r")
    emergency_credit_threshold: Final = ZCLAttributeDef(id=0x0011, type=t.uint32_t, access="r")
    total_credit_added: Final = ZCLAttributeDef(id=0x0020, type=t.uint48_t, access="r")
    max_credit_limit: Final = ZCLAttributeDef(id=0x0021, type=t.uint32_t, access="r")
    max_credit_per_top_up: Final = ZCLAttributeDef(id=0x0022, type=t.uint32_t, access="r")
    friendly_credit_warning: Final = ZCLAttributeDef(id=0x0030, type=t.uint8_t, access="r")
    low_credit_warning_level: Final = ZCLAttributeDef(id=0x0031, type=t.uint32_t, access="r")
    ihd_low_credit_warning_level: Final = ZCLAttributeDef(id=0x0032, type=t.uint32_t, access="rw")
    interrupt_suspend_time: Final = ZCLAttributeDef(id=0x0033, type=t.uint8_t, access="r")
    remaining_friendly_credit_time: Final = ZCLAttributeDef(id=0x0034, type=t.uint16_t, access="r")
    next_friendly_credit_period: Final = ZCLAttributeDef(id=0x0035, type=t.UTCTime, access="r")
    cut_off_value: Final = ZCLAttributeDef(id=0x0040, type=t.int32s, access="r")
    token_carrier_id: Final = ZCLAttributeDef(id=0x0080, type=TokenCarrierId, access="rw")


def _generated_attributes() -> list[ZCLAttributeDef]:
    out = []
    for n in range(1, TOP_UP_RECORDS + 1):
        out += [
            attr(top_up_attr(n, 0), f"top_up_date_time{n}", t.UTCTime),
            attr(top_up_attr(n, 1), f"top_up_amount{n}", t.int32s),
            attr(top_up_attr(n, 2), f"originating_device{n}", OriginatingDevice),
            attr(top_up_attr(n, 3), f"top_up_code{n}", TopUpCode),
        ]
    for n in range(1, DEBTS + 1):
        out += [
            attr(debt_attr(n, 0), f"debt_label{n}", DebtLabel),
            attr(debt_attr(n, 1), f"debt_amount{n}", t.uint32_t),
            attr(debt_attr(n, 2), f"debt_recovery_method{n}", DebtRecoveryMethod),
            attr(debt_attr(n, 3), f"debt_recovery_start_time{n}", t.UTCTime),
            attr(debt_attr(n, 4), f"debt_recovery_collection_time{n}", t.uint16_t),
            attr(debt_attr(n, 6), f"debt_recovery_frequency{n}", DebtRecoveryFrequency),
            attr(debt_attr(n, 7), f"debt_recovery_amount{n}", t.uint32_t),
            attr(debt_attr(n, 9), f"debt_recovery_top_up_percentage{n}", t.uint16_t),
        ]
    return out


add_attributes(_AttributeDefs, _generated_attributes())

_ISSUED = {"provider_id": t.uint32_t, "issuer_event_id": t.uint32_t, "implementation_date_time": t.UTCTime}


class _ServerCommandDefs(BaseCommandDefs):
    """Client -> server (D.7.2.3)."""

    select_available_emergency_credit: Final = ZCLCommandDef(
        id=0x00, schema={"command_issue_date_time": t.UTCTime, "originating_device": OriginatingDevice}
    )
    change_debt: Final = ZCLCommandDef(
        id=0x02,
        schema={
            "issuer_event_id": t.uint32_t,
            "debt_label": DebtLabel,
            "debt_amount": t.int32s,
            "debt_recovery_method": DebtRecoveryMethod,
            "debt_amount_type": t.enum8,
            "debt_recovery_start_time": t.UTCTime,
            "debt_recovery_collection_time": t.uint16_t,
            "debt_recovery_frequency": DebtRecoveryFrequency,
            "debt_recovery_amount": t.int32s,
            "debt_recovery_balance_percentage": t.uint16_t,
        },
    )
    emergency_credit_setup: Final = ZCLCommandDef(
        id=0x03,
        schema={
            "issuer_event_id": t.uint32_t,
            "start_time": t.UTCTime,
            "emergency_credit_limit": t.uint32_t,
            "emergency_credit_threshold": t.uint32_t,
        },
    )
    consumer_top_up: Final = ZCLCommandDef(
        id=0x04, schema={"originating_device": OriginatingDevice, "top_up_code": TopUpCode}
    )
    credit_adjustment: Final = ZCLCommandDef(
        id=0x05,
        schema={
            "issuer_event_id": t.uint32_t,
            "start_time": t.UTCTime,
            "credit_adjustment_type": t.enum8,
            "credit_adjustment_value": t.int32s,
        },
    )
    change_payment_mode: Final = ZCLCommandDef(
        id=0x06,
        schema={**_ISSUED, "proposed_payment_control_configuration": PaymentControlConfiguration,
                "cut_off_value": t.int32s},
    )
    get_prepay_snapshot: Final = ZCLCommandDef(
        id=0x07,
        schema={
            "earliest_start_time": t.UTCTime,
            "latest_end_time": t.UTCTime,
            "snapshot_offset": t.uint8_t,
            "snapshot_cause": SnapshotCause,
        },
    )
    get_top_up_log: Final = ZCLCommandDef(
        id=0x08, schema={"latest_end_time": t.UTCTime, "number_of_records": t.uint8_t}
    )
    set_low_credit_warning_level: Final = ZCLCommandDef(
        id=0x09, schema={"low_credit_warning_level": t.uint32_t}
    )
    get_debt_repayment_log: Final = ZCLCommandDef(
        id=0x0A,
        schema={"latest_end_time": t.UTCTime, "number_of_debts": t.uint8_t, "debt_type": DebtType},
    )
    set_maximum_credit_limit: Final = ZCLCommandDef(
        id=0x0B,
        schema={**_ISSUED, "maximum_credit_level": t.uint32_t, "maximum_credit_per_top_up": t.uint32_t},
    )
    set_overall_debt_cap: Final = ZCLCommandDef(id=0x0C, schema={**_ISSUED, "overall_debt_cap": t.int32s})


class _ClientCommandDefs(BaseCommandDefs):
    """Server -> client (D.7.2.4)."""

    publish_prepay_snapshot: Final = ZCLCommandDef(
        id=0x01,
        schema={
            "snapshot_id": t.uint32_t,
            "snapshot_time": t.UTCTime,
            "total_snapshots_found": t.uint8_t,
            "command_index": t.uint8_t,
            "total_number_of_commands": t.uint8_t,
            "snapshot_cause": SnapshotCause,
            "snapshot_payload_type": SnapshotPayloadType,
            "snapshot_payload": DebtCreditStatus,  # the one payload type SE 1.4 defines
        },
    )
    change_payment_mode_response: Final = ZCLCommandDef(
        id=0x02,
        schema={
            "friendly_credit": t.bitmap8,
            "friendly_credit_calendar_id": t.uint32_t,
            "emergency_credit_limit": t.uint32_t,
            "emergency_credit_threshold": t.uint32_t,
        },
    )
    consumer_top_up_response: Final = ZCLCommandDef(
        id=0x03,
        schema={
            "result_type": ResultType,
            "top_up_value": t.int32s,
            "source_of_top_up": OriginatingDevice,
            "credit_remaining": t.int32s,
        },
    )
    publish_top_up_log: Final = ZCLCommandDef(
        id=0x05,
        schema={
            "command_index": t.uint8_t,
            "total_number_of_commands": t.uint8_t,
            "top_ups": t.List[TopUpRecord],
        },
    )
    publish_debt_log: Final = ZCLCommandDef(
        id=0x06,
        schema={
            "command_index": t.uint8_t,
            "total_number_of_commands": t.uint8_t,
            "debts": t.List[DebtRecord],
        },
    )


class Prepayment(zse.Prepayment):
    """Smart Energy Prepayment cluster with its attribute and command tables."""

    _skip_registry = True

    cluster_id: Final[t.uint16_t] = ids.PREPAYMENT
    ep_attribute: Final = "smartenergy_prepayment"

    AttributeDefs = _AttributeDefs
    ServerCommandDefs = _ServerCommandDefs
    ClientCommandDefs = _ClientCommandDefs


#: The two paged or variable payload schemas, for builders.
PublishTopUpLogSchema = Prepayment.ClientCommandDefs.publish_top_up_log.schema
PublishPrepaySnapshotSchema = Prepayment.ClientCommandDefs.publish_prepay_snapshot.schema
