"""The trust centre's security tables in the emulated Z-Stack's NV memory:
the address manager, the APS (application) link-key table with its key data
(what ``ZDSecMgrAddLinkKey`` writes; the trust-centre table is
:mod:`.tc_keys`), and the outgoing NWK frame counter in the
network security material table.

Every change goes straight to NV, as the firmware writes these tables, so a
network backup (and a restarted stick) sees them.
"""

from __future__ import annotations

import logging

import zigpy_znp.types as t
from zigpy_znp.types.nvids import ExNvIds, NvSysIds, OsalNvIds

from han_emu.radio.fakencp.znp.nvram import APS_LINK_KEY_ENTRY, APS_LINK_KEY_HEADER, ZnpNvram, pack, unpack

LOGGER = logging.getLogger(__name__)

_SEC_MATERIAL = (NvSysIds.ZSTACK, ExNvIds.NWK_SEC_MATERIAL_TABLE, 0)
INVALID_NODE_ADDR = 0xFFFE
SEC_NO_KEY_NV_ID = 0xFFFF  # ZCD_NV_INVALID_INDEX (ssp.h); its value is not in the public headers read
_FREE_APS_ENTRY = t.APSLinkKeyTableEntry(
    AddressManagerIndex=INVALID_NODE_ADDR, LinkKeyNvId=SEC_NO_KEY_NV_ID,
    AuthenticationState=t.AuthenticationOption.NotAuthenticated,
)
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
        """``ZDSecMgrAddLinkKey`` (``zd_sec_mgr.c``): the partner's address
        manager entry, then its entry in the APS link-key table (the one it
        has, else the first whose ``ami`` is INVALID_NODE_ADDR), the key in
        the APS key data item of the same index (``ZDSecMgrLinkKeySet`` sets
        ``keyNvId`` to the entry's index) and the entry marked as
        authenticated by CBKE.  A full table answers ZBufferFull, a full
        address manager ZFailure.  The trust-centre link-key table is not
        touched: that is :class:`~.tc_keys.TrustCentreKeys`."""
        ami = self._addrmgr_add(nwk, ieee, t.AddrMgrUserType.Security)
        if ami is None:
            return t.Status.FAILURE
        entries = self.aps_link_key_entries()
        index = next((i for i, e in enumerate(entries) if e is not None and e.AddressManagerIndex == ami), None)
        if index is None:
            index = next((i for i, e in enumerate(entries) if e is None), None)
            if index is None:
                return t.Status.BUFFER_FULL
        entries[index] = t.APSLinkKeyTableEntry(
            AddressManagerIndex=ami, LinkKeyNvId=index,
            AuthenticationState=t.AuthenticationOption.AuthenticatedCBCK,
        )
        entry = t.APSKeyDataTableEntry(Key=key, TxFrameCounter=0, RxFrameCounter=0)
        self.nvram.set((NvSysIds.ZSTACK, ExNvIds.APS_KEY_DATA_TABLE, index), pack(entry))
        self._write_aps_link_key_table(entries)
        return t.Status.SUCCESS

    def get_link_key(self, ieee: t.EUI64) -> tuple[t.Status, t.EUI64, t.KeyData]:
        """ZDO_GET_LINK_KEY (MT_ZdoGetLinkKey): the partner's key from the APS
        key table; an unknown partner gets a failure with the rest all 0xFF."""
        key = self.link_keys.get(t.EUI64(ieee))
        if key is None:
            return t.Status.NWK_UNKNOWN_DEVICE, t.EUI64([0xFF] * 8), t.KeyData([0xFF] * 16)
        return t.Status.SUCCESS, t.EUI64(ieee), key

    @property
    def aps_link_key_capacity(self) -> int:
        """``gZDSECMGR_ENTRY_MAX``: entries of the APS link-key table item."""
        raw = self.nvram.osal(OsalNvIds.APS_LINK_KEY_TABLE) or b""
        return max(0, (len(raw) - APS_LINK_KEY_HEADER) // APS_LINK_KEY_ENTRY)

    def aps_link_key_entries(self) -> list[t.APSLinkKeyTableEntry | None]:
        """The table as the firmware holds it in RAM, None for a free entry.

        ``ZDSecMgrRestoreFromNV`` loads every entry when the header's count
        is not zero, and a free entry is one whose ``ami`` is INVALID_NODE_ADDR
        (``ZDSecMgrEntryNew``); with a zero count nothing is loaded and every
        entry is free."""
        raw = self.nvram.osal(OsalNvIds.APS_LINK_KEY_TABLE) or b""
        size = self.aps_link_key_capacity
        if size == 0 or int.from_bytes(raw[:APS_LINK_KEY_HEADER], "little") == 0:
            return [None] * size
        out: list[t.APSLinkKeyTableEntry | None] = []
        for i in range(size):
            at = APS_LINK_KEY_HEADER + i * APS_LINK_KEY_ENTRY
            entry = unpack(raw[at:at + APS_LINK_KEY_ENTRY], t.APSLinkKeyTableEntry)
            out.append(None if entry.AddressManagerIndex == INVALID_NODE_ADDR else entry)
        return out

    def _write_aps_link_key_table(self, entries: list[t.APSLinkKeyTableEntry | None]) -> None:
        """``ZDSecMgrWriteNV``: the count of valid entries, then every entry in
        place, free ones as INVALID_NODE_ADDR / SEC_NO_KEY_NV_ID."""
        count = sum(e is not None for e in entries)
        body = b"".join(pack(e if e is not None else _FREE_APS_ENTRY) for e in entries)
        self.nvram.osal_set(OsalNvIds.APS_LINK_KEY_TABLE, count.to_bytes(APS_LINK_KEY_HEADER, "little") + body)

    @property
    def link_keys(self) -> dict[t.EUI64, t.KeyData]:
        """The CBKE-authenticated APS link keys in NV, by partner."""
        out: dict[t.EUI64, t.KeyData] = {}
        for entry in self.aps_link_key_entries():
            if entry is None or entry.AuthenticationState != t.AuthenticationOption.AuthenticatedCBCK:
                continue
            addr = self.nvram.read((NvSysIds.ZSTACK, ExNvIds.ADDRMGR, int(entry.AddressManagerIndex)))
            data = self.nvram.read((NvSysIds.ZSTACK, ExNvIds.APS_KEY_DATA_TABLE, int(entry.LinkKeyNvId)))
            if addr is None or data is None:
                continue
            out[unpack(addr, t.AddrMgrEntry).extAddr] = unpack(data, t.APSKeyDataTableEntry).Key
        return out

    @property
    def address_manager_capacity(self) -> int:
        """``NWK_MAX_ADDRESSES``: entries of the address manager table."""
        return len(self.nvram.table(ExNvIds.ADDRMGR))

    def addrmgr_ieee(self, nwk: int) -> t.EUI64 | None:
        """Who the address manager places at ``nwk``."""
        for raw in self.nvram.table(ExNvIds.ADDRMGR):
            entry = unpack(raw, t.AddrMgrEntry)
            if entry.nwkAddr == nwk and entry.extAddr not in (t.EUI64([0xFF] * 8), t.EUI64([0] * 8)):
                return entry.extAddr
        return None

    def address_manager_free(self) -> int:
        """Address manager entries holding nobody."""
        empty = (t.EUI64([0xFF] * 8), t.EUI64([0] * 8))
        return sum(unpack(raw, t.AddrMgrEntry).extAddr in empty for raw in self.nvram.table(ExNvIds.ADDRMGR))

    def _addrmgr_add(self, nwk: int, ieee: t.EUI64, kind: t.AddrMgrUserType) -> int | None:
        empty = (t.EUI64([0xFF] * 8), t.EUI64([0] * 8))
        free = None
        for sub_id, raw in enumerate(self.nvram.table(ExNvIds.ADDRMGR)):
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

