"""The coordinator's NWK <-> IEEE map: one address per device, kept as JSON."""

from __future__ import annotations

import json

import pytest
import zigpy.types as t

from han_emu.radio.addresses import AddressBook

IHD = t.EUI64.convert("00:0d:6f:00:0a:bc:de:f1")
PPMID = t.EUI64.convert("00:0d:6f:00:0a:bc:de:f2")


def test_a_device_that_moves_leaves_no_stale_entry_and_changes_are_told() -> None:
    changes: list[None] = []
    book = AddressBook(on_change=lambda: changes.append(None))
    assert book.learn(0x3C2A, IHD) and not book.learn(0x3C2A, IHD)
    assert book.learn(0x1111, IHD)  # rejoined at another address
    assert book.ieee_of(0x3C2A) is None and book.ieee_of(0x1111) == IHD and book.nwk_of(IHD) == 0x1111
    assert book.learn(0x1111, PPMID)  # the address was given to another device
    assert book.nwk_of(IHD) is None and len(book) == 1 and len(changes) == 3
    # Broadcast addresses and the unknown EUI-64 are never learnt.
    assert not book.learn(0xFFFD, IHD) and not book.learn(0x2222, t.EUI64.convert("ff:ff:ff:ff:ff:ff:ff:ff"))


def test_the_book_round_trips_through_json_and_refuses_anything_else() -> None:
    book = AddressBook()
    book.learn_all([(0x3C2A, IHD), (0x0005, PPMID)])
    text = json.dumps(book.to_json())
    assert json.loads(text) == {"0x0005": str(PPMID), "0x3C2A": str(IHD)}
    told: list[None] = []
    again = AddressBook(on_change=lambda: told.append(None))
    again.restore(json.loads(text))
    assert list(again) == [(0x0005, PPMID), (0x3C2A, IHD)] and told == []  # restoring is not news
    for bad in ([1, 2], {"0x3C2A": "not an address"}, {"zz": str(IHD)}):
        with pytest.raises(ValueError):
            AddressBook().restore(bad)
