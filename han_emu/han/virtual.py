"""The virtual HAN: the meter's ESIs on a virtual coordinator, simulated
displays around it, and a scenario driving the meter, all on one clock.

It runs on a virtual-time loop for simulations (24 hours in seconds) or on the
wall clock live; the ESI server reaches the air through the same zigpy
ControllerApplication interface the hardware backends use.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random as _random
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from collections.abc import Callable, Iterable
from typing import Any, Sequence

import zigpy.types as t

from clusters.ids import ZDO_PROFILE_ID
from clusters.mp184 import Role
from han_emu.crypto.certsets import certificate_set_for, eui64_to_cert, install_code_for
from han_emu.meter.clock import Clock
from han_emu.han.config import Config
from han_emu.crypto.logsafety import protect
from han_emu.meter.model import TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.radio.backend import NetworkSettings
from han_emu.radio.host import ServerHost
from han_emu.radio.virtual import AirFrame, VirtualAir, VirtualControllerApplication
from han_emu.radio.vtime import clock_for_loop
from han_emu.server.esi import EsiServer
from han_emu.sim.display import SimDisplay
from han_emu.sim.faults import parse_faults
from han_emu.sim.schedule import DeviceSettings, default_devices
from han_emu.han.runner import MeterRunner
from han_emu.han.store import StateStore

LOGGER = logging.getLogger(__name__)

COORDINATOR = "ESI"
PROGRESS_STEPS = 200
"""How often a long run tells its progress: fine enough for a smooth bar."""
COORDINATOR_IEEE = t.EUI64.convert("00:0d:6f:00:00:00:00:01")
_UNICAST = (t.AddrMode.NWK, t.AddrMode.IEEE)
NWK_COUNTER_KEY = "nwk_frame_counter"  # the coordinator's, in the state database's meta table
COUNTERS_KEY = "frame_counters"  # every node's, and every receiver's tables (VirtualAir.counter_state)


class HostedVirtualApp(ServerHost, VirtualControllerApplication):
    """The virtual coordinator carrying the ESI server."""


@dataclass
class Traffic:
    """APS data frames on the air, per transmitting device: ZCL frames per
    cluster, ZDO frames per command (the two share their numbers, nothing else)."""

    frames: Counter[tuple[str, int]] = field(default_factory=Counter)
    """ZCL frames by (device, cluster id)."""
    zdo: Counter[tuple[str, int]] = field(default_factory=Counter)
    """ZDO frames by (device, ZDO cluster id)."""
    acks: Counter[str] = field(default_factory=Counter)
    failed: int = 0

    def per_device(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for counter in (self.frames, self.zdo):
            for (device, _), n in counter.items():
                out[device] += n
        return dict(out)


class VirtualHan:
    def __init__(
        self,
        config: Config,
        meter: TwinMeter,
        *,
        store: StateStore | None = None,
        devices: Sequence[DeviceSettings] | None = None,
        step_s: float = 10.0,
        save_every_s: float = 60.0,
        accept_unencrypted: bool = False,
        cbke: bool = True,
        sub_ghz: bool = False,
        mp184: bool = True,
        scenario: Any = None,
        seed: int | None = None,
        network: NetworkSettings | None = None,
        faults: Iterable[str] = (),
    ) -> None:
        """``sub_ghz``: the hub serves the Sub-GHz cluster (duty-cycle throttling);
        ``mp184=False``: displays that do not know the MP184 export items;
        ``seed``: draw everything random (network key, PAN and extended PAN
        ids, NWK addresses, CBKE's ephemeral keys) from a generator seeded
        with it, so a run on virtual time is the same frame for frame (a
        repeatable capture); None: the operating system's randomness;
        ``network``: what the coordinator forms its network with (what it
        leaves None: channel 15, and the rest drawn); ``faults``: what every
        simulated display does wrong (:data:`han_emu.sim.faults.FAULTS`; a
        conformance run's display under test), ValueError on an unknown one."""
        self.config = config
        self.network = network
        self.runner = MeterRunner(meter, scenario if scenario is not None else Scenario(config.scenario),
                                  store=store, step_s=step_s, save_every_s=save_every_s,
                                  on_step=self._meter_changed, save_also=self._save_counters)
        self.device_settings = tuple(devices if devices is not None else default_devices())
        self.accept_unencrypted = accept_unencrypted
        self.cbke = cbke
        self.sub_ghz = sub_ghz
        self.mp184 = mp184
        self.faults = parse_faults(faults)
        self.traffic = Traffic()
        self.devices: list[SimDisplay] = []
        self.air: VirtualAir | None = None
        self.app: HostedVirtualApp | None = None
        self.server: EsiServer | None = None
        self._names: dict[bytes, str] = {}  # by address bytes: EUI64 hashes through repr()
        # Names found in _names (which never changes one), by the address object a frame carries.
        self._names_seen: dict[int, tuple[t.EUI64, str]] = {}
        self.listeners: list[Any] = []
        self.seed = seed
        self._rng = _random.Random(seed) if seed is not None else None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- the meter (stepped and saved by its runner) --------------------------------------
    @property
    def meter(self) -> TwinMeter:
        return self.runner.meter

    @property
    def scenario(self) -> Any:
        """A :class:`Scenario` (its settings may be changed mid-run) or a recorded one."""
        return self.runner.scenario

    @property
    def store(self) -> StateStore | None:
        return self.runner.store

    @property
    def clock(self) -> Clock | None:
        """The loop's clock, from :meth:`start` on."""
        return self.runner.clock

    def _meter_changed(self) -> None:
        if self.server is not None and self.app is not None:
            self.server.meter_changed()
            self.app.wake_server()

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        protect()  # no key in the logs, whatever zigpy prints at DEBUG
        self._loop = asyncio.get_running_loop()
        self.runner.clock = clock_for_loop()
        self.runner.drive()  # bring the meter up to the clock before anyone reads it
        rng = self._rng
        self.air = VirtualAir() if rng is None else VirtualAir(seed=rng.getrandbits(64))
        self.air.add_listener(self._on_air)
        network = NetworkSettings(channel=15)
        if rng is not None:  # what zigpy would otherwise draw from the system when forming
            network = NetworkSettings(channel=15, pan_id=rng.randint(0x0001, 0xFFFE),
                                      extended_pan_id=rng.randbytes(8), network_key=rng.randbytes(16))
        if self.network is not None:  # what was asked for, over the defaults and the draws
            given = {f.name: getattr(self.network, f.name) for f in fields(self.network)}
            network = replace(network, **{k: v for k, v in given.items() if v is not None})
        self.app = HostedVirtualApp({"network": network.zigpy_network()}, air=self.air, ieee=COORDINATOR_IEEE)
        self._restore_counters()
        self.server = self._make_server(self.config.messages)
        self.app.attach_server(self.server, self.clock)
        await self.app.startup(auto_form=True)
        info = self.app.state.network_info
        protect(bytes(info.network_key.key), bytes(info.tc_link_key.key))
        self._names[bytes(self.app.state.node_info.ieee)] = COORDINATOR
        await self.app.permit_ncp(254)
        self.runner.start()
        for i, settings in enumerate(self.device_settings):
            ieee = f"00:0d:6f:00:00:01:{0x10 + i // 256:02x}:{i % 256:02x}"
            device = SimDisplay(self.air, ieee, settings, self.clock, self.config.endpoints,
                                tiers=self._export_tiers(), mp184=self.mp184, faults=self.faults)
            self._names[bytes(device.ieee)] = device.name
            self.devices.append(device)
        for device in self.devices:
            if self.cbke:
                code = install_code_for(eui64_to_cert(device.ieee))
                protect(bytes(await self.app.permit_with_install_code(device.ieee, code)))
                device.use_cbke(certificate_set_for(eui64_to_cert(device.ieee), 1), code,
                                random=None if rng is None else rng.randbytes)
            await device.start()
            device.run()

    def _make_server(self, messages: Sequence[Any] = ()) -> EsiServer:
        """The ESI server on the coordinator; ``messages``: the configured ones, scheduled from now."""
        assert self.app is not None
        identities = None
        if self.cbke:  # a Smart Energy trust centre: configured certificates, or the test CA's
            identities = list(self.config.cbke) or [
                certificate_set_for(eui64_to_cert(COORDINATOR_IEEE), suite) for suite in (1, 2)
            ]
        rng = self._rng
        return EsiServer(self.meter, self.clock, self.config.endpoints,
                         accept_unencrypted=self.accept_unencrypted, identities=identities,
                         ieee_of=self.app.ieee_of, on_key=self._install_key,
                         sub_ghz=self.sub_ghz, ambient=self.config.ihd,
                         bound=self.app.bound_destinations,
                         random=None if rng is None else rng.randbytes,
                         basic=self.config.basic, messages=messages)

    def restart_server(self, meter: TwinMeter) -> None:
        """The meter restarted: serve ``meter`` (read back from its state store)
        with a new ESI server.  Subscriptions and reporting start afresh; the
        trust centre keeps the CBKE authorisations and link keys, as a hub does."""
        if self.app is None or self.server is None:
            raise RuntimeError("the virtual HAN is not running")
        old = self.server.key_establishment
        self.runner.meter = meter
        self.server = self._make_server()
        if old is not None and self.server.key_establishment is not None:
            for ieee in old.authorised_devices:
                self.server.key_establishment.authorise(ieee)
        self.app.attach_server(self.server, self.clock)

    def send_message(self, text: str, **options: Any) -> Any:
        """A message to the displays now (see :meth:`EsiServer.send_message`)."""
        if self.server is None or self.app is None:
            raise RuntimeError("the virtual HAN is not running")
        message = self.server.send_message(text, **options)
        self.app.wake_server()
        return message

    def withdraw_messages(self) -> Any:
        """Withdraw every message now (see :meth:`EsiServer.cancel_all_messages`)."""
        if self.server is None or self.app is None:
            raise RuntimeError("the virtual HAN is not running")
        message = self.server.cancel_all_messages()
        self.app.wake_server()
        return message

    def _install_key(self, ieee, key) -> None:
        """A CBKE-derived link key: kept out of the logs, then installed."""
        protect(bytes(key))
        self.app.install_link_key(ieee, key)

    async def stop(self) -> None:
        for device in self.devices:
            await device.stop()
        await self.runner.stop()
        if self.app is not None:
            await self.app.shutdown()
        self.runner.save_on_stop()  # the counters too, as the coordinator left them

    # -- frame counters ----------------------------------------------------------------
    def _save_counters(self) -> None:
        """Every frame counter on the air, saved with the meter: no node sends
        a counter twice and no receiver forgets what it has seen, across restarts."""
        if self.store is None or self.app is None or self.air is None:
            return
        state = self.air.counter_state()
        own = bytes(COORDINATOR_IEEE).hex()  # also once the coordinator has left the air
        state["outgoing"]["nwk"][own] = self.app.nwk_frame_counter
        state["outgoing"]["aps"][own] = self.app.aps_frame_counter
        self.store.set_meta(NWK_COUNTER_KEY, str(self.app.nwk_frame_counter))
        self.store.set_meta(COUNTERS_KEY, json.dumps(state, separators=(",", ":")))

    def _restore_counters(self) -> None:
        """Carry on from the counters an earlier run saved, plus a margin for
        frames sent after its last save (see ``counters.RESTART_MARGIN``)."""
        if self.store is None or self.app is None or self.air is None:
            return
        if (saved := self.store.meta(NWK_COUNTER_KEY)) is not None:
            self.app.restore_nwk_frame_counter(int(saved))
        if (text := self.store.meta(COUNTERS_KEY)) is None:
            return
        try:
            state = json.loads(text)
            self.air.restore_counters(state)
            own = bytes(COORDINATOR_IEEE).hex()
            self.app.restore_nwk_frame_counter(int(state["outgoing"]["nwk"].get(own, 0)))
            self.app.restore_aps_frame_counter(int(state["outgoing"]["aps"].get(own, 0)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # Not a reason to stop metering: counters then start above anything
            # this coordinator saved before, and receivers learn afresh.
            LOGGER.error("state database %s: %s; frame counters start afresh", self.store.path, exc)

    async def run_for(self, seconds: float, progress: Callable[[float, float], None] | None = None) -> None:
        """Run ``seconds`` on the HAN's clock; ``progress(done, seconds)`` hears
        how far it got every :data:`PROGRESS_STEPS`-th of the way."""
        if progress is None:
            await asyncio.sleep(seconds)
        else:
            step = seconds / PROGRESS_STEPS
            for i in range(1, PROGRESS_STEPS + 1):
                await asyncio.sleep(step if i < PROGRESS_STEPS else seconds - step * (PROGRESS_STEPS - 1))
                progress(min(seconds, step * i), seconds)
        self.runner.drive()

    def _export_tiers(self) -> int:
        exp = self.meter.settings.secondary.export_tariff
        return exp.tiers if exp is not None else 0

    # -- the air ------------------------------------------------------------------------------
    def name_of(self, ieee: t.EUI64) -> str:
        name = self._names.get(bytes(ieee))
        return str(ieee) if name is None else name

    def _on_air(self, frame: AirFrame) -> None:
        traffic = self.traffic
        packet = frame.packet
        if int(frame.src) == 0x0000:
            name = COORDINATOR
        else:
            # self.name_of(frame.src_ieee), without turning the address into
            # bytes on every frame: a transmitter sends with the same address
            # object each time, so its name is kept by that object (held, so
            # its id names no other object).
            ieee = frame.src_ieee
            known = self._names_seen.get(id(ieee))
            if known is not None and known[0] is ieee:
                name = known[1]
            else:
                name = self.name_of(ieee)
                if bytes(ieee) in self._names:
                    self._names_seen[id(ieee)] = (ieee, name)
        if frame.aps_ack:
            traffic.acks[name] += 1
        elif packet.profile_id == ZDO_PROFILE_ID:
            traffic.zdo[(name, int(packet.cluster_id))] += 1
        else:
            traffic.frames[(name, int(packet.cluster_id))] += 1
        dst = packet.dst
        if not frame.delivered_to and dst is not None and dst.addr_mode in _UNICAST:
            traffic.failed += 1
        for listener in self.listeners:
            listener(self, frame)

    # -- the PPMID's keypad --------------------------------------------------------------------
    def ppmid_key(self, key: str, element: str = "primary") -> asyncio.Task[Any] | None:
        """What the PPMID's keys do, on ``element``'s ESI: "top_up" enters a fresh
        lab UTRN (ConsumerTopUp), "emergency" selects emergency credit
        (SelectAvailableEmergencyCredit).  Runs as a task on the HAN's loop
        (call it there); None when there is no PPMID on the HAN yet."""
        device = next((d for d in self.devices if d.settings.kind == "ppmid" and d.esi_endpoints), None)
        if device is None or self._loop is None:
            return None
        ep = self.config.endpoints.endpoint(Role(element))
        if key == "top_up":
            return self._loop.create_task(device.top_up(ep), name=f"{device.name}-top-up")
        if key == "emergency":
            return self._loop.create_task(device.select_emergency_credit(ep), name=f"{device.name}-emergency")
        raise ValueError(f"no PPMID key {key!r}")

    # -- results ----------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        frames: dict[str, dict[str, int]] = {}
        for (device, cluster), n in sorted(self.traffic.frames.items()):
            frames.setdefault(device, {})[f"0x{cluster:04X}"] = n
        zdo: dict[str, dict[str, int]] = {}
        for (device, cluster), n in sorted(self.traffic.zdo.items()):
            zdo.setdefault(device, {})[f"0x{cluster:04X}"] = n
        return {
            "meter_time": self.meter.time,
            "frames": frames,
            "zdo_frames": zdo,
            "frames_per_device": self.traffic.per_device(),
            "aps_acks": dict(self.traffic.acks),
            "undelivered": self.traffic.failed,
            "prepayment": {name: account.summary() for name, account in self.meter.prepayment.items()},
            "message": self.meter.messages.to_state()["current"],
            "message_confirmations": self.meter.messages.to_state()["confirmations"],
            "devices": {
                d.name: {
                    "kind": d.settings.kind,
                    "requests": {f"0x{c:04X}": n for c, n in sorted(d.requests.items())},
                    "failures": d.failures,
                    "readout": d.readout.to_json(now=self.meter.time, ambient=self.config.ihd),
                }
                for d in self.devices
            },
        }
