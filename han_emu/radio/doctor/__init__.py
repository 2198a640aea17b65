"""``han-emu doctor``: probe a coordinator stick, read only, and say what will work.

The stick is opened with the same zigpy configuration as ``han-emu run
--radio`` (:func:`han_emu.radio.backend.zigpy_config`), so what the probe reads
is what a run gets.  It never forms, leaves or changes a network and never
writes a key: it reads versions, libraries, tables and the network the stick
holds.  Whatever stops the probe (no such port, nothing answering, not a
Zigbee NCP) ends in one :class:`~han_emu.radio.backend.RadioError` line,
within ``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from han_emu.crypto.certsets import CertificateSet
from han_emu.radio.backend import DEFAULT_REQUEST_TIMEOUT, EZSP, RadioError, RadioSpec, explain, zigpy_config
from han_emu.radio.doctor.findings import NOT_USABLE, READY, READY_WITH_WARNINGS, Findings

__all__ = ["DEFAULT_TIMEOUT", "NOT_USABLE", "READY", "READY_WITH_WARNINGS", "Findings", "probe_stick"]

#: Seconds the whole probe may take: an EZSP stick resets and reads a few
#: dozen table entries in a few seconds; one that has not answered by then is
#: not going to.
DEFAULT_TIMEOUT = 30.0


async def probe_stick(
    spec: RadioSpec, *, certificates: Sequence[CertificateSet] = (), timeout: float = DEFAULT_TIMEOUT,
) -> Findings:
    """Probe the stick ``spec``; ``certificates`` are the ESI's configured CBKE
    sets (checked against the stick's EUI-64 when CBKE runs in software).
    Raises :class:`RadioError` with one line when the stick cannot be probed."""
    if not spec.hardware:
        raise RadioError("doctor probes a stick: give --radio znp:PORT or ezsp:PORT")
    if spec.kind == EZSP:
        from han_emu.radio.doctor.ezsp_probe import probe_ezsp as probe
    else:
        from han_emu.radio.doctor.znp_probe import probe_znp as probe
    try:
        config = zigpy_config(spec, request_timeout=min(DEFAULT_REQUEST_TIMEOUT, timeout))
        async with asyncio.timeout(timeout):
            return await probe(spec, config, certificates)
    except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
        raise
    except BaseException as exc:
        raise RadioError(explain(exc, spec)) from exc
