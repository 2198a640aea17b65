"""A simulated display (IHD, PPMID or CAD) on the virtual HAN.

It behaves like a real one: joins, finds the ESIs with Match_Desc, reads the
clock from the Time cluster, reads what it shows (with configured reporting
where it wants it), polls demand and registers on its schedule, asks for
prices, fetches the day's half-hourly profile, and keeps a readout model of
everything it received, for both elements.  A PPMID also reads each ESI's
Prepayment cluster (credit, emergency credit, debt) and can send what its
keypad would: a top-up (ConsumerTopUp with a UTRN) and the selection of
emergency credit.  An IHD or PPMID also asks the primary
ESI for its last message at start (GetLastMessage), shows what the ESI pushes
(DisplayMessage, CancelMessage) and confirms a message that asks for it
(MessageConfirmation).

It reads only what the meter serves: at start it asks each ESI's Metering and
Price clusters which attributes they have (Discover Attributes, paged), and
leaves out of every later read what is not there (see :meth:`SimDisplay.discover`).

On a sub-GHz HAN it obeys the hub's Sub-GHz cluster: after Suspend ZCL
Messages it sends no ZCL request until the period is over (a period of 0
lifts the suspension).  With ``mp184=False`` it behaves as a display from
before MP184: it never asks for the secondary element's export register, its
four export TOU registers and prices, or its export profile channel, and does
not configure export reporting there (the baseline of the duty-cycle study).
With ``faults`` (see :mod:`han_emu.sim.faults`) it misbehaves in the named
ways, so that conformance checks can be shown to fail.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import date, timedelta
from typing import Callable, Iterable

import zigpy.types as t
from zigpy.zcl import foundation
import zigpy.zdo.types as zdo_t

from clusters import Basic, Messaging, Metering, Prepayment, Price, SubGhz, Time, posix_to_utctime
from clusters.ids import IHD_DEVICE_ID, KEY_ESTABLISHMENT, MESSAGING, PHYSICAL_DEVICE_ID, PPMID_DEVICE_ID
from clusters.prepayment import OriginatingDevice, ResultType, debt_attr
from clusters.metering import (
    PREVIOUS_DAYS,
    PREVIOUS_MONTHS,
    PREVIOUS_WEEKS,
    PROFILE_INTERVAL_SECONDS,
    GetProfileResponseSchema,
    ProfileStatus,
    previous_day_attr,
    previous_month_attr,
    previous_week_attr,
    tier_summation_attr,
)
from clusters.mp184 import EndpointMap
from clusters.price import tier_block_price_attr
from clusters.zcl_frame import FRAME_TYPE_MASK as _FRAME_TYPE, read_header
from clusters.zcl_header import ZclHeader
from clusters.zcl_struct import make, read
from han_emu.air.accounting import HUB_NWK
from han_emu.crypto.certsets import CertificateSet
from han_emu.meter.credit import lab_utrn
from han_emu.meter.clock import Clock
from han_emu.meter.gbtime import local_datetime, local_midnight
from han_emu.radio.virtual.cbke_client import join_smart_energy
from han_emu.radio.virtual.cbke_responder import CbkeResponder, refuse_key_establishment
from han_emu.radio.virtual.medium import VirtualAir
from han_emu.radio.virtual.node import FrameHandler, SimNode, ZclFrame, se_endpoint, zcl_frame
from han_emu.readout import Readout, ZclIngest
from han_emu.readout.costs import han_clock
from han_emu.sim.attribute_reads import AttributeReads, read_frame
from han_emu.sim.faults import SLOW_POLL_FACTOR, parse_faults
from han_emu.sim.schedule import DeviceSettings

LOGGER = logging.getLogger(__name__)

_DEVICE_IDS = {"ihd": IHD_DEVICE_ID, "ppmid": PPMID_DEVICE_ID, "cad": PHYSICAL_DEVICE_ID}
_CLIENTS = (Metering.cluster_id, Price.cluster_id, Time.cluster_id, MESSAGING, KEY_ESTABLISHMENT, SubGhz.cluster_id)
_M = Metering.AttributeDefs
_P = Price.AttributeDefs
_T = Time.AttributeDefs
_B = Basic.AttributeDefs
_PP = Prepayment.AttributeDefs
#: What a PPMID shows of each element's prepayment: the information set and debts 1..3.
_PREPAY_READ = [_PP.payment_control_configuration.id, _PP.credit_remaining.id, _PP.emergency_credit_remaining.id,
                _PP.credit_status.id, _PP.accumulated_debt.id, _PP.low_credit_warning_level.id,
                _PP.emergency_credit_limit_allowance.id, _PP.emergency_credit_threshold.id, _PP.total_credit_added.id,
                *(debt_attr(n, offset) for n in (1, 2, 3) for offset in (0, 1))]
_TOP_UP = Prepayment.ServerCommandDefs.consumer_top_up
_SELECT_EC = Prepayment.ServerCommandDefs.select_available_emergency_credit
_GET_PROFILE = Metering.ServerCommandDefs.get_profile
_GET_CURRENT_PRICE = Price.ServerCommandDefs.get_current_price.id
_PUBLISH_PRICE = Price.ClientCommandDefs.publish_price.id
_SUSPEND = SubGhz.ClientCommandDefs.suspend_zcl_messages.id
_DISPLAY_MESSAGE = Messaging.ClientCommandDefs.display_message
_GET_LAST_MESSAGE = Messaging.ServerCommandDefs.get_last_message.id
_CONFIRM_MESSAGE = Messaging.ServerCommandDefs.message_confirmation
_PROFILE_GOING = (ProfileStatus.Success, ProfileStatus.More_Periods_Requested_Than_Can_Be_Returned)
_DISCOVERED = (Metering.cluster_id, Price.cluster_id)
#: The whole history is read this long after each GB local midnight, when the
#: meter has moved its days, weeks and months on.
HISTORY_AFTER_MIDNIGHT_S = 120.0
PAGE = 24


class SimDisplay(AttributeReads, SimNode):
    """An IHD, PPMID or CAD with its own poll schedule and readout."""

    def __init__(
        self,
        air: VirtualAir,
        ieee: str,
        settings: DeviceSettings,
        clock: Clock,
        endpoints: EndpointMap | None = None,
        *,
        tiers: int = 4,
        mp184: bool = True,
        faults: Iterable[str] = (),
    ) -> None:
        """``faults``: names from :data:`han_emu.sim.faults.FAULTS` (ValueError on an unknown one)."""
        self.faults = parse_faults(faults)
        device_id = _DEVICE_IDS[settings.kind]
        clients = _CLIENTS + ((Prepayment.cluster_id,) if settings.kind == "ppmid" else ())
        super().__init__(
            air, ieee, [se_endpoint(device_id, endpoint=1, clients=clients)],
            name=settings.name or settings.kind.upper(),
        )
        self.settings = settings
        self.clock = clock
        self.map = endpoints or EndpointMap()
        self.readout = Readout()
        self.ingest = ZclIngest(self.readout, self.map)
        self.tiers = tiers
        self.mp184 = mp184
        self.suspended_until = float("-inf")
        self.suspensions = 0
        self.suspended_s = 0.0
        """Seconds of suspension granted by the hub (overlaps counted once)."""
        self.esi_nwk = HUB_NWK
        self.esi_endpoints: list[int] = []
        self.requests: Counter[int] = Counter()  # per cluster
        self.failures = 0
        self.handlers.append(self._suspend_zcl_messages)
        if "ignore-price-push" in self.faults:
            self.handlers.append(self._refuse_price_push)
        self.handlers.append(self._message_pushed)
        self.handlers.append(self._unsolicited)
        self.confirmed_messages: set[int] = set()
        """Ids of the messages this display has confirmed."""
        self._tasks_running: list[asyncio.Task[None]] = []
        self._certs: CertificateSet | None = None
        self._install_code: bytes | None = None
        self._random: Callable[[int], bytes] | None = None
        self.key_established = False
        self.cbke_responder: CbkeResponder | None = None
        """Answers key establishment the ESI starts (see :meth:`answer_cbke`)."""
        self.gave_up = False
        """A ``no-recovery`` display stopped asking after a request went unanswered."""
        self.top_ups = 0  # keypad entries made, for fresh UTRNs
        self._history_day: date | None = None  # the GB local day of the last whole-history read
        self.served: dict[tuple[int, int], frozenset[int]] = {}
        """(endpoint, cluster) -> the attribute ids the ESI said it serves there (Discover Attributes);
        a pair not here (no answer, or discovery not finished) is read unfiltered."""

    def use_cbke(self, certs: CertificateSet, install_code: bytes,
                 random: Callable[[int], bytes] | None = None) -> None:
        """Join as a Smart Energy device: install-code link key, then CBKE
        (ephemeral keys from ``random``, the system's randomness by default)."""
        self._certs = certs
        self._install_code = install_code
        self._random = random
        self.answer_cbke(certs, random)

    def answer_cbke(self, certs: CertificateSet, random: Callable[[int], bytes] | None = None) -> None:
        """Answer key establishment the ESI starts (a re-key) with ``certs``; a
        ``no-cbke`` display refuses it (Default Response UNSUP_CLUSTER_COMMAND)."""
        if self.cbke_responder is not None:
            return
        if "no-cbke" in self.faults:
            self.handlers.insert(0, refuse_key_establishment)
            return
        self.cbke_responder = CbkeResponder(self, certs, self.clock, random=random, on_key=self._rekeyed)
        self.handlers.insert(0, self.cbke_responder.handle)

    def _rekeyed(self, key: bytes) -> None:
        self.key_established = True

    # -- Sub-GHz: Suspend ZCL Messages ----------------------------------------------------
    def _suspend_zcl_messages(self, node: SimNode, frame: ZclFrame) -> foundation.Status | None:
        header = frame.header
        if (int(frame.packet.cluster_id) != SubGhz.cluster_id or header.frame_control.is_general
                or header.command_id != _SUSPEND
                or header.direction != foundation.Direction.Server_to_Client):
            return None
        if not frame.payload:
            return foundation.Status.MALFORMED_COMMAND
        minutes = frame.payload[0]
        now = self.clock.now()
        if minutes:
            self.suspensions += 1
            until = now + 60.0 * minutes
            self.suspended_s += max(0.0, until - max(now, self.suspended_until))
            self.suspended_until = max(self.suspended_until, until)
        elif self.suspended_until > now:
            self.suspended_s -= self.suspended_until - now
            self.suspended_until = now
        LOGGER.info("%s: suspended for %d minutes by the hub", self.name, minutes)
        return foundation.Status.SUCCESS

    @property
    def suspended(self) -> bool:
        return self.clock.now() < self.suspended_until

    async def _obey_suspension(self) -> None:
        while (left := self.suspended_until - self.clock.now()) > 0:
            await asyncio.sleep(left)

    # -- Messaging ----------------------------------------------------------------------------
    @property
    def shows_messages(self) -> bool:
        """IHDs and PPMIDs show the supplier's messages; a CAD does not."""
        return self.settings.kind in ("ihd", "ppmid")

    def _message_pushed(self, node: SimNode, frame: ZclFrame) -> foundation.Status | None:
        """A DisplayMessage from the ESI: confirm it if asked (the readout takes
        it in the next handler)."""
        header = frame.header
        if (int(frame.packet.cluster_id) == Messaging.cluster_id and header.frame_control.is_cluster
                and header.direction == foundation.Direction.Server_to_Client
                and header.command_id == _DISPLAY_MESSAGE.id and self.shows_messages):
            self._spawn(self._confirm_if_asked(int(frame.packet.src_ep or 0), frame.payload))
        return None

    async def get_last_message(self) -> None:
        """GetLastMessage to the primary ESI (NOT_FOUND when it has none)."""
        ep = self.map.primary
        if ep not in self.esi_endpoints:
            return
        rsp = await self.ask(ep, Messaging.cluster_id, zcl_frame(0, _GET_LAST_MESSAGE))
        if rsp is None:
            return
        header, payload = ZclHeader.deserialize(rsp.data.serialize())
        if header.frame_control.is_cluster and header.command_id == _DISPLAY_MESSAGE.id:
            await self._confirm_if_asked(ep, payload)

    async def _confirm_if_asked(self, ep: int, payload: bytes) -> None:
        try:
            message, _ = _DISPLAY_MESSAGE.schema.deserialize(payload)
        except ValueError:
            return
        message_id = int(message.message_id)
        ext = message.extended_message_control
        if (not message.message_control.confirmation_required or message_id in self.confirmed_messages
                or "no-confirm" in self.faults
                or (ext is not None and int(ext) & 0x01)):
            return
        self.confirmed_messages.add(message_id)
        body = _CONFIRM_MESSAGE.schema(message_id=message_id,
                                       confirmation_time=posix_to_utctime(self.clock.now())).serialize()
        LOGGER.info("%s: confirming message %d", self.name, message_id)
        await self.ask(ep, Messaging.cluster_id, zcl_frame(0, _CONFIRM_MESSAGE.id, body))

    def _refuse_price_push(self, node: SimNode, frame: ZclFrame) -> foundation.Status | None:
        """The ``ignore-price-push`` fault: a PublishPrice the ESI pushes is refused, not read."""
        header = frame.header
        if (int(frame.packet.cluster_id) == Price.cluster_id and header.frame_control.is_cluster
                and header.direction == foundation.Direction.Server_to_Client
                and header.command_id == _PUBLISH_PRICE):
            return foundation.Status.UNSUP_CLUSTER_COMMAND
        return None

    # -- plumbing ---------------------------------------------------------------------------
    def _unsolicited(self, node: SimNode, frame: ZclFrame) -> foundation.Status | None:
        self.ingest.packet(frame.packet, self.clock.now())
        return foundation.Status.SUCCESS if not frame.header.frame_control.is_general or \
            frame.header.command_id == foundation.GeneralCommand.Report_Attributes else None

    async def ask(self, ep: int, cluster: int, data: bytes) -> t.ZigbeePacket | None:
        """One request; both it and its response go into the readout.
        Waits out a suspension from the hub first."""
        if self.suspended_until > self.clock.now():  # (not suspended: no coroutine to make and run)
            await self._obey_suspension()
        if self.gave_up:
            return None
        self.requests[cluster] += 1
        try:
            rsp = await self.request(self.esi_nwk, ep, cluster, data)
        except (asyncio.TimeoutError, Exception) as exc:  # delivery failures are counted, not fatal
            self.failures += 1
            LOGGER.debug("%s: request on 0x%04X failed: %s", self.name, cluster, exc)
            self.gave_up = "no-recovery" in self.faults
            return None
        # The node rewrote the TSN; the response carries the same one.  The readout
        # reads it only in cluster-specific requests (a GetProfile's, to match its
        # response): a general one (Read Attributes, most of all) goes in as built.
        if data[0] & _FRAME_TYPE:
            sent = bytearray(data)
            sent[3 if sent[0] & 0x04 else 1] = read_header(rsp.data.serialize())[2]
            data = bytes(sent)
        assert self.nwk is not None
        now = self.clock.now()
        self.ingest.frame(int(self.nwk), 1, self.esi_nwk, ep, cluster, data, now)
        self.ingest.packet(rsp, now)
        return rsp

    # -- behaviour --------------------------------------------------------------------------
    async def start(self) -> None:
        """Join, find the ESIs and read what does not change."""
        if self._certs is not None and "no-cbke" in self.faults:
            if self._install_code is not None:
                self.use_install_code(self._install_code)
            await self.join()
        elif self._certs is not None:
            extra = {} if self._random is None else {"random": self._random}
            joined = await join_smart_energy(self, self._certs, install_code=self._install_code, **extra)
            self.key_established = True
            if self.cbke_responder is not None:
                self.cbke_responder.trust_centre = joined.esi_ieee
        else:
            await self.join()
        found = await self.find_esi(Metering.cluster_id)
        if not found:
            raise RuntimeError(f"{self.name}: no ESI answered Match_Desc for Metering")
        self.esi_nwk = int(found[0][0])
        self.esi_endpoints = sorted(ep for nwk, ep in found if int(nwk) == self.esi_nwk
                                    and not (ep == self.map.secondary and "ignore-secondary" in self.faults))
        for ep in self.esi_endpoints:
            self.readout.element(ep)
        if self.settings.bind_price:
            await self.bind_prices()
        await self.read_time()
        if self.settings.kind == "ihd":
            await self.read_basic()
        for ep in self.esi_endpoints:
            for cluster in _DISCOVERED:
                await self.discover(ep, cluster)
            await self.read(ep, Metering.cluster_id, [
                _M.unit_of_measure.id, _M.multiplier.id, _M.divisor.id, _M.summation_formatting.id,
                _M.metering_device_type.id, _M.site_id.id, _M.meter_serial_number.id])
            await self.read_export_mpan(ep)
            await self.read_prices(ep)
            if self.settings.kind == "ppmid":  # the display that names the tariff and shows credit
                await self.read_tariff_labels(ep)
                await self.read_prepayment(ep)
            if self.settings.report:
                await self.configure_reporting(ep)
        if self.shows_messages:
            await self.get_last_message()
        if self.settings.full_log and self.mp184 and self.map.secondary in self.esi_endpoints:
            await self.fetch_full_log(self.map.secondary, channel=1)

    async def read_export_mpan(self, ep: int) -> None:
        """MP184 R4: the export MPAN, a manufacturer-specific attribute, read
        with its home's manufacturer code in the ZCL header."""
        home = self.map.export_mpan
        await self.ask(ep, home.cluster_id, read_frame(
            [home.attribute_id], manufacturer=home.manufacturer_code))

    def _mp184_on(self, ep: int) -> bool:
        """Whether this display reads ``ep``'s MP184 export items: always on the
        primary, on the secondary only when the display knows MP184."""
        return ep != self.map.secondary or self.mp184

    async def read_basic(self) -> None:
        """The meter's identity, as a GB IHD shows it on its 'about the meter' page:
        the Basic cluster of the primary ESI (versions, manufacturer, model, date
        code, power source)."""
        await self.read(self.esi_endpoints[0], Basic.cluster_id, [
            _B.zcl_version.id, _B.app_version.id, _B.stack_version.id, _B.hw_version.id,
            _B.manufacturer.id, _B.model.id, _B.date_code.id, _B.power_source.id])

    async def read_time(self) -> None:
        await self.read(self.esi_endpoints[0], Time.cluster_id, [
            _T.time.id, _T.time_status.id, _T.dst_start.id, _T.dst_end.id, _T.dst_shift.id, _T.local_time.id])

    async def read_demand(self) -> None:
        for ep in self.esi_endpoints:
            ids = [_M.instantaneous_demand.id, _M.current_summ_delivered.id, _M.current_summ_received.id,
                   _M.iambient_consumption_indicator.id]
            if not self._mp184_on(ep):  # MP184 R1: the secondary's export register
                ids.remove(_M.current_summ_received.id)
            await self.read(ep, Metering.cluster_id, ids)

    async def read_registers(self) -> None:
        for ep in self.esi_endpoints:
            ids = [_M.active_register_tier_delivered.id, _M.active_register_tier_received.id]
            ids += [tier_summation_attr(n) for n in range(1, 3)]
            if ep == self.map.secondary and self.mp184:  # MP184 R2: the four export TOU registers
                ids += [tier_summation_attr(n, received=True) for n in range(1, self.tiers + 1)]
            # Today's consumption, as a display keeps it fresh (MP184 R6: today's export too)
            ids.append(_M.currentday_consumption_delivered.id)
            if self._mp184_on(ep):
                ids.append(_M.currentday_consumption_received.id)
            await self.read(ep, Metering.cluster_id, ids)

    async def read_prices(self, ep: int) -> None:
        ids = [_P.currency.id, _P.price_trailing_digit.id, _P.standing_charge.id, _P.number_of_price_tiers_in_use.id]
        ids += [tier_block_price_attr(n, 1) for n in range(1, 3)]
        if ep == self.map.secondary and self.mp184:  # MP184 R2: export prices
            ids += [tier_block_price_attr(n, 1, received=True) for n in range(1, self.tiers + 1)]
        await self.read(ep, Price.cluster_id, ids)
        # GetCurrentPrice; with "receiver on when idle" the ESI may push new
        # prices (a display bound to Price is pushed them anyway).
        options = b"\x00" if self.settings.bind_price else b"\x01"
        await self.ask(ep, Price.cluster_id, zcl_frame(0, _GET_CURRENT_PRICE, options))

    async def read_tariff_labels(self, ep: int) -> None:
        """The tariff's name as the ESI carries it (Price TariffLabel; MP184 R2:
        the export tariff's ReceivedTariffLabel on the secondary)."""
        ids = [_P.tariff_label.id]
        if ep == self.map.secondary and self.mp184:
            ids.append(_P.received_tariff_label.id)
        await self.read(ep, Price.cluster_id, ids)

    async def read_prepayment(self, ep: int) -> None:
        """Credit, emergency credit, status and debts of ``ep``'s element."""
        await self.read(ep, Prepayment.cluster_id, _PREPAY_READ)

    async def _prepayment_all(self) -> None:
        for ep in self.esi_endpoints:
            await self.read_prepayment(ep)

    async def top_up(self, ep: int, code: str | None = None) -> ResultType | None:
        """Enter a UTRN on the keypad: ConsumerTopUp to ``ep``'s element (a
        fresh lab UTRN unless ``code`` is given), then read the credit again.
        Returns the ESI's result, None if no response came."""
        if code is None:
            self.top_ups += 1
            code = lab_utrn(int(self.clock.now()) * 1000 + self.top_ups % 1000)
        body = _TOP_UP.schema(originating_device=OriginatingDevice.In_Home_Display,
                              top_up_code=code.encode("ascii", errors="replace")).serialize()
        rsp = await self.ask(ep, Prepayment.cluster_id, zcl_frame(0, _TOP_UP.id, body))
        await self.read_prepayment(ep)
        if rsp is None:
            return None
        header, payload = ZclHeader.deserialize(rsp.data.serialize())
        if header.frame_control.is_general:  # a Default Response: refused outright
            return None
        result, _ = Prepayment.ClientCommandDefs.consumer_top_up_response.schema.deserialize(payload)
        return ResultType(result.result_type)

    async def select_emergency_credit(self, ep: int) -> bool:
        """Press "select emergency credit": SelectAvailableEmergencyCredit to
        ``ep``'s element; True when the ESI accepted it."""
        body = _SELECT_EC.schema(command_issue_date_time=posix_to_utctime(self.clock.now()),
                                 originating_device=OriginatingDevice.In_Home_Display).serialize()
        rsp = await self.ask(ep, Prepayment.cluster_id, zcl_frame(0, _SELECT_EC.id, body))
        await self.read_prepayment(ep)
        if rsp is None:
            return False
        header, payload = ZclHeader.deserialize(rsp.data.serialize())
        return bool(header.frame_control.is_general and payload[1:2] == b"\x00")

    async def bind_prices(self) -> None:
        """Ask the ESI to bind each of its Price clusters to this display:
        the ESI's IEEE address first (IEEE_addr_req), then a ZDO Bind_req per
        endpoint.  A refusal is counted like any failed request."""
        assert self.ieee is not None
        try:
            status, esi_ieee, *_ = await self.zdo_request(self.esi_nwk, zdo_t.ZDOCmd.IEEE_addr_req,
                                                          t.NWK(self.esi_nwk), 0, 0)
            if status != zdo_t.Status.SUCCESS:
                raise RuntimeError(f"IEEE_addr_req: {status!r}")
            me = zdo_t.MultiAddress(addrmode=0x03, ieee=self.ieee, endpoint=1)
            for ep in self.esi_endpoints:
                self.requests[zdo_t.ZDOCmd.Bind_req] += 1
                (status,) = await self.zdo_request(self.esi_nwk, zdo_t.ZDOCmd.Bind_req,
                                                   esi_ieee, t.uint8_t(ep), t.uint16_t(Price.cluster_id), me)
                if status != zdo_t.Status.SUCCESS:
                    raise RuntimeError(f"Bind_req to endpoint {ep}: {status!r}")
        except Exception as exc:  # delivery failures and refusals are counted, not fatal
            self.failures += 1
            LOGGER.warning("%s: could not bind to the ESI's Price cluster: %s", self.name, exc)

    async def read_history(self) -> None:
        for ep in self.esi_endpoints:
            for received in (False, True) if self._mp184_on(ep) else (False,):  # MP184 R6
                d = "received" if received else "delivered"
                ids = [Metering.attributes_by_name[name].id for name in (  # today's: with the registers
                    f"previousday_consumption_{d}", f"current_week_consumption_{d}", f"previous_week_consumption_{d}",
                    f"current_month_consumption_{d}", f"previous_month_consumption_{d}")]
                ids += [previous_day_attr(n, received) for n in PREVIOUS_DAYS]
                ids += [previous_week_attr(n, received) for n in PREVIOUS_WEEKS]
                ids += [previous_month_attr(n, received) for n in PREVIOUS_MONTHS]
                await self.read(ep, Metering.cluster_id, ids)

    # -- history cadence: the previous periods once a day, the current ones hourly ---------
    async def read_current_periods(self) -> None:
        """This week's and this month's consumption (MP184 R6: and export on the
        secondary), the history figures that change during the day."""
        for ep in self.esi_endpoints:
            ids = []
            for received in (False, True) if self._mp184_on(ep) else (False,):
                ids += [previous_week_attr(0, received), previous_month_attr(0, received)]
            await self.read(ep, Metering.cluster_id, ids)

    def _han_day(self) -> date:
        """The GB local day on the display's clock (the Time cluster's, once read)."""
        t = han_clock(self.readout, self.clock.now())
        return local_datetime(self.clock.now() if t is None else t).date()

    async def poll_history(self) -> None:
        """The whole history (8 days, 5 weeks, 13 months) at start and on the
        first poll of each GB local day; the current week and month otherwise.
        The previous periods change only at midnight, so reading them hourly
        would repeat the same 56 values on the air all day."""
        day = self._han_day()
        if day != self._history_day:
            await self.read_history()
            self._history_day = day
        else:
            await self.read_current_periods()

    def _to_history_day(self) -> float:
        """Seconds to :data:`HISTORY_AFTER_MIDNIGHT_S` past the next GB local midnight."""
        t = han_clock(self.readout, self.clock.now())
        t = self.clock.now() if t is None else t
        midnight = local_midnight(local_datetime(t).date() + timedelta(days=1))
        return max(1.0, midnight + HISTORY_AFTER_MIDNIGHT_S - t)

    async def configure_reporting(self, ep: int) -> None:
        schema = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Configure_Reporting].schema
        records = []
        reported = [(_M.current_summ_delivered, 1), (_M.current_summ_received, 1), (_M.instantaneous_demand, 50)]
        if not self._mp184_on(ep):  # MP184 R6: export reporting on the secondary
            del reported[1]
        served = self.served.get((ep, Metering.cluster_id))
        reported = [(attr, change) for attr, change in reported if served is None or attr.id in served]
        for attr, change in reported:
            rec = foundation.AttributeReportingConfig()
            rec.direction = foundation.ReportingDirection.SendReports
            rec.attrid = attr.id
            rec.datatype = attr.zcl_type
            rec.min_interval = self.settings.report_min_s
            rec.max_interval = self.settings.report_max_s
            rec.reportable_change = change
            records.append(rec)
        payload = schema(config_records=records).serialize()
        await self.ask(ep, Metering.cluster_id,
                       zcl_frame(0, foundation.GeneralCommand.Configure_Reporting, payload, general=True))

    def _get_profile(self, channel: int, end: int, count: int) -> bytes:
        body = make(_GET_PROFILE.schema, interval_channel=channel, end_time=end, number_of_periods=count).serialize()
        return zcl_frame(0, _GET_PROFILE.id, body)

    async def fetch_profile(self, ep: int, channel: int, periods: int) -> int:
        """Page back ``periods`` intervals from the newest; returns intervals got."""
        end = 0
        got = 0
        while got < periods:
            rsp = await self.ask(ep, Metering.cluster_id, self._get_profile(channel, end, min(PAGE, periods - got)))
            if rsp is None:
                break
            try:
                page, _ = read(GetProfileResponseSchema, ZclHeader.deserialize(rsp.data.serialize())[1])
            except ValueError:
                break
            count = int(page.number_of_periods_delivered)
            period = PROFILE_INTERVAL_SECONDS.get(page.profile_interval_period)
            if page.status not in _PROFILE_GOING or count == 0 or period is None:
                break
            got += count
            end = int(page.end_time) - count * int(period)
            if end <= 0:
                break
        return got

    async def fetch_day_profile(self) -> None:
        for ep in self.esi_endpoints:
            for channel in (0, 1) if self._mp184_on(ep) else (0,):  # MP184 R3: export profile
                await self.fetch_profile(ep, channel, 48)

    async def fetch_full_log(self, ep: int, channel: int) -> int:
        return await self.fetch_profile(ep, channel, 10_000)

    # -- the schedule -------------------------------------------------------------------------
    def run(self) -> list[asyncio.Task[None]]:
        """Start the periodic polls (call after :meth:`start`)."""
        s = self.settings
        jobs = [
            (s.demand_s, self.read_demand),
            (s.registers_s, self.read_registers),
            (s.prices_s, self._prices_all),
            (s.profile_s, self.fetch_day_profile),
            (s.history_s, self.poll_history),
            (s.time_s, self.read_time),
        ]
        if s.kind == "ppmid":  # credit on the registers' schedule
            jobs.append((s.registers_s, self._prepayment_all))
        if "slow-poll" in self.faults:
            jobs = [(period * SLOW_POLL_FACTOR, job) for period, job in jobs]
        loop = asyncio.get_running_loop()
        self._tasks_running = [
            loop.create_task(self._every(period, job, self._to_history_day if job == self.poll_history else None),
                             name=f"{self.name}-{job.__name__}")
            for period, job in jobs if period > 0
        ]
        return self._tasks_running

    async def _prices_all(self) -> None:
        for ep in self.esi_endpoints:
            await self.read_prices(ep)

    async def _every(self, period: float, job, due: Callable[[], float] | None = None) -> None:
        """Run ``job`` every ``period`` seconds, or sooner when ``due()`` (seconds
        to the next time it must run) says so."""
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                LOGGER.exception("%s: %s failed", self.name, job.__name__)
            await asyncio.sleep(period if due is None else min(period, due()))

    async def stop(self) -> None:
        for task in self._tasks_running:
            task.cancel()
        await asyncio.gather(*self._tasks_running, return_exceptions=True)
        self._tasks_running = []
