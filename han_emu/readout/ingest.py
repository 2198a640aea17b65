"""Turn ZCL frames between a display and an ESI into readout updates.

Fed with both directions of the conversation (requests and responses), it
needs nothing else: attribute names and payload schemas come from
``clusters``, and GetProfile responses are matched to their requests by TSN
to learn the interval channel (the response does not carry it).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable

import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.foundation import Direction, GeneralCommand, Status

from clusters import ZCL_EPOCH_POSIX, Basic, Messaging, Metering, Prepayment, Price, Time, utctime_to_posix
from clusters.ids import SE_PROFILE_ID
from clusters.messaging import DURATION_UNTIL_CHANGED, START_NOW, ExtendedMessageControl
from clusters.metering import INVALID_INTERVAL, PROFILE_INTERVAL_SECONDS
from clusters.mp184 import EndpointMap
from clusters.price import TariffTypeNibble
from clusters.zcl_header import ZclHeader
from clusters.zcl_struct import read
from clusters.zcl_values import read_response_records, read_typed_records
from han_emu.meter.messages import IMPORTANCES
from han_emu.readout.costs import note_tier_reading
from han_emu.readout.model import ElementReadout, MessageInfo, PriceInfo, Readout

LOGGER = logging.getLogger(__name__)

_TIER = re.compile(r"current_tier(\d+)_summ_(delivered|received)$")
_HIST = re.compile(
    r"(currentday|previousday|previous_day(\d)|current_week|previous_week(\d)?|current_month|previous_month(\d+)?)"
    r"_consumption_(delivered|received)$"
)
_PRICE = re.compile(r"(received_)?tier(\d+)_block1_price$")
_GET_PROFILE = Metering.ServerCommandDefs.get_profile
_PROFILE_RSP = Metering.ClientCommandDefs.get_profile_response
_PUBLISH_PRICE = Price.ClientCommandDefs.publish_price
_TARIFF_INFO = Price.ClientCommandDefs.publish_tariff_information
_DISPLAY_MESSAGE = Messaging.ClientCommandDefs.display_message
_CANCEL_MESSAGE = Messaging.ClientCommandDefs.cancel_message
_CANCEL_ALL = Messaging.ClientCommandDefs.cancel_all_messages
_CONFIRM_MESSAGE = Messaging.ServerCommandDefs.message_confirmation
_TIME = Time.AttributeDefs.time.id
_DEBT = re.compile(r"debt_(label|amount)(\d)$")
_TOP_UP_RSP = Prepayment.ClientCommandDefs.consumer_top_up_response
_PREPAY_FIELDS = {
    "payment_control_configuration": "control", "credit_remaining": "credit",
    "emergency_credit_remaining": "emergency_credit", "credit_status": "status", "accumulated_debt": "debt",
    "low_credit_warning_level": "low_credit_warning", "emergency_credit_limit_allowance": "emergency_limit",
    "emergency_credit_threshold": "emergency_threshold", "total_credit_added": "total_added",
}
_IMPORT_TIER_IDS = frozenset(
    a.id for a in Metering.attributes.values() if (m := _TIER.match(a.name)) and m.group(2) == "delivered")
_LOCAL_TIME = Time.AttributeDefs.local_time.id
_METERING = Metering.cluster_id
_METERING_NAMES = {attr_id: a.name for attr_id, a in Metering.attributes.items()}
_SUCCESS = int(Status.SUCCESS)
#: Frame-control bits of a general (frame type 0) client-to-server frame: both clear.
_GENERAL_REQUEST_MASK = 0x03 | 0x08
_MFR_BIT = 0x04


def _history_key(match: re.Match[str]) -> tuple[str, str, int]:
    name, day_n, week_n, month_n, direction = match.groups()
    if name == "currentday":
        return ("day", direction, 0)
    if name == "previousday":
        return ("day", direction, 1)
    if name.startswith("previous_day"):
        return ("day", direction, int(day_n))
    if name == "current_week":
        return ("week", direction, 0)
    if name.startswith("previous_week"):
        return ("week", direction, int(week_n or 1))
    if name == "current_month":
        return ("month", direction, 0)
    return ("month", direction, int(month_n or 1))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return bytes(value).decode("utf-8", errors="replace")


class ZclIngest:
    """Applies ZCL frames to a :class:`Readout`."""

    def __init__(self, readout: Readout, endpoints: EndpointMap | None = None) -> None:
        self.readout = readout
        self.map = endpoints or EndpointMap()
        readout.roles.setdefault(self.map.primary, "primary")
        readout.roles.setdefault(self.map.secondary, "secondary")
        for ep, role in readout.roles.items():
            if ep in readout.elements:
                readout.elements[ep].role = role
        self._profile_requests: dict[tuple[int, int], int] = {}  # (client nwk, tsn) -> channel
        self.frames = 0
        self.errors = 0

    # -- entry point ------------------------------------------------------------------
    def packet(self, packet: t.ZigbeePacket, now: float | None = None) -> None:
        """One frame seen on the HAN (either direction)."""
        if packet.profile_id != SE_PROFILE_ID:
            return
        data = packet.data.serialize() if hasattr(packet.data, "serialize") else bytes(packet.data)
        src = int(packet.src.address) if packet.src is not None else -1
        dst = int(packet.dst.address) if packet.dst is not None else -1
        self.frame(src, int(packet.src_ep or 0), dst, int(packet.dst_ep or 0), int(packet.cluster_id), data, now)

    def frame(self, src: int, src_ep: int, dst: int, dst_ep: int, cluster: int, data: bytes,
              now: float | None = None) -> None:
        if data and not data[0] & _GENERAL_REQUEST_MASK and len(data) >= (5 if data[0] & _MFR_BIT else 3):
            # A general command from a client (Read Attributes, most of all: each
            # display's own requests come this way): counted, and nothing in it
            # moves the readout, as the long way below finds after parsing it.
            self.frames += 1
            if now is not None:
                self._start_scheduled_prices(now)
            return
        try:
            header, body = ZclHeader.deserialize(data)
        except Exception:
            self.errors += 1
            return
        self.frames += 1
        if now is not None:
            self._start_scheduled_prices(now)
        try:
            if cluster == Messaging.cluster_id and header.frame_control.is_cluster:
                self._message(header, body, now)
            elif header.direction == Direction.Client_to_Server:
                self._request(src, cluster, header, body)
            else:
                self._response(src, src_ep, dst, cluster, header, body, now)
        except Exception as exc:  # a malformed payload never breaks the readout
            self.errors += 1
            LOGGER.debug("cannot apply ZCL frame on 0x%04X: %s (%s)", cluster, data.hex(), exc)

    # -- Messaging: the ESI's message, a display's confirmation ----------------------------
    def _message(self, header: ZclHeader, body: bytes, now: float | None) -> None:
        held = self.readout.message
        if header.direction == Direction.Client_to_Server:
            if header.command_id == _CONFIRM_MESSAGE.id:
                confirmation, _ = _CONFIRM_MESSAGE.schema.deserialize(body)
                if held is not None and held.id == int(confirmation.message_id):
                    held.confirmed = True
                    held.confirmed_at = utctime_to_posix(int(confirmation.confirmation_time))
            return
        if header.command_id == _DISPLAY_MESSAGE.id:
            m, _ = _DISPLAY_MESSAGE.schema.deserialize(body)
            control = m.message_control
            start = int(m.start_time)
            duration = int(m.duration_in_minutes)
            ext = m.extended_message_control
            confirmed = ext is not None and bool(ext & ExtendedMessageControl.Confirmed)
            same = held is not None and held.id == int(m.message_id)
            message = MessageInfo(
                id=int(m.message_id),
                text=str(m.message).encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
                start=None if start == START_NOW else utctime_to_posix(start),
                duration_min=None if duration == DURATION_UNTIL_CHANGED else duration,
                importance=IMPORTANCES[int(control.importance)],
                confirm_required=bool(control.confirmation_required),
                received_at=held.received_at if same and held is not None else now,
                confirmed=confirmed or (same and held is not None and held.confirmed),
                confirmed_at=held.confirmed_at if same and held is not None else None,
            )
            self.readout.message = message
        elif header.command_id == _CANCEL_MESSAGE.id:
            cancel, _ = _CANCEL_MESSAGE.schema.deserialize(body)
            if held is not None and held.id == int(cancel.message_id):
                held.cancelled = True
        elif header.command_id == _CANCEL_ALL.id:
            cancel_all, _ = _CANCEL_ALL.schema.deserialize(body)
            at = int(cancel_all.implementation_date_time)
            # 0x00000000 means now; a message that starts after the time stays
            if held is not None and (at == START_NOW or held.start is None or held.start <= utctime_to_posix(at)):
                held.cancelled = True

    # -- requests (only what responses need) ----------------------------------------------
    def _request(self, src: int, cluster: int, header: ZclHeader, body: bytes) -> None:
        if cluster == Metering.cluster_id and header.frame_control.is_cluster and header.command_id == _GET_PROFILE.id:
            req, _ = read(_GET_PROFILE.schema, body)
            self._profile_requests[(src, int(header.tsn))] = int(req.interval_channel)

    # -- responses, reports, publishes ------------------------------------------------------
    def _response(self, src: int, src_ep: int, dst: int, cluster: int, header: ZclHeader,
                  body: bytes, now: float | None) -> None:
        el = self.readout.element(src_ep)
        el.updated = now
        if header.frame_control.is_general:
            mfr = None if header.manufacturer is None else int(header.manufacturer)
            applied: list[int] = []
            if header.command_id == GeneralCommand.Read_Attributes_rsp:
                for attr_id, status, _type, value in read_response_records(body):
                    if status == _SUCCESS and value is not None:
                        self._attribute(el, cluster, attr_id, value, now, mfr)
                        applied.append(attr_id)
            elif header.command_id == GeneralCommand.Report_Attributes:
                for attr_id, _type, value in read_typed_records(body):
                    if value is not None:
                        self._attribute(el, cluster, attr_id, value, now, mfr)
                        applied.append(attr_id)
            if cluster == Metering.cluster_id and mfr is None and _IMPORT_TIER_IDS.intersection(applied):
                note_tier_reading(self.readout, el, now)  # after the whole frame: all its tiers at once
            return
        if cluster == Metering.cluster_id and header.command_id == _PROFILE_RSP.id:
            channel = self._profile_requests.pop((dst, int(header.tsn)), None)
            rsp, _ = read(_PROFILE_RSP.schema, body)
            period = PROFILE_INTERVAL_SECONDS.get(rsp.profile_interval_period)
            if channel is None or int(rsp.status) != 0 or period is None:
                return
            end = utctime_to_posix(int(rsp.end_time))
            intervals = el.profile.setdefault(channel, {})
            for i, value in enumerate(rsp.intervals):
                intervals[int(end - i * period)] = None if int(value) == INVALID_INTERVAL else int(value)
        elif cluster == Price.cluster_id and header.command_id == _PUBLISH_PRICE.id:
            p, _ = read(_PUBLISH_PRICE.schema, body)
            start = int(p.start_time)
            info = PriceInfo(
                price=int(p.price),
                tier=int(p.price_trailing_digit_and_price_tier.price_tier),
                trailing_digit=int(p.price_trailing_digit_and_price_tier.trailing_digit),
                tiers=int(p.number_of_price_tiers_and_register_tier.number_of_price_tiers),
                currency=int(p.currency),
                duration_minutes=int(p.duration_in_minutes),
                label=_text(p.rate_label),
                generation_price=None if p.generation_price is None else int(p.generation_price),
                generation_tier=None if p.generation_tier is None else int(p.generation_tier),
                start=None if start in (0, 0xFFFFFFFF) else utctime_to_posix(start),
            )
            el.price_trailing_digit = info.trailing_digit
            el.currency = info.currency
            if start not in (0, 0xFFFFFFFF) and start > int(p.current_time):
                el.next_price = info  # scheduled: in force once it starts
            else:
                self._price_in_force(el, info)
        elif cluster == Prepayment.cluster_id and header.command_id == _TOP_UP_RSP.id:
            rsp, _ = _TOP_UP_RSP.schema.deserialize(body)
            el.prepayment.last_top_up = (int(rsp.result_type), int(rsp.top_up_value), int(rsp.credit_remaining))
            if int(rsp.result_type) in (0x00, 0x10, 0x11, 0x12):  # accepted: the response carries the new credit
                el.prepayment.credit = int(rsp.credit_remaining)
        elif cluster == Price.cluster_id and header.command_id == _TARIFF_INFO.id:
            info, _ = _TARIFF_INFO.schema.deserialize(body)
            received = info.tariff_type_charging_scheme.tariff_type == TariffTypeNibble.Received
            direction = "received" if received else "delivered"
            el.tariff_label[direction] = _text(info.tariff_label)

    @staticmethod
    def _price_in_force(el: ElementReadout, info: PriceInfo) -> None:
        """A PublishPrice in force now becomes the element's current price and
        sets its active tier and that tier's price at once, so the cost per
        hour follows a pushed price without waiting for the next register
        read; its generation price does the same for the received (export)
        tier.  A scheduled price (a later start) waits in ``next_price``."""
        el.current_price = info
        if info.tier:  # 0: the price of no tier
            el.active_tier["delivered"] = info.tier
            if info.price is not None:
                el.prices[("delivered", info.tier)] = info.price
        gen_tier, gen_price = info.generation_tier, info.generation_price
        if gen_tier and gen_price is not None and gen_price != 0xFFFFFFFF:
            el.active_tier["received"] = gen_tier
            el.prices[("received", gen_tier)] = gen_price

    def _start_scheduled_prices(self, now: float) -> None:
        """A scheduled price whose start has come is the price in force."""
        for el in self.readout.elements.values():
            scheduled = el.next_price
            if scheduled is not None and scheduled.start is not None and scheduled.start <= now:
                el.next_price = None
                self._price_in_force(el, scheduled)

    # -- attributes --------------------------------------------------------------------------
    def attribute(self, ep: int, cluster: int, attr_id: int, value: Any, now: float | None = None,
                  manufacturer: int | None = None) -> None:
        """One attribute value; ``manufacturer`` is the code of a
        manufacturer-specific frame (its ids are not the standard ones)."""
        el = self.readout.element(ep)
        el.updated = now
        self._attribute(el, cluster, attr_id, value, now, manufacturer)

    def _attribute(self, el: ElementReadout, cluster: int, attr_id: int, value: Any, now: float | None,
                   manufacturer: int | None) -> None:
        """:meth:`attribute` on an element already stamped with the time."""
        if manufacturer is not None:
            if self.map.export_mpan.matches(cluster, attr_id, manufacturer):  # its home has a manufacturer code
                el.export_mpan = _text(value) or None
            return  # otherwise another manufacturer's attribute: nothing a display knows
        if cluster == _METERING:
            apply = _METERING_APPLY.get(attr_id, _UNKNOWN)
            if apply is _UNKNOWN:
                apply = _METERING_APPLY[attr_id] = _metering_apply(_METERING_NAMES.get(attr_id, ""))
            if apply is not None:
                apply(el, value)
        elif cluster == Price.cluster_id and attr_id in Price.attributes:
            self._price(el, Price.attributes[attr_id].name, value)
        elif cluster == Prepayment.cluster_id and attr_id in Prepayment.attributes:
            self._prepayment(el, Prepayment.attributes[attr_id].name, value)
        elif cluster == Basic.cluster_id and attr_id in Basic.attributes:
            self.readout.basic[Basic.attributes[attr_id].name] = (
                _text(value) if isinstance(value, (str, bytes)) else getattr(value, "name", None) or int(value))
        elif cluster == Time.cluster_id:
            if attr_id == _TIME:
                self.readout.time_utc = utctime_to_posix(int(value))
                self.readout.time_read_at = now
            elif attr_id == _LOCAL_TIME and self.readout.time_utc is not None:
                self.readout.time_local_offset = int(value) + ZCL_EPOCH_POSIX - int(self.readout.time_utc)

    def _prepayment(self, el, name: str, value: Any) -> None:
        p = el.prepayment
        if (where := _PREPAY_FIELDS.get(name)) is not None:
            setattr(p, where, int(value))
        elif m := _DEBT.match(name):
            n = int(m.group(2))
            label, amount = p.debts.get(n, (None, None))
            if m.group(1) == "label":
                label = _text(value)
            else:
                amount = int(value)
            p.debts[n] = (label, amount)

    def _price(self, el, name: str, value: Any) -> None:
        if m := _PRICE.match(name):
            el.prices[("received" if m.group(1) else "delivered", int(m.group(2)))] = int(value)
        elif name == "price_trailing_digit":
            el.price_trailing_digit = int(value) >> 4
        elif name == "currency":
            el.currency = int(value)
        elif name == "standing_charge":
            el.standing_charge = int(value)
        elif name == "tariff_label":
            el.tariff_label["delivered"] = _text(value)
        elif name == "received_tariff_label":
            el.tariff_label["received"] = _text(value)


_Apply = Callable[[ElementReadout, Any], None]
_UNKNOWN: Any = object()
_METERING_APPLY: dict[int, _Apply | None] = {}
"""Metering attribute id -> how its value goes into an element (None: it does
not), found from the attribute's name once rather than per value."""


_METERING_SCALARS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "instantaneous_demand": ("demand", int),
    "multiplier": ("multiplier", lambda value: int(value) or 1),
    "divisor": ("divisor", lambda value: int(value) or 1),
    "unit_of_measure": ("unit", int),
    "site_id": ("site_id", lambda value: _text(value) or None),
    "meter_serial_number": ("serial", _text),
    "iambient_consumption_indicator": ("ambient", int),
}
"""Metering attributes whose value sets one field of an element readout: the
field, and how the value is converted."""


def _metering_apply(name: str) -> _Apply | None:
    """What a value of the Metering attribute ``name`` does to an element
    readout (None: nothing); asked once per attribute id (_METERING_APPLY)."""
    if name in ("current_summ_delivered", "current_summ_received"):
        direction = name.rsplit("_", 1)[1]

        def summation(el: ElementReadout, value: Any) -> None:
            el.summation[direction] = int(value)
        return summation
    scalar = _METERING_SCALARS.get(name)
    if scalar is not None:
        field, convert = scalar

        def set_scalar(el: ElementReadout, value: Any) -> None:
            setattr(el, field, convert(value))
        return set_scalar
    if name.startswith("active_register_tier_"):
        side = name.rsplit("_", 1)[1]

        def active_tier(el: ElementReadout, value: Any) -> None:
            el.active_tier[side] = int(value)
        return active_tier
    if m := _TIER.match(name):
        key = (m.group(2), int(m.group(1)))

        def tier(el: ElementReadout, value: Any) -> None:
            el.tiers[key] = int(value)
        return tier
    if m := _HIST.match(name):
        period = _history_key(m)
        limit = 0xFFFFFFFF if "month" in name else 0xFFFFFF

        def history(el: ElementReadout, value: Any) -> None:
            raw = int(value)
            el.history[period] = None if raw == limit else raw
        return history
    if name.startswith("cur_part_profile_int_"):
        part = name.rsplit("_", 1)[1]
        is_start = "start_time" in name

        def partial(el: ElementReadout, value: Any) -> None:
            start, raw = el.partial.get(part, (0, 0))
            if is_start:
                start = int(utctime_to_posix(int(value)))
            else:
                raw = int(value)
            el.partial[part] = (start, raw)
        return partial
    return None
