"""Which IEEE address sits at which NWK address, remembered across restarts.

zigpy learns a device's IEEE address from its join, its Device_annce or an
IEEE_addr_rsp, and keeps it in a device database that han-emu does not use;
a real stick keeps its displays (child table, address manager, key table)
across a reset, so a display that joined before a restart never announces
itself again.  The coordinator therefore keeps its own map: seeded from the
stick's tables at start, learnt from joins and address responses, and saved
with the meter's state so a restarted host still knows every display.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import zigpy.types as t

#: NWK addresses that never name one device (broadcasts, "unknown").
_NOT_A_DEVICE = 0xFFF8


class AddressBook:
    """NWK <-> IEEE, one NWK address per device and one device per NWK address.

    ``on_change`` is called (without arguments) whenever an entry is added
    or moves, so the owner can save the book.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._by_nwk: dict[int, bytes] = {}
        self._by_ieee: dict[bytes, int] = {}
        self.on_change = on_change

    def learn(self, nwk: int, ieee: t.EUI64) -> bool:
        """``ieee`` is at ``nwk`` now; True when that is news."""
        nwk, key = int(nwk), bytes(t.EUI64(ieee))
        if nwk >= _NOT_A_DEVICE or key in (bytes(8), b"\xff" * 8):
            return False
        if self._by_nwk.get(nwk) == key and self._by_ieee.get(key) == nwk:
            return False
        old_nwk = self._by_ieee.pop(key, None)
        if old_nwk is not None:
            self._by_nwk.pop(old_nwk, None)
        old_ieee = self._by_nwk.pop(nwk, None)
        if old_ieee is not None:
            self._by_ieee.pop(old_ieee, None)
        self._by_nwk[nwk] = key
        self._by_ieee[key] = nwk
        if self.on_change is not None:
            self.on_change()
        return True

    def learn_all(self, pairs: Iterable[tuple[int, t.EUI64]]) -> int:
        """Learn every (nwk, ieee) pair; returns how many were news."""
        return sum(self.learn(nwk, ieee) for nwk, ieee in pairs)

    def ieee_of(self, nwk: int) -> t.EUI64 | None:
        key = self._by_nwk.get(int(nwk))
        return None if key is None else t.EUI64(key)

    def nwk_of(self, ieee: t.EUI64) -> int | None:
        return self._by_ieee.get(bytes(t.EUI64(ieee)))

    def __len__(self) -> int:
        return len(self._by_nwk)

    def __iter__(self) -> Iterator[tuple[int, t.EUI64]]:
        for nwk, key in sorted(self._by_nwk.items()):
            yield nwk, t.EUI64(key)

    # -- persistence -------------------------------------------------------------------
    def to_json(self) -> dict[str, str]:
        """``{"0x3C2A": "00:0d:6f:...", ...}``: NWK in hex, IEEE as zigpy writes it."""
        return {f"0x{nwk:04X}": str(ieee) for nwk, ieee in self}

    def restore(self, data: Any) -> None:
        """Learn what :meth:`to_json` wrote; ValueError (and nothing learnt)
        for anything else."""
        if not isinstance(data, dict):
            raise ValueError("the address map is not a JSON object")
        pairs = []
        for nwk, ieee in data.items():
            try:
                pairs.append((int(nwk, 16), t.EUI64.convert(ieee)))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"bad address map entry {nwk!r}: {ieee!r}") from exc
        callback, self.on_change = self.on_change, None
        try:
            self.learn_all(pairs)
        finally:
            self.on_change = callback
