"""A simulated display behind an emulated stick, with a memory that survives restarts.

On the virtual HAN the displays join once per run, in step with the
coordinator.  Behind an emulated stick they live as real ones do: powered
on before anyone opens the network, they try to join every few seconds
until the host permits them (with their install code); they then run CBKE
with the ESI, and keep their network address and link key in non-volatile
memory (:class:`DisplayMemory`).  Powered on again, a display that has a
network resumes it: no new join, no new CBKE, and it goes back to polling
as soon as the ESI answers.  A display never gives up: while the host is
away its requests simply go unanswered.

It holds the network key as a Zigbee device does (the air reads it, see
:mod:`han_emu.radio.virtual.nwk_keys`): the key the trust centre gives it at
the join, an alternate key from a Transport-Key, made active by the
Switch-Key; both kept in its memory.  A display that missed an update no
longer reads the network, nor the network it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zigpy.exceptions
import zigpy.types as t

from clusters import Metering
from clusters.mp184 import EndpointMap
from han_emu.crypto.certsets import CertificateSet
from han_emu.meter.clock import Clock
from han_emu.radio.virtual.cbke_client import CbkeError, establish_link_key
from han_emu.radio.virtual.medium import JoinRefused, VirtualAir
from han_emu.sim.display import SimDisplay
from han_emu.sim.schedule import DeviceSettings

LOGGER = logging.getLogger(__name__)

RETRY_S = 2.0
"""Seconds between a display's attempts to join, find the ESI or redo CBKE."""
_NO_KE_SERVER = "has no Key Establishment server endpoint"


class DisplayMemory:
    """The displays' non-volatile memory: per EUI-64, the network address it
    joined with, its trust-centre link key and whether that key came from CBKE.

    Kept in a JSON file (owner-only: it holds keys) when a path is given,
    rewritten atomically on every change."""

    VERSION = 1

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path is not None and self.path.exists():
            self.entries = self.parse(self.path.read_text(encoding="utf-8"))

    @classmethod
    def parse(cls, text: str) -> dict[str, dict[str, Any]]:
        """The entries of a memory file's text; ValueError for anything else."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != cls.VERSION or not isinstance(
                data.get("displays"), dict):
            raise ValueError("not a display memory file")
        out = {}
        for ieee, entry in data["displays"].items():
            if not isinstance(entry, dict):
                raise ValueError(f"display {ieee}: not an object")
            nwk, key = entry.get("nwk"), entry.get("link_key")
            if not isinstance(nwk, int) or not 0 < nwk < 0xFFF8 or not isinstance(key, str) or len(
                    bytes.fromhex(key)) != 16:
                raise ValueError(f"display {ieee}: bad network address or link key")
            parsed = {"nwk": nwk, "link_key": key, "cbke": bool(entry.get("cbke"))}
            keys = entry.get("network_keys")  # absent in files written before displays kept it
            if keys is not None:
                if not isinstance(keys, dict) or entry.get("network_key_seq") not in {int(k) for k in keys}:
                    raise ValueError(f"display {ieee}: bad network keys")
                if any(not isinstance(v, str) or len(bytes.fromhex(v)) != 16 for v in keys.values()):
                    raise ValueError(f"display {ieee}: bad network key")
                parsed["network_keys"] = {str(int(k)): v for k, v in keys.items()}
                parsed["network_key_seq"] = int(entry["network_key_seq"])
            out[str(t.EUI64.convert(ieee))] = parsed
        return out

    def get(self, ieee: t.EUI64) -> dict[str, Any] | None:
        return self.entries.get(str(ieee))

    def remember(self, ieee: t.EUI64, nwk: int, link_key: bytes, cbke: bool,
                 network_keys: dict[int, bytes] | None = None, network_key_seq: int | None = None) -> None:
        entry: dict[str, Any] = {"nwk": int(nwk), "link_key": bytes(link_key).hex(), "cbke": cbke}
        if network_keys and network_key_seq is not None:
            entry["network_keys"] = {str(seq): bytes(key).hex() for seq, key in network_keys.items()}
            entry["network_key_seq"] = int(network_key_seq)
        if self.entries.get(str(ieee)) != entry:
            self.entries[str(ieee)] = entry
            self.save()

    def remember_network_keys(self, ieee: t.EUI64, network_keys: dict[int, bytes], seq: int) -> None:
        """The display's network keys changed (kept only for a display already remembered)."""
        entry = self.entries.get(str(ieee))
        if entry is not None:
            self.remember(ieee, entry["nwk"], bytes.fromhex(entry["link_key"]), entry["cbke"], network_keys, seq)

    def save(self) -> None:
        if self.path is None:
            return
        text = json.dumps({"version": self.VERSION, "displays": self.entries}, indent=2, sort_keys=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        tmp.replace(self.path)


class StickDisplay(SimDisplay):
    """A :class:`SimDisplay` that joins when it can and remembers its network."""

    def __init__(
        self,
        air: VirtualAir,
        ieee: str,
        settings: DeviceSettings,
        clock: Clock,
        endpoints: EndpointMap | None = None,
        *,
        install_code: bytes,
        certificates: CertificateSet | None,
        memory: DisplayMemory,
        random: Callable[[int], bytes] | None = None,
        retry_s: float = RETRY_S,
    ) -> None:
        super().__init__(air, ieee, settings, clock, endpoints)
        self.install_code = bytes(install_code)
        self.certificates = certificates
        self.memory = memory
        self.retry_s = retry_s
        self._cbke_random = random
        self.resumed = False
        """True when this run carried on the network remembered from an earlier one."""
        self.joins = 0
        """Associations made in this run (a resumed display makes none)."""
        self.key_exchanges = 0
        """CBKE exchanges completed in this run."""
        self.network_keys: dict[int, bytes] = {}
        """The network keys it holds, by sequence number (the active one and an alternate)."""
        self.network_key_seq: int | None = None
        """The sequence number of the key it secures its frames with (None: it holds none)."""
        if certificates is not None:  # the host may start CBKE too (a re-key): the new key is remembered
            self.answer_cbke(certificates, random)

    async def join(self) -> t.NWK:
        """Resume the remembered network, or join (retrying until the host
        permits it) and run CBKE; SimDisplay.start() calls this first."""
        saved = self.memory.get(self.ieee)
        if saved is not None:
            self.nwk = t.NWK(saved["nwk"])
            self.link_key = t.KeyData(bytes.fromhex(saved["link_key"]))
            self.key_established = bool(saved["cbke"])
            if "network_keys" in saved:
                self.network_keys = {int(k): bytes.fromhex(v) for k, v in saved["network_keys"].items()}
                self.network_key_seq = int(saved["network_key_seq"])
            self.air.attach(self)
            self.resumed = True
            LOGGER.info("%s: back on its network as 0x%04X", self.name, self.nwk)
            return self.nwk
        self.use_install_code(self.install_code)
        while True:
            try:
                nwk = await super().join()
                break
            except JoinRefused:
                await asyncio.sleep(self.retry_s)
        self.joins += 1
        LOGGER.info("%s: joined as 0x%04X", self.name, nwk)
        if self.certificates is not None:
            await self._key_establishment()
        assert self.link_key is not None
        self.memory.remember(self.ieee, nwk, bytes(self.link_key), self.key_established,
                             self.network_keys, self.network_key_seq)
        return nwk

    # -- the network key (the air asks; the trust centre sends) -------------------------
    def nwk_key_active(self) -> tuple[int, bytes] | None:
        seq = self.network_key_seq
        return None if seq is None else (seq, self.network_keys[seq])

    def nwk_key_for(self, seq: int) -> bytes | None:
        return self.network_keys.get(int(seq))

    def air_network_key(self, key: bytes, seq: int) -> None:
        """The trust centre's Transport-Key at the join: the key in force."""
        self.network_keys, self.network_key_seq = {int(seq): bytes(key)}, int(seq)

    def air_transport_key(self, key: bytes, seq: int) -> None:
        """A Transport-Key of an update: kept as the alternate key, beside the active one."""
        active = self.nwk_key_active()
        self.network_keys = {int(seq): bytes(key)}
        if active is not None and active[0] != int(seq):
            self.network_keys[active[0]] = active[1]
        else:
            self.network_key_seq = int(seq)
        LOGGER.info("%s: received network key %d", self.name, int(seq))
        self.memory.remember_network_keys(self.ieee, self.network_keys, self.network_key_seq or int(seq))

    def air_switch_key(self, seq: int) -> None:
        """A Switch-Key: the alternate key of ``seq`` becomes active (ignored without it)."""
        if int(seq) not in self.network_keys:
            LOGGER.info("%s: told to switch to network key %d, which it does not hold", self.name, int(seq))
            return
        self.network_key_seq = int(seq)
        LOGGER.info("%s: switched to network key %d", self.name, int(seq))
        self.memory.remember_network_keys(self.ieee, self.network_keys, self.network_key_seq)

    async def _key_establishment(self) -> None:
        """CBKE with the trust centre until it succeeds; an ESI without Key
        Establishment (a lab host without certificates) is served on the
        install-code key instead."""
        assert self.certificates is not None
        extra = {} if self._cbke_random is None else {"random": self._cbke_random}
        while True:
            try:
                joined = await establish_link_key(self, self.certificates, **extra)  # type: ignore[arg-type]
            except CbkeError as exc:
                if _NO_KE_SERVER in str(exc):
                    LOGGER.warning("%s: the ESI offers no CBKE; carrying on with the install-code key", self.name)
                    return
                LOGGER.info("%s: CBKE failed (%s); trying again", self.name, exc)
            except (zigpy.exceptions.DeliveryError, TimeoutError) as exc:
                LOGGER.info("%s: CBKE found no answer (%s); trying again", self.name, exc or type(exc).__name__)
            else:
                self.key_established = True
                self.key_exchanges += 1
                if self.cbke_responder is not None:
                    self.cbke_responder.trust_centre = joined.esi_ieee
                return
            await asyncio.sleep(self.retry_s)

    def _rekeyed(self, key: bytes) -> None:
        super()._rekeyed(key)
        self.key_exchanges += 1
        if self.nwk is not None:
            self.memory.remember(self.ieee, self.nwk, key, True)

    async def find_esi(self, cluster: int = Metering.cluster_id, *,
                       dst_nwk: int | None = 0x0000) -> list[tuple[t.NWK, int]]:
        """The ESIs, asked again until they answer (the host may not be up yet)
        when looking for Metering; other clusters are asked once."""
        while True:
            try:
                found = await super().find_esi(cluster, dst_nwk=dst_nwk)
            except (zigpy.exceptions.DeliveryError, TimeoutError):
                found = []
            if found or cluster != Metering.cluster_id:
                return found
            await asyncio.sleep(self.retry_s)

    async def live(self) -> None:
        """Power on: join or resume, find the ESIs, read, then poll until cancelled."""
        await self.start()
        self.run()
