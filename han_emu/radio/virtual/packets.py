"""Cheap builders for the zigpy packet objects the virtual air makes per frame.

A virtual day puts well over a hundred thousand frames on the air, and each
one used to pay for ``dataclasses.replace`` (which rebinds every field through
``__init__``) and for ``AddrModeAddress.__post_init__`` (a dict built per call
to convert the address).  The helpers here give equal objects without that
work; they fall back to zigpy's own constructors whenever the shortcut would
not be exactly equivalent.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import zigpy.types as t

_NWK_MODE = t.AddrMode.NWK
_ENCRYPTION = t.TransmitOptions.APS_Encryption
_NO_OPTIONS = t.TransmitOptions.NONE
_PLAIN_PACKET = t.ZigbeePacket.__post_init__ if hasattr(t.ZigbeePacket, "__post_init__") else None
_FIELDS = t.ZigbeePacket.__dataclass_fields__.keys()
_new = object.__new__


def _defaults() -> tuple[dict[str, Any] | None, Any]:
    """A packet's fields in order with their plain defaults, and zigpy's
    timestamp factory: what ``ZigbeePacket.__init__`` assigns to the fields an
    acknowledgement does not give.  None when a field has no plain default
    (other than the timestamp and the data, which an acknowledgement gives)."""
    fields = t.ZigbeePacket.__dataclass_fields__.values()
    plain = {}
    for f in fields:
        if not f.init:
            return None, None
        if f.default is not dataclasses.MISSING:
            plain[f.name] = f.default
        elif f.name in ("timestamp", "data") and f.default_factory is not dataclasses.MISSING:
            plain[f.name] = None  # made per packet
        else:
            return None, None
    return plain, t.ZigbeePacket.__dataclass_fields__["timestamp"].default_factory


_ACK_DEFAULTS, _TIMESTAMP = _defaults()

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


def ack_packet(
    src: t.AddrModeAddress,
    src_ep: Any,
    dst: t.AddrModeAddress,
    dst_ep: Any,
    tsn: Any,
    profile_id: Any,
    cluster_id: Any,
    tx_options: t.TransmitOptions,
) -> t.ZigbeePacket:
    """``ZigbeePacket(src=..., src_ep=..., dst=..., dst_ep=..., tsn=...,
    profile_id=..., cluster_id=..., data=SerializableBytes(b""),
    tx_options=...)``: an APS acknowledgement, one per acknowledged frame.

    zigpy's ``__init__`` assigns each field in turn (the default where none is
    given, the wall clock for the timestamp); the same dictionary, filled from
    a copy of the defaults, is a third of the cost.
    """
    if _ACK_DEFAULTS is None or _PLAIN_PACKET is not None:
        return t.ZigbeePacket(src=src, src_ep=src_ep, dst=dst, dst_ep=dst_ep, tsn=tsn, profile_id=profile_id,
                              cluster_id=cluster_id, data=t.SerializableBytes(b""), tx_options=tx_options)
    state = _ACK_DEFAULTS.copy()
    state["timestamp"] = _TIMESTAMP()
    state["src"] = src
    state["src_ep"] = src_ep
    state["dst"] = dst
    state["dst_ep"] = dst_ep
    state["tsn"] = tsn
    state["profile_id"] = profile_id
    state["cluster_id"] = cluster_id
    data = _new(t.SerializableBytes)  # SerializableBytes(b""), which only keeps the bytes given
    data.value = b""
    state["data"] = data
    state["tx_options"] = tx_options
    packet = _new(t.ZigbeePacket)
    packet.__dict__ = state
    return packet


def encryption_only(options: t.TransmitOptions) -> t.TransmitOptions:
    """``options & TransmitOptions.APS_Encryption`` without a Flag lookup."""
    return _ENCRYPTION if options._value_ & _ENCRYPTION._value_ else _NO_OPTIONS
