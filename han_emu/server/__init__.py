"""ESI endpoint logic bound to the meter model: ZigbeePacket in, ZigbeePacket out."""

from han_emu.server.attributes import AttributeBinding, AttributeTable, MissingValue
from han_emu.server.command import CommandHandler, ZclError, ZclReply, ZclRequest
from han_emu.server.endpoint import ClusterSide, Endpoint
from han_emu.server.engine import ZclServer
from han_emu.server.guards import SMART_ENERGY_CLUSTERS

__all__ = [
    "SMART_ENERGY_CLUSTERS",
    "AttributeBinding",
    "AttributeTable",
    "ClusterSide",
    "CommandHandler",
    "Endpoint",
    "MissingValue",
    "ZclError",
    "ZclReply",
    "ZclRequest",
    "ZclServer",
]
