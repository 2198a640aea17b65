"""zigpy command schemas made and read without binding the constructor's signature.

zigpy's ``Struct.__new__`` matches its arguments to the fields through
``inspect.Signature.bind`` (more than the rest of making a struct costs), and
``Struct.deserialize`` reads the fields and then calls that constructor; each
integer struct inside (a byte packed from nibbles) is made the same way.  The
ESI answers GetCurrentPrice and GetProfile, and the displays read the answers,
all day: :func:`make` and :func:`read` do what zigpy does for a schema without
the binding.  Every field is still converted or read by its own zigpy type;
integer structs, which zigpy makes immutable, are made once per value.  A
schema outside what is done here (its own ``__new__`` or ``deserialize``, a
field that ``requires`` another, bitfields) is left to zigpy.  Tests hold both
functions to zigpy on every command schema of the clusters package and of
zigpy's general commands (tests/clusters/test_zcl_struct.py).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, TypeVar

import zigpy.types as t

S = TypeVar("S", bound=t.Struct)

_STRUCT_NEW = t.Struct.__new__
_STRUCT_DESERIALIZE = t.Struct.deserialize.__func__  # type: ignore[attr-defined]
_PLANS: dict[type, tuple[tuple[Any, ...], frozenset[str]] | None] = {}
_PACKED: dict[tuple[type, int], Any] = {}
"""(integer struct type, value) -> the struct: zigpy's integer structs are frozen."""


def _plan(cls: type) -> tuple[tuple[Any, ...], frozenset[str]] | None:
    """``cls.fields`` and their names if :func:`make` and :func:`read` do for
    ``cls`` what zigpy does, else None."""
    if cls in _PLANS:
        return _PLANS[cls]
    fields = tuple(cls.fields)
    plain = (
        cls.__new__ is _STRUCT_NEW
        and getattr(cls.deserialize, "__func__", None) is _STRUCT_DESERIALIZE
        and not issubclass(cls, t.IntStruct)
        and all(
            f.requires is None
            and isinstance(f.type, type)
            and not (issubclass(f.type, t.FixedIntType) and f.type._bits % 8)  # bitfields: zigpy packs them
            for f in fields
        )
    )
    plan = _PLANS[cls] = (fields, frozenset(f.name for f in fields)) if plain else None
    return plan


def _packed_type(typ: type) -> bool:
    return issubclass(typ, t.IntStruct) and typ._int_type._bits <= 16


def _convert(field: Any, value: Any) -> Any:
    """``field._convert_type(value)``, an integer struct from an int made once per value."""
    typ = field.type
    if type(value) is int and _packed_type(typ):
        key = (typ, value)
        packed = _PACKED.get(key)
        if packed is None:
            packed = _PACKED[key] = field._convert_type(value)
        return packed
    return field._convert_type(value)


def _construct(cls: type[S], fields: tuple[Any, ...], values: dict[str, Any]) -> S:
    # Struct.__new__ after its signature's bind: every field in order, given or its default.
    instance = super(t.Struct, cls).__new__(cls)  # type: ignore[misc]
    for field in fields:
        name = field.name
        setattr(instance, name, _convert(field, values[name] if name in values else field.default))
    return instance


def make(schema: type[S], **values: Any) -> S:
    """``schema(**values)``, the same struct."""
    cls = schema._real_cls()
    plan = _plan(cls)
    if plan is None or not plan[1].issuperset(values):
        return schema(**values)  # zigpy's own struct, or its own error
    return _construct(cls, plan[0], values)


def _read_packed(typ: type, data: bytes) -> tuple[Any, bytes]:
    """``typ.deserialize(data)`` for an integer struct, made once per value."""
    try:
        value, rest = typ._int_type.deserialize(data)
    except Exception:  # too short: zigpy says how
        return typ.deserialize(data)
    key = (typ, int(value))
    packed = _PACKED.get(key)
    if packed is None:
        packed, rest2 = typ.deserialize(data)
        if len(rest2) != len(rest):  # not simply its integer's bytes: leave it to zigpy every time
            return packed, rest2
        _PACKED[key] = packed
    return packed, rest


def read(schema: type[S], data: bytes) -> tuple[S, bytes]:
    """``schema.deserialize(data)``: the same struct and the same rest, or the same exception."""
    cls = schema._real_cls()
    plan = _plan(cls)
    if plan is None:
        return schema.deserialize(data)
    fields = plan[0]
    # Struct._deserialize_internal without bitfields or requires: each field by its own type.
    result: dict[str, Any] = {}
    so_far = SimpleNamespace(**{f.name: None for f in fields})  # what a length function reads
    for field in fields:
        if not data and field.optional:
            continue
        typ = field.type
        if field.length is not None:
            items, data = typ.deserialize(data, count=field.length(so_far))
            value = typ(items)
        elif _packed_type(typ):
            value, data = _read_packed(typ, data)
        else:
            value, data = typ.deserialize(data)
        result[field.name] = value
        setattr(so_far, field.name, value)
    return _construct(cls, fields, result), data
