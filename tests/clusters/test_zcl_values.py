"""The fast ZCL value reader agrees with zigpy's deserializers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from zigpy.zcl import foundation

from clusters import zcl_values
from clusters.zcl_values import FIXED_TYPES, ZclValueError, read_response_records, read_typed_records, read_value


@given(st.sampled_from(sorted(FIXED_TYPES)), st.binary(min_size=8, max_size=8))
def test_fixed_types_agree_with_zigpy(type_id: int, data: bytes) -> None:
    theirs, rest = foundation.DataType.from_type_id(type_id).python_type.deserialize(data)
    ours, end = read_value(type_id, data, 0)
    size, signed = FIXED_TYPES[type_id]
    assert ours.to_bytes(size, "little", signed=signed) == theirs.serialize()
    assert data[end:] == rest


def test_fixed_types_cover_the_zcl_integer_types() -> None:
    """ZCL 2.6.2: data8..64, bitmap8..64, uint8..64, int8..64, enum8/16, UTC,
    cluster id, attribute id, BACnet OID; the table is taken from zigpy's."""
    expected = {**{0x08 + i: (i + 1, False) for i in range(8)}, **{0x18 + i: (i + 1, False) for i in range(8)},
                **{0x20 + i: (i + 1, False) for i in range(8)}, **{0x28 + i: (i + 1, True) for i in range(8)},
                0x30: (1, False), 0x31: (2, False), 0xE2: (4, False), 0xE8: (2, False), 0xE9: (2, False),
                0xEA: (4, False)}
    assert FIXED_TYPES == expected


def test_written_out_type_table_is_zigpys() -> None:
    """The table the module writes out (so reading needs no zigpy import) is the one zigpy's types give."""
    assert FIXED_TYPES == zcl_values._fixed_types()
    ids = foundation.DataTypeId
    assert (zcl_values._OCTSTR, zcl_values._STRING, zcl_values._BOOL) == (ids.octstr, ids.string, ids.bool_)


def test_golden_read_attributes_response_records() -> None:
    # 0x0001 uint48 12000; 0x0307 octet string "12"; 0x1234 UNSUPPORTED_ATTRIBUTE (0x86).
    body = bytes.fromhex("0100 00 25 e02e00000000" "0703 00 41 02 3132" "3412 86".replace(" ", ""))
    assert list(read_response_records(body)) == [
        (0x0001, 0, 0x25, 12000), (0x0307, 0, 0x41, b"12"), (0x1234, 0x86, None, None)
    ]


def test_golden_report_records_and_signed_demand() -> None:
    # InstantaneousDemand int24 -1500 (0xFFFA24) and an invalid (0xFF) string.
    body = bytes.fromhex("0004 2a 24faff" "0703 41 ff".replace(" ", ""))
    assert list(read_typed_records(body)) == [(0x0400, 0x2A, -1500), (0x0307, 0x41, None)]


@pytest.mark.parametrize("body", ["0100 00 25 e02e", "0703 00 41 05 31", "01"])
def test_truncated_records_are_a_clear_error(body: str) -> None:
    with pytest.raises(ZclValueError):
        list(read_response_records(bytes.fromhex(body.replace(" ", ""))))
