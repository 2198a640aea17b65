"""What the dashboard's keys operate: pause, speed, scenario, recording, messages.

The app talks to a :class:`Controls` object and never to a loop or a meter,
so a source without them (a capture replay has no scenario) simply offers
fewer controls.  :class:`HanRunner` in ``runner`` implements them for the
virtual HAN.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from han_emu.meter.scenario import ScenarioSettings

#: Virtual seconds per wall second the speed keys step through.
SPEEDS: tuple[float, ...] = (1, 2, 5, 10, 30, 60, 300, 600, 1800, 3600)


class RecordingHook(Protocol):
    """Starts and stops a recording (a pcap recorder, for instance).

    ``start`` may raise ``OSError`` or ``ValueError`` (a file that cannot be
    made): the dashboard says so and carries on.  A hook may also offer
    ``frames`` (frames written so far), ``current`` (what it already records
    to when the dashboard opens), ``attach(han)`` and ``close()``: see
    :class:`~han_emu.tui.recording.DashboardRecorder`.
    """

    def start(self) -> str:
        """Begin recording; returns what is recorded to (a path), for the screen."""
        ...

    def stop(self) -> None: ...


class Controls(Protocol):
    """The live controls a source may offer; every member is required."""

    @property
    def paused(self) -> bool: ...

    @property
    def speed(self) -> float | None: ...

    @property
    def scenario(self) -> str: ...

    @property
    def scenarios(self) -> tuple[str, ...]: ...

    @property
    def recording(self) -> str | None:
        """Where the recording goes while one runs, else None."""
        ...

    @property
    def can_record(self) -> bool: ...

    @property
    def recording_frames(self) -> int | None:
        """Frames on the running recording, where the recorder counts them."""
        ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def set_speed(self, speed: float) -> None: ...

    def set_scenario(self, name: str) -> None: ...

    def start_recording(self) -> None: ...

    def stop_recording(self) -> None: ...


#: The dashboard's actions that need a source's controls, and what each asks of them.
CONTROL_ACTIONS = ("pause", "speed", "scenario", "record", "top_up", "emergency", "message", "withdraw",
                   "conformance")


def offers(controls: Controls | None, action: str) -> bool:
    """Whether the source's ``controls`` answer to the dashboard ``action`` (a
    name in :data:`CONTROL_ACTIONS`; any other action needs no controls).

    Optional flags a controls object may set: ``can_pause`` (False on the wall
    clock of a stick: no pause and no speed) and ``can_change_speed`` (False
    on a live sniffer, which may hold its display but hears at the air's pace);
    the PPMID keys (``top_up``, ``emergency``) need a ``ppmid_key(key) -> bool``
    method (a HAN with a simulated PPMID).
    The message key needs ``send_message(text, confirm=...)``, which only a
    source that serves the ESI (the virtual HAN, a stick) has; the withdraw key
    needs ``withdraw_messages()``, from the same sources.  The
    Conformance key needs ``conformance()``: a conformance run's controls.
    """
    if action not in CONTROL_ACTIONS:
        return True
    if controls is None:
        return False
    can_pause = bool(getattr(controls, "can_pause", True))
    if action == "pause":
        return can_pause
    if action == "speed":
        return bool(getattr(controls, "can_change_speed", can_pause))
    if action == "scenario":
        return bool(controls.scenarios)
    if action in ("top_up", "emergency"):
        return callable(getattr(controls, "ppmid_key", None))
    if action == "message":
        return callable(getattr(controls, "send_message", None))
    if action == "withdraw":
        return callable(getattr(controls, "withdraw_messages", None))
    if action == "conformance":
        return callable(getattr(controls, "conformance", None))
    return bool(controls.can_record)


def next_speed(speed: float | None, step: int) -> float:
    """The speed ``step`` places up (or down) :data:`SPEEDS` from ``speed``."""
    if speed is None:
        return SPEEDS[-1]
    below = [i for i, s in enumerate(SPEEDS) if s <= speed]
    i = below[-1] if below else 0
    if step < 0 and SPEEDS[i] < speed:  # between two steps: going down lands on the lower
        step += 1
    return SPEEDS[max(0, min(len(SPEEDS) - 1, i + step))]


def scenario_variants(configured: ScenarioSettings) -> dict[str, ScenarioSettings]:
    """The scenarios the switch key cycles through.

    "no PV" removes both PV arrays (the battery still cycles on the cheap
    tier, so the secondary element can still export in the evening);
    "winter" keeps a quarter of the PV output and raises the house load by
    half (heating and lighting): the meter's time of year is not changed.
    """
    return {
        "configured": configured,
        "no PV": replace(configured, primary_pv_kwp=0.0, secondary_pv_kwp=0.0),
        "winter": replace(
            configured,
            primary_pv_kwp=configured.primary_pv_kwp * 0.25,
            secondary_pv_kwp=configured.secondary_pv_kwp * 0.25,
            house_base_w=configured.house_base_w * 1.5,
            house_peak_w=configured.house_peak_w * 1.5,
        ),
    }


class ScenarioChoice:
    """The scenario key's state, shared by the sources that have one: the
    choices (:func:`scenario_variants` of the configured scenario) and which
    is on.  Subclasses fill ``_variants`` and apply a choice themselves."""

    _scenario = "configured"
    _variants: dict[str, ScenarioSettings]  # set by each subclass's __init__

    @property
    def scenario(self) -> str:
        return self._scenario

    @property
    def scenarios(self) -> tuple[str, ...]:
        return tuple(self._variants)
