"""A network-key update in a conformance run on an emulated stick.

The stick's own stack does it, driven by the host as EmberZNet's Smart
Energy plugin and Z-Stack's MT extensions allow: an APS Transport-Key to
the display under its (CBKE) link key, then the Switch-Key.  The simulated
display on the stick's air takes the key, switches with the stick, and is
served on under the new key without a refusal; the stick keeps the key
across a restart and the host reads it back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import pytest
import zigpy.types as t

from han_emu.conform.plan import parse_plan
from han_emu.conform.run import RadioRun
from han_emu.crypto.certsets import TestCA, eui64_to_cert
from han_emu.han.config import load
from han_emu.han.fakestick import StickDisplays, display_codes
from han_emu.radio.backend import RadioError, start_radio
from han_emu.sim.schedule import DeviceSettings
from tests.radio.stick_support import IHD_IEEE, STICK_IEEE, Stick, quick_ezsp_reset

#: Demand every half second: the display asks before, across and after the switch.
QUICK = DeviceSettings("ihd", "IHD", demand_s=0.5, registers_s=0, prices_s=0, profile_s=0, history_s=0,
                       time_s=0, report=False)
SWITCH_S = 2.0
PLAN = {
    "name": "stick-key", "duration": "9s", "dut": "ihd",
    "event": [{"at": "+2s", "kind": "network-key-update", "switch_s": SWITCH_S}],
    "check": [
        {"type": "completes-cbke", "name": "completes CBKE"},
        {"type": "reads-attribute", "name": "reads demand", "endpoint": "primary", "cluster": "Metering",
         "attribute": "instantaneous_demand", "every_s": 2},
    ],
}


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)


def stick_key(stick: Stick) -> tuple[int, bytes]:
    """The (sequence number, key) the emulated stick holds as its active network key."""
    if stick.kind == "znp":
        active, _ = stick.fake.device.network_key_info()
        return int(active.KeySeqNum), bytes(active.Key)
    tokens = stick.fake.ncp.tokens
    return int(tokens.network_key_seq), bytes(tokens.network_key)


@pytest.mark.parametrize(("kind", "firmware"), [("znp", "zstack-3.x.0"), ("ezsp", "v13"), ("ezsp", "v14")])
async def test_a_display_on_the_stick_air_follows_a_network_key_update(kind: str, firmware: str,
                                                                        tmp_path: Path) -> None:
    logging.getLogger("han_emu").setLevel(logging.ERROR)
    plan = parse_plan(PLAN, "stick-key")
    code = display_codes(["ihd"], tmp_path / "codes.txt")[0]
    config = dataclasses.replace(load(None), cbke=(TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE)),))
    keys = tmp_path / "run.keys"
    async with Stick(kind, firmware=firmware) as stick:
        displays = StickDisplays(stick.fake, ["ihd"], [code], settings=[QUICK], retry_s=0.2, request_timeout=1.0)
        await displays.start()
        try:
            run = RadioRun(plan, stick.spec, code.eui64, code.code, config=config, join_timeout=30,
                           keylog=str(keys), report=lambda line: None)
            old = None
            task = asyncio.ensure_future(run.run())
            while run.han is None or run.han.app is None:
                await asyncio.sleep(0.05)
            old = stick_key(stick)
            log = await asyncio.wait_for(task, 60)
            display = displays.devices[0]
            new = stick_key(stick)
            # A restarted host reads the new key back from the stick.
            app = await start_radio(stick.spec, None, auto_form=False)
            try:
                info = app.state.network_info.network_key
                restarted = (int(info.seq), bytes(info.key))
            finally:
                await app.shutdown(db=False)
            after_restart = stick_key(stick)
        finally:
            await displays.stop()
    (update,) = log.events
    assert "error" not in update.outcome, update.outcome
    assert update.outcome["key_seq"] == (old[0] + 1) & 0xFF and update.outcome["sent_to"] == [str(display.ieee)]
    # The stick moved to a new key, the display with it; the host and a restart follow.
    assert new[0] == update.outcome["key_seq"] and new[1] != old[1]
    assert display.nwk_key_active() == new
    assert restarted == new == after_restart
    assert new[1].hex().upper() in keys.read_text().upper()  # the run's key log has the new key
    # Served on under the new key: requests heard and answered after the switch, no refusal at all.
    switch = update.outcome["switch"]
    asked = [o for o in log.observations if o.incoming and o.time > switch + 0.3]
    answered = [o for o in log.observations if not o.incoming and o.time > switch + 0.3]
    assert asked and answered
    served = run.han.served.devices[log.dut_nwk]
    assert served.refused == 0 and served.answered > 0, served
    assert not [o for o in log.observations if not o.incoming and o.status == 0x7E], "NOT_AUTHORIZED"
    verdicts = run.status.verdicts
    assert [v.passed for v in verdicts] == [True, True], [(v.spec.name, v.seen) for v in verdicts]
    assert display.joins == 1 and display.key_exchanges == 1  # no rejoin, no second CBKE


async def test_a_z_stack_image_without_mt_zdo_extensions_says_it_cannot_update_the_key() -> None:
    async with Stick("znp", key_management=False) as stick:
        app = await start_radio(stick.spec, None, auto_form=True)
        try:
            with pytest.raises(RadioError, match="without MT_ZDO_EXTENSIONS"):
                await app.send_network_key(0x3C2A, IHD_IEEE, t.KeyData(bytes(16)), 1)
        finally:
            await app.shutdown(db=False)


async def test_an_ncp_sends_no_key_to_a_device_without_a_link_key_and_switches_only_after_an_update() -> None:
    async with Stick("ezsp") as stick:
        app = await start_radio(stick.spec, None, auto_form=True)
        try:
            stick.join()
            assert not await app.send_network_key(0x3C2A, IHD_IEEE, t.KeyData(bytes(range(16))), 1)
            with pytest.raises(RadioError, match="refused to switch"):
                await app.switch_network_key(1)
            assert stick.fake.ncp.tokens.network_key_seq == 0
        finally:
            await app.shutdown(db=False)
