"""The twin-element ESME: registers, TOU switching, prices, profile and daily
logs, MPANs and a scenario generator.  Pure Python: no I/O, no asyncio; time is
passed in (POSIX seconds, UTC)."""
