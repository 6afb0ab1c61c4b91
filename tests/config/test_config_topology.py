"""Tests for topology files: the shipped example, validation errors, applying to a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tlstrunk.config import ConfigStore, DeviceSecurityMode, Transport
from tlstrunk.config.topology import TopologyError, apply_cluster, load_topology

EXAMPLE = Path(__file__).parents[2] / "examples" / "two-clusters.yaml"


def example_document() -> dict[str, Any]:
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_example_loads() -> None:
    topology = load_topology(EXAMPLE)
    assert [cluster.name for cluster in topology.clusters] == ["CUCMA", "CUCM10"]
    assert topology.ca.common_name == "tlstrunk Demo Root CA"
    assert topology.ca.days == 3650
    cucma = topology.cluster("CUCMA")
    assert cucma.address == "127.0.0.203"
    assert cucma.certificate.common_name == "CUCMA"
    profile = cucma.security_profiles[0]
    assert profile.device_security_mode is DeviceSecurityMode.ENCRYPTED
    assert profile.outgoing_transport is Transport.TLS
    assert profile.x509_subject_name == "CUCM10"
    assert profile.transmit_security_status
    assert cucma.trunks[0].destinations[0].address == "127.0.0.200"
    assert cucma.route_patterns[0].pattern == "9898"
    assert [(c.from_cluster, c.from_number, c.to) for c in topology.calls] == [
        ("CUCMA", "1018", "9898"),
        ("CUCM10", "9898", "1018"),
    ]


def test_example_clusters_mirror_each_other() -> None:
    topology = load_topology(EXAMPLE)
    cucma, cucm10 = topology.clusters
    assert cucma.security_profiles[0].x509_subject_name == cucm10.certificate.common_name
    assert cucm10.security_profiles[0].x509_subject_name == cucma.certificate.common_name
    assert cucma.trunks[0].destinations[0].address == cucm10.address
    assert cucm10.trunks[0].destinations[0].address == cucma.address


def test_apply_cluster_writes_store(tmp_path: Path) -> None:
    topology = load_topology(EXAMPLE)
    with ConfigStore(tmp_path / "config.db") as store:
        apply_cluster(store, topology.cluster("CUCMA"))
        snapshot = store.load_snapshot()
    assert snapshot.node is not None
    assert snapshot.node.address == "127.0.0.203"
    matched = snapshot.analyze("9898").matched
    assert matched is not None
    assert matched.target == ("trunk", "CUCM10")
    assert snapshot.trunks["CUCM10"].sends_srtp_keys
    assert snapshot.directory_number("1018") is not None


def test_apply_cluster_twice_replaces(tmp_path: Path) -> None:
    topology = load_topology(EXAMPLE)
    with ConfigStore(tmp_path / "config.db") as store:
        apply_cluster(store, topology.cluster("CUCMA"))
        apply_cluster(store, topology.cluster("CUCM10"))
        snapshot = store.load_snapshot()
    assert list(snapshot.trunks) == ["CUCMA"]
    assert [rp.pattern for rp in snapshot.route_patterns] == ["1018"]


def expect_error(tmp_path: Path, document: dict[str, Any], key_path: str, fragment: str) -> None:
    path = write(tmp_path, document)
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key_path}: "), message
    assert fragment in message


def test_error_port_out_of_range(tmp_path: Path) -> None:
    document = example_document()
    document["clusters"][1]["trunks"][0]["destinations"][0]["port"] = 70000
    expect_error(
        tmp_path,
        document,
        "clusters[1].trunks[0].destinations[0].port",
        "70000 is not a valid port",
    )


def test_error_address_not_loopback(tmp_path: Path) -> None:
    document = example_document()
    document["clusters"][0]["address"] = "10.106.95.203"
    expect_error(
        tmp_path, document, "clusters[0].address", "the lab runs every cluster on this machine"
    )


def test_error_destination_not_loopback(tmp_path: Path) -> None:
    document = example_document()
    document["clusters"][0]["trunks"][0]["destinations"][0]["address"] = "192.0.2.1"
    expect_error(
        tmp_path,
        document,
        "clusters[0].trunks[0].destinations[0].address",
        "is not a loopback address",
    )


def test_ipv6_loopback_accepted(tmp_path: Path) -> None:
    document = example_document()
    document["clusters"][0]["trunks"][0]["destinations"][0]["address"] = "::1"
    topology = load_topology(write(tmp_path, document))
    assert topology.clusters[0].trunks[0].destinations[0].address == "::1"


def test_error_unknown_key(tmp_path: Path) -> None:
    document = example_document()
    document["clusters"][0]["trunks"][0]["srtp"] = True
    expect_error(tmp_path, document, "clusters[0].trunks[0]", "unknown key 'srtp'")


def test_error_missing_key(tmp_path: Path) -> None:
    document = example_document()
    del document["clusters"][0]["certificate"]
    expect_error(tmp_path, document, "clusters[0]", "the key 'certificate' is missing")


def test_error_bad_enum_lists_choices(tmp_path: Path) -> None:
    document = example_document()
    document["clusters"][0]["security_profiles"][0]["device_security_mode"] = "Secret"
    expect_error(
        tmp_path,
        document,
        "clusters[0].security_profiles[0].device_security_mode",
        "use one of: Non Secure, Authenticated, Encrypted",
    )


def test_error_profile_rule(tmp_path: Path) -> None:
    document = example_document()
    document["clusters"][0]["security_profiles"][0]["x509_subject_name"] = ""
    expect_error(
        tmp_path, document, "clusters[0].security_profiles[0]", "has no X.509 subject name"
    )


def test_error_unknown_profile_reference(tmp_path: Path) -> None:
    document = example_document()
    document["clusters"][1]["trunks"][0]["security_profile"] = "Missing"
    expect_error(
        tmp_path,
        document,
        "clusters[1].trunks[0].security_profile",
        "'Missing' is not defined in this cluster",
    )


def test_error_bad_pattern(tmp_path: Path) -> None:
    document = example_document()
    document["clusters"][0]["route_patterns"][0]["pattern"] = "[5-2]XX"
    expect_error(tmp_path, document, "clusters[0].route_patterns[0].pattern", "runs backwards")


def test_error_unquoted_number(tmp_path: Path) -> None:
    document = example_document()
    document["clusters"][0]["directory_numbers"][0]["number"] = 1018
    expect_error(
        tmp_path, document, "clusters[0].directory_numbers[0].number", "write 1018 in quotes"
    )


def test_error_call_from_unknown_number(tmp_path: Path) -> None:
    document = example_document()
    document["calls"][0]["from"]["number"] = "2000"
    expect_error(
        tmp_path, document, "calls[0].from.number", "is not a directory number of cluster CUCMA"
    )


def test_error_duplicate_cluster_name(tmp_path: Path) -> None:
    document = example_document()
    document["clusters"][1]["name"] = "CUCMA"
    expect_error(tmp_path, document, "clusters[1].name", "appears twice")


def test_error_bad_key_type(tmp_path: Path) -> None:
    document = example_document()
    document["ca"]["key"] = "dsa1024"
    expect_error(tmp_path, document, "ca.key", "Invalid key type 'dsa1024'")


def test_error_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("clusters: [\n", encoding="utf-8")
    with pytest.raises(TopologyError, match="is not valid YAML"):
        load_topology(path)


def test_error_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="Cannot read topology file"):
        load_topology(tmp_path / "absent.yaml")
