"""Probing an EmberZNet (EZSP) stick for ``han-emu doctor``, read only.

The stick is opened as ``han-emu run`` opens it (bellows' ``connect``: a reset,
the protocol version handshake and the same ``ezsp_config``), so the table
sizes read here are the ones a run gets.  Then only reads: the board tokens
and version (``get_board_info``), the CBKE libraries and certificates
(``getLibraryStatus``, ``getCertificate``, ``getCertificate283k1``: UG100's
CBKE frames, as :mod:`han_emu.radio.ezsp.ncp_cbke` uses them), the key table
entry by entry as the host reads it before installing a key
(``EzspCoordinator.key_table_use`` from EZSP v13, ``getKeyTableEntry``
before), the configuration values, and the network through bellows'
``load_network_info(load_devices=True)``, which starts the network the NCP
holds (``networkInit``) but never forms or leaves one.  The flow control is
judged against the per-stick defaults a run uses (:mod:`han_emu.radio.ezsp.sticks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bellows.types as bt
import zigpy.exceptions
import zigpy.types as zt
from bellows.ezsp.xncp import FirmwareFeatures

from han_emu.crypto.certificates import CertificateError, parse_certificate
from han_emu.crypto.certsets import CertificateSet, eui64_from_cert
from han_emu.radio.backend import RadioSpec
from han_emu.radio.doctor.findings import (
    GB_DISPLAYS, Findings, certificate_text, flow_control_section, network_section, no_network,
    software_certificates, table_summary,
)
from han_emu.radio.ezsp import sticks
from han_emu.radio.ezsp.ncp_cbke import LIBRARY_ERROR, LIBRARY_PRESENT_MASK, SUITE_COMMANDS

#: bellows opens the serial port with XON/XOFF when no flow control is given
#: (``bellows/uart.py``: ``xonxoff=flow_control in (None, "software")``).
BELLOWS_FLOW_CONTROL = "software"


async def probe_ezsp(spec: RadioSpec, config: dict[str, Any], certificates: Sequence[CertificateSet]) -> Findings:
    """Everything ``doctor`` reports about the EZSP stick ``spec``."""
    from han_emu.radio.ezsp.app import EzspCoordinator

    findings = Findings(radio=spec.describe())
    app = EzspCoordinator(config)
    try:
        await app.connect()
        ezsp = app._ezsp
        (eui64,) = await ezsp.getEui64()
        await _stack(findings, ezsp, eui64)
        await _cbke(findings, ezsp, eui64, certificates)
        await _key_table(findings, app, ezsp)
        await _address_cache(findings, ezsp)
        await _flow_control(findings, spec, ezsp)
        await _network(findings, app, eui64, f"{spec.kind}:{spec.port}")
    finally:
        await app.disconnect()
    return findings


async def _stack(findings: Findings, ezsp: Any, eui64: Any) -> None:
    version = int(ezsp.ezsp_version)
    manufacturer, board, firmware = await ezsp.get_board_info()
    findings.stack = {"name": "EmberZNet", "protocol": "EZSP", "protocol_version": version,
                      "summary": f"EmberZNet NCP, EZSP protocol v{version}"}
    named = " / ".join(x for x in (manufacturer, board) if x)
    findings.firmware = {"version": firmware, "manufacturer": manufacturer, "board": board, "ieee": str(eui64),
                         "summary": f"EmberZNet {firmware or '(version not reported)'}"
                                    + (f" ({named})" if named else "") + f", EUI-64 {eui64}"}


async def _cbke(findings: Findings, ezsp: Any, eui64: Any, certificates: Sequence[CertificateSet]) -> None:
    """CBKE on the NCP (both libraries of a suite present and a certificate for
    this NCP), else in software (the host installs the agreed key)."""
    suites: dict[str, Any] = {}
    on_ncp = []
    for suite, spec in SUITE_COMMANDS.items():
        entry: dict[str, Any] = {"libraries": False, "certificate": None}
        suites[str(suite.number)] = entry
        if not await _libraries_present(ezsp, spec["libraries"]):
            continue
        entry["libraries"] = True
        try:
            status, cert = await getattr(ezsp, spec["certificate"])()
        except Exception:  # noqa: BLE001 - an image without the command: no certificate
            continue
        raw = bytes(cert)
        if bt.sl_Status.from_ember_status(status) != bt.sl_Status.OK or raw in (bytes(len(raw)), b"\xff" * len(raw)):
            continue
        try:
            parsed = parse_certificate(suite.number, raw)
        except CertificateError as exc:
            findings.error(f"the NCP's suite-{suite.number} certificate does not parse ({exc})",
                           "re-provision the NCP's CBKE certificate")
            continue
        subject = zt.EUI64(eui64_from_cert(parsed.subject))
        entry["certificate"] = {"issuer": certificate_text(parsed.issuer), "subject": str(subject)}
        if subject != zt.EUI64(eui64):
            findings.error(f"the NCP's suite-{suite.number} certificate names {subject}, "
                           f"but the NCP is {eui64}: displays will refuse key establishment",
                           "install a certificate issued for this NCP's EUI-64")
        on_ncp.append(suite.number)
    install = "importLinkKey" if ezsp.ezsp_version >= 13 else "addOrUpdateKeyTableEntry"
    available = install in ezsp._protocol.COMMANDS
    findings.cbke = {"mode": "ncp" if on_ncp else ("software" if available else "impossible"),
                     "ncp_suites": suites, "software_key_install": {"command": install, "available": available}}
    if on_ncp:
        issuers = sorted({suites[str(n)]["certificate"]["issuer"] for n in on_ncp})
        findings.cbke["summary"] = (f"on the NCP: suite{'s' if len(on_ncp) > 1 else ''} "
                                    f"{', '.join(map(str, on_ncp))}, certificates from {', '.join(issuers)}")
        return
    libraries = [n for n, e in suites.items() if e["libraries"]]
    note = (f" (the NCP has the suite-{', '.join(libraries)} libraries but no certificate)" if libraries else "")
    if not available:
        findings.cbke["summary"] = f"impossible: EZSP v{ezsp.ezsp_version} has no {install}"
        findings.error(f"the NCP offers no way to install a CBKE link key ({install})",
                       "flash an EmberZNet NCP image of EZSP v8 or later")
        return
    findings.cbke["summary"] = f"in software: the host installs the key with {install}{note}"
    software_certificates(findings, certificates, eui64)


async def _libraries_present(ezsp: Any, libraries: Sequence[int]) -> bool:
    for library in libraries:
        try:
            (status,) = await ezsp.getLibraryStatus(libraryId=library)
        except Exception:  # noqa: BLE001 - older firmware answers invalidCommand
            return False
        if int(status) == LIBRARY_ERROR or not int(status) & LIBRARY_PRESENT_MASK:
            return False
    return True


async def _key_table(findings: Findings, app: Any, ezsp: Any) -> None:
    """CONFIG_KEY_TABLE_SIZE and the entries in use, read as the host reads
    them before it installs a key (``EzspCoordinator.key_table_use``, from
    EZSP v13); before v13 an entry ``getKeyTableEntry`` answers is in use."""
    if ezsp.ezsp_version >= 13:
        size, used = await app.key_table_use()
    else:
        size, used = await app.key_table_size(), 0
        for index in range(size):
            status, _entry = await ezsp.getKeyTableEntry(index=index)
            used += bt.sl_Status.from_ember_status(status) == bt.sl_Status.OK
    findings.key_table = {"size": size, "used": used, "free": size - used, "table": "CONFIG_KEY_TABLE_SIZE",
                          "summary": table_summary(size, used, "the NCP's link-key table, CONFIG_KEY_TABLE_SIZE")}
    if used >= size:
        findings.error(f"the NCP's link-key table is full (all {size} entries hold keys): a new display's "
                       "CBKE key cannot be stored",
                       "remove a device the stick no longer needs, or use an NCP image with a bigger key table")


async def _address_cache(findings: Findings, ezsp: Any) -> None:
    """The trust centre resolves an APS-encrypted sender's EUI-64 through its
    address cache (CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE; bellows asks for 2)
    or the address table the host fills (CONFIG_ADDRESS_TABLE_SIZE)."""
    values = {}
    for name, config_id in (("trust_centre_cache", bt.EzspConfigId.CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE),
                            ("address_table", bt.EzspConfigId.CONFIG_ADDRESS_TABLE_SIZE)):
        status, value = await ezsp.getConfigurationValue(configId=config_id)
        values[name] = int(value) if bt.sl_Status.from_ember_status(status) == bt.sl_Status.OK else None
    cache = values["trust_centre_cache"]
    findings.address_cache = {**values, "summary": f"trust-centre address cache {cache}, address table "
                                                   f"{values['address_table']} (CONFIG_TRUST_CENTER_ADDRESS_"
                                                   "CACHE_SIZE, CONFIG_ADDRESS_TABLE_SIZE)"}
    if cache is not None and cache < GB_DISPLAYS:
        findings.warning(f"the trust-centre address cache holds {cache} devices, fewer than the {GB_DISPLAYS} "
                         "displays of a GB HAN: encrypted frames from the others may be dropped",
                         f"keep to {cache} displays on this stick until its host raises "
                         f"CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE to {GB_DISPLAYS} or more")


async def _flow_control(findings: Findings, spec: RadioSpec, ezsp: Any) -> None:
    firmware = None
    if FirmwareFeatures.FLOW_CONTROL_TYPE in ezsp._xncp_features:
        try:
            firmware = (await ezsp.xncp_get_flow_control_type()).name.lower()
        except Exception:  # noqa: BLE001 - the firmware claimed a feature it lacks
            firmware = None
    flow_control_advice(findings, spec, firmware)


def flow_control_advice(findings: Findings, spec: RadioSpec, firmware: str | None) -> None:
    """The flow-control section: the stick recognised by its USB product name
    or path gives the default a run uses (:mod:`han_emu.radio.ezsp.sticks`,
    with each vendor's firmware build as its source), else bellows' XON/XOFF."""
    known = None
    if not spec.networked and spec.port is not None:
        stick = sticks.recognise(spec.port, sticks.usb_product(spec.port))
        if stick is not None:
            known = (stick.name, stick.flow_control)
    findings.flow_control = flow_control_section(spec, library_default=BELLOWS_FLOW_CONTROL, firmware=firmware,
                                                 findings=findings, stick=known)


async def _network(findings: Findings, app: Any, eui64: Any, radio: str) -> None:
    try:
        await app.load_network_info(load_devices=True)
    except zigpy.exceptions.NetworkNotFormed:
        no_network(findings, radio)
        return
    findings.network = network_section(app.state.network_info, coordinator=eui64)
