"""ZCL frames to plain JSON values: command names, attribute records, payloads.

Names come from zigpy (general commands, snake_case) and from ``clusters``
(Smart Energy commands and their payload schemas), so a decoded frame reads
as the emulator's own server speaks.  The attribute records of the general
commands (read/report/write) have a ``struct`` fast path for the common ZCL
data types because a replay meets them on nearly every frame; composite
types go through zigpy's deserializers.  A cluster-specific payload is read
with its schema's compiled plan, which ``replay.zclplans`` holds written out
(a test holds it to the schemas), so decoding the common frames needs no
zigpy import: zigpy and the cluster library are imported where the plan does
not fit, for the names a text line shows, and to compile the plans.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clusters.zcl_frame import FRAME_TYPE_MASK, SERVER_TO_CLIENT, read_header
from clusters.zcl_values import FIXED_TYPES as _FIXED
from clusters.zcl_values import ZclValueError
from clusters.zcl_values import read_value as _read_raw
from han_emu.replay.zclplans import COMMANDS, GENERAL_NAMES

if TYPE_CHECKING:
    import zigpy.types as t

    from clusters.mp184 import ExportMpanHome

_U16 = struct.Struct("<H")


class ZclDecodeError(ValueError):
    """A ZCL frame whose header or payload does not parse."""


@dataclass(slots=True)
class ZclMessage:
    """One decoded ZCL frame (header plus JSON-ready content)."""

    cluster_specific: bool
    server_to_client: bool
    manufacturer: int | None
    tsn: int
    command_id: int
    command: str
    attributes: dict[str, Any] | None = None
    payload: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- JSON conversion of zigpy values -------------------------------------------------


def _bytes_value(raw: bytes) -> str:
    """Octet strings as text where printable, else as hex."""
    if raw.isascii():
        text = raw.decode("ascii")
        if text.isprintable():
            return text
    return raw.hex()


def to_json(value: Any) -> Any:
    """A zigpy value (ints, enums, bitmaps, strings, lists, structs) as plain JSON."""
    import zigpy.types as t
    from zigpy.zcl import foundation

    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, t.EUI64):
        return str(value)
    if isinstance(value, (enum.Enum, enum.Flag)):
        return int(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return _bytes_value(bytes(value))
    if isinstance(value, foundation.TypeValue):
        return to_json(value.value)
    if isinstance(value, t.Struct):
        return struct_fields(value)
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return str(value)


def _nibble_name(parent: str, sub: str) -> str:
    """Name of a packed sub-field: PublishPrice's ``price_trailing_digit_and_price_tier``
    splits into ``price_trailing_digit`` and ``price_tier``."""
    for part in parent.split("_and_"):
        if part == sub or part.endswith("_" + sub):
            return part
    return sub if sub in parent else f"{parent}_{sub}"


def struct_fields(value: t.Struct) -> dict[str, Any]:
    """A zigpy struct as {field: value}; packed nibble bytes become separate keys."""
    import zigpy.types as t

    out: dict[str, Any] = {}
    for f in value.fields:
        v = getattr(value, f.name)
        if v is None and f.optional:
            continue
        if isinstance(v, t.IntStruct) or (isinstance(f.type, type) and issubclass(f.type, t.IntStruct)):
            for sub in f.type.fields:
                if sub.name.startswith("_"):
                    continue
                name = _nibble_name(f.name, sub.name)
                out[name if name not in out else f"{f.name}_{sub.name}"] = to_json(getattr(v, sub.name))
            continue
        out[f.name] = to_json(v)
    return out


# --- typed attribute values: struct fast path, zigpy for the rest --------------------


def read_value(type_id: int, data: bytes, off: int) -> tuple[Any, int]:
    """(JSON value, new offset) of a ZCL-typed value at ``data[off:]``."""
    try:
        value, end = _read_raw(type_id, data, off)
    except ZclValueError as exc:
        raise ZclDecodeError(str(exc)) from None
    if isinstance(value, (bytes, bytearray)):
        return _bytes_value(bytes(value)), end
    if value is None or isinstance(value, (int, str, bool)) and type(value) in (int, str, bool):
        return value, end
    return to_json(value), end


class _AttrIds(dict):
    """Attribute id -> its "0x0000" key, made the first time it is met."""

    def __missing__(self, i: int) -> str:
        text = self[i] = f"0x{i:04x}"
        return text


_attr_id = _AttrIds().__getitem__


def _read_attributes(data: bytes) -> dict[str, Any]:
    if len(data) % 2:
        raise ZclDecodeError("odd-length attribute id list")
    return {_attr_id(i): None for (i,) in _U16.iter_unpack(data)}


def _read_attributes_rsp(data: bytes) -> tuple[dict[str, Any], dict[str, Any] | None]:
    attrs: dict[str, Any] = {}
    statuses: dict[str, int] = {}
    off, n = 0, len(data)
    try:
        while off < n:
            aid, status = _U16.unpack_from(data, off)[0], data[off + 2]
            off += 3
            if status:
                attrs[_attr_id(aid)] = None
                statuses[_attr_id(aid)] = status
                continue
            fixed = _FIXED.get(data[off])
            if fixed is not None and off + 1 + fixed[0] <= n:  # an integer: read_value's first case, inline
                end = off + 1 + fixed[0]
                attrs[_attr_id(aid)] = int.from_bytes(data[off + 1 : end], "little", signed=fixed[1])
                off = end
                continue
            attrs[_attr_id(aid)], off = read_value(data[off], data, off + 1)
    except (IndexError, struct.error):
        raise ZclDecodeError("attribute record truncated") from None
    return attrs, ({"statuses": statuses} if statuses else None)


def _typed_records(data: bytes) -> dict[str, Any]:
    """Report Attributes and Write Attributes records: id, type, value."""
    attrs: dict[str, Any] = {}
    off, n = 0, len(data)
    try:
        while off < n:
            aid = _U16.unpack_from(data, off)[0]
            fixed = _FIXED.get(data[off + 2])
            if fixed is not None and off + 3 + fixed[0] <= n:  # an integer: read_value's first case, inline
                end = off + 3 + fixed[0]
                attrs[_attr_id(aid)] = int.from_bytes(data[off + 3 : end], "little", signed=fixed[1])
                off = end
                continue
            attrs[_attr_id(aid)], off = read_value(data[off + 2], data, off + 3)
    except (IndexError, struct.error):
        raise ZclDecodeError("attribute record truncated") from None
    return attrs


def _write_attributes_rsp(data: bytes) -> dict[str, Any]:
    if len(data) == 1:
        return {"status": data[0]}
    if len(data) % 3:
        raise ZclDecodeError("write attributes response records truncated")
    return {"statuses": {_attr_id(_U16.unpack_from(data, i + 1)[0]): data[i] for i in range(0, len(data), 3)}}


def decode_zcl(cluster: int, data: bytes) -> ZclMessage:
    """Decode one ZCL frame sent on ``cluster``."""
    try:
        fc, manufacturer, tsn, cmd, off = read_header(data)
    except ValueError as exc:
        raise ZclDecodeError(str(exc)) from None
    body = data[off:]
    frame_type = fc & FRAME_TYPE_MASK
    to_client = bool(fc & SERVER_TO_CLIENT)
    if frame_type == 0:
        try:
            return _general(cluster, fc, manufacturer, tsn, cmd, to_client, body)
        except ZclDecodeError:
            raise
        except Exception as exc:  # zigpy's records can fail past parsing (e.g. in repr)
            raise ZclDecodeError(f"general command 0x{cmd:02x}: {type(exc).__name__}: {exc}") from None
    if frame_type != 1:
        raise ZclDecodeError(f"reserved ZCL frame type {frame_type}")
    key = (cluster, to_client, cmd)
    known = COMMANDS.get(key) if manufacturer is None else None
    if known is None:
        return ZclMessage(True, to_client, manufacturer, tsn, cmd, f"command_0x{cmd:02x}",
                          None, {"raw": body.hex()} if body else {})
    try:
        plan = _WRITTEN[key]
    except KeyError:
        plan = _WRITTEN[key] = _runtime(known[1])
    if plan is not None:
        try:
            return ZclMessage(True, to_client, manufacturer, tsn, cmd, known[0], None, _run_plan(plan, body))
        except (_NoFastPath, IndexError):
            pass
    schema = _command_def(cluster, to_client, cmd).schema  # zigpy decides
    return ZclMessage(True, to_client, manufacturer, tsn, cmd, known[0], None, _deserialize(schema, body, known[0]))


_WRITTEN: dict[tuple[int, bool, int], list[tuple] | None] = {}
"""Runtime plans of the written-out table, made on first use (None: the schema has none)."""


_COMMAND_DEFS: dict[tuple[int, bool, int], Any] = {}


def _command_def(cluster: int, to_client: bool, cmd: int) -> Any:
    """The ``clusters`` definition of a cluster-specific command (None if unknown), looked up once."""
    key = (cluster, to_client, cmd)
    try:
        return _COMMAND_DEFS[key]
    except KeyError:
        pass
    from clusters import SE_CLUSTERS

    cls = SE_CLUSTERS.get(cluster)
    defs = None if cls is None else (cls.client_commands if to_client else cls.server_commands)
    cdef = _COMMAND_DEFS[key] = None if defs is None else defs.get(cmd)
    return cdef


def decode_payload(schema: type[t.Struct], body: bytes, name: str = "payload") -> dict[str, Any]:
    """A command payload as {field: value}: the compiled plan when the schema has
    one and the bytes fit it, else zigpy's deserializer (the reference)."""
    plan = _plan(schema)
    if plan is not None:
        try:
            return _run_plan(plan, body)
        except (_NoFastPath, IndexError):
            pass
    return _deserialize(schema, body, name)


def _deserialize(schema: type[t.Struct], body: bytes, name: str) -> dict[str, Any]:
    """A command payload read by zigpy (the reference)."""
    try:
        value, rest = schema.deserialize(body)
    except Exception as exc:
        raise ZclDecodeError(f"{name} payload: {exc}") from None
    out = struct_fields(value)
    if rest:
        out["trailing"] = rest.hex()
    return out


# --- compiled payload plans: the zigpy schema read with plain int.from_bytes --------


class _NoFastPath(Exception):
    """Bytes the plan does not cover exactly; zigpy decides."""


_PLANS: dict[type, list[tuple] | None] = {}


def _int_size(typ: type) -> tuple[int, bool] | None:
    import zigpy.types as t

    if isinstance(typ, type) and issubclass(typ, (t.uint_t, t.int_t)) and typ._bits % 8 == 0:
        return typ._bits // 8, bool(typ._signed)
    return None


def _plan(schema: type) -> list[tuple] | None:
    """The runtime plan of a schema (see :func:`compile_plan`), or None."""
    if schema not in _PLANS:
        steps = compile_plan(schema)
        _PLANS[schema] = None if steps is None else _runtime(steps)
    return _PLANS[schema]


class _Probe:
    """What a list's length lambda reads: the one field it names (a stand-in value comes back)."""

    VALUE = 7919

    def __init__(self) -> None:
        self.names: list[str] = []

    def __getattr__(self, name: str) -> int:
        self.names.append(name)
        return self.VALUE


def _length_field(length: Any) -> str:
    """The field a list's length lambda returns, as it is (anything else: no plan)."""
    probe = _Probe()
    if length(probe) != _Probe.VALUE or len(probe.names) != 1:
        raise _NoFastPath
    return probe.names[0]


def compile_plan(schema: type) -> tuple | None:
    """Steps for a flat schema, as plain data, or None (zigpy reads it):
    ("struct", names, False, format) for a run of mandatory integers,
    ("int", name, optional, size, signed), ("nibbles", name, optional, size,
    ((key or None, bits), ...)), ("lvbytes", name, optional, longest),
    ("list", name, optional, field holding the count, item size, signed)."""
    import zigpy.types as t

    steps: list[tuple] | None = []
    try:
        for f in schema.fields:
            typ, optional = f.type, f.optional
            if f.requires is not None:
                raise _NoFastPath
            if isinstance(typ, type) and issubclass(typ, t.IntStruct):
                size = _int_size(typ)
                subs = [(sub.name, sub.type._bits) for sub in typ.fields]
                if size is None or sum(b for _, b in subs) != size[0] * 8:
                    raise _NoFastPath
                names = tuple((None if n.startswith("_") else _nibble_name(f.name, n), bits) for n, bits in subs)
                steps.append(("nibbles", f.name, optional, size[0], names))
            elif (size := _int_size(typ)) is not None:
                steps.append(("int", f.name, optional, size[0], size[1]))
            elif isinstance(typ, type) and issubclass(typ, t.LVBytes) and not issubclass(typ, t.LongOctetString):
                steps.append(("lvbytes", f.name, optional, getattr(typ, "_max_len", 255)))
            elif (isinstance(typ, type) and issubclass(typ, t.List) and f.length is not None
                  and (item := _int_size(getattr(typ, "_item_type", None))) is not None):
                steps.append(("list", f.name, optional, _length_field(f.length), item[0], item[1]))
            else:
                raise _NoFastPath
    except (_NoFastPath, AttributeError, TypeError):
        steps = None
    return None if steps is None else tuple(_fuse(steps))


_STRUCT_CODES = {(1, False): "B", (2, False): "H", (4, False): "I", (8, False): "Q",
                 (1, True): "b", (2, True): "h", (4, True): "i", (8, True): "q"}


def _fuse(steps: list[tuple]) -> list[tuple]:
    """Runs of mandatory integers of struct sizes become one ``struct`` read."""
    out: list[tuple] = []
    run: list[tuple] = []

    def close() -> None:
        if len(run) > 1:
            layout = "<" + "".join(_STRUCT_CODES[(st[3], st[4])] for st in run)
            out.append(("struct", tuple(st[1] for st in run), False, layout))
        else:
            out.extend(run)
        run.clear()

    for st in steps:
        if st[0] == "int" and not st[2] and (st[3], st[4]) in _STRUCT_CODES:
            run.append(st)
        else:
            close()
            out.append(st)
    close()
    return out


def _runtime(steps: tuple | None) -> list[tuple] | None:
    """Plain steps made ready to run (struct formats compiled)."""
    if steps is None:
        return None
    return [(*st[:3], struct.Struct(st[3])) if st[0] == "struct" else st for st in steps]


def plan_table() -> tuple[dict[int, str], dict[tuple[int, bool, int], tuple[str, tuple | None]]]:
    """(general command names, {(cluster, to client, command): (name, plan)}) from
    zigpy's foundation and the ``clusters`` schemas: ``replay.zclplans`` written out."""
    from zigpy.zcl import foundation

    from clusters import SE_CLUSTERS

    general = {int(k): v.name.lower() for k, v in sorted(foundation.GENERAL_COMMANDS.items())}
    commands = {}
    for cluster, cls in sorted(SE_CLUSTERS.items()):
        for to_client, defs in ((False, cls.server_commands), (True, cls.client_commands)):
            for cmd, cdef in sorted(defs.items()):
                commands[(cluster, to_client, int(cmd))] = (cdef.name, compile_plan(cdef.schema))
    return general, commands


def plan_table_text() -> str:
    """The source of ``han_emu/replay/zclplans.py``."""
    general, commands = plan_table()
    lines = [
        '"""ZCL command names and payload plans, written out from zigpy and the ``clusters`` schemas.',
        "",
        "Generated by ``han_emu.replay.zcl.plan_table_text()``; ``tests/replay/test_zcl_decode.py``",
        "holds it to what the schemas compile to, so a replay decodes the common frames",
        "without importing zigpy's cluster library.  Do not edit by hand: regenerate.",
        '"""',
        "",
        "GENERAL_NAMES: dict[int, str] = {",
        *(f"    0x{k:02x}: {v!r}," for k, v in general.items()),
        "}",
        "",
        "COMMANDS: dict[tuple[int, bool, int], tuple[str, tuple | None]] = {",
    ]
    for (cluster, to_client, cmd), (name, plan) in commands.items():
        key = f"    (0x{cluster:04x}, {to_client}, 0x{cmd:02x}): ({name!r}, "
        if not plan:
            lines.append(f"{key}{plan!r}),")
            continue
        lines.append(key + "(")
        lines += [f"        {step!r}," for step in plan]
        lines.append("    )),")
    lines.append("}")
    return "\n".join(lines) + "\n"


_U24 = struct.Struct("<HB")


def _int_list(data: bytes, off: int, end: int, size: int, signed: bool) -> list[int]:
    """Little-endian integers of ``size`` bytes packed in ``data[off:end]``."""
    code = _STRUCT_CODES.get((size, signed))
    if code is not None:
        return list(struct.unpack_from(f"<{(end - off) // size}{code}", data, off))
    if size == 3 and not signed:  # interval values: uint24
        return [lo | hi << 16 for lo, hi in _U24.iter_unpack(data[off:end])]
    return [int.from_bytes(data[i : i + size], "little", signed=signed) for i in range(off, end, size)]


def _run_plan(plan: list[tuple], data: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    off, n = 0, len(data)
    for step in plan:
        kind, name, optional = step[0], step[1], step[2]
        if off >= n and optional:
            break
        if kind == "struct":
            layout = step[3]
            end = off + layout.size
            if end > n:
                raise _NoFastPath
            for key, value in zip(name, layout.unpack_from(data, off)):
                out[key] = raw[key] = value
            off = end
        elif kind == "int":
            end = off + step[3]
            if end > n:
                raise _NoFastPath
            out[name] = raw[name] = int.from_bytes(data[off:end], "little", signed=step[4])
            off = end
        elif kind == "nibbles":
            end = off + step[3]
            if end > n:
                raise _NoFastPath
            value = raw[name] = int.from_bytes(data[off:end], "little")
            for sub, bits in step[4]:
                if sub is not None:
                    out[sub if sub not in out else f"{name}_{sub}"] = value & ((1 << bits) - 1)
                value >>= bits
            off = end
        elif kind == "lvbytes":
            length = data[off]
            end = off + 1 + length
            if end > n or length > step[3]:
                raise _NoFastPath
            out[name] = _bytes_value(data[off + 1 : end])
            off = end
        else:
            try:
                count = raw[step[3]]
            except KeyError:  # the count field was left out
                raise _NoFastPath from None
            size, signed = step[4], step[5]
            end = off + count * size
            if end > n:
                raise _NoFastPath
            out[name] = _int_list(data, off, end, size, signed)
            off = end
    if off < n:
        out["trailing"] = data[off:].hex()
    return out


def _general(cluster: int, fc: int, manufacturer: int | None, tsn: int, cmd: int, to_client: bool,
             body: bytes) -> ZclMessage:
    name = GENERAL_NAMES.get(cmd) or f"general_0x{cmd:02x}"
    msg = ZclMessage(False, to_client, manufacturer, tsn, cmd, name)
    if cmd == 0x00:
        msg.attributes = _read_attributes(body)
    elif cmd == 0x01:
        msg.attributes, msg.payload = _read_attributes_rsp(body)
    elif cmd in (0x02, 0x03, 0x05, 0x0A):
        msg.attributes = _typed_records(body)
    elif cmd == 0x04:
        msg.payload = _write_attributes_rsp(body)
    elif cmd == 0x0B:
        if len(body) < 2:
            raise ZclDecodeError("default response truncated")
        msg.payload = {"command_id": body[0], "status": body[1]}
    elif cmd in GENERAL_NAMES:
        from zigpy.zcl import foundation

        try:
            value, _ = foundation.GENERAL_COMMANDS[cmd].schema.deserialize(body)
        except Exception as exc:
            raise ZclDecodeError(f"{name} payload: {exc}") from None
        msg.payload = struct_fields(value)
    elif body:
        msg.payload = {"raw": body.hex()}
    return msg


def _attribute_def(cluster: int, attr_id: int, manufacturer: int | None, home: ExportMpanHome | None) -> Any:
    """The ``clusters`` definition an attribute record means: a standard one
    in a plain frame; in a manufacturer-specific frame only the export MPAN's
    home (with its code), as every other vendor id space is unknown here."""
    from clusters import SE_CLUSTERS

    if manufacturer is not None:
        from clusters.metering import export_site_id_def
        from clusters.mp184 import ExportMpanHome

        if not (home if home is not None else ExportMpanHome()).matches(cluster, attr_id, manufacturer):
            return None
        return export_site_id_def(attr_id)
    cls = SE_CLUSTERS.get(cluster)
    a = None if cls is None else cls.attributes.get(attr_id)
    return None if a is None or a.is_manufacturer_specific else a


def attribute_name(cluster: int, attr_id: int, manufacturer: int | None = None,
                   home: ExportMpanHome | None = None) -> str | None:
    """The attribute's name in ``clusters`` (None when unknown); ``manufacturer``
    is the frame's manufacturer code, ``home`` where the export MPAN lives."""
    a = _attribute_def(cluster, attr_id, manufacturer, home)
    return None if a is None else a.name


def attribute_type(cluster: int, attr_id: int, manufacturer: int | None = None,
                   home: ExportMpanHome | None = None) -> type | None:
    """The attribute's zigpy type in ``clusters`` (None when unknown)."""
    a = _attribute_def(cluster, attr_id, manufacturer, home)
    return None if a is None else a.type


def command_fields(cluster: int, to_client: bool, command_id: int) -> dict[str, type]:
    """A cluster-specific command's payload fields and their zigpy types (empty when unknown)."""
    cdef = _command_def(cluster, to_client, command_id)
    if cdef is None:
        return {}
    return {f.name: f.type for f in cdef.schema.fields}
