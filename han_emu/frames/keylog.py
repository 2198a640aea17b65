"""A key log Wireshark can load, so the emulator's captures open decrypted.

Keys made on the HAN (CBKE-derived link keys above all) cannot be recovered
from a capture, so the emulator writes every key it uses as it comes into use:
one row of Wireshark's Zigbee key table (``uat:zigbee_pc_keys``) per key,
``"<32 hex digits>","Normal","<label>"``.

Two ways to load it:

- on the command line, the rows joined by newlines:
  ``tshark -r han.pcapng -o "uat:zigbee_pc_keys:$(cat han.keys)"``
  (:meth:`KeyLog.tshark_option` gives that argument ready-made);
- copy the file as ``zigbee_pc_keys`` into the Wireshark profile folder
  (``~/.config/wireshark/`` for the default profile on Linux; Help > About >
  Folders shows it), or paste the rows in Edit > Preferences > Protocols >
  ZigBee > Pre-configured Keys.

The file holds secrets: it is created with mode 0600 and only when asked for.
"""

from __future__ import annotations

import csv
import io

import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from han_emu.crypto.keys import KEY_SIZE, KeyTextError
from han_emu.crypto.keys import parse_key as parse_key_text
from han_emu.frames.keyring import KeyRing

UAT_NAME = "zigbee_pc_keys"


class KeySource(Protocol):
    """What can tell a key log about keys (``NetworkContext`` does)."""

    def subscribe_keys(self, listener: Any) -> Any: ...


def uat_row(key: bytes, label: str) -> str:
    """One row of Wireshark's Zigbee key table."""
    if len(key) != KEY_SIZE:
        raise ValueError(f"a Zigbee key is {KEY_SIZE} bytes, got {len(key)}")
    clean = label.replace('"', "'").replace("\\", "/")
    return f'"{key.hex().upper()}","Normal","{clean}"'


def tshark_option(rows: list[str]) -> str:
    """The ``-o`` argument that hands ``rows`` to tshark."""
    return f"uat:{UAT_NAME}:" + "\n".join(rows)


class KeyLog:
    """Appends each new key to ``path`` (mode 0600) and flushes at once, so a
    capture being recorded can be opened with the keys seen so far."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        self._file = os.fdopen(fd, "w", encoding="ascii")
        self._keys: dict[bytes, str] = {}
        self._unsubscribe: list[Any] = []

    @property
    def rows(self) -> list[str]:
        return [uat_row(k, label) for k, label in self._keys.items()]

    def add(self, key: bytes, label: str) -> bool:
        """Log ``key``; False if it was already logged (the first label stays)."""
        key = bytes(key)
        if key in self._keys:
            return False
        row = uat_row(key, label)
        self._keys[key] = label
        self._file.write(row + "\n")
        self._file.flush()
        return True

    def follow(self, source: KeySource) -> None:
        """Log every key ``source`` uses now and later."""
        self._unsubscribe.append(source.subscribe_keys(lambda _kind, key, label: self.add(key, label)))

    def tshark_option(self) -> str:
        return tshark_option(self.rows)

    def close(self) -> None:
        for remove in self._unsubscribe:
            if callable(remove):
                remove()
        self._unsubscribe.clear()
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> KeyLog:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class KeylogError(ValueError):
    """A key-log line that holds no 16-byte key."""


def parse_key(text: str) -> bytes:
    """A key given as 32 hex digits (``crypto.keys.parse_key``), refused with KeylogError."""
    try:
        return parse_key_text(text)
    except KeyTextError as exc:
        raise KeylogError(str(exc)) from None


def parse_keylog(text: str) -> list[tuple[bytes, str]]:
    """(key, label) rows of a key log: Wireshark ``zigbee_pc_keys`` rows as
    :func:`uat_row` writes them, or a bare hex key optionally followed by a
    label; blank lines and ``#`` comments are skipped."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith('"'):
            fields = next(csv.reader(io.StringIO(line)))
            key_text, label = fields[0], fields[2] if len(fields) > 2 else ""
        else:
            key_text, _, label = line.partition(" ")
        try:
            out.append((parse_key(key_text), label.strip()))
        except KeylogError as exc:
            raise KeylogError(f"line {n}: {exc}") from None
    return out


def _read_text(path: str | Path) -> str:
    """A key log file's text; a file that is not text is a KeylogError."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KeylogError(f"{path}: not a key log: byte {exc.start} is not text (UTF-8)") from None


def read_keylog_rows(path: str | Path) -> list[tuple[bytes, str]]:
    """(key, label) rows of a key log file (or of a Wireshark ``zigbee_pc_keys`` file)."""
    return parse_keylog(_read_text(path))


def _classify(label: str) -> tuple[bool, bool]:
    """(network, link): which layers a key labelled ``label`` is tried at.
    A label naming neither puts the key at both, as Wireshark tries every key
    at both layers."""
    low = label.lower()
    link = any(w in low for w in ("link", "tc", "aps", "trust"))
    network = any(w in low for w in ("network", "nwk"))
    if not link and not network:
        return True, True
    return network, link


def load_keylog(text: str, ring: KeyRing | None = None) -> KeyRing:
    """Add the keys of a key log's ``text`` to ``ring`` (a new ring if None)."""
    ring = ring if ring is not None else KeyRing()
    for key, label in parse_keylog(text):
        network, link = _classify(label)
        if network:
            ring.add_network_key(key)
        if link:
            ring.add_link_key(key)
    return ring


def read_keyring(path: str | Path, ring: KeyRing | None = None) -> KeyRing:
    """The keys of a key log file, added to ``ring`` (a new ring if None)."""
    return load_keylog(_read_text(path), ring)


class KeylogFollower:
    """A key log still being written (``han-emu run --keylog`` adds each CBKE
    key as it is agreed): new keys join the ring as they appear, and a file
    that does not exist yet is no keys yet, not an error.  ``poll`` looks at
    most every ``interval`` seconds unless forced (a frame that did not
    decrypt forces a look: its key may have been written a moment ago)."""

    def __init__(self, path: str | Path, ring: KeyRing, *, interval: float = 0.5) -> None:
        self.path = Path(path)
        self.ring = ring
        self.interval = interval
        self._seen: tuple[int, int] | None = None
        self._last = float("-inf")

    def poll(self, *, force: bool = False) -> bool:
        """Read the file again if it changed; True when a new key was added.
        A line that cannot be read yet (half written) is tried again next time."""
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return False
        self._last = now
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        mark = (st.st_mtime_ns, st.st_size)
        if mark == self._seen:
            return False
        try:
            text = self.path.read_text(encoding="utf-8")
            before = (len(self.ring.network_keys), len(self.ring.link_keys))
            load_keylog(text[: text.rfind("\n") + 1], self.ring)  # whole lines only
        except (OSError, UnicodeDecodeError, KeylogError):
            return False
        self._seen = mark
        return (len(self.ring.network_keys), len(self.ring.link_keys)) != before
