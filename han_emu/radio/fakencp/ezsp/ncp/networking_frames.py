"""UG100's networking frames: forming, resuming and leaving the network,
letting devices join, scanning, the radio's power and the duty-cycle frames.

The network parameters live in tokens (a formed network comes back after a
reset with ``networkInit``); whether it is up lives in RAM.
"""

from __future__ import annotations

from typing import Any

import bellows.types as bt

from han_emu.radio.fakencp.ezsp.ncp.interpreter import EmberStatus, EzspNcpBase

DUTY_CYCLE_ARRAY_BYTES = 134  # getCurrentDutyCycle returns a fixed uint8_t[134]


class DutyCycleLimits(bt.EzspStruct):
    """The stack's ``EmberDutyCycleLimits`` (hundredths of a percent).

    bellows 1.2 declares it as a vendor id and string (9 bytes), while the
    stack's struct is three 16-bit thresholds (6 bytes); the NCP sends what
    firmware sends (the protocol classes patch bellows' schema with this).
    """

    limitThresh: bt.uint16_t
    critThresh: bt.uint16_t
    suspLimit: bt.uint16_t


class NetworkingFrames(EzspNcpBase):
    """Formation, joining, scans, radio settings and duty cycle."""

    # -- the network -------------------------------------------------------------
    def cmd_networkState(self) -> dict[str, Any]:
        status = bt.EmberNetworkStatus.JOINED_NETWORK if self.ram.network_up else bt.EmberNetworkStatus.NO_NETWORK
        return {"status": status}

    def cmd_networkInit(self, networkInitBitmask: int) -> dict[str, Any]:
        if self.ram.network_up:
            return {"status": EmberStatus.INVALID_CALL}
        if not self.tokens.formed:
            return {"status": EmberStatus.NOT_JOINED}
        self._network_up()
        return {"status": EmberStatus.SUCCESS}

    def cmd_formNetwork(self, parameters: bt.EmberNetworkParameters) -> dict[str, Any]:
        if self.ram.network_up:
            return {"status": EmberStatus.INVALID_CALL}
        if not 11 <= parameters.radioChannel <= 26:
            return {"status": EmberStatus.BAD_ARGUMENT}
        tokens = self.tokens
        tokens.formed = True
        tokens.node_type = bt.EmberNodeType.COORDINATOR
        tokens.node_id = 0x0000
        tokens.extended_pan_id = bytes(parameters.extendedPanId.serialize())
        tokens.pan_id = int(parameters.panId)
        tokens.channel = int(parameters.radioChannel)
        tokens.tx_power = int(parameters.radioTxPower)
        tokens.nwk_manager_id = 0x0000
        tokens.nwk_update_id = 0  # the stack ignores the host's value on forming
        tokens.channels = int(parameters.channels)
        self._network_up()
        return {"status": EmberStatus.SUCCESS}

    def cmd_leaveNetwork(self) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.INVALID_CALL}
        self.ram.network_up = False
        self.tokens.formed = False
        self._later("stackStatusHandler", status=EmberStatus.NETWORK_DOWN)
        return {"status": EmberStatus.SUCCESS}

    def _network_up(self) -> None:
        self.ram.network_up = True
        self._later("stackStatusHandler", status=EmberStatus.NETWORK_UP)

    def cmd_getNetworkParameters(self) -> dict[str, Any]:
        tokens = self.tokens
        params = bt.EmberNetworkParameters(
            extendedPanId=bt.ExtendedPanId.deserialize(tokens.extended_pan_id)[0],
            panId=tokens.pan_id,
            radioTxPower=tokens.tx_power,
            radioChannel=tokens.channel,
            joinMethod=bt.EmberJoinMethod.USE_MAC_ASSOCIATION,
            nwkManagerId=tokens.nwk_manager_id,
            nwkUpdateId=tokens.nwk_update_id,
            channels=bt.Channels(tokens.channels),
        )
        if not self.ram.network_up:
            return {"status": EmberStatus.NOT_JOINED, "nodeType": bt.EmberNodeType.UNKNOWN_DEVICE, "parameters": params}
        return {"status": EmberStatus.SUCCESS, "nodeType": tokens.node_type, "parameters": params}

    def cmd_getParentChildParameters(self) -> dict[str, Any]:
        return {
            "childCount": len(self.tokens.children),
            "parentEui64": bt.EUI64.convert("00:00:00:00:00:00:00:00"),
            "parentNodeId": 0xFFFF,
        }

    # -- joining and scans ---------------------------------------------------------
    def cmd_permitJoining(self, duration: int) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.INVALID_CALL}
        self.ram.permit_until = self._clock() + (duration if duration != 0xFF else float("inf"))
        return {"status": EmberStatus.SUCCESS}

    @property
    def permit_joining(self) -> bool:
        return self._clock() < self.ram.permit_until

    def cmd_startScan(self, scanType: bt.EzspNetworkScanType, channelMask: bt.Channels, duration: int) -> dict[str, Any]:
        channels = [c for c in range(11, 27) if channelMask & (1 << c)]
        if scanType == bt.EzspNetworkScanType.ENERGY_SCAN:
            for channel in channels:
                # a quiet band with a little noise, busier on Wi-Fi's channels
                rssi = -90 + (10 if channel in (17, 18, 19, 22, 23) else 0) + channel % 3
                self._later("energyScanResultHandler", channel=channel, maxRssiValue=rssi)
        self._later("scanCompleteHandler", channel=0, status=EmberStatus.SUCCESS)
        return {"status": EmberStatus.SUCCESS}

    # -- radio and routing ---------------------------------------------------------
    def cmd_setRadioPower(self, power: int) -> dict[str, Any]:
        if not -30 <= power <= 20:
            return {"status": EmberStatus.BAD_ARGUMENT}
        self.ram.radio_power = int(power)
        self.tokens.tx_power = int(power) & 0xFF
        return {"status": EmberStatus.SUCCESS}

    def cmd_setConcentrator(self, on: bool, **_: Any) -> dict[str, Any]:
        self.ram.concentrator = bool(on)
        return {"status": EmberStatus.SUCCESS}

    def cmd_setSourceRouteDiscoveryMode(self, mode: int) -> dict[str, Any]:
        return {"remainingTime": 0}

    # -- duty cycle ------------------------------------------------------------------
    def cmd_getDutyCycleState(self) -> dict[str, Any]:
        return {"status": EmberStatus.SUCCESS, "returnedState": self.duty_cycle.state}

    def cmd_getDutyCycleLimits(self) -> dict[str, Any]:
        dc = self.duty_cycle
        limits = DutyCycleLimits(limitThresh=dc.limit_thresh, critThresh=dc.crit_thresh, suspLimit=dc.susp_limit)
        return {"status": EmberStatus.SUCCESS, "limits": limits}

    def cmd_setDutyCycleLimitsInStack(self, limits: DutyCycleLimits) -> dict[str, Any]:
        if not (limits.suspLimit > limits.critThresh > limits.limitThresh):
            return {"status": EmberStatus.BAD_ARGUMENT}
        self.duty_cycle.limit_thresh = int(limits.limitThresh)
        self.duty_cycle.crit_thresh = int(limits.critThresh)
        self.duty_cycle.susp_limit = int(limits.suspLimit)
        return {"status": EmberStatus.SUCCESS}

    def cmd_getCurrentDutyCycle(self, maxDevices: int) -> dict[str, Any]:
        entries = b"".join(
            bt.EmberPerDeviceDutyCycle(nodeId=nwk, dutyCycleConsumed=min(used, 0xFFFF)).serialize()
            for nwk, used in list(self.duty_cycle.consumed.items())[:maxDevices]
        )
        array = entries[:DUTY_CYCLE_ARRAY_BYTES].ljust(DUTY_CYCLE_ARRAY_BYTES, b"\xff")
        return {"status": EmberStatus.SUCCESS, "arrayOfDeviceDutyCycles": list(array)}

    def duty_cycle_callback(self) -> None:
        """Tell the host the duty-cycle state (dutyCycleHandler, 0x4D)."""
        dc = self.duty_cycle
        self.callback(
            "dutyCycleHandler",
            channelPage=dc.channel_page,
            channel=dc.channel,
            state=dc.state,
            arrayOfDeviceDutyCycles=[
                bt.EmberPerDeviceDutyCycle(nodeId=nwk, dutyCycleConsumed=min(used, 0xFFFF))
                for nwk, used in dc.consumed.items()
            ],
        )
