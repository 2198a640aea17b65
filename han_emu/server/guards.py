"""Checks a request passes before any ZCL logic runs.

The radio libraries' own duplicate filters are bypassed when the server takes
packets ahead of zigpy, so the server filters repeats itself; and Smart Energy
clusters carry tariff and consumption data that the SE profile requires to be
APS-encrypted with the device's link key.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterable

from clusters.ids import KEY_ESTABLISHMENT, SMART_ENERGY_BLOCK

#: Smart Energy application clusters (Price ... Sub-GHz and the rest of the 0x07xx
#: block).  Key Establishment is deliberately absent: CBKE runs before a link key
#: exists, under network security only.
SMART_ENERGY_CLUSTERS: frozenset[int] = frozenset(SMART_ENERGY_BLOCK)

#: Clusters whose frames go out without APS encryption: Key Establishment runs
#: before the link key it establishes exists (and replaces the one it runs under).
APS_PLAIN_CLUSTERS: frozenset[int] = frozenset({KEY_ESTABLISHMENT})

#: ``authorised(sender) -> bool``: has the sender (a packet's source address)
#: completed key establishment?  Supplied by the Key Establishment server.
SenderCheck = Callable[[Any], bool]


class DuplicateFilter:
    """Remembers recent frames so a repeat within ``window`` seconds is ignored."""

    def __init__(self, window: float = 3.0) -> None:
        if window < 0:
            raise ValueError("the duplicate window cannot be negative")
        self.window = window
        self._seen: dict[Hashable, float] = {}

    def is_duplicate(self, key: Hashable, now: float) -> bool:
        """True if ``key`` was seen less than ``window`` seconds ago; else remember it."""
        self._expire(now)
        first = self._seen.get(key)  # the key (a tuple with the sender's address) is hashed per look-up
        if first is not None:
            if now - first < self.window:
                return True
            del self._seen[key]  # seen again: to the back of the arrival order
        self._seen[key] = now
        return False

    def _expire(self, now: float) -> None:
        # Entries are kept in arrival order, so the old ones are at the front.
        while self._seen:
            key, when = next(iter(self._seen.items()))
            if now - when < self.window and when <= now:
                break
            del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)


class EncryptionRule:
    """Which clusters need APS encryption, with a lab override to accept plain frames.

    With an ``authorised`` check (from the Key Establishment server) those
    clusters also need a sender that has completed CBKE: a frame under the
    install-code key alone is refused too.  The lab override lifts both rules.
    """

    def __init__(
        self,
        clusters: Iterable[int] = SMART_ENERGY_CLUSTERS,
        *,
        accept_unencrypted: bool = False,
        authorised: SenderCheck | None = None,
    ) -> None:
        self.clusters = frozenset(clusters)
        self.accept_unencrypted = accept_unencrypted
        self.authorised = authorised

    def judges_sender(self, cluster_id: int) -> bool:
        """True when a frame on ``cluster_id`` is served only to authorised
        senders, so the sender's identity must be known to serve it."""
        return cluster_id in self.clusters and not self.accept_unencrypted and self.authorised is not None

    def refuses(self, cluster_id: int, encrypted: bool, sender: Any = None) -> bool:
        if cluster_id not in self.clusters or self.accept_unencrypted:
            return False
        if not encrypted:
            return True
        return self.authorised is not None and not self.authorised(sender)
