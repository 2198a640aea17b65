"""Recording from the dashboard: the ``r`` key starts and stops a capture.

A frame on a recording is synthesized with the network's keys and counters
as they stand at that moment: the link keys come from the joins (install
codes) and from CBKE, which happen long before anybody presses ``r``.  So the
:class:`~han_emu.han.recording.HanRecording` behind :class:`DashboardRecorder`
listens from the moment the HAN starts, keeping its network context learning
(addresses, keys, frame counters), and only its file sink is switched: every
start opens a new pcapng and a new key log, and the key log begins with
every key in use at that moment.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from han_emu.frames.keylog import KeyLog
from han_emu.air.recorder import PcapRecorder
from han_emu.frames.pcap import LinkType
from han_emu.air.synth import OnAirFrame
from han_emu.han.recording import HanRecording, RecordingError

KEYS_SUFFIX = ".keys"


def keys_path_for(capture: str | Path) -> Path:
    """The key log that goes with ``capture`` (``han.pcapng`` -> ``han.keys``)."""
    return Path(capture).with_suffix(KEYS_SUFFIX)


def new_capture_path(directory: Path, prefix: str, now: float | None) -> Path:
    """``<prefix>-<UTC time>.pcapng`` in ``directory`` (``-2``, ``-3``... when
    that capture or its key log exists already); ``now`` None: the wall clock."""
    stamp = datetime.fromtimestamp(now, timezone.utc) if now is not None else datetime.now(timezone.utc)
    base = f"{prefix}-{stamp:%Y%m%dT%H%M%SZ}"
    path = directory / f"{base}.pcapng"
    n = 2
    while path.exists() or keys_path_for(path).exists():
        path = directory / f"{base}-{n}.pcapng"
        n += 1
    return path


class _Switch:
    """The recording's one file sink; writes only while a file is open."""

    def __init__(self, owner: DashboardRecorder) -> None:
        self.owner = owner

    def emit(self, frame: OnAirFrame, time: float) -> None:
        self.owner._emit(frame, time)


class DashboardRecorder:
    """A :class:`~han_emu.tui.controls.RecordingHook` for a virtual HAN.

    :meth:`attach` it before the HAN starts (``HanRunner`` does).  Each
    :meth:`start` opens ``han-<UTC time>.pcapng`` and ``.keys`` in
    ``directory``, named by the HAN's clock (the time the capture's
    timestamps carry); with ``pcap`` the first recording goes to that path
    (and key log ``keylog``, default the same name with ``.keys``) and is
    opened at once, so a bad path fails before the HAN runs and the
    recording holds the joins.  Without ``pcap``, a ``keylog`` logs every
    key of the whole run.  ``zep`` streams every frame all the time.
    """

    def __init__(
        self,
        directory: str | Path = ".",
        *,
        pcap: str | Path | None = None,
        keylog: str | Path | None = None,
        linktype: int = LinkType.IEEE802_15_4_TAP,
        pcapng: bool | None = None,
        zep: tuple[str, int] | None = None,
        prefix: str = "han",
    ) -> None:
        self.directory = Path(directory)
        self.linktype = int(linktype)
        self.prefix = prefix
        self.recording = HanRecording(linktype=linktype, zep=zep, keylog=None if pcap is not None else keylog)
        self.recording.sinks.append(_Switch(self))
        self.pcap: PcapRecorder | None = None
        self.keylog: KeyLog | None = None
        self.path: Path | None = None
        self.keys_path: Path | None = None
        self.frames = 0
        """Frames written to the current (or last) file."""
        self.files: list[Path] = []
        """Every capture file written, in order."""
        self._han: Any = None
        self._following = False
        if pcap is not None:
            try:
                self._open(Path(pcap), Path(keylog) if keylog is not None else keys_path_for(pcap), pcapng)
            except RecordingError:
                self.recording.close()
                raise

    # -- wiring ---------------------------------------------------------------------------
    def attach(self, han: Any) -> DashboardRecorder:
        """Listen to ``han`` (a ``VirtualHan``) from before it starts."""
        self._han = han
        self.recording.attach(han)
        return self

    @property
    def current(self) -> str | None:
        """The capture being written, else None."""
        return None if self.pcap is None or self.path is None else str(self.path)

    # -- RecordingHook ----------------------------------------------------------------------
    def start(self) -> str:
        """Open a new timestamped capture and key log; returns the capture's path."""
        if self.pcap is None:
            path = self._new_path()
            self._open(path, keys_path_for(path), True)
        assert self.path is not None
        return str(self.path)

    def stop(self) -> None:
        """Close the files (the frame count stays until the next start)."""
        pcap, keylog = self.pcap, self.keylog
        self.pcap = self.keylog = None
        self._following = False
        for closer in (pcap, keylog):
            if closer is not None:
                closer.close()

    def close(self) -> None:
        """Stop recording and stop listening (after the HAN has stopped)."""
        self.stop()
        self.recording.close()

    # -- files ------------------------------------------------------------------------------
    def _new_path(self) -> Path:
        now = self._han.clock.now() if self._han is not None and self._han.clock is not None else None
        return new_capture_path(self.directory, self.prefix, now)

    def _open(self, path: Path, keys: Path, pcapng: bool | None) -> None:
        pcap = None
        try:
            pcap = PcapRecorder(path, self.linktype, pcapng=pcapng)
            keylog = KeyLog(keys)
        except OSError as exc:
            if pcap is not None:
                pcap.close()
            raise RecordingError(f"cannot record: {exc.strerror or exc} ({exc.filename or ''})".rstrip(" ()")) \
                from None
        self.pcap, self.keylog, self.path, self.keys_path = pcap, keylog, path, keys
        self.frames = 0
        self.files.append(path)
        self._follow()

    def _follow(self) -> None:
        """Once the network is known: its channel on the file, its keys in the log."""
        net = self.recording.network
        if self._following or net is None or self.pcap is None or self.keylog is None:
            return
        self.pcap.channel, self.pcap.page = net.channel, net.page
        self.keylog.follow(net)  # every key in use now, and each new one as it comes
        self._following = True

    def _emit(self, frame: OnAirFrame, time: float) -> None:
        if self.pcap is None:
            return
        if not self._following:
            self._follow()
        self.pcap.emit(frame, time)
        self.frames += 1
