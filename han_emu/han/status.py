"""A running HAN's live airtime accounting: which displays are on GB-868, the
Sub-GHz throttling the hub's budget drives, and the ``--status-json`` file.

The virtual HAN, a stick's HAN, the dashboard and the duty-cycle study share
these, so a display configured with ``band = "gb868"`` is charged to the hub's
regulated budget the same way everywhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from han_emu.air.accounting import AirAccounting
from han_emu.air.dutycycle import DutyCycleEvent, DutyCycleState
from han_emu.air.synth import ieee_int

LOGGER = logging.getLogger(__name__)


def configured_sub_ghz(han: Any) -> Callable[[int], bool]:
    """A ``sub_ghz`` function for :class:`~han_emu.air.accounting.AirAccounting`:
    a device is on GB-868 when the HAN's display with that IEEE address is
    configured with ``band = "gb868"``."""

    def is_sub_ghz(ieee: int) -> bool:
        for device in getattr(han, "devices", ()):
            if ieee_int(device.ieee) == ieee:
                return bool(getattr(device.settings, "sub_ghz", False))
        return False

    return is_sub_ghz


def wire_throttling(acct: AirAccounting, han: Any) -> Callable[[], None]:
    """Let ``acct``'s GB-868 events and busy-hub traffic drive the hub's
    Sub-GHz server on ``han`` (Suspend ZCL Messages, woken at once).  Returns
    the function that undoes it.  Safe before the HAN starts and on a hub
    without a Sub-GHz server (then nothing is sent)."""
    def sub_ghz() -> Any:
        server = han.server
        return server.sub_ghz if server is not None else None

    def throttle(event: DutyCycleEvent, culprit: int | None) -> None:
        cluster = sub_ghz()
        if cluster is not None and cluster.on_duty_cycle(event, culprit) and han.app is not None:
            han.app.wake_server()

    def busy(peer: int, hub_state: DutyCycleState) -> None:
        cluster = sub_ghz()
        if cluster is not None and cluster.on_traffic(peer, hub_state) and han.app is not None:
            han.app.wake_server()

    undo = [acct.subscribe(throttle), acct.subscribe_traffic(busy)]

    def unwire() -> None:
        for u in undo:
            u()

    return unwire


class StatusFile:
    """Keeps a JSON file with each device's airtime and duty-cycle state up to date
    (on a stick, also its ``requests``, ``answered``, ``refused`` and ``last_seen``).

    Created before the HAN starts (it joins ``han.listeners``); :meth:`start`
    once it runs, :meth:`stop` at the end (which writes a last time).  The
    file is replaced atomically, so a reader never sees half of it.

    Which displays are on GB-868 comes from each one's configured ``band``
    (``sub_ghz`` overrides it: IEEE addresses, ``"all"`` or a function), so a
    sub-GHz display's traffic is charged to the hub's regulated budget as in
    the study, with the hub's 2.4 GHz leg to the ESME measured beside it.
    When the HAN's hub serves the Sub-GHz cluster, the status also drives it:
    Suspend ZCL Messages go out as the hub's budget fills.
    """

    def __init__(self, path: str | Path, han: Any, *, period: float = 5.0, sub_ghz: Any = None,
                 accounting: AirAccounting | None = None, warn: Callable[[str], None] | None = None) -> None:
        """``accounting``: an :class:`~han_emu.air.accounting.AirAccounting`
        the HAN already feeds (a hardware HAN's); otherwise one is made and
        fed from the virtual air.  ``warn`` hears of the first write that
        fails (default: a logged warning); the run goes on, and so do the
        writes, in case the trouble passes."""
        self.path = Path(path)
        self.han = han
        self.period = period
        self.warn = warn
        self.failed = 0
        """Writes that failed."""
        self._task: asyncio.Task[None] | None = None
        self._unwire: Callable[[], None] | None
        if accounting is not None:
            self.accounting = accounting
            self._unwire = lambda: None
            return
        self.accounting = AirAccounting(sub_ghz=configured_sub_ghz(han) if sub_ghz is None else sub_ghz)
        self._unwire = wire_throttling(self.accounting, han)
        han.listeners.append(self.accounting.listener)

    def write(self) -> None:
        now = self.han.clock.now() if self.han.clock is not None else None
        data = self.accounting.to_json(now)
        served = getattr(self.han, "served", None)  # a stick's HAN: each display's requests
        if served is not None:
            served.merge_into(data["devices"])
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            self.failed += 1
            if self.failed == 1:
                (self.warn or LOGGER.warning)(f"cannot write the status file {self.path}: {exc.strerror or exc} "
                                              "(the run goes on; later writes are tried)")

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="status-json")

    async def _run(self) -> None:
        while True:
            self.write()
            await asyncio.sleep(self.period)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.close()

    def close(self) -> None:
        """Stop refreshing and write a last time (for callers that cannot await)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._unwire is not None:
            self._unwire()
            self._unwire = None
        self.write()
