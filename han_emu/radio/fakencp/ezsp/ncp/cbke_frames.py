"""UG100's Certificate Based Key Exchange frames: the Smart Energy CBKE and
ECC libraries of the NCP, for suite 1 (163k1) and suite 2 (283k1).

The arithmetic is :class:`~han_emu.radio.fakencp.ezsp.cbke_library.NcpCbkeLibrary`'s;
the frames follow the firmware: key generation and SMAC calculation answer
OPERATION_IN_PROGRESS and deliver their result in a handler callback, and the
agreed key goes to the link-key table when the host asks to store it.

The NCP keeps no key-establishment state and no timer: the exchange is run by
the host (the Silicon Labs Key Establishment plugin of the application
framework, ``app/framework/plugin/key-establishment``, on an EZSP host), whose
timeout ends in ``cleanupAndStop(TIMEOUT_OCCURRED)`` and a notification to the
application (``emberAfPluginKeyEstablishmentEventCallback``: "for error codes
this is purely a notification").  So the emulated NCP, like the real one,
never removes a display that did not finish CBKE in time.
"""

from __future__ import annotations

import logging
from typing import Any

import bellows.types as bt

from han_emu.crypto.cbke import Suite
from han_emu.radio.fakencp.ezsp.cbke_library import CbkeFailure
from han_emu.radio.fakencp.ezsp.ncp.interpreter import EmberStatus
from han_emu.radio.fakencp.ezsp.ncp.table_frames import TableFrames

_LOGGER = logging.getLogger(__name__)


class CbkeFrames(TableFrames):
    """The CBKE library frames (the agreed link key lands in the key table)."""

    def cmd_getLibraryStatus(self, libraryId: int) -> dict[str, Any]:
        return {"status": self.cbke.library_status(int(libraryId))}

    def _certificate(self, suite: Suite, size: int) -> dict[str, Any]:
        try:
            cert = self.cbke.certificate(suite)
        except CbkeFailure:
            return {"status": EmberStatus.LIBRARY_NOT_PRESENT, "localCert": [0] * size}
        return {"status": EmberStatus.SUCCESS, "localCert": list(cert)}

    def cmd_getCertificate(self) -> dict[str, Any]:
        return self._certificate(Suite.SUITE_1, 48)

    def cmd_getCertificate283k1(self) -> dict[str, Any]:
        return self._certificate(Suite.SUITE_2, 74)

    def _generate(self, suite: Suite, handler: str) -> dict[str, Any]:
        try:
            public = self.cbke.generate_keys(suite)
        except CbkeFailure:
            return {"status": EmberStatus.LIBRARY_NOT_PRESENT}
        # The key pair is made in the background; the handler brings it.
        self._later(handler, status=EmberStatus.SUCCESS, ephemeralPublicKey=list(public))
        return {"status": EmberStatus.OPERATION_IN_PROGRESS}

    def cmd_generateCbkeKeys(self) -> dict[str, Any]:
        return self._generate(Suite.SUITE_1, "generateCbkeKeysHandler")

    def cmd_generateCbkeKeys283k1(self) -> dict[str, Any]:
        return self._generate(Suite.SUITE_2, "generateCbkeKeysHandler283k1")

    def _smacs(self, suite: Suite, handler: str, am_initiator: Any, cert: Any, ephemeral: Any) -> dict[str, Any]:
        if suite not in self.cbke.identities:
            return {"status": EmberStatus.LIBRARY_NOT_PRESENT}
        try:
            smacs = self.cbke.calculate_smacs(suite, bool(am_initiator), bytes(cert), bytes(ephemeral))
        except CbkeFailure as exc:
            _LOGGER.debug("calculateSmacs failed: %s", exc)
            self._later(handler, status=EmberStatus.ERR_FATAL, initiatorSmac=[0] * 16, responderSmac=[0] * 16)
            return {"status": EmberStatus.OPERATION_IN_PROGRESS}
        self._later(handler, status=EmberStatus.SUCCESS, initiatorSmac=list(smacs.initiator),
                    responderSmac=list(smacs.responder))
        return {"status": EmberStatus.OPERATION_IN_PROGRESS}

    def cmd_calculateSmacs(self, amInitiator: Any, partnerCertificate: Any, partnerEphemeralPublicKey: Any) -> dict[str, Any]:
        return self._smacs(Suite.SUITE_1, "calculateSmacsHandler", amInitiator, partnerCertificate,
                           partnerEphemeralPublicKey)

    def cmd_calculateSmacs283k1(self, amInitiator: Any, partnerCertificate: Any, partnerEphemeralPublicKey: Any) -> dict[str, Any]:
        return self._smacs(Suite.SUITE_2, "calculateSmacsHandler283k1", amInitiator, partnerCertificate,
                           partnerEphemeralPublicKey)

    def _clear(self, suite: Suite, store: Any) -> dict[str, Any]:
        if suite not in self.cbke.identities:
            return {"status": EmberStatus.LIBRARY_NOT_PRESENT}
        try:
            smacs = self.cbke.clear(suite, bool(store))
        except CbkeFailure:
            return {"status": EmberStatus.INVALID_CALL}
        if smacs is not None:
            if self.store_link_key(bt.EUI64(smacs.partner_eui64), smacs.key_data) is None:
                return {"status": EmberStatus.KEY_TABLE_INVALID_ADDRESS}
        return {"status": EmberStatus.SUCCESS}

    def cmd_clearTemporaryDataMaybeStoreLinkKey(self, storeLinkKey: Any) -> dict[str, Any]:
        return self._clear(Suite.SUITE_1, storeLinkKey)

    def cmd_clearTemporaryDataMaybeStoreLinkKey283k1(self, storeLinkKey: Any) -> dict[str, Any]:
        return self._clear(Suite.SUITE_2, storeLinkKey)
