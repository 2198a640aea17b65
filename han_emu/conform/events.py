"""The meter events a plan schedules, applied to a running HAN.

Each kind is one coroutine taking the :class:`Target` (the running virtual or
hardware HAN, the display under test's addresses, the run's clock) and the
event's checked parameters, and returning its outcome: what it did, in
numbers a check can use (the new IssuerEventID, when the ESI answers again).
Events that last (a supply interruption, a restart, a solar burst) return at
once and end in a task of their own, so the plan's later events keep their
times.  ``docs/conformance.md`` describes every kind.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import zigpy.exceptions
import zigpy.types as t
import zigpy.zdo.types as zdo_t

from clusters.ids import KEY_ESTABLISHMENT, SE_PROFILE_ID

from han_emu.conform.model import EventRecord
from han_emu.conform.plan import PlanEvent
from han_emu.meter.credit import PREPAYMENT
from han_emu.meter.gbtime import HALF_HOUR, iso_gb, utc_offset
from han_emu.meter.model import Flow, TwinMeter
from han_emu.meter.settings import SECONDARY
from han_emu.meter.tariff import Tariff
from han_emu.server.key_establishment import KeyEstablishmentBusy
from han_emu.server.metering import SUMMATION_FORMATTING

LOGGER = logging.getLogger(__name__)

#: Kinds a run on a stick cannot play: the sticks are 2.4 GHz, so there is no
#: sub-GHz HAN to suspend a display on.
RADIO_UNSUPPORTED = frozenset({"subghz-suspend"})


MATCH_DESC_TIMEOUT_S = 10.0
"""Seconds a re-key waits for the display's Match_Desc_rsp."""


class EventError(RuntimeError):
    """An event that cannot be applied to this HAN (said in one line)."""


class EventBusy(EventError):
    """The exchange an event would start with the display runs already (it may still complete)."""


class Target:
    """What events act on: a running ``VirtualHan`` or ``HardwareHan``.

    ``dut_ieee`` and ``dut_nwk`` are the display under test's addresses
    (the NWK read when needed: a display may change it); ``origin`` is the
    POSIX time the run's seconds count from."""

    def __init__(self, han: Any, *, dut_ieee: t.EUI64, dut_nwk: Callable[[], int | None], origin: float,
                 virtual: bool, recording: Any = None, random: Callable[[int], bytes] | None = None) -> None:
        self.han = han
        self.dut_ieee = dut_ieee
        self.dut_nwk = dut_nwk
        self.origin = origin
        self.virtual = virtual
        self.recording = recording
        self.random = random
        self.tasks: set[asyncio.Task[None]] = set()
        self._overlay: BurstScenario | None = None
        self._silenced = 0
        self._inner: Any = None
        self._off = 0

    # -- what the events touch ----------------------------------------------------------
    @property
    def meter(self) -> TwinMeter:
        return self.han.meter

    @property
    def esi(self) -> Any:
        """The EsiServer (behind the hardware HAN's tap, the server itself)."""
        return self.han.server if self.virtual else self.han.esi

    def now(self) -> float:
        return self.han.clock.now()

    def run_time(self) -> float:
        return self.now() - self.origin

    def changed(self) -> None:
        """The meter or the server changed: let reports and publishes go out."""
        esi = self.esi
        if esi is not None:
            esi.meter_changed()
        if self.han.app is not None:
            self.han.app.wake_server()

    def later(self, seconds: float, action: Callable[[], Awaitable[None]], name: str) -> None:
        """Run ``action`` ``seconds`` from now, in a task the run awaits at its end."""
        async def wait_then() -> None:
            await asyncio.sleep(seconds)
            try:
                await action()
            except Exception:  # the run goes on; the checks see what the HAN did
                LOGGER.exception("%s failed", name)

        task = asyncio.get_running_loop().create_task(wait_then(), name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def finish(self) -> None:
        """Cancel what is still pending (the run is over)."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # -- the ESI silent -------------------------------------------------------------------
    def silence(self, on: bool) -> None:
        """Make the ESI silent to the display (nested: the last ``False`` ends it).

        Virtual: the radio link between the coordinator and the display goes
        down, so the display's frames reach nobody (as when the meter, which
        powers the hub, is off).  On a stick: the server answers nothing."""
        self._silenced += 1 if on else -1
        silent = self._silenced > 0
        han = self.han
        if self.virtual:
            han.air.set_link(self.dut_ieee, han.app.state.node_info.ieee, up=not silent)
            return
        if silent and self._inner is None:
            self._inner, han.server.inner = han.server.inner, SilentServer(han.server.inner)
        elif not silent and self._inner is not None:
            han.server.inner, self._inner = self._inner, None

    def restart_server(self, meter: TwinMeter) -> None:
        """Serve ``meter`` with a new ESI; on a stick, a silence still on goes on
        (the new server behind it) and the old server is not served again."""
        han = self.han
        if self.virtual or self._inner is None:
            han.restart_server(meter)
            return
        han.server.inner = self._inner
        han.restart_server(meter)
        self._inner, han.server.inner = han.server.inner, SilentServer(han.server.inner)

    @property
    def meter_running(self) -> bool:
        return self._off == 0

    async def meter_off(self) -> None:
        """The meter stops measuring (nested: the last :meth:`meter_on` starts it again)."""
        self._off += 1
        if self._off == 1:
            self.han.runner.drive()
            await self.han.runner.stop()

    def meter_on(self) -> None:
        self._off -= 1
        if self._off == 0:
            self.meter.resume(self.now())
            self.han.runner.start()
        self.changed()

    def scenario_overlay(self) -> BurstScenario:
        if self._overlay is None:
            self._overlay = BurstScenario(self.han.runner.scenario)
            self.han.runner.scenario = self._overlay
        return self._overlay


class SilentServer:
    """A packet server that takes every packet and answers none (a silent ESI on a stick)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def descriptors(self) -> Any:
        return self.inner.descriptors()

    def wants(self, packet: t.ZigbeePacket) -> bool:
        return self.inner.wants(packet)

    def handle(self, packet: t.ZigbeePacket) -> list[t.ZigbeePacket]:
        return []

    def due(self) -> list[t.ZigbeePacket]:
        return []

    def next_due(self) -> float | None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class BurstScenario:
    """The run's scenario with solar export bursts added on the secondary element."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.bursts: list[tuple[float, float, float]] = []  # (start, end, watts)

    def flows(self, ts: float, cheap_tier: bool = False) -> dict[str, Flow]:
        flows = self.inner.flows(ts, cheap_tier=cheap_tier)
        extra = sum(w for start, end, w in self.bursts if start <= ts < end)
        if extra:
            sec = flows[SECONDARY]
            net = sec.export_w - sec.import_w + extra
            flows[SECONDARY] = Flow(max(0.0, -net), max(0.0, net), sec.reactive_import_var if net < 0 else 0.0, 0.0)
        return flows

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class HeldTier:
    """A switching table that keeps ``tier`` from ``since`` on (a tier switch
    ordered mid-run), and follows ``base`` before it."""

    def __init__(self, base: Any, since: float, tier: int) -> None:
        self.base, self.since, self.tier = base, since, tier

    def tier_at(self, ts: float) -> int:
        return self.tier if ts >= self.since else self.base.tier_at(ts)

    def changes(self, ts: float, count: int, horizon_days: int = 8) -> list[tuple[int, int]]:
        if ts >= self.since:
            return []
        out = [c for c in self.base.changes(ts, count, horizon_days) if c[0] < self.since]
        return (out + [(math.ceil(self.since), self.tier)])[:count]

    def current_start(self, ts: float, since: float) -> int:
        if ts >= self.since:
            return max(math.ceil(self.since), int(since // HALF_HOUR) * HALF_HOUR)
        return self.base.current_start(ts, since)

    def __repr__(self) -> str:
        return f"HeldTier({self.base!r}, since={self.since!r}, tier={self.tier})"


def _set_tariff(meter: TwinMeter, element: str, direction: str, tariff: Tariff) -> None:
    settings = meter.settings.element(element)
    settings = replace(settings, **{f"{direction}_tariff": tariff})
    meter.settings = replace(meter.settings, **{element: settings})
    meter.tariffs_changed()


# -- the kinds ----------------------------------------------------------------------------------

Outcome = dict[str, Any]


async def tier_switch(target: Target, element: str, direction: str, tier: int) -> Outcome:
    meter = target.meter
    tariff = meter.tariff(element, direction)
    if tariff is None:
        raise EventError(f"tier-switch: the {element} element has no {direction} tariff")
    if tariff.tiers < 2:
        raise EventError(f"tier-switch: the {element} {direction} tariff has one tier: nothing to switch to")
    current = meter.active_tier(element, direction) or 1
    new = tier or current % tariff.tiers + 1
    if new > tariff.tiers:
        raise EventError(f"tier-switch: tier {new} is beyond the {element} {direction} tariff's {tariff.tiers}")
    # The tier changes at the meter's own time: on a stick the meter is stepped
    # every few seconds behind the wall clock, and it picks its tier again only
    # at a half hour, so a switch held from the clock's "now" would wait for one.
    target.han.runner.drive()
    now = meter.time
    _set_tariff(meter, element, direction, replace(tariff, switching=HeldTier(tariff.switching, now, new)))
    target.changed()  # the server sees the tier change and publishes it to its subscribers
    prices = target.esi.prices[element]
    return {"element": element, "direction": direction, "from_tier": current, "to_tier": new,
            "issuer_event_id": prices.price_event_id(now),
            "published_to": len(target.esi.price_subscribers(element)),
            "price": str(tariff.price_of(new))}


async def new_prices(target: Target, element: str, change_pct: float) -> Outcome:
    meter = target.meter
    factor = Decimal(str(1 + change_pct / 100.0))
    out: dict[str, list[str]] = {}
    for direction in ("import", "export"):
        tariff = meter.tariff(element, direction)
        if tariff is None:
            continue
        prices = tuple((p * factor).quantize(Decimal("0.0001")) for p in tariff.prices)
        _set_tariff(meter, element, direction, replace(tariff, prices=prices))
        out[direction] = [str(p) for p in prices]
    now = target.now()
    meter.tariff_since = max(float(math.ceil(now)), meter.tariff_since + 1)  # a new IssuerEventID
    published = target.esi.publish_price(element, "new prices")
    target.changed()
    return {"element": element, "issuer_event_id": target.esi.prices[element].price_event_id(now),
            "prices": out, "published_to": published}


async def dst_change(target: Target, to: str) -> Outcome:
    now = target.now()
    before, after = utc_offset(now - 1), utc_offset(now)
    if before == after:
        raise EventError(f"dst-change: no change of GB time at {iso_gb(now)} (start the plan without 'start')")
    target.changed()
    return {"to": to, "utc_offset_before": before, "utc_offset_after": after, "local_time": iso_gb(now)}


async def supply_interruption(target: Target, minutes: float) -> Outcome:
    await target.meter_off()
    target.silence(True)
    seconds = minutes * 60.0

    async def back() -> None:
        target.silence(False)
        target.meter_on()

    target.later(seconds, back, "supply-back")
    return {"minutes": minutes, "end": target.run_time() + seconds}


async def meter_restart(target: Target, down_s: float) -> Outcome:
    han = target.han
    store = han.store
    if store is None:
        raise EventError("meter-restart: the run keeps no state store to restart from")
    await target.meter_off()
    han.runner.save()
    target.silence(True)
    saved_at = target.meter.time

    async def back() -> None:
        meter = store.load(target.meter.settings)
        if meter is None:
            raise EventError("meter-restart: nothing was saved")
        meter.resume(target.now())
        target.restart_server(meter)
        target.silence(False)
        target.meter_on()

    target.later(down_s, back, "meter-back")
    return {"down_s": down_s, "saved_at": iso_gb(saved_at), "end": target.run_time() + down_s}


async def export_burst(target: Target, kw: float, minutes: float) -> Outcome:
    now = target.now()
    target.scenario_overlay().bursts.append((now, now + minutes * 60.0, kw * 1000.0))
    target.han.runner.drive()
    target.changed()
    return {"kw": kw, "minutes": minutes, "end": target.run_time() + minutes * 60.0,
            "export_wh": target.meter.elements[SECONDARY].register("export")}


def rollover_wh() -> int:
    """Where the registers roll over on a display: the digits left of the point
    SummationFormatting gives (bits 3-6), in kWh, as Wh."""
    digits = (SUMMATION_FORMATTING >> 3) & 0x0F
    return 10 ** digits * 1000


async def register_near_rollover(target: Target, element: str, direction: str, below_kwh: float) -> Outcome:
    wh = rollover_wh() - below_kwh * 1000.0
    target.meter.preset_register(element, direction, wh)
    target.changed()
    return {"element": element, "direction": direction, "register_wh": int(wh), "rollover_kwh": rollover_wh() // 1000}


async def network_key_update(target: Target, switch_s: float = 10.0) -> Outcome:
    han = target.han
    key = (target.random or _system_random)(16)
    if not target.virtual:
        return await _stick_network_key_update(target, key, switch_s)
    info = han.app.state.network_info
    seq = (int(info.network_key.seq) + 1) & 0xFF
    han.app.state.network_info = info.replace(network_key=info.network_key.replace(key=t.KeyData(key), seq=seq))
    recording = target.recording
    if recording is not None and recording.network is not None:
        recording.network.set_network_key(key, seq)  # the capture and its key log follow
    return {"key_seq": seq}


async def _stick_network_key_update(target: Target, key: bytes, switch_s: float) -> Outcome:
    """The stick's own stack sends every display the new key (Transport-Key,
    under each display's link key) and, ``switch_s`` later, the Switch-Key,
    moving to the key itself: a sleepy display picks the Transport-Key up
    from its parent at its next poll before the switch comes."""
    han = target.han
    try:
        seq, sent = await han.send_network_key(key)
    except Exception as exc:  # RadioError, or the stick's link went: said in one line
        raise EventError(f"network-key-update: {exc}") from None
    if not sent:
        raise EventError("network-key-update: the stick sent the new key to no device, so it does not switch")

    async def switch() -> None:
        await han.switch_network_key(seq)
        recording = target.recording
        if recording is not None and getattr(recording, "network", None) is not None:
            recording.network.set_network_key(key, seq)  # the capture and its key log follow

    target.later(switch_s, switch, "network-key-switch")
    return {"key_seq": seq, "sent_to": [str(ieee) for ieee in sent], "switch": target.run_time() + switch_s}


def _system_random(n: int) -> bytes:
    import os

    return os.urandom(n)


async def message(target: Target, text: str, confirm: bool, minutes: int) -> Outcome:
    sent = target.han.send_message(text, confirm=confirm, duration_min=minutes or None)
    target.changed()
    return {"message_id": int(sent.id), "confirm": confirm}


def _prepayment(target: Target, element: str) -> Any:
    meter = target.meter
    account = meter.prepayment[element]
    if not account.prepayment:  # the run puts the element in prepayment mode
        settings = replace(account.settings, mode=PREPAYMENT)
        account.settings = settings
        el = replace(meter.settings.element(element), prepayment=settings)
        meter.settings = replace(meter.settings, **{element: el})
    return account


async def low_credit(target: Target, element: str) -> Outcome:
    account = _prepayment(target, element)
    account.credit = float(account.settings.low_credit_warning) / 2
    target.changed()
    return {"element": element, "credit": round(account.credit, 2), "credit_status": account.status()}


async def emergency_credit(target: Target, element: str) -> Outcome:
    account = _prepayment(target, element)
    account.credit = min(float(account.settings.emergency_credit_threshold) / 2, account.credit)
    target.changed()
    return {"element": element, "credit": round(account.credit, 2), "credit_status": account.status(),
            "emergency_available": account.emergency_available()}


async def cbke_rekey(target: Target) -> Outcome:
    """The ESI starts CBKE with the DUT (it is the initiator); the DUT's current link
    key serves it until the new one is agreed."""
    esi = target.esi
    ke = esi.key_establishment if esi is not None else None
    if ke is None:
        raise EventError("cbke-rekey: the ESI runs no CBKE here")
    nwk = target.dut_nwk()
    if nwk is None:
        raise EventError("cbke-rekey: the display has not joined")
    endpoint = ke.partner_endpoint(target.dut_ieee)
    found_by = "its own key establishment"
    if endpoint is None:
        endpoint, found_by = await _key_establishment_endpoint(target, nwk), "Match_Desc"
    try:
        tsn = esi.rekey(target.dut_ieee, nwk, endpoint)
    except KeyEstablishmentBusy as exc:
        raise EventBusy(f"cbke-rekey: {exc}") from None
    target.changed()  # the InitiateKeyEstablishmentRequest goes out now
    return {"dut": str(target.dut_ieee), "endpoint": endpoint, "endpoint_from": found_by, "tsn": tsn}


async def _key_establishment_endpoint(target: Target, nwk: int) -> int:
    """The DUT's Key Establishment server endpoint, asked with Match_Desc (the meter
    has not seen the DUT run key establishment)."""
    app = target.han.app
    try:
        try:
            device = app.get_device(ieee=target.dut_ieee)
        except KeyError:  # on the stick's network from an earlier session: known by its address only
            device = app.add_device(target.dut_ieee, t.NWK(nwk))
        async with asyncio.timeout(MATCH_DESC_TIMEOUT_S):
            status, _nwk, endpoints = await device.zdo.request(
                zdo_t.ZDOCmd.Match_Desc_req, t.NWK(nwk), SE_PROFILE_ID, [KEY_ESTABLISHMENT], [])
    except (KeyError, TimeoutError, zigpy.exceptions.ZigbeeException, ValueError) as exc:
        raise EventError(f"cbke-rekey: Match_Desc for the display's Key Establishment server failed "
                         f"({exc or type(exc).__name__})") from None
    if status != zdo_t.Status.SUCCESS or not endpoints:
        raise EventError("cbke-rekey: the display serves no Key Establishment cluster (Match_Desc found none)")
    return int(endpoints[0])


async def subghz_suspend(target: Target, minutes: int) -> Outcome:
    sub = getattr(target.esi, "sub_ghz", None)
    nwk = target.dut_nwk()
    if sub is None:
        raise EventError("subghz-suspend: the hub serves no Sub-GHz cluster (plan phy = \"gb868\")")
    if nwk is None:
        raise EventError("subghz-suspend: the display has not joined")
    sent = sub.suspend(nwk, minutes)
    target.changed()
    return {"minutes": minutes, "end": target.run_time() + minutes * 60.0, "sent": sent}


KINDS: dict[str, Callable[..., Awaitable[Outcome]]] = {
    "tier-switch": tier_switch,
    "new-prices": new_prices,
    "dst-change": dst_change,
    "supply-interruption": supply_interruption,
    "meter-restart": meter_restart,
    "export-burst": export_burst,
    "register-near-rollover": register_near_rollover,
    "network-key-update": network_key_update,
    "message": message,
    "low-credit": low_credit,
    "emergency-credit": emergency_credit,
    "cbke-rekey": cbke_rekey,
    "subghz-suspend": subghz_suspend,
}


async def apply(target: Target, event: PlanEvent) -> EventRecord:
    """Apply ``event`` now; an event that cannot be applied is recorded with its ``error``."""
    time = target.run_time()
    if target.meter_running:  # the meter up to now: what the event changes starts now, not at its last step
        target.han.runner.drive()
    try:
        outcome = await KINDS[event.kind](target, **event.params)
    except EventError as exc:
        LOGGER.warning("%s", exc)
        outcome = {"error": str(exc)}
    return EventRecord(event.kind, time, dict(event.params), outcome)
