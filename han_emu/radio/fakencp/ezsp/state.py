"""What the emulated NCP keeps: its tokens (kept across resets, and in a file
if asked) and its RAM (lost on every reset), as real EmberZNet firmware does."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from pathlib import Path
from typing import Any

import bellows.types as bt

from han_emu.crypto.keys import DEFAULT_TC_LINK_KEY
from han_emu.radio.fakencp.ezsp.address_cache import TrustCentreCache

SILABS_OUI = bytes.fromhex("000B57")  # Silicon Labs' IEEE OUI, as real sticks carry
SILABS_MANUFACTURER_CODE = 0x1002  # Silicon Labs' Zigbee manufacturer code (MFG_MANUF_ID)


def random_eui64() -> bt.EUI64:
    """An EUI64 in Silicon Labs' block (stored little-endian, OUI last)."""
    return bt.EUI64(secrets.token_bytes(5) + SILABS_OUI[::-1])


@dataclasses.dataclass
class Tokens:
    """Non-volatile state: survives resets and, with a state path, restarts."""

    eui64: bt.EUI64 = dataclasses.field(default_factory=random_eui64)
    formed: bool = False
    node_type: int = bt.EmberNodeType.COORDINATOR
    node_id: int = 0x0000
    extended_pan_id: bytes = bytes(8)
    pan_id: int = 0xFFFF
    channel: int = 11
    tx_power: int = 8
    nwk_update_id: int = 0
    nwk_manager_id: int = 0x0000
    channels: int = 0x07FFF800
    security_bitmask: int = 0
    network_key: bytes = bytes(16)
    network_key_seq: int = 0
    #: The alternate network key (TOKEN_STACK_ALTERNATE_KEY): the next key
    #: while an update is under way, the previous one after the switch.
    alt_network_key: bytes = bytes(16)
    alt_network_key_seq: int = 0
    #: An update sent the alternate key out and the switch is still to come.
    next_key_pending: bool = False
    nwk_frame_counter: int = 0
    tc_link_key: bytes = DEFAULT_TC_LINK_KEY
    aps_frame_counter: int = 0
    link_keys: dict[int, tuple[bt.EUI64, bytes]] = dataclasses.field(default_factory=dict)
    children: dict[bt.EUI64, int] = dataclasses.field(default_factory=dict)
    #: The binding table (index -> entry), kept in tokens as EmberZNet keeps it
    #: (its CREATOR_STACK_BINDING_TABLE token, as bellows names it).
    bindings: dict[int, bt.EmberBindingTableEntry] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "eui64":
                value = str(value)
            elif isinstance(value, bytes):
                value = value.hex()
            elif field.name == "link_keys":
                value = {str(i): [str(e), k.hex()] for i, (e, k) in value.items()}
            elif field.name == "children":
                value = {str(e): nwk for e, nwk in value.items()}
            elif field.name == "bindings":
                value = {str(i): entry.serialize().hex() for i, entry in value.items()}
            else:
                value = int(value) if not isinstance(value, bool) else value
            out[field.name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tokens:
        """Tokens from :meth:`to_json`'s document; ValueError for any other JSON
        (so another program's file is never taken, and overwritten, as tokens)."""
        known = {field.name for field in dataclasses.fields(cls)}
        if not isinstance(data, dict) or not data.keys() <= known:
            raise ValueError("not a fake EZSP NCP token file")
        tokens = cls()
        for field in dataclasses.fields(cls):
            if field.name not in data:
                continue
            value = data[field.name]
            if field.name == "eui64":
                value = bt.EUI64.convert(value)
            elif field.name == "link_keys":
                value = {
                    int(i): (bt.EUI64.convert(e), bytes.fromhex(k))
                    for i, (e, k) in value.items()
                }
            elif field.name == "children":
                value = {bt.EUI64.convert(e): int(n) for e, n in value.items()}
            elif field.name == "bindings":
                value = {int(i): bt.EmberBindingTableEntry.deserialize(bytes.fromhex(h))[0]
                         for i, h in value.items()}
            elif isinstance(getattr(tokens, field.name), bytes):
                value = bytes.fromhex(value)
            setattr(tokens, field.name, value)
        return tokens

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically so a crash never leaves half a token file."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        # The tokens hold the network and link keys: owner-only, whatever the umask.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(self.to_json(), indent=2, sort_keys=True))
        tmp.replace(target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Tokens:
        return cls.from_json(json.loads(Path(path).read_text()))

    def factory_reset(self) -> None:
        """tokenFactoryReset: forget the network, keep the EUI64."""
        fresh = Tokens(eui64=self.eui64)
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(fresh, field.name))


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One addEndpoint registration as the host sent it."""

    endpoint: int
    profile_id: int
    device_id: int
    device_version: int
    input_clusters: tuple[int, ...]
    output_clusters: tuple[int, ...]


@dataclasses.dataclass
class DutyCycle:
    """Duty-cycle figures the NCP reports (hundredths of a percent, as the stack
    encodes them); the emulator may overwrite them from its own ledger."""

    state: int = bt.EmberDutyCycleState.DUTY_CYCLE_LBT_NORMAL
    limit_thresh: int = 100  # 1.00 %
    crit_thresh: int = 180  # 1.80 %
    susp_limit: int = 250  # 2.50 %
    channel_page: int = 28
    channel: int = 0
    consumed: dict[int, int] = dataclasses.field(default_factory=lambda: {0x0000: 0})


@dataclasses.dataclass
class Ram:
    """Volatile state, cleared by every reset."""

    network_up: bool = False
    config: dict[int, int] = dataclasses.field(default_factory=dict)
    values: dict[int, bytes] = dataclasses.field(default_factory=dict)
    policies: dict[int, int] = dataclasses.field(default_factory=dict)
    endpoints: dict[int, Endpoint] = dataclasses.field(default_factory=dict)
    permit_until: float = 0.0
    manufacturer_code: int = 0x1049
    radio_power: int = 8
    multicast: dict[int, bytes] = dataclasses.field(default_factory=dict)
    extended_timeout: set[bt.EUI64] = dataclasses.field(default_factory=set)
    concentrator: bool = False
    address_table: dict[int, tuple[int, bt.EUI64]] = dataclasses.field(default_factory=dict)
    tc_cache: TrustCentreCache = dataclasses.field(default_factory=TrustCentreCache)
    aps_seq: int = 0
