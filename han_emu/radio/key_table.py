"""What every coordinator stick says when its link-key table has no room.

A Smart Energy display's CBKE key must go into the stick's key table; a full
table is a hardware limit the user can act on, so each backend raises the same
exception with the table's size (EZSP: ``CONFIG_KEY_TABLE_SIZE``; Z-Stack: the
APS link-key table, ``ZDSECMGR_ENTRY_MAX`` entries).
"""

from __future__ import annotations


class KeyTableFull(Exception):
    """Every entry of the NCP's link-key table holds another device's key."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(
            f"the NCP's link-key table is full (all {size} entries hold other devices' keys); "
            "remove a device or use an NCP image with a bigger key table"
        )
