"""The Basic cluster (0x0000) of the ESI endpoints, from one place.

GB displays read the identity attributes of the ESI's Basic cluster (ZCL
version, application/stack/hardware versions, manufacturer, model, date code,
power source) when they pair.  :class:`BasicInfo` holds the values; the
configuration's ``[basic]`` table overrides the identity ones, so a lab can
make the emulator look like the meter under study.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from zigpy.zcl.clusters.general import Basic

from han_emu import __version__
from han_emu.server.attributes import AttributeTable

#: ZCLVersion as Smart Energy 1.x devices report it (ZCL revisions before 6 use 0x01).
ZCL_VERSION: Final = 0x01
#: An ESME is a mains meter; the twin ESME is single phase.
POWER_SOURCE: Final = Basic.PowerSource.Mains_single_phase
#: ZCL limits: ManufacturerName and ModelIdentifier up to 32 characters, DateCode up to 16.
TEXT_LIMITS: Final = {"manufacturer": 32, "model": 32, "date_code": 16}


@dataclass(frozen=True)
class BasicInfo:
    """What the ESI's Basic cluster says about the meter (``[basic]`` in the configuration)."""

    manufacturer: str = "han-emu"
    model: str = "Twin ESME"
    #: ZCL DateCode: YYYYMMDD, optionally followed by up to 8 characters of the maker's own.
    date_code: str = "20261128"
    application_version: int = 1
    stack_version: int = 2
    hardware_version: int = 1

    def validate(self, where: str = "basic") -> BasicInfo:
        """Self, or ValueError naming the offending key (``basic.model: ...``)."""
        for name, limit in TEXT_LIMITS.items():
            value = getattr(self, name)
            if not value or len(value.encode("utf-8")) > limit or not value.isprintable():
                raise ValueError(f"{where}.{name}: 1..{limit} printable characters, got {value!r}")
        if not self.date_code[:8].isdigit() or len(self.date_code) < 8:
            raise ValueError(f"{where}.date_code: starts with the date as YYYYMMDD, got {self.date_code!r}")
        for name in ("application_version", "stack_version", "hardware_version"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ValueError(f"{where}.{name}: 0..255 (a uint8), got {getattr(self, name)}")
        return self


def basic_table(info: BasicInfo | None = None) -> AttributeTable:
    """The Basic attributes an ESI endpoint serves (both elements say the same: one meter)."""
    info = info or BasicInfo()
    return AttributeTable.from_cluster(
        Basic,
        {
            "zcl_version": lambda: ZCL_VERSION,
            "app_version": lambda: info.application_version,
            "stack_version": lambda: info.stack_version,
            "hw_version": lambda: info.hardware_version,
            "manufacturer": lambda: info.manufacturer,
            "model": lambda: info.model,
            "date_code": lambda: info.date_code,
            "power_source": lambda: POWER_SOURCE,
            "sw_build_id": lambda: __version__,
        },
    )
