"""han-emu: a Zigbee Smart Energy HAN emulator for GB smart metering."""

__version__ = "0.1.0"
