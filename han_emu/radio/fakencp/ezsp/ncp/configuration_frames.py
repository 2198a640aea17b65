"""UG100's configuration, utilities and token frames: what the host sets up
before the network starts, and what it reads about the stick.

Configuration is locked once the network is up; endpoints are forgotten on
reset (they live in RAM); manufacturing tokens are read-only.
"""

from __future__ import annotations

from typing import Any

import bellows.types as bt
import zigpy.types as zt

from han_emu.radio.fakencp.ezsp.ncp.interpreter import EmberStatus, EzspNcpBase, EzspStatus
from han_emu.radio.fakencp.ezsp.state import SILABS_MANUFACTURER_CODE, Endpoint

MFG_STRING = b"han-emu"
MFG_BOARD_NAME = b"fake EZSP NCP"


def parse_add_endpoint(params: bytes) -> dict[str, Any]:
    """addEndpoint's two cluster lists are sized by the counts before them,
    which a schema of anonymous lists cannot express."""
    endpoint, rest = zt.uint8_t.deserialize(params)
    profile, rest = zt.uint16_t.deserialize(rest)
    device_id, rest = zt.uint16_t.deserialize(rest)
    version, rest = zt.uint8_t.deserialize(rest)
    n_in, rest = zt.uint8_t.deserialize(rest)
    n_out, rest = zt.uint8_t.deserialize(rest)
    clusters: list[int] = []
    for _ in range(n_in + n_out):
        cluster, rest = zt.uint16_t.deserialize(rest)
        clusters.append(int(cluster))
    return {
        "endpoint": Endpoint(
            endpoint=int(endpoint),
            profile_id=int(profile),
            device_id=int(device_id),
            device_version=int(version),
            input_clusters=tuple(clusters[:n_in]),
            output_clusters=tuple(clusters[n_in:]),
        )
    }


class ConfigurationFrames(EzspNcpBase):
    """Version, configuration values, values, policies, endpoints; utilities and tokens."""

    PARAMETER_PARSERS = {**EzspNcpBase.PARAMETER_PARSERS, "addEndpoint": parse_add_endpoint}

    # -- configuration ---------------------------------------------------------------
    def cmd_version(self, desiredProtocolVersion: int) -> dict[str, Any]:
        return self.version_fields(desiredProtocolVersion)

    def cmd_getConfigurationValue(self, configId: bt.EzspConfigId) -> dict[str, Any]:
        if not isinstance(configId, bt.EzspConfigId) or configId.name.startswith("undefined"):
            return {"status": EzspStatus.ERROR_INVALID_ID, "value": 0}
        return {"status": EzspStatus.SUCCESS, "value": self.config_value(configId)}

    def cmd_setConfigurationValue(self, configId: bt.EzspConfigId, value: int) -> dict[str, Any]:
        if self.ram.network_up:
            return {"status": EzspStatus.ERROR_INVALID_CALL}
        if not isinstance(configId, bt.EzspConfigId) or configId.name.startswith("undefined"):
            return {"status": EzspStatus.ERROR_INVALID_ID}
        if configId == bt.EzspConfigId.CONFIG_KEY_TABLE_SIZE and value > self.KEY_TABLE_SIZE:
            # The key table lives in tokens sized when the image was built.
            return {"status": EzspStatus.ERROR_INVALID_VALUE}
        self.ram.config[int(configId)] = int(value)
        return {"status": EzspStatus.SUCCESS}

    def cmd_getValue(self, valueId: bt.EzspValueId) -> dict[str, Any]:
        if valueId == bt.EzspValueId.VALUE_VERSION_INFO:
            major, minor, patch, special = self.STACK_VERSION
            value = self.STACK_BUILD.to_bytes(2, "little") + bytes((major, minor, patch, special))
        elif valueId == bt.EzspValueId.VALUE_FREE_BUFFERS:
            value = bytes((self.config_value(bt.EzspConfigId.CONFIG_PACKET_BUFFER_COUNT) & 0xFF,))
        elif valueId == bt.EzspValueId.VALUE_NWK_FRAME_COUNTER:
            value = self.tokens.nwk_frame_counter.to_bytes(4, "little")
        elif valueId == bt.EzspValueId.VALUE_APS_FRAME_COUNTER:
            value = self.tokens.aps_frame_counter.to_bytes(4, "little")
        elif int(valueId) in self.ram.values:
            value = self.ram.values[int(valueId)]
        else:
            return {"status": EzspStatus.ERROR_INVALID_ID, "value": b""}
        return {"status": EzspStatus.SUCCESS, "value": value}

    def cmd_setValue(self, valueId: bt.EzspValueId, value: bytes) -> dict[str, Any]:
        if valueId in (bt.EzspValueId.VALUE_NWK_FRAME_COUNTER, bt.EzspValueId.VALUE_APS_FRAME_COUNTER):
            if self.ram.network_up or len(value) != 4:
                return {"status": EzspStatus.ERROR_INVALID_CALL}
            counter = int.from_bytes(value, "little")
            if valueId == bt.EzspValueId.VALUE_NWK_FRAME_COUNTER:
                self.tokens.nwk_frame_counter = counter
            else:
                self.tokens.aps_frame_counter = counter
        elif valueId == bt.EzspValueId.VALUE_VERSION_INFO:
            return {"status": EzspStatus.ERROR_INVALID_CALL}
        else:
            self.ram.values[int(valueId)] = bytes(value)
        return {"status": EzspStatus.SUCCESS}

    def cmd_setPolicy(self, policyId: bt.EzspPolicyId, decisionId: int) -> dict[str, Any]:
        self.ram.policies[int(policyId)] = int(decisionId)
        return {"status": EzspStatus.SUCCESS}

    def cmd_getPolicy(self, policyId: bt.EzspPolicyId) -> dict[str, Any]:
        return {"status": EzspStatus.SUCCESS, "decisionId": self.ram.policies.get(int(policyId), 0)}

    def cmd_addEndpoint(self, endpoint: Endpoint) -> dict[str, Any]:
        if self.ram.network_up:
            return {"status": EzspStatus.ERROR_INVALID_CALL}
        if endpoint.endpoint in self.ram.endpoints or endpoint.endpoint in (0, 0xFF):
            return {"status": EzspStatus.ERROR_INVALID_VALUE}
        self.ram.endpoints[endpoint.endpoint] = endpoint
        self.endpoint_log.append(endpoint)
        return {"status": EzspStatus.SUCCESS}

    # -- utilities ---------------------------------------------------------------------
    def cmd_nop(self) -> None:
        return None

    def cmd_getEui64(self) -> dict[str, Any]:
        return {"eui64": self.tokens.eui64}

    def cmd_getNodeId(self) -> dict[str, Any]:
        return {"nodeId": self.tokens.node_id if self.ram.network_up else 0xFFFE}

    def cmd_getMfgToken(self, tokenId: bt.EzspMfgTokenId) -> dict[str, Any]:
        if tokenId == bt.EzspMfgTokenId.MFG_STRING:
            data = MFG_STRING.ljust(16, b"\x00")
        elif tokenId == bt.EzspMfgTokenId.MFG_BOARD_NAME:
            data = MFG_BOARD_NAME.ljust(16, b"\x00")
        elif tokenId == bt.EzspMfgTokenId.MFG_CUSTOM_EUI_64:
            data = b"\xff" * 8  # never burnt
        elif tokenId == bt.EzspMfgTokenId.MFG_MANUF_ID:
            data = SILABS_MANUFACTURER_CODE.to_bytes(2, "little")
        else:
            data = b""
        return {"tokenData": data}

    def cmd_setMfgToken(self, tokenId: bt.EzspMfgTokenId, tokenData: bytes) -> dict[str, Any]:
        # manufacturing tokens are write-once flash: the emulator keeps them read-only
        return {"status": EmberStatus.INVALID_CALL}

    def cmd_customFrame(self, payload: bytes) -> dict[str, Any]:
        # stock firmware has no XNCP extension
        return {"status": EmberStatus.INVALID_CALL, "reply": b""}

    def cmd_readCounters(self) -> dict[str, Any]:
        return {"values": [zt.uint16_t(0)] * len(bt.EmberCounterType)}

    def cmd_readAndClearCounters(self) -> dict[str, Any]:
        return self.cmd_readCounters()

    def cmd_setManufacturerCode(self, code: int) -> None:
        self.ram.manufacturer_code = int(code)

    # -- token interface -------------------------------------------------------------
    def cmd_getTokenData(self, token: int, index: int) -> dict[str, Any]:
        # the NV3 token interface is not emulated: answer as firmware without the key
        return {"status": EmberStatus.NOT_FOUND}

    def cmd_setTokenData(self, token: int, index: int, token_data: bytes) -> dict[str, Any]:
        return {"status": EmberStatus.NOT_FOUND}

    def cmd_tokenFactoryReset(self, excludeOutgoingFC: bool, excludeBootCounter: bool) -> None:
        counters = (self.tokens.nwk_frame_counter, self.tokens.aps_frame_counter)
        self.tokens.factory_reset()
        if excludeOutgoingFC:
            self.tokens.nwk_frame_counter, self.tokens.aps_frame_counter = counters
        self.ram.network_up = False
