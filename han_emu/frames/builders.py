"""Field mappings for the common frames, ready for ``stack.encode``.

Each function returns the parsed-form mapping of one layer with every field
set, so callers name only what matters (addresses, counters, security).
"""

from __future__ import annotations

from typing import Any

from zigpy.zcl.foundation import FrameType

from clusters.ids import SE_PROFILE_ID
from han_emu.frames.aps import ApsFrameType, DeliveryMode
from han_emu.frames.mac import BROADCAST, AddrMode, MacFrameType
from han_emu.frames.nwk import NwkFrameType
from han_emu.frames.secheader import KeyId

ZIGBEE_PRO = 2


def _mac_fc(frame_type: int, *, dst_mode: int, src_mode: int, ack_request: bool, pan_compression: bool, frame_pending: bool = False) -> dict[str, Any]:
    return dict(
        src_addr_mode=src_mode, frame_version=0, dst_addr_mode=dst_mode, ie_present=False,
        seq_suppressed=False, reserved=0, panid_compression=pan_compression, ack_request=ack_request,
        frame_pending=frame_pending, security_enabled=False, frame_type=frame_type,
    )


def mac_data(*, seq: int, pan: int, dst: int, src: int, ack_request: bool | None = None, frame_pending: bool = False) -> dict[str, Any]:
    """Short-addressed data frame within one PAN (the Zigbee NWK carrier).
    Unicasts ask for a MAC ACK unless ``ack_request`` says otherwise."""
    ack = dst != BROADCAST if ack_request is None else ack_request
    return dict(
        frame_control=_mac_fc(MacFrameType.DATA, dst_mode=AddrMode.SHORT, src_mode=AddrMode.SHORT,
                              ack_request=ack, pan_compression=True, frame_pending=frame_pending),
        seq=seq, dst_pan=pan, dst_addr=dst, src_pan=None, src_addr=src, security_header=None,
        body={"payload": b""},
    )


def mac_ack(*, seq: int, frame_pending: bool = False) -> dict[str, Any]:
    return dict(
        frame_control=_mac_fc(MacFrameType.ACK, dst_mode=AddrMode.NONE, src_mode=AddrMode.NONE,
                              ack_request=False, pan_compression=False, frame_pending=frame_pending),
        seq=seq, dst_pan=None, dst_addr=None, src_pan=None, src_addr=None, security_header=None,
        body={"payload": b""},
    )


def aux_header(*, frame_counter: int, key_id: int, source: int | None, key_seq: int | None = None) -> dict[str, Any]:
    """Auxiliary security header; level 0 on air as Zigbee 3.0 sends it."""
    return dict(
        control=dict(reserved=0, extended_nonce=source is not None, key_id=key_id, level=0),
        frame_counter=frame_counter, source=source,
        key_seq=(key_seq or 0) if key_id == KeyId.NETWORK else None,
    )


def nwk_frame(
    *, dst: int, src: int, seq: int, radius: int = 30, frame_counter: int | None = None,
    source_ieee: int | None = None, key_seq: int = 0, command: bool = False, discover_route: int = 1,
    src_ieee: int | None = None, dst_ieee: int | None = None,
) -> dict[str, Any]:
    """NWK data (or command) frame; secured with the network key when
    ``frame_counter`` is given (``source_ieee`` is the securing device)."""
    secure = frame_counter is not None
    return dict(
        frame_control=dict(
            reserved=0, end_device_initiator=False, ext_src=src_ieee is not None, ext_dst=dst_ieee is not None,
            source_route=False, security=secure, multicast=False, discover_route=discover_route,
            protocol_version=ZIGBEE_PRO, frame_type=NwkFrameType.COMMAND if command else NwkFrameType.DATA,
        ),
        dst=dst, src=src, radius=radius, seq=seq, dst_ieee=dst_ieee, src_ieee=src_ieee,
        multicast_control=None, source_route=None,
        aux=aux_header(frame_counter=frame_counter, key_id=KeyId.NETWORK, source=source_ieee, key_seq=key_seq) if secure else None,
        payload=b"",
    )


def aps_data(
    *, cluster: int, dst_endpoint: int, src_endpoint: int, counter: int, profile: int = SE_PROFILE_ID,
    ack_request: bool = False, frame_counter: int | None = None, key_id: int = KeyId.DATA,
    source_ieee: int | None = None, delivery_mode: int = DeliveryMode.UNICAST, group: int | None = None,
) -> dict[str, Any]:
    """APS data frame; APS-secured (Smart Energy needs it) when ``frame_counter`` is given."""
    secure = frame_counter is not None
    grouped = delivery_mode == DeliveryMode.GROUP
    return dict(
        frame_control=dict(
            extended_header=False, ack_request=ack_request, security=secure, ack_format=False,
            delivery_mode=delivery_mode, frame_type=ApsFrameType.DATA,
        ),
        dst_endpoint=None if grouped else dst_endpoint, group=group if grouped else None,
        cluster=cluster, profile=profile, src_endpoint=src_endpoint, counter=counter, extended=None,
        aux=aux_header(frame_counter=frame_counter, key_id=key_id, source=source_ieee) if secure else None,
        payload=b"",
    )


def aps_ack(*, cluster: int, dst_endpoint: int, src_endpoint: int, counter: int, profile: int = SE_PROFILE_ID) -> dict[str, Any]:
    return dict(
        frame_control=dict(extended_header=False, ack_request=False, security=False, ack_format=False,
                           delivery_mode=DeliveryMode.UNICAST, frame_type=ApsFrameType.ACK),
        dst_endpoint=dst_endpoint, group=None, cluster=cluster, profile=profile, src_endpoint=src_endpoint,
        counter=counter, extended=None, aux=None, payload=b"",
    )


def zcl_header(
    *, tsn: int, command_id: int, cluster_specific: bool = False, server_to_client: bool = False,
    disable_default_response: bool = False, manufacturer: int | None = None,
) -> dict[str, Any]:
    return dict(
        frame_control=dict(
            reserved=0, disable_default_response=disable_default_response, server_to_client=server_to_client,
            manufacturer_specific=manufacturer is not None,
            frame_type=FrameType.CLUSTER_COMMAND if cluster_specific else FrameType.GLOBAL_COMMAND,
        ),
        manufacturer=manufacturer, tsn=tsn, command_id=command_id, payload=b"",
    )
