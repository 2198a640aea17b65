"""Prepayment (0x0705) payloads: golden bytes both ways for every command, and
the attribute ids and types against SE 1.4 D.7 (as Wireshark names them)."""

from __future__ import annotations

from typing import Any

import pytest
from zigpy.zcl.foundation import DataTypeId

from clusters import SE_CLUSTERS, Prepayment
from clusters.prepayment import DebtCreditStatus, DebtRecord, TopUpRecord, debt_attr, top_up_attr

REQ = Prepayment.ServerCommandDefs
RSP = Prepayment.ClientCommandDefs
UTRN = b"12345678901234567890"
WHEN = 0x30D0A8C0  # a UTCTime: c0 a8 d0 30 on the air

# (command definition, fields, payload bytes written out by hand, field by field)
GOLDEN: list[tuple[Any, dict[str, Any], str]] = [
    (REQ.select_available_emergency_credit,
     {"command_issue_date_time": WHEN, "originating_device": 2}, "c0a8d030 02"),
    (REQ.change_debt,
     {"issuer_event_id": 1, "debt_label": b"Old", "debt_amount": 5000, "debt_recovery_method": 0,
      "debt_amount_type": 1, "debt_recovery_start_time": 0, "debt_recovery_collection_time": 600,
      "debt_recovery_frequency": 1, "debt_recovery_amount": 50, "debt_recovery_balance_percentage": 1000},
     "01000000 03 4f6c64 88130000 00 01 00000000 5802 01 32000000 e803"),
    (REQ.emergency_credit_setup,
     {"issuer_event_id": 2, "start_time": 0, "emergency_credit_limit": 500000,
      "emergency_credit_threshold": 100000}, "02000000 00000000 20a10700 a0860100"),
    (REQ.consumer_top_up, {"originating_device": 2, "top_up_code": UTRN},
     "02 14 3132333435363738393031323334353637383930"),
    (REQ.credit_adjustment,
     {"issuer_event_id": 3, "start_time": 0, "credit_adjustment_type": 0, "credit_adjustment_value": -100},
     "03000000 00000000 00 9cffffff"),
    (REQ.change_payment_mode,
     {"provider_id": 1, "issuer_event_id": 4, "implementation_date_time": 0,
      "proposed_payment_control_configuration": 0x0497, "cut_off_value": 0},
     "01000000 04000000 00000000 9704 00000000"),
    (REQ.get_prepay_snapshot,
     {"earliest_start_time": 0, "latest_end_time": 0xFFFFFFFF, "snapshot_offset": 0, "snapshot_cause": 0xFFFFFFFF},
     "00000000 ffffffff 00 ffffffff"),
    (REQ.get_top_up_log, {"latest_end_time": 0xFFFFFFFF, "number_of_records": 5}, "ffffffff 05"),
    (REQ.set_low_credit_warning_level, {"low_credit_warning_level": 200000}, "400d0300"),
    (REQ.get_debt_repayment_log, {"latest_end_time": 0xFFFFFFFF, "number_of_debts": 10, "debt_type": 0xFF},
     "ffffffff 0a ff"),
    (REQ.set_maximum_credit_limit,
     {"provider_id": 1, "issuer_event_id": 5, "implementation_date_time": 0, "maximum_credit_level": 10_000_000,
      "maximum_credit_per_top_up": 5_000_000}, "01000000 05000000 00000000 80969800 404b4c00"),
    (REQ.set_overall_debt_cap,
     {"provider_id": 1, "issuer_event_id": 6, "implementation_date_time": 0, "overall_debt_cap": 1_000_000},
     "01000000 06000000 00000000 40420f00"),
    (RSP.publish_prepay_snapshot,
     {"snapshot_id": 7, "snapshot_time": WHEN, "total_snapshots_found": 1, "command_index": 0,
      "total_number_of_commands": 1, "snapshot_cause": 0x00040000, "snapshot_payload_type": 0,
      "snapshot_payload": DebtCreditStatus(accumulated_debt=2_500_000, type1_debt_remaining=2_500_000,
                                           type2_debt_remaining=0, type3_debt_remaining=0,
                                           emergency_credit_remaining=500_000, credit_remaining=-12345)},
     "07000000 c0a8d030 01 00 01 00000400 00 a0252600 a0252600 00000000 00000000 20a10700 c7cfffff"),
    (RSP.change_payment_mode_response,
     {"friendly_credit": 0, "friendly_credit_calendar_id": 0, "emergency_credit_limit": 500000,
      "emergency_credit_threshold": 100000}, "00 00000000 20a10700 a0860100"),
    (RSP.consumer_top_up_response,
     {"result_type": 0, "top_up_value": 1_000_000, "source_of_top_up": 2, "credit_remaining": 1_500_000},
     "00 40420f00 02 60e31600"),
    (RSP.publish_top_up_log,
     {"command_index": 0, "total_number_of_commands": 1,
      "top_ups": [TopUpRecord(top_up_code=UTRN, top_up_amount=1_000_000, top_up_time=WHEN)]},
     "00 01 14 3132333435363738393031323334353637383930 40420f00 c0a8d030"),
    (RSP.publish_debt_log,
     {"command_index": 0, "total_number_of_commands": 1,
      "debts": [DebtRecord(collection_time=WHEN, amount_collected=5000, debt_type=0, outstanding_debt=2_495_000)]},
     "00 01 c0a8d030 88130000 00 18122600"),
]


@pytest.mark.parametrize(("command", "values", "hex_payload"), GOLDEN, ids=[c.name for c, _, _ in GOLDEN])
def test_golden_bytes_both_ways(command: Any, values: dict[str, Any], hex_payload: str) -> None:
    wire = bytes.fromhex(hex_payload.replace(" ", ""))
    assert command.schema(**values).serialize() == wire
    decoded, rest = command.schema.deserialize(wire)
    assert rest == b""
    assert decoded.serialize() == wire
    for name, value in values.items():
        got = getattr(decoded, name)
        if isinstance(value, list):
            assert [r.serialize() for r in got] == [r.serialize() for r in value]
        elif hasattr(value, "serialize"):
            assert got.serialize() == value.serialize()
        else:
            assert got == value, name


def test_every_declared_command_has_golden_bytes() -> None:
    golden = {(c.direction, c.id) for c, _, _ in GOLDEN}
    declared = {(c.direction, c.id) for defs in (REQ, RSP) for c in defs}
    assert golden == declared
    # SE 1.4: client->server 0x00, 0x02..0x0C; server->client 0x01..0x03, 0x05, 0x06
    assert sorted(c.id for c in REQ) == [0x00, *range(0x02, 0x0D)]
    assert sorted(c.id for c in RSP) == [0x01, 0x02, 0x03, 0x05, 0x06]


def test_a_top_up_code_longer_than_the_spec_still_decodes() -> None:
    """A PPMID may send a wrong code: the server must see it to refuse it with a
    result code, so decoding does not enforce the 25-octet limit."""
    decoded, _ = REQ.consumer_top_up.schema.deserialize(bytes([2, 30]) + b"9" * 30)
    assert bytes(decoded.top_up_code) == b"9" * 30


@pytest.mark.parametrize(
    ("attr_id", "name", "zcl_type"),
    [
        (0x0000, "payment_control_configuration", DataTypeId.map16),
        (0x0001, "credit_remaining", DataTypeId.int32),
        (0x0002, "emergency_credit_remaining", DataTypeId.int32),
        (0x0003, "credit_status", DataTypeId.map8),
        (0x0004, "credit_remaining_timestamp", DataTypeId.UTC),
        (0x0005, "accumulated_debt", DataTypeId.int32),
        (0x0010, "emergency_credit_limit_allowance", DataTypeId.uint32),
        (0x0011, "emergency_credit_threshold", DataTypeId.uint32),
        (0x0020, "total_credit_added", DataTypeId.uint48),
        (0x0031, "low_credit_warning_level", DataTypeId.uint32),
        (0x0040, "cut_off_value", DataTypeId.int32),
        (0x0100, "top_up_date_time1", DataTypeId.UTC),
        (0x0101, "top_up_amount1", DataTypeId.int32),
        (0x0102, "originating_device1", DataTypeId.enum8),
        (0x0103, "top_up_code1", DataTypeId.octstr),
        (0x0143, "top_up_code5", DataTypeId.octstr),
        (0x0210, "debt_label1", DataTypeId.octstr),
        (0x0211, "debt_amount1", DataTypeId.uint32),
        (0x0212, "debt_recovery_method1", DataTypeId.enum8),
        (0x0216, "debt_recovery_frequency1", DataTypeId.enum8),
        (0x0217, "debt_recovery_amount1", DataTypeId.uint32),
        (0x0219, "debt_recovery_top_up_percentage1", DataTypeId.uint16),
        (0x0230, "debt_label3", DataTypeId.octstr),
        (0x0239, "debt_recovery_top_up_percentage3", DataTypeId.uint16),
    ],
)
def test_attribute_ids_and_types(attr_id: int, name: str, zcl_type: int) -> None:
    a = Prepayment.attributes[attr_id]
    assert (a.name, a.zcl_type) == (name, zcl_type)


def test_family_formulas_and_registry() -> None:
    assert SE_CLUSTERS[0x0705] is Prepayment
    assert [top_up_attr(n) for n in range(1, 6)] == [0x0100, 0x0110, 0x0120, 0x0130, 0x0140]
    assert [debt_attr(n, 9) for n in range(1, 4)] == [0x0219, 0x0229, 0x0239]
    with pytest.raises(ValueError):
        top_up_attr(6)
    with pytest.raises(ValueError):
        debt_attr(0)
