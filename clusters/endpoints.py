"""Simple descriptors of the twin ESME's ESI endpoints (profile 0x0109, device 0x0500).

Key Establishment appears on the primary ESI only: SE allows one CBKE endpoint per
device, and both elements share the node's link key.  Messaging is served on the
primary ESI only too (PROVISIONAL: one message store per meter, as GB displays
take messages from the ESME; see docs/clusters-messaging-basic.md).  Sub-GHz is added when the
HAN runs on a sub-GHz PHY.
"""

from __future__ import annotations

import zigpy.zdo.types as zdo_t

from clusters.ids import (
    BASIC,
    ESI_DEVICE_ID,
    ESI_DEVICE_VERSION,
    IDENTIFY,
    KEY_ESTABLISHMENT,
    MESSAGING,
    METERING,
    PREPAYMENT,
    PRICE,
    SE_PROFILE_ID,
    SUB_GHZ,
    TIME,
)
from clusters.mp184 import EndpointMap, Role


def esi_simple_descriptor(
    endpoint: int, *, key_establishment: bool, sub_ghz: bool = False, messaging: bool = False
) -> zdo_t.SimpleDescriptor:
    """One ESI endpoint: servers Basic, Identify, Time, Metering, Price, Prepayment (+ Messaging,
    + KE, + Sub-GHz).

    With Key Establishment the endpoint also lists it as an output (client) cluster,
    so the ESI can initiate CBKE as well as answer it.
    """
    inputs = [BASIC, IDENTIFY, TIME, METERING, PRICE, PREPAYMENT]
    outputs: list[int] = []
    if messaging:
        inputs.append(MESSAGING)
    if key_establishment:
        inputs.append(KEY_ESTABLISHMENT)
        outputs.append(KEY_ESTABLISHMENT)
    if sub_ghz:
        inputs.append(SUB_GHZ)
    return zdo_t.SimpleDescriptor(
        endpoint=endpoint,
        profile=SE_PROFILE_ID,
        device_type=ESI_DEVICE_ID,
        device_version=ESI_DEVICE_VERSION,
        input_clusters=inputs,
        output_clusters=outputs,
    )


def esi_simple_descriptors(
    endpoints: EndpointMap | None = None, *, sub_ghz: bool = False
) -> dict[Role, zdo_t.SimpleDescriptor]:
    """Descriptors for both elements' ESIs, keyed by role."""
    endpoints = endpoints or EndpointMap()
    return {
        role: esi_simple_descriptor(
            endpoints.endpoint(role),
            key_establishment=role is Role.PRIMARY,
            sub_ghz=sub_ghz,
            messaging=role is Role.PRIMARY,
        )
        for role in Role
    }
