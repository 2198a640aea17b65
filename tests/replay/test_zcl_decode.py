"""ZCL decoding: hand-written golden frames, and the compiled payload plans held
to agree with zigpy's deserializers on every Smart Energy command."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from clusters import SE_CLUSTERS
from han_emu.replay import zclplans
from han_emu.replay.zcl import (
    ZclDecodeError,
    _plan,
    compile_plan,
    decode_payload,
    decode_zcl,
    plan_table,
    plan_table_text,
    struct_fields,
)

COMMANDS = [
    (cluster_id, direction, cdef)
    for cluster_id, cls in SE_CLUSTERS.items()
    for direction, defs in (("server", cls.server_commands), ("client", cls.client_commands))
    for cdef in defs.values()
]


def _zigpy(schema, body):
    try:
        value, rest = schema.deserialize(body)
    except Exception:
        return None
    out = struct_fields(value)
    if rest:
        out["trailing"] = rest.hex()
    return out


@pytest.mark.parametrize("cluster,direction,cdef", COMMANDS, ids=lambda c: getattr(c, "name", str(c)))
def test_compiled_plan_agrees_with_zigpy(cluster, direction, cdef) -> None:
    rng = random.Random(cdef.name)
    for n in range(60):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 48)))
        if n % 3 == 0:  # make length prefixes small enough to fit
            body = bytes(b % 8 for b in body)
        expected = _zigpy(cdef.schema, body)
        if expected is None:
            with pytest.raises(ZclDecodeError):
                decode_payload(cdef.schema, body)
        else:
            assert decode_payload(cdef.schema, body) == expected


def test_written_plans_are_what_the_schemas_compile_to() -> None:
    """``replay/zclplans.py`` (what decode_zcl reads, without importing zigpy) is
    the table the schemas and zigpy give now; on a change, regenerate it with
    ``plan_table_text()``."""
    general, commands = plan_table()
    assert zclplans.GENERAL_NAMES == general
    assert zclplans.COMMANDS == commands
    assert Path(zclplans.__file__).read_text(encoding="utf-8") == plan_table_text()
    assert {(c, d == "client", int(cdef.id)) for c, d, cdef in COMMANDS} == set(zclplans.COMMANDS)


@pytest.mark.parametrize("cluster,direction,cdef", COMMANDS, ids=lambda c: getattr(c, "name", str(c)))
def test_decode_zcl_reads_each_command_with_the_written_plan(cluster, direction, cdef) -> None:
    """Whole frames of every Smart Energy command, through the written table,
    against zigpy's reading of the payload (random bodies, as above)."""
    fc = 0x09 if direction == "client" else 0x01
    assert zclplans.COMMANDS[(cluster, direction == "client", cdef.id)] == (
        cdef.name, compile_plan(cdef.schema))
    rng = random.Random(cdef.name + "-frame")
    for n in range(40):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 48)))
        if n % 3 == 0:
            body = bytes(b % 8 for b in body)
        frame = bytes((fc, n, cdef.id)) + body
        expected = _zigpy(cdef.schema, body)
        if expected is None:
            with pytest.raises(ZclDecodeError):
                decode_zcl(cluster, frame)
        else:
            m = decode_zcl(cluster, frame)
            assert (m.command, m.payload, m.tsn) == (cdef.name, expected, n)


def test_the_hot_schemas_are_compiled() -> None:
    from clusters import Metering, Price

    assert _plan(Metering.client_commands[0x00].schema) is not None  # GetProfileResponse
    assert _plan(Metering.server_commands[0x00].schema) is not None  # GetProfile
    assert _plan(Price.client_commands[0x00].schema) is not None  # PublishPrice


def test_get_current_price_and_default_response() -> None:
    m = decode_zcl(0x0700, bytes.fromhex("01" "0a" "00" "01"))
    assert (m.command, m.payload, m.cluster_specific, m.server_to_client) == (
        "get_current_price", {"command_options": 1}, True, False)
    m = decode_zcl(0x0702, bytes.fromhex("18" "0b" "0b" "00" "81"))
    assert (m.command, m.payload) == ("default_response", {"command_id": 0, "status": 0x81})


def test_manufacturer_specific_and_unknown_commands() -> None:
    m = decode_zcl(0x0702, bytes.fromhex("05" "5c10" "01" "f0" "aabb"))
    assert (m.manufacturer, m.command, m.payload) == (0x105C, "command_0xf0", {"raw": "aabb"})


def test_signed_strings_and_invalid_octet_string() -> None:
    # report: InstantaneousDemand int24 = -1500, MeterSerialNumber octstr invalid (0xff), a binary octstr
    m = decode_zcl(0x0702, bytes.fromhex("18" "01" "0a" "0004" "2a" "24faff" "0803" "41" "ff" "0703" "41" "02" "00ff"))
    assert m.attributes == {"0x0400": -1500, "0x0308": None, "0x0307": "00ff"}


@pytest.mark.parametrize("data", ["18", "1801", "180101000000", "18010a00002520"])
def test_truncated_frames_raise(data) -> None:
    with pytest.raises(ZclDecodeError):
        decode_zcl(0x0702, bytes.fromhex(data))


def test_attribute_records_read_as_the_value_reader_reads_them() -> None:
    """The integer records ``_read_attributes_rsp`` and ``_typed_records`` read inline
    (every fixed-size type, whole and cut short) give what ``clusters.zcl_values``
    gives, with strings and booleans among them."""
    from clusters.zcl_values import FIXED_TYPES, ZclValueError, read_response_records, read_typed_records
    from han_emu.replay.zcl import _bytes_value

    rng = random.Random(19)
    types = [*FIXED_TYPES, 0x41, 0x42, 0x10]
    for n in range(3000):
        rsp, rep = b"", b""
        for _ in range(rng.randrange(1, 4)):
            type_id = rng.choice(types)
            if type_id in (0x41, 0x42):
                value = b"\x03abc"
            else:
                value = bytes(rng.randrange(256) for _ in range(FIXED_TYPES.get(type_id, (1,))[0]))
            aid = rng.randrange(0x10000).to_bytes(2, "little")
            rsp += aid + b"\x00" + bytes((type_id,)) + value
            rep += aid + bytes((type_id,)) + value
        if n % 5 == 0:  # cut short somewhere
            rsp, rep = rsp[: rng.randrange(len(rsp))], rep[: rng.randrange(len(rep))]
        for cmd, body, reference in ((0x01, rsp, read_response_records), (0x0A, rep, read_typed_records)):
            frame = bytes((0x18, n & 0xFF, cmd)) + body
            try:
                expected = {f"0x{r[0]:04x}": _bytes_value(r[-1]) if isinstance(r[-1], bytes) else r[-1]
                            for r in reference(body)}
            except ZclValueError:
                with pytest.raises(ZclDecodeError):
                    decode_zcl(0x0702, frame)
                continue
            assert decode_zcl(0x0702, frame).attributes == expected, body.hex()
