"""The Textual dashboard (IHD, PPMID and HAN screens) over any HAN source."""

from han_emu.tui.app import DashboardApp, run_dashboard
from han_emu.tui.controls import Controls, RecordingHook
from han_emu.tui.hardware_source import HardwareSource, ServerTap
from han_emu.tui.launch import run_virtual_dashboard
from han_emu.tui.recording import DashboardRecorder
from han_emu.tui.replay_source import ReplaySource
from han_emu.tui.han_thread import HanRunner
from han_emu.tui.source import DashboardSource, Progress, Snapshot, VirtualHanSource
from han_emu.tui.views import AmbientThresholds

__all__ = [
    "AmbientThresholds",
    "Controls",
    "DashboardApp",
    "DashboardRecorder",
    "DashboardSource",
    "HanRunner",
    "HardwareSource",
    "Progress",
    "RecordingHook",
    "ReplaySource",
    "ServerTap",
    "Snapshot",
    "VirtualHanSource",
    "run_dashboard",
    "run_virtual_dashboard",
]
