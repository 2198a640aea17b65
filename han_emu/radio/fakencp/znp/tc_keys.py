"""The trust centre's own link keys in the emulated Z-Stack, and its
key-exchange timeout for joining devices.

Z-Stack 3.x keeps two key tables (TI SimpleLink SDK,
``source/ti/zstack/stack/zdo/zd_sec_mgr.c``):

- the trust-centre link-key table (``ZCD_NV_EX_TCLK_TABLE``,
  ``ZDSECMGR_TC_DEVICE_MAX`` entries of ``APSME_TCLinkKeyNVEntry_t``), whose
  ``keyAttributes`` say where each device's key is: PROVISIONAL in the
  install-code key table (``ZCD_NV_EX_TCLK_IC_TABLE``, index ``IcIndex``),
  VERIFIED derived from ``ZCD_NV_TCLK_SEED`` and the address shifted by
  ``SeedShift``, DEFAULT the well-known key.  ``APSME_TCLinkKeyLoad`` picks the
  key the trust centre secures its own frames with (a network key sent to one
  device, ``ZDSecMgrUpdateNwkKey``; the network key of a join or trust-centre
  rejoin, ``ZDSecMgrSendNwkKey``) from this table alone, and creates a DEFAULT
  entry for a device that has none;
- the APS (application) link-key table, what ``ZDO_SET_LINK_KEY`` /
  ``ZDSecMgrAddLinkKey`` writes (:mod:`.security_nv`).

So a display that joined with its install code keeps that key in the first
table after a CBKE key went into the second.

``bdb.c`` of the same SDK puts every device that joins unsecured on a list
(``bdb_TCAddJoiningDevice``) with ``bdbTrustCenterNodeJoinTimeout`` seconds to
finish the Zigbee 3.0 key request and verification; at the timeout
(``bdb_TCProcessJoiningList``), when ``bdbTrustCenterRequireKeyExchange`` is
on, the device is removed (``ZDSecMgrAPSRemove``: a leave request to a child)
and, unless its entry is PROVISIONAL or VERIFIED, its address-manager and
trust-centre entries are cleared.  The flag is a RAM attribute: a reset
restores the build's default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import zigpy_znp.commands as c
import zigpy_znp.const as const
import zigpy_znp.types as t
from zigpy_znp.types.nvids import ExNvIds, NvSysIds, OsalNvIds
from zigpy_znp.znp.security import compute_key

from han_emu.radio.fakencp.znp.zstack_images import ZStackImage
from han_emu.radio.fakencp.znp.nvram import EMPTY_TCLK_ENTRY, ZnpNvram, pack, unpack

LOGGER = logging.getLogger(__name__)

_NO_ADDRESS = t.EUI64([0] * 8)


@dataclass
class KeyTransport:
    """One frame the trust centre secured with a device's trust-centre link key."""

    ieee: t.EUI64
    what: str
    key: t.KeyData


class TrustCentreKeys:
    """The trust-centre link-key and install-code tables of :attr:`nvram`."""

    nvram: ZnpNvram
    image: ZStackImage

    def _tc_reset(self) -> None:
        """What a reset does to the trust centre's RAM state."""
        self.require_key_exchange: bool = self.image.require_key_exchange
        self.joining: dict[t.EUI64, int] = {}
        self.removed: list[t.EUI64] = []
        self.key_transports: list[KeyTransport] = []

    # ----------------------------------------------------------------- tables
    def tclk_entry(self, ieee: t.EUI64) -> tuple[int | None, t.TCLKDevEntry | None]:
        """``APSME_SearchTCLinkKeyEntry``: (index, entry) of ``ieee``'s entry,
        else (first free index or None, None)."""
        free = None
        for index, raw in enumerate(self.nvram.table(ExNvIds.TCLK_TABLE)):
            entry = unpack(raw, t.TCLKDevEntry)
            if entry.extAddr == ieee:
                return index, entry
            if free is None and entry.extAddr == _NO_ADDRESS:
                free = index
        return free, None

    @property
    def tc_link_key_capacity(self) -> int:
        return len(self.nvram.table(ExNvIds.TCLK_TABLE))

    def _write_tclk(self, index: int, entry: t.TCLKDevEntry) -> None:
        self.nvram.set((NvSysIds.ZSTACK, ExNvIds.TCLK_TABLE, index), pack(entry))

    def _install_code_slots_in_use(self) -> set[int]:
        used = set()
        for raw in self.nvram.table(ExNvIds.TCLK_TABLE):
            entry = unpack(raw, t.TCLKDevEntry)
            if entry.extAddr != _NO_ADDRESS and entry.keyAttributes == t.KeyAttributes.PROVISIONAL_KEY:
                used.add(int(entry.SeedShift_IcIndex))
        return used

    def add_tc_link_key(self, ieee: t.EUI64, key: t.KeyData) -> t.Status:
        """``APSME_AddTCLinkKey`` (reached from ``APP_CNF_BDB_ADD_INSTALLCODE``
        with a derived key, or through ``bdb_addInstallCode``): the key goes
        into an install-code slot and the device's trust-centre entry becomes
        PROVISIONAL with that slot.

        The function lives in Z-Stack's closed APS library; reusing the
        device's own entry and slot when it has them is inferred from the
        search function it is declared beside, not read."""
        ieee = t.EUI64(ieee)
        index, entry = self.tclk_entry(ieee)
        if index is None:
            return t.Status.NV_OPER_FAILED
        slot = None
        if entry is not None and entry.keyAttributes == t.KeyAttributes.PROVISIONAL_KEY:
            slot = int(entry.SeedShift_IcIndex)
        if slot is None:
            used = self._install_code_slots_in_use()
            slot = next((i for i in range(self.image.install_codes) if i not in used), None)
            if slot is None:
                return t.Status.NV_OPER_FAILED
        self.nvram.set((NvSysIds.ZSTACK, ExNvIds.TCLK_IC_TABLE, slot), bytes(key))
        self._write_tclk(index, EMPTY_TCLK_ENTRY.replace(
            extAddr=ieee, keyAttributes=t.KeyAttributes.PROVISIONAL_KEY,
            keyType=t.KeyType.NONE, SeedShift_IcIndex=slot,
        ))
        return t.Status.SUCCESS

    def tc_link_key(self, ieee: t.EUI64) -> t.KeyData:
        """The key ``APSME_TCLinkKeyLoad`` secures the trust centre's frames to
        ``ieee`` with: PROVISIONAL the install-code slot, VERIFIED the seed key,
        anything else (or no entry) the well-known key.  Never reads the APS
        link-key table."""
        _, entry = self.tclk_entry(t.EUI64(ieee))
        if entry is None:
            return t.KeyData(const.DEFAULT_TC_LINK_KEY)
        if entry.keyAttributes == t.KeyAttributes.PROVISIONAL_KEY:
            raw = self.nvram.read((NvSysIds.ZSTACK, ExNvIds.TCLK_IC_TABLE, int(entry.SeedShift_IcIndex)))
            return t.KeyData(raw[:16]) if raw else t.KeyData(const.DEFAULT_TC_LINK_KEY)
        if entry.keyAttributes == t.KeyAttributes.VERIFIED_KEY:
            seed = self.nvram.osal_get(OsalNvIds.TCLK_SEED, t.KeyData)
            return compute_key(t.EUI64(ieee), seed, int(entry.SeedShift_IcIndex) & 0x0F)
        return t.KeyData(const.DEFAULT_TC_LINK_KEY)

    def send_network_key(self, ieee: t.EUI64, what: str = "network key update") -> t.KeyData:
        """The trust centre sends the network key to ``ieee`` alone (an update,
        ``ZDSecMgrUpdateNwkKey``, or a join): APS-secured with
        :meth:`tc_link_key`.  A device without an entry gets a DEFAULT one, as
        ``APSME_TCLinkKeyLoad`` writes it.  Returns the key used."""
        ieee = t.EUI64(ieee)
        index, entry = self.tclk_entry(ieee)
        if entry is None and index is not None:
            self._write_tclk(index, EMPTY_TCLK_ENTRY.replace(extAddr=ieee, keyType=t.KeyType.NONE))
        key = self.tc_link_key(ieee)
        self.key_transports.append(KeyTransport(ieee, what, key))
        return key

    # ------------------------------------------------------ key exchange (bdb)
    def _set_require_key_exchange(self, req: c.AppConfig.BDBSetTcRequireKeyExchange.Req) -> list[t.CommandBase]:
        """``bdb_setTCRequireKeyExchange``: a RAM attribute, lost on reset."""
        self.require_key_exchange = bool(req.BdbTrustCenterRequireKeyExchange)
        return [req.Rsp(Status=t.Status.SUCCESS)]

    def _add_install_code(self, req: c.AppConfig.BDBAddInstallCode.Req) -> list[t.CommandBase]:
        """``APP_CNF_BDB_ADD_INSTALLCODE``: a derived key goes straight to
        :meth:`add_tc_link_key`; an install code with CRC is hashed first
        (``bdb_addInstallCode``)."""
        import zigpy.util

        code = bytes(req.InstallCode)
        if req.InstallCodeFormat == c.app_config.InstallCodeFormat.KeyDerivedFromInstallCode:
            if len(code) != 16:
                return [req.Rsp(Status=t.Status.INVALID_PARAMETER)]
            key = t.KeyData(code)
        else:
            try:
                key = t.KeyData(zigpy.util.convert_install_code(code))
            except (ValueError, TypeError):
                return [req.Rsp(Status=t.Status.INVALID_PARAMETER)]
        return [req.Rsp(Status=self.add_tc_link_key(t.EUI64(req.IEEE), key))]

    def tc_add_joining_device(self, ieee: t.EUI64, parent: int) -> None:
        """``bdb_TCAddJoiningDevice``: the timer starts at the join."""
        self.joining[t.EUI64(ieee)] = parent

    def zigbee3_key_exchange(self, ieee: t.EUI64) -> t.KeyData:
        """A joiner that does the Zigbee 3.0 key request and verification: the
        trust centre answers with the seed key (``ZDSecMgrTclkReq``), the entry
        becomes VERIFIED and the device leaves the joining list."""
        ieee = t.EUI64(ieee)
        index, entry = self.tclk_entry(ieee)
        if index is not None:
            shift = int(entry.SeedShift_IcIndex) & 0x0F if entry is not None and \
                entry.keyAttributes != t.KeyAttributes.PROVISIONAL_KEY else 0
            self._write_tclk(index, EMPTY_TCLK_ENTRY.replace(
                extAddr=ieee, keyAttributes=t.KeyAttributes.VERIFIED_KEY,
                keyType=t.KeyType.NONE, SeedShift_IcIndex=shift,
            ))
        self.joining.pop(ieee, None)
        return self.tc_link_key(ieee)

    def join_timeout(self, ieee: t.EUI64, nwk: int) -> list[t.CommandBase]:
        """``bdb_TCProcessJoiningList`` when ``ieee``'s time is up."""
        ieee = t.EUI64(ieee)
        if self.joining.pop(ieee, None) is None or not self.require_key_exchange:
            return []
        index, entry = self.tclk_entry(ieee)
        keep = entry is not None and entry.keyAttributes in (
            t.KeyAttributes.PROVISIONAL_KEY, t.KeyAttributes.VERIFIED_KEY)
        if not keep:
            self._addrmgr_release(ieee)
            if entry is not None and index is not None:
                self._write_tclk(index, EMPTY_TCLK_ENTRY)
        self.removed.append(ieee)
        LOGGER.info("Removed %s: no Zigbee 3.0 key exchange within the join timeout", ieee)
        # The child is told to leave; the stack reports the leave to the host.
        return [c.ZDO.LeaveInd.Callback(NWK=nwk, IEEE=ieee, Request=t.Bool.false,
                                        Remove=t.Bool.false, Rejoin=t.Bool.false)]

    def _addrmgr_release(self, ieee: t.EUI64) -> None:
        for index, raw in enumerate(self.nvram.table(ExNvIds.ADDRMGR)):
            if unpack(raw, t.AddrMgrEntry).extAddr == ieee:
                self.nvram.set((NvSysIds.ZSTACK, ExNvIds.ADDRMGR, index), pack(const.EMPTY_ADDR_MGR_ENTRY_ZSTACK3))
