"""Attribute tables: a cluster's attribute definitions bound to a model by callables.

The server never stores attribute values.  Each attribute is a pair of
callables into the model (``read`` and, for writable ones, ``write``), so what
the IHD reads is always what the meter model holds right now, and the ZCL
types and access rights come from the cluster's own ``AttributeDefs``.
"""

from __future__ import annotations

import enum
import functools
import logging
import math
import struct
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

import zigpy.types as t
from zigpy.typing import UNDEFINED
from zigpy.zcl import Cluster
from zigpy.zcl.foundation import (
    DataClass,
    DataType,
    ZCL_CLUSTER_REVISION_ATTR,
    DataTypeId,
    Status,
    TypeValue,
    ZCLAttributeAccess,
    ZCLAttributeDef,
)

from clusters.zcl_values import FIXED_TYPES

LOGGER = logging.getLogger(__name__)

Getter = Callable[[], Any]
Setter = Callable[[Any], None]

CLUSTER_REVISION_ID = ZCL_CLUSTER_REVISION_ATTR.id


class MissingValue(enum.Enum):
    """What a read returns when the model has no value for a bound attribute."""

    #: The data type's invalid ("non-") value from the ZCL data type table
    #: (0xFF..FF for unsigned integers, 0x80..00 for signed, length 0xFF for
    #: strings); types without one answer UNSUPPORTED_ATTRIBUTE.
    INVALID = "invalid"
    #: Always UNSUPPORTED_ATTRIBUTE, as if the attribute were not implemented.
    UNSUPPORTED = "unsupported"


def _invalid_encoding(type_id: int) -> bytes | None:
    """Encoded invalid value of a ZCL data type, or None if it has none (ZCL 2.6.2)."""
    fixed = {
        DataTypeId.bool_: b"\xff",
        DataTypeId.enum8: b"\xff",
        DataTypeId.enum16: b"\xff\xff",
        DataTypeId.semi: b"\x00\x7e",
        DataTypeId.single: struct.pack("<f", math.nan),
        DataTypeId.double: struct.pack("<d", math.nan),
        DataTypeId.octstr: b"\xff",
        DataTypeId.string: b"\xff",
        DataTypeId.octstr16: b"\xff\xff",
        DataTypeId.string16: b"\xff\xff",
        DataTypeId.ToD: b"\xff" * 4,
        DataTypeId.date: b"\xff" * 4,
        DataTypeId.UTC: b"\xff" * 4,
        DataTypeId.clusterId: b"\xff\xff",
        DataTypeId.attribId: b"\xff\xff",
        DataTypeId.bacOID: b"\xff" * 4,
        DataTypeId.EUI64: b"\xff" * 8,
        DataTypeId.key128: b"\xff" * 16,
    }
    if DataTypeId.uint8 <= type_id <= DataTypeId.uint64:
        return b"\xff" * FIXED_TYPES[type_id][0]
    if DataTypeId.int8 <= type_id <= DataTypeId.int64:
        return b"\x00" * (FIXED_TYPES[type_id][0] - 1) + b"\x80"
    return fixed.get(type_id)


class RawValue(bytes):
    """Already-encoded attribute bytes (used for invalid values)."""

    def serialize(self) -> bytes:
        return bytes(self)


class AttributeReadError(Exception):
    """A read that cannot produce a value; carries the ZCL status to answer with."""

    def __init__(self, status: Status) -> None:
        super().__init__(status.name)
        self.status = status


@dataclass(frozen=True)
class AttributeBinding:
    """One attribute: its definition and the callables that reach the model."""

    definition: ZCLAttributeDef
    read: Getter
    write: Setter | None = None
    reportable: bool = False
    manufacturer_code: int | None = None

    @property
    def id(self) -> int:
        return int(self.definition.id)

    @property
    def name(self) -> str:
        return self.definition.name

    @functools.cached_property
    def type_id(self) -> int:
        return int(self.definition.zcl_type)

    @functools.cached_property
    def readable(self) -> bool:
        return bool(self.definition.access & ZCLAttributeAccess.Read)

    @functools.cached_property
    def _int_encoding(self) -> tuple[int, int, int, Any, bool, bytes] | None:
        """(min, max, size, byte order, signed, type id byte) when the declared
        type is a plain zigpy integer (no enum, bitmap or own encoding): a
        model's ``int`` is then checked and encoded as zigpy would, without
        building the zigpy value.  None for every other type."""
        typ = self.definition.type
        if not (isinstance(typ, type) and issubclass(typ, t.FixedIntType)) or issubclass(typ, enum.Enum):
            return None
        if typ.__new__ is not t.FixedIntType.__new__ or typ.serialize is not t.FixedIntType.serialize:
            return None
        if not typ._bits or typ._bits % 8:
            return None
        return (typ.min_value, typ.max_value, typ._bits // 8, typ._byteorder, bool(typ._signed),
                bytes((self.type_id,)))

    @functools.cached_property
    def _memo(self) -> dict[int, bytes] | None:
        """Model int -> type id and encoded value, for enumerations and bitmaps
        of up to 16 bits (a value's bytes depend on nothing else, and there
        are few values): the zigpy value is built once per value, not per read.
        None for every other type."""
        typ = self.definition.type
        if self._int_encoding is not None or not (isinstance(typ, type) and issubclass(typ, t.FixedIntType)):
            return None
        return {} if typ._bits and typ._bits <= 16 else None

    @property
    def writable(self) -> bool:
        return self.write is not None

    @functools.cached_property
    def is_analog(self) -> bool:
        try:
            return DataType.from_type_id(self.type_id).type_class is DataClass.Analog
        except ValueError:
            return False

    def current(self) -> Any | None:
        """The model's value converted to the attribute's Python type, or None.

        Raises :class:`AttributeReadError` (FAILURE) when the getter fails or its
        value does not fit the declared type: a model bug that should be visible
        on the air rather than crash the server.
        """
        return self._converted(self._model_value())

    def _model_value(self) -> Any:
        try:
            return self.read()
        except Exception as exc:  # the model's failure must not take the server down
            LOGGER.exception("reading attribute 0x%04X %s from the model failed", self.id, self.name)
            raise AttributeReadError(Status.FAILURE) from exc

    def _converted(self, value: Any) -> Any | None:
        if value is None:
            return None
        try:
            return self.convert(value)
        except (ValueError, TypeError, OverflowError, KeyError) as exc:
            LOGGER.error(
                "attribute 0x%04X %s: model value %r does not fit %s: %s",
                self.id, self.name, value, self.definition.type, exc,
            )
            raise AttributeReadError(Status.FAILURE) from exc

    def convert(self, value: Any) -> Any:
        """Coerce a Python value to the attribute's declared zigpy type."""
        typ = self.definition.type
        if isinstance(value, typ):
            return value
        return typ(value)

    def encode(self, missing: MissingValue = MissingValue.INVALID) -> TypeValue:
        """The attribute's current value as a ZCL TypeValue (type id + value).

        Raises :class:`AttributeReadError` with the status to answer instead.
        """
        return self.encode_value(self.current(), missing)

    def sample(self) -> Any | None:
        """:meth:`current`, except that a model ``int`` that fits a plain zigpy
        integer type is given as it is (equal to the zigpy value, and encoded
        the same by :meth:`value_bytes`): reporting samples every configured
        attribute each time it looks for due reports."""
        raw = self._model_value()
        fast = self._int_encoding
        if fast is not None and type(raw) is int and fast[0] <= raw <= fast[1]:
            return raw
        return self._converted(raw)

    def encode_bytes(self, missing: MissingValue = MissingValue.INVALID) -> bytes:
        """Type id and encoded value, as they follow the status in a Read
        Attributes Response record (the same bytes :meth:`encode` serializes
        to, without building zigpy structs on this hot path)."""
        raw = self._model_value()
        fast = self._int_encoding
        if fast is not None:
            if type(raw) is int and fast[0] <= raw <= fast[1]:
                return fast[5] + raw.to_bytes(fast[2], fast[3], signed=fast[4])
        elif type(raw) is int:
            memo = self._memo
            if memo is not None:
                encoded = memo.get(raw)
                if encoded is None:
                    value = self._converted(raw)
                    encoded = memo[raw] = bytes((self.type_id,)) + value.serialize()
                return encoded
        return self.value_bytes(self._converted(raw), missing)

    def value_bytes(self, value: Any | None, missing: MissingValue = MissingValue.INVALID) -> bytes:
        """Type id and encoded value of a value from :meth:`current` or
        :meth:`sample`: the bytes :meth:`encode_value` serializes to.  Raises
        :class:`AttributeReadError` with the status to answer instead."""
        if value is None:
            raw = _invalid_encoding(self.type_id) if missing is MissingValue.INVALID else None
            if raw is None:
                raise AttributeReadError(Status.UNSUPPORTED_ATTRIBUTE)
            return bytes((self.type_id,)) + raw
        fast = self._int_encoding
        if fast is not None and type(value) is int and fast[0] <= value <= fast[1]:
            return fast[5] + value.to_bytes(fast[2], fast[3], signed=fast[4])
        return bytes((self.type_id,)) + value.serialize()

    def encode_value(self, value: Any | None, missing: MissingValue = MissingValue.INVALID) -> TypeValue:
        """Encode a value already produced by :meth:`current`."""
        if value is None:
            raw = _invalid_encoding(self.type_id) if missing is MissingValue.INVALID else None
            if raw is None:
                raise AttributeReadError(Status.UNSUPPORTED_ATTRIBUTE)
            return TypeValue(type=t.uint8_t(self.type_id), value=RawValue(raw))
        return TypeValue(type=t.uint8_t(self.type_id), value=value)


#: A Read Attributes request's plan: see :meth:`AttributeTable.read_plan`.
ReadPlan = tuple[tuple[bytes, "AttributeBinding | None"], ...]
_MAX_PLANS = 256


class AttributeTable:
    """The attributes one side of one cluster serves, keyed by (manufacturer, id)."""

    def __init__(self, bindings: Iterable[AttributeBinding] = ()) -> None:
        self._bindings: dict[tuple[int | None, int], AttributeBinding] = {}
        self._plans: dict[tuple[tuple[int, ...], int | None], ReadPlan] = {}
        self._payload_plans: dict[tuple[bytes, int | None], ReadPlan] = {}
        for binding in bindings:
            self.add(binding)

    def add(self, binding: AttributeBinding) -> AttributeBinding:
        key = (binding.manufacturer_code, binding.id)
        if key in self._bindings:
            raise ValueError(f"attribute 0x{binding.id:04X} is bound twice")
        if binding.write is not None and not (
            binding.definition.access
            & (ZCLAttributeAccess.Write | ZCLAttributeAccess.Write_Optional)
        ):
            raise ValueError(
                f"attribute {binding.name!r} is read-only in its definition;"
                " it cannot take a setter"
            )
        self._bindings[key] = binding
        self._plans.clear()
        self._payload_plans.clear()
        return binding

    def bind(
        self,
        definition: ZCLAttributeDef,
        read: Getter,
        write: Setter | None = None,
        *,
        reportable: bool | None = None,
        manufacturer_code: int | None = None,
    ) -> AttributeBinding:
        """Bind one definition; ``reportable`` defaults to the definition's 'p' access."""
        if reportable is None:
            reportable = bool(definition.access & ZCLAttributeAccess.Report)
        return self.add(
            AttributeBinding(definition, read, write, reportable, manufacturer_code)
        )

    @classmethod
    def from_cluster(
        cls,
        cluster: type[Cluster],
        getters: Mapping[str, Getter],
        setters: Mapping[str, Setter] | None = None,
        *,
        reportable: Iterable[str] = (),
        manufacturer_code: int | None = None,
        cluster_revision: int | None = None,
    ) -> AttributeTable:
        """Bind a zigpy-style cluster class to the model by attribute name.

        ``getters`` maps attribute names to zero-argument callables returning the
        current value (None when the model has none); ``setters`` maps names of
        writable attributes to one-argument callables.  Attributes named in
        ``reportable`` (or declared with 'p' access) accept Configure Reporting.
        ``manufacturer_code`` is the code used for definitions marked
        manufacturer-specific without their own code.  A ``cluster_revision``
        binds the global ClusterRevision attribute (0xFFFD) to that constant.
        Unknown names raise ValueError, so a typo cannot silently drop data.
        """
        setters = dict(setters or {})
        reportable = set(reportable)
        by_name = cluster.attributes_by_name
        unknown = (set(getters) | set(setters) | reportable) - set(by_name)
        if unknown:
            raise ValueError(
                f"{cluster.__name__} has no attributes named {sorted(unknown)}"
            )
        missing_getters = set(setters) - set(getters)
        if missing_getters:
            raise ValueError(f"setters without getters: {sorted(missing_getters)}")

        table = cls()
        for name, getter in getters.items():
            definition = by_name[name]
            table.bind(
                definition,
                getter,
                setters.get(name),
                reportable=(name in reportable)
                or bool(definition.access & ZCLAttributeAccess.Report),
                manufacturer_code=_manufacturer_of(definition, cluster, manufacturer_code),
            )
        if cluster_revision is not None and (None, CLUSTER_REVISION_ID) not in table._bindings:
            revision_def = next(
                (d for d in cluster.AttributeDefs if d.id == CLUSTER_REVISION_ID), ZCL_CLUSTER_REVISION_ATTR
            )
            table.bind(revision_def, lambda: cluster_revision, reportable=False)
        return table

    def get(self, attr_id: int, manufacturer_code: int | None = None) -> AttributeBinding | None:
        return self._bindings.get((manufacturer_code, attr_id))

    def read_plan(self, attr_ids: tuple[int, ...], manufacturer_code: int | None = None) -> ReadPlan:
        """Per requested id, the start of its Read Attributes Response record
        (ZCL 2.5.2: attribute id, status) and the binding that supplies the
        rest, or None when that start is the whole record (unsupported or
        write-only).  The displays read the same few lists all day, so each
        list's plan is made once (and again after a binding is added)."""
        key = (attr_ids, manufacturer_code)
        plan = self._plans.get(key)
        if plan is None:
            entries: list[tuple[bytes, AttributeBinding | None]] = []
            for attr_id in attr_ids:
                head = int(attr_id).to_bytes(2, "little")
                binding = self._bindings.get((manufacturer_code, attr_id))
                if binding is None:
                    entries.append((head + bytes((Status.UNSUPPORTED_ATTRIBUTE,)), None))
                elif not binding.readable:
                    entries.append((head + bytes((Status.WRITE_ONLY,)), None))
                else:
                    entries.append((head + bytes((Status.SUCCESS,)), binding))
            if len(self._plans) >= _MAX_PLANS:  # a peer asking for ever new lists gets no more memory
                self._plans.clear()
            plan = self._plans[key] = tuple(entries)
        return plan

    def read_plan_of(self, payload: bytes, manufacturer_code: int | None = None) -> ReadPlan:
        """:meth:`read_plan` of a Read Attributes payload (its uint16 ids, an
        even number of bytes), found by the payload's bytes: unpacking the ids
        and hashing them again is most of the work of a plan found."""
        key = (bytes(payload), manufacturer_code)
        plan = self._payload_plans.get(key)
        if plan is None:
            plan = self.read_plan(struct.unpack(f"<{len(payload) // 2}H", payload), manufacturer_code)
            if len(self._payload_plans) >= _MAX_PLANS:
                self._payload_plans.clear()
            self._payload_plans[key] = plan
        return plan

    def ids(self, manufacturer_code: int | None = None) -> list[int]:
        """Attribute ids served in one manufacturer scope, ascending."""
        return sorted(aid for (mfr, aid) in self._bindings if mfr == manufacturer_code)

    def manufacturer_codes(self) -> set[int]:
        return {mfr for (mfr, _aid) in self._bindings if mfr is not None}

    def __iter__(self) -> Iterator[AttributeBinding]:
        return iter(self._bindings.values())

    def __len__(self) -> int:
        return len(self._bindings)

    def __contains__(self, attr_id: object) -> bool:
        return (None, attr_id) in self._bindings


def _manufacturer_of(
    definition: ZCLAttributeDef, cluster: type[Cluster], default: int | None
) -> int | None:
    code = definition.manufacturer_code
    if code is not UNDEFINED and code is not None:
        return int(code)
    if definition.is_manufacturer_specific:
        override = cluster.manufacturer_id_override
        if override is not UNDEFINED and override is not None:
            return int(override)
        if default is None:
            raise ValueError(
                f"attribute {definition.name!r} is manufacturer-specific:"
                " pass manufacturer_code"
            )
        return default
    return None
