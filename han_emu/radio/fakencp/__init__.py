"""Emulated network co-processors that real radio libraries can connect to without hardware.

``znp`` serves a fake Z-Stack 3.x coordinator over TCP, speaking the Texas
Instruments MT serial protocol, so an unmodified zigpy-znp client can drive it.
``ezsp`` serves a fake Silicon Labs EmberZNet NCP over TCP, speaking ASH and
EZSP v13, so an unmodified bellows client can drive it.
"""
