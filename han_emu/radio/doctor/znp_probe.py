"""Probing a TI Z-Stack (ZNP) stick for ``han-emu doctor``, read only.

zigpy-znp's ``ZNP`` is connected as its application connects it (a ping, the
NV alignment and the Z-Stack version detection of ``zigpy_znp/api.py``
``detect_zstack_version``: 1.2 without the APP_CNF subsystem, 3.30 when the
extended NV items answer, else 3.0), and then only read from:

- ``SYS_VERSION`` for the build (its CodeRevision is the build date);
- the two MT commands that can install a CBKE link key are asked about through
  read-only neighbours built under the same switches (Z-Stack's ``MT_ZDO.c``):
  ``ZDO_GET_LINK_KEY`` comes with ``ZDO_SET_LINK_KEY`` (MT_SYS_KEY_MANAGEMENT),
  ``ZDO_EXT_COUNT_ALL_GROUPS`` with ``ZDO_SEC_ADD_LINK_KEY`` (MT_ZDO_EXTENSIONS);
  firmware without a switch answers the RPC error "command not recognised";
- the key tables in NV: the APS link-key table (``APS_LINK_KEY_TABLE``,
  where CBKE keys go) and, on 3.30, the address manager (``ADDRMGR``) as the
  host reads them before it installs a key or opens the network
  (``ZnpCoordinator.key_table_use`` and ``address_table_size``, on this
  connection: nothing is started and no callback is bound); the
  trust-centre link-key table (``TCLK_TABLE``; an entry without an address
  is free) and 3.0's address manager as ``zigpy_znp/znp/security.py`` reads
  them;
- the network through ``load_network_info(load_devices=True)``, from NV alone:
  nothing is started, formed or written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import zigpy.exceptions
import zigpy_znp.commands as c
import zigpy_znp.types as t
from zigpy_znp.exceptions import CommandNotRecognized
from zigpy_znp.types.nvids import ExNvIds, OsalNvIds

from han_emu.crypto.certsets import CertificateSet
from han_emu.radio.backend import RadioSpec
from han_emu.radio.doctor.findings import (
    GB_DISPLAYS, Findings, flow_control_section, network_section, no_network, software_certificates, table_summary,
)

#: zigpy-znp opens the serial port without flow control unless told.
ZNP_FLOW_CONTROL = "none"

_EMPTY = (t.EUI64.convert("00:00:00:00:00:00:00:00"), t.EUI64.convert("FF:FF:FF:FF:FF:FF:FF:FF"))


async def probe_znp(spec: RadioSpec, config: dict[str, Any], certificates: Sequence[CertificateSet]) -> Findings:
    """Everything ``doctor`` reports about the Z-Stack stick ``spec``."""
    from zigpy_znp.api import ZNP

    from han_emu.radio.znp.app import ZnpCoordinator

    findings = Findings(radio=spec.describe())
    app = ZnpCoordinator(config)
    znp = ZNP(app.config)
    try:
        await znp.connect()
        # The app's readings of the tables, on this read-only connection.
        app._znp = znp
        ieee = await znp.nvram.osal_read(OsalNvIds.EXTADDR, item_type=t.EUI64)
        await _stack(findings, znp, ieee)
        await _cbke(findings, znp, ieee, certificates)
        await _key_tables(findings, app, znp)
        await _address_manager(findings, app, znp)
        findings.flow_control = flow_control_section(spec, library_default=ZNP_FLOW_CONTROL, firmware=None,
                                                     findings=findings)
        await _network(findings, znp, ieee, f"{spec.kind}:{spec.port}")
    finally:
        app._znp = None
        await znp.disconnect()
    return findings


async def _stack(findings: Findings, znp: Any, ieee: t.EUI64) -> None:
    version = await znp.request(c.SYS.Version.Req())
    zstack = float(znp.version)
    # zigpy-znp's version numbers name the NV layouts: 3.30 is the SimpleLink SDK's Z-Stack 3.x.0.
    name, number = {1.2: ("Z-Stack Home 1.2", "1.2"), 3.0: ("Z-Stack 3.0.x", "3.0")}.get(
        zstack, ("Z-Stack 3.x.0", "3.30"))
    build = int(version.CodeRevision or 0)
    findings.stack = {"name": "Z-Stack", "protocol": "MT", "zstack_version": number,
                      "summary": f"{name}, MT protocol (transport revision {int(version.TransportRev)})"}
    release = f"{int(version.MajorRel)}.{int(version.MinorRel)}.{int(version.MaintRel)}"
    findings.firmware = {"build": build, "release": release, "product_id": int(version.ProductId),
                         "transport_revision": int(version.TransportRev), "ieee": str(ieee),
                         "summary": f"Z-Stack build {build} (MT release {release}, product {int(version.ProductId)})"
                                    f", EUI-64 {ieee}"}
    if zstack < 3.0:
        findings.error("Z-Stack Home 1.2 has no install-code joins and no trust-centre key table",
                       "flash a Z-Stack 3.x coordinator image")


async def _recognised(znp: Any, request: Any) -> bool:
    try:
        await znp.request(request)
    except CommandNotRecognized:
        return False
    return True


async def _cbke(findings: Findings, znp: Any, ieee: t.EUI64, certificates: Sequence[CertificateSet]) -> None:
    """Z-Stack's own CBKE is not reachable over MT: CBKE runs on the host, and
    works only if the host can install the agreed link key."""
    set_link_key = await _recognised(znp, c.ZDO.GetLinkKey.Req(IEEE=ieee))
    sec_add_link_key = await _recognised(znp, c.ZDO.ExtCountAllGroups.Req())
    commands = {"ZDO_SET_LINK_KEY": set_link_key, "ZDO_SEC_ADD_LINK_KEY": sec_add_link_key}
    available = [name for name, ok in commands.items() if ok]
    findings.cbke = {"mode": "software" if available else "impossible", "ncp_suites": {},
                     "software_key_install": {"commands": commands, "available": bool(available)}}
    if available:
        findings.cbke["summary"] = f"in software: the host installs the key with {' or '.join(available)}"
        software_certificates(findings, certificates, ieee)
        return
    findings.cbke["summary"] = "impossible: no MT command installs a link key"
    findings.error("this Z-Stack build has neither ZDO_SET_LINK_KEY nor ZDO_SEC_ADD_LINK_KEY (built without "
                   "MT_SYS_KEY_MANAGEMENT and MT_ZDO_EXTENSIONS): a CBKE key cannot reach the stick",
                   "flash a coordinator image built with MT_SYS_KEY_MANAGEMENT, or use lab displays with "
                   "--lab-accept-unencrypted")


async def _table(znp: Any, item_id: int, start: int, end: int, item_type: Any) -> list[Any]:
    """An NV table: extended items on 3.30, a range of OSAL items on 3.0."""
    if znp.version >= 3.30:
        return [e async for e in znp.nvram.read_table(item_id=item_id, item_type=item_type)]
    return [e async for e in znp.nvram.osal_read_table(start_nvid=start, end_nvid=end, item_type=item_type)]


async def _key_tables(findings: Findings, app: Any, znp: Any) -> None:
    if znp.version < 3.0:
        findings.key_table = {"size": 0, "used": 0, "free": 0, "summary": "none (Z-Stack 1.2)"}
        return
    tclk = await _table(znp, ExNvIds.TCLK_TABLE, OsalNvIds.LEGACY_TCLK_TABLE_START,
                        OsalNvIds.LEGACY_TCLK_TABLE_END, t.TCLKDevEntry)
    tc_used = sum(1 for e in tclk if e.extAddr not in _EMPTY)
    size, used = await app.key_table_use()
    trust_centre = {"size": len(tclk), "used": tc_used, "free": len(tclk) - tc_used}
    findings.key_table = {
        "size": size, "used": used, "free": max(size - used, 0), "table": "APS link-key table",
        "trust_centre": trust_centre,
        "summary": table_summary(size, used, "APS link-key table, where CBKE keys go") + "; "
                   + table_summary(len(tclk), tc_used, "trust-centre table, install-code keys"),
    }
    if used >= size:
        findings.error(f"the APS link-key table is full (all {size} entries hold keys): a new display's CBKE "
                       "key cannot be stored",
                       "remove a device the stick no longer needs, or flash an image with a bigger "
                       "ZDSECMGR_ENTRY_MAX")
    elif size < GB_DISPLAYS:
        findings.warning(f"the APS link-key table holds {size} keys, fewer than the {GB_DISPLAYS} displays "
                         "of a GB HAN", "flash an image with ZDSECMGR_ENTRY_MAX of 3 or more")
    if tclk and tc_used >= len(tclk):
        findings.error(f"the trust-centre link-key table is full ({len(tclk)} entries): a display cannot join "
                       "with its install code", "remove a device the stick no longer needs")


async def _address_manager(findings: Findings, app: Any, znp: Any) -> None:
    if znp.version >= 3.30:
        size, free = await app.address_table_size()
    else:
        entries = list(await znp.nvram.osal_read(OsalNvIds.ADDRMGR, item_type=t.AddressManagerTable))
        size, free = len(entries), sum(1 for e in entries if e.extAddr in _EMPTY)
    used = size - free
    findings.address_cache = {"address_manager": size, "used": used, "free": free,
                              "summary": table_summary(size, used, "address manager, NWK_MAX_ADDRESSES")}
    if used >= size:
        findings.error(f"the address manager is full ({size} entries): a new display cannot be kept",
                       "remove a device the stick no longer needs")


async def _network(findings: Findings, znp: Any, ieee: t.EUI64, radio: str) -> None:
    try:
        await znp.load_network_info(load_devices=True)
    except zigpy.exceptions.NetworkNotFormed:
        no_network(findings, radio)
        return
    findings.network = network_section(znp.network_info, coordinator=ieee)
