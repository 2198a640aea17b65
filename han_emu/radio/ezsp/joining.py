"""The EZSP host's permit window: the trust-centre join policy is put back
when it closes (that a joining display is not interviewed is
:mod:`han_emu.radio.quiet_joins`, shared with Z-Stack).

bellows' ``permit_with_link_key`` sets
TRUST_CENTER_POLICY to ALLOW_JOINS | JOINS_USE_INSTALL_CODE_KEY and never
sets it back (``bellows/zigbee/application.py``); only its plain ``permit``
restores the configured policy, ``time_s + 2`` seconds later, through
``pre_permit`` (``bellows/ezsp/v8/__init__.py``).  The NCP keeps the policy in
RAM until its next reset, so after an install-code window it would go on
accepting joins with install-code keys.  Here the policy the NCP held before
the window (read with ``getPolicy``) is written back at the same moment
bellows restores its own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import bellows.types as bt
import zigpy.types as t

LOGGER = logging.getLogger(__name__)

#: Seconds after the window's end at which the policy is put back (bellows' pre_permit margin).
POLICY_RESTORE_MARGIN = 2.0


class JoinPolicyRestore:
    """Mixin for bellows' ControllerApplication: put TRUST_CENTER_POLICY back
    after a permit window opened with a link key."""

    _policy_task: asyncio.Task[None] | None = None
    _policy_before: int | None = None

    async def permit_with_link_key(self, node: t.EUI64, link_key: t.KeyData, time_s: int = 60) -> None:
        ezsp = self._ezsp  # type: ignore[attr-defined]
        if self._policy_before is None:  # a window already open keeps the first one's policy
            status, decision = await ezsp.getPolicy(policyId=bt.EzspPolicyId.TRUST_CENTER_POLICY)
            if bt.sl_Status.from_ember_status(status) == bt.sl_Status.OK:
                self._policy_before = int(decision)
        await super().permit_with_link_key(node=node, link_key=link_key, time_s=time_s)  # type: ignore[misc]
        if self._policy_before is None:
            return
        if self._policy_task is not None:
            self._policy_task.cancel()
        self._policy_task = asyncio.get_running_loop().create_task(
            self._restore_policy(time_s + POLICY_RESTORE_MARGIN), name="restore-tc-policy"
        )

    async def _restore_policy(self, delay: float) -> None:
        await asyncio.sleep(delay)
        before, self._policy_before = self._policy_before, None
        if before is None:
            return
        try:
            await self._ezsp.setPolicy(policyId=bt.EzspPolicyId.TRUST_CENTER_POLICY, decisionId=before)  # type: ignore[attr-defined]
            LOGGER.info("Permit window closed: trust-centre policy 0x%04X restored", before)
        except Exception as exc:  # the stick went away: its reset clears the policy anyway
            LOGGER.warning("Could not restore the trust-centre policy: %s", exc or type(exc).__name__)

    async def shutdown(self, *, db: bool = True) -> None:
        if self._policy_task is not None:
            self._policy_task.cancel()
            self._policy_task = None
        await super().shutdown(db=db)  # type: ignore[misc]
