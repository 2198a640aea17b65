"""How each display is served: its ZCL requests, how many the ESI answered and
how many it refused (NOT_AUTHORIZED), and when the display was last heard.

Fed with every packet the ESI takes or makes (a hardware HAN's server tap),
so it counts what the meter served, whatever the stick.  A request is a ZCL
frame from client to server other than a Default Response; its answer is the
ESI's next frame to that device on the same cluster with the same transaction
sequence number (ZCL 2.5: a response carries its request's TSN), a refusal
when that answer is a Default Response with status NOT_AUTHORIZED (0x7E).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import zigpy.types as t

from han_emu.air.accounting import nwk_key

_DEFAULT_RESPONSE = 0x0B
_NOT_AUTHORIZED = 0x7E
_SERVER_TO_CLIENT = 0x08
_MANUFACTURER = 0x04
_PENDING_LIMIT = 256
"""Unanswered requests remembered per device (older ones are forgotten)."""


@dataclass
class DisplayService:
    """One display's counts."""

    requests: int = 0
    answered: int = 0
    refused: int = 0
    last_seen: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "answered": self.answered, "refused": self.refused,
                "last_seen": None if self.last_seen is None else round(self.last_seen, 3)}


def _zcl(data: bytes) -> tuple[int, int, int, bytes] | None:
    """(frame control, TSN, command id, payload) of a ZCL frame, or None if too short."""
    if not data:
        return None
    offset = 3 if data[0] & _MANUFACTURER else 1
    if len(data) < offset + 2:
        return None
    return data[0], data[offset], data[offset + 1], data[offset + 2:]


class ServedRequests:
    """Per-device request counts, keyed by NWK address."""

    def __init__(self) -> None:
        self.devices: dict[int, DisplayService] = {}
        self._pending: dict[int, dict[tuple[int, int], None]] = {}

    def observe(self, packet: t.ZigbeePacket, incoming: bool, now: float) -> None:
        """Count one packet the ESI took (``incoming``) or sent."""
        peer = packet.src if incoming else packet.dst
        if peer is None or peer.addr_mode != t.AddrMode.NWK:
            return
        nwk = int(peer.address)
        frame = _zcl(packet.data.serialize())
        if incoming:
            device = self.devices.setdefault(nwk, DisplayService())
            device.last_seen = now
            if frame is None:
                return
            control, tsn, command, _ = frame
            if control & _SERVER_TO_CLIENT or (control & 0x03 == 0 and command == _DEFAULT_RESPONSE):
                return
            device.requests += 1
            pending = self._pending.setdefault(nwk, {})
            pending[(int(packet.cluster_id), tsn)] = None
            if len(pending) > _PENDING_LIMIT:
                del pending[next(iter(pending))]
            return
        pending = self._pending.get(nwk)
        if frame is None or not pending:
            return
        control, tsn, command, payload = frame
        key = (int(packet.cluster_id), tsn)
        if not control & _SERVER_TO_CLIENT or key not in pending:
            return  # a report or push, not an answer
        del pending[key]
        device = self.devices.setdefault(nwk, DisplayService())
        refused = control & 0x03 == 0 and command == _DEFAULT_RESPONSE and payload[1:2] == bytes([_NOT_AUTHORIZED])
        if refused:
            device.refused += 1
        else:
            device.answered += 1

    def merge_into(self, devices: dict[str, dict[str, Any]]) -> None:
        """Add each device's counts to its entry of a ``--status-json`` ``devices``
        object (keyed ``"0x4d2c"``), beside its airtime."""
        for nwk, service in sorted(self.devices.items()):
            entry = devices.setdefault(nwk_key(nwk), {"name": nwk_key(nwk)})
            entry.update(service.to_json())
