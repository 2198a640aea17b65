"""Duty cycle of a replayed capture: who transmitted how much, and when limits tripped.

Every frame in a capture was sent by someone, MAC ACKs included, so airtime
is charged per transmitting device from each frame's PSDU length at the
chosen PHY: the MAC source address names the sender, and an ACK (which has
no address) is charged to the destination of the last frame that asked for
it.  On GB-868 the regulating :class:`DutyCycleLedger` gives rolling-hour
states and GBCS alerts; on 2.4 GHz the measuring :class:`AirtimeLedger`.
A frame the ledger would have discarded was still on air in the capture; it
is counted as "over limit".

The PHY is the one named, or else the one the capture's first frame says it
was heard on (a TAP header's channel page, a ZEP channel, see
:func:`~han_emu.air.phy.phy_of_metadata`), or else GB-868, the study's band;
``phy_from`` says which ("option", "capture" or "default") so an output can
tell an assumed PHY from a known one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, BinaryIO

from han_emu.air import GB_868, AirtimeLedger, DutyCycleEvent, DutyCycleLedger, Phy
from han_emu.air.phy import AUTO, SUB_GHZ_PAGES, phy_named, phy_of_metadata
from han_emu.frames import fastparse
from han_emu.frames.decoder import ieee_text
from han_emu.frames.errors import FrameError
from han_emu.frames.record import RawFrame
from han_emu.replay.capture import CaptureProblem, iter_records

_ACK = 2
DEFAULT_PHY = GB_868
"""The PHY assumed when nothing names one and the capture does not say."""


class ReplayDutyCycle:
    """Charges each captured frame to its sender; :meth:`report` gives the figures."""

    def __init__(self, phy: str | Phy | None = DEFAULT_PHY.key, ledger: AirtimeLedger | None = None) -> None:
        """``phy``: the PHY to charge at, or None (or "auto") to take it from the
        first frame's metadata; ``ledger``: the ledger to charge (made to suit
        the PHY when not given)."""
        self.phy_from = "option"
        if phy is None or phy == AUTO:
            phy, self.phy_from = DEFAULT_PHY, "default"
        self.events: list[DutyCycleEvent] = []
        self._own_ledger = ledger is None
        self._undecided = self.phy_from == "default"
        self._set_phy(phy if isinstance(phy, Phy) else phy_named(phy))
        self.ledger = ledger or self._ledger_for(self.phy)
        self.ledger.subscribe(self.events.append)
        self.ieee: dict[int, int] = {}
        self.frames = 0
        self.skipped = 0
        self.over_limit = 0
        self._await_ack: tuple[int, Hashable] | None = None
        self._now = float("-inf")
        self.first: float | None = None

    def _set_phy(self, phy: Phy) -> None:
        self.phy = phy
        self.phy_name = phy.key
        self.default_page, self.default_channel = phy.first_channel

    @staticmethod
    def _ledger_for(phy: Phy) -> AirtimeLedger:
        return DutyCycleLedger() if phy.duty_cycle_regulated else AirtimeLedger()

    def _choose_phy(self, raw: RawFrame) -> None:
        """The first frame decides a PHY nobody named: its metadata, else the default."""
        found = phy_of_metadata(raw.page, raw.channel)
        if found is None:
            return
        self.phy_from = "capture"
        if found is self.phy:
            return
        self._set_phy(found)
        if self._own_ledger:  # nothing charged yet: a ledger that suits the PHY
            self.ledger = self._ledger_for(found)
            self.ledger.subscribe(self.events.append)

    def _where(self, raw: RawFrame) -> tuple[int, int]:
        if self.phy is GB_868:
            if raw.page in SUB_GHZ_PAGES and raw.channel is not None:
                return raw.page, raw.channel
        elif raw.page in (0, None) and raw.channel is not None and 11 <= raw.channel <= 26:
            return 0, raw.channel
        return self.default_page, self.default_channel

    def _sender(self, raw: RawFrame) -> Hashable | None:
        frame = raw.frame
        mac = fastparse.parse_mac(frame, fcs=False)
        if mac["frame_type"] == _ACK:
            pending, self._await_ack = self._await_ack, None
            if pending is not None and pending[0] == mac["seq"]:
                return pending[1]
            return "unknown (ACK)"
        dst = mac["dst_addr"]
        if mac["ack_request"] and dst is not None:
            self._await_ack = (mac["seq"], self._label(dst, mac["dst_addr_mode"]))
        else:
            self._await_ack = None
        src = mac["src_addr"]
        if src is None:
            return "unknown"
        if mac["frame_type"] == 1 and mac["src_addr_mode"] == 2 and mac["payload_end"] > mac["payload_start"]:
            try:
                nwk = fastparse.parse_nwk(frame, mac["payload_start"])
                if nwk["security"] and nwk["sec_source"] is not None:
                    self.ieee[src] = nwk["sec_source"]
                if nwk["src_ieee"] is not None and nwk["src"] is not None:
                    self.ieee[nwk["src"]] = nwk["src_ieee"]
            except FrameError:
                pass
        return self._label(src, mac["src_addr_mode"])

    def _label(self, addr: int, mode: int) -> Hashable:
        if mode == 2:
            return f"0x{addr:04x}"
        for short, ieee in self.ieee.items():
            if ieee == addr:
                return f"0x{short:04x}"
        return ieee_text(addr)

    def add(self, raw: RawFrame) -> None:
        """Charge one captured frame."""
        if self._undecided:
            self._undecided = False
            self._choose_phy(raw)
        psdu = len(raw.frame) + 2
        if psdu > self.phy.max_psdu or not raw.frame:
            self.skipped += 1
            return
        try:
            sender = self._sender(raw)
        except FrameError:
            self.skipped += 1
            self._await_ack = None
            return
        now = max(raw.time, self._now)  # captures are sometimes a little out of order
        self._now = now
        if self.first is None:
            self.first = now
        page, channel = self._where(raw)
        self.frames += 1
        if not self.ledger.record_psdu(sender, page, channel, psdu, now):
            self.over_limit += 1

    def report(self) -> dict[str, Any]:
        """Per-device airtime, rolling-hour peak and final state, plus every transition."""
        now = self._now if self.frames else 0.0
        devices: dict[str, Any] = {}
        ieee_by_label = {f"0x{s:04x}": ieee_text(i) for s, i in self.ieee.items()}
        for device in self.ledger.devices():
            for u in self.ledger.device_usage(device, now):
                devices.setdefault(str(device), []).append({
                    "ieee": ieee_by_label.get(str(device)),
                    "page": u.page, "channel": u.channel, "frames": u.frames,
                    "airtime_s": round(u.total_airtime, 6),
                    "peak_hour_s": round(u.peak, 6), "peak_hour_percent": round(u.peak_percent, 4),
                    "state": u.state.name, "over_limit": u.discarded,
                })
        return {
            "phy": self.phy.name,
            "phy_key": self.phy.key,
            "phy_from": self.phy_from,
            "frames": self.frames,
            "skipped": self.skipped,
            "over_limit": self.over_limit,
            "start": self.first,
            "end": now if self.frames else None,
            "devices": devices,
            "transitions": [
                {"time": e.time, "device": str(e.device), "page": e.page, "channel": e.channel,
                 "from": e.previous.name, "to": e.state.name, "alert": f"0x{int(e.alert):04X}",
                 "airtime_s": round(e.airtime, 6)}
                for e in self.events
            ],
        }


def replay_dutycycle(path: str | Path | BinaryIO | bytes, phy: str | Phy | None = DEFAULT_PHY.key,
                     ledger: AirtimeLedger | None = None, *,
                     warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Read a capture and return :meth:`ReplayDutyCycle.report` for it (no keys needed:
    airtime depends only on frame lengths and senders).  A record that cannot
    be read (or a file that is no capture) is counted in ``damaged_records``
    and told to ``warn`` in the words the replay uses."""
    acc = ReplayDutyCycle(phy, ledger)
    problems = 0
    for rec in iter_records(path):
        if type(rec) is CaptureProblem:
            problems += 1
            if warn is not None:
                warn(rec.message)
            continue
        acc.add(rec)
    report = acc.report()
    report["damaged_records"] = problems
    return report


def capture_phy(path: str | Path | bytes) -> Phy | None:
    """The PHY a capture's first frame says it was heard on (None when it does not say)."""
    for rec in iter_records(path):
        if type(rec) is not CaptureProblem:
            return phy_of_metadata(rec.page, rec.channel)
    return None
