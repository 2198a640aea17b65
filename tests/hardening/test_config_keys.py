"""Configuration faults: in every section an unknown key or a value of the
wrong type is a ConfigError whose message starts with the key's full path."""

from __future__ import annotations

import pytest

from han_emu.han.config import ConfigError, loads

CASES = [
    # [meter]
    ("[meter]\nbogus = 1\n", "meter.bogus: unknown key"),
    ("[meter]\nserial = 5\n", "meter.serial: expected a string"),
    ("[meter]\nprofile_capacity = 'x'\n", "meter.profile_capacity: expected an integer"),
    ("[meter]\ndaily_capacity = 1.5\n", "meter.daily_capacity: expected an integer"),
    ("[meter]\nprice_trailing_digit = true\n", "meter.price_trailing_digit: expected an integer"),
    ("[meter]\nstart = 5\n", "meter.start: expected a date-time"),
    ("meter = 3\n", "meter: expected a table"),
    # [mpan]
    ("[mpan]\nbogus = '1'\n", "mpan.bogus: unknown key"),
    ("[mpan]\nprimary_import = 5\n", "mpan.primary_import: expected a string"),
    # [endpoints]
    ("[endpoints]\nbogus = 1\n", "endpoints.bogus: unknown key"),
    ("[endpoints]\nprimary = 'one'\n", "endpoints.primary: expected an integer"),
    ("[endpoints]\nexport_mpan_cluster = 1.5\n", "endpoints.export_mpan_cluster: expected an integer"),
    ("[endpoints]\nexport_mpan_attribute = '0xE307'\n", "endpoints.export_mpan_attribute: expected an integer"),
    # [tariff.*]
    ("[tariff]\ntertiary = {}\n", "tariff.tertiary: unknown key"),
    ("[tariff.primary]\nbogus = 1\n", "tariff.primary.bogus: unknown key"),
    ("[tariff.primary.import]\nbogus = 1\n", "tariff.primary.import.bogus: unknown key"),
    ("[tariff.primary.import]\nprices = 'x'\n", "tariff.primary.import.prices: expected a non-empty list"),
    ("[tariff.primary.import]\nprices = [1]\nlabel = 5\n", "tariff.primary.import.label: expected a string"),
    ("[tariff.primary.import]\nprices = [1]\nstanding_charge = 'abc'\n",
     "tariff.primary.import.standing_charge: expected a number"),
    ("[tariff.primary.import]\nprices = [1]\nday_profiles = 5\n", "tariff.primary.import.day_profiles: expected a table"),
    ("[tariff.primary.import]\nprices = [1]\nday_profiles.d = 5\n",
     "tariff.primary.import.day_profiles.d: expected a list"),
    ("[tariff.primary.import]\nprices = [1]\nday_profiles.d = [['00:00', 'one']]\n",
     r"tariff.primary.import.day_profiles.d\[0\]\[1\]: expected an integer"),
    # week and special_days without day_profiles used to be ignored silently.
    ("[tariff.primary.import]\nprices = [1]\nweek = 5\n", "tariff.primary.import.week: needs day_profiles"),
    ("[tariff.primary.import]\nprices = [1]\nspecial_days = 5\n", "tariff.primary.import.special_days: needs day_profiles"),
    ("[tariff.secondary.export]\nprices = [1]\nspecial_days = {2026-12-25 = 3}\n",
     "tariff.secondary.export.special_days: needs day_profiles"),
    ("[tariff.primary.import]\nprices = [1]\nday_profiles.d = [['00:00', 1]]\nweek = 5\n",
     "tariff.primary.import.week: expected a table"),
    ("[tariff.primary.import]\nprices = [1]\nday_profiles.d = [['00:00', 1]]\nspecial_days = {2026-12-25 = 3}\n",
     "tariff.primary.import.special_days.2026-12-25: expected a string"),
    ("[tariff.primary.import]\nprices = [1]\nday_profiles.d = [['00:00', 1]]\nspecial_days = {christmas = 'd'}\n",
     "tariff.primary.import.special_days.christmas: expected a date"),
    # [scenario]
    ("[scenario]\nbogus = 1\n", "scenario.bogus: unknown key"),
    ("[scenario]\nbattery_grid_charge = 1\n", "scenario.battery_grid_charge: expected true or false"),
    ("[scenario]\nhouse_base_w = 'a'\n", "scenario.house_base_w: expected a number"),
    # [state]
    ("[state]\nbogus = 1\n", "state.bogus: unknown key"),
    ("[state]\npath = 5\n", "state.path: expected a string"),
    # [[devices]]
    ("[[devices]]\nbogus = 1\n", r"devices\[0\].bogus: unknown key"),
    ("[[devices]]\ndemand_s = 'x'\n", r"devices\[0\].demand_s: expected a number"),
    ("[[devices]]\nreport = 'yes'\n", r"devices\[0\].report: expected true or false"),
    ("[[devices]]\nkind = 'tv'\n", r"devices\[0\].kind: one of ihd, ppmid, cad"),
    ("[[devices]]\nkind = 'ihd'\n[[devices]]\nreport_min_s = 'x'\n", r"devices\[1\].report_min_s: expected an integer"),
    ("devices = 5\n", "devices: expected an array of tables"),
    # [cbke]
    ("[cbke]\nsuite3 = {}\n", "cbke.suite3: unknown key"),
    ("[cbke.suite1]\nbogus = 1\n", "cbke.suite1.bogus: unknown key"),
    ("[cbke.suite1]\nca = 5\ncertificate = 'x'\nprivate_key = 'y'\n", "cbke.suite1.ca: expected a string"),
    # [basic]
    ("[basic]\nbogus = 1\n", "basic.bogus: unknown key"),
    ("[basic]\nmanufacturer = 5\n", "basic.manufacturer: expected a string"),
    ("[basic]\nmodel = '" + "x" * 33 + "'\n", "basic.model: 1..32 printable characters"),
    ("[basic]\ndate_code = 'June 2026'\n", "basic.date_code: starts with the date as YYYYMMDD"),
    ("[basic]\nhardware_version = 256\n", "basic.hardware_version: 0..255"),
    ("[basic]\nstack_version = 'two'\n", "basic.stack_version: expected an integer"),
    # [[messages]]
    ("messages = 5\n", "messages: expected an array of tables"),
    ("[[messages]]\ntext = 'x'\n", r"messages\[0\].at: required"),
    ("[[messages]]\nat = '+1h'\n", r"messages\[0\].text: required"),
    ("[[messages]]\nat = '+1h'\ntext = 'x'\nbogus = 1\n", r"messages\[0\].bogus: unknown key"),
    ("[[messages]]\nat = '+2 hours'\ntext = 'x'\n", r"messages\[0\].at: expected \"\+\" and a span"),
    ("[[messages]]\nat = 'soon'\ntext = 'x'\n", r"messages\[0\].at: expected a date-time"),
    ("[[messages]]\nat = '+1h'\ntext = 5\n", r"messages\[0\].text: expected a string"),
    ("[[messages]]\nat = '+1h'\ntext = '" + "£" * 34 + "'\n", r"messages\[0\].text: 1..66 bytes"),
    ("[[messages]]\nat = '+1h'\ntext = ' '\n", r"messages\[0\].text: 1..66 bytes"),
    ("[[messages]]\nat = '+1h'\ntext = 'x'\nduration_min = 0\n", r"messages\[0\].duration_min: 1..65534"),
    ("[[messages]]\nat = '+1h'\ntext = 'x'\nduration_min = '1h'\n",
     r"messages\[0\].duration_min: expected an integer"),
    ("[[messages]]\nat = '+1h'\ntext = 'x'\nconfirm = 'yes'\n", r"messages\[0\].confirm: expected true or false"),
    ("[[messages]]\nat = '+1h'\ntext = 'x'\nimportance = 'urgent'\n", r"messages\[0\].importance: one of low"),
    ("[[messages]]\nat = '+1h'\ntext = 'a'\n[[messages]]\nat = 5\ntext = 'b'\n",
     r"messages\[1\].at: expected a date-time"),
]


@pytest.mark.parametrize(("text", "message"), CASES, ids=[m.split(":")[0] + "-" + m.split(": ")[1][:12] for _, m in CASES])
def test_error_names_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message):
        loads(text)


def test_every_section_is_covered() -> None:
    sections = {m.split(":")[0].split(".")[0].split("[")[0].rstrip("\\") for _, m in CASES}
    assert sections == {"meter", "mpan", "endpoints", "tariff", "scenario", "state", "devices", "cbke", "basic",
                        "messages"}
