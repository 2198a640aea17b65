"""What ``han-emu doctor`` found on a stick, the verdict, and the report in text or JSON.

The probes (:mod:`.ezsp_probe`, :mod:`.znp_probe`) fill a :class:`Findings`
with plain values, each section a dict that goes into the JSON as it is, and
add a :class:`Problem` with a one-line fix for everything that stands in the
way of a session with a GB display.  The verdict follows from the problems
alone, so the text, the JSON and the exit status never disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

import zigpy.types as zt

from han_emu.crypto.certsets import CertificateSet, eui64_from_cert

#: Displays a GB HAN serves at most: an IHD, a PPMID and a CAD.  A table that
#: holds fewer devices than this cannot serve a full household.
GB_DISPLAYS = 3

ERROR = "error"
WARNING = "warning"

READY = "ready"
READY_WITH_WARNINGS = "ready with warnings"
NOT_USABLE = "not usable"


@dataclass(frozen=True)
class Problem:
    """One thing that will go wrong, and the one line that fixes it."""

    severity: str
    problem: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "problem": self.problem, "fix": self.fix}


@dataclass
class Findings:
    """Everything the probe learnt; every section is JSON-ready."""

    radio: str
    stack: dict[str, Any] = field(default_factory=dict)
    firmware: dict[str, Any] = field(default_factory=dict)
    cbke: dict[str, Any] = field(default_factory=dict)
    key_table: dict[str, Any] = field(default_factory=dict)
    address_cache: dict[str, Any] = field(default_factory=dict)
    flow_control: dict[str, Any] = field(default_factory=dict)
    #: None: the stick holds no network.
    network: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)

    def error(self, problem: str, fix: str) -> None:
        self.problems.append(Problem(ERROR, problem, fix))

    def warning(self, problem: str, fix: str) -> None:
        self.problems.append(Problem(WARNING, problem, fix))

    @property
    def verdict(self) -> str:
        severities = {p.severity for p in self.problems}
        if ERROR in severities:
            return NOT_USABLE
        return READY_WITH_WARNINGS if WARNING in severities else READY

    def as_dict(self) -> dict[str, Any]:
        return {
            "radio": self.radio,
            "verdict": self.verdict,
            "stack": self.stack,
            "firmware": self.firmware,
            "cbke": self.cbke,
            "key_table": self.key_table,
            "address_cache": self.address_cache,
            "flow_control": self.flow_control,
            "network": self.network,
            "problems": [p.as_dict() for p in self.problems],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def to_text(self) -> str:
        """The report for people: one line per section, then the verdict and each fix."""
        rows = [
            ("stack", self.stack.get("summary", "unknown")),
            ("firmware", self.firmware.get("summary", "unknown")),
            ("CBKE", self.cbke.get("summary", "unknown")),
            ("key table", self.key_table.get("summary", "unknown")),
            ("address cache", self.address_cache.get("summary", "unknown")),
            ("flow control", self.flow_control.get("summary", "unknown")),
        ]
        if self.network is None:
            rows.append(("network", "none: the stick holds no network"))
        else:
            rows.append(("network", self.network["summary"]))
            devices = self.network["devices"]
            rows.append(("devices", f"{len(devices)}" + (":" if devices else "")))
        lines = [f"han-emu doctor: {self.radio} (read only: nothing was formed or changed)"]
        lines += [f"  {name:<14} {text}" for name, text in rows]
        if self.network is not None:
            lines += [f"    {device_line(d)}" for d in self.network["devices"]]
        lines.append(f"verdict: {self.verdict}")
        for p in self.problems:
            lines.append(f"  {p.severity}: {p.problem}")
            lines.append(f"    fix: {p.fix}")
        return "\n".join(lines)


def device_line(device: dict[str, Any]) -> str:
    """One device of the network, as the text report lists it."""
    where = f"at {device['nwk']}" if device.get("nwk") else "address unknown"
    notes = [n for n, on in (("child", device.get("child")), ("link key", device.get("link_key"))) if on]
    return f"{device['ieee']} {where}" + (f" ({', '.join(notes)})" if notes else "")


def table_summary(size: int, used: int, what: str) -> str:
    """``12 entries, 11 free (what)``."""
    free = max(size - used, 0)
    return f"{size} entr{'y' if size == 1 else 'ies'}, {free} free ({what})"


def hex16(value: int) -> str:
    return f"0x{value:04X}"


def certificate_text(issuer: bytes) -> str:
    """A certificate's issuer as people know it: the 8 bytes as text when they
    are printable (the test CAs' names), else in hex."""
    if all(0x20 <= b < 0x7F for b in issuer):
        return issuer.decode("ascii")
    return issuer.hex().upper()


def network_section(info: Any, coordinator: Any = None) -> dict[str, Any]:
    """The network a stick holds, from the radio library's zigpy ``NetworkInfo``
    (read with ``load_devices=True``): its identity and every device the stick
    knows, from its address, child and key tables.  Keys themselves stay out."""
    devices: dict[Any, dict[str, Any]] = {}

    def device(ieee: Any) -> dict[str, Any]:
        return devices.setdefault(ieee, {"ieee": str(ieee), "nwk": None, "child": False, "link_key": False})

    for ieee, nwk in (info.nwk_addresses or {}).items():
        device(ieee)["nwk"] = hex16(int(nwk))
    for ieee in info.children or ():
        device(ieee)["child"] = True
    for key in info.key_table or ():
        device(key.partner_ieee)["link_key"] = True
    devices.pop(coordinator, None)
    listed = sorted(devices.values(), key=lambda d: d["ieee"])
    pan_id, epid = hex16(int(info.pan_id)), str(info.extended_pan_id)
    seq = int(info.network_key.seq) if info.network_key is not None else None
    return {
        "channel": int(info.channel),
        "pan_id": pan_id,
        "extended_pan_id": epid,
        "network_key_sequence": seq,
        "device_count": len(listed),
        "devices": listed,
        "summary": f"channel {int(info.channel)}, PAN {pan_id}, extended PAN {epid}, network key sequence {seq}",
    }


def flow_control_section(spec: Any, *, library_default: str, firmware: str | None,
                         findings: Findings, stick: tuple[str, str] | None = None) -> dict[str, Any]:
    """What the serial link uses (``--flow-control``, else the default for
    the recognised ``stick``, given as (name, its firmware's flow control),
    else the radio library's), what the firmware says it needs when it says
    so, and a warning when the two differ: with no word from the firmware, a
    ``--flow-control`` other than the recognised stick's is warned of too."""
    configured = spec.flow_control
    name, built = stick if stick is not None else (None, None)
    if spec.networked:
        return {"configured": configured, "effective": None, "firmware": firmware, "matches": None,
                "stick": name, "summary": f"not applicable: {spec.port} is a TCP link"}
    effective = configured or built or library_default
    section: dict[str, Any] = {"configured": configured, "effective": effective, "firmware": firmware,
                               "stick": name}
    if configured:
        how = "--flow-control"
    elif name is not None:
        how = f"the default for a {name}"
    else:
        how = "the radio library's default"
    if firmware is None:
        section["matches"] = None
        if built is None:
            section["summary"] = (f"{effective} ({how}); the firmware does not say what it needs: "
                                  "see the stick's firmware notes")
            return section
        section["summary"] = f"{effective} ({how}); a {name} image is built with {built}"
        if effective != built:
            findings.warning(f"the link uses {effective} flow control but a {name} image is built with "
                             f"{built}: frames will be lost under load",
                             f"use --flow-control {built}, or leave it out")
        return section
    section["matches"] = firmware == effective
    section["summary"] = f"{effective} ({how}); the firmware uses {firmware}"
    if firmware != effective:
        findings.warning(f"the link uses {effective} flow control but the firmware uses {firmware}: "
                         "frames will be lost under load",
                         f"add --flow-control {firmware}")
    return section


def software_certificates(findings: Findings, certificates: Sequence[CertificateSet], eui64: Any) -> None:
    """Software CBKE runs only with a ``[cbke]`` certificate set issued for the stick."""
    if not certificates:
        findings.warning("no [cbke] certificate set is configured: the ESI serves without CBKE, and a GB "
                         "display gets no Smart Energy data",
                         f"add a [cbke.suite1] set issued for EUI-64 {eui64} by the CA your display trusts "
                         "(check it with `han-emu cert check`) and pass --config")
        return
    for identity in certificates:
        subject = zt.EUI64(eui64_from_cert(identity.parsed.subject))
        if subject != zt.EUI64(eui64):
            findings.error(f"the [cbke.suite{identity.suite.number}] certificate names {subject}, "
                           f"but the stick is {eui64}: displays will refuse key establishment",
                           f"use a certificate set issued for EUI-64 {eui64}")


def no_network(findings: Findings, radio: str) -> None:
    """A stick without a network is usable: the first run forms one."""
    findings.network = None
    findings.warning("the stick holds no network yet: a display must join the one han-emu forms",
                     f"`han-emu run --radio {radio}` forms one (--channel, --pan-id ... choose it)")
