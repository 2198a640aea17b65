"""Exact airtime of frames and of whole acknowledged exchanges.

Duty cycle is counted in transmitter-on time, so the only question is how many
bytes go on air: the PHY's synchronisation header and PHY header, then the PSDU
(MAC header + payload + 2-byte FCS).  Each PHY has a whole number of
microseconds per byte, so every figure here is an integer number of
microseconds; the ``*_us`` functions return that integer and the others return
it in seconds as the nearest float.

Listen-before-talk, backoffs and turnarounds cost time but not airtime: they are
given below as documented constants and never added to the airtime figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from han_emu.air.phy import GB_868, O_QPSK_2400, US_PER_S, Phy, phy_for_page

ACK_PSDU = 5
"""An 802.15.4 MAC ACK: frame control (2) + sequence number (1) + FCS (2)."""

APS_ACK_PSDU = 45
"""A typical NWK-secured APS ACK frame: MAC header 9 + NWK header 8 + NWK auxiliary
header with extended source 14 + APS ACK header 8 (frame control, endpoints,
cluster, profile, counter) + NWK MIC 4 + FCS 2.  Pass the exact size from the
frame codec when it is known (e.g. an APS-secured ACK is longer)."""

# --- GB-868 listen-before-talk and timing rules (UK), not counted as airtime ---
LBT_CCA_THRESHOLD_DBM = -87
"""A channel is busy above this received level."""
LBT_MIN_FREE_S = GB_868.lbt_min_free_us / US_PER_S
"""The channel must be seen free for at least this long before transmitting."""
LBT_BACKOFF_SLOT_S = 0.0005
"""One random-backoff slot."""
LBT_MAX_BACKOFF_SLOTS = 10
"""Random backoff is 0 to this many slots."""
LBT_RETRIES = 3
"""Channel-access attempts before giving up."""
LBT_TIMEOUT_S = 0.060
"""Longest time LBT may wait for a free channel."""
MIN_TX_OFF_S = 0.100
"""Minimum transmitter-off time between transmissions."""
MAX_PACKET_S = 1.0
"""Longest single transmission allowed."""
MAX_DIALOGUE_S = 4.0
"""Longest dialogue (exchange of frames) allowed."""

TURNAROUND_2400_S = O_QPSK_2400.turnaround_us / US_PER_S
"""802.15.4 aTurnaroundTime at 2.4 GHz: 12 symbols of 16 us (RX-to-TX before an ACK)."""


def _phy(phy: Phy | int) -> Phy:
    return phy if isinstance(phy, Phy) else phy_for_page(phy)


def _check_psdu(psdu: int, phy: Phy) -> None:
    if not isinstance(psdu, int) or isinstance(psdu, bool):
        raise TypeError(f"PSDU length must be an int, not {type(psdu).__name__}")
    if psdu < 1:
        raise ValueError(f"PSDU length {psdu} is not positive")
    if psdu > phy.max_psdu:
        raise ValueError(
            f"PSDU of {psdu} bytes exceeds the {phy.max_psdu}-byte limit of {phy.name}: "
            "the payload must be APS-fragmented"
        )


def frame_airtime_us(psdu: int, phy: Phy | int = GB_868) -> int:
    """Microseconds on air for one frame with a ``psdu``-byte PSDU.

    ``phy`` is a :class:`Phy` or a channel page number.
    """
    p = _phy(phy)
    _check_psdu(psdu, p)
    return (p.overhead_bytes + psdu) * p.byte_us


def frame_airtime(psdu: int, phy: Phy | int = GB_868) -> float:
    """Seconds on air for one frame with a ``psdu``-byte PSDU."""
    return frame_airtime_us(psdu, phy) / US_PER_S


def ack_airtime_us(phy: Phy | int = GB_868) -> int:
    """Microseconds on air for a MAC ACK."""
    return frame_airtime_us(ACK_PSDU, phy)


def ack_airtime(phy: Phy | int = GB_868) -> float:
    """Seconds on air for a MAC ACK."""
    return ack_airtime_us(phy) / US_PER_S


def frames_airtime(psdus: Sequence[int], phy: Phy | int = GB_868) -> float:
    """Seconds on air for a run of bare frames (no acknowledgements)."""
    return sum(frame_airtime_us(n, phy) for n in psdus) / US_PER_S


@dataclass(frozen=True, slots=True)
class ExchangeAirtime:
    """Airtime of one exchange, split by who transmits it.

    The duty-cycle ledger charges each device for its own transmissions, so the
    originator's frames and the receiver's acknowledgements are kept apart.
    """

    sender_us: int
    """Data frames (with retries) and the MAC ACKs for the receiver's APS ACKs."""
    receiver_us: int
    """MAC ACKs for the data frames and the APS ACK frames."""
    sender_frames: int
    receiver_frames: int

    @property
    def total_us(self) -> int:
        return self.sender_us + self.receiver_us

    @property
    def sender(self) -> float:
        return self.sender_us / US_PER_S

    @property
    def receiver(self) -> float:
        return self.receiver_us / US_PER_S

    @property
    def total(self) -> float:
        return self.total_us / US_PER_S

    @property
    def frames(self) -> int:
        return self.sender_frames + self.receiver_frames


def exchange_airtime(
    psdu: int | Sequence[int],
    phy: Phy | int = GB_868,
    *,
    mac_ack: bool = True,
    retries: int | Sequence[int] = 0,
    aps_ack: bool = False,
    aps_ack_psdu: int = APS_ACK_PSDU,
    aps_window: int = 1,
) -> ExchangeAirtime:
    """Airtime of sending ``psdu`` (one size, or a list of APS fragment sizes).

    - ``mac_ack``: the frame is unicast and each delivered frame draws a MAC ACK.
    - ``retries``: extra MAC transmissions of a frame whose ACK never came (the
      frame was lost, so the receiver sent nothing for it); one number for every
      frame, or one per fragment.
    - ``aps_ack``: the receiver answers with an APS ACK frame, itself MAC-acked;
      for fragments one APS ACK per window of ``aps_window`` blocks.
    """
    p = _phy(phy)
    sizes = [psdu] if isinstance(psdu, int) else list(psdu)
    if not sizes:
        raise ValueError("an exchange needs at least one frame")
    if isinstance(retries, int):
        per_frame = [retries] * len(sizes)
    else:
        per_frame = list(retries)
        if len(per_frame) != len(sizes):
            raise ValueError(
                f"{len(per_frame)} retry counts given for {len(sizes)} fragments"
            )
    if any(r < 0 for r in per_frame):
        raise ValueError("retries cannot be negative")
    if not mac_ack and (any(per_frame) or aps_ack):
        raise ValueError("retries and APS ACKs need a MAC-acknowledged (unicast) frame")
    if aps_window < 1:
        raise ValueError("the APS window holds at least one block")

    ack_us = ack_airtime_us(p) if mac_ack else 0
    sender_us = sum(frame_airtime_us(n, p) * (1 + r) for n, r in zip(sizes, per_frame))
    sender_frames = len(sizes) + sum(per_frame)
    receiver_us = ack_us * len(sizes)
    receiver_frames = len(sizes) if mac_ack else 0
    if aps_ack:
        aps_acks = -(-len(sizes) // aps_window)
        receiver_us += aps_acks * frame_airtime_us(aps_ack_psdu, p)
        receiver_frames += aps_acks
        sender_us += aps_acks * ack_us
        sender_frames += aps_acks
    return ExchangeAirtime(sender_us, receiver_us, sender_frames, receiver_frames)
