"""Attribute tables: binding by name, access rules, encodings of missing values."""

from __future__ import annotations

import pytest
import zigpy.types as t
from zigpy.zcl.clusters.general import Basic, Time
from zigpy.zcl.clusters.smartenergy import Metering
from zigpy.zcl.foundation import Status, ZCLAttributeDef

from han_emu.server.attributes import AttributeReadError, AttributeTable, MissingValue


def test_from_cluster_binds_definitions_by_name() -> None:
    table = AttributeTable.from_cluster(
        Metering,
        {"current_summ_delivered": lambda: 5, "instantaneous_demand": lambda: -2},
        reportable=["current_summ_delivered"],
    )
    summ = table.get(0x0000)
    assert summ is not None and summ.type_id == 0x25 and summ.reportable
    demand = table.get(0x0400)
    assert demand is not None and demand.type_id == 0x2A and not demand.reportable
    assert table.ids() == [0x0000, 0x0400]
    assert table.get(0x0001) is None
    # Value bytes: uint48 5 and int24 -2, little-endian.
    assert summ.encode().serialize() == bytes.fromhex("25 050000000000")
    assert demand.encode().serialize() == bytes.fromhex("2a feffff")


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="no attributes named"):
        AttributeTable.from_cluster(Metering, {"current_sum_delivered": lambda: 0})
    with pytest.raises(ValueError, match="no attributes named"):
        AttributeTable.from_cluster(Metering, {}, reportable=["nonsense"])


def test_setters_only_on_writable_definitions() -> None:
    with pytest.raises(ValueError, match="read-only"):
        AttributeTable.from_cluster(Metering, {"status": lambda: 0}, {"status": lambda v: None})
    with pytest.raises(ValueError, match="setters without getters"):
        AttributeTable.from_cluster(Time, {}, {"time_zone": lambda v: None})
    # Write_Optional ('*w') accepts a setter.
    table = AttributeTable.from_cluster(Time, {"time": lambda: 0}, {"time": lambda v: None})
    assert table.get(0x0000).writable


def test_reportable_follows_report_access() -> None:
    table = AttributeTable()
    table.bind(ZCLAttributeDef(id=0x0100, type=t.uint16_t, access="rp", name="level"), lambda: 1)
    table.bind(ZCLAttributeDef(id=0x0101, type=t.uint16_t, access="r", name="other"), lambda: 1)
    assert table.get(0x0100).reportable and not table.get(0x0101).reportable


def test_duplicate_binding_refused() -> None:
    table = AttributeTable.from_cluster(Basic, {"zcl_version": lambda: 3})
    with pytest.raises(ValueError, match="bound twice"):
        table.bind(Basic.AttributeDefs.zcl_version, lambda: 4)


def test_cluster_revision_constant() -> None:
    table = AttributeTable.from_cluster(Basic, {}, cluster_revision=3)
    assert table.get(0xFFFD).encode().serialize() == bytes.fromhex("21 0300")


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("current_summ_delivered", "25 ffffffffffff"),  # uint48 invalid
        ("instantaneous_demand", "2a 000080"),  # int24 invalid is -2^23
        ("unit_of_measure", "30 ff"),  # enum8
        ("site_id", "41 ff"),  # octet string length 0xFF
        ("bill_to_date_time_stamp", "e2 ffffffff"),  # UTC time
    ],
)
def test_missing_values_use_the_types_invalid_value(name: str, encoded: str) -> None:
    table = AttributeTable.from_cluster(Metering, {name: lambda: None})
    (binding,) = list(table)
    assert binding.encode(MissingValue.INVALID).serialize() == bytes.fromhex(encoded)
    with pytest.raises(AttributeReadError) as err:
        binding.encode(MissingValue.UNSUPPORTED)
    assert err.value.status == Status.UNSUPPORTED_ATTRIBUTE


def test_bitmap_has_no_invalid_value() -> None:
    table = AttributeTable.from_cluster(Metering, {"status": lambda: None})
    with pytest.raises(AttributeReadError) as err:
        table.get(0x0200).encode(MissingValue.INVALID)
    assert err.value.status == Status.UNSUPPORTED_ATTRIBUTE


def test_model_errors_become_failure() -> None:
    def broken() -> int:
        raise RuntimeError("model bug")

    table = AttributeTable.from_cluster(
        Metering, {"current_summ_delivered": lambda: -1, "multiplier": broken}
    )
    for attr_id in (0x0000, 0x0301):
        with pytest.raises(AttributeReadError) as err:
            table.get(attr_id).encode()
        assert err.value.status == Status.FAILURE


def test_manufacturer_specific_definitions_need_a_code() -> None:
    class Custom(Basic):
        _skip_registry = True

        class AttributeDefs(Basic.AttributeDefs):
            secret = ZCLAttributeDef(id=0x4001, type=t.uint8_t, access="r", is_manufacturer_specific=True)

    with pytest.raises(ValueError, match="manufacturer_code"):
        AttributeTable.from_cluster(Custom, {"secret": lambda: 1})
    table = AttributeTable.from_cluster(Custom, {"secret": lambda: 1}, manufacturer_code=0x1234)
    assert table.get(0x4001) is None
    assert table.get(0x4001, 0x1234) is not None
    assert table.manufacturer_codes() == {0x1234}
