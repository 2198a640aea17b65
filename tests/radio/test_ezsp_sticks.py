"""Serial defaults by EmberZNet stick type, and the tables the host asks for."""

from __future__ import annotations

import bellows.config as bconf
import zigpy.config as zc

from han_emu.radio.backend import parse_radio, zigpy_config
from han_emu.radio.ezsp import sticks
from han_emu.radio.ezsp.app import radio_config


def test_sticks_are_recognised_by_their_usb_product_name_or_path() -> None:
    assert sticks.recognise("/dev/ttyUSB0", "Nabu Casa SkyConnect v1.0").flow_control == "hardware"
    assert sticks.recognise("/dev/ttyUSB0", "Nabu Casa Home Assistant Connect ZBT-1").flow_control == "hardware"
    zbt2 = sticks.recognise("/dev/ttyACM0", "Nabu Casa ZBT-2")
    assert (zbt2.flow_control, zbt2.baudrate) == ("software", 460800)
    assert sticks.recognise("/dev/ttyAMA1").name == "Home Assistant Yellow"
    assert sticks.recognise("/dev/ttyUSB0", "SMLIGHT SLZB-07").flow_control == "hardware"
    dongle = "/dev/serial/by-id/usb-ITEAD_SONOFF_Zigbee_3.0_USB_Dongle_Plus_V2_20220712-if00"
    assert sticks.recognise(dongle).flow_control == "software"
    assert sticks.recognise("/dev/ttyUSB0", "CP2102N USB to UART Bridge Controller") is None


def test_the_users_choice_wins_over_the_table() -> None:
    assert sticks.serial_defaults("/dev/ttyAMA1", None, None) == {"flow_control": "hardware", "baudrate": 115200}
    assert sticks.serial_defaults("/dev/ttyAMA1", "software", 57600) == {"flow_control": "software", "baudrate": 57600}
    assert sticks.serial_defaults("/dev/ttyS7", None, None) == {}


def test_the_bellows_configuration_carries_the_defaults_and_the_cache_size() -> None:
    config = zigpy_config(parse_radio("ezsp:/dev/ttyAMA1"))
    assert config[zc.CONF_DEVICE] == {zc.CONF_DEVICE_PATH: "/dev/ttyAMA1", zc.CONF_DEVICE_BAUDRATE: 115200,
                                      zc.CONF_DEVICE_FLOW_CONTROL: "hardware"}
    assert config[bconf.CONF_EZSP_CONFIG]["CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE"] == sticks.TRUST_CENTRE_ADDRESS_CACHE
    user = zigpy_config(parse_radio("ezsp:/dev/ttyAMA1", flow_control="software"))
    assert user[zc.CONF_DEVICE][zc.CONF_DEVICE_FLOW_CONTROL] == "software"
    networked = radio_config(parse_radio("ezsp:socket://127.0.0.1:1"), request_timeout=5)
    assert zc.CONF_DEVICE not in networked and networked[bconf.CONF_USE_THREAD] is False


def test_a_flow_control_other_than_the_firmwares_is_one_line() -> None:
    assert sticks.flow_control_mismatch("hardware", "hardware") is None
    assert sticks.flow_control_mismatch(None, "software") is None  # bellows' None is XON/XOFF
    assert sticks.flow_control_mismatch(None, None) is None
    line = sticks.flow_control_mismatch(None, "hardware")
    assert "--flow-control hardware" in line and "\n" not in line
