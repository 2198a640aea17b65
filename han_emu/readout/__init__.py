"""What an IHD / PPMID shows: a readout model fed by ZCL events from any source
(the simulated IHD, a hardware coordinator, a capture replay)."""

from han_emu.readout.ingest import ZclIngest
from han_emu.readout.model import ElementReadout, MessageInfo, Readout

__all__ = ["ElementReadout", "MessageInfo", "Readout", "ZclIngest"]
