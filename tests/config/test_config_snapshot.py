"""Tests for immutable configuration snapshots."""

from __future__ import annotations

import dataclasses

import pytest
from config_helpers import TLS_PROFILE, TLS_TRUNK

from tlstrunk.config import (
    ConfigNotFoundError,
    ConfigSnapshot,
    ConfigStore,
    Destination,
    IncomingTransport,
    SecurityProfileConfig,
    Transport,
    TrunkSpec,
)


def test_snapshot_routes_to_trunk_and_number(cucma: ConfigStore) -> None:
    snapshot = cucma.load_snapshot()
    to_trunk = snapshot.analyze("9898").matched
    to_phone = snapshot.analyze("1018").matched
    assert to_trunk is not None
    assert to_trunk.target == ("trunk", "CUCM10")
    assert to_phone is not None
    assert to_phone.target == ("dn", "1018")


def test_snapshot_node_and_collections(cucma: ConfigStore) -> None:
    snapshot = cucma.load_snapshot()
    assert snapshot.node is not None
    assert snapshot.node.name == "CUCMA"
    assert snapshot.trunks["CUCM10"].profile == TLS_PROFILE
    assert snapshot.directory_number("1018") is not None
    assert snapshot.directory_number("9898") is None


def test_snapshot_is_immutable(cucma: ConfigStore) -> None:
    snapshot = cucma.load_snapshot()
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.node = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        snapshot.trunks["other"] = snapshot.trunks["CUCM10"]  # type: ignore[index]


def test_snapshot_unchanged_by_later_writes(cucma: ConfigStore) -> None:
    before = cucma.load_snapshot()
    cucma.add_route_pattern("5XXX", "CUCM10")
    assert before.analyze("5000").matched is None
    assert cucma.load_snapshot().analyze("5000").matched is not None


@pytest.mark.parametrize("source", ["127.0.0.200", "::ffff:127.0.0.1"])
def test_trunk_for_source(cucma: ConfigStore, source: str) -> None:
    trunk = cucma.load_snapshot().trunk_for_source(source)
    if source == "127.0.0.200":
        assert trunk is not None
        assert trunk.name == "CUCM10"
    else:
        assert trunk is None


def test_trunk_for_source_normalizes_ipv6(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    store.add_trunk(dataclasses.replace(TLS_TRUNK, destinations=(Destination("0:0::1", 5061),)))
    trunk = store.load_snapshot().trunk_for_source("::1")
    assert trunk is not None
    assert trunk.name == "CUCM10"


def test_listeners_group_profiles(store: ConfigStore) -> None:
    plain = SecurityProfileConfig("Non Secure SIP Trunk Profile")
    second_tls = dataclasses.replace(TLS_PROFILE, name="Second TLS", x509_subject_name="CUCMB")
    unused = SecurityProfileConfig(
        "Unused", incoming_transport=IncomingTransport.UDP, incoming_port=5070
    )
    for profile in (TLS_PROFILE, second_tls, plain, unused):
        store.add_security_profile(profile)
    store.add_trunk(TLS_TRUNK)
    store.add_trunk(
        dataclasses.replace(
            TLS_TRUNK,
            name="CUCMB",
            security_profile="Second TLS",
            destinations=(Destination("127.0.0.204", 5061),),
        )
    )
    store.add_trunk(TrunkSpec("Plain", plain.name, (Destination("127.0.0.205"),)))
    listeners = store.load_snapshot().listeners()
    summary = [(item.transport, item.port, [p.name for p in item.profiles]) for item in listeners]
    assert summary == [
        (Transport.TCP, 5060, ["Non Secure SIP Trunk Profile"]),
        (Transport.TLS, 5061, ["Secure SIP Trunk Profile TLS", "Second TLS"]),
        (Transport.UDP, 5060, ["Non Secure SIP Trunk Profile"]),
    ]


def test_css_partitions(store: ConfigStore) -> None:
    store.add_partition("Internal")
    store.add_css("Lab", ["Internal"])
    snapshot = store.load_snapshot()
    assert snapshot.css_partitions("Lab") == ("Internal", None)
    assert snapshot.css_partitions(None) == (None,)
    with pytest.raises(ConfigNotFoundError, match="Calling search space 'Nope'"):
        snapshot.css_partitions("Nope")


def test_empty_snapshot() -> None:
    snapshot = ConfigSnapshot.empty()
    assert snapshot.node is None
    assert snapshot.listeners() == []
    assert snapshot.analyze("1000").matched is None


def test_directory_number_by_partition(store: ConfigStore) -> None:
    store.add_partition("Phones")
    store.add_directory_number("2000", "Phones", "in Phones")
    store.add_directory_number("2000", None, "in <None>")
    snapshot = store.load_snapshot()
    first = snapshot.directory_number("2000")
    exact = snapshot.directory_number_in("2000", "Phones")
    assert first is not None
    assert first.description == "in <None>"
    assert exact is not None
    assert exact.description == "in Phones"
    assert snapshot.directory_number_in("2000", "Other") is None
