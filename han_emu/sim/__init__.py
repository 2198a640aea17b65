"""Simulated HAN clients (IHD, PPMID, CAD) that talk to the ESI over the
virtual air exactly as real devices would, and keep a readout of what they saw."""
