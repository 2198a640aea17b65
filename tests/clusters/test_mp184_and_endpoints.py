from __future__ import annotations

import pytest

from clusters import SE_CLUSTERS
from clusters.endpoints import ESI_DEVICE_ID, SE_PROFILE_ID, esi_simple_descriptors
from clusters.key_establishment import KeyEstablishmentSuite, check_sizes
from clusters.mp184 import (
    MP184_TABLE,
    EndpointMap,
    ExportMpanHome,
    Flow,
    Role,
    homes_for,
    mp184_table,
)


def test_endpoint_defaults_are_provisional() -> None:
    ep = EndpointMap()
    assert (ep.primary, ep.secondary, ep.provisional) == (1, 2, True)
    assert (ep.export_mpan.cluster_id, ep.export_mpan.attribute_id) == (0x0702, 0xE307)
    assert ep.export_mpan.provisional
    assert ep.endpoint(Role.SECONDARY) == 2


@pytest.mark.parametrize(("primary", "secondary"), [(1, 1), (0, 2), (1, 241)])
def test_endpoint_map_rejects_bad_numbers(primary: int, secondary: int) -> None:
    with pytest.raises(ValueError):
        EndpointMap(primary=primary, secondary=secondary)


def test_every_item_has_a_home() -> None:
    assert {h.item for h in MP184_TABLE} == {"R1", "R2", "R3", "R4", "R5", "R6"}


def test_r1_r2_homes_match_design() -> None:
    (r1,) = homes_for("R1")
    assert (r1.role, r1.flow, r1.cluster_id, r1.attribute_ids) == (
        Role.SECONDARY, Flow.RECEIVED, 0x0702, (0x0001,))
    r2 = {h.what: h for h in homes_for("R2")}
    assert r2["four TOU export registers"].attribute_ids == (0x0101, 0x0103, 0x0105, 0x0107)
    prices = r2["four TOU export prices"]
    assert (prices.cluster_id, prices.attribute_ids) == (0x0700, (0x8410, 0x8420, 0x8430, 0x8440))
    assert prices.provisional
    assert r2["export tariff switching table result"].attribute_ids == (0x0021,)


def test_r3_is_get_profile_on_the_received_channel() -> None:
    profile = next(h for h in homes_for("R3") if h.command)
    assert profile.command == "get_profile"
    assert dict(profile.parameters) == {"interval_channel": 1}
    assert profile.attribute_ids == (0x000F,)  # ProfileIntervalPeriod


def test_r4_export_mpan_is_configurable() -> None:
    rows = homes_for("R4")
    assert {r.role for r in rows} == {Role.PRIMARY, Role.SECONDARY}
    assert all(r.provisional and r.attribute_ids == (0xE307,) for r in rows)
    custom = EndpointMap(export_mpan=ExportMpanHome(attribute_id=0xF307, provisional=True))
    assert all(r.attribute_ids == (0xF307,) for r in homes_for("R4", mp184_table(custom)))


def test_every_attribute_home_is_a_defined_attribute() -> None:
    for home in MP184_TABLE:
        if home.cluster_id is None:
            continue
        cluster = SE_CLUSTERS[home.cluster_id]
        for attr_id in home.attribute_ids:
            assert attr_id in cluster.attributes, (home.item, hex(attr_id))
        if home.command:
            assert hasattr(cluster.ServerCommandDefs, home.command)
            schema = getattr(cluster.ServerCommandDefs, home.command).schema
            assert {name for name, _ in home.parameters} <= {f.name for f in schema.fields}


def test_unknown_item() -> None:
    with pytest.raises(KeyError):
        homes_for("R9")


def test_esi_simple_descriptors() -> None:
    descs = esi_simple_descriptors(EndpointMap(primary=10, secondary=11), sub_ghz=True)
    primary, secondary = descs[Role.PRIMARY], descs[Role.SECONDARY]
    assert (primary.endpoint, secondary.endpoint) == (10, 11)
    for d in (primary, secondary):
        assert (d.profile, d.device_type) == (SE_PROFILE_ID, ESI_DEVICE_ID) == (0x0109, 0x0500)
        assert {0x0000, 0x0003, 0x000A, 0x0700, 0x0702, 0x070B} <= set(d.input_clusters)
    assert 0x0800 in primary.input_clusters and 0x0800 not in secondary.input_clusters
    # Messaging (provisional): the primary ESI only; Prepayment on both
    assert 0x0703 in primary.input_clusters and 0x0703 not in secondary.input_clusters
    assert 0x0705 in primary.input_clusters and 0x0705 in secondary.input_clusters
    plain = esi_simple_descriptors()[Role.PRIMARY]
    assert 0x070B not in plain.input_clusters
    # the descriptor serializes as ZDO expects: endpoint, profile, device, version, lists
    assert plain.serialize() == bytes.fromhex(
        "01 0901 0005 00 08 0000 0300 0a00 0207 0007 0507 0307 0008 01 0008")


def test_key_establishment_sizes() -> None:
    check_sizes(KeyEstablishmentSuite.CBKE_ECMQV_163K1, identity=b"\0" * 48,
                ephemeral_data=b"\0" * 22)
    check_sizes(KeyEstablishmentSuite.CBKE_ECMQV_283K1, identity=b"\0" * 74,
                ephemeral_data=b"\0" * 37)
    with pytest.raises(ValueError):
        check_sizes(KeyEstablishmentSuite.CBKE_ECMQV_163K1, identity=b"\0" * 74)
    with pytest.raises(ValueError):
        check_sizes(KeyEstablishmentSuite.CBKE_ECMQV_283K1, ephemeral_data=b"\0" * 22)
    with pytest.raises(ValueError):
        check_sizes(KeyEstablishmentSuite(3), identity=b"")
