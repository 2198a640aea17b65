from decimal import Decimal
from pathlib import Path

import pytest

from han_emu.han.config import ConfigError, example_text, load, loads


def test_example_configuration_loads() -> None:
    c = loads(example_text())
    assert c.meter.mpans.secondary_export == "1200023305994"
    exp = c.meter.secondary.export_tariff
    assert exp is not None and exp.prices == (
        Decimal("0.0550"), Decimal("0.1200"), Decimal("0.2500"), Decimal("0.1500")
    )
    assert c.endpoints.secondary == 2
    assert c.endpoints.export_mpan.attribute_id == 0xE307
    assert c.meter.scaled_price(exp.prices[2]) == 25000
    assert c.scenario.secondary_pv_kwp == 4.0


def test_defaults_without_a_file() -> None:
    c = load(None)
    assert c.meter.profile_capacity >= 4416
    assert c.state_path is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[meter]\nserail = 'x'\n", r"^meter\.serail: unknown key"),
        ("[bogus]\n", r"^bogus: unknown key"),
        ("[scenario]\nseed = 'one'\n", r"^scenario\.seed: expected an integer"),
        ("[scenario]\npv = 1\n", r"^scenario\.pv: unknown key"),
        ("[scenario]\nbattery_kwh = -1\n", r"^scenario\.battery_kwh: cannot be negative"),
        ("[mpan]\nsecondary_export = '1200023305995'\n", r"^mpan\.secondary_export: .*check digit"),
        ("[mpan]\nsecondary_export = 1200023305994\n", r"^mpan\.secondary_export: expected a string"),
        ("[tariff.secondary.export]\nprices = [0.1, 'abc']\n", r"^tariff\.secondary\.export\.prices\[1\]: expected a number"),
        ("[tariff.primary.export]\nprices = [0.1]\n", r"^tariff\.primary\.export: unknown key"),
        (
            "[tariff.secondary.export]\nprices = [1, 2]\nday_profiles.d = [['00:00', 1], ['10:15', 2]]\n",
            r"^tariff\.secondary\.export\.switching\.day_profiles\.d: .*half hour",
        ),
        (
            "[tariff.secondary.export]\nprices = [1, 2]\nday_profiles.d = [['00:00', 1], ['25:00', 2]]\n",
            r"^tariff\.secondary\.export\.day_profiles\.d\[1\]\[0\]: '25:00' is not a time of day",
        ),
        (
            "[tariff.secondary.export]\nprices = [1]\nday_profiles.a = [['00:00', 1]]\nday_profiles.b = [['00:00', 1]]\n",
            r"^tariff\.secondary\.export\.week: required",
        ),
        ("[endpoints]\nsecondary = 1\n", r"^endpoints\.secondary: must differ"),
        ("[endpoints]\nprimary = 241\n", r"^endpoints\.primary: an application endpoint"),
        ("[meter]\nprofile_capacity = 100\n", r"^meter\.profile_capacity: at least 4416"),
        ("[meter\n", r"not valid TOML"),
    ],
)
def test_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        loads(text)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load(tmp_path / "nope.toml")


def test_empty_mpan_leaves_it_unset() -> None:
    assert loads("[mpan]\nprimary_export = ''\n").meter.mpans.primary_export is None


ANNEX_C_V = (
    '[cbke.suite1]\nca = "0200FDE8A7F3D1084224962A4E7C54E69AC3F04DA6B8"\n'
    'certificate = "03045FDFC8D85FFB8B3993CB72DDCAA55F00B3E87D6D0000000000000001544553545345434101090006000000000000"\n'
)


def test_cbke_certificate_set_from_config() -> None:
    config = loads(ANNEX_C_V + 'private_key = "00B8A900FCADEBABBFA383B540FCE9ED438395EAA7"\n')
    assert [c.suite.number for c in config.cbke] == [1]
    assert config.cbke[0].key_matches


def test_cbke_key_that_does_not_belong_is_named() -> None:
    with pytest.raises(ConfigError, match=r"^cbke\.suite1\.private_key: does not belong"):
        loads(ANNEX_C_V + 'private_key = "01E9DDB5580CF72ECE7F215F0AE594E48DF3E7FEE8"\n')


def test_cbke_missing_field_is_named() -> None:
    with pytest.raises(ConfigError, match=r"^cbke\.suite1\.private_key: required"):
        loads(ANNEX_C_V)


def test_messages_and_basic_tables() -> None:
    from han_emu.meter.messages import ScheduledMessage
    from han_emu.server.basic import BasicInfo

    c = loads("""
[basic]
manufacturer = "Acme"
model = "E470 Twin"
date_code = "20250102"
hardware_version = 4

[[messages]]
at = "+2h"
text = "Your supplier will visit on Monday"
duration_min = 60
confirm = true

[[messages]]
at = "+1h30m"
text = "Half past"
importance = "critical"

[[messages]]
at = 2026-07-01T09:00:00Z
text = "July prices"
""")
    assert c.basic == BasicInfo(manufacturer="Acme", model="E470 Twin", date_code="20250102", hardware_version=4)
    assert c.messages == (
        ScheduledMessage("Your supplier will visit on Monday", after_s=7200.0, duration_min=60, confirm=True),
        ScheduledMessage("Half past", after_s=5400.0, importance="critical"),
        ScheduledMessage("July prices", at=1782896400.0),
    )
    assert loads("").messages == () and loads("").basic == BasicInfo()


def test_example_messages_load_when_uncommented() -> None:
    import re

    text = re.sub(r"^# (\[\[messages\]\]|at =|text =|duration_min =|confirm =|importance =)", r"\1",
                  example_text(), flags=re.M)
    (message,) = loads(text).messages
    assert (message.after_s, message.duration_min, message.confirm) == (7200.0, 60, True)
