"""Simulated displays on an emulated stick's air: the whole stick path without hardware.

The emulated NCP is the coordinator and trust centre of a virtual air; an
IHD and a PPMID on that air join when the host opens the network to their
install codes, run CBKE with the host's software responder and poll the
ESIs through the real radio library (zigpy-znp or bellows) and the NCP's
serial protocol.  Then host and stick are both stopped and started again on
the same state database, NV file and display memory: the displays carry on
without joining again and without a new CBKE, and nothing is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import zigpy.types as t

from han_emu.crypto.certsets import TestCA, eui64_to_cert
from han_emu.crypto.installcodes import parse_install_codes
from han_emu.han.config import load
from han_emu.han.fakestick import StickDisplays, display_codes, host_config_text
from han_emu.han.hardware import HardwareHan
from han_emu.han.store import StateStore
from han_emu.meter.model import TwinMeter
from han_emu.sim.schedule import DeviceSettings

from .stick_support import STICK_IEEE, quick_ezsp_reset
from .test_stick_restart import stick_on

KEY_ESTABLISHMENT = 0x0800
KINDS = ["ihd", "ppmid"]
#: Quick schedules: demand twice a second, nothing else periodic.
FAST = [DeviceSettings(kind, kind.upper(), demand_s=0.5, registers_s=0, prices_s=0, profile_s=0, history_s=0,
                       time_s=0, report=False) for kind in KINDS]


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)


async def start_host(stick: Any, db: Path, *, cbke: bool = True) -> tuple[HardwareHan, StateStore, list]:
    """The host with software CBKE: test-CA certificates naming the stick
    (``cbke=False``: a lab host without certificates, no Key Establishment)."""
    certificates = (TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE)),) if cbke else ()
    config = dataclasses.replace(load(None), cbke=certificates)
    store = StateStore(db)
    meter = store.load(config.meter) or TwinMeter(config.meter, time.time())
    han = HardwareHan(config, meter, stick.spec, store=store, step_s=3600, save_every_s=1e9,
                      report=lambda line: None)
    seen: list = []
    han.packet_listeners.append(lambda packet, incoming: seen.append((packet, incoming)))
    await han.start()
    return han, store, seen


async def served(han: HardwareHan, displays: StickDisplays, answers: int, timeout: float = 40) -> None:
    """Until the ESI has answered each display ``answers`` Metering reads since now."""
    start = {d.nwk: han.served.devices.get(int(d.nwk)) for d in displays.devices if d.nwk is not None}
    base = {nwk: s.answered if s is not None else 0 for nwk, s in start.items()}

    def done() -> bool:
        for device in displays.devices:
            got = han.served.devices.get(int(device.nwk)) if device.nwk is not None else None
            if got is None or got.answered < base.get(device.nwk, 0) + answers or not device.esi_endpoints:
                return False
        return True

    async with asyncio.timeout(timeout):
        while not done():
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("kind", ["znp", "ezsp"])
async def test_displays_on_the_stick_join_do_cbke_and_stay_served_across_a_restart_of_both(
    kind: str, tmp_path: Path,
) -> None:
    nv, db, memory, codes_file = (tmp_path / n for n in (f"{kind}-nv.json", "meter.db", "displays.json", "codes.txt"))
    codes = display_codes(KINDS, codes_file)
    assert parse_install_codes(codes_file.read_text()) == codes  # what permit --install-codes reads

    # First run: the network opens to the install codes; the displays join, do CBKE, are served.
    async with stick_on(kind, nv) as stick:
        displays = StickDisplays(stick.fake, KINDS, codes, memory=memory, settings=FAST, retry_s=0.2,
                                 request_timeout=2.0)
        await displays.start()
        han, store, seen = await start_host(stick, db)
        try:
            await asyncio.sleep(0.5)
            assert not any(d.joined for d in displays.devices)  # nobody joins a closed network
            for code in codes:
                await han.permit_install_code(t.EUI64.convert(code.eui64), code.code, 60)
            await served(han, displays, 3)
            assert [d.joins for d in displays.devices] == [1, 1]
            assert [d.key_exchanges for d in displays.devices] == [1, 1]
            assert {bytes(d.ieee) for d in displays.devices} <= set(han.authorised)
            assert all(s.refused == 0 for s in han.served.devices.values())
            # The display's reads travel APS-secured under the key CBKE agreed.
            for device in displays.devices:
                assert stick.link_key(device.ieee) == bytes(device.link_key)
            addresses = {d.ieee: d.nwk for d in displays.devices}
        finally:
            await han.stop()
            store.close()
            await displays.stop()

    # Both restarted on the same NV, state and display memory.
    async with stick_on(kind, nv) as stick:
        displays = StickDisplays(stick.fake, KINDS, codes, memory=memory, settings=FAST, retry_s=0.2,
                                 request_timeout=2.0)
        await displays.start()
        han, store, seen = await start_host(stick, db)
        try:
            await served(han, displays, 3)
            assert [d.resumed for d in displays.devices] == [True, True]
            assert [d.joins for d in displays.devices] == [0, 0]  # no rejoin
            assert [d.key_exchanges for d in displays.devices] == [0, 0]  # no new CBKE
            assert not any(int(p.cluster_id) == KEY_ESTABLISHMENT for p, _ in seen)
            assert {d.ieee: d.nwk for d in displays.devices} == addresses
            assert all(s.refused == 0 for s in han.served.devices.values())
            assert sum(s.requests for s in han.served.devices.values()) >= 6
        finally:
            await han.stop()
            store.close()
            await displays.stop()


@pytest.mark.parametrize("kind", ["znp", "ezsp"])
async def test_a_host_stopped_as_soon_as_cbke_is_done_leaves_every_key_in_the_stick(
    kind: str, tmp_path: Path,
) -> None:
    """``permit --install-codes`` returns once each display has completed CBKE
    and stops the host at once: the keys CBKE agreed must be in the stick by
    then, and each display must have had the ESI's last CBKE answer, or a
    display that believes it is done is unreadable (a GB IHD does not redo
    CBKE by itself).

    Frames take 50 ms on this air (CSMA back-off and MAC retries), so the
    last answer is still on its way when the host decides to stop: the stop
    waits for the stick's confirm, which comes once the display has it."""
    kinds = ["ihd", "ppmid", "cad"]
    settings = [dataclasses.replace(FAST[0], kind=k, name=k.upper()) for k in kinds]
    codes = display_codes(kinds, tmp_path / "codes.txt")
    async with stick_on(kind, tmp_path / "nv.json") as stick:
        displays = StickDisplays(stick.fake, kinds, codes, memory=tmp_path / "displays.json", settings=settings,
                                 retry_s=0.2, request_timeout=2.0)
        await displays.start()
        assert displays.air is not None
        displays.air.latency = 0.05
        han, store, _ = await start_host(stick, tmp_path / "meter.db")
        try:
            for code in codes:
                await han.permit_install_code(t.EUI64.convert(code.eui64), code.code, 60)
            async with asyncio.timeout(40):
                while len(han.authorised) < len(codes):
                    await asyncio.sleep(0.02)
        finally:
            await han.stop()
            store.close()
        try:
            for device in displays.devices:
                assert stick.link_key(device.ieee) == bytes(device.link_key)
            await asyncio.sleep(0.5)
            assert [d.key_exchanges for d in displays.devices] == [1, 1, 1]
        finally:
            await displays.stop()


@pytest.mark.parametrize("kind", ["znp", "ezsp"])
async def test_a_display_that_never_did_cbke_across_a_restart_of_both(kind: str, tmp_path: Path) -> None:
    """A lab display (no certificates, a host without Key Establishment) keeps
    the install-code key it joined with, and its reads are APS-secured with it.

    Z-Stack keeps that key in NV: APP_CNF_BDB_ADD_INSTALLCODE puts it in the
    install-code key table and makes the display's trust-centre entry
    PROVISIONAL (``zd_sec_mgr.c``), so after both restart the stick still
    checks the display's frames and the host serves them.  EmberZNet holds
    it as a transient key (``importTransientKey``: the transient key table,
    RAM with a countdown, "used during Zigbee 3.0 joining"), so after a reset
    the stick drops the display's APS-secured frames: such a display must be
    let in again.  A display that completed CBKE is served on both (above)."""
    nv, db, memory = tmp_path / f"{kind}-nv.json", tmp_path / "meter.db", tmp_path / "displays.json"
    codes = display_codes(KINDS[:1], tmp_path / "codes.txt")

    @contextlib.asynccontextmanager
    async def lab_session() -> AsyncIterator[tuple[Any, HardwareHan, StickDisplays]]:
        """The stick on ``nv``, the display on ``memory``, a host without CBKE on ``db``."""
        async with stick_on(kind, nv) as stick:
            displays = StickDisplays(stick.fake, KINDS[:1], codes, memory=memory, settings=FAST[:1], retry_s=0.2,
                                     request_timeout=2.0, cbke=False)
            await displays.start()
            han, store, _ = await start_host(stick, db, cbke=False)
            try:
                yield stick, han, displays
            finally:
                await han.stop()
                store.close()
                await displays.stop()

    async with lab_session() as (stick, han, displays):
        await han.permit_install_code(t.EUI64.convert(codes[0].eui64), codes[0].code, 60)
        await served(han, displays, 3)
        assert [d.key_established for d in displays.devices] == [False]

    async with lab_session() as (stick, han, displays):
        assert [d.resumed for d in displays.devices] == [True]
        if kind == "znp":
            await served(han, displays, 3)
        else:
            await asyncio.sleep(3.0)
            assert all(s.answered == 0 for s in han.served.devices.values())
            assert displays.devices[0].link_key is not None
            assert stick.fake.link_key(displays.devices[0].ieee) is None


async def test_a_display_holding_a_wrong_install_code_is_refused_by_the_stick(tmp_path: Path) -> None:
    """The trust centre admits a device only with the key the host installed for it."""
    codes = display_codes(["ihd"], tmp_path / "codes.txt")
    async with stick_on("znp", tmp_path / "nv.json") as stick:
        displays = StickDisplays(stick.fake, ["ihd"], codes, settings=FAST[:1], retry_s=0.1, request_timeout=1.0)
        await displays.start()
        han, store, _ = await start_host(stick, tmp_path / "meter.db")
        try:
            other = display_codes(["ihd"], tmp_path / "other.txt")[0]
            await han.permit_install_code(t.EUI64.convert(codes[0].eui64), other.code, 60)
            await asyncio.sleep(1.0)
            assert not displays.devices[0].joined and not han.joined
        finally:
            await han.stop()
            store.close()
            await displays.stop()


def test_the_host_configuration_names_the_stick_in_its_certificates(tmp_path: Path) -> None:
    path = tmp_path / "host.toml"
    path.write_text(host_config_text(STICK_IEEE))
    config = load(path)
    assert {c.suite.number for c in config.cbke} == {1, 2}
    assert all(c.subject == eui64_to_cert(STICK_IEEE) for c in config.cbke)


def test_an_existing_codes_file_is_read_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "codes.txt"
    first = display_codes(["ihd", "ppmid"], path)
    text = path.read_text()
    assert display_codes(["ihd", "ppmid"], path) == first
    with pytest.raises(ValueError, match="holds 2 install code"):
        display_codes(["ihd", "ppmid", "cad"], path)
    assert path.read_text() == text
