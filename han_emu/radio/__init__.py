"""Radio backends: each yields a zigpy ControllerApplication carrying a PacketServer."""
