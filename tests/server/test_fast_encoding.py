"""The server's byte-level shortcuts give zigpy's bytes for every attribute it serves.

Read Attributes Responses and attribute reports are built from
``AttributeBinding.encode_bytes``, ``sample`` and ``value_bytes`` without
zigpy structs; here every binding of a full ESI (and every integer, enum and
bitmap type zigpy declares, at the edges of its range) is encoded both ways.
"""

from __future__ import annotations

import pytest
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.foundation import DataTypeId, Status, ZCLAttributeDef

from clusters import Price
from han_emu.meter.clock import VirtualClock
from han_emu.meter.model import TwinMeter
from han_emu.meter.settings import MeterSettings
from han_emu.server.attributes import AttributeBinding, AttributeReadError, AttributeTable, MissingValue
from han_emu.server.catalogue import full_server
from han_emu.server.esi import EsiServer


def _zigpy_bytes(binding: AttributeBinding, missing: MissingValue) -> bytes | Status:
    try:
        return binding.encode(missing).serialize()
    except AttributeReadError as exc:
        return exc.status


def _fast_bytes(binding: AttributeBinding, missing: MissingValue) -> bytes | Status:
    try:
        return binding.encode_bytes(missing)
    except AttributeReadError as exc:
        return exc.status


def _sampled_bytes(binding: AttributeBinding, missing: MissingValue) -> bytes | Status:
    try:
        return binding.value_bytes(binding.sample(), missing)
    except AttributeReadError as exc:
        return exc.status


def _bindings() -> list[AttributeBinding]:
    server = full_server()
    return [b for ep in server.zcl.endpoints.values()
            for sides in (ep.server_clusters, ep.client_clusters) for side in sides.values()
            for b in side.attributes]


@pytest.mark.parametrize("missing", list(MissingValue))
def test_every_served_attribute_encodes_as_zigpy_does(missing: MissingValue) -> None:
    bindings = _bindings()
    assert len(bindings) > 100
    for binding in bindings:
        want = _zigpy_bytes(binding, missing)
        for _ in range(2):  # the second read of an enumeration comes from its memo
            assert _fast_bytes(binding, missing) == want, binding.name
        assert _sampled_bytes(binding, missing) == want, binding.name
        if isinstance(want, bytes):  # a report record: zigpy's Attribute struct
            record = foundation.Attribute(attrid=t.uint16_t(binding.id), value=binding.encode(missing))
            assert binding.id.to_bytes(2, "little") + _sampled_bytes(binding, missing) == record.serialize()


def _integer_types() -> list[type]:
    """Every integer, enumeration and bitmap type in zigpy's ZCL data type table."""
    out = []
    for type_id in DataTypeId:
        typ = foundation.DataType.from_type_id(type_id).python_type
        if isinstance(typ, type) and issubclass(typ, t.FixedIntType):
            out.append(typ)
    return out


@pytest.mark.parametrize("typ", _integer_types(), ids=lambda typ: typ.__name__)
def test_integer_edges_encode_as_zigpy_does(typ: type) -> None:
    lo, hi = typ.min_value, typ.max_value
    for value in (lo, lo + 1, 0, 1, hi - 1, hi, lo - 1, hi + 1, True, 2.0, None):
        definition = ZCLAttributeDef(id=0x0001, type=typ, access="rp", name="x")
        binding = AttributeTable().bind(definition, lambda value=value: value)
        for missing in MissingValue:
            want = _zigpy_bytes(binding, missing)
            assert _fast_bytes(binding, missing) == want, value
            assert _fast_bytes(binding, missing) == want, value
            assert _sampled_bytes(binding, missing) == want, value


def test_read_plan_follows_added_bindings() -> None:
    table = AttributeTable()
    assert table.read_plan((0x0001,)) == ((b"\x01\x00\x86", None),)
    binding = table.bind(ZCLAttributeDef(id=0x0001, type=t.uint8_t, access="r", name="x"), lambda: 3)
    assert table.read_plan((0x0001,)) == ((b"\x01\x00\x00", binding),)


def test_publish_price_with_packed_bytes_made_once_is_zigpys() -> None:
    clock = VirtualClock(1.78e9)
    server = EsiServer(TwinMeter(MeterSettings(), clock.now()), clock)
    for price in server.prices.values():
        for _ in range(2):  # the second takes the packed bytes from the memo
            message = price.publish_price()
            plain = Price.ClientCommandDefs.publish_price.schema(
                **{k: (None if v is None else int(v) if isinstance(v, int) else v)
                   for k, v in message.as_dict().items()})
            assert message == plain
            assert message.serialize() == plain.serialize()
