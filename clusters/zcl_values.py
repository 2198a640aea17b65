"""ZCL-typed values and attribute records (ZCL 2.5), read without zigpy's Struct.

Read Attributes Responses and reports are the bulk of HAN traffic, and both the
readout model and the capture replay parse them on every frame: integers,
enumerations, bitmaps, UTC times and strings are read with ``int.from_bytes``;
rarer composite types go through zigpy's own deserializers, so the result is
the same value zigpy gives (a test checks that both agree).  The table of
fixed-size types is written out here (a test holds it to zigpy's data-type
table), so reading a record does not import zigpy's cluster library.
"""

from __future__ import annotations

import struct
from typing import Any, Iterator

_U16 = struct.Struct("<H")
INVALID_STRING = 0xFF
_OCTSTR, _STRING, _BOOL = 0x41, 0x42, 0x10  # DataTypeId.octstr, .string, .bool_


class ZclValueError(ValueError):
    """A typed value or attribute record that does not fit its bytes."""


def _fixed_types() -> dict[int, tuple[int, bool]]:
    """(size, signed) of each fixed-size type read as an integer, from zigpy's
    data-type table: integers, bitmaps, enumerations, UTC time, cluster and
    attribute ids, BACnet OID; and the general data types data8..data64 (byte
    lists in zigpy, unsigned integers here).  Booleans are read as bools.
    :data:`FIXED_TYPES` is this table written out."""
    from zigpy.zcl import foundation
    from zigpy.zcl.foundation import DataTypeId

    data_types = range(DataTypeId.data8, DataTypeId.data64 + 1)
    table: dict[int, tuple[int, bool]] = {}
    for type_id in DataTypeId:
        python_type = foundation.DataType.from_type_id(type_id).python_type
        if type_id in data_types:
            table[int(type_id)] = (python_type._length, False)
        elif (type_id != DataTypeId.bool_ and isinstance(python_type, type) and issubclass(python_type, int)
              and getattr(python_type, "_size", None)):
            table[int(type_id)] = (python_type._size, bool(python_type._signed))
    return table


FIXED_TYPES: dict[int, tuple[int, bool]] = {
    **{0x08 + i: (1 + i, False) for i in range(8)},  # data8..data64
    **{0x18 + i: (1 + i, False) for i in range(8)},  # map8..map64
    **{0x20 + i: (1 + i, False) for i in range(8)},  # uint8..uint64
    **{0x28 + i: (1 + i, True) for i in range(8)},  # int8..int64
    0x30: (1, False), 0x31: (2, False),  # enum8, enum16
    0xE2: (4, False), 0xE8: (2, False), 0xE9: (2, False), 0xEA: (4, False),  # UTC, clusterId, attribId, bacOID
}
"""(size, signed) of each fixed-size type id: :func:`_fixed_types` written out."""


def read_value(type_id: int, data: bytes, off: int) -> tuple[Any, int]:
    """(value, new offset) of a ZCL-typed value at ``data[off:]``: an int for
    fixed-size types, bytes for an octet string, str for a character string
    (None for the invalid 0xFF length), bool, or zigpy's value otherwise."""
    fixed = FIXED_TYPES.get(type_id)
    if fixed is not None:
        size, signed = fixed
        end = off + size
        if end > len(data):
            raise ZclValueError(f"value of type 0x{type_id:02x} truncated")
        return int.from_bytes(data[off:end], "little", signed=signed), end
    if type_id in (_OCTSTR, _STRING):
        if off >= len(data):
            raise ZclValueError("string value truncated")
        n = data[off]
        if n == INVALID_STRING:
            return None, off + 1
        end = off + 1 + n
        if end > len(data):
            raise ZclValueError("string value truncated")
        raw = data[off + 1 : end]
        return (raw if type_id == _OCTSTR else raw.decode("utf-8", "replace")), end
    if type_id == _BOOL:
        if off >= len(data):
            raise ZclValueError("boolean value truncated")
        return bool(data[off]), off + 1
    from zigpy.zcl import foundation  # composite types: rare, read by zigpy

    try:
        python_type = foundation.DataType.from_type_id(type_id).python_type
        value, rest = python_type.deserialize(data[off:])
    except Exception as exc:
        raise ZclValueError(f"value of type 0x{type_id:02x}: {exc}") from None
    return value, len(data) - len(rest)


def read_response_records(data: bytes) -> Iterator[tuple[int, int, int | None, Any]]:
    """Read Attributes Response records: (attribute id, status, type id, value);
    type and value are None for a failed record."""
    off, n = 0, len(data)
    fixed_types = FIXED_TYPES
    try:
        while off < n:
            aid, status = data[off] | data[off + 1] << 8, data[off + 2]
            off += 3
            if status:
                yield aid, status, None, None
                continue
            type_id = data[off]
            fixed = fixed_types.get(type_id)
            if fixed is not None and off + 1 + fixed[0] <= n:  # read_value's first case, inline: most records
                end = off + 1 + fixed[0]
                value, off = int.from_bytes(data[off + 1:end], "little", signed=fixed[1]), end
            else:
                value, off = read_value(type_id, data, off + 1)
            yield aid, 0, type_id, value
    except (IndexError, struct.error):
        raise ZclValueError("attribute record truncated") from None


def read_typed_records(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """Report Attributes (and Write Attributes) records: (id, type id, value)."""
    off, n = 0, len(data)
    try:
        while off < n:
            aid = _U16.unpack_from(data, off)[0]
            type_id = data[off + 2]
            value, off = read_value(type_id, data, off + 3)
            yield aid, type_id, value
    except (IndexError, struct.error):
        raise ZclValueError("attribute record truncated") from None
