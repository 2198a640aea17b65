"""UG100's security frames: the initial and current security state, the
network and trust-centre link keys through the v13 security manager
(``exportKey`` / ``importKey``), and the trust centre's network-key update.

The keys live in tokens; the initial state can only be set while the
network is down.

The update is EmberZNet's ``emberSendUnicastNetworkKeyUpdate`` (EZSP
``unicastNwkKeyUpdate``) then ``emberBroadcastNetworkKeySwitch`` (EZSP
``broadcastNetworkKeySwitch``), as its Smart Energy plugin
``trust-center-nwk-key-update-unicast`` drives them; from the stack's
``trust-center.h``: the unicast sends an APS Transport-Key "encrypted using
the device's current APS link key", and "on the first call ... the trust
center's local copy of the alternate NWK key will be updated with the new
value" (an all-zero key: the stack draws one); the switch broadcasts a
Switch-Key "to change to the sequence number of the previously sent
Alternate Encryption Key" and "will also cause the Trust Center ... to
change its Network Key".  The frames themselves go on the air through
:attr:`SecurityFrames.key_radio` (:mod:`..onair`).
"""

from __future__ import annotations

import secrets
from typing import Any

import bellows.types as bt

from han_emu.radio.fakencp.ezsp.ncp.interpreter import EmberStatus, EzspNcpBase, SlStatus


class SecurityFrames(EzspNcpBase):
    """Security state and the network and trust-centre keys."""

    #: Set by a radio side: ``send_network_key(nwk, key, seq, link_key) -> bool``
    #: and ``switch_network_key(seq, under)`` put the APS commands on the air.
    key_radio: Any = None

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
            alternate_network_key_set=self.tokens.alt_network_key != bytes(16),
            network_key_sequence_number=self.tokens.network_key_seq,
            alt_network_key_sequence_number=self.tokens.alt_network_key_seq,
            network_key_frame_counter=self.tokens.nwk_frame_counter,
        )
        return {"status": SlStatus.OK, "network_key_info": info}

    def cmd_importTransientKey(self, eui64: bt.EUI64, plaintext_key: bt.KeyData, flags: int) -> dict[str, Any]:
        return {"status": SlStatus.OK}

    def cmd_clearTransientLinkKeys(self) -> None:
        return None

    # -- the trust centre's network-key update ------------------------------------
    def cmd_unicastNwkKeyUpdate(self, destShort: int, destLong: bt.EUI64, key: bt.KeyData) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.NETWORK_DOWN}
        link = next((k for eui64, k in self.tokens.link_keys.values() if eui64 == bt.EUI64(destLong)), None)
        if link is None:  # no APS link key to secure the Transport-Key with
            return {"status": EmberStatus.KEY_TABLE_INVALID_ADDRESS}
        tokens = self.tokens
        if not tokens.next_key_pending:  # the first call of an update sets the alternate key
            raw = bytes(key.serialize())
            tokens.alt_network_key = raw if raw != bytes(16) else secrets.token_bytes(16)
            tokens.alt_network_key_seq = (tokens.network_key_seq + 1) & 0xFF
            tokens.next_key_pending = True
        if self.key_radio is not None:  # queued for the air: the stack does not wait for its delivery
            self.key_radio.send_network_key(int(destShort), tokens.alt_network_key, tokens.alt_network_key_seq, link)
        return {"status": EmberStatus.SUCCESS}

    def cmd_broadcastNetworkKeySwitch(self) -> dict[str, Any]:
        tokens = self.tokens
        if not self.ram.network_up:
            return {"status": EmberStatus.NETWORK_DOWN}
        if not tokens.next_key_pending:  # no alternate key was sent: nothing to switch to
            return {"status": EmberStatus.INVALID_CALL}
        under = (tokens.network_key_seq, tokens.network_key)
        if self.key_radio is not None:  # the Switch-Key goes out under the key still current
            self.key_radio.switch_network_key(tokens.alt_network_key_seq, under)
        tokens.network_key, tokens.alt_network_key = tokens.alt_network_key, tokens.network_key
        tokens.network_key_seq, tokens.alt_network_key_seq = tokens.alt_network_key_seq, tokens.network_key_seq
        tokens.next_key_pending = False
        return {"status": EmberStatus.SUCCESS}
