"""The meter's ESIs on a real coordinator (a Z-Stack or EZSP stick).

Like :class:`~han_emu.han.virtual.VirtualHan` without the simulated displays:
real In-Home Displays join the stick's network and read the meter, which the
scenario drives on the wall clock.  A stick unplugged or reset mid-run does
not stop the meter: it keeps advancing and being saved while the link is
retried with exponential backoff, and the same ESI server (subscriptions,
reporting configuration) carries on when the stick comes back.

A real stick keeps its displays and their link keys across a reset or a
replug, so a display never joins again nor redoes CBKE by itself.  The host
therefore keeps, with the meter's state, who is at which NWK address and
which devices completed CBKE, and restores both at every start.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import zigpy.types as t

from clusters.ids import KEY_ESTABLISHMENT
from han_emu.frames.keylog import KeyLog
from han_emu.meter.clock import Clock, WallClock
from han_emu.han.config import Config
from han_emu.meter.model import TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.radio.backend import (
    NetworkSettings,
    RadioError,
    RadioSpec,
    start_radio,
)
from han_emu.air.accounting import BAND_2400, AirAccounting
from han_emu.radio.addresses import AddressBook
from han_emu.server.bindings import BindingTable
from han_emu.server.esi import EsiServer
from han_emu.server.observed import ServerTap
from han_emu.han.runner import MeterRunner
from han_emu.han.served import ServedRequests
from han_emu.han.linkstate import CONNECTING, DOWN, STOPPED, UP, Backoff, LinkStatus
from han_emu.han.store import StateStore

LOGGER = logging.getLogger(__name__)
BINDINGS_KEY = "bindings"  # the stick's binding table, in the state database's meta table
ADDRESSES_KEY = "addresses"  # NWK -> IEEE of the devices on the stick's network (meta table)
AUTHORISED_KEY = "cbke_authorised"  # IEEE addresses that completed CBKE (meta table)
#: Seconds a stop waits for queued answers and CBKE keys to reach the stick.
STOP_GRACE_S = 5.0

class HardwareHan:
    """The twin meter's ESI server on a coordinator stick."""

    def __init__(
        self,
        config: Config,
        meter: TwinMeter,
        radio: RadioSpec,
        *,
        network: NetworkSettings | None = None,
        store: StateStore | None = None,
        keylog: KeyLog | None = None,
        clock: Clock | None = None,
        step_s: float = 10.0,
        save_every_s: float = 60.0,
        accept_unencrypted: bool = False,
        backoff: Backoff = Backoff(),
        startup_timeout: float | None = None,
        request_timeout: float | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        if not radio.hardware:
            raise ValueError("HardwareHan needs a znp or ezsp radio; use VirtualHan for the virtual one")
        self.config = config
        self.runner = MeterRunner(meter, Scenario(config.scenario), clock=clock or WallClock(), store=store,
                                  step_s=step_s, save_every_s=save_every_s, on_step=self._meter_changed)
        self.radio = radio
        self.network = network
        self.keylog = keylog
        self.accept_unencrypted = accept_unencrypted
        self.backoff = backoff
        self.startup_timeout = startup_timeout
        self.request_timeout = request_timeout
        self.report = report or LOGGER.warning
        self.server: Any = None  # the EsiServer, behind a ServerTap
        self.esi: EsiServer | None = None  # the same server, for the dashboard's message key
        #: Called as (packet, incoming) for every packet the ESI takes or makes.
        self.packet_listeners: list[Callable[[t.ZigbeePacket, bool], None]] = []
        #: The emulator's own airtime accounting of the frames it serves (the
        #: stick's PHY is 2.4 GHz: measured, beside the NCP's own duty-cycle view).
        self.accounting = AirAccounting(esme_leg=False)
        #: Each device's requests, answers, refusals and last frame (``--status-json``).
        self.served = ServedRequests()
        self.app: Any = None
        self.link = LinkStatus()
        #: Told each step of the stick's start as it begins (also kept in ``link.step``).
        self.on_step: Callable[[str], None] | None = None
        #: No simulated displays on hardware (kept for views shared with VirtualHan).
        self.devices: list[Any] = []
        #: (time, IEEE, NWK) of every device that joined during this run.
        self.joined: list[tuple[float, t.EUI64, int]] = []
        self._up = asyncio.Event()
        self._reconnect_task: asyncio.Task[None] | None = None
        self._key_tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        #: Who bound to an ESI cluster (the stick's table, rebuilt from the
        #: Bind requests it hands the host; kept with the meter).
        self.bindings = BindingTable()
        self.extra_keylogs: list[KeyLog] = []
        #: NWK <-> IEEE of the devices on the network, kept with the meter.
        self.addresses = AddressBook(on_change=self._save_addresses)
        #: Devices that completed CBKE (on the NCP or in software), kept with the meter.
        self.authorised: dict[bytes, t.EUI64] = {}
        self._authorised_saved: frozenset[bytes] = frozenset()

    # -- the meter (stepped and saved by its runner) --------------------------------------
    @property
    def meter(self) -> TwinMeter:
        return self.runner.meter

    @property
    def scenario(self) -> Scenario:
        """The scenario driving the meter (its settings may be changed mid-run)."""
        return self.runner.scenario

    @property
    def store(self) -> StateStore | None:
        return self.runner.store

    @property
    def clock(self) -> Clock:
        """The wall clock, unless given another (a test's; a conformance run's,
        offset to the time of year its plan needs)."""
        assert self.runner.clock is not None
        return self.runner.clock

    @property
    def saves(self) -> int:
        return self.runner.saves

    def _meter_changed(self) -> None:
        self._sync_ncp_authorised()
        if self.server is not None:
            self.server.meter_changed()
        if self.app is not None and self.is_up:
            self.app.wake_server()

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Bring the meter up to date and start the stick; a stick that cannot
        be reached now raises :class:`RadioError` (nothing is retried)."""
        self.runner.drive()
        # CBKE only with configured certificates: a real display trusts its
        # scheme's CA, never the built-in test CA.
        identities = list(self.config.cbke) or None
        self._restore_bindings()
        self._restore_addresses()
        self._restore_authorised()
        esi = self._make_esi(self.config.messages)
        # The stick carries a tap: the emulator's own airtime accounting (and
        # any other observer in packet_listeners) sees every frame it serves.
        self.server = ServerTap(esi, self._on_packet)
        await self._connect()
        if identities and self.cbke_mode == "software":
            self._check_certificates(identities)
        self.runner.start()

    def _make_esi(self, messages: Any = ()) -> EsiServer:
        """The ESI server on the stick, trusting the devices a CBKE authorised
        (``self.authorised``, kept in the state store); ``messages``: the
        configured ones, scheduled from now."""
        esi = EsiServer(self.meter, self.clock, self.config.endpoints,
                        accept_unencrypted=self.accept_unencrypted, identities=list(self.config.cbke) or None,
                        ieee_of=self._ieee_of, on_key=self._on_cbke_key,
                        bound=lambda ep, cluster: self.bindings.destinations(ep, cluster, self._nwk_of),
                        basic=self.config.basic, messages=messages)
        self.esi = esi
        if esi.key_establishment is not None:
            for ieee in self.authorised.values():
                esi.key_establishment.authorise(ieee)
            esi.key_establishment.on_revoke = self._revoked
        elif self.app is not None and getattr(self.app, "ncp_cbke", None) is not None:
            esi.zcl.encryption.authorised = self._ncp_sender_authorised
        return esi

    def restart_server(self, meter: TwinMeter) -> None:
        """The meter restarted: serve ``meter`` (read back from its state store)
        with a new ESI server behind the same tap, on the same network.
        Subscriptions and reporting start afresh; the CBKE authorisations and
        the address map come back from the store, as a hub keeps them."""
        if self.app is None or self.server is None:
            raise RuntimeError("the stick is not serving")
        self.runner.meter = meter
        self._restore_addresses()
        self._restore_authorised()
        self.server.inner = self._make_esi()
        self.server.meter_changed()
        self.app.wake_server()

    def send_message(self, text: str, **options: Any) -> Any:
        """A message to the displays now (see :meth:`EsiServer.send_message`)."""
        if self.esi is None:
            raise RuntimeError("the ESI is not serving yet")
        message = self.esi.send_message(text, **options)
        if self.app is not None:
            self.app.wake_server()
        return message

    def withdraw_messages(self) -> Any:
        """Withdraw every message now (see :meth:`EsiServer.cancel_all_messages`)."""
        if self.esi is None:
            raise RuntimeError("the ESI is not serving yet")
        message = self.esi.cancel_all_messages()
        if self.app is not None:
            self.app.wake_server()
        return message

    async def stop(self) -> None:
        self._stopping = True
        await self._finish_key_exchanges()
        await self.runner.stop()
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            await asyncio.gather(self._reconnect_task, return_exceptions=True)
        self._reconnect_task = None
        await self._drop_app()
        self.runner.save_on_stop()
        self._set_state(STOPPED)

    async def _finish_key_exchanges(self, timeout: float = STOP_GRACE_S) -> None:
        """Before the stick goes: send the ESI's answers still queued (a
        display's last CBKE message) and let the keys CBKE agreed reach the
        stick.  A display that completed CBKE is served on that key and never
        asked to redo it (a GB IHD does not by itself); ``permit`` stops as
        soon as the last display is done."""
        app = self.app
        if app is None:
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        flush = getattr(app, "flush", None)
        if flush is not None and not await flush(timeout):
            LOGGER.warning("Stopping with answers to displays still unsent")
        tasks = list(self._key_tasks)
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=max(until - loop.time(), 0.0))
            if pending:
                LOGGER.warning("Stopping before %d CBKE key(s) reached the stick", len(pending))

    async def run_for(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.runner.drive()

    async def wait_up(self, timeout: float | None = None) -> None:
        """Wait until the stick is (again) carrying the server."""
        async with asyncio.timeout(timeout):
            await self._up.wait()

    @property
    def is_up(self) -> bool:
        return self.link.state == UP

    # -- joining ----------------------------------------------------------------------------
    async def permit_install_code(self, ieee: t.EUI64, code: bytes, seconds: int = 254) -> t.KeyData:
        """Open the network to one device holding ``code``; its link key is logged."""
        key = await self._require_app().permit_with_install_code(t.EUI64(ieee), code, seconds)
        self._log_keys()
        return key

    async def permit_link_key(self, ieee: t.EUI64, key: bytes, seconds: int = 254) -> None:
        """Open the network to one lab device with a known pre-configured link key."""
        await self._require_app().permit_with_node_key(t.EUI64(ieee), t.KeyData(key), seconds)
        self._log_keys()

    def _require_app(self) -> Any:
        if self.app is None or not self.is_up:
            raise RadioError(f"{self.radio.describe()}: not connected")
        return self.app

    def device_joined(self, device: Any) -> None:
        """zigpy's listener event: a device joined through the stick."""
        self.joined.append((self.clock.now(), t.EUI64(device.ieee), int(device.nwk)))
        self.report(f"device {device.ieee} joined as 0x{int(device.nwk):04X}")
        self._log_keys()

    # -- the network key ----------------------------------------------------------------------
    async def send_network_key(self, key: bytes) -> tuple[int, list[t.EUI64]]:
        """The trust centre's network-key update, its first half: every device
        the host knows on the network is sent ``key`` as the next network key
        (an APS Transport-Key under its link key, by the stick's own stack).
        Returns (the key's sequence number, the devices it went to)."""
        app = self._require_app()
        seq = (int(app.state.network_info.network_key.seq) + 1) & 0xFF
        sent = []
        for nwk, ieee in list(self.addresses):
            if await app.send_network_key(nwk, ieee, t.KeyData(key), seq):
                sent.append(ieee)
        return seq, sent

    async def switch_network_key(self, seq: int) -> None:
        """The second half: the Switch-Key to every device; the stick keeps the
        new key (NV, tokens) and the host's network settings are read back
        from it, so the key log, a capture and a restart follow."""
        app = self._require_app()
        await app.switch_network_key(seq)
        await app.load_network_info()
        self._log_keys()
        self.report(f"network key {seq} in force on the coordinator")

    # -- bindings ---------------------------------------------------------------------------------
    def _observe(self, packet: t.ZigbeePacket) -> None:
        """Every packet the stick delivers: keep its binding table in step."""
        app = self.app
        if app is None or not self.bindings.observe(packet, app.state.node_info.ieee):
            return
        LOGGER.info("binding table: %d entries after a ZDO %s from %s", len(self.bindings),
                    "Bind" if int(packet.cluster_id) == 0x0021 else "Unbind", packet.src)
        self.runner.save_meta(BINDINGS_KEY, json.dumps(self.bindings.to_json()))

    def _restore_bindings(self) -> None:
        if self.store is None or (text := self.store.meta(BINDINGS_KEY)) is None:
            return
        try:
            self.bindings.restore(json.loads(text))
        except ValueError as exc:
            LOGGER.error("state database: the saved binding table is unreadable (%s); starting without it", exc)

    def _nwk_of(self, ieee: t.EUI64) -> int | None:
        return self.app.nwk_of(ieee) if self.app is not None else self.addresses.nwk_of(ieee)

    # -- who is who, kept with the meter -------------------------------------------------------
    def _save_addresses(self) -> None:
        self.runner.save_meta(ADDRESSES_KEY, json.dumps(self.addresses.to_json()))

    def _restore_addresses(self) -> None:
        if self.store is None or (text := self.store.meta(ADDRESSES_KEY)) is None:
            return
        try:
            self.addresses.restore(json.loads(text))
        except ValueError as exc:
            LOGGER.error("state database: the saved address map is unreadable (%s); starting without it", exc)

    def _restore_authorised(self) -> None:
        if self.store is None or (text := self.store.meta(AUTHORISED_KEY)) is None:
            return
        try:
            data = json.loads(text)
            if not isinstance(data, list):
                raise ValueError("not a list")
            devices = [t.EUI64.convert(item) for item in data]
        except (TypeError, ValueError) as exc:
            LOGGER.error("state database: the saved CBKE-authorised devices are unreadable (%s); "
                         "they must redo key establishment", exc)
            return
        self.authorised = {bytes(ieee): ieee for ieee in devices}
        self._authorised_saved = frozenset(self.authorised)
        if devices:
            LOGGER.info("%d device(s) authorised by an earlier CBKE", len(devices))

    def _authorise(self, ieee: t.EUI64, authorised: bool = True) -> None:
        ieee = t.EUI64(ieee)
        if authorised:
            self.authorised[bytes(ieee)] = ieee
        else:
            self.authorised.pop(bytes(ieee), None)
        if frozenset(self.authorised) != self._authorised_saved:
            data = sorted(str(i) for i in self.authorised.values())
            if self.runner.save_meta(AUTHORISED_KEY, json.dumps(data)):
                self._authorised_saved = frozenset(self.authorised)

    def _revoked(self, ieee: t.EUI64) -> None:
        """The partner rejected our key confirmation: its CBKE key is void."""
        self._authorise(ieee, False)

    def _sync_ncp_authorised(self) -> None:
        """The NCP's CBKE withdraws a device whose partner rejects its MACV
        without telling the host: follow it."""
        cbke = getattr(self.app, "ncp_cbke", None)
        if cbke is None:
            return
        for ieee in list(self.authorised.values()):
            if ieee not in cbke.authorised:
                self._authorise(ieee, False)

    def _needs_identity(self, packet: t.ZigbeePacket) -> bool:
        """Would the ESI judge ``packet`` by who sent it?  (Then an unknown
        sender is asked for its IEEE address first.)"""
        server = self.server
        if server is None:
            return False
        if int(packet.cluster_id) == KEY_ESTABLISHMENT:
            return server.key_establishment is not None
        return bool(server.zcl.encryption.judges_sender(int(packet.cluster_id)))

    # -- key establishment ------------------------------------------------------------------
    def _ieee_of(self, nwk: int) -> t.EUI64 | None:
        return self.app.ieee_of(nwk) if self.app is not None else self.addresses.ieee_of(nwk)

    def _on_cbke_key(self, ieee: t.EUI64, key: bytes) -> None:
        """CBKE agreed a link key with ``ieee``: log it, and hand it to the stick
        (which must use it for that device's APS frames from now on)."""
        if self.keylog is not None:
            self.keylog.add(bytes(key), f"CBKE link key {ieee}")
        self._authorise(ieee)
        if self.app is None:
            return
        task = asyncio.get_running_loop().create_task(self._install_key(ieee, key))
        self._key_tasks.add(task)
        task.add_done_callback(self._key_tasks.discard)

    async def _install_key(self, ieee: t.EUI64, key: bytes) -> None:
        app = self.app
        if app is None:
            return
        if await app.install_link_key(ieee, key):
            self.report(f"CBKE with {ieee} done; its link key is in the coordinator")
            return
        why = getattr(app, "link_key_problem", None) or "the coordinator refused it"
        self.report(f"CBKE with {ieee} agreed a link key, but it could not be installed: {why}")

    @property
    def cbke_mode(self) -> str | None:
        """Where key establishment runs: "ncp" (the stick's CBKE library),
        "software" (configured certificates) or None (no CBKE)."""
        if getattr(self.app, "ncp_cbke", None) is not None:
            return "ncp"
        if self.server is not None and self.server.key_establishment is not None:
            return "software"
        return None

    def cbke_established(self, ieee: t.EUI64, key: bytes | None) -> None:
        """zigpy's listener event: the stick ran CBKE itself and stored the key."""
        if self.server is not None and self.server.key_establishment is not None:
            self.server.key_establishment.authorise(ieee)
        self._authorise(ieee)
        if self.keylog is not None and key is not None:
            self.keylog.add(bytes(key), f"CBKE link key {ieee}")
        self.report(f"CBKE with {ieee} done on the coordinator's own CBKE library")

    def _ncp_sender_authorised(self, src: Any) -> bool:
        cbke = getattr(self.app, "ncp_cbke", None)
        if cbke is None or src is None:
            return False
        if src.addr_mode == t.AddrMode.IEEE:
            ieee = t.EUI64(src.address)
        else:
            ieee = self._ieee_of(int(src.address))
        return ieee is not None and ieee in cbke.authorised

    def _check_certificates(self, identities: list[Any]) -> None:
        from han_emu.crypto.certsets import eui64_from_cert

        ieee = self.app.state.node_info.ieee
        for identity in identities:
            subject = t.EUI64(eui64_from_cert(identity.parsed.subject))
            if subject != ieee:
                self.report(f"the CBKE certificate names {subject}, but the stick is {ieee}: "
                            "displays will refuse key establishment")

    # -- the link -------------------------------------------------------------------------------
    async def _connect(self) -> None:
        self._set_state(CONNECTING)
        app = await start_radio(
            self.radio,
            self.server,
            self.clock,
            network=self.network,
            auto_form=True,
            startup_timeout=self.startup_timeout,
            request_timeout=self.request_timeout,
            on_step=self._on_step,
            addresses=self.addresses,
        )
        self.app = app
        app.add_listener(self)
        app.host_observers.append(self._observe)
        app.identify_sender = self._needs_identity
        info = app.state.network_info
        LOGGER.info("%s up: channel %s, PAN 0x%04X, extended PAN %s", self.radio.describe(),
                    info.channel, info.pan_id, info.extended_pan_id)
        self._log_keys()
        if getattr(app, "ncp_cbke", None) is not None and self.server is not None:
            if self.server.key_establishment is None:
                # The stick's CBKE stands in for the software one: SE requests
                # need a sender that completed it there.
                self.server.zcl.encryption.authorised = self._ncp_sender_authorised
            # The stick kept the keys of devices that did CBKE before this start.
            app.ncp_cbke.authorised.update(self.authorised.values())
            app.ncp_cbke_frames = self._on_packet  # captured and accounted like every frame served
            suites = ", ".join(str(s.number) for s in sorted(app.ncp_cbke.certificates))
            LOGGER.info("CBKE runs on the coordinator (suite %s)", suites)
        self._set_state(UP)
        await self.refresh_ncp_duty_cycle()
        # Subscribers may be waiting for reports that fell due while down.
        if self.server is not None:
            self.server.meter_changed()
        app.wake_server()

    def connection_lost(self, exc: Exception | None) -> None:
        """zigpy's listener event: the stick went away (unplugged, reset, closed)."""
        if self._stopping or self.link.state != UP:
            return
        reason = str(exc) if exc else "link closed"
        self.link.last_error = reason
        self._set_state(DOWN)
        self.report(f"{self.radio.describe()}: connection lost ({reason}); the meter keeps running, retrying")
        self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect(), name="reconnect")

    async def _reconnect(self) -> None:
        await self._drop_app()
        self.link.attempts = 0
        for delay in self.backoff.delays():
            self.link.retry_at = self.clock.now() + delay
            await asyncio.sleep(delay)
            if self._stopping:
                return
            try:
                await self._connect()
            except RadioError as exc:
                self.link.attempts += 1
                self.link.last_error = str(exc)
                self._set_state(DOWN)
                nxt = min(self.backoff.maximum, delay * self.backoff.factor)
                self.report(f"{exc}; retrying in {nxt:g} s (attempt {self.link.attempts})")
                continue
            self.link.reconnects += 1
            self.link.retry_at = None
            self.report(f"{self.radio.describe()}: reconnected after {self.link.attempts + 1} attempt(s)")
            return

    async def _drop_app(self) -> None:
        app, self.app = self.app, None
        self._up.clear()
        if app is None:
            return
        try:
            app.remove_listener(self)
        except Exception:  # not every zigpy keeps removable listeners
            pass
        try:
            await asyncio.wait_for(app.shutdown(db=False), 10)
        except Exception as exc:  # the link is gone already
            LOGGER.debug("Shutting down the lost coordinator: %r", exc)

    def _on_step(self, what: str) -> None:
        self.link.step = what
        if self.on_step is not None:
            self.on_step(what)

    def _set_state(self, state: str) -> None:
        if state != self.link.state:
            self.link.state = state
            self.link.since = self.clock.now()
        if state != CONNECTING:
            self.link.step = None
        if state == UP:
            self._up.set()
        else:
            self._up.clear()

    def _log_keys(self) -> None:
        if self.app is None:
            return
        for log in (self.keylog, *self.extra_keylogs):
            if log is not None:
                for key, label in self.app.keys_in_use():
                    log.add(key, label)

    def add_keylog(self, log: KeyLog) -> None:
        """Also write every key in use to ``log``, now and as keys come (a
        recording started from the dashboard has a key log of its own)."""
        self.extra_keylogs.append(log)
        self._log_keys()

    def remove_keylog(self, log: KeyLog) -> None:
        if log in self.extra_keylogs:
            self.extra_keylogs.remove(log)

    # -- the NCP's own duty-cycle view (EZSP) ---------------------------------------------
    @property
    def ncp_duty_cycle(self) -> Any:
        """The stick's duty-cycle figures (an EZSP ``NcpDutyCycle``), or None
        when the stick reports none."""
        dc = getattr(self.app, "duty_cycle", None)
        return dc if dc is not None and dc.supported else None

    async def refresh_ncp_duty_cycle(self) -> Any:
        """Ask the stick for its duty-cycle state and limits, where it has them
        (the dutyCycleHandler callback keeps them current in between)."""
        read = getattr(self.app, "read_duty_cycle", None)
        if read is None:
            return None
        try:
            await read()
        except Exception as exc:  # a display extra: never worth stopping for
            LOGGER.debug("Reading the NCP duty cycle failed: %r", exc)
        return self.ncp_duty_cycle

    # -- observing the frames served ------------------------------------------------------------
    def _on_packet(self, packet: t.ZigbeePacket, incoming: bool) -> None:
        self._account(packet, incoming)
        self.served.observe(packet, incoming, self.clock.now())
        for listener in list(self.packet_listeners):
            try:
                listener(packet, incoming)
            except Exception:
                LOGGER.exception("packet listener failed on %r", packet)

    def _account(self, packet: t.ZigbeePacket, incoming: bool) -> None:
        hub = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(0x0000))
        if incoming:
            nwk = int(packet.src.address) if packet.src is not None else 0xFFFE
            ieee = self._ieee_of(nwk) or t.EUI64(bytes(8))
        else:
            nwk = 0x0000
            ieee = self.app.state.node_info.ieee if self.app is not None else t.EUI64(bytes(8))
            if packet.src is None:
                packet = packet.replace(src=hub)
        if packet.dst is None:
            packet = packet.replace(dst=hub)
        peer = nwk if incoming else (int(packet.dst.address) if packet.dst.addr_mode == t.AddrMode.NWK else None)
        try:
            self.accounting.charge_packet(BAND_2400, packet, self.clock.now(), src_ieee=ieee, peer=peer)
        except Exception:  # accounting never stops serving
            LOGGER.debug("could not account %r", packet, exc_info=True)

    def airtime_last_hour(self) -> float:
        """Seconds of 2.4 GHz airtime the served traffic took in the last hour."""
        total = 0.0
        for status in self.accounting.status(self.clock.now()):
            total += status.airtime_s
        return total

    # -- results ----------------------------------------------------------------------------
    def status_line(self) -> str:
        """One line for a text view: the link and where it stands."""
        link = self.link
        text = f"coordinator: {self.radio.describe()}: {link.state}"
        if link.state == UP and self.app is not None:
            info = self.app.state.network_info
            text += f", channel {info.channel}, PAN 0x{info.pan_id:04X}"
            if link.reconnects:
                text += f", reconnected {link.reconnects}x"
            text += f"; served traffic {self.airtime_last_hour():.2f} s airtime in the last hour (han-emu)"
            if self.ncp_duty_cycle is not None:
                text += "; " + self.ncp_duty_cycle.describe()
            mode = self.cbke_mode
            if mode is not None:
                text += "; CBKE " + ("on the NCP" if mode == "ncp" else "in software")
        elif link.step is not None:  # starting (or coming back): which part of it
            text += f": {link.step}..."
        elif link.state == DOWN:
            text += f" ({link.last_error})"
            if link.retry_at is not None:
                text += f", next try in {max(0.0, link.retry_at - self.clock.now()):.0f} s"
        return text
