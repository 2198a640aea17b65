"""Z-Stack coordinator images the emulator can pretend to run.

A real stick's behaviour towards a Smart Energy host depends on compile-time
table sizes and on what its ``SYS.Version`` reply says; ``han-emu fake-ncp
--firmware NAME`` picks one of :data:`FIRMWARE_IMAGES`.  Both images use the
Z-Stack 3.30 NV system (items under system/item/sub ids), which zigpy-znp
detects as version 3.30 (``ZNP.detect_zstack_version``: ``SYS.NVRead`` of
``TCLK_TABLE`` answers); zigpy-znp tells them apart only by the version reply.

Where the sizes come from:

- the APS (application) link-key table: ``ZDSECMGR_DEVICE_MAX`` = 3 entries
  (``ZDSECMGR_ENTRY_MAX``), ``zd_sec_mgr.c`` of the TI SimpleLink SDK
  (``source/ti/zstack/stack/zdo/zd_sec_mgr.c``); no known coordinator image
  overrides it, and zigpy-znp's own CC26X2R1 test fixture holds a 20-byte
  ``APS_LINK_KEY_TABLE`` (2-byte count + 3 aligned 6-byte entries);
- the trust-centre link-key table: ``ZDSECMGR_TC_DEVICE_MAX``, 40 on a
  coordinator build by default (``zd_sec_mgr.h`` of the SDK), 200 in the
  Z-Stack_3.x.0 coordinator images' ``preinclude.h``;
- install-code keys: ``ZDSECMGR_TC_DEVICE_IC_MAX``, 40 on a coordinator build
  (``zd_sec_mgr.h``);
- the address manager: ``NWK_MAX_ADDRESSES`` = (``NWK_MAX_DEVICE_LIST`` + 1)
  + ``NWK_MAX_BINDING_ENTRIES`` + (5 + ``ZDSECMGR_TC_DEVICE_MAX``)
  (``nwk_globals.h`` of the SDK): 21 + 4 + 45 = 70 with the SDK defaults
  (``NWK_MAX_DEVICE_LIST`` 20, binding entries 4), 51 + 1 + 205 = 257 with
  the Z-Stack_3.x.0 settings (device list 50, binding entries 1), which is the
  257-entry ``ADDRMGR`` table of zigpy-znp's CC26X2R1 fixture;
- the key-exchange timeout: ``BDB_DEFAULT_TC_NODE_JOIN_TIMEOUT`` 15 s and
  ``BDB_DEFAULT_TC_REQUIRE_KEY_EXCHANGE`` TRUE (``bdb_interface.h``; FALSE only
  in builds defining ``TP2_LEGACY_ZC``, which the 3.x.0 images do not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final


@dataclass(frozen=True)
class ZStackImage:
    """Compile-time facts of one coordinator image."""

    name: str
    description: str
    #: ``SYS.Version`` fields; without ``code_revision`` the reply stops after
    #: MaintRel, as builds without INCLUDE_REVISION_INFORMATION answer.
    version: dict[str, int] = field(default_factory=dict)
    code_revision: int | None = None
    tc_link_keys: int = 40
    install_codes: int = 40
    aps_link_keys: int = 3
    address_manager: int = 70
    node_join_timeout_s: float = 15.0
    require_key_exchange: bool = True

    def version_reply(self) -> dict[str, Any]:
        """The fields of ``SYS.Version.Rsp`` this image sends."""
        reply: dict[str, Any] = dict(self.version)
        if self.code_revision is not None:
            reply["CodeRevision"] = self.code_revision
        return reply


#: The address manager size of a coordinator build (``nwk_globals.h``).
def address_manager_size(device_list: int, binding_entries: int, tc_devices: int) -> int:
    return (device_list + 1) + binding_entries + (5 + tc_devices)


ZSTACK_3X0: Final = ZStackImage(
    name="zstack-3.x.0",
    description="Z-Stack 3.x.0 coordinator image for CC2652/CC1352 (build 20220219): "
    "200 trust-centre keys, 3 APS keys, 257 address-manager entries",
    version={"TransportRev": 2, "ProductId": 1, "MajorRel": 2, "MinorRel": 7, "MaintRel": 1},
    code_revision=20220219,
    tc_link_keys=200,
    address_manager=address_manager_size(50, 1, 200),
)
ZSTACK_330_SDK: Final = ZStackImage(
    name="zstack-3.30",
    description="Z-Stack 3.30 ZNP built from the TI SimpleLink SDK with its defaults: "
    "40 trust-centre keys, 3 APS keys, 70 address-manager entries, no code revision",
    version={"TransportRev": 2, "ProductId": 1, "MajorRel": 2, "MinorRel": 7, "MaintRel": 1},
    code_revision=None,
    tc_link_keys=40,
    address_manager=address_manager_size(20, 4, 40),
)

FIRMWARE_IMAGES: Final[dict[str, ZStackImage]] = {
    image.name: image for image in (ZSTACK_3X0, ZSTACK_330_SDK)
}
DEFAULT_FIRMWARE: Final = ZSTACK_3X0.name


def firmware_image(name: str | None) -> ZStackImage:
    """The image called ``name`` (the default one for None); ValueError names the choices."""
    if name is None:
        return FIRMWARE_IMAGES[DEFAULT_FIRMWARE]
    try:
        return FIRMWARE_IMAGES[name]
    except KeyError:
        raise ValueError(
            f"unknown Z-Stack firmware {name!r} (choose from {', '.join(sorted(FIRMWARE_IMAGES))})"
        ) from None
