"""The NCP's tables as the host reads and writes them: the link-key table
(in tokens), the address, multicast and extended-timeout tables (in RAM),
the child table, and the Green Power tables (always empty here).

The address table's and key table's sizes are the configured ones
(CONFIG_ADDRESS_TABLE_SIZE, CONFIG_KEY_TABLE_SIZE).
"""

from __future__ import annotations

from typing import Any

import bellows.types as bt

from han_emu.radio.fakencp.ezsp import address_cache
from han_emu.radio.fakencp.ezsp.ncp.interpreter import EmberStatus, EzspNcpBase, SlStatus, empty_struct

_NO_EUI64 = bt.EUI64(bytes(8))


class TableFrames(EzspNcpBase):
    """Key, address, multicast, child and Green Power tables."""

    # -- the link-key table ------------------------------------------------------------
    def _key_table_size(self) -> int:
        return int(self.config_value(bt.EzspConfigId.CONFIG_KEY_TABLE_SIZE))

    def cmd_exportLinkKeyByIndex(self, index: int) -> dict[str, Any]:
        entry = self.tokens.link_keys.get(int(index))
        meta = bt.SecurityManagerAPSKeyMetadata(
            bitmask=bt.EmberKeyStructBitmask(0), outgoing_frame_counter=0,
            incoming_frame_counter=0, ttl_in_seconds=0,
        )
        if entry is None:
            return {
                "eui64": _NO_EUI64, "plaintext_key": bt.KeyData(bytes(16)),
                "key_data": meta, "status": SlStatus.NOT_FOUND,
            }
        meta.bitmask = bt.EmberKeyStructBitmask.KEY_HAS_PARTNER_EUI64 | bt.EmberKeyStructBitmask.KEY_IS_AUTHORIZED
        return {"eui64": entry[0], "plaintext_key": bt.KeyData(entry[1]), "key_data": meta, "status": SlStatus.OK}

    def cmd_importLinkKey(self, index: int, address: bt.EUI64, key: bt.KeyData) -> dict[str, Any]:
        if not 0 <= index < self._key_table_size():
            return {"status": SlStatus.INVALID_INDEX}
        self.tokens.link_keys[int(index)] = (address, bytes(key.serialize()))
        return {"status": SlStatus.OK}

    def cmd_findKeyTableEntry(self, address: bt.EUI64, linkKey: bool) -> dict[str, Any]:
        for index, (eui64, _) in sorted(self.tokens.link_keys.items()):
            if eui64 == address:
                return {"index": index}
        return {"index": 0xFF}

    def cmd_eraseKeyTableEntry(self, index: int) -> dict[str, Any]:
        if self.tokens.link_keys.pop(int(index), None) is None:
            return {"status": EmberStatus.TABLE_ENTRY_ERASED}
        return {"status": EmberStatus.SUCCESS}

    def cmd_clearKeyTable(self) -> dict[str, Any]:
        self.tokens.link_keys.clear()
        return {"status": EmberStatus.SUCCESS}

    def store_link_key(self, address: bt.EUI64, key: bytes) -> int | None:
        """Put ``key`` in the key table for ``address`` (its own entry, else the
        first free index); None when the table is full."""
        for index, (eui64, _) in self.tokens.link_keys.items():
            if eui64 == address:
                self.tokens.link_keys[index] = (address, bytes(key))
                return index
        for index in range(self._key_table_size()):
            if index not in self.tokens.link_keys:
                self.tokens.link_keys[index] = (address, bytes(key))
                return index
        return None

    # -- the address table: index -> (node id, EUI64) -----------------------------------
    def _address_index_ok(self, index: int) -> bool:
        return 0 <= index < self.config_value(bt.EzspConfigId.CONFIG_ADDRESS_TABLE_SIZE)

    def cmd_getAddressTableRemoteNodeId(self, addressTableIndex: int) -> dict[str, Any]:
        entry = self.ram.address_table.get(int(addressTableIndex))
        return {"nodeId": 0xFFFF if entry is None else entry[0]}

    def cmd_getAddressTableRemoteEui64(self, addressTableIndex: int) -> dict[str, Any]:
        entry = self.ram.address_table.get(int(addressTableIndex))
        return {"eui64": _NO_EUI64 if entry is None else entry[1]}

    def cmd_setAddressTableRemoteNodeId(self, addressTableIndex: int, id: int) -> None:
        index = int(addressTableIndex)
        if self._address_index_ok(index):
            _, eui64 = self.ram.address_table.get(index, (0xFFFF, _NO_EUI64))
            self.ram.address_table[index] = (int(id), eui64)

    def cmd_setAddressTableRemoteEui64(self, addressTableIndex: int, eui64: bt.EUI64) -> dict[str, Any]:
        index = int(addressTableIndex)
        if not self._address_index_ok(index):
            return {"status": EmberStatus.ADDRESS_TABLE_INDEX_OUT_OF_RANGE}
        self.ram.address_table[index] = (0xFFFD, eui64)
        return {"status": EmberStatus.SUCCESS}

    def cmd_replaceAddressTableEntry(
        self, addressTableIndex: int, newEui64: bt.EUI64, newId: int, newExtendedTimeout: bool
    ) -> dict[str, Any]:
        index = int(addressTableIndex)
        if not self._address_index_ok(index):
            return {
                "status": EmberStatus.ADDRESS_TABLE_INDEX_OUT_OF_RANGE, "oldEui64": _NO_EUI64,
                "oldId": 0xFFFF, "oldExtendedTimeout": False,
            }
        old_id, old_eui64 = self.ram.address_table.get(index, (0xFFFF, _NO_EUI64))
        old_ext = old_eui64 in self.ram.extended_timeout
        self.ram.address_table[index] = (int(newId), newEui64)
        self.cmd_setExtendedTimeout(newEui64, newExtendedTimeout)
        return {"status": EmberStatus.SUCCESS, "oldEui64": old_eui64, "oldId": old_id, "oldExtendedTimeout": old_ext}

    def _known_devices(self) -> dict[int, bt.EUI64]:
        known = dict(self.address_book)
        known.update(dict(self.ram.tc_cache.entries))
        known.update({nwk: eui64 for eui64, nwk in self.tokens.children.items()})
        known.update({nwk: eui64 for nwk, eui64 in self.ram.address_table.values() if nwk < 0xFFF8})
        return known

    def sender_eui64(self, nwk: int) -> bt.EUI64 | None:
        """The EUI-64 the stack holds for ``nwk`` (:mod:`..address_cache`)."""
        return address_cache.sender_eui64(
            nwk, children=self.tokens.children, address_table=self.ram.address_table,
            cache=self.ram.tc_cache, learnt=self.address_book,
        )

    def remember_join(self, nwk: int, eui64: bt.EUI64) -> None:
        """The trust centre authenticated a join: its address cache keeps it."""
        size = self.config_value(bt.EzspConfigId.CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE)
        self.ram.tc_cache.remember(nwk, eui64, size)

    def cmd_lookupEui64ByNodeId(self, nodeId: int) -> dict[str, Any]:
        if nodeId == self.tokens.node_id and self.ram.network_up:
            return {"status": EmberStatus.SUCCESS, "eui64": self.tokens.eui64}
        eui64 = self._known_devices().get(int(nodeId))
        if eui64 is None:
            return {"status": EmberStatus.ERR_FATAL, "eui64": _NO_EUI64}
        return {"status": EmberStatus.SUCCESS, "eui64": eui64}

    def cmd_lookupNodeIdByEui64(self, eui64: bt.EUI64) -> dict[str, Any]:
        for nwk, known in self._known_devices().items():
            if known == eui64:
                return {"nodeId": nwk}
        return {"nodeId": 0xFFFF}

    def cmd_getExtendedTimeout(self, remoteEui64: bt.EUI64) -> dict[str, Any]:
        return {"extendedTimeout": remoteEui64 in self.ram.extended_timeout}

    def cmd_setExtendedTimeout(self, remoteEui64: bt.EUI64, extendedTimeout: bool) -> None:
        if extendedTimeout:
            self.ram.extended_timeout.add(remoteEui64)
        else:
            self.ram.extended_timeout.discard(remoteEui64)

    # -- the multicast table -------------------------------------------------------------
    def cmd_setMulticastTableEntry(self, index: int, value: bt.EmberMulticastTableEntry) -> dict[str, Any]:
        self.ram.multicast[int(index)] = bytes(value.serialize())
        return {"status": EmberStatus.SUCCESS}

    def cmd_getMulticastTableEntry(self, index: int) -> dict[str, Any]:
        raw = self.ram.multicast.get(int(index))
        entry = (
            bt.EmberMulticastTableEntry.deserialize(raw)[0]
            if raw is not None
            else bt.EmberMulticastTableEntry(multicastId=0, endpoint=0, networkIndex=0)
        )
        return {"status": EmberStatus.SUCCESS, "value": entry}

    # -- the child table -----------------------------------------------------------------
    def cmd_getChildData(self, index: int) -> dict[str, Any]:
        children = list(self.tokens.children.items())
        if index >= len(children):
            return {"status": EmberStatus.NOT_JOINED, "child_data": self._child_data(_NO_EUI64, 0xFFFF)}
        eui64, nwk = children[index]
        return {"status": EmberStatus.SUCCESS, "child_data": self._child_data(eui64, nwk)}

    def cmd_setChildData(self, index: int, child_data: Any) -> dict[str, Any]:
        self.tokens.children[child_data.eui64] = int(child_data.id)
        return {"status": EmberStatus.SUCCESS}

    def _child_data(self, eui64: bt.EUI64, nwk: int) -> Any:
        cls = self.COMMANDS["getChildData"][2]["child_data"]
        return cls(
            eui64=eui64, type=bt.EmberNodeType.SLEEPY_END_DEVICE, id=nwk, phy=0, power=0,
            timeout=0, timeout_remaining=0,
        )

    # -- Green Power tables ----------------------------------------------------------------
    def cmd_gpSinkTableClearAll(self) -> None:
        return None

    def cmd_gpProxyTableGetEntry(self, proxyIndex: int) -> dict[str, Any]:
        entry = empty_struct(self.COMMANDS["gpProxyTableGetEntry"][2]["entry"])
        return {"status": EmberStatus.INDEX_OUT_OF_RANGE, "entry": entry}

    def cmd_gpSinkTableGetEntry(self, index: int) -> dict[str, Any]:
        entry = empty_struct(self.COMMANDS["gpSinkTableGetEntry"][2]["entry"])
        return {"status": EmberStatus.INDEX_OUT_OF_RANGE, "entry": entry}
