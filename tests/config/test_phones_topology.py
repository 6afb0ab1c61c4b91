"""Tests for the phone, digest and SRV keys of topology files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tlstrunk.config import ConfigStore, DeviceSecurityMode, IncomingTransport, NodeConfig
from tlstrunk.config.topology import TopologyError, apply_cluster, load_topology
from tlstrunk.sip.digest import compute_ha1

EXAMPLE = Path(__file__).parents[2] / "examples" / "two-clusters.yaml"


def phone_document() -> dict[str, Any]:
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    cluster = document["clusters"][0]
    cluster["realm"] = "cucma.example.com"
    cluster["phone_ports"] = {"sip": 5070, "secure": 5072}
    cluster["digest_users"] = [
        {"name": "alice", "password": "correct horse"},
        {"name": "cucm10", "password": "trunk secret", "description": "far end"},
        {"name": "cucma", "password": "outbound secret", "realm": "CUCM10"},
    ]
    cluster["phones"] = [
        {
            "name": "SEP00AABBCCDDEE",
            "directory_number": "1018",
            "digest_user": "alice",
            "device_security_mode": "Encrypted",
            "transport": "TLS",
        }
    ]
    cluster["directory_numbers"][0]["no_answer_timeout"] = 20
    trunk = cluster["trunks"][0]
    trunk["inbound_digest_user"] = "cucm10"
    trunk["outbound_digest_user"] = "cucma"
    return document


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def load_error(tmp_path: Path, document: dict[str, Any]) -> str:
    with pytest.raises(TopologyError) as caught:
        load_topology(write(tmp_path, document))
    return str(caught.value)


def test_phone_keys_load(tmp_path: Path) -> None:
    cucma = load_topology(write(tmp_path, phone_document())).cluster("CUCMA")
    assert cucma.node == NodeConfig("CUCMA", "127.0.0.203", "", "cucma.example.com", 5070, 5072)
    assert [user.name for user in cucma.digest_users] == ["alice", "cucm10", "cucma"]
    assert cucma.digest_users[2].realm == "CUCM10"
    (phone,) = cucma.phones
    assert phone.device_security_mode is DeviceSecurityMode.ENCRYPTED
    assert phone.transport is IncomingTransport.TLS
    assert cucma.directory_numbers[0].no_answer_timeout == 20
    assert cucma.trunks[0].inbound_digest_user == "cucm10"


def test_phone_keys_apply(tmp_path: Path) -> None:
    cucma = load_topology(write(tmp_path, phone_document())).cluster("CUCMA")
    with ConfigStore(tmp_path / "node" / "config.db") as store:
        apply_cluster(store, cucma)
        snapshot = store.load_snapshot()
    alice = snapshot.digest_user("alice", "cucma.example.com")
    assert alice is not None
    assert alice.ha1_md5 == compute_ha1("alice", "cucma.example.com", "correct horse")
    assert snapshot.digest_user("cucma", "CUCM10") is not None
    assert [phone.name for phone in snapshot.phones_for_number("1018")] == ["SEP00AABBCCDDEE"]
    trunk = snapshot.trunks["CUCM10"]
    assert trunk.outbound_digest_user == "cucma"
    assert [(item.port, item.phones) for item in snapshot.listeners() if item.phones] == [
        (5070, True),
        (5072, True),
        (5070, True),
    ]


def test_shipped_example_has_no_phones() -> None:
    cucma = load_topology(EXAMPLE).cluster("CUCMA")
    assert cucma.phones == ()
    assert cucma.node.phone_port is None


def test_srv_trunk_takes_domain(tmp_path: Path) -> None:
    document = phone_document()
    trunk = document["clusters"][0]["trunks"][0]
    trunk["srv"] = True
    trunk["destinations"] = [{"address": "cucm10.example.com"}]
    cucma = load_topology(write(tmp_path, document)).cluster("CUCMA")
    spec = cucma.trunks[0]
    assert spec.destination_is_srv
    assert spec.destinations[0].address == "cucm10.example.com"
    assert spec.destinations[0].port == 0


def test_srv_trunk_rejects_address(tmp_path: Path) -> None:
    document = phone_document()
    document["clusters"][0]["trunks"][0]["srv"] = True
    message = load_error(tmp_path, document)
    assert "clusters[0].trunks[0].destinations[0]" in message
    assert "'127.0.0.200'" in message
    assert "not a domain name" in message


def test_plain_trunk_still_needs_loopback(tmp_path: Path) -> None:
    document = phone_document()
    document["clusters"][0]["trunks"][0]["destinations"] = [
        {"address": "cucm10.example.com", "port": 5061}
    ]
    message = load_error(tmp_path, document)
    assert "destinations[0].address" in message
    assert "not a loopback address" in message


def test_unknown_phone_key(tmp_path: Path) -> None:
    document = phone_document()
    document["clusters"][0]["phones"][0]["line"] = "2"
    message = load_error(tmp_path, document)
    assert "clusters[0].phones[0]: unknown key 'line'" in message
    assert "directory_number" in message


def test_unknown_phone_ports_key(tmp_path: Path) -> None:
    document = phone_document()
    document["clusters"][0]["phone_ports"]["tls"] = 5073
    message = load_error(tmp_path, document)
    assert "clusters[0].phone_ports: unknown key 'tls'" in message
    assert "secure, sip" in message


def test_phone_needs_defined_number(tmp_path: Path) -> None:
    document = phone_document()
    document["clusters"][0]["phones"][0]["directory_number"] = "2000"
    message = load_error(tmp_path, document)
    assert "clusters[0].phones[0].directory_number" in message
    assert "'2000' in partition <None>" in message
    assert "add it under directory_numbers" in message


def test_phone_needs_defined_user(tmp_path: Path) -> None:
    document = phone_document()
    document["clusters"][0]["phones"][0]["digest_user"] = "bob"
    message = load_error(tmp_path, document)
    assert "clusters[0].phones[0].digest_user" in message
    assert "'bob' is not defined" in message


def test_secure_phone_needs_tls(tmp_path: Path) -> None:
    document = phone_document()
    document["clusters"][0]["phones"][0]["transport"] = "TCP"
    message = load_error(tmp_path, document)
    assert "clusters[0].phones[0]" in message
    assert "set the transport to TLS" in message


def test_short_password_in_file(tmp_path: Path) -> None:
    document = phone_document()
    document["clusters"][0]["digest_users"][0]["password"] = "short"
    message = load_error(tmp_path, document)
    assert "clusters[0].digest_users[0]" in message
    assert "at least 8" in message


def test_phone_port_clash_in_file(tmp_path: Path) -> None:
    document = phone_document()
    document["clusters"][0]["phone_ports"] = {"secure": 5061}
    message = load_error(tmp_path, document)
    assert "clusters[0].phone_ports.secure" in message
    assert "profile 'Secure SIP Trunk Profile TLS'" in message
    assert "choose another phone port" in message


def test_no_answer_timeout_range_in_file(tmp_path: Path) -> None:
    document = phone_document()
    document["clusters"][0]["directory_numbers"][0]["no_answer_timeout"] = 0
    message = load_error(tmp_path, document)
    assert "directory_numbers[0].no_answer_timeout" in message
    assert "from 1 to 300" in message


def test_digest_profile_needs_inbound_user_in_file(tmp_path: Path) -> None:
    document = phone_document()
    cluster = document["clusters"][0]
    cluster["security_profiles"][0]["enable_digest_authentication"] = True
    del cluster["trunks"][0]["inbound_digest_user"]
    message = load_error(tmp_path, document)
    assert "clusters[0].trunks[0]" in message
    assert "needs inbound_digest_user" in message
