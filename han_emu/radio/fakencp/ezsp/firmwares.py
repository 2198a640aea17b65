"""The firmware images the emulated EZSP NCP can be: ``han-emu fake-ncp
--protocol ezsp --firmware NAME``.  Each is one protocol version of
:mod:`.ncp`; the tokens file does not depend on it, so one stick's state can
be brought up under another image, as after a firmware upgrade."""

from __future__ import annotations

from han_emu.radio.fakencp.ezsp.ncp.interpreter import EzspNcpBase
from han_emu.radio.fakencp.ezsp.ncp.v13 import EzspNcpV13
from han_emu.radio.fakencp.ezsp.ncp.v14 import EzspNcpV14

DEFAULT_FIRMWARE = "v13"

_IMAGES: dict[str, tuple[type[EzspNcpBase], str]] = {
    "v13": (EzspNcpV13, "EmberZNet 7.3.2.0, EZSP protocol 13"),
    "v14": (EzspNcpV14, "EmberZNet 7.4.4.0, EZSP protocol 14 (sl_status statuses, new message frames)"),
}

#: Firmware name -> what it is, for ``--firmware`` and its help.
FIRMWARES: dict[str, str] = {name: text for name, (_, text) in _IMAGES.items()}


def ncp_class(name: str | None) -> type[EzspNcpBase]:
    """The NCP class of firmware ``name`` (None: the default); ValueError names the choices."""
    key = DEFAULT_FIRMWARE if name is None else name.lower()
    try:
        return _IMAGES[key][0]
    except KeyError:
        raise ValueError(f"no EZSP firmware called {name!r}; choose one of {', '.join(FIRMWARES)}") from None
