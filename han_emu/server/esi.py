"""The twin ESME's two ESI endpoints, bound to the meter model.

Each element gets an ESI endpoint (profile 0x0109, device 0x0500) serving
Basic, Identify, Time, Metering, Price and Prepayment (the primary also Messaging); the
endpoint numbers and the export MPAN's home come from the MP184
:class:`~clusters.mp184.EndpointMap`.  The server also watches the TOU tiers
and publishes a new price to subscribed clients when a tier changes, and
pushes the meter's messages (DisplayMessage, CancelMessage) to the displays.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Sequence

import zigpy.types as t
from zigpy.zcl.clusters.general import Basic, Identify, Time
from zigpy.zdo.types import SimpleDescriptor

from clusters import Messaging, Metering, Prepayment, Price, SubGhz, posix_to_utctime
from clusters.ids import KEY_ESTABLISHMENT
from clusters.utctime import UTCTIME_INVALID
from clusters.mp184 import EndpointMap, Role
from han_emu.meter.clock import Clock
from han_emu.meter.gbtime import BST_SHIFT, HALF_HOUR, bst_window, utc_offset
from han_emu.meter.messages import Message, ScheduledMessage
from han_emu.meter.model import TwinMeter
from han_emu.meter.settings import ELEMENTS, PRIMARY
from han_emu.crypto.certsets import CertificateSet
from han_emu.server.attributes import AttributeTable
from han_emu.server.basic import BasicInfo, basic_table
from han_emu.server.endpoint import Endpoint
from han_emu.server.engine import ZclServer
from han_emu.server.key_establishment import KeyEstablishmentServer
from han_emu.server.messaging import MessagingServer, cancel_all_messages, cancel_message, display_message
from han_emu.server.metering import AmbientThresholds, metering_table, profile_handler
from han_emu.server.prepayment import ElementPrepayment
from han_emu.server.price import ElementPrices, subscriber_address
from han_emu.server.subghz import SubGhzServer

LOGGER = logging.getLogger(__name__)

#: Time cluster TimeStatus: Master | MasterZoneDst (the ESI is the HAN's clock).
TIME_STATUS = Time.TimeStatus.Master | Time.TimeStatus.Master_for_Zone_and_DST


def time_table(clock: Clock, started: float) -> AttributeTable:
    """GB time: UTC, zone 0, DST window of the current year, local time."""

    def dst(which: int) -> Callable[[], int]:
        def get() -> int:
            now = clock.now()
            from datetime import datetime, timezone

            window = bst_window(datetime.fromtimestamp(now, timezone.utc).year)
            return int(posix_to_utctime(window[which]))

        return get

    getters: dict[str, Callable[[], Any]] = {
        "time": lambda: posix_to_utctime(clock.now()),
        "time_status": lambda: TIME_STATUS,
        "time_zone": lambda: 0,
        "dst_start": dst(0),
        "dst_end": dst(1),
        "dst_shift": lambda: BST_SHIFT,
        "standard_time": lambda: int(posix_to_utctime(clock.now())),
        "local_time": lambda: int(posix_to_utctime(clock.now() + utc_offset(clock.now()))),
        "last_set_time": lambda: posix_to_utctime(started),
        "valid_until_time": lambda: UTCTIME_INVALID,
    }
    return AttributeTable.from_cluster(Time, getters)


class EsiServer:
    """Both ESIs of the twin meter, as one PacketServer."""

    def __init__(
        self,
        meter: TwinMeter,
        clock: Clock,
        endpoints: EndpointMap | None = None,
        *,
        accept_unencrypted: bool = False,
        sub_ghz: bool = False,
        identities: CertificateSet | Sequence[CertificateSet] | None = None,
        ieee_of: Callable[[int], Any] | None = None,
        on_key: Callable[[Any, bytes], Any] | None = None,
        ambient: AmbientThresholds | None = None,
        bound: Callable[[int, int], Iterable[tuple[int, int]]] | None = None,
        random: Callable[[int], bytes] | None = None,
        basic: BasicInfo | None = None,
        messages: Sequence[ScheduledMessage] = (),
    ) -> None:
        """With ``identities`` (certificate sets) the primary ESI runs CBKE as a
        Smart Energy trust centre and refuses SE requests from devices that have
        not completed it (unless ``accept_unencrypted``, the lab override);
        ``ieee_of`` maps a NWK address to an IEEE address and ``on_key``
        installs an agreed link key in the radio; ``ambient`` sets the
        ambient consumption indicator's thresholds; ``bound(endpoint, cluster)``
        lists the radio's binding-table destinations (NWK, endpoint) for a
        cluster of an ESI endpoint: clients bound to Price get PublishPrice
        on a tier change as clients that asked with the receiver-on bit do;
        ``random`` is where CBKE's ephemeral keys come from (the operating
        system's randomness unless a seeded run asks otherwise); ``basic``: what
        the Basic cluster says about the meter; ``messages``: the configured
        messages, scheduled from now (the run's start)."""
        self.meter = meter
        self.bound = bound
        self.ambient = ambient or AmbientThresholds()
        self.clock = clock
        self.map = endpoints or EndpointMap()
        self.prices: dict[str, ElementPrices] = {}
        self._identify: dict[int, int] = {}
        self.basic = basic
        self.messaging = MessagingServer(meter, clock)
        meter.messages.schedule(messages, clock.now())
        # On a sub-GHz PHY the hub serves the Sub-GHz cluster (duty-cycle throttling).
        self.sub_ghz: SubGhzServer | None = SubGhzServer(clock) if sub_ghz else None
        eps = [self._endpoint(name, sub_ghz) for name in ELEMENTS]
        self.zcl = ZclServer(eps, clock, accept_unencrypted=accept_unencrypted)
        if self.sub_ghz is not None:
            self.sub_ghz.bind(self.zcl, self.endpoint_of(PRIMARY))
        self.key_establishment: KeyEstablishmentServer | None = None
        if identities is not None:
            if ieee_of is None:
                raise ValueError("CBKE needs an ieee_of lookup from the radio")
            primary = self.zcl.endpoints[self.endpoint_of(PRIMARY)]
            self.key_establishment = KeyEstablishmentServer(
                primary, identities, clock, ieee_of, on_key=on_key,
                **({} if random is None else {"random": random}),
            )
            self.key_establishment.guard(self.zcl)
        self._tiers = self._tier_snapshot()
        self._changed = False

    # -- construction -----------------------------------------------------------
    def endpoint_of(self, element: str) -> int:
        return self.map.endpoint(Role(element))

    def _endpoint(self, element: str, sub_ghz: bool) -> Endpoint:
        meter = self.meter
        ep = Endpoint(self.endpoint_of(element))
        ep.add_server_cluster(Basic, basic_table(self.basic))
        ep_id = ep.id
        self._identify[ep_id] = 0
        ep.add_server_cluster(
            Identify,
            AttributeTable.from_cluster(
                Identify,
                {"identify_time": lambda: self._identify[ep_id]},
                {"identify_time": lambda v: self._identify.__setitem__(ep_id, int(v))},
            ),
        )
        ep.add_server_cluster(Time, time_table(self.clock, self.clock.now()))

        home = self.map.export_mpan
        export_home = home if home.cluster_id == Metering.cluster_id else None
        ep.add_server_cluster(Metering, metering_table(meter, element, export_home, self.ambient))
        logged = {"import", "export"}
        if meter.settings.mpans.of(element, "export") is None:
            logged.discard("export")
        ep.on_command(Metering.cluster_id, Metering.ServerCommandDefs.get_profile.id, profile_handler(meter, element, logged),
                      generates=(Metering.ClientCommandDefs.get_profile_response.id,))

        prices = ElementPrices(meter, element)
        self.prices[element] = prices
        ep.add_server_cluster(Price, prices.table())
        for command_id, (handler, generates) in prices.handlers().items():
            ep.on_command(Price.cluster_id, command_id, handler, generates=generates)
        ep.declare_generated(Price.cluster_id, (Price.ClientCommandDefs.publish_price.id,))
        prepayment = ElementPrepayment(meter, element)
        ep.add_server_cluster(Prepayment, prepayment.table())
        for command_id, (handler, generates) in prepayment.handlers().items():
            ep.on_command(Prepayment.cluster_id, command_id, handler, generates=generates)
        if element == PRIMARY:  # PROVISIONAL: messages from the primary ESI only
            ep.add_server_cluster(Messaging)
            for command_id, (handler, generates) in self.messaging.handlers().items():
                ep.on_command(Messaging.cluster_id, command_id, handler, generates=generates)
            ep.declare_generated(Messaging.cluster_id, (Messaging.ClientCommandDefs.display_message.id,
                                                        Messaging.ClientCommandDefs.cancel_message.id,
                                                        Messaging.ClientCommandDefs.cancel_all_messages.id))
        if sub_ghz and self.sub_ghz is not None:
            ep.add_server_cluster(SubGhz)
            for command_id, (handler, generates) in self.sub_ghz.handlers().items():
                ep.on_command(SubGhz.cluster_id, command_id, handler, generates=generates)
            ep.declare_generated(SubGhz.cluster_id, (SubGhz.ClientCommandDefs.suspend_zcl_messages.id,))
        return ep

    # -- tier watching ------------------------------------------------------------
    def _tier_snapshot(self) -> dict[tuple[str, str], int | None]:
        return {
            (e, d): self.meter.active_tier(e, d) for e in ELEMENTS for d in ("import", "export")
        }

    def _publish_on_tier_change(self) -> None:
        now = self._tier_snapshot()
        if now == self._tiers:  # the usual answer: asked at every meter step, tiers move on half hours
            return
        changed = {e for (e, d), tier in now.items() if self._tiers.get((e, d)) != tier}
        self._tiers = now
        for element in sorted(changed):
            self.publish_price(element, "tier change")

    def publish_price(self, element: str, why: str = "new prices") -> int:
        """PublishPrice from ``element``'s ESI to its price subscribers now (a tier
        change, or prices replaced mid-run); returns how many were sent."""
        prices = self.prices[element]
        subscribers = sorted(self.price_subscribers(element))
        for nwk, dst_ep in subscribers:
            self.zcl.send(
                self.endpoint_of(element), Price.cluster_id, Price.ClientCommandDefs.publish_price.id, prices.publish_price(),
                subscriber_address(nwk), dst_ep,
            )
            LOGGER.info("%s on the %s element: PublishPrice to 0x%04X", why, element, nwk)
        return len(subscribers)

    def price_subscribers(self, element: str) -> set[tuple[int, int]]:
        """Who gets an unsolicited PublishPrice from ``element``'s ESI: clients
        that asked GetCurrentPrice with the receiver-on-when-idle bit, and
        destinations bound to its Price cluster (ZDO Bind); each once."""
        out = set(self.prices[element].state.subscribers)
        if self.bound is not None:
            out.update(self.bound(self.endpoint_of(element), Price.cluster_id))
        return out

    # -- messages -----------------------------------------------------------------
    def message_subscribers(self) -> set[tuple[int, int]]:
        """Displays that get DisplayMessage and CancelMessage pushed: clients that
        asked GetLastMessage, destinations bound to the primary ESI's Messaging
        cluster, and the primary's price subscribers (displays that asked to be
        pushed to); each once."""
        primary = self.endpoint_of(PRIMARY)
        out = set(self.messaging.subscribers) | self.price_subscribers(PRIMARY)
        if self.bound is not None:
            out.update(self.bound(primary, Messaging.cluster_id))
        return out

    def _push_message(self, command_id: int, payload: Any) -> None:
        for nwk, dst_ep in sorted(self.message_subscribers()):
            self.zcl.send(self.endpoint_of(PRIMARY), Messaging.cluster_id, command_id, payload,
                          subscriber_address(nwk), dst_ep)

    def send_message(self, text: str, *, duration_min: int | None = None, confirm: bool = False,
                     importance: str = "medium") -> Message:
        """A new message from now, pushed to the displays at once (the dashboard's key)."""
        message = self.meter.messages.compose(text, self.clock.now(), duration_min=duration_min,
                                              confirm=confirm, importance=importance)
        LOGGER.info("message %d to %d display(s): %r", message.id, len(self.message_subscribers()), text)
        self._push_message(Messaging.ClientCommandDefs.display_message.id, display_message(message))
        return message

    def cancel_message(self) -> Message | None:
        """Withdraw the message in force (CancelMessage to the displays)."""
        message = self.meter.messages.cancel(self.clock.now())
        if message is not None:
            self._push_message(Messaging.ClientCommandDefs.cancel_message.id, cancel_message(message))
        return message

    def cancel_all_messages(self) -> Message | None:
        """Withdraw every message from now (CancelAllMessages to the displays);
        the meter keeps the time for GetMessageCancellation."""
        message = self.meter.messages.cancel_all(self.clock.now())
        at = self.meter.messages.cancelled_all_at
        assert at is not None
        self._push_message(Messaging.ClientCommandDefs.cancel_all_messages.id, cancel_all_messages(at))
        return message

    def _publish_due_messages(self) -> None:
        for message in self.meter.messages.due(self.clock.now()):
            LOGGER.info("scheduled message %d due: %r", message.id, message.text)
            self._push_message(Messaging.ClientCommandDefs.display_message.id, display_message(message))

    # -- key establishment -----------------------------------------------------------
    def rekey(self, ieee: t.EUI64, nwk: int, dst_ep: int) -> int:
        """Start CBKE with the display ``ieee`` (at ``nwk``) as the initiator:
        InitiateKeyEstablishmentRequest from the primary ESI's Key Establishment
        client to the display's server on ``dst_ep``, out at the next :meth:`due`.
        Returns its TSN.  RuntimeError when this ESI runs no CBKE;
        KeyEstablishmentBusy when an exchange with the display runs already."""
        ke = self.key_establishment
        if ke is None:
            raise RuntimeError("this ESI runs no key establishment")
        message = ke.initiate(ieee)
        return self.zcl.send(self.endpoint_of(PRIMARY), KEY_ESTABLISHMENT, message.command, message.payload,
                             t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=nwk), dst_ep,
                             from_server=False, disable_default_response=True)

    # -- PacketServer ---------------------------------------------------------------
    def descriptors(self) -> Sequence[SimpleDescriptor]:
        return self.zcl.descriptors()

    def wants(self, packet: t.ZigbeePacket) -> bool:
        return self.zcl.wants(packet)

    def handle(self, packet: t.ZigbeePacket) -> list[t.ZigbeePacket]:
        if self.sub_ghz is not None:
            self.sub_ghz.observe(packet)
        return self.zcl.handle(packet)

    def meter_changed(self) -> None:
        """The meter moved on: reports on change and tier publishes are due for
        a look (call from whatever advances the meter)."""
        self._changed = True

    def due(self) -> list[t.ZigbeePacket]:
        self._changed = False
        self._publish_on_tier_change()
        self._publish_due_messages()
        return self.zcl.due()

    def next_due(self) -> float | None:
        """The engine's next report, or just after the next half hour, when a
        TOU tier may change (the meter is advanced past it by then)."""
        if self._changed:
            return self.clock.now()
        boundary = (self.clock.now() // HALF_HOUR + 1) * HALF_HOUR + 1.0
        engine = self.zcl.next_due()
        message = self.meter.messages.next_due()
        # min() of those given, first among equals: the host asks after every frame
        best = boundary
        if engine is not None and engine < best:
            best = engine
        if message is not None and message < best:
            best = message
        return best
