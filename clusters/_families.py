"""Helpers that add generated attribute families to zigpy ``AttributeDefs`` classes.

Smart Energy defines long regular runs of attributes (48 tier summations, 16x16
block summations, 16x15 tier-block prices ...).  Writing them out by hand invites
typos; generating them from the id formula keeps the formula the single source.
"""

from __future__ import annotations

from collections.abc import Iterable

import zigpy.types as t
from zigpy.zcl.foundation import DataTypeId, ZCLAttributeDef


def attr(attr_id: int, name: str, type_: type, access: str = "r") -> ZCLAttributeDef:
    """A named attribute definition (zigpy fills the name in only for class-body defs).

    Packed-nibble bytes (8-bit ``IntStruct``) are BitMap8 in SE, not uint8.
    """
    zcl_type = None
    if issubclass(type_, t.IntStruct) and issubclass(type_, t.uint8_t):
        zcl_type = DataTypeId.map8
    return ZCLAttributeDef(id=attr_id, name=name, type=type_, zcl_type=zcl_type, access=access)


def add_attributes(defs: type, attrs: Iterable[ZCLAttributeDef]) -> None:
    """Add ``attrs`` to ``defs``, refusing any id or name that is already taken.

    Must run before the owning cluster class is created: zigpy indexes the
    definitions in ``Cluster.__init_subclass__``.
    """
    taken_ids = {a.id for a in defs}  # type: ignore[attr-defined]
    for a in attrs:
        if a.name is None:
            raise ValueError(f"attribute 0x{a.id:04X} has no name")
        if hasattr(defs, a.name):
            raise ValueError(f"attribute name {a.name!r} is already defined")
        if a.id in taken_ids:
            raise ValueError(f"attribute id 0x{a.id:04X} ({a.name}) is already defined")
        taken_ids.add(a.id)
        setattr(defs, a.name, a)
