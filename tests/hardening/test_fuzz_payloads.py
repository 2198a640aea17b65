"""Fuzzing every command payload the project decodes: each server and client
command of every cluster in ``clusters.SE_CLUSTERS``, and the ZCL general
commands, through zigpy's schema deserializers and the replay's ZCL decoder.

Properties: a well-formed payload (drawn field by field from the schema)
parses and builds back to the same bytes; random and mutated payloads either
parse (and then what was consumed builds back byte for byte) or raise
ValueError, never anything else; the replay decoder raises only ZclDecodeError.  (One asymmetry is zigpy's and
accepted: a bounded string read longer than its bound, or a reporting
configuration of an unknown data type, cannot be written back.)
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zigpy.zcl import foundation

from clusters import SE_CLUSTERS
from han_emu.replay.zcl import ZclDecodeError, decode_zcl

from .fuzzing import EXAMPLES, FUZZ, count, mutated, value_bytes

PER_COMMAND = settings(FUZZ, max_examples=max(10, EXAMPLES // 10))


def _commands() -> list[Any]:
    out = []
    for cluster_id, cls in sorted(SE_CLUSTERS.items()):
        for side, to_client in (("server_commands", False), ("client_commands", True)):
            for command_id, definition in sorted(getattr(cls, side).items()):
                out.append(pytest.param(cluster_id, to_client, command_id, definition.schema,
                                        id=f"{cls.__name__}-{definition.name}"))
    return out


COMMANDS = _commands()
GENERAL = [
    pytest.param(int(cmd), d.schema, id=f"general-{d.name}")
    for cmd, d in sorted(foundation.GENERAL_COMMANDS.items())
]


def test_every_cluster_has_commands_under_test() -> None:
    clusters = {p.values[0] for p in COMMANDS}
    assert clusters >= {0x0700, 0x0702, 0x0800}  # Price, Metering, Key Establishment
    assert len(COMMANDS) >= 60


def _has_counted_list(schema: Any) -> bool:
    def walk(typ: Any) -> bool:
        fields = getattr(typ, "fields", None)
        if fields is None:
            item = getattr(typ, "_item_type", None)
            return item is not None and walk(item)
        return any(f.length is not None or f.requires is not None or walk(f.type) for f in fields)

    return walk(schema)


def _check(schema: Any, data: bytes, round_trip: bool = True) -> None:
    try:
        value, rest = schema.deserialize(data)
    except ValueError:
        return
    if not round_trip:
        return
    consumed = data[: len(data) - len(rest)]
    try:
        again = value.serialize()
    except ValueError as exc:
        # zigpy reads a bounded string (e.g. a 12-byte rate label) longer than
        # its bound but refuses to write one: lenient in, strict out.
        assert "too long" in str(exc)
        return
    except AttributeError as exc:
        # zigpy reads a reporting configuration of an unknown data type without
        # its reportable change, and cannot write that record back.
        assert "reportable_change" in str(exc)
        return
    assert again == consumed


@pytest.mark.parametrize(("cluster_id", "to_client", "command_id", "schema"), COMMANDS)
@PER_COMMAND
@given(data=st.data())
def test_se_command_payloads(cluster_id: int, to_client: bool, command_id: int, schema: Any, data: st.DataObject) -> None:
    valid = data.draw(value_bytes(schema), label="valid")
    # Fields whose length or presence another field decides (e.g. a count in a
    # bit-packed byte) are beyond the field-by-field generator: such payloads
    # are only fuzzed, not held to parse.
    dependent = _has_counted_list(schema)
    try:
        value, rest = schema.deserialize(valid)
    except ValueError:
        assert dependent
    else:
        if not dependent:
            assert rest == b"" and value.serialize() == valid
    fuzzed = data.draw(st.one_of(st.binary(max_size=90), mutated([valid])), label="fuzzed")
    count("SE payloads", 2)
    _check(schema, fuzzed)
    # The replay's decoder on the whole frame: header + payload.
    frame = bytes([0x01 | (0x08 if to_client else 0x00), 0x42, command_id]) + fuzzed
    try:
        decode_zcl(cluster_id, frame)
    except ZclDecodeError:
        pass


@pytest.mark.parametrize(("command_id", "schema"), GENERAL)
@PER_COMMAND
@given(data=st.data())
def test_general_command_payloads(command_id: int, schema: Any, data: st.DataObject) -> None:
    fuzzed = data.draw(st.binary(max_size=90), label="fuzzed")
    count("general payloads")
    # zigpy's general-command records are only read here: several of its
    # response types cannot write back every record they accept.
    _check(schema, fuzzed, round_trip=False)
    for cluster_id in (0x0702, 0x0700, 0x000A):
        try:
            decode_zcl(cluster_id, bytes([0x10, 0x42, command_id]) + fuzzed)
        except ZclDecodeError:
            pass


def test_replay_configure_reporting_of_unknown_type_is_a_decode_error() -> None:
    # Configure Reporting, one record: direction 0, attribute 0x0000, data type
    # 0x00 (no data), min 0, max 0; zigpy leaves reportable_change unset and
    # its repr of the record then raises.
    frame = bytes.fromhex("10 42 06" "00 0000 00 0000 0000".replace(" ", ""))
    with pytest.raises(ZclDecodeError):
        decode_zcl(0x0702, frame)
