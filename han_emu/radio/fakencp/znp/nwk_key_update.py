"""The emulated Z-Stack trust centre's network-key update, over MT.

``ZDO_EXT_UPDATE_NWK_KEY`` and ``ZDO_EXT_SWITCH_NWK_KEY`` (zigpy-znp
``ZDO.ExtUpdateNwkKey`` 0x4E and ``ZDO.ExtSwitchNwkKey`` 0x4F, in
``zigpy_znp/commands/zdo.py``) exist in images built with MT_ZDO_EXTENSIONS
and call ``ZDSecMgrUpdateNwkKey`` and ``ZDSecMgrSwitchNwkKey`` (TI SimpleLink
SDK, ``source/ti/zstack/stack/zdo/zd_sec_mgr.c``):

- the update sends an APS Transport-Key with the key and its sequence
  number: to a broadcast address NWK-secured only, to a device the address
  manager knows APS-secured with its trust-centre link key
  (``APSME_TransportKeyReq`` with ``apsSecure`` TRUE, which
  ``APSME_TCLinkKeyLoad`` secures from the trust-centre table, see
  :mod:`.tc_keys`), ZFailure for an address it does not know; either way
  ``SSP_UpdateNwkKey`` keeps the key as the alternate one and
  ``ZDApp_NVUpdate`` writes it to NV (``ZCD_NV_NWK_ALTERN_KEY_INFO``);
- the switch sends an APS Switch-Key (to a broadcast address NWK-secured
  only), and for a broadcast the coordinator switches too
  (``zgSwitchCoordKey``): the alternate key of that sequence number becomes
  the active one in NV (``ZCD_NV_NWK_ACTIVE_KEY_INFO``), the one it replaces
  staying as the alternate.

The frames go on the air through :attr:`NwkKeyUpdate.key_radio` (:mod:`.onair`).
"""

from __future__ import annotations

from typing import Any

import zigpy_znp.types as t
from zigpy_znp.types.nvids import OsalNvIds

from han_emu.radio.fakencp.znp.nvram import ZnpNvram

_BROADCASTS = frozenset({0xFFFF, 0xFFFD, 0xFFFC})


class NwkKeyUpdate:
    """The MT requests of a network-key update, over :attr:`nvram`."""

    nvram: ZnpNvram
    #: Set by a radio side: ``send_network_key(nwk, key, seq, link_key, aps_secured=)``
    #: and ``switch_network_key(seq, under, dst_nwk)`` put the APS commands on the air.
    key_radio: Any = None

    def network_key_info(self) -> tuple[t.NwkKeyDesc | None, t.NwkKeyDesc | None]:
        """The (active, alternate) network keys in NV."""
        return (self.nvram.osal_get(OsalNvIds.NWK_ACTIVE_KEY_INFO, t.NwkKeyDesc),
                self.nvram.osal_get(OsalNvIds.NWK_ALTERN_KEY_INFO, t.NwkKeyDesc))

    def _update_nwk_key(self, req: Any) -> list[t.CommandBase]:
        dst, seq, key = int(req.Dst), int(req.KeySeqNum), bytes(req.Key)
        status = t.Status.SUCCESS
        if dst in _BROADCASTS:
            if self.key_radio is not None:
                for node in self.key_radio.air.nodes:
                    if node.nwk is not None and int(node.nwk) != 0x0000:
                        self.key_radio.send_network_key(int(node.nwk), key, seq, None, aps_secured=False)
        else:
            ieee = self.addrmgr_ieee(dst)  # type: ignore[attr-defined]
            if ieee is None:
                status = t.Status.FAILURE
            else:
                link = self.send_network_key(ieee)  # type: ignore[attr-defined]
                if self.key_radio is not None:
                    self.key_radio.send_network_key(dst, key, seq, bytes(link))
        self.nvram.osal_set(OsalNvIds.NWK_ALTERN_KEY_INFO, t.NwkKeyDesc(KeySeqNum=seq, Key=t.KeyData(key)))
        return [req.Rsp(Status=status)]

    def _switch_nwk_key(self, req: Any) -> list[t.CommandBase]:
        dst, seq = int(req.Dst), int(req.KeySeqNum)
        active, alternate = self.network_key_info()
        under = None if active is None else (int(active.KeySeqNum), bytes(active.Key))
        if dst not in _BROADCASTS and self.addrmgr_ieee(dst) is None:  # type: ignore[attr-defined]
            return [req.Rsp(Status=t.Status.FAILURE)]
        if self.key_radio is not None:
            self.key_radio.switch_network_key(seq, under, dst)
        if dst in _BROADCASTS and alternate is not None and int(alternate.KeySeqNum) == seq and active is not None:
            self.nvram.osal_set(OsalNvIds.NWK_ACTIVE_KEY_INFO, alternate)
            self.nvram.osal_set(OsalNvIds.NWK_ALTERN_KEY_INFO, active)
        return [req.Rsp(Status=t.Status.SUCCESS)]
