"""Key Establishment cluster (0x0800): the CBKE message set.

Only the wire formats live here; the elliptic-curve work belongs to the crypto
package.  Certificates and ephemeral keys are carried as raw bytes whose length
depends on the suite (see :data:`SUITE_SIZES`); :func:`check_sizes` validates a
parsed message against the suite it claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import zigpy.types as t
from zigpy.zcl.clusters import smartenergy as zse
from zigpy.zcl.foundation import BaseAttributeDefs, BaseCommandDefs, ZCLAttributeDef, ZCLCommandDef


class KeyEstablishmentSuite(t.bitmap16):
    """Suites a device supports (attribute) or uses (in a command)."""

    CBKE_ECMQV_163K1 = 0x0001  # suite 1
    CBKE_ECMQV_283K1 = 0x0002  # suite 2


class TerminateStatus(t.enum8):
    Unknown_Issuer = 0x01
    Bad_Key_Confirm = 0x02
    Bad_Message = 0x03
    No_Resources = 0x04
    Unsupported_Suite = 0x05
    Invalid_Certificate = 0x06


@dataclass(frozen=True)
class SuiteSizes:
    certificate: int
    ephemeral_key: int  # compressed point
    mac: int = 16


SUITE_SIZES: Final[dict[KeyEstablishmentSuite, SuiteSizes]] = {
    KeyEstablishmentSuite.CBKE_ECMQV_163K1: SuiteSizes(certificate=48, ephemeral_key=22),
    KeyEstablishmentSuite.CBKE_ECMQV_283K1: SuiteSizes(certificate=74, ephemeral_key=37),
}


class Mac(bytes):
    """A 16-byte message authentication code (MACU / MACV)."""

    LENGTH: Final = 16

    def serialize(self) -> bytes:
        if len(self) != self.LENGTH:
            raise ValueError(f"MAC must be {self.LENGTH} bytes, not {len(self)}")
        return bytes(self)

    @classmethod
    def deserialize(cls, data: bytes) -> tuple[Mac, bytes]:
        if len(data) < cls.LENGTH:
            raise ValueError(f"MAC needs {cls.LENGTH} bytes, got {len(data)}")
        return cls(data[: cls.LENGTH]), data[cls.LENGTH :]


_INITIATE = {
    "key_establishment_suite": KeyEstablishmentSuite,
    "ephemeral_data_generate_time": t.uint8_t,  # seconds
    "confirm_key_generate_time": t.uint8_t,  # seconds
    "identity": t.Bytes,  # the sender's implicit certificate, 48 or 74 bytes
}
_TERMINATE = {
    "status_code": TerminateStatus,
    "wait_time": t.uint8_t,  # seconds before the peer may try again
    "key_establishment_suite": KeyEstablishmentSuite,
}


class KeyEstablishment(zse.KeyEstablishment):
    """CBKE: Initiate / EphemeralData / ConfirmKeyData request-response pairs and
    TerminateKeyEstablishment in both directions.

    The server-to-client terminate is named ``server_terminate_key_establishment``
    so command names stay unique across the two directions.
    """

    _skip_registry = True

    class AttributeDefs(BaseAttributeDefs):
        key_establishment_suite: Final = ZCLAttributeDef(
            id=0x0000, type=KeyEstablishmentSuite, access="r", mandatory=True
        )

    class ServerCommandDefs(BaseCommandDefs):
        """Client (initiator) -> server (responder)."""

        initiate_key_establishment_request: Final = ZCLCommandDef(id=0x00, schema=dict(_INITIATE))
        ephemeral_data_request: Final = ZCLCommandDef(id=0x01, schema={"ephemeral_data": t.Bytes})
        confirm_key_data_request: Final = ZCLCommandDef(
            id=0x02, schema={"secure_message_authentication_code": Mac}
        )
        terminate_key_establishment: Final = ZCLCommandDef(id=0x03, schema=dict(_TERMINATE))

    class ClientCommandDefs(BaseCommandDefs):
        """Server (responder) -> client (initiator)."""

        initiate_key_establishment_response: Final = ZCLCommandDef(
            id=0x00, schema=dict(_INITIATE)
        )
        ephemeral_data_response: Final = ZCLCommandDef(
            id=0x01, schema={"ephemeral_data": t.Bytes}
        )
        confirm_key_data_response: Final = ZCLCommandDef(
            id=0x02, schema={"secure_message_authentication_code": Mac}
        )
        server_terminate_key_establishment: Final = ZCLCommandDef(
            id=0x03, schema=dict(_TERMINATE)
        )


def check_sizes(suite: KeyEstablishmentSuite, *, identity: bytes | None = None,
                ephemeral_data: bytes | None = None) -> None:
    """Raise ``ValueError`` if a certificate or ephemeral key has the wrong length for
    ``suite`` (a responder answers that with TerminateKeyEstablishment Bad_Message)."""
    try:
        sizes = SUITE_SIZES[KeyEstablishmentSuite(suite)]
    except KeyError:
        raise ValueError(f"unsupported key establishment suite {suite!r}") from None
    if identity is not None and len(identity) != sizes.certificate:
        raise ValueError(f"certificate is {len(identity)} bytes, suite needs {sizes.certificate}")
    if ephemeral_data is not None and len(ephemeral_data) != sizes.ephemeral_key:
        raise ValueError(
            f"ephemeral key is {len(ephemeral_data)} bytes, suite needs {sizes.ephemeral_key}"
        )
