"""Attribute reporting: which attributes to report to whom, and when (ZCL 2.5.7, 2.5.11).

Each client that configures reporting gets its own configuration, so an IHD
and a PPMID can ask for different intervals on the same attribute.  The engine
polls the model through the attribute bindings whenever it is asked what is
due, and works purely on the times it is given: no timers, no asyncio.

Timing rules, per configuration:
* the baseline (time and value) is taken when reporting is configured;
* a report is forced once ``max_interval`` seconds have passed since the last
  one (``max_interval`` 0 disables periodic reports);
* a change triggers a report once ``min_interval`` seconds have passed since the
  last one; for analog types the change must reach ``reportable_change``
  (0 means any change), for discrete types any change counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import zigpy.types as t

from han_emu.server.attributes import AttributeBinding, AttributeReadError, MissingValue

LOGGER = logging.getLogger(__name__)

_NO_VALUE = object()


@dataclass(frozen=True)
class ReportTarget:
    """Where reports go and which attribute they are about."""

    endpoint: int
    cluster_id: int
    is_server: bool
    manufacturer: int | None
    attr_id: int
    dst: t.AddrModeAddress | None
    dst_ep: int


@dataclass
class ReportConfig:
    """A configured (send) report and its reporting state."""

    binding: AttributeBinding
    min_interval: int
    max_interval: int
    reportable_change: Any
    last_time: float
    last_value: Any
    #: A change was seen before ``min_interval`` had passed.
    pending: bool = False

    def next_time(self) -> float | None:
        times = []
        if self.max_interval:
            times.append(self.last_time + self.max_interval)
        if self.pending:
            times.append(self.last_time + self.min_interval)
        return min(times) if times else None

    def significant(self, value: Any) -> bool:
        """Whether ``value`` differs enough from the last reported one."""
        if value == self.last_value:
            return False
        if not self.binding.is_analog or value is None or self.last_value is None:
            return True
        try:
            return abs(value - self.last_value) >= (self.reportable_change or 0)
        except TypeError:
            return True


@dataclass(frozen=True)
class DueReport:
    """Report records for one destination, endpoint and cluster side."""

    endpoint: int
    cluster_id: int
    is_server: bool
    manufacturer: int | None
    dst: t.AddrModeAddress | None
    dst_ep: int
    #: Attribute reporting records (ZCL 2.5.11.1: id, type, value), encoded.
    records: list[bytes] = field(default_factory=list)


class ReportingEngine:
    """Holds reporting configurations and decides what is due."""

    def __init__(self, missing: MissingValue = MissingValue.INVALID) -> None:
        self._missing = missing
        self._send: dict[ReportTarget, ReportConfig] = {}
        #: Configure Reporting with direction "receive": the timeout the peer announced.
        self._receive: dict[ReportTarget, int] = {}
        #: :meth:`next_due`'s answer while no configuration has changed (the
        #: host asks after every frame; only configure, remove and due change it).
        self._next: float | None | object = _NO_VALUE

    def __len__(self) -> int:
        return len(self._send)

    def configure(
        self,
        target: ReportTarget,
        binding: AttributeBinding,
        min_interval: int,
        max_interval: int,
        reportable_change: Any,
        now: float,
    ) -> ReportConfig:
        config = ReportConfig(
            binding=binding,
            min_interval=min_interval,
            max_interval=max_interval,
            reportable_change=reportable_change,
            last_time=now,
            last_value=self._sample(binding),
        )
        self._send[target] = config
        self._next = _NO_VALUE
        return config

    def remove(self, target: ReportTarget) -> None:
        self._send.pop(target, None)
        self._next = _NO_VALUE

    def get(self, target: ReportTarget) -> ReportConfig | None:
        return self._send.get(target)

    def expect(self, target: ReportTarget, timeout: int) -> None:
        self._receive[target] = timeout

    def expected_timeout(self, target: ReportTarget) -> int | None:
        return self._receive.get(target)

    def next_due(self) -> float | None:
        if self._next is not _NO_VALUE:
            return self._next  # type: ignore[return-value]
        # ReportConfig.next_time() inlined: the host asks after every frame.
        best: float | None = None
        for c in self._send.values():
            if c.max_interval:
                when = c.last_time + c.max_interval
                if c.pending:
                    when = min(when, c.last_time + c.min_interval)
            elif c.pending:
                when = c.last_time + c.min_interval
            else:
                continue
            if best is None or when < best:
                best = when
        self._next = best
        return best

    def due(self, now: float) -> list[DueReport]:
        """Sample every configured attribute; return the reports due at ``now``."""
        groups: dict[tuple, DueReport] = {}
        self._next = _NO_VALUE  # every sample may move a configuration's times
        # Each display configures the same attributes: read each binding once per
        # look (the model does not move meanwhile); a failed read is tried again.
        sampled: dict[int, Any] = {}
        for target, config in self._send.items():
            binding = config.binding
            value = sampled.get(id(binding), _NO_VALUE)
            if value is _NO_VALUE:
                try:
                    value = sampled[id(binding)] = binding.sample()
                except AttributeReadError:
                    continue
            changed = value != config.last_value and config.significant(value)
            forced = bool(config.max_interval) and now >= config.last_time + config.max_interval
            if not forced and not (changed and now >= config.last_time + config.min_interval):
                config.pending = changed
                continue
            try:
                encoded = binding.value_bytes(value, self._missing)
            except AttributeReadError:
                config.pending = False
                continue
            config.last_time = now
            config.last_value = value
            config.pending = False
            key = (
                target.endpoint, target.cluster_id, target.is_server,
                target.manufacturer, target.dst, target.dst_ep,
            )
            report = groups.get(key)
            if report is None:
                report = groups[key] = DueReport(*key)
            report.records.append(target.attr_id.to_bytes(2, "little") + encoded)
        return list(groups.values())

    @staticmethod
    def _sample(binding: AttributeBinding) -> Any:
        try:
            return binding.sample()
        except AttributeReadError:
            return _NO_VALUE
