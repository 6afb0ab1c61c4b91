"""Tests for route groups, route lists and called-party settings of route patterns."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from config_helpers import TLS_PROFILE, TLS_TRUNK
from sqlalchemy import create_engine

from tlstrunk.config import (
    ConfigError,
    ConfigNotFoundError,
    ConfigStore,
    Destination,
    DiscardDigits,
    Distribution,
    RouteGroupConfig,
    RouteListConfig,
)
from tlstrunk.config.store import upgrade
from tlstrunk.config.topology import TopologyError, apply_cluster, load_topology

EXAMPLE = Path(__file__).parents[2] / "examples" / "two-clusters.yaml"


@pytest.fixture
def routed(store: ConfigStore) -> ConfigStore:
    """A store with three trunks, two route groups and one route list."""
    store.add_security_profile(TLS_PROFILE)
    for name, address in (("T1", "127.0.0.201"), ("T2", "127.0.0.202"), ("T3", "127.0.0.204")):
        store.add_trunk(
            dataclasses.replace(TLS_TRUNK, name=name, destinations=(Destination(address, 5061),))
        )
    store.add_route_group(RouteGroupConfig("RG-A", ("T2", "T1")))
    store.add_route_group(RouteGroupConfig("RG-B", ("T3", "T2")))
    store.add_route_list(RouteListConfig("RL", ("RG-A", "RG-B")))
    store.add_route_pattern("9.1XXX", route_list="RL", discard_digits=DiscardDigits.PRE_DOT)
    return store


def test_route_groups_round_trip(routed: ConfigStore) -> None:
    groups = routed.list_route_groups()
    assert [(g.name, g.trunks, g.distribution) for g in groups] == [
        ("RG-A", ("T2", "T1"), Distribution.TOP_DOWN),
        ("RG-B", ("T3", "T2"), Distribution.TOP_DOWN),
    ]
    assert routed.list_route_lists() == [RouteListConfig("RL", ("RG-A", "RG-B"))]


def test_route_pattern_fields_round_trip(routed: ConfigStore) -> None:
    (route,) = routed.list_route_patterns()
    assert route.trunk is None
    assert route.route_list == "RL"
    assert route.discard_digits is DiscardDigits.PRE_DOT


def test_snapshot_route_list_target(routed: ConfigStore) -> None:
    snapshot = routed.load_snapshot()
    result = snapshot.analyze("91234")
    assert result.matched is not None
    assert result.matched.target == ("route_list", "RL")
    assert result.called == "1234"


def test_route_list_trunks_in_order_once(routed: ConfigStore) -> None:
    snapshot = routed.load_snapshot()
    names = [trunk.name for trunk in snapshot.route_list_trunks("RL")]
    assert names == ["T2", "T1", "T3"]
    targets = snapshot.target_trunks(("route_list", "RL"))
    assert [trunk.name for trunk in targets] == names
    assert [trunk.name for trunk in snapshot.target_trunks(("trunk", "T3"))] == ["T3"]
    assert snapshot.target_trunks(("dn", "1018")) == ()


def test_route_list_unknown(routed: ConfigStore) -> None:
    with pytest.raises(ConfigNotFoundError, match="Route list 'Nope' does not exist"):
        routed.load_snapshot().route_list_trunks("Nope")


def test_circular_group_rotates(routed: ConfigStore) -> None:
    routed.add_route_group(RouteGroupConfig("RG-C", ("T1", "T2", "T3"), Distribution.CIRCULAR))
    routed.add_route_list(RouteListConfig("RL-C", ("RG-C",)))
    snapshot = routed.load_snapshot()
    orders = [[t.name for t in snapshot.route_list_trunks("RL-C")] for _ in range(4)]
    assert orders == [
        ["T1", "T2", "T3"],
        ["T2", "T3", "T1"],
        ["T3", "T1", "T2"],
        ["T1", "T2", "T3"],
    ]


def test_route_group_needs_trunk(routed: ConfigStore) -> None:
    with pytest.raises(ConfigError, match="Route group 'Empty' has no trunk; list at least one"):
        routed.add_route_group(RouteGroupConfig("Empty", ()))


def test_route_group_repeated_trunk(routed: ConfigStore) -> None:
    with pytest.raises(ConfigError, match="lists trunk T1 more than once"):
        routed.add_route_group(RouteGroupConfig("Twice", ("T1", "T1")))


def test_route_group_unknown_trunk(routed: ConfigStore) -> None:
    with pytest.raises(ConfigNotFoundError, match="The trunk 'T9' does not exist"):
        routed.add_route_group(RouteGroupConfig("Bad", ("T9",)))


def test_route_list_unknown_group(routed: ConfigStore) -> None:
    with pytest.raises(ConfigNotFoundError, match="The route group 'RG-Z' does not exist"):
        routed.add_route_list(RouteListConfig("Bad", ("RG-Z",)))


def test_route_list_needs_group(routed: ConfigStore) -> None:
    with pytest.raises(ConfigError, match="Route list 'Empty' has no route group"):
        routed.add_route_list(RouteListConfig("Empty", ()))


def test_route_pattern_needs_one_target(routed: ConfigStore) -> None:
    with pytest.raises(ConfigError, match="Route pattern 5XXX has no target"):
        routed.add_route_pattern("5XXX")
    with pytest.raises(ConfigError, match="names both trunk 'T1' and route list 'RL'"):
        routed.add_route_pattern("5XXX", "T1", route_list="RL")


def test_pre_dot_needs_dot(routed: ConfigStore) -> None:
    with pytest.raises(ConfigError, match=r"PreDot\) but has no '\.'"):
        routed.add_route_pattern("5XXX", "T1", discard_digits=DiscardDigits.PRE_DOT)


def test_bad_prefix_digits(routed: ConfigStore) -> None:
    with pytest.raises(ConfigError, match="Prefix digits '9A' contain 'A'"):
        routed.add_route_pattern("5XXX", "T1", prefix_digits="9A")


def test_delete_in_use(routed: ConfigStore) -> None:
    with pytest.raises(ConfigError, match="Trunk 'T1' is a member of route group RG-A"):
        routed.delete_trunk("T1")
    with pytest.raises(ConfigError, match="Route group 'RG-A' is a member of route list RL"):
        routed.delete_route_group("RG-A")
    with pytest.raises(
        ConfigError, match=r"Route list 'RL' is the target of route pattern 9\.1XXX"
    ):
        routed.delete_route_list("RL")


def test_delete_in_order(routed: ConfigStore) -> None:
    routed.delete_route_pattern("9.1XXX")
    routed.delete_route_list("RL")
    routed.delete_route_group("RG-A")
    assert [g.name for g in routed.list_route_groups()] == ["RG-B"]


def test_upgrade_from_0002_keeps_patterns(tmp_path: Path) -> None:
    path = tmp_path / "config.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine, "0002")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO security_profile (name, description, device_security_mode, "
            "incoming_transport, outgoing_transport, enable_digest_authentication, "
            "nonce_validity_time, x509_subject_name, incoming_port, "
            "enable_application_level_authorization, accept_presence_subscription, "
            "accept_out_of_dialog_refer, accept_unsolicited_notification, "
            "accept_replaces_header, transmit_security_status, allow_charging_header, "
            "sip_v150_outbound_sdp_offer_filtering, tls_policy) VALUES ('P', '', "
            "'Non Secure', 'TCP+UDP', 'TCP', 0, 600, '', 5060, 0, 0, 0, 0, 0, 0, 0, "
            "'Use Default Filter', 'modern')"
        )
        connection.exec_driver_sql(
            "INSERT INTO sip_trunk (name, description, device_pool, location, srtp_allowed, "
            "consider_traffic_secure, security_profile_id, sip_profile, "
            "dtmf_signaling_method) VALUES ('T', '', 'Default', 'Hub_None', 0, "
            "'When using both sRTP and TLS', 1, 'Standard SIP Profile', 'No Preference')"
        )
        connection.exec_driver_sql(
            "INSERT INTO route_pattern (pattern, trunk_id, description) VALUES ('9898', 1, '')"
        )
    engine.dispose()
    with ConfigStore(path) as store:
        (route,) = store.list_route_patterns()
    assert route.trunk == "T"
    assert route.route_list is None
    assert route.discard_digits is DiscardDigits.NONE
    assert route.prefix_digits == ""
    with sqlite3.connect(path) as connection:
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == ("0005",)


# --- topology -------------------------------------------------------------


def routed_document() -> dict[str, Any]:
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    cluster = document["clusters"][0]
    trunk = cluster["trunks"][0]["name"]
    cluster["route_groups"] = [{"name": "RG", "trunks": [trunk], "distribution": "top down"}]
    cluster["route_lists"] = [{"name": "RL", "route_groups": ["RG"]}]
    cluster["route_patterns"].append(
        {"pattern": "8.9XXX", "route_list": "RL", "discard_digits": "PreDot",
         "prefix_digits": "0", "called_party_mask": "XXXX"}
    )  # fmt: skip
    assert isinstance(document, dict)
    return document


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_topology_route_lists_applied(tmp_path: Path) -> None:
    topology = load_topology(write(tmp_path, routed_document()))
    cluster = topology.clusters[0]
    assert cluster.route_groups[0].distribution is Distribution.TOP_DOWN
    with ConfigStore(tmp_path / "node" / "config.db") as store:
        apply_cluster(store, cluster)
        snapshot = store.load_snapshot()
    result = snapshot.analyze("89123")
    assert result.matched is not None
    assert result.matched.target == ("route_list", "RL")
    assert result.called == "09123"
    assert [t.name for t in snapshot.route_list_trunks("RL")] == [cluster.trunks[0].name]


def test_topology_unknown_route_group(tmp_path: Path) -> None:
    document = routed_document()
    document["clusters"][0]["route_lists"][0]["route_groups"] = ["Nope"]
    with pytest.raises(TopologyError, match=r"route_lists\[0\]\.route_groups\[0\]: 'Nope' is not"):
        load_topology(write(tmp_path, document))


def test_topology_pattern_with_both_targets(tmp_path: Path) -> None:
    document = routed_document()
    document["clusters"][0]["route_patterns"][-1]["trunk"] = "CUCM10"
    with pytest.raises(TopologyError, match="names both trunk 'CUCM10' and route list 'RL'"):
        load_topology(write(tmp_path, document))


def test_topology_unquoted_prefix(tmp_path: Path) -> None:
    document = routed_document()
    document["clusters"][0]["route_patterns"][-1]["prefix_digits"] = 0
    with pytest.raises(TopologyError, match=r"prefix_digits: write 0 in quotes"):
        load_topology(write(tmp_path, document))
