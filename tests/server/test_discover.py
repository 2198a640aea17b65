"""Discover Attributes (plain and extended) and Discover Commands."""

from __future__ import annotations

from .server_helpers import frame, h, request

from clusters.ids import BASIC, TIME
from han_emu.server.engine import ZclServer


def test_discover_attributes_pages(server: ZclServer) -> None:
    # Metering serves 0x0000, 0x0001, 0x0300, 0x0307, 0x0400.
    (reply,) = server.handle(request("00 01 0c 0000 02"))
    assert frame(reply) == h("18 01 0d 00  0000 25  0100 25")
    (reply,) = server.handle(request("00 02 0c 0200 02"))  # from 0x0002
    assert frame(reply) == h("18 02 0d 00  0003 30  0703 41")
    (reply,) = server.handle(request("00 03 0c 0103 10"))  # from 0x0301
    assert frame(reply) == h("18 03 0d 01  0703 41  0004 2a")
    (reply,) = server.handle(request("00 04 0c 0104 10"))  # from 0x0401
    assert frame(reply) == h("18 04 0d 01")


def test_discover_attributes_extended_access(server: ZclServer) -> None:
    # Time: 0x0000 UTC read only here (no setter), 0x0002 int32 read+write.
    (reply,) = server.handle(request("00 05 15 0000 10", TIME))
    assert frame(reply) == h("18 05 16 01  0000 e2 01  0200 2b 03")
    # Metering summation is reportable: read + report = 0x05.
    (reply,) = server.handle(request("00 06 15 0000 01"))
    assert frame(reply) == h("18 06 16 00  0000 25 05")


def test_discover_includes_cluster_revision(server: ZclServer) -> None:
    (reply,) = server.handle(request("00 07 0c 0000 ff", BASIC))
    assert frame(reply) == h("18 07 0d 01  0000 20  1000 42  fdff 21")


def test_discover_commands(server: ZclServer) -> None:
    (reply,) = server.handle(request("00 08 11 00 10"))
    assert frame(reply) == h("18 08 12 01 00")
    (reply,) = server.handle(request("00 09 13 00 10"))
    assert frame(reply) == h("18 09 14 01 00 01")
    (reply,) = server.handle(request("00 0a 13 00 01"))
    assert frame(reply) == h("18 0a 14 00 00")
    (reply,) = server.handle(request("00 0b 13 01 01"))
    assert frame(reply) == h("18 0b 14 01 01")
    (reply,) = server.handle(request("00 0c 11 00 10", TIME))
    assert frame(reply) == h("18 0c 12 01")
