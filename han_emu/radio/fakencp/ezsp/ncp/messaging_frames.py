"""UG100's messaging frames: unicasts, broadcasts, multicasts and replies the
host sends, with their ``messageSentHandler``.

Every transmission is handed to the send listeners (the emulator's radio
side) as a :class:`SentMessage`, and spends the NWK (and, when APS-encrypted,
the APS) frame counter kept in tokens.  A ZDO request the host unicasts to
the coordinator itself never reaches the air: the stack answers it, and the
answer comes back as an incoming message.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import bellows.types as bt

from clusters.ids import ZDO_PROFILE_ID
from han_emu.radio.fakencp.ezsp import local_zdo
from han_emu.radio.fakencp.ezsp.ncp.binding_frames import BindingFrames
from han_emu.radio.fakencp.ezsp.ncp.interpreter import EmberStatus

_LOGGER = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SentMessage:
    """One sendUnicast / sendBroadcast / sendMulticast the host made.

    ``tsn`` is the APS sequence field as the host filled it (bellows puts the
    ZCL/ZDO transaction number there); ``aps_sequence`` is the APS counter the
    NCP actually used on air.
    """

    kind: str  # "unicast", "broadcast" or "multicast"
    destination: int  # NWK address, broadcast address or group id
    profile_id: int
    cluster_id: int
    src_ep: int
    dst_ep: int
    options: int
    group_id: int
    tsn: int
    aps_sequence: int
    message_tag: int
    radius: int
    data: bytes

    @property
    def encrypted(self) -> bool:
        """Whether the host asked for APS encryption."""
        return bool(self.options & bt.EmberApsOption.APS_OPTION_ENCRYPTION)


class MessagingFrames(BindingFrames):
    """Sending, and the stack's own answers to ZDO requests about itself
    (the binding requests from the binding table)."""

    # -- the two message callbacks, whose fields a later protocol version renames --
    def incoming_fields(
        self, kind: bt.EmberIncomingMessageType, aps: bt.EmberApsFrame, lqi: int, rssi: int,
        sender: int, data: bytes,
    ) -> dict[str, Any]:
        """incomingMessageHandler's fields."""
        return {
            "type": kind, "apsFrame": aps, "lastHopLqi": lqi, "lastHopRssi": rssi, "sender": sender,
            "bindingIndex": 0xFF, "addressIndex": 0xFF, "messageContents": data,
        }

    def incoming_message(
        self, kind: bt.EmberIncomingMessageType, aps: bt.EmberApsFrame, lqi: int, rssi: int,
        sender: int, data: bytes,
    ) -> None:
        """Tell the host a frame was received."""
        self.callback("incomingMessageHandler", **self.incoming_fields(kind, aps, lqi, rssi, sender, data))

    def sent_fields(
        self, kind: bt.EmberOutgoingMessageType, destination: int, aps: bt.EmberApsFrame, tag: int,
        status: bt.EmberStatus, data: bytes,
    ) -> dict[str, Any]:
        """messageSentHandler's fields."""
        return {
            "type": kind, "indexOrDestination": destination, "apsFrame": aps, "messageTag": tag,
            "status": status, "messageContents": data,
        }

    def record_outgoing(
        self, kind: str, destination: int, aps: bt.EmberApsFrame, tag: int, data: bytes, radius: int
    ) -> int:
        """Account for one transmission and hand it to the send listeners;
        returns the APS counter used."""
        seq = self.ram.aps_seq
        self.ram.aps_seq = (seq + 1) % 256
        self.tokens.nwk_frame_counter = (self.tokens.nwk_frame_counter + 1) & 0xFFFFFFFF
        if aps.options & bt.EmberApsOption.APS_OPTION_ENCRYPTION:
            self.tokens.aps_frame_counter = (self.tokens.aps_frame_counter + 1) & 0xFFFFFFFF
        message = SentMessage(
            kind=kind,
            destination=int(destination),
            profile_id=int(aps.profileId),
            cluster_id=int(aps.clusterId),
            src_ep=int(aps.sourceEndpoint),
            dst_ep=int(aps.destinationEndpoint),
            options=int(aps.options),
            group_id=int(aps.groupId),
            tsn=int(aps.sequence),
            aps_sequence=seq,
            message_tag=int(tag),
            radius=int(radius),
            data=bytes(data),
        )
        for listener in list(self.send_listeners):
            try:
                listener(message)
            except Exception:  # noqa: BLE001 - a listener must not break the NCP
                _LOGGER.exception("send listener failed")
        return seq

    def cmd_sendUnicast(
        self, type: bt.EmberOutgoingMessageType, indexOrDestination: int, apsFrame: bt.EmberApsFrame,
        messageTag: int, messageContents: bytes,
    ) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.NETWORK_DOWN, "sequence": 0}
        seq = self.record_outgoing("unicast", indexOrDestination, apsFrame, messageTag, messageContents, 0)
        status = EmberStatus.DELIVERY_FAILED if indexOrDestination in self.unreachable else EmberStatus.SUCCESS
        fields = self.sent_fields(
            type, indexOrDestination, apsFrame.replace(sequence=seq), messageTag, status, messageContents)
        if status != EmberStatus.SUCCESS or not self._sent_when_done(seq, fields):
            self._later("messageSentHandler", **fields)
        if indexOrDestination == self.tokens.node_id and apsFrame.profileId == ZDO_PROFILE_ID:
            self._zdo_loopback(apsFrame, messageContents)
        return {"status": EmberStatus.SUCCESS, "sequence": seq}

    def _sent_when_done(self, seq: int, fields: dict[str, Any]) -> bool:
        """messageSentHandler once the radio has finished with the unicast
        ("the stack has completed sending a message": after the ACK, UG100),
        unless the NCP was reset meanwhile; False when no radio reports it."""
        hook = self.sent_when_done
        if hook is None:
            return False
        ram = self.ram

        def done(delivered: bool) -> None:
            if self.ram is ram:
                status = EmberStatus.SUCCESS if delivered else EmberStatus.DELIVERY_FAILED
                self.callback("messageSentHandler", **{**fields, "status": status})

        return hook(seq, done)

    def cmd_sendBroadcast(
        self, destination: int, apsFrame: bt.EmberApsFrame, radius: int, messageTag: int, messageContents: bytes,
    ) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.NETWORK_DOWN, "sequence": 0}
        if destination < 0xFFF8:
            return {"status": EmberStatus.BAD_ARGUMENT, "sequence": 0}
        seq = self.record_outgoing("broadcast", destination, apsFrame, messageTag, messageContents, radius)
        self._later("messageSentHandler", **self.sent_fields(
            bt.EmberOutgoingMessageType.OUTGOING_BROADCAST, destination, apsFrame.replace(sequence=seq),
            messageTag, EmberStatus.SUCCESS, messageContents))
        return {"status": EmberStatus.SUCCESS, "sequence": seq}

    def cmd_sendMulticast(
        self, apsFrame: bt.EmberApsFrame, hops: int, nonmemberRadius: int, messageTag: int, messageContents: bytes,
    ) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.NETWORK_DOWN, "sequence": 0}
        seq = self.record_outgoing("multicast", apsFrame.groupId, apsFrame, messageTag, messageContents, hops)
        self._later("messageSentHandler", **self.sent_fields(
            bt.EmberOutgoingMessageType.OUTGOING_MULTICAST, apsFrame.groupId, apsFrame.replace(sequence=seq),
            messageTag, EmberStatus.SUCCESS, messageContents))
        return {"status": EmberStatus.SUCCESS, "sequence": seq}

    def cmd_sendReply(self, sender: int, apsFrame: bt.EmberApsFrame, messageContents: bytes) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.NETWORK_DOWN}
        self.record_outgoing("unicast", sender, apsFrame, 0, messageContents, 0)
        return {"status": EmberStatus.SUCCESS}

    # -- ZDO the stack answers itself ----------------------------------------------------
    def zdo_answer(self, cluster_id: int, data: bytes, *, broadcast: bool = False) -> tuple[int, bytes] | None:
        """The stack's own answer to a ZDO request about this node, if it gives one."""
        return local_zdo.answer(
            cluster_id, data, nwk=self.tokens.node_id, ieee=self.tokens.eui64, endpoints=self.ram.endpoints,
            flags=self.zdo_flags, broadcast=broadcast, bindings=self.zdo_bindings(), on_bind=self.remote_binding,
        )

    @property
    def zdo_flags(self) -> int:
        """CONFIG_APPLICATION_ZDO_FLAGS: which ZDO requests the host also gets."""
        return self.config_value(bt.EzspConfigId.CONFIG_APPLICATION_ZDO_FLAGS)

    def _zdo_loopback(self, aps: bt.EmberApsFrame, data: bytes) -> None:
        """The host asked the coordinator about itself: the stack answers locally
        and the response reaches the host as an incoming message."""
        answer = self.zdo_answer(int(aps.clusterId), bytes(data))
        if answer is None:
            return
        cluster, payload = answer
        aps_frame = bt.EmberApsFrame(
            profileId=ZDO_PROFILE_ID, clusterId=cluster, sourceEndpoint=0,
            destinationEndpoint=0, options=bt.EmberApsOption.APS_OPTION_NONE, groupId=0,
            sequence=self.ram.aps_seq,
        )
        self._later("incomingMessageHandler", **self.incoming_fields(
            bt.EmberIncomingMessageType.INCOMING_UNICAST, aps_frame, 255, 0, self.tokens.node_id, payload))
