"""The trust centre's security tables in the emulated Z-Stack's NV memory:
the address manager, the APS link-key table with its key data (what
``ZDSecMgrAddLinkKey`` writes), and the outgoing NWK frame counter in the
network security material table.

Every change goes straight to NV, as the firmware writes these tables, so a
network backup (and a restarted stick) sees them.
"""

from __future__ import annotations

import logging

import zigpy_znp.types as t
from zigpy_znp.types.nvids import ExNvIds, NvSysIds, OsalNvIds

from han_emu.radio.fakencp.znp.nvram import ADDRMGR_ENTRIES, APS_KEY_DATA_ENTRIES, ZnpNvram, pack, unpack

LOGGER = logging.getLogger(__name__)

_SEC_MATERIAL = (NvSysIds.ZSTACK, ExNvIds.NWK_SEC_MATERIAL_TABLE, 0)
RESTART_MARGIN = 1024
"""Added to the NV frame counter after a power cycle (see :meth:`SecurityNv.restore_margin`)."""


class SecurityNv:
    """The security tables of :attr:`nvram`."""

    nvram: ZnpNvram

    # ----------------------------------------------------- NWK frame counter
    @property
    def nwk_frame_counter(self) -> int | None:
        """The outgoing NWK frame counter kept in NV (the active network's
        security material entry, where zigpy-znp reads ``tx_counter``)."""
        entry = self.nvram.read(_SEC_MATERIAL)
        return None if entry is None else int(unpack(entry, t.NwkSecMaterialDesc).FrameCounter)

    def spend_nwk_frame_counter(self) -> None:
        """Each frame the coordinator secures moves its counter on, in NV."""
        entry = self.nvram.read(_SEC_MATERIAL)
        if entry is not None:
            desc = unpack(entry, t.NwkSecMaterialDesc)
            self.nvram.set(_SEC_MATERIAL, pack(desc.replace(FrameCounter=min(desc.FrameCounter + 1, 0xFFFFFFFF))))

    def restore_margin(self, margin: int = RESTART_MARGIN) -> None:
        """After a power cycle, carry on ``margin`` above the counter in NV, as
        stacks do, so frames sent after the last NV write are never repeated."""
        entry = self.nvram.read(_SEC_MATERIAL)
        if entry is not None:
            desc = unpack(entry, t.NwkSecMaterialDesc)
            self.nvram.set(_SEC_MATERIAL, pack(desc.replace(FrameCounter=min(desc.FrameCounter + margin, 0xFFFFFFFF))))

    # ------------------------------------------------ link keys and addresses
    def add_link_key(self, nwk: int, ieee: t.EUI64, key: t.KeyData) -> t.Status:
        """ZDSecMgrAddLinkKey: the partner's address manager entry, its APS key
        data, and a link-key table row marked as authenticated by CBKE."""
        ami = self._addrmgr_add(nwk, ieee, t.AddrMgrUserType.Security)
        if ami is None:
            return t.Status.FAILURE
        raw = self.nvram.osal(OsalNvIds.APS_LINK_KEY_TABLE) or b""
        table = unpack(raw, t.APSLinkKeyTable) if raw else t.APSLinkKeyTable()
        rows = list(table)
        row = next((r for r in rows if r.AddressManagerIndex == ami), None)
        if row is None:
            used = {int(r.LinkKeyNvId) for r in rows}
            free = next((i for i in range(APS_KEY_DATA_ENTRIES) if i not in used), None)
            if free is None:
                return t.Status.NV_OPER_FAILED
            row = t.APSLinkKeyTableEntry(
                AddressManagerIndex=ami, LinkKeyNvId=free,
                AuthenticationState=t.AuthenticationOption.AuthenticatedCBCK,
            )
            rows.append(row)
            packed = pack(t.APSLinkKeyTable(rows))
            if len(packed) > len(raw):
                return t.Status.NV_OPER_FAILED
            self.nvram.osal_set(OsalNvIds.APS_LINK_KEY_TABLE, packed.ljust(len(raw), b"\x00"))
        entry = t.APSKeyDataTableEntry(Key=key, TxFrameCounter=0, RxFrameCounter=0)
        self.nvram.set((NvSysIds.ZSTACK, ExNvIds.APS_KEY_DATA_TABLE, int(row.LinkKeyNvId)), pack(entry))
        return t.Status.SUCCESS

    def get_link_key(self, ieee: t.EUI64) -> tuple[t.Status, t.EUI64, t.KeyData]:
        """ZDO_GET_LINK_KEY (MT_ZdoGetLinkKey): the partner's key from the APS
        key table; an unknown partner gets a failure with the rest all 0xFF."""
        key = self.link_keys.get(t.EUI64(ieee))
        if key is None:
            return t.Status.NWK_UNKNOWN_DEVICE, t.EUI64([0xFF] * 8), t.KeyData([0xFF] * 16)
        return t.Status.SUCCESS, t.EUI64(ieee), key

    @property
    def link_keys(self) -> dict[t.EUI64, t.KeyData]:
        """The CBKE-authenticated link keys in NV, by partner."""
        raw = self.nvram.osal(OsalNvIds.APS_LINK_KEY_TABLE)
        if not raw:
            return {}
        out: dict[t.EUI64, t.KeyData] = {}
        for row in unpack(raw, t.APSLinkKeyTable):
            if row.AuthenticationState != t.AuthenticationOption.AuthenticatedCBCK:
                continue
            addr = self.nvram.read((NvSysIds.ZSTACK, ExNvIds.ADDRMGR, int(row.AddressManagerIndex)))
            data = self.nvram.read((NvSysIds.ZSTACK, ExNvIds.APS_KEY_DATA_TABLE, int(row.LinkKeyNvId)))
            if addr is None or data is None:
                continue
            out[unpack(addr, t.AddrMgrEntry).extAddr] = unpack(data, t.APSKeyDataTableEntry).Key
        return out


    def _addrmgr_add(self, nwk: int, ieee: t.EUI64, kind: t.AddrMgrUserType) -> int | None:
        empty = (t.EUI64([0xFF] * 8), t.EUI64([0] * 8))
        free = None
        for sub_id in range(ADDRMGR_ENTRIES):
            raw = self.nvram.read((NvSysIds.ZSTACK, ExNvIds.ADDRMGR, sub_id))
            if raw is None:
                break
            entry = unpack(raw, t.AddrMgrEntry)
            if entry.extAddr == ieee:
                if entry.nwkAddr == nwk and entry.type & kind == kind:
                    return sub_id  # already known: leave NV untouched
                free = sub_id
                kind |= entry.type
                break
            if free is None and entry.extAddr in empty:
                free = sub_id
        if free is None:
            LOGGER.warning("Address manager table full; %s not stored", ieee)
            return None
        if nwk == 0xFFFE and free is not None:  # address unknown: keep the one on record
            raw = self.nvram.read((NvSysIds.ZSTACK, ExNvIds.ADDRMGR, free))
            old = unpack(raw, t.AddrMgrEntry) if raw is not None else None
            if old is not None and old.extAddr == ieee:
                nwk = int(old.nwkAddr)
        entry = t.AddrMgrEntry(type=kind, nwkAddr=nwk, extAddr=ieee)
        self.nvram.set((NvSysIds.ZSTACK, ExNvIds.ADDRMGR, free), pack(entry))
        return free

