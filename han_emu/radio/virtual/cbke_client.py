"""The joining device's side of CBKE on the virtual HAN.

A Smart Energy device joins with the link key its install code gives, finds
the trust centre's Key Establishment endpoint (Match_Desc for cluster 0x0800),
learns the trust centre's EUI-64 (IEEE_addr_req: its certificate must name
it) and runs an :class:`~han_emu.crypto.cbke.Initiator` through
``SimNode.request()``.  On success the node's APS link key becomes KeyData,
as the trust centre's does, and Smart Energy traffic between them runs under
it.  Key Establishment frames travel without APS encryption.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import zigpy.exceptions
import zigpy.types as t
import zigpy.zcl.foundation as foundation
import zigpy.zdo.types as zdo_t

from clusters.ids import KEY_ESTABLISHMENT, SE_PROFILE_ID
from han_emu.crypto.certsets import CertificateSet, eui64_to_cert
from han_emu.meter.clock import Clock
from han_emu.crypto.cbke import Command, Initiator, Message, State, Suite, TerminateStatus
from han_emu.radio.virtual.medium import COORDINATOR_NWK
from han_emu.radio.virtual.node import SimNode, zcl_frame
from han_emu.radio.vtime import clock_for_loop

STEP_SLACK = 5.0
"""Seconds to wait for a response beyond the generate time the responder advertised."""


class CbkeError(Exception):
    """Key establishment did not produce a link key.

    ``status`` is the Terminate status (sent by ``sent_by``: "initiator" or
    "responder"), when a Terminate ended it; ``wait_time`` the responder's
    requested back-off in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        wait_time: int | None = None,
        sent_by: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = None if status is None else _status(status)
        self.wait_time = wait_time
        self.sent_by = sent_by


def _status(value: int) -> TerminateStatus | int:
    try:
        return TerminateStatus(value)
    except ValueError:
        return value


@dataclass(frozen=True)
class CbkeResult:
    """A completed exchange: the new link key and whom it is shared with."""

    key_data: bytes
    suite: Suite
    esi_nwk: t.NWK
    esi_endpoint: int
    esi_ieee: t.EUI64


async def find_key_establishment(node: SimNode, dst_nwk: int = COORDINATOR_NWK) -> int:
    """The endpoint of ``dst_nwk`` serving Key Establishment (Match_Desc)."""
    found = await node.find_esi(KEY_ESTABLISHMENT, dst_nwk=dst_nwk)
    if not found:
        raise CbkeError(f"0x{dst_nwk:04X} has no Key Establishment server endpoint")
    return int(found[0][1])


async def ieee_address(node: SimNode, nwk: int) -> t.EUI64:
    """The EUI-64 of ``nwk`` (IEEE_addr_req, single device)."""
    status, ieee, *_rest = await node.zdo_request(nwk, zdo_t.ZDOCmd.IEEE_addr_req, t.NWK(nwk), 0, 0)
    if status != zdo_t.Status.SUCCESS:
        raise CbkeError(f"IEEE_addr_req to 0x{nwk:04X} failed: {status!r}")
    return t.EUI64(ieee)


async def establish_link_key(
    node: SimNode,
    certs: CertificateSet,
    *,
    esi_nwk: int = COORDINATOR_NWK,
    esi_endpoint: int | None = None,
    esi_ieee: t.EUI64 | None = None,
    random: Callable[[int], bytes] = secrets.token_bytes,
    clock: Clock | None = None,
    install: bool = True,
) -> CbkeResult:
    """Run CBKE as initiator from ``node`` (already joined) with the trust
    centre at ``esi_nwk``; with ``install`` the node then uses KeyData as its
    trust-centre link key.  Raises :class:`CbkeError` on any failure (the
    node's key is then unchanged)."""
    if esi_endpoint is None:
        esi_endpoint = await find_key_establishment(node, esi_nwk)
    if esi_ieee is None:
        esi_ieee = await ieee_address(node, esi_nwk)
    initiator = Initiator(
        certs.suite,
        certs.certificate,
        certs.private_key,
        certs.ca_public_key,
        eui64_to_cert(esi_ieee),
        {certs.issuer},
        random=random,
        now=clock if clock is not None else clock_for_loop(),
    )
    message: Message | None = initiator.start()
    timeout: float | None = None  # the node's default for the first request
    while message is not None:
        try:
            reply = await node.request(
                esi_nwk,
                esi_endpoint,
                KEY_ESTABLISHMENT,
                zcl_frame(0, message.command, message.payload, disable_default_response=True),
                encrypted=False,
                profile=SE_PROFILE_ID,
                timeout=timeout,
            )
        except TimeoutError:
            raise CbkeError(f"no answer to {message.command.name}") from None
        header, payload = foundation.ZCLHeader.deserialize(reply.data.serialize())
        if header.frame_control.is_general:
            raise CbkeError(
                f"{message.command.name} answered with general command 0x{header.command_id:02X}"
                f" {payload.hex()}"
            )
        answer = initiator.receive(header.command_id, payload)
        received = initiator.received_terminate
        if header.command_id == Command.TERMINATE_KEY_ESTABLISHMENT:
            raise CbkeError(
                "the responder terminated key establishment"
                + (f": {_status(received.status)!r}" if received else ""),
                status=received.status if received else None,
                wait_time=received.wait_time if received else None,
                sent_by="responder",
            )
        if answer is not None and answer.is_terminate:
            await _send_terminate(node, esi_nwk, esi_endpoint, answer)
            assert initiator.sent_terminate is not None
            raise CbkeError(
                f"key establishment refused: {initiator.sent_terminate.name}",
                status=initiator.sent_terminate,
                sent_by="initiator",
            )
        if answer is None and initiator.state is not State.SUCCEEDED:
            raise CbkeError(f"key establishment ended in state {initiator.state.value}")
        message = answer
        if initiator.partner_generate_times is not None:
            ephemeral, confirm = initiator.partner_generate_times
            step = ephemeral if initiator.state is State.WAIT_EPHEMERAL_DATA else confirm
            timeout = step + STEP_SLACK
    key = initiator.key_data
    assert key is not None
    if install:
        node.link_key = t.KeyData(key)
    return CbkeResult(key, initiator.suite, t.NWK(esi_nwk), esi_endpoint, t.EUI64(esi_ieee))


async def join_smart_energy(
    node: SimNode,
    certs: CertificateSet,
    *,
    install_code: bytes | None = None,
    **kwargs: object,
) -> CbkeResult:
    """The whole Smart Energy join: install-code link key, association and
    device announce, then CBKE (``kwargs`` go to :func:`establish_link_key`)."""
    if install_code is not None:
        node.use_install_code(install_code)
    await node.join()
    return await establish_link_key(node, certs, **kwargs)  # type: ignore[arg-type]


async def _send_terminate(node: SimNode, nwk: int, endpoint: int, message: Message) -> None:
    """Tell the responder we give up (no answer expected)."""
    src_ep = next(
        (ep for ep, sd in sorted(node.endpoints.items())
         if sd.profile == SE_PROFILE_ID and KEY_ESTABLISHMENT in sd.output_clusters),
        min(node.endpoints),
    )
    tsn = node._next_tsn()
    try:
        await node.send(
            t.ZigbeePacket(
                src_ep=src_ep,
                dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=nwk),
                dst_ep=endpoint,
                tsn=tsn,
                profile_id=SE_PROFILE_ID,
                cluster_id=KEY_ESTABLISHMENT,
                data=t.SerializableBytes(
                    zcl_frame(tsn, message.command, message.payload, disable_default_response=True)
                ),
                tx_options=t.TransmitOptions.ACK,
            )
        )
    except (zigpy.exceptions.DeliveryError, TimeoutError):
        pass  # the exchange has failed either way
