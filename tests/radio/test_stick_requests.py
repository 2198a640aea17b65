"""An IHD's requests through the real zigpy-znp and bellows ControllerApplications.

:class:`HardwareHan` carries the twin meter's ESIs on an emulated Z-Stack 3.30
or EZSP v13 NCP; an IHD's Read Attributes, GetProfile and GetCurrentPrice are
injected at the NCP as frames heard over the air, and the frames the host has
the NCP transmit must leave from the ESI asked, on the Smart Energy profile,
APS-encrypted, with the values of the meter model HardwareHan serves.

Requests and expected replies are written out by hand from the ZCL and ZSE
specifications: frame control, TSN, command id, then little-endian fields.
"""

from __future__ import annotations

import asyncio
import struct
import time

import pytest
import pytest_asyncio

from han_emu.han.config import load
from han_emu.han.hardware import HardwareHan
from han_emu.meter.model import Channel, TwinMeter

from .stick_support import IHD_EP, IHD_NWK, SE, Stick, quick_ezsp_reset

METERING = 0x0702
PRICE = 0x0700
Y2K = 946_684_800  # ZCL UTCTime counts seconds from 2000-01-01


#: The tests only ask and read: they share one stick and host per radio (and its event loop).
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(params=["znp", "ezsp"], scope="module", loop_scope="module")
async def served(request):
    """(stick, han): a day of meter history served on an emulated stick; the
    meter is held still while the tests run (one step per hour)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        quick_ezsp_reset(monkeypatch)
        config = load(None)
        meter = TwinMeter(config.meter, time.time() - 26 * 3600)
        async with Stick(request.param) as stick:
            han = HardwareHan(config, meter, stick.spec, step_s=3600, save_every_s=1e9)
            await han.start()
            try:
                await asyncio.sleep(0.05)  # the meter task's first step, to now
                yield stick, han
            finally:
                await han.stop()


def assert_from_esi(sent, esi: int, cluster: int) -> None:
    assert (sent.dst_nwk, sent.dst_ep) == (IHD_NWK, IHD_EP)
    assert (sent.src_ep, sent.profile_id, sent.cluster_id) == (esi, SE, cluster)
    assert sent.aps_encrypted


async def test_read_attributes_give_the_meter_registers(served) -> None:
    stick, han = served
    meter = han.meter
    frozen = meter.time
    # Read Attributes (general, client to server): CurrentSummationDelivered
    # 0x0000 and CurrentSummationReceived 0x0001 on the secondary ESI.
    reply = await stick.ask(2, METERING, bytes.fromhex("00 61 00 00 00 01 00"))
    assert_from_esi(reply, 2, METERING)
    delivered = meter.reading(Channel.SECONDARY_IMPORT).to_bytes(6, "little")
    received = meter.reading(Channel.SECONDARY_EXPORT).to_bytes(6, "little")
    # Read Attributes Response: 0x18 (server to client, no default response),
    # TSN, 0x01; per attribute: id, SUCCESS, uint48 (0x25), value.
    assert reply.data == (bytes.fromhex("18 61 01 00 00 00 25") + delivered
                          + bytes.fromhex("01 00 00 25") + received)
    assert meter.reading(Channel.SECONDARY_EXPORT) > 0  # a day with some export

    reply = await stick.ask(1, METERING, bytes.fromhex("00 62 00 00 00"))
    assert_from_esi(reply, 1, METERING)
    primary = meter.reading(Channel.PRIMARY_IMPORT).to_bytes(6, "little")
    assert reply.data == bytes.fromhex("18 62 01 00 00 00 25") + primary
    assert meter.time == frozen


async def test_get_profile_gives_the_export_profile_log(served) -> None:
    stick, han = served
    log = han.meter.profiles[Channel.SECONDARY_EXPORT]
    # Ask for the 6 half hours up to the newest one that exported something.
    history = log.newest_first(log.newest_end, 48)
    newest_exporting = next(i for i, v in enumerate(history) if v)
    end = log.newest_end - 1800 * newest_exporting
    expected = log.newest_first(end, 6)
    assert len(expected) == 6 and expected[0] > 0
    # GetProfile (cluster command 0x00): IntervalChannel 1 (consumption
    # received), EndTime (UTCTime), NumberOfPeriods 6.
    request = bytes.fromhex("01 63 00 01") + struct.pack("<I", end - Y2K) + b"\x06"
    reply = await stick.ask(2, METERING, request)
    assert_from_esi(reply, 2, METERING)
    # GetProfileResponse (0x00): EndTime, Status SUCCESS, ProfileIntervalPeriod
    # 2 (30 minutes; 0 daily, 1 hourly), NumberOfPeriodsDelivered, then uint24
    # intervals, newest first.
    body = struct.pack("<IBBB", end - Y2K, 0x00, 0x02, 6)
    body += b"".join(v.to_bytes(3, "little") for v in expected)
    assert reply.data == bytes.fromhex("19 63 00") + body


async def test_get_current_price_gives_the_tariff_in_force(served) -> None:
    stick, han = served
    meter = han.meter
    # GetCurrentPrice (Price cluster command 0x00), CommandOptions 0 (no subscription).
    reply = await stick.ask(2, PRICE, bytes.fromhex("01 64 00 00"))
    assert_from_esi(reply, 2, PRICE)
    data = reply.data
    assert data[:3] == bytes.fromhex("19 64 00")  # PublishPrice, server to client
    provider, label_len = struct.unpack_from("<IB", data, 3)
    label = data[8:8 + label_len]
    (event, now, unit, currency, digit_tier, tiers, start, duration, price, ratio,
     generation_price) = struct.unpack_from("<IIBHBBIHIBI", data, 8 + label_len)

    settings = meter.settings
    tier = meter.active_tier("secondary", "import")
    export_tier = meter.active_tier("secondary", "export")
    import_tariff = meter.tariff("secondary", "import")
    export_tariff = meter.tariff("secondary", "export")
    assert provider == 1 and label == f"Tier {tier}".encode()
    assert now == int(meter.time) - Y2K and start == 0
    assert (unit, currency) == (0x00, settings.currency)  # kWh, GBP (826)
    assert digit_tier == settings.price_trailing_digit << 4 | tier
    assert tiers & 0x0F == tier and tiers >> 4 == import_tariff.tiers
    assert price == settings.scaled_price(import_tariff.price_of(tier))
    assert generation_price == settings.scaled_price(export_tariff.price_of(export_tier))
    # The start of the price in force: the later of the import and generation tiers' starts.
    since = meter.tariff_since
    starts = [t.switching.current_start(meter.time, since) for t in (import_tariff, export_tariff)]
    assert event == max(since, *starts) & 0xFFFFFFFF
    assert duration > 0 and ratio == 0xFF
