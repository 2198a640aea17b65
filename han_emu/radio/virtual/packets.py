"""Cheap builders for the zigpy packet objects the virtual air makes per frame.

A virtual day puts well over a hundred thousand frames on the air, and each
one used to pay for ``dataclasses.replace`` (which rebinds every field through
``__init__``) and for ``AddrModeAddress.__post_init__`` (a dict built per call
to convert the address).  The helpers here give equal objects without that
work; they fall back to zigpy's own constructors whenever the shortcut would
not be exactly equivalent.
"""

from __future__ import annotations

from typing import Any

import zigpy.types as t

_NWK_MODE = t.AddrMode.NWK
_ENCRYPTION = t.TransmitOptions.APS_Encryption
_NO_OPTIONS = t.TransmitOptions.NONE
_PLAIN_PACKET = t.ZigbeePacket.__post_init__ if hasattr(t.ZigbeePacket, "__post_init__") else None


def nwk_address(nwk: int) -> t.AddrModeAddress:
    """``AddrModeAddress(addr_mode=AddrMode.NWK, address=nwk)``, built directly."""
    address = object.__new__(t.AddrModeAddress)
    address.__dict__.update(
        addr_mode=_NWK_MODE, address=nwk if type(nwk) is t.NWK else t.NWK(nwk)
    )
    return address


def replace_packet(packet: t.ZigbeePacket, **changes: Any) -> t.ZigbeePacket:
    """``packet.replace(**changes)``: a shallow copy with ``changes`` applied.

    ``ZigbeePacket.__init__`` only assigns its fields, so copying the instance
    dictionary gives the same packet; subclasses (which might convert fields)
    go through zigpy's ``replace``.
    """
    if type(packet) is not t.ZigbeePacket or _PLAIN_PACKET is not None:
        return packet.replace(**changes)
    fields = t.ZigbeePacket.__dataclass_fields__
    for name in changes:
        if name not in fields:
            raise TypeError(f"ZigbeePacket has no field {name!r}")
    copy = object.__new__(t.ZigbeePacket)
    state = copy.__dict__
    state.update(packet.__dict__)
    state.update(changes)
    return copy


def encryption_only(options: t.TransmitOptions) -> t.TransmitOptions:
    """``options & TransmitOptions.APS_Encryption`` without a Flag lookup."""
    return _ENCRYPTION if options._value_ & _ENCRYPTION._value_ else _NO_OPTIONS
