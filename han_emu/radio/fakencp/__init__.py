"""Emulated radio coprocessors (NCPs) on TCP, so the real host libraries can be
exercised without hardware: ``ezsp`` speaks ASH + EZSP to bellows."""
