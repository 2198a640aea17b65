"""Test-only helpers: the emulated Z-Stack and EZSP sticks behind one face.

An IHD's frame is injected at the emulated NCP as received over the air, and
what the host then asked the NCP to transmit comes back as a :class:`Sent`,
whatever the stick, so one test body serves both radio libraries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import zigpy.types as t

from han_emu.crypto.certsets import CertificateSet
from han_emu.radio.backend import RadioSpec, parse_radio
from han_emu.radio.fakencp.ezsp.server import FakeEzspServer
from han_emu.radio.fakencp.znp.server import FakeZnpServer
from han_emu.radio.fakencp.znp.device import FakeZStack

SE = 0x0109
IHD_NWK = 0x3C2A
IHD_IEEE = t.EUI64.convert("00:0d:6f:00:0a:bc:de:f1")
IHD_EP = 9
STICK_IEEE = t.EUI64.convert("00:0b:57:ff:fe:12:34:56")


@dataclass(frozen=True)
class Sent:
    """One frame the host had the stick transmit."""

    dst_nwk: int
    src_ep: int
    dst_ep: int
    profile_id: int | None
    cluster_id: int
    aps_encrypted: bool
    data: bytes


class Stick:
    """An emulated NCP of either kind, started and closed by the test."""

    def __init__(
        self,
        kind: str,
        *,
        cbke: Iterable[CertificateSet] | None = None,
        cbke_random: Any = None,
        key_management: bool = True,
        firmware: str | None = None,
    ) -> None:
        self.kind = kind
        if kind == "znp":
            device = FakeZStack(ieee=STICK_IEEE, key_management=key_management, zdo_extensions=key_management,
                                image=firmware)
            self.fake: Any = FakeZnpServer(device=device)
        else:
            self.fake = FakeEzspServer(eui64=STICK_IEEE, cbke=cbke, cbke_random=cbke_random, firmware=firmware)

    async def __aenter__(self) -> Stick:
        await self.fake.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.fake.close()

    @property
    def spec(self) -> RadioSpec:
        return parse_radio(f"{self.kind}:{self.fake.url}")

    def join(self, nwk: int = IHD_NWK, ieee: t.EUI64 = IHD_IEEE) -> None:
        self.fake.inject_device_join(nwk, ieee)

    def inject(
        self, dst_ep: int, cluster: int, data: bytes, *, encrypted: bool = True,
        src_nwk: int = IHD_NWK, src_ieee: t.EUI64 | None = IHD_IEEE, src_ep: int = IHD_EP,
    ) -> None:
        """An IHD's frame, heard by the stick."""
        if self.kind == "znp":
            self.fake.inject_incoming(src_nwk, src_ieee, src_ep, dst_ep, cluster, data, encrypted=encrypted)
        else:
            self.fake.inject_incoming(src_nwk, src_ieee, src_ep, dst_ep, SE, cluster, data, encrypted=encrypted)

    async def next_sent(self, cluster: int, timeout: float = 5.0) -> Sent:
        """The next frame of ``cluster`` the host transmitted."""
        async with asyncio.timeout(timeout):
            while True:
                sent = await self._next()
                if sent.cluster_id == cluster:
                    return sent

    async def _next(self) -> Sent:
        if self.kind == "znp":
            return _znp_sent(await self.fake.frames.get())
        return _ezsp_sent(await self.fake.sent())

    def record(self) -> list[Sent]:
        """Every frame the host transmits from now on, kept in the list returned."""
        out: list[Sent] = []
        if self.kind == "znp":
            self.fake.add_frame_listener(lambda f: out.append(_znp_sent(f)))
        else:
            self.fake.add_send_listener(lambda m: out.append(_ezsp_sent(m)))
        return out

    async def ask(self, dst_ep: int, cluster: int, data: bytes, **kwargs: Any) -> Sent:
        """Inject a request and return the reply of the same cluster."""
        self.drain()
        self.inject(dst_ep, cluster, data, **kwargs)
        return await self.next_sent(cluster)

    def drain(self) -> None:
        if self.kind == "znp":
            while not self.fake.frames.empty():
                self.fake.frames.get_nowait()
        else:
            self.fake.sent_nowait()

    def link_key(self, ieee: t.EUI64 = IHD_IEEE) -> bytes | None:
        """The link key the stick holds for ``ieee`` (its key table)."""
        if self.kind == "znp":
            key = self.fake.device.link_keys.get(t.EUI64(ieee))
            return None if key is None else bytes(key)
        return self.fake.link_key(ieee)


def _znp_sent(f: Any) -> Sent:
    return Sent(int(f.dst_addr), f.src_endpoint, f.dst_endpoint, f.profile_id, f.cluster_id,
                f.aps_encrypted, bytes(f.data))


def _ezsp_sent(m: Any) -> Sent:
    return Sent(m.destination, m.src_ep, m.dst_ep, m.profile_id, m.cluster_id, m.encrypted, m.data)


def quick_ezsp_reset(monkeypatch: Any) -> None:
    """bellows waits 2 s for a spontaneous RSTACK on socket:// before resetting."""
    import bellows.ezsp

    monkeypatch.setattr(bellows.ezsp, "NETWORK_COORDINATOR_STARTUP_RESET_WAIT", 0.05)


def display_zdo(nwk: int = IHD_NWK, ieee: t.EUI64 = IHD_IEEE) -> Any:
    """The ZDO answerer of an IHD: a battery display polling as a sleepy end
    device, one Smart Energy endpoint (what the virtual displays answer with)."""
    import zigpy.zdo.types as zdo_t

    from han_emu.radio.zdo_answers import ZdoAnswerer, node_descriptor

    return ZdoAnswerer(
        ieee=lambda: t.EUI64(ieee),
        nwk=lambda: t.NWK(nwk),
        descriptor=node_descriptor(zdo_t.LogicalType.EndDevice, mains_powered=False, rx_on_when_idle=False),
        endpoints={IHD_EP: zdo_t.SimpleDescriptor(endpoint=IHD_EP, profile=SE, device_type=0x0507,
                                                  device_version=0, input_clusters=[0x0000],
                                                  output_clusters=[0x0700, 0x0702, 0x0800])},
    )


def answer_zdo(stick: Stick, request: Sent, answerer: Any, src_nwk: int = IHD_NWK) -> bool:
    """Let ``answerer`` (a device's ZDO) answer a ZDO request the host sent it,
    heard back by the stick; False when the device sends no answer."""
    reply = answerer.reply_to(request.cluster_id, request.data)
    if reply is None:
        return False
    if stick.kind == "znp":
        stick.fake.inject_zdo(src_nwk, int(reply.command), reply.tsn, reply.body())
    else:
        stick.fake.inject_incoming(src_nwk, None, 0, 0, 0x0000, int(reply.command), reply.frame(),
                                   encrypted=False)
    return True
