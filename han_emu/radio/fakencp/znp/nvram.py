"""Non-volatile memory of the emulated Z-Stack 3.30 coordinator.

Z-Stack 3.30 keeps every NV item under (system id, item id, sub id); the old
OSAL items live under (ZSTACK, LEGACY, osal id), so the OSAL and the extended
MT commands see the same bytes, as on the real chip.  Tables the host walks
item by item (address manager, TC link keys, ...) have a fixed number of
sub-items, because the host stops at the first missing one.

Structures are stored the way a CC26x2 stores them (aligned C structs), which
is what the fake advertises through ``UTIL.AssocFindDevice``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Final

import zigpy_znp.const as const
import zigpy_znp.types as t
from zigpy_znp.types.nvids import ExNvIds, NvSysIds, OsalNvIds

from han_emu.radio.fakencp.znp.zstack_images import ZStackImage, firmware_image

NvKey = tuple[int, int, int]

ALIGN_STRUCTS: Final = True
"""CC26x2 builds send C structs with their padding."""

FORMAT: Final = "han-emu-znp-nvram/1"

# Table sizes are the firmware image's (:mod:`.zstack_images`).
NWK_SEC_MATERIAL_ENTRIES: Final = 2
#: sizeof(nvDeviceListHdr_t) and of an aligned ZDSecMgrEntry_t {ami, keyNvId,
#: authenticateOption}: the APS link-key table item is a header and a fixed
#: number of entries (``ZDSecMgrInitNV`` in ``zd_sec_mgr.c``).
APS_LINK_KEY_HEADER: Final = 2
APS_LINK_KEY_ENTRY: Final = 6

DEFAULT_BDB_PRIMARY_CHANNELS: Final = t.Channels.from_channel_list([11, 15, 20, 25])
ALL_CHANNELS: Final = t.Channels.ALL_CHANNELS


def pack(value: Any) -> bytes:
    """Serialize a zigpy-znp value as the chip stores it in NV."""
    if isinstance(value, (t.CStruct, t.BaseListType)):
        return value.serialize(align=ALIGN_STRUCTS)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return value.serialize()


def unpack(data: bytes, item_type: Any) -> Any:
    """Inverse of :func:`pack` (trailing bytes are ignored, as the firmware does)."""
    if issubclass(item_type, (t.CStruct, t.BaseListType)):
        value, _ = item_type.deserialize(data, align=ALIGN_STRUCTS)
    else:
        value, _ = item_type.deserialize(data)
    return value


def osal_key(nv_id: int) -> NvKey:
    return (NvSysIds.ZSTACK, ExNvIds.LEGACY, nv_id)


def unformed_nib() -> t.NIB:
    """The NIB of a coordinator that has never formed a network."""
    zero_key = t.NwkKeyDesc(KeySeqNum=0, Key=t.KeyData([0] * 16))
    return t.NIB(
        SequenceNum=0,
        PassiveAckTimeout=5,
        MaxBroadcastRetries=2,
        MaxChildren=0,
        MaxDepth=20,
        MaxRouters=0,
        dummyNeighborTable=0,
        BroadcastDeliveryTime=30,
        ReportConstantCost=0,
        RouteDiscRetries=0,
        dummyRoutingTable=0,
        SecureAllFrames=1,
        SecurityLevel=5,
        SymLink=1,
        CapabilityFlags=0x8F,
        TransactionPersistenceTime=7,
        nwkProtocolVersion=2,
        RouteDiscoveryTime=5,
        RouteExpiryTime=30,
        nwkDevAddress=0xFFFE,
        nwkLogicalChannel=0,
        nwkCoordAddress=0xFFFE,
        nwkCoordExtAddress=t.EUI64([0] * 8),
        nwkPanId=0xFFFF,
        nwkState=t.NwkState.NWK_INIT,
        channelList=t.Channels.NO_CHANNELS,
        beaconOrder=15,
        superFrameOrder=15,
        scanDuration=0,
        battLifeExt=0,
        allocatedRouterAddresses=0,
        allocatedEndDeviceAddresses=0,
        nodeDepth=0,
        extendedPANID=t.EUI64([0] * 8),
        nwkKeyLoaded=t.Bool.false,
        spare1=zero_key,
        spare2=zero_key,
        spare3=0,
        spare4=0,
        nwkLinkStatusPeriod=60,
        nwkRouterAgeLimit=3,
        nwkUseMultiCast=t.Bool.false,
        nwkIsConcentrator=t.Bool.true,
        nwkConcentratorDiscoveryTime=120,
        nwkConcentratorRadius=10,
        nwkAllFresh=1,
        nwkManagerAddr=0x0000,
        nwkTotalTransmissions=0,
        nwkUpdateId=0,
    )


EMPTY_TCLK_ENTRY: Final = t.TCLKDevEntry(
    txFrmCntr=0,
    rxFrmCntr=0,
    extAddr=t.EUI64([0] * 8),
    keyAttributes=t.KeyAttributes.DEFAULT_KEY,
    keyType=t.KeyType.NONE,
    SeedShift_IcIndex=0,
)

EMPTY_APS_KEY_DATA: Final = t.APSKeyDataTableEntry(
    Key=t.KeyData([0] * 16), TxFrameCounter=0, RxFrameCounter=0
)

EMPTY_SEC_MATERIAL: Final = t.NwkSecMaterialDesc(
    FrameCounter=0, ExtendedPanID=t.EUI64([0] * 8)
)


def factory_items(
    ieee: t.EUI64, *, tclk_seed: bytes, precfg_key: bytes, image: ZStackImage | None = None
) -> dict[NvKey, bytes]:
    """NV content of a coordinator straight after a factory reset, with the
    table sizes of ``image``: every entry of a table exists, empty ones
    included, as ``APSME_TCLinkKeyInit``, ``ZDSecMgrApsLinkKeyInit`` and the
    address manager create them."""
    if image is None:
        image = firmware_image(None)
    osal: dict[int, Any] = {
        OsalNvIds.EXTADDR: ieee,
        OsalNvIds.STARTUP_OPTION: t.StartupOptions.NONE,
        OsalNvIds.NIB: unformed_nib(),
        OsalNvIds.LOGICAL_TYPE: t.DeviceLogicalType.Coordinator,
        OsalNvIds.PANID: t.uint16_t(0xFFFF),
        OsalNvIds.CHANLIST: ALL_CHANNELS,
        OsalNvIds.EXTENDED_PAN_ID: t.EUI64([0] * 8),
        OsalNvIds.APS_USE_EXT_PANID: t.EUI64([0] * 8),
        OsalNvIds.PRECFGKEY: t.KeyData(precfg_key),
        OsalNvIds.PRECFGKEYS_ENABLE: t.Bool.false,
        OsalNvIds.NWK_ACTIVE_KEY_INFO: const.EMPTY_KEY,
        OsalNvIds.NWK_ALTERN_KEY_INFO: const.EMPTY_KEY,
        OsalNvIds.TCLK_SEED: t.KeyData(tclk_seed),
        OsalNvIds.CONCENTRATOR_ENABLE: t.Bool.false,
        OsalNvIds.CONCENTRATOR_DISCOVERY: t.uint8_t(120),
        OsalNvIds.CONCENTRATOR_RC: t.Bool.false,
        OsalNvIds.SRC_RTG_EXPIRY_TIME: t.uint8_t(10),
        OsalNvIds.NWK_CHILD_AGE_ENABLE: t.Bool.true,
        OsalNvIds.BCAST_DELIVERY_TIME: t.uint8_t(30),
        OsalNvIds.ZDO_DIRECT_CB: t.Bool.false,
        # Entry count (uint16) followed by the fixed number of entries, all zero.
        OsalNvIds.APS_LINK_KEY_TABLE: bytes(APS_LINK_KEY_HEADER + APS_LINK_KEY_ENTRY * image.aps_link_keys),
    }
    items = {osal_key(nv_id): pack(value) for nv_id, value in osal.items()}

    tables: dict[int, tuple[int, Any]] = {
        ExNvIds.ADDRMGR: (image.address_manager, const.EMPTY_ADDR_MGR_ENTRY_ZSTACK3),
        ExNvIds.TCLK_TABLE: (image.tc_link_keys, EMPTY_TCLK_ENTRY),
        ExNvIds.APS_KEY_DATA_TABLE: (image.aps_link_keys, EMPTY_APS_KEY_DATA),
    }
    for item_id, (count, fill) in tables.items():
        for sub_id in range(count):
            items[(NvSysIds.ZSTACK, item_id, sub_id)] = pack(fill)
    return items


class ZnpNvram:
    """NV items of one chip, with JSON persistence.

    ``version`` increases on every change so a caller can tell when to save.
    """

    def __init__(self, items: dict[NvKey, bytes] | None = None) -> None:
        self._items: dict[NvKey, bytes] = dict(items or {})
        self.version = 0

    # -- generic items ------------------------------------------------------
    def read(self, key: NvKey) -> bytes | None:
        return self._items.get(key)

    def length(self, key: NvKey) -> int:
        return len(self._items.get(key, b""))

    def exists(self, key: NvKey) -> bool:
        return key in self._items

    def set(self, key: NvKey, value: bytes) -> None:
        self._items[key] = bytes(value)
        self.version += 1

    def write(self, key: NvKey, offset: int, data: bytes) -> bool:
        """Overwrite part of an existing item; False if it is missing or too short."""
        value = self._items.get(key)
        if value is None or offset + len(data) > len(value):
            return False
        buf = bytearray(value)
        buf[offset : offset + len(data)] = data
        self.set(key, bytes(buf))
        return True

    def create(self, key: NvKey, length: int, init: bytes = b"") -> bool:
        """Create an item of ``length`` bytes; False if it already existed."""
        if key in self._items:
            return False
        self.set(key, init[:length].ljust(length, b"\xff"))
        return True

    def delete(self, key: NvKey) -> bool:
        if key not in self._items:
            return False
        del self._items[key]
        self.version += 1
        return True

    def keys(self) -> list[NvKey]:
        return sorted(self._items)

    def replace_all(self, items: dict[NvKey, bytes]) -> None:
        self._items = dict(items)
        self.version += 1

    # -- OSAL view ----------------------------------------------------------
    def osal(self, nv_id: int) -> bytes | None:
        return self.read(osal_key(nv_id))

    def osal_get(self, nv_id: int, item_type: Any) -> Any | None:
        data = self.osal(nv_id)
        return None if data is None else unpack(data, item_type)

    def osal_set(self, nv_id: int, value: Any) -> None:
        self.set(osal_key(nv_id), pack(value))

    def table(self, item_id: int) -> list[bytes]:
        """Sub-items 0, 1, ... of a table, up to the first missing one."""
        rows = []
        sub_id = 0
        while (row := self.read((NvSysIds.ZSTACK, item_id, sub_id))) is not None:
            rows.append(row)
            sub_id += 1
        return rows

    # -- persistence --------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "items": [
                {"sys": s, "item": i, "sub": sub, "value": self._items[(s, i, sub)].hex()}
                for (s, i, sub) in self.keys()
            ],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ZnpNvram:
        if doc.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document")
        items = {
            (int(row["sys"]), int(row["item"]), int(row["sub"])): bytes.fromhex(row["value"])
            for row in doc["items"]
        }
        return cls(items)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically, so a crash never leaves half a file."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=target.name, dir=target.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self.to_json(), f, indent=1)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ZnpNvram:
        with open(path) as f:
            return cls.from_json(json.load(f))
