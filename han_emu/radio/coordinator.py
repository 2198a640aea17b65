"""What the hardware coordinators share on top of :class:`ServerHost`.

Joining with install codes, looking up IEEE addresses for the Key
Establishment server, installing link keys, and listing the keys in use for a
Wireshark key log are the same questions on every stick; only the NCP command
that stores a link key differs, so each backend supplies :meth:`_store_link_key`.
The steps of a start (opening the port, forming the network, ...) are told
to ``on_step`` as they begin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import zigpy.types as t
import zigpy.util

from han_emu.radio.host import ServerHost

LOGGER = logging.getLogger(__name__)

#: The steps of a stick's start, as zigpy's ``startup`` takes them (an EZSP
#: stick registers the endpoints while connecting, Z-Stack while starting the
#: network; forming happens only on a stick without a network).
OPENING = "opening the port"
REGISTERING = "registering the ESI endpoints"
READING = "reading the stick's network"
FORMING = "forming a new network"
STARTING = "starting the network"


class HardwareCoordinator(ServerHost):
    """Mixin for a radio library's ControllerApplication (put it first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Link keys this host gave the stick (install-code derived, CBKE), by IEEE.
        self.link_keys: dict[t.EUI64, t.KeyData] = {}
        #: Why the last link key could not be installed, worded for the user.
        self.link_key_problem: str | None = None
        #: Told each step of :meth:`startup` as it begins (one of the phrases
        #: above): a start takes seconds, and the user should see which part.
        self.on_step: Callable[[str], None] | None = None
        self._starting = False
        self._forming = False
        self._last_step: str | None = None

    # -- the start, step by step ------------------------------------------------------
    def _step(self, what: str) -> None:
        if not self._starting or self._forming or self.on_step is None:
            return  # forming starts and restarts the network inside: still "forming"
        if what == self._last_step:
            return
        self._last_step = what
        try:
            self.on_step(what)
        except Exception:  # a display's failure must not stop the stick
            LOGGER.exception("start step listener failed on %r", what)

    async def startup(self, *, auto_form: bool = False) -> None:
        self._starting, self._last_step = True, None
        try:
            await super().startup(auto_form=auto_form)  # type: ignore[misc]
        finally:
            self._starting = False

    async def connect(self) -> None:
        self._step(OPENING)
        await super().connect()  # type: ignore[misc]

    async def register_endpoints(self) -> None:
        self._step(REGISTERING)
        await super().register_endpoints()

    async def initialize(self, *, auto_form: bool = False) -> None:
        self._step(READING)
        await super().initialize(auto_form=auto_form)

    async def form_network(self, *args: Any, **kwargs: Any) -> None:
        self._step(FORMING)
        self._forming = True
        try:
            await super().form_network(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._forming = False

    async def start_network(self, *args: Any, **kwargs: Any) -> None:
        self._step(STARTING)
        await super().start_network(*args, **kwargs)  # type: ignore[misc]

    @property
    def server_endpoints(self) -> frozenset[int]:
        return frozenset(int(d.endpoint) for d in self._server_descriptors())

    async def permit_with_install_code(
        self, node: t.EUI64, code: bytes, time_s: int = 60
    ) -> t.KeyData:
        """Let ``node`` join with the link key its install code gives (the
        code's CRC is checked first); returns that key."""
        key = zigpy.util.convert_install_code(bytes(code))
        await self.permit_with_node_key(node, key, time_s)
        return key

    async def permit_with_node_key(
        self, node: t.EUI64, key: t.KeyData, time_s: int = 60
    ) -> None:
        """Let ``node`` join with ``key`` as its pre-configured link key."""
        node = t.EUI64(node)
        await self.permit_with_link_key(node=node, link_key=t.KeyData(key), time_s=time_s)  # type: ignore[attr-defined]
        self.link_keys[node] = t.KeyData(key)

    def ieee_of(self, nwk: int) -> t.EUI64 | None:
        """The IEEE address at ``nwk``, when zigpy has seen the device join."""
        state = self.state  # type: ignore[attr-defined]
        if nwk == state.node_info.nwk:
            return state.node_info.ieee
        try:
            return self.get_device(nwk=t.NWK(nwk)).ieee  # type: ignore[attr-defined]
        except KeyError:
            return None

    async def install_link_key(self, ieee: t.EUI64, key: bytes) -> bool:
        """Use ``key`` for APS security with ``ieee`` from now on (CBKE's
        result); False when the NCP has no way to take it."""
        ieee = t.EUI64(ieee)
        try:
            stored = await self._store_link_key(ieee, t.KeyData(bytes(key)))
        except Exception as exc:  # the stick refused: say so, keep running
            self.link_key_problem = str(exc) or type(exc).__name__
            LOGGER.warning("The coordinator did not take the link key for %s: %s", ieee, self.link_key_problem)
            return False
        if stored:
            self.link_keys[ieee] = t.KeyData(bytes(key))
            self.link_key_problem = None
        elif self.link_key_problem is None:
            self.link_key_problem = "this coordinator cannot take link keys from the host"
        return stored

    async def _store_link_key(self, ieee: t.EUI64, key: t.KeyData) -> bool:
        return False

    def keys_in_use(self) -> list[tuple[bytes, str]]:
        """(key, label) of the network key, the trust-centre link key and the
        link keys the host knows, for a key log."""
        out: list[tuple[bytes, str]] = []
        info = self.state.network_info  # type: ignore[attr-defined]
        if info is not None and info.network_key is not None:
            out.append((bytes(info.network_key.key), f"network key seq {info.network_key.seq}"))
        if info is not None and info.tc_link_key is not None:
            out.append((bytes(info.tc_link_key.key), "trust centre link key"))
            for entry in info.key_table or ():
                out.append((bytes(entry.key), f"link key {entry.partner_ieee}"))
        for ieee, key in self.link_keys.items():
            out.append((bytes(key), f"link key {ieee}"))
        return out
