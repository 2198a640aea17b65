"""No zigpy interview of a display, on either stick.

zigpy asks every newly joined device, and every device an address response
names for the first time, for its node, active-endpoint and simple
descriptors (``ControllerApplication.handle_join`` ->
``Device.schedule_initialize``).  A Smart Energy display that has just joined
must run CBKE with the trust centre in that window; the ESI never reads the
descriptors.  Each test fails on a host that lets zigpy interview.
"""

from __future__ import annotations

import asyncio

import pytest

from han_emu.crypto.certsets import TestCA, eui64_to_cert

from .stick_support import STICK_IEEE, Stick, answer_zdo, display_zdo, quick_ezsp_reset
from .test_stick_cbke import METERING, READ_RECEIVED, join, start_han

DESCRIPTOR_REQUESTS = {0x0002: "Node_Desc_req", 0x0004: "Simple_Desc_req", 0x0005: "Active_EP_req"}
IEEE_ADDR_REQ = 0x0001


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)


def descriptor_requests(sent: list) -> list[str]:
    return [DESCRIPTOR_REQUESTS[s.cluster_id] for s in sent
            if s.dst_ep == 0 and s.cluster_id in DESCRIPTOR_REQUESTS and s.dst_nwk != 0x0000]


@pytest.mark.parametrize("kind", ["ezsp", "znp"])
async def test_a_joining_display_is_not_interviewed(kind: str) -> None:
    async with Stick(kind) as stick:
        han, _ = await start_han(stick)
        try:
            sent = stick.record()
            await join(stick, han)
            await asyncio.sleep(1.5)
            assert descriptor_requests(sent) == []
        finally:
            await han.stop()


@pytest.mark.parametrize("kind", ["ezsp", "znp"])
async def test_a_display_that_answered_ieee_addr_req_is_not_interviewed(kind: str) -> None:
    stick_cert = TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE))
    async with Stick(kind) as stick:
        han, _ = await start_han(stick, (stick_cert,))  # with CBKE, senders are identified
        try:
            sent = stick.record()
            stick.inject(2, METERING, READ_RECEIVED, encrypted=False, src_ieee=None)
            request = await stick.next_sent(IEEE_ADDR_REQ)
            assert answer_zdo(stick, request, display_zdo())
            await stick.next_sent(METERING)
            await asyncio.sleep(1.5)
            assert descriptor_requests(sent) == []
        finally:
            await han.stop()
