"""Where the emulated NCP finds a sender's EUI-64: the address associations an
EmberZNet NCP keeps, and the limit of its trust-centre address cache.

To take an APS-encrypted frame the stack needs the sender's EUI-64: the link
key is found by partner EUI-64 in the key table, and the CCM* nonce holds the
source's extended address (Zigbee spec 4.5.2.2).  A frame that carries it (the
NWK header's source IEEE address, or the APS auxiliary header's extended
nonce) brings its own; otherwise the stack looks the NWK address up in what it
keeps:

- the child table (its own end devices, with their EUI-64s, as
  ``getChildData`` returns them);
- the address table, CONFIG_ADDRESS_TABLE_SIZE entries that the host fills
  (``setAddressTableRemoteEui64`` ...);
- the trust-centre address cache, CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE
  entries "reserved for and reused by the Trust Center when processing device
  join/rejoin authentications" (UG100's text for the setting, kept in bellows'
  ``bellows/ezsp/v4/config.py``): the stack overwrites its oldest entry with
  each join it authenticates;
- associations it learnt from frames that carried the EUI-64 (neighbours).

bellows sets the cache to 2 entries (``bellows/ezsp/config.py``,
DEFAULT_CONFIG_COMMON: CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE = 2, a minimum),
so of three displays that joined through a router (none of them the NCP's
child) the first is forgotten when the third joins, and its encrypted frames
that do not carry its EUI-64 are dropped by the NCP: the host never sees them.
"""

from __future__ import annotations

import dataclasses

import bellows.types as bt


@dataclasses.dataclass
class TrustCentreCache:
    """The trust-centre address cache: a ring of (NWK, EUI-64), in RAM."""

    entries: list[tuple[int, bt.EUI64]] = dataclasses.field(default_factory=list)
    next_slot: int = 0

    def remember(self, nwk: int, eui64: bt.EUI64, size: int) -> None:
        """A join was authenticated: keep it, overwriting the oldest entry when full."""
        for i, (_, known) in enumerate(self.entries):
            if known == eui64:
                self.entries[i] = (int(nwk), eui64)
                return
        if size <= 0:
            return
        del self.entries[size:]
        if len(self.entries) < size:
            self.entries.append((int(nwk), eui64))
            self.next_slot = len(self.entries) % size
            return
        self.entries[self.next_slot % size] = (int(nwk), eui64)
        self.next_slot = (self.next_slot + 1) % size

    def lookup(self, nwk: int) -> bt.EUI64 | None:
        for known_nwk, eui64 in self.entries:
            if known_nwk == nwk:
                return eui64
        return None


def sender_eui64(
    nwk: int,
    *,
    children: dict[bt.EUI64, int],
    address_table: dict[int, tuple[int, bt.EUI64]],
    cache: TrustCentreCache,
    learnt: dict[int, bt.EUI64],
) -> bt.EUI64 | None:
    """The EUI-64 the NCP holds for ``nwk``, or None when it keeps none."""
    for eui64, child in children.items():
        if child == nwk:
            return eui64
    for node_id, eui64 in address_table.values():
        if node_id == nwk:
            return eui64
    found = cache.lookup(nwk)
    if found is not None:
        return found
    return learnt.get(int(nwk))
