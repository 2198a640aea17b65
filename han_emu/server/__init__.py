"""ESI endpoint logic bound to the meter model: ZigbeePacket in, ZigbeePacket out."""
