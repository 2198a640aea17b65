"""An emulated stick with simulated displays on its air: the whole stick path without hardware.

``han-emu fake-ncp --displays ihd,ppmid --codes-file FILE`` puts an IHD and a
PPMID (:class:`~han_emu.sim.stickdisplay.StickDisplay`) on the air of the
emulated NCP (:mod:`han_emu.radio.fakencp.stickair`).  The displays wait for
the network to open, join with their install codes (written to FILE for
``han-emu permit --install-codes FILE``), run CBKE with the host and poll the
ESIs as they do on the virtual HAN.  Their certificates come from the
built-in test CA, and so do the host's in the configuration
:func:`host_config_text` writes: CBKE only works between parties of the
same CA.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import zigpy.types as t

from clusters.mp184 import EndpointMap
from han_emu.crypto.certsets import TestCA, certificate_set_for, eui64_to_cert
from han_emu.crypto.installcodes import InstallCode, format_install_codes, new_install_code, parse_install_codes
from han_emu.meter.clock import Clock, WallClock
from han_emu.radio.fakencp.stickair import StickAir, put_on_air
from han_emu.radio.virtual.medium import VirtualAir
from han_emu.sim.schedule import KINDS, DeviceSettings, cad, default_devices
from han_emu.sim.stickdisplay import RETRY_S, DisplayMemory, StickDisplay

LOGGER = logging.getLogger(__name__)

DISPLAY_OUI = "00:0d:6f"
"""The OUI of the simulated displays' EUI-64s (as the virtual HAN's)."""


def parse_kinds(text: str) -> list[str]:
    """``ihd,ppmid,cad`` as a list of display kinds; ValueError names a bad one."""
    kinds = [k.strip().lower() for k in text.split(",") if k.strip()]
    if not kinds:
        raise ValueError("no display named (give e.g. ihd,ppmid)")
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"{kind!r} is not a display kind ({', '.join(KINDS)})")
    return kinds


def settings_for(kinds: Sequence[str]) -> list[DeviceSettings]:
    """Each kind's poll schedule as on the virtual HAN; names numbered when a kind repeats."""
    base = {"ihd": default_devices()[0], "ppmid": default_devices()[1], "cad": cad()}
    out = []
    for i, kind in enumerate(kinds):
        same = [k for k in kinds if k == kind]
        name = kind.upper() if len(same) == 1 else f"{kind.upper()} {kinds[:i + 1].count(kind)}"
        out.append(replace(base[kind], name=name))
    return out


def display_codes(kinds: Sequence[str], path: str | os.PathLike[str],
                  random: Callable[[int], bytes] = secrets.token_bytes) -> list[InstallCode]:
    """The displays' EUI-64s and install codes, one per kind, kept in ``path``.

    An existing file is read, never overwritten: it must hold one line per
    display (the same displays as before).  Otherwise new identities are
    drawn and the file written (owner-only).  ValueError says what is wrong."""
    target = Path(path)
    if target.exists():
        codes = parse_install_codes(target.read_text(encoding="utf-8"))
        if len(codes) != len(kinds):
            raise ValueError(f"{path} holds {len(codes)} install code(s) for {len(kinds)} display(s): "
                             "give another --codes-file, or the displays it was written for")
        return codes
    codes = []
    for _ in kinds:
        ieee = DISPLAY_OUI + ":" + ":".join(f"{b:02x}" for b in random(5))
        codes.append(InstallCode(ieee, new_install_code(random)))
    text = format_install_codes(codes, [s.name for s in settings_for(kinds)])
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return codes


def host_config_text(stick_ieee: t.EUI64) -> str:
    """A host configuration whose ``[cbke]`` certificates (built-in test CA, both
    suites) name the stick: what software CBKE needs to work with the displays."""
    lines = ["# han-emu host configuration for an emulated stick with simulated displays.",
             f"# CBKE certificates for the stick {stick_ieee}, from the built-in test CA: for tests only.", ""]
    for suite in (1, 2):
        certs = TestCA.builtin(suite).issue(eui64_to_cert(stick_ieee))
        lines += [f"[cbke.suite{suite}]", f'ca = "{certs.ca_public_key.hex().upper()}"',
                  f'certificate = "{certs.certificate.hex().upper()}"',
                  f'private_key = "{certs.private_key.hex().upper()}"', ""]
    return "\n".join(lines)


class StickDisplays:
    """Simulated displays living on an emulated stick's air.

    ``server`` is a started emulated NCP server (Z-Stack or EZSP); ``memory``
    the path of the displays' non-volatile memory (None: they forget their
    network when stopped)."""

    def __init__(self, server: Any, kinds: Sequence[str], codes: Sequence[InstallCode], *,
                 memory: str | os.PathLike[str] | None = None, clock: Clock | None = None,
                 endpoints: EndpointMap | None = None, cbke: bool = True,
                 settings: Sequence[DeviceSettings] | None = None, retry_s: float = RETRY_S,
                 request_timeout: float | None = None) -> None:
        if len(codes) != len(kinds):
            raise ValueError(f"{len(codes)} install code(s) for {len(kinds)} display(s)")
        self.server = server
        self.kinds = list(kinds)
        self.codes = list(codes)
        self.memory = DisplayMemory(memory)
        self.clock = clock or WallClock()
        self.endpoints = endpoints
        self.cbke = cbke
        self.settings = list(settings) if settings is not None else settings_for(self.kinds)
        self.retry_s = retry_s
        self.request_timeout = request_timeout
        self.air: VirtualAir | None = None
        self.radio: StickAir | None = None
        self.devices: list[StickDisplay] = []
        self._lives: list[asyncio.Task[None]] = []

    async def start(self, *, switch_on: bool = True) -> None:
        """Put the NCP on a fresh air and power the displays on (``switch_on=False``:
        later, with :meth:`switch_on`; the NCP must be on the air from the host's
        start, which hands it the keys of the displays it admits)."""
        self.air = VirtualAir(seed=None)
        self.radio = put_on_air(self.server, self.air)
        if switch_on:
            self.switch_on()

    def switch_on(self) -> None:
        """Power the displays on (on the running loop): each joins when it may, runs CBKE and polls."""
        if self.air is None:
            raise RuntimeError("start() puts the NCP on the air first")
        for code, settings in zip(self.codes, self.settings):
            ieee = t.EUI64.convert(code.eui64)
            certs = certificate_set_for(eui64_to_cert(ieee), 1) if self.cbke else None
            device = StickDisplay(self.air, code.eui64, settings, self.clock, self.endpoints,
                                  install_code=code.code, certificates=certs, memory=self.memory,
                                  retry_s=self.retry_s)
            if self.request_timeout is not None:
                device.request_timeout = self.request_timeout
            self.devices.append(device)
        loop = asyncio.get_running_loop()
        self._lives = [loop.create_task(self._live(d), name=f"{d.name}-live") for d in self.devices]

    async def _live(self, device: StickDisplay) -> None:
        try:
            await device.live()
        except asyncio.CancelledError:
            raise
        except Exception:
            LOGGER.exception("%s stopped", device.name)

    async def stop(self) -> None:
        """Power the displays off (their memory is kept) and take the NCP off the air."""
        for task in self._lives:
            task.cancel()
        await asyncio.gather(*self._lives, return_exceptions=True)
        for device in self.devices:
            await device.stop()
        if self.radio is not None:
            await self.radio.close()
        self.memory.save()

    def describe(self) -> list[str]:
        """One line per display: who it is and where it stands."""
        lines = []
        for device in self.devices:
            if not device.joined:
                where = "waiting for the network to open"
            else:
                how = "resumed its network" if device.resumed else "joined"
                where = f"{how} as 0x{int(device.nwk or 0):04X}"
                where += ", CBKE done" if device.key_established else ", no CBKE"
                asked = sum(device.requests.values())
                where += f", {asked} request(s), {device.failures} unanswered"
            lines.append(f"{device.name} {device.ieee}: {where}")
        return lines
