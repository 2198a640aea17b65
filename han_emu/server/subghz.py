"""Sub-GHz cluster server (0x070B): the hub throttles clients as its duty cycle fills.

The duty-cycle ledger says when a threshold is crossed; this server decides
what goes on the air about it:

- Limited (alert 0x8F20): Suspend ZCL Messages, unicast to the client whose
  traffic caused the step;
- Critical (0x8F22): Suspend ZCL Messages broadcast to every rx-on-when-idle
  device;
- Suspended (0x8F24): nothing more (the hub may not transmit);
- while the hub stays Limited (or worse), a client that is not suspended and
  still brings the hub traffic is suspended too (:meth:`on_traffic`), and at
  Critical the broadcast is repeated when its period ends: otherwise one
  suspension would lapse while the hub is still over its threshold;
- a Get Suspend ZCL Messages Status request is answered with the minutes the
  requester still has to stay silent (0 when it may talk).

A client already told to be silent is not told again before its period ends,
so a device hovering at a threshold does not draw a storm of commands.  Every
alert (transitions up and down, discards) is kept in :attr:`alerts` with its
GBCS code for whoever reports them.

Pure logic: frames leave through the ZCL engine's outbox like any other
unsolicited command, so the host sends them on its next ``due()``.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import zigpy.types as t

from clusters import SubGhz
from han_emu.air.accounting import HUB_NWK
from han_emu.air.dutycycle import AlertCode, DutyCycleState
from han_emu.meter.clock import Clock
from han_emu.server.command import ZclReply, ZclRequest

if TYPE_CHECKING:
    from han_emu.server.engine import ZclServer

LOGGER = logging.getLogger(__name__)

SUSPEND_ZCL_MESSAGES = SubGhz.ClientCommandDefs.suspend_zcl_messages.id
"""Client command (server -> client): period in minutes, 0 lifts the suspension."""
GET_SUSPEND_STATUS = SubGhz.ServerCommandDefs.get_suspend_zcl_messages_status.id
"""Server command (client -> server)."""

DEFAULT_SUSPEND_MINUTES = 10
"""Long enough for a rolling-hour window to drain noticeably, short enough for
a display to stay useful."""

CLIENT_ENDPOINT = 1
"""Endpoint a suspension goes to until the client has been heard from."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One GBCS duty-cycle alert as the hub raised it."""

    time: float
    code: int
    device: int
    """NWK of the device whose duty cycle changed (the hub for its own)."""
    culprit: int | None


class SubGhzServer:
    """Suspension bookkeeping and commands of the Sub-GHz cluster on one endpoint."""

    def __init__(self, clock: Clock, *, suspend_minutes: int = DEFAULT_SUSPEND_MINUTES,
                 history: int = 1000) -> None:
        if not 1 <= suspend_minutes <= 0xFF:
            raise ValueError("a suspension lasts 1 to 255 minutes")
        self.clock = clock
        self.suspend_minutes = suspend_minutes
        self.suspended_until: dict[int, float] = {}
        """Client NWK -> end of its suspension (POSIX s)."""
        self.all_until = float("-inf")
        """End of the last broadcast suspension."""
        self.client_endpoints: dict[int, int] = {}
        self.alerts: deque[Alert] = deque(maxlen=history)
        self.sent: list[tuple[float, int | None, int]] = []
        """(time, destination NWK or None for a broadcast, minutes) of every suspension sent."""
        self._zcl: ZclServer | None = None
        self._endpoint = 0

    def bind(self, zcl: ZclServer, endpoint: int) -> None:
        """Send through ``zcl`` from ``endpoint`` (the hub's Sub-GHz server endpoint)."""
        self._zcl = zcl
        self._endpoint = endpoint

    def handlers(self) -> dict[int, tuple[Any, tuple[int, ...]]]:
        """Command id -> (handler, ids it answers with), for ``Endpoint.on_command``."""
        return {GET_SUSPEND_STATUS: (self.get_suspend_status, (SUSPEND_ZCL_MESSAGES,))}

    def observe(self, packet: t.ZigbeePacket) -> None:
        """Learn a client's endpoint from a packet it sent the hub."""
        if packet.src is not None and packet.src.addr_mode == t.AddrMode.NWK and packet.src_ep:
            self.client_endpoints[int(packet.src.address)] = int(packet.src_ep)

    # -- state -------------------------------------------------------------------------------

    def remaining_minutes(self, nwk: int) -> int:
        """Whole minutes (rounded up) ``nwk`` must still stay silent."""
        until = max(self.suspended_until.get(nwk, float("-inf")), self.all_until)
        left = until - self.clock.now()
        return 0 if left <= 0 else min(0xFF, math.ceil(left / 60.0))

    def is_suspended(self, nwk: int) -> bool:
        return self.remaining_minutes(nwk) > 0

    # -- commands ------------------------------------------------------------------------------

    def get_suspend_status(self, request: ZclRequest) -> list[ZclReply]:
        src = request.packet.src
        nwk = int(src.address) if src is not None else HUB_NWK
        return [ZclReply(SUSPEND_ZCL_MESSAGES, bytes([self.remaining_minutes(nwk)]))]

    def on_duty_cycle(self, event: Any, culprit: int | None) -> bool:
        """React to a ledger event (``DutyCycleEvent`` and the NWK that caused it).

        Returns whether a command was queued (the caller should wake the host).
        """
        code = int(event.alert)
        device = int(event.device)
        self.alerts.append(Alert(event.time, code, device, culprit))
        LOGGER.info("duty cycle alert 0x%04X for 0x%04X (caused by %s)", code, device,
                    "-" if culprit is None else f"0x{culprit:04X}")
        if code == AlertCode.LIMITED_ACTION_TAKEN and culprit is not None and culprit != HUB_NWK:
            return self.suspend(culprit)
        if code == AlertCode.CRITICAL_ACTION_TAKEN:
            return self.suspend(None)
        return False

    def on_traffic(self, peer: int, hub_state: int) -> bool:
        """``peer`` exchanged frames with the hub while the hub is in
        ``hub_state`` (a ``DutyCycleState`` value, Limited .. Suspended)."""
        if hub_state >= DutyCycleState.CRITICAL and self.all_until <= self.clock.now():
            return self.suspend(None)
        if hub_state >= DutyCycleState.LIMITED and peer != HUB_NWK and not self.is_suspended(peer):
            return self.suspend(peer)
        return False

    def suspend(self, nwk: int | None, minutes: int | None = None) -> bool:
        """Tell ``nwk`` (None: everyone, by broadcast) to be silent for ``minutes``."""
        minutes = self.suspend_minutes if minutes is None else minutes
        now = self.clock.now()
        until = now + 60.0 * minutes
        if nwk is None:
            if self.all_until > now:
                return False
            self.all_until = until
            endpoints = sorted(set(self.client_endpoints.values()) or {CLIENT_ENDPOINT})
            for ep in endpoints:
                self._send(t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast,
                                             address=t.BroadcastAddress.RX_ON_WHEN_IDLE), ep, minutes)
        else:
            if self.is_suspended(nwk):
                return False
            self.suspended_until[nwk] = until
            self._send(t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(nwk)),
                       self.client_endpoints.get(nwk, CLIENT_ENDPOINT), minutes)
        self.sent.append((now, nwk, minutes))
        return True

    def _send(self, dst: t.AddrModeAddress, dst_ep: int, minutes: int) -> None:
        if self._zcl is None:
            raise RuntimeError("the Sub-GHz server is not bound to a ZCL server")
        self._zcl.send(self._endpoint, SubGhz.cluster_id, SUSPEND_ZCL_MESSAGES, bytes([minutes]), dst, dst_ep,
                       disable_default_response=True)
