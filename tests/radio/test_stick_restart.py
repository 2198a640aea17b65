"""Restarts and replugs keep displays served, on both emulated sticks.

A real stick keeps a display, its address and its link key across a reset,
so the display never joins again and never redoes CBKE by itself.  The host
must therefore remember who is at which NWK address and who completed CBKE
(with the meter's state), learn what the stick still knows at start, and ask
an unknown sender who it is (ZDO IEEE_addr_req) before refusing it.  A
refusal goes out at the request's own security level, so a display without
the APS link key can still read it.  And an EZSP key goes into a free entry
of the NCP's key table, never over another display's key.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import bellows.types as bt
import pytest
import zigpy.types as t

from han_emu.crypto.certsets import TestCA, eui64_to_cert
from han_emu.crypto.cbke import State, Suite
from han_emu.han.config import load
from han_emu.han.hardware import HardwareHan
from han_emu.han.store import StateStore
from han_emu.meter.model import TwinMeter
from han_emu.radio.fakencp.ezsp.server import FakeEzspServer
from han_emu.radio.fakencp.znp.device import FakeZStack
from han_emu.radio.fakencp.znp.server import FakeZnpServer

from .stick_support import (
    IHD_IEEE, IHD_NWK, STICK_IEEE, Sent, Stick, answer_zdo, display_zdo, quick_ezsp_reset,
)
from .test_stick_cbke import (
    METERING, NOT_AUTHORIZED, READ_AGAIN, READ_ANSWERED, READ_RECEIVED, exchange, ihd_initiator, join,
)

IEEE_ADDR_REQ = 0x0001
NOT_AUTHORIZED_AGAIN = bytes.fromhex("18 22 0B 00 7E")  # the refusal of READ_AGAIN
FIRST_READ_ANSWERED = bytes.fromhex("18 21 01 01 00 00 25")  # READ_RECEIVED answered


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)


def stick_on(kind: str, nv: Path) -> Stick:
    """An emulated stick whose non-volatile memory lives in ``nv`` (a replug
    or power cycle brings back the same network, devices and keys)."""
    stick = Stick(kind)
    if kind == "znp":
        device = None if nv.exists() else FakeZStack(ieee=STICK_IEEE)
        stick.fake = FakeZnpServer(state_path=nv, device=device)
    else:
        stick.fake = FakeEzspServer(state_path=nv, eui64=STICK_IEEE)
    return stick


async def start_han(stick: Stick, *, store: StateStore | None = None, cbke: tuple = ()) -> HardwareHan:
    config = dataclasses.replace(load(None), cbke=cbke)
    meter = store.load(config.meter) if store is not None else None
    han = HardwareHan(config, meter or TwinMeter(config.meter, time.time()), stick.spec, store=store,
                      step_s=3600, save_every_s=1e9, report=lambda line: None)
    await han.start()
    return han


def refusals(sent: list[Sent]) -> list[Sent]:
    """Default Responses carrying NOT_AUTHORIZED (0x7E)."""
    return [s for s in sent if len(s.data) >= 5 and s.data[0] & 0x03 == 0 and s.data[2] == 0x0B
            and s.data[4] == 0x7E]


@pytest.mark.parametrize("kind", ["ezsp", "znp"])
async def test_a_display_that_did_cbke_is_served_after_the_host_and_the_stick_restart(
    kind: str, tmp_path: Path,
) -> None:
    nv, db = tmp_path / f"{kind}-nv.json", tmp_path / "meter.db"
    stick_cert = TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE))
    initiator = ihd_initiator(Suite.SUITE_1, stick_cert)

    # First run: the display joins, completes CBKE and is served.
    async with stick_on(kind, nv) as stick:
        store = StateStore(db)
        han = await start_han(stick, store=store, cbke=(stick_cert,))
        try:
            await join(stick, han)
            await exchange(stick, initiator)
            assert initiator.state is State.SUCCEEDED
            assert (await stick.ask(2, METERING, READ_RECEIVED)).data[:7] == FIRST_READ_ANSWERED
        finally:
            await han.stop()
            store.close()

    # The host restarts on the same state, the stick is power-cycled on the
    # same NV: the display neither joins again nor redoes CBKE.
    async with stick_on(kind, nv) as stick:
        assert stick.link_key(IHD_IEEE) == initiator.key_data  # the stick kept the key
        store = StateStore(db)
        han = await start_han(stick, store=store, cbke=(stick_cert,))
        try:
            sent = stick.record()
            reply = await stick.ask(2, METERING, READ_AGAIN, src_ieee=None)
            assert reply.data[:7] == READ_ANSWERED and reply.aps_encrypted
            assert refusals(sent) == []
            assert not han.app.address_requests  # it knew the display without asking
        finally:
            await han.stop()
            store.close()


@pytest.mark.parametrize("kind", ["ezsp", "znp"])
async def test_the_host_learns_the_displays_the_stick_knows_at_start(kind: str, tmp_path: Path) -> None:
    """No saved state at all: the stick's child / address-manager tables still
    name the display that joined before."""
    nv = tmp_path / f"{kind}-nv.json"
    async with stick_on(kind, nv) as stick:
        han = await start_han(stick)
        try:
            await join(stick, han)
        finally:
            await han.stop()
    async with stick_on(kind, nv) as stick:
        han = await start_han(stick)
        try:
            with pytest.raises(KeyError):
                han.app.get_device(nwk=t.NWK(IHD_NWK))  # zigpy has no database here
            assert han.app.ieee_of(IHD_NWK) == IHD_IEEE
            assert han.addresses.nwk_of(IHD_IEEE) == IHD_NWK
        finally:
            await han.stop()


@pytest.mark.parametrize("kind", ["ezsp", "znp"])
async def test_an_unknown_sender_is_asked_its_ieee_address_then_refused_at_its_own_security_level(
    kind: str,
) -> None:
    stick_cert = TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE))
    async with Stick(kind) as stick:
        han = await start_han(stick, cbke=(stick_cert,))
        try:
            sent = stick.record()
            stick.drain()
            # A display the host never saw join reads the meter under network security only.
            stick.inject(2, METERING, READ_RECEIVED, encrypted=False, src_ieee=None)
            request = await stick.next_sent(IEEE_ADDR_REQ)
            assert (request.dst_nwk, request.src_ep, request.dst_ep, request.profile_id) == (IHD_NWK, 0, 0, 0)
            # NWKAddrOfInterest = the sender, RequestType single, StartIndex 0.
            assert request.data[1:] == IHD_NWK.to_bytes(2, "little") + b"\x00\x00"
            assert not any(s.cluster_id == METERING for s in sent)  # nothing judged yet
            assert answer_zdo(stick, request, display_zdo())

            refusal = await stick.next_sent(METERING)
            assert refusal.data == NOT_AUTHORIZED
            assert not refusal.aps_encrypted  # the display has no APS key to read it with
            assert han.app.ieee_of(IHD_NWK) == IHD_IEEE

            # Under APS security the refusal is APS-secured too; known now, not asked again.
            reply = await stick.ask(2, METERING, READ_AGAIN)
            assert reply.data == NOT_AUTHORIZED_AGAIN and reply.aps_encrypted
            assert list(han.app.address_requests) == [IHD_NWK]
        finally:
            await han.stop()


async def test_an_authorised_display_the_host_does_not_place_is_served_after_it_answers(tmp_path: Path) -> None:
    """CBKE was saved with the meter, but the display's address was not (a
    state written before addresses were kept): its answer to IEEE_addr_req
    is enough to serve it."""
    db = tmp_path / "meter.db"
    store = StateStore(db)
    store.set_meta("cbke_authorised", f'["{IHD_IEEE}"]')
    stick_cert = TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE))
    try:
        async with Stick("znp") as stick:
            han = await start_han(stick, store=store, cbke=(stick_cert,))
            try:
                sent = stick.record()
                # The stick places the display (it could not decrypt its frames
                # otherwise), the host does not: it was added after the host's start.
                stick.fake.device.learn_address(IHD_NWK, IHD_IEEE)
                stick.inject(2, METERING, READ_AGAIN, src_ieee=None)
                request = await stick.next_sent(IEEE_ADDR_REQ)
                assert answer_zdo(stick, request, display_zdo())
                reply = await stick.next_sent(METERING)
                assert reply.data[:7] == READ_ANSWERED and refusals(sent) == []
            finally:
                await han.stop()
    finally:
        store.close()


# --------------------------------------------------------------- EZSP key-table slots
async def test_an_ezsp_link_key_goes_into_the_first_free_key_table_entry() -> None:
    """Entries 0 and 2 hold two other displays' keys; the new key takes entry
    1, and when no entry is free the host says so, naming the table's size."""
    other_a, other_c = t.EUI64.convert("00:0d:6f:00:00:00:00:0a"), t.EUI64.convert("00:0d:6f:00:00:00:00:0c")
    key_a, key_b, key_c = bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48))
    async with Stick("ezsp") as stick:
        han = await start_han(stick)
        try:
            table = stick.fake.tokens.link_keys
            table.clear()
            table.update({0: (bt.EUI64(other_a), key_a), 2: (bt.EUI64(other_c), key_c)})
            assert await han.app.install_link_key(IHD_IEEE, key_b)
            assert table == {0: (other_a, key_a), 1: (IHD_IEEE, key_b), 2: (other_c, key_c)}
            # A new key for the same display replaces its own entry.
            assert await han.app.install_link_key(IHD_IEEE, key_a)
            assert table[1] == (IHD_IEEE, key_a) and len(table) == 3

            size = await han.app.key_table_size()
            for index in range(3, size):
                table[index] = (bt.EUI64(bytes([index]) + bytes(7)), key_c)
            before = dict(table)
            newcomer = t.EUI64.convert("00:0d:6f:00:00:00:00:0e")
            assert not await han.app.install_link_key(newcomer, key_b)
            assert table == before
            problem = han.app.link_key_problem
            assert f"link-key table is full (all {size} entries" in problem and "\n" not in problem
        finally:
            await han.stop()
