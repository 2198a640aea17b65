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
_FIELDS = t.ZigbeePacket.__dataclass_fields__.keys()

# One address object per NWK address: the air names a handful of nodes some
# three hundred thousand times a virtual day.  Nothing changes an address
# object once built (zigpy, like the air, makes new ones with ``replace``).
_NWK_ADDRESSES: dict[int, t.AddrModeAddress] = {}


def nwk_address(nwk: int) -> t.AddrModeAddress:
    """``AddrModeAddress(addr_mode=AddrMode.NWK, address=nwk)``, built directly
    (once per address: equal addresses are the same object)."""
    address = _NWK_ADDRESSES.get(nwk)
    if address is None:
        address = object.__new__(t.AddrModeAddress)
        address.__dict__.update(
            addr_mode=_NWK_MODE, address=nwk if type(nwk) is t.NWK else t.NWK(nwk)
        )
        _NWK_ADDRESSES[int(nwk)] = address
    return address


def replace_packet(packet: t.ZigbeePacket, **changes: Any) -> t.ZigbeePacket:
    """``packet.replace(**changes)``: a shallow copy with ``changes`` applied.

    ``ZigbeePacket.__init__`` only assigns its fields, so copying the instance
    dictionary gives the same packet; subclasses (which might convert fields)
    go through zigpy's ``replace``.
    """
    if type(packet) is not t.ZigbeePacket or _PLAIN_PACKET is not None:
        return packet.replace(**changes)
    if not changes.keys() <= _FIELDS:
        unknown = sorted(changes.keys() - _FIELDS)
        raise TypeError(f"ZigbeePacket has no field {unknown[0]!r}")
    copy = object.__new__(t.ZigbeePacket)
    state = copy.__dict__
    state.update(packet.__dict__)
    state.update(changes)
    return copy


def received_packet(
    packet: t.ZigbeePacket,
    timestamp: Any,
    src: t.AddrModeAddress | None,
    dst: t.AddrModeAddress | None,
    lqi: int,
    rssi: int,
    tx_options: t.TransmitOptions,
) -> t.ZigbeePacket:
    """``packet`` as a receiver gets it: ``replace_packet(packet, timestamp=...,
    src=..., dst=..., lqi=..., rssi=..., tx_options=..., source_route=None,
    priority=None)``, one per frame delivered."""
    if type(packet) is not t.ZigbeePacket or _PLAIN_PACKET is not None:
        return packet.replace(timestamp=timestamp, src=src, dst=dst, lqi=lqi, rssi=rssi, tx_options=tx_options,
                              source_route=None, priority=None)
    copy = object.__new__(t.ZigbeePacket)
    state = copy.__dict__
    state.update(packet.__dict__)
    state["timestamp"] = timestamp
    state["src"] = src
    state["dst"] = dst
    state["lqi"] = lqi
    state["rssi"] = rssi
    state["tx_options"] = tx_options
    state["source_route"] = None
    state["priority"] = None
    return copy


def encryption_only(options: t.TransmitOptions) -> t.TransmitOptions:
    """``options & TransmitOptions.APS_Encryption`` without a Flag lookup."""
    return _ENCRYPTION if options._value_ & _ENCRYPTION._value_ else _NO_OPTIONS
