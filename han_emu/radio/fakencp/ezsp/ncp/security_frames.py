"""UG100's security frames: the initial and current security state, and the
network and trust-centre link keys through the v13 security manager
(``exportKey`` / ``importKey``).

The keys live in tokens; the initial state can only be set while the
network is down.
"""

from __future__ import annotations

from typing import Any

import bellows.types as bt

from han_emu.radio.fakencp.ezsp.ncp.interpreter import EmberStatus, EzspNcpBase, SlStatus


class SecurityFrames(EzspNcpBase):
    """Security state and the network and trust-centre keys."""

    def cmd_setInitialSecurityState(self, state: bt.EmberInitialSecurityState) -> dict[str, Any]:
        if self.ram.network_up:
            return {"status": EmberStatus.INVALID_CALL}
        self.tokens.security_bitmask = int(state.bitmask)
        self.tokens.tc_link_key = bytes(state.preconfiguredKey.serialize())
        self.tokens.network_key = bytes(state.networkKey.serialize())
        self.tokens.network_key_seq = int(state.networkKeySequenceNumber)
        return {"status": EmberStatus.SUCCESS}

    def cmd_getCurrentSecurityState(self) -> dict[str, Any]:
        if not self.ram.network_up:
            return {
                "status": EmberStatus.NOT_JOINED,
                "state": bt.EmberCurrentSecurityState(bitmask=0, trustCenterLongAddress=bt.EUI64(bytes(8))),
            }
        initial = bt.EmberInitialSecurityBitmask(self.tokens.security_bitmask)
        current = bt.EmberCurrentSecurityBitmask(0)
        if bt.EmberInitialSecurityBitmask.TRUST_CENTER_GLOBAL_LINK_KEY in initial:
            current |= bt.EmberCurrentSecurityBitmask.GLOBAL_LINK_KEY
        if bt.EmberInitialSecurityBitmask.HAVE_PRECONFIGURED_KEY in initial:
            current |= bt.EmberCurrentSecurityBitmask.HAVE_TRUST_CENTER_LINK_KEY
        if bt.EmberInitialSecurityBitmask.TRUST_CENTER_USES_HASHED_LINK_KEY in initial:
            current |= bt.EmberCurrentSecurityBitmask.TRUST_CENTER_USES_HASHED_LINK_KEY
        return {
            "status": EmberStatus.SUCCESS,
            "state": bt.EmberCurrentSecurityState(bitmask=current, trustCenterLongAddress=self.tokens.eui64),
        }

    def cmd_exportKey(self, context: bt.SecurityManagerContextV13) -> dict[str, Any]:
        key_type = context.core_key_type
        if key_type == bt.SecurityManagerKeyType.NETWORK:
            key = self.tokens.network_key
        elif key_type == bt.SecurityManagerKeyType.TC_LINK:
            key = self.tokens.tc_link_key
        elif key_type == bt.SecurityManagerKeyType.APP_LINK and context.key_index in self.tokens.link_keys:
            key = self.tokens.link_keys[context.key_index][1]
        else:
            return {"key": bt.KeyData(bytes(16)), "status": SlStatus.NOT_FOUND}
        return {"key": bt.KeyData(key), "status": SlStatus.OK}

    def cmd_importKey(self, context: bt.SecurityManagerContextV13, key: bt.KeyData) -> dict[str, Any]:
        if context.core_key_type == bt.SecurityManagerKeyType.NETWORK:
            self.tokens.network_key = bytes(key.serialize())
        elif context.core_key_type == bt.SecurityManagerKeyType.TC_LINK:
            self.tokens.tc_link_key = bytes(key.serialize())
        else:
            return {"status": SlStatus.INVALID_PARAMETER}
        return {"status": SlStatus.OK}

    def cmd_getNetworkKeyInfo(self) -> dict[str, Any]:
        info = bt.SecurityManagerNetworkKeyInfo(
            network_key_set=self.tokens.formed,
            alternate_network_key_set=False,
            network_key_sequence_number=self.tokens.network_key_seq,
            alt_network_key_sequence_number=0,
            network_key_frame_counter=self.tokens.nwk_frame_counter,
        )
        return {"status": SlStatus.OK, "network_key_info": info}

    def cmd_importTransientKey(self, eui64: bt.EUI64, plaintext_key: bt.KeyData, flags: int) -> dict[str, Any]:
        return {"status": SlStatus.OK}

    def cmd_clearTransientLinkKeys(self) -> None:
        return None
