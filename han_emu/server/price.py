"""The Price cluster (0x0700) of one element's ESI, bound to the meter's tariffs.

The primary ESI publishes the import tariff.  The secondary ESI publishes its
import tariff as the delivered price and, for MP184, its four-tier export
tariff as the *received* attributes (0x8000 set) and as PublishPrice's
generation price and tier.  Prices are GBP scaled by the meter's trailing digit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import zigpy.types as t

from clusters import Price, posix_to_utctime
from clusters.utctime import UTCTIME_INVALID, ZCL_EPOCH_POSIX
from clusters.price import DURATION_UNTIL_CHANGED, TierLabelEntry
from clusters.price_split import split_price_matrix
from clusters.zcl_struct import make
from han_emu.meter.model import TwinMeter
from han_emu.meter.tariff import Tariff
from han_emu.server.attributes import AttributeTable
from han_emu.server.command import ZclError, ZclReply, ZclRequest
from zigpy.zcl.foundation import Status

PROVIDER_ID = 0x00000001
_CMD = Price.ClientCommandDefs
_REQ = Price.ServerCommandDefs


def issuer_tariff_id(element: str, direction: str) -> int:
    """Stable ids for the three tariffs: 1 primary import, 2 secondary import,
    3 secondary export."""
    return {("primary", "import"): 1, ("secondary", "import"): 2, ("secondary", "export"): 3}.get(
        (element, direction), 4
    )


def _label(text: str, limit: int) -> bytes:
    return text.encode("utf-8")[:limit]


def _around_current_time(fields: dict[str, Any]) -> tuple[bytes, bytes | None, int]:
    """(bytes before, bytes after, CurrentTime) of PublishPrice ``fields``
    serialized, CurrentTime being a little-endian uint32 between them: found
    by serializing with two other CurrentTimes and taking what both share.
    (whole bytes, None, CurrentTime) when they do not differ in exactly those
    four bytes."""
    schema = _CMD.publish_price.schema
    now = int(fields["current_time"])
    whole = make(schema, **fields).serialize()
    low = make(schema, **{**fields, "current_time": 0}).serialize()
    high = make(schema, **{**fields, "current_time": 0xFFFFFFFE}).serialize()
    at = next((i for i, (a, b) in enumerate(zip(low, high)) if a != b), None)
    if (at is None or len(low) != len(high) or len(whole) != len(low) or low[at + 4:] != high[at + 4:]
            or low[at:at + 4] != bytes(4) or high[at:at + 4] != (0xFFFFFFFE).to_bytes(4, "little")
            or whole[:at] + now.to_bytes(4, "little") + whole[at + 4:] != whole
            or low[:at] != whole[:at] or low[at + 4:] != whole[at + 4:]):
        return whole, None, now
    return whole[:at], whole[at + 4:], now


@dataclass
class PriceState:
    """Acknowledgements and subscribers seen by one element's Price server."""

    acks: list[tuple[int, int, int]] = field(default_factory=list)  # (provider, event, time)
    subscribers: set[tuple[int, int]] = field(default_factory=set)  # (nwk, endpoint)


class ElementPrices:
    """Price attributes and command handlers of one element."""

    def __init__(self, meter: TwinMeter, element: str) -> None:
        self.meter = meter
        self.element = element
        self.state = PriceState()
        #: PublishPrice fields but CurrentTime -> its bytes around CurrentTime (publish_price_bytes).
        self._published: dict[tuple[Any, ...], tuple[bytes, bytes | None, int]] = {}

    # -- helpers --------------------------------------------------------------
    def tariff(self, direction: str) -> Tariff | None:
        return self.meter.tariff(self.element, direction)

    def _tariff(self, direction: str) -> Tariff:
        """The tariff in force now (read at each request: prices may change mid-run)."""
        tariff = self.tariff(direction)
        assert tariff is not None
        return tariff

    def scaled(self, pounds: Any) -> int:
        return self.meter.settings.scaled_price(pounds)

    def event_id(self, direction: str) -> int:
        """IssuerEventID of a tariff's information (tariff, matrix, labels):
        when the configured tariffs took effect, so it changes only when the
        configuration does, not with every tier switch."""
        return int(self.meter.tariff_since) & 0xFFFFFFFF

    def price_event_id(self, at: float) -> int:
        """IssuerEventID of the PublishPrice in force at ``at``: the UTC start
        of the price it carries, i.e. the later of the import tier's and (on
        an element with an export tariff) the generation tier's starts, never
        before the tariffs took effect.  It changes exactly when the price,
        tier or label published does, and grows with newer information."""
        since = self.meter.tariff_since
        starts = [since]
        for direction in ("import", "export"):
            tariff = self.tariff(direction)
            if tariff is not None:
                starts.append(tariff.switching.current_start(at, since))
        return int(max(starts)) & 0xFFFFFFFF

    # -- attributes -----------------------------------------------------------
    def table(self) -> AttributeTable:
        imp = self.tariff("import")
        exp = self.tariff("export")
        assert imp is not None
        digit = self.meter.settings.price_trailing_digit
        getters: dict[str, Callable[[], Any]] = {
            "commodity_type": lambda: 0,  # electric metering
            "standing_charge": lambda: self.scaled(self._tariff("import").standing_charge),
            "tariff_label": lambda: _label(self._tariff("import").label, 24),
            "number_of_price_tiers_in_use": lambda: imp.tiers,
            "number_of_block_thresholds_in_use": lambda: 0,
            "tier_block_mode": lambda: 0xFF,  # not used: TOU only
            "unit_of_measure": lambda: 0,
            "currency": lambda: self.meter.settings.currency,
            "price_trailing_digit": lambda: digit << 4,
        }
        for n in range(1, imp.tiers + 1):
            getters[f"tier{n}_price_label"] = lambda n=n: _label(f"Tier {n}", 12)
            getters[f"tier{n}_block1_price"] = lambda n=n: self.scaled(self._tariff("import").price_of(n))
        if exp is not None:  # MP184 R2 on the secondary element
            getters["received_tariff_label"] = lambda: _label(self._tariff("export").label, 24)
            getters["received_number_of_price_tiers_in_use"] = lambda: exp.tiers
            for n in range(1, exp.tiers + 1):
                getters[f"received_tier{n}_price_label"] = lambda n=n: _label(f"Export {n}", 12)
                getters[f"received_tier{n}_block1_price"] = lambda n=n: self.scaled(self._tariff("export").price_of(n))
        return AttributeTable.from_cluster(Price, getters)

    # -- PublishPrice ------------------------------------------------------------
    def publish_price(self, start: float | None = None) -> Any:
        """The PublishPrice in force at ``start`` (default: now)."""
        return make(_CMD.publish_price.schema, **self._publish_fields(start))

    def publish_price_bytes(self) -> bytes:
        """``publish_price().serialize()``: the PublishPrice in force now, as
        GetCurrentPrice answers it (a display asks every few minutes).  Its
        bytes but CurrentTime's stay the same until the price or its duration
        changes, so they are made once per set of fields and CurrentTime put
        between them."""
        fields = self._publish_fields(None)
        now = int(fields["current_time"])
        key = tuple(v for k, v in fields.items() if k != "current_time")
        parts = self._published.get(key)
        if parts is None:
            parts = _around_current_time(fields)
            if len(self._published) >= 64:
                self._published.clear()
            self._published[key] = parts
        if parts[1] is None:  # CurrentTime not found where a UTCTime would be: zigpy every time
            return parts[0] if now == parts[2] else make(_CMD.publish_price.schema, **fields).serialize()
        return parts[0] + now.to_bytes(4, "little") + parts[1]

    def _publish_fields(self, start: float | None) -> dict[str, Any]:
        """PublishPrice's fields for the price in force at ``start`` (default: now)."""
        meter = self.meter
        at = meter.time if start is None else start
        imp = self.tariff("import")
        exp = self.tariff("export")
        assert imp is not None
        tier = imp.tier_at(at)
        duration = self._duration(at)
        fields: dict[str, Any] = dict(
            provider_id=PROVIDER_ID,
            rate_label=_label(f"Tier {tier}", 12),
            issuer_event_id=self.price_event_id(at),
            current_time=posix_to_utctime(meter.time),
            unit_of_measure=0,
            currency=meter.settings.currency,
            price_trailing_digit_and_price_tier=(meter.settings.price_trailing_digit << 4) | min(tier, 15),
            number_of_price_tiers_and_register_tier=(min(imp.tiers, 15) << 4) | min(tier, 15),
            start_time=0 if start is None else posix_to_utctime(at),
            duration_in_minutes=duration,
            price=self.scaled(imp.price_of(tier)),
        )
        if exp is not None:
            gen_tier = exp.tier_at(at)
            fields.update(
                price_ratio=0xFF,
                generation_price=self.scaled(exp.price_of(gen_tier)),
                generation_price_ratio=0xFF,
                alternate_cost_delivered=0xFFFFFFFF,
                alternate_cost_unit=0xFF,
                alternate_cost_trailing_digit=0xFF,
                number_of_block_thresholds=0,
                price_control=0,
                number_of_generation_tiers=exp.tiers,
                generation_tier=gen_tier,
                extended_number_of_price_tiers=0,
                extended_price_tier=0,
                extended_register_tier=0,
            )
        return fields

    def _changes(self, at: float, count: int) -> list[int]:
        """The next ``count`` times the published price changes after ``at``:
        switches of the import tier or, on an element with an export tariff,
        of the generation tier (PublishPrice carries both)."""
        whens: set[int] = set()
        for direction in ("import", "export"):
            tariff = self.tariff(direction)
            if tariff is not None:
                whens.update(when for when, _tier in tariff.switching.changes(at, count))
        return sorted(whens)[:count]

    def _next_change(self, at: float) -> int | None:
        changes = self._changes(at, 1)
        return changes[0] if changes else None

    def _duration(self, at: float) -> int:
        """DurationInMinutes of the price in force at ``at``: whole minutes up
        to the next change, rounded up so the price lasts until the next one
        starts: a price rounded down would end up to 59 s before the next
        PublishPrice's StartTime, leaving a display without a price."""
        change = self._next_change(at)
        if change is None:
            return DURATION_UNTIL_CHANGED
        return min(DURATION_UNTIL_CHANGED - 1, math.ceil((change - at) / 60))

    # -- handlers -------------------------------------------------------------
    def get_current_price(self, request: ZclRequest) -> list[ZclReply]:
        options = int(request.args.command_options) if request.args is not None else 0
        src = request.packet.src
        if options & 0x01 and src is not None:
            self.state.subscribers.add((int(src.address), int(request.packet.src_ep)))
        return [ZclReply(_CMD.publish_price.id, self.publish_price_bytes())]

    def get_scheduled_prices(self, request: ZclRequest) -> list[ZclReply]:
        wanted = int(request.args.number_of_events) or 1
        start = max(self.meter.time, float(int(request.args.start_time) + ZCL_EPOCH_POSIX))
        replies = []
        for when in self._changes(start, min(wanted, 16)):
            if when - ZCL_EPOCH_POSIX >= UTCTIME_INVALID:
                break  # past 2136: a start time UTCTime cannot carry
            replies.append(ZclReply(_CMD.publish_price.id, self.publish_price(when)))
        if not replies:
            raise ZclError(Status.NOT_FOUND, "no scheduled price changes")
        return replies

    def price_acknowledgement(self, request: ZclRequest) -> list[ZclReply]:
        a = request.args
        self.state.acks.append((int(a.provider_id), int(a.issuer_event_id), int(a.price_ack_time)))
        return []

    def _directions_of(self, tariff_type: int) -> list[str]:
        """The tariffs a GetTariffInformation TariffType asks for: 0 delivered,
        1 received, 2 delivered and received (SE 1.4: each tariff of the
        element in those directions gets its own PublishTariffInformation)."""
        wanted = {0: ["import"], 1: ["export"], 2: ["import", "export"]}.get(tariff_type & 0x0F, [])
        found = [d for d in wanted if self.tariff(d) is not None]
        if not found:
            raise ZclError(Status.NOT_FOUND, f"no tariff of type {tariff_type} on the {self.element} element")
        return found

    def _by_tariff_id(self, tariff_id: int) -> str:
        for direction in ("import", "export"):
            if self.tariff(direction) is not None and issuer_tariff_id(self.element, direction) == tariff_id:
                return direction
        if tariff_id == 0xFFFFFFFF or tariff_id == 0:
            return "import"
        raise ZclError(Status.NOT_FOUND, f"unknown IssuerTariffID {tariff_id}")

    def get_tariff_information(self, request: ZclRequest) -> list[ZclReply]:
        return [
            ZclReply(_CMD.publish_tariff_information.id, self.tariff_information(direction))
            for direction in self._directions_of(int(request.args.tariff_type))
        ]

    def tariff_information(self, direction: str) -> Any:
        """PublishTariffInformation of one direction's tariff."""
        tariff = self.tariff(direction)
        assert tariff is not None
        digit = self.meter.settings.price_trailing_digit
        return _CMD.publish_tariff_information.schema(
            provider_id=PROVIDER_ID,
            issuer_event_id=self.event_id(direction),
            issuer_tariff_id=issuer_tariff_id(self.element, direction),
            start_time=0,
            tariff_type_charging_scheme=0x00 if direction == "import" else 0x01,  # TOU; delivered/received
            tariff_label=_label(tariff.label, 24),
            number_of_price_tiers_in_use=tariff.tiers,
            number_of_block_thresholds_in_use=0,
            unit_of_measure=0,
            currency=self.meter.settings.currency,
            price_trailing_digit=digit << 4,
            standing_charge=self.scaled(tariff.standing_charge) if direction == "import" else 0xFFFFFFFF,
            tier_block_mode=0xFF,
            block_threshold_multiplier=1,
            block_threshold_divisor=1,
        )

    def get_price_matrix(self, request: ZclRequest) -> list[ZclReply]:
        direction = self._by_tariff_id(int(request.args.issuer_tariff_id))
        tariff = self.tariff(direction)
        assert tariff is not None
        prices = [(n, self.scaled(tariff.price_of(n))) for n in range(1, tariff.tiers + 1)]
        pages = split_price_matrix(
            prices,
            provider_id=PROVIDER_ID,
            issuer_event_id=self.event_id(direction),
            start_time=0,
            issuer_tariff_id=issuer_tariff_id(self.element, direction),
            tou_only=True,
        )
        return [ZclReply(_CMD.publish_price_matrix.id, page) for page in pages]

    def get_block_thresholds(self, request: ZclRequest) -> list[ZclReply]:
        raise ZclError(Status.NOT_FOUND, "TOU-only tariffs have no block thresholds")

    def get_tier_labels(self, request: ZclRequest) -> list[ZclReply]:
        direction = self._by_tariff_id(int(request.args.issuer_tariff_id))
        tariff = self.tariff(direction)
        assert tariff is not None
        prefix = "Tier" if direction == "import" else "Export"
        labels = [
            TierLabelEntry(tier_id=n, tier_label=_label(f"{prefix} {n}", 12))
            for n in range(1, tariff.tiers + 1)
        ]
        payload = _CMD.publish_tier_labels.schema(
            provider_id=PROVIDER_ID,
            issuer_event_id=self.event_id(direction),
            issuer_tariff_id=issuer_tariff_id(self.element, direction),
            command_index=0,
            total_number_of_commands=1,
            number_of_labels=len(labels),
            tier_labels=labels,
        )
        return [ZclReply(_CMD.publish_tier_labels.id, payload)]

    def handlers(self) -> dict[int, tuple[Callable[[ZclRequest], list[ZclReply]], tuple[int, ...]]]:
        """Command id -> (handler, ids it may answer with)."""
        return {
            _REQ.get_current_price.id: (self.get_current_price, (_CMD.publish_price.id,)),
            _REQ.get_scheduled_prices.id: (self.get_scheduled_prices, (_CMD.publish_price.id,)),
            _REQ.price_acknowledgement.id: (self.price_acknowledgement, ()),
            _REQ.get_tariff_information.id: (self.get_tariff_information, (_CMD.publish_tariff_information.id,)),
            _REQ.get_price_matrix.id: (self.get_price_matrix, (_CMD.publish_price_matrix.id,)),
            _REQ.get_block_thresholds.id: (self.get_block_thresholds, (_CMD.publish_block_thresholds.id,)),
            _REQ.get_tier_labels.id: (self.get_tier_labels, (_CMD.publish_tier_labels.id,)),
        }


def subscriber_address(nwk: int) -> t.AddrModeAddress:
    return t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(nwk))
