"""Each display fault changes the simulated display's behaviour as its name says,
on the virtual HAN, against the same display without it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

import pytest
from zigpy.zcl import foundation

from clusters import Messaging, Metering, Price
from clusters.ids import ZDO_PROFILE_ID
from clusters.zcl_header import read_header
from han_emu.han.config import loads
from han_emu.han.virtual import COORDINATOR_IEEE, VirtualHan
from han_emu.meter.model import TwinMeter
from han_emu.radio.vtime import run_virtual
from han_emu.sim.faults import FAULTS, SLOW_POLL_FACTOR, parse_faults
from han_emu.sim.schedule import DeviceSettings

#: A Monday in June (BST): 06:20 UTC is 07:20 local, ten minutes before Economy 7's
#: night tier ends (a tier change on the primary element at 06:30 UTC).
START = datetime(2026, 6, 1, 6, 20, tzinfo=timezone.utc).timestamp()
IHD = DeviceSettings("ihd", "IHD")
GC = foundation.GeneralCommand


@dataclass(frozen=True)
class Sent:
    """A ZCL frame the display sent: when, to which endpoint, and its header."""

    time: float
    dst_ep: int
    cluster: int
    general: bool
    command: int
    payload: bytes


@dataclass
class Run:
    han: VirtualHan
    sent: list[Sent]
    received: list[Sent]

    @property
    def display(self) -> Any:
        return self.han.devices[0]


def run(seconds: float, faults: tuple[str, ...] = (), during: Callable[[VirtualHan], Awaitable[None]] | None = None,
        config: str = "") -> Run:
    """One IHD on the virtual HAN for ``seconds``; every ZCL frame to and from it kept."""
    cfg = loads(config)
    sent: list[Sent] = []
    received: list[Sent] = []

    def listen(han: VirtualHan, frame: Any) -> None:
        packet = frame.packet
        if frame.aps_ack or packet.profile_id == ZDO_PROFILE_ID or not han.devices:
            return
        ihd = han.devices[0]
        data = packet.data.serialize()
        fc, _mfr, _tsn, command, offset = read_header(data)
        row = Sent(han.clock.now() - START, int(packet.dst_ep or 0), int(packet.cluster_id), fc & 0x03 == 0,
                   command, data[offset:])
        if frame.src_ieee == ihd.ieee:
            sent.append(row)
        elif ihd.nwk is not None and packet.dst is not None and int(packet.dst.address) == int(ihd.nwk):
            received.append(row)

    async def main() -> VirtualHan:
        han = VirtualHan(cfg, TwinMeter(cfg.meter, START), devices=[IHD], faults=faults, seed=7)
        han.listeners.append(listen)
        await han.start()
        if during is not None:
            await during(han)
        await han.run_for(seconds - (han.clock.now() - START))
        await han.stop()
        return han

    return Run(run_virtual(main(), START), sent, received)


def demand_reads(frames: list[Sent], ep: int, after: float = 0.0) -> list[float]:
    return [f.time for f in frames if f.general and f.command == GC.Read_Attributes
            and f.cluster == Metering.cluster_id and f.dst_ep == ep and f.time >= after
            and Metering.AttributeDefs.instantaneous_demand.id in attribute_ids(f.payload)]


def attribute_ids(payload: bytes) -> list[int]:
    return [int.from_bytes(payload[i:i + 2], "little") for i in range(0, len(payload) - 1, 2)]


@pytest.fixture(scope="module")
def good() -> Run:
    """The display without faults, over the tier change, with a message asking for confirmation."""
    async def message(han: VirtualHan) -> None:
        han.send_message("Please confirm", confirm=True)

    return run(900, during=message)


def test_parse_faults_names_the_unknown_one() -> None:
    assert parse_faults("slow-poll, no-confirm") == {"slow-poll", "no-confirm"}
    assert parse_faults(None) == frozenset() and parse_faults(["no-cbke"]) == {"no-cbke"}
    with pytest.raises(ValueError, match=r"unknown display fault 'slow-pol': one of ignore-secondary, slow-poll"):
        parse_faults("slow-pol")
    with pytest.raises(ValueError, match="unknown display fault 'bogus'"):
        VirtualHan(loads(""), TwinMeter(loads("").meter, START), faults=["bogus"])
    assert set(FAULTS) == {"ignore-secondary", "slow-poll", "no-cbke", "ignore-price-push", "no-confirm",
                           "no-recovery"}


def test_ignore_secondary_never_talks_to_the_secondary_esi(good: Run) -> None:
    secondary = good.han.config.endpoints.secondary
    assert any(f.dst_ep == secondary for f in good.sent) and secondary in good.display.esi_endpoints
    bad = run(300, ("ignore-secondary",))
    assert bad.display.esi_endpoints == [good.han.config.endpoints.primary]
    assert bad.sent and not [f for f in bad.sent if f.dst_ep == secondary]


def test_slow_poll_polls_at_a_fraction_of_the_schedule(good: Run) -> None:
    ep = good.han.config.endpoints.primary
    normal = demand_reads(good.sent, ep, after=60)
    bad = run(900, ("slow-poll",))
    slow = demand_reads(bad.sent, ep, after=60)
    # Every 10 s against every 60 s, over the same 14 minutes.
    assert 80 <= len(normal) <= 85 and 13 <= len(slow) <= 15
    assert min(b - a for a, b in zip(slow, slow[1:])) >= IHD.demand_s * SLOW_POLL_FACTOR


def test_no_cbke_skips_key_establishment_and_is_refused(good: Run) -> None:
    refused = foundation.Status.NOT_AUTHORIZED
    assert good.display.key_established
    assert not [f for f in good.received if f.general and f.command == GC.Default_Response and f.payload[1] == refused]
    bad = run(120, ("no-cbke",))
    assert not bad.display.key_established
    assert not [f for f in bad.sent if f.cluster == 0x0800 and not f.general]  # no Key Establishment command
    refusals = [f for f in bad.received if f.general and f.command == GC.Default_Response and f.payload[1] == refused]
    assert len(refusals) >= 10 and not bad.display.readout.elements[good.han.config.endpoints.primary].summation


def price_push_answers(r: Run) -> list[int]:
    """Statuses of the display's Default Responses to PublishPrice."""
    publish = Price.ClientCommandDefs.publish_price.id
    return [f.payload[1] for f in r.sent if f.cluster == Price.cluster_id and f.general
            and f.command == GC.Default_Response and f.payload[0] == publish]


def test_ignore_price_push_refuses_the_pushed_price(good: Run) -> None:
    assert price_push_answers(good) == [foundation.Status.SUCCESS]  # the tier change at 06:30 UTC
    bad = run(900, ("ignore-price-push",))
    assert price_push_answers(bad) == [foundation.Status.UNSUP_CLUSTER_COMMAND]
    # and it reads prices no sooner than its schedule: nothing on Price between 30 s and 600 s
    assert not [f for f in bad.sent if f.cluster == Price.cluster_id and 30 < f.time < IHD.prices_s - 1
                and f.command != GC.Default_Response]


def confirmations(r: Run) -> list[Sent]:
    confirm = Messaging.ServerCommandDefs.message_confirmation.id
    return [f for f in r.sent if f.cluster == Messaging.cluster_id and not f.general and f.command == confirm]


def test_no_confirm_never_confirms(good: Run) -> None:
    assert len(confirmations(good)) == 1 and good.display.confirmed_messages == {1}
    assert len(good.han.meter.messages.confirmations) == 1

    async def message(han: VirtualHan) -> None:
        han.send_message("Please confirm", confirm=True)

    bad = run(300, ("no-confirm",), during=message)
    assert bad.display.readout.message is not None and bad.display.readout.message.text == "Please confirm"
    assert not confirmations(bad) and not bad.han.meter.messages.confirmations


def silence(start_s: float, for_s: float) -> Callable[[VirtualHan], Awaitable[None]]:
    """The meter falls silent to the display at ``start_s`` for ``for_s`` seconds (radio link down)."""
    async def during(han: VirtualHan) -> None:
        ihd = han.devices[0]
        await han.run_for(start_s - (han.clock.now() - START))
        han.air.set_link(ihd.ieee, COORDINATOR_IEEE, up=False)
        await han.run_for(for_s)
        han.air.set_link(ihd.ieee, COORDINATOR_IEEE, up=True)
    return during


def test_no_recovery_stops_polling_after_the_meter_goes_silent() -> None:
    ep = 1
    good = run(400, during=silence(120, 60))
    assert good.display.failures > 0 and not good.display.gave_up
    assert len(demand_reads(good.sent, ep, after=200)) >= 18  # polls again every 10 s
    bad = run(400, ("no-recovery",), during=silence(120, 60))
    assert bad.display.gave_up and len(demand_reads(bad.sent, ep, after=120)) == 1  # the one left unanswered
    assert not [f for f in bad.sent if f.time > 180]  # and nothing once the meter is back
    assert len(demand_reads(bad.sent, ep)) >= 10  # it did poll before
