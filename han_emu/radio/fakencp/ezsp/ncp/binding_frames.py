"""UG100's binding frames and the binding table the stack answers Bind_req,
Unbind_req and Mgmt_Bind_req from.

EmberZNet keeps the binding table in tokens (the stack's
CREATOR_STACK_BINDING_TABLE / NVM3KEY_STACK_BINDING_TABLE, as bellows lists
them), so its entries outlive a reset; its size is
CONFIG_BINDING_TABLE_SIZE as the host sets it.  Entries are
EmberBindingTableEntry (type, local endpoint, cluster, remote endpoint,
identifier, network index: bellows ``types/struct.py``).

A remote node changes the table as EZSP's BINDING_MODIFICATION_POLICY says
(``EzspDecisionId`` in bellows and in the SDK's ``ezsp-enum.h``):
DISALLOW_BINDING_MODIFICATION, the default, refuses it;
ALLOW_BINDING_MODIFICATION lets it; CHECK_BINDING_MODIFICATIONS_ARE_VALID_
ENDPOINT_CLUSTERS lets it only for an endpoint of this node and one of that
endpoint's output clusters.  A refusal is answered NOT_AUTHORIZED, the status
EmberZNet's remote-binding handler gives "if permission was denied"
(``binding-table.h``, emberRemoteSetBindingHandler); a full table
TABLE_FULL, an unknown Unbind_req NO_ENTRY (Zigbee spec 2.4.4.3.2/3).  A
change is reported to the host with remoteSetBindingHandler /
remoteDeleteBindingHandler ("the NCP used the external binding modification
policy to decide how to handle a remote set binding request", UG100).

bellows itself calls none of these frames and sets no binding policy.
"""

from __future__ import annotations

from typing import Any

import bellows.types as bt
import zigpy.types as zt
import zigpy.zdo.types as zdo_t

from han_emu.radio.fakencp.ezsp.ncp.interpreter import EmberStatus, EzspNcpBase

_POLICY = int(bt.EzspPolicyId.BINDING_MODIFICATION_POLICY)
_ALLOW = int(bt.EzspDecisionId.ALLOW_BINDING_MODIFICATION)
_CHECK = int(bt.EzspDecisionId.CHECK_BINDING_MODIFICATIONS_ARE_VALID_ENDPOINT_CLUSTERS)
_IEEE_MODE = 0x03  # MultiAddress: IEEE address and endpoint; 0x01 is a group


def entry_of(binding: zdo_t.Binding) -> bt.EmberBindingTableEntry:
    """The stack's table entry for a ZDO binding (unicast or group)."""
    dst = binding.DstAddress
    if dst.addrmode == _IEEE_MODE:
        kind, identifier, remote = bt.EmberBindingType.UNICAST_BINDING, bt.EUI64(dst.ieee), int(dst.endpoint)
    else:
        group = int(dst.nwk).to_bytes(2, "little") + bytes(6)
        kind, identifier, remote = bt.EmberBindingType.MULTICAST_BINDING, bt.EUI64(group), 0
    return bt.EmberBindingTableEntry(
        type=kind, local=int(binding.SrcEndpoint), clusterId=int(binding.ClusterId), remote=remote,
        identifier=identifier, networkIndex=0,
    )


def binding_of(entry: bt.EmberBindingTableEntry, own: zt.EUI64) -> zdo_t.Binding:
    """A table entry as Mgmt_Bind_rsp lists it (source is this node)."""
    if entry.type == bt.EmberBindingType.MULTICAST_BINDING:
        group = int.from_bytes(bytes(entry.identifier)[:2], "little")
        dst = zdo_t.MultiAddress(addrmode=0x01, nwk=zt.NWK(group))
    else:
        dst = zdo_t.MultiAddress(addrmode=_IEEE_MODE, ieee=zt.EUI64(entry.identifier), endpoint=int(entry.remote))
    return zdo_t.Binding(SrcAddress=own, SrcEndpoint=int(entry.local), ClusterId=int(entry.clusterId),
                         DstAddress=dst)


class BindingFrames(EzspNcpBase):
    """The binding table: the host's frames and the remote nodes' requests."""

    def binding_table_size(self) -> int:
        return int(self.config_value(bt.EzspConfigId.CONFIG_BINDING_TABLE_SIZE))

    def zdo_bindings(self) -> list[zdo_t.Binding]:
        """The used entries in index order, as Mgmt_Bind_rsp lists them."""
        own = zt.EUI64(self.tokens.eui64)
        return [binding_of(entry, own) for _, entry in sorted(self.tokens.bindings.items())
                if entry.type != bt.EmberBindingType.UNUSED_BINDING and _ < self.binding_table_size()]

    def remote_binding(self, command: zdo_t.ZDOCmd, binding: zdo_t.Binding) -> zdo_t.Status:
        """A Bind_req or Unbind_req the ZDO checked (source is this node, on one
        of its endpoints): the policy, then the table; the status to answer."""
        S = zdo_t.Status
        entry = entry_of(binding)
        if not self._binding_allowed(entry):
            return S.NOT_AUTHORIZED
        table = self.tokens.bindings
        found = next((i for i, e in sorted(table.items()) if e.serialize() == entry.serialize()), None)
        if command == zdo_t.ZDOCmd.Unbind_req:
            if found is None:
                return S.NO_ENTRY
            del table[found]
            self.persist()
            self.callback("remoteDeleteBindingHandler", index=found, policyDecision=EmberStatus.SUCCESS)
            return S.SUCCESS
        if found is not None:
            return S.SUCCESS  # already bound: nothing to add
        free = next((i for i in range(self.binding_table_size()) if i not in table), None)
        if free is None:
            return S.TABLE_FULL
        table[free] = entry
        self.persist()
        self.callback("remoteSetBindingHandler", entry=entry, index=free, policyDecision=EmberStatus.SUCCESS)
        return S.SUCCESS

    def _binding_allowed(self, entry: bt.EmberBindingTableEntry) -> bool:
        decision = self.ram.policies.get(_POLICY)
        if decision == _ALLOW:
            return True
        if decision == _CHECK:
            endpoint = self.ram.endpoints.get(int(entry.local))
            return endpoint is not None and int(entry.clusterId) in endpoint.output_clusters
        return False

    # -- UG100 section 7, binding frames ------------------------------------------------
    def _index_ok(self, index: int) -> bool:
        return 0 <= index < self.binding_table_size()

    def cmd_clearBindingTable(self) -> dict[str, Any]:
        self.tokens.bindings.clear()
        return {"status": EmberStatus.SUCCESS}

    def cmd_setBinding(self, index: int, value: bt.EmberBindingTableEntry) -> dict[str, Any]:
        if not self._index_ok(index):
            return {"status": EmberStatus.BINDING_INDEX_OUT_OF_RANGE}
        if value.type == bt.EmberBindingType.UNUSED_BINDING:
            self.tokens.bindings.pop(int(index), None)
        else:
            self.tokens.bindings[int(index)] = value
        return {"status": EmberStatus.SUCCESS}

    def cmd_getBinding(self, index: int) -> dict[str, Any]:
        unused = bt.EmberBindingTableEntry(
            type=bt.EmberBindingType.UNUSED_BINDING, local=0, clusterId=0, remote=0,
            identifier=bt.EUI64(bytes(8)), networkIndex=0,
        )
        if not self._index_ok(index):
            return {"status": EmberStatus.BINDING_INDEX_OUT_OF_RANGE, "value": unused}
        return {"status": EmberStatus.SUCCESS, "value": self.tokens.bindings.get(int(index), unused)}

    def cmd_deleteBinding(self, index: int) -> dict[str, Any]:
        if not self._index_ok(index):
            return {"status": EmberStatus.BINDING_INDEX_OUT_OF_RANGE}
        self.tokens.bindings.pop(int(index), None)
        return {"status": EmberStatus.SUCCESS}

    def cmd_bindingIsActive(self, index: int) -> dict[str, Any]:
        # Messages are sent by address, never through a binding here.
        return {"active": bt.Bool.false}

    def cmd_getBindingRemoteNodeId(self, index: int) -> dict[str, Any]:
        entry = self.tokens.bindings.get(int(index))
        if entry is None or entry.type != bt.EmberBindingType.UNICAST_BINDING:
            return {"nodeId": 0xFFFF}
        known = [nwk for nwk, eui in self.address_book.items() if eui == entry.identifier]
        return {"nodeId": known[0] if known else 0xFFFF}

    def cmd_setBindingRemoteNodeId(self, index: int, nodeId: int) -> dict[str, Any]:
        entry = self.tokens.bindings.get(int(index))
        if entry is not None and entry.type == bt.EmberBindingType.UNICAST_BINDING:
            self.address_book[int(nodeId)] = entry.identifier
        return {}
