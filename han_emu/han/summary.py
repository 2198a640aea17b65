"""The text a simulated run ends with: when it got to, what went on the air, and
the last message the meter sent the displays.

Made from :meth:`VirtualHan.summary` (the same dict ``--summary-json`` writes),
with times as ISO dates and every cluster named beside its id; ZCL clusters and
ZDO commands are listed apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clusters.ids import SE_PROFILE_ID, ZDO_PROFILE_ID
from clusters.names import cluster_label
from han_emu.meter.gbtime import iso_gb, iso_utc


def summary_text(summary: Mapping[str, Any], wall_s: float) -> str:
    """Lines for a person: the virtual time reached (UTC and GB local), the frames
    each transmitter sent by ZCL cluster and by ZDO command, APS ACKs and failures."""
    end = summary["meter_time"]
    lines = [f"simulated until {iso_utc(end)} ({iso_gb(end)} GB local) in {wall_s:.1f} s wall time"]
    lines += _frames("ZCL frames on the air (APS data frames, by transmitter and cluster):",
                     summary.get("frames", {}), SE_PROFILE_ID)
    lines += _frames("ZDO frames on the air (by transmitter and command):",
                     summary.get("zdo_frames", {}), ZDO_PROFILE_ID)
    acks = ", ".join(f"{device} {n}" for device, n in summary["aps_acks"].items()) or "none"
    lines.append(f"APS acknowledgements: {acks}; undelivered frames: {summary['undelivered']}")
    for element, p in summary.get("prepayment", {}).items():
        lines.append(f"{element} element, {p['mode']} mode: credit {p['credit']:.2f} GBP, emergency credit "
                     f"{p['emergency_credit']:.2f} GBP{' (selected)' if p['emergency_selected'] else ''}, "
                     f"debt {p['debt']:.2f} GBP")
    lines.append(_message(summary.get("message")))
    return "\n".join(lines) + "\n"


def _message(message: Mapping[str, Any] | None) -> str:
    """The meter's last message and whether a display confirmed it."""
    if not message:
        return "last message: none"
    line = f"last message: #{message['id']} {message['text']!r} from {iso_utc(message['start'])}"
    if message.get("cancelled"):
        line += ", cancelled"
    if message.get("confirmed_at") is not None:
        line += f", confirmed by {message.get('confirmed_by')} at {iso_utc(message['confirmed_at'])}"
    elif message.get("confirm"):
        line += ", not confirmed yet"
    return line


def _frames(title: str, by_device: Mapping[str, Mapping[str, int]], profile: int) -> list[str]:
    if not by_device:
        return []
    lines = [title]
    for device, clusters in by_device.items():
        cells = ", ".join(f"{_label(c, profile)} {n}" for c, n in clusters.items())
        lines.append(f"  {device:<8} {sum(clusters.values()):7d}  ({cells})")
    return lines


def _label(cluster: str, profile: int) -> str:
    label = cluster_label(int(cluster, 16), profile)
    return label.removeprefix("ZDO ")  # the title says these are ZDO
