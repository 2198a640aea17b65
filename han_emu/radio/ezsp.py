"""The EmberZNet backend: bellows' ControllerApplication carrying the ESI server.

bellows sends every frame from the source endpoint and profile the packet
names and keeps the APS-encryption flag of incoming frames, so the server
needs nothing bent here beyond :class:`~han_emu.radio.host.ServerHost`.

What EZSP adds is the NCP's own duty-cycle view (EZSP v6+):
``getDutyCycleState``, ``getDutyCycleLimits``, ``getCurrentDutyCycle`` and
the ``dutyCycleHandler`` callback, collected into :class:`NcpDutyCycle` for
display beside han-emu's own airtime accounting.  bellows 1.2 declares
``EmberDutyCycleLimits`` as a vendor id and string; the stack's struct is three
16-bit thresholds in hundredths of a percent, so the limits are read with that
layout.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import bellows.config as bconf
import bellows.types as bt
import zigpy.types as t
from bellows.zigbee.application import ControllerApplication

from han_emu.radio.backend import RadioSpec
from han_emu.radio.coordinator import HardwareCoordinator

LOGGER = logging.getLogger(__name__)

GET_DUTY_CYCLE_LIMITS = 0x004B
#: getCurrentDutyCycle returns room for this many (nodeId, consumed) pairs.
MAX_DUTY_CYCLE_DEVICES = 134 // 4

STATE_NAMES = {0: "tracking off", 1: "normal", 2: "limited", 3: "critical", 4: "suspended"}


class DutyCycleLimits(bt.EzspStruct):
    """The stack's ``EmberDutyCycleLimits``: hundredths of a percent, suspend >
    critical > limited."""

    limitThresh: bt.uint16_t
    critThresh: bt.uint16_t
    suspLimit: bt.uint16_t


def radio_config(spec: RadioSpec, *, request_timeout: float) -> dict[str, Any]:
    """bellows settings for ``spec`` (bellows' command timeouts are fixed)."""
    config: dict[str, Any] = {}
    if spec.networked:
        # No reader thread needed behind a socket.
        config[bconf.CONF_USE_THREAD] = False
    return config


@dataclass
class NcpDutyCycle:
    """The NCP's own duty-cycle figures (hundredths of a percent of the hour)."""

    supported: bool | None = None
    state: int | None = None
    #: (limited, critical, suspend) thresholds.
    limits: tuple[int, int, int] | None = None
    #: NWK address -> duty cycle consumed.
    consumed: dict[int, int] = field(default_factory=dict)
    channel_page: int | None = None
    channel: int | None = None
    #: Wall time of the last figure received.
    updated: float | None = None

    @property
    def state_name(self) -> str:
        return "unknown" if self.state is None else STATE_NAMES.get(self.state, f"state {self.state}")

    def describe(self) -> str:
        if self.supported is False:
            return "NCP duty cycle: not supported by this firmware"
        text = f"NCP duty cycle: {self.state_name}"
        if self.limits is not None:
            text += " (limits {:.2f} / {:.2f} / {:.2f} %)".format(*(v / 100 for v in self.limits))
        if self.consumed:
            text += ", used " + ", ".join(f"0x{n:04X} {v / 100:.2f} %" for n, v in sorted(self.consumed.items()))
        return text


class EzspCoordinator(HardwareCoordinator, ControllerApplication):
    """An EmberZNet coordinator carrying a packet server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duty_cycle = NcpDutyCycle()
        self._new_key_entries = 0

    #: True when this session formed the network (see :func:`needs_restart`).
    formed_network = False

    async def form_network(self, *args: Any, **kwargs: Any) -> None:
        await super().form_network(*args, **kwargs)
        self.formed_network = True

    def needs_restart(self) -> bool:
        """An EmberZNet NCP forgets its endpoints on every reset, endpoints can
        only be added while the network is down, and bellows resets the NCP to
        commit a newly formed network after registering them: a session that
        formed the network must be started once more for the ESIs to exist."""
        return self.formed_network

    def ezsp_callback_handler(self, frame_name: str, args: list[Any]) -> None:
        if frame_name == "dutyCycleHandler":
            page, channel, state, devices = args
            dc = self.duty_cycle
            dc.supported = True
            dc.channel_page, dc.channel, dc.state = int(page), int(channel), int(state)
            dc.consumed = {int(d.nodeId): int(d.dutyCycleConsumed) for d in devices}
            dc.updated = time.time()
            LOGGER.info("%s", dc.describe())
            return
        super().ezsp_callback_handler(frame_name, args)

    async def read_duty_cycle(self) -> NcpDutyCycle:
        """Ask the NCP for its duty-cycle state, limits and per-device use."""
        dc = self.duty_cycle
        ezsp = self._ezsp
        if ezsp is None or ezsp.ezsp_version < 6:
            dc.supported = False
            return dc
        try:
            status, state = await ezsp.getDutyCycleState()
        except Exception as exc:
            LOGGER.debug("getDutyCycleState failed: %r", exc)
            dc.supported = False
            return dc
        if t.uint8_t(status) != bt.EmberStatus.SUCCESS:
            dc.supported = False
            return dc
        dc.supported, dc.state = True, int(state)
        limits = await self._duty_cycle_limits()
        if limits is not None:
            dc.limits = limits
        status, array = await ezsp.getCurrentDutyCycle(maxDevices=MAX_DUTY_CYCLE_DEVICES)
        if t.uint8_t(status) == bt.EmberStatus.SUCCESS:
            dc.consumed = _per_device(bytes(array))
        dc.updated = time.time()
        return dc

    async def _duty_cycle_limits(self) -> tuple[int, int, int] | None:
        protocol = self._ezsp._protocol
        rx = {"status": bt.EmberStatus, "limits": DutyCycleLimits}
        # Read with the stack's layout (see the module docstring), on this
        # connection's protocol object only.
        protocol.COMMANDS = {**protocol.COMMANDS, "getDutyCycleLimits": (GET_DUTY_CYCLE_LIMITS, {}, rx)}
        protocol.COMMANDS_BY_ID[GET_DUTY_CYCLE_LIMITS] = ("getDutyCycleLimits", {}, rx)
        try:
            status, limits = await self._ezsp.getDutyCycleLimits()
        except Exception as exc:
            LOGGER.debug("getDutyCycleLimits failed: %r", exc)
            return None
        if t.uint8_t(status) != bt.EmberStatus.SUCCESS:
            return None
        return int(limits.limitThresh), int(limits.critThresh), int(limits.suspLimit)

    async def _store_link_key(self, ieee: t.EUI64, key: t.KeyData) -> bool:
        """Put ``key`` in the NCP's APS key table: the device's own entry if it
        has one, else the first index after the keys the NCP held at startup."""
        ezsp = self._ezsp
        if ezsp.ezsp_version < 13:
            (status,) = await ezsp.addOrUpdateKeyTableEntry(address=ieee, linkKey=True, keyData=key)
            return t.uint8_t(status) == bt.EmberStatus.SUCCESS
        (index,) = await ezsp.findKeyTableEntry(address=ieee, linkKey=True)
        if index == 0xFF:
            info = self.state.network_info
            taken = len(info.key_table) if info is not None else 0
            index = taken + self._new_key_entries
            self._new_key_entries += 1
        (status,) = await ezsp.importLinkKey(index=index, address=ieee, key=key)
        return bt.sl_Status.from_ember_status(status) == bt.sl_Status.OK


def _per_device(array: bytes) -> dict[int, int]:
    """(nodeId, consumed) pairs of getCurrentDutyCycle; 0xFFFF ends the list."""
    out: dict[int, int] = {}
    for i in range(0, len(array) - 3, 4):
        nwk = int.from_bytes(array[i:i + 2], "little")
        if nwk == 0xFFFF:
            break
        out[nwk] = int.from_bytes(array[i + 2:i + 4], "little")
    return out
