"""The per-device ``band`` key: parsed, checked with the key named, shipped in the example."""

from __future__ import annotations

import pytest

from han_emu.air.accounting import BAND_868, BAND_2400
from han_emu.han.config import ConfigError, example_text, loads
from han_emu.sim.schedule import BANDS, DeviceSettings


def test_band_defaults_to_2400_and_takes_gb868() -> None:
    config = loads('[[devices]]\nkind = "ihd"\n\n[[devices]]\nkind = "cad"\nband = "gb868"\n')
    assert [d.band for d in config.devices] == ["2.4", "gb868"]
    assert [d.sub_ghz for d in config.devices] == [False, True]
    assert all(d.band == "2.4" for d in loads("").devices)


@pytest.mark.parametrize(("value", "message"), [
    ('"868"', 'devices[1].band: "2.4" or "gb868", got \'868\''),
    ("2.4", 'devices[1].band: "2.4" or "gb868" (a quoted string), got 2.4'),
])
def test_bad_band_names_the_key(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        loads(f'[[devices]]\nkind = "ihd"\n\n[[devices]]\nkind = "ppmid"\nband = {value}\n')
    assert str(err.value) == message


def test_example_shows_the_band_key() -> None:
    text = example_text()
    assert 'band = "2.4"' in text and 'band = "gb868"' in text
    assert {d.band for d in loads(text).devices} == {"2.4"}


def test_band_names_match_the_accounting() -> None:
    assert BANDS == (BAND_2400, BAND_868)
    assert DeviceSettings(band="gb868").validate().sub_ghz
