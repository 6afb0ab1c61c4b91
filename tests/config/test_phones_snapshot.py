"""Tests for the 0005 migration and the snapshot's phones, digest users and phone listeners."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
from config_helpers import TLS_PROFILE, TLS_TRUNK
from sqlalchemy import create_engine

from tlstrunk.config import (
    ConfigSnapshot,
    ConfigStore,
    DigestUserConfig,
    Listener,
    NodeConfig,
    PhoneConfig,
    Transport,
)
from tlstrunk.config.store import upgrade

PROFILE_COLUMNS = (
    "name, description, device_security_mode, incoming_transport, outgoing_transport, "
    "enable_digest_authentication, nonce_validity_time, x509_subject_name, incoming_port, "
    "enable_application_level_authorization, accept_presence_subscription, "
    "accept_out_of_dialog_refer, accept_unsolicited_notification, accept_replaces_header, "
    "transmit_security_status, allow_charging_header, sip_v150_outbound_sdp_offer_filtering, "
    "tls_policy"
)


def populate_0004(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine, "0004")
    statements = [
        "INSERT INTO node (name, address, description) VALUES ('CUCMA', '127.0.0.203', 'lab')",
        f"INSERT INTO security_profile ({PROFILE_COLUMNS}) VALUES ('TLS', '', 'Encrypted', "
        "'TLS', 'TLS', 0, 600, 'CUCM10', 5061, 0, 0, 0, 0, 0, 1, 0, 'Use Default Filter', "
        "'modern')",
        "INSERT INTO sip_trunk (name, description, device_pool, location, srtp_allowed, "
        "consider_traffic_secure, security_profile_id, sip_profile, dtmf_signaling_method, "
        "options_ping, options_ping_interval) VALUES ('CUCM10', '', 'Default', 'Hub_None', 1, "
        "'When using both sRTP and TLS', 1, 'Standard SIP Profile', 'No Preference', 1, 30)",
        "INSERT INTO trunk_destination (trunk_id, position, address, port) "
        "VALUES (1, 0, '127.0.0.200', 5061)",
        "INSERT INTO route_pattern (pattern, trunk_id, description, discard_digits, "
        "prefix_digits, called_party_mask) VALUES ('9898', 1, '', 'None', '', '')",
        "INSERT INTO directory_number (number, description, answer_mode) "
        "VALUES ('1018', 'desk', 'manual')",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def test_upgrade_from_0004_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "config.db"
    populate_0004(path)
    with ConfigStore(path) as store:
        snapshot = store.load_snapshot()
    assert snapshot.node == NodeConfig("CUCMA", "127.0.0.203", "lab")
    assert snapshot.node.realm == "CUCMA"
    trunk = snapshot.trunks["CUCM10"]
    assert trunk.options_ping_interval == 30
    assert trunk.srtp_allowed
    assert not trunk.destination_is_srv
    assert trunk.inbound_digest_user is None
    assert trunk.outbound_digest_user is None
    number = snapshot.directory_number("1018")
    assert number is not None
    assert number.description == "desk"
    assert number.no_answer_timeout == 12
    assert snapshot.analyze("9898").matched is not None
    assert snapshot.phones == {}
    assert snapshot.digest_users == {}
    with sqlite3.connect(path) as connection:
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == ("0005",)


def test_upgraded_database_takes_phones(tmp_path: Path) -> None:
    path = tmp_path / "config.db"
    populate_0004(path)
    with ConfigStore(path) as store:
        store.add_digest_user("alice", "correct horse")
        store.add_phone(PhoneConfig("SEP1", "1018", digest_user="alice"))
        trunk = store.get_trunk("CUCM10").to_spec()
        store.update_trunk(dataclasses.replace(trunk, outbound_digest_user="alice"))
        snapshot = store.load_snapshot()
    assert snapshot.phones["SEP1"].digest_user == "alice"
    assert snapshot.trunks["CUCM10"].outbound_digest_user == "alice"


@pytest.fixture
def phones(store: ConfigStore) -> ConfigStore:
    store.save_node(
        NodeConfig("CUCMA", "127.0.0.203", sip_realm="lab", phone_port=5060, phone_secure_port=5062)
    )
    store.add_security_profile(TLS_PROFILE)
    store.add_trunk(TLS_TRUNK)
    store.add_partition("Phones")
    store.add_directory_number("1018")
    store.add_directory_number("1018", "Phones")
    store.add_directory_number("2000")
    store.add_digest_user("alice", "correct horse")
    for name, partition in (("SEP-B", None), ("SEP-A", "Phones"), ("SEP-C", None)):
        store.add_phone(PhoneConfig(name, "1018", partition, digest_user="alice"))
    return store


def test_phones_for_number(phones: ConfigStore) -> None:
    snapshot = phones.load_snapshot()
    found = snapshot.phones_for_number("1018")
    assert [phone.name for phone in found] == ["SEP-A", "SEP-B", "SEP-C"]
    assert found[0].partition == "Phones"
    assert snapshot.phones_for_number("2000") == ()
    assert snapshot.phones_for_number("9999") == ()


def test_digest_user_lookup(phones: ConfigStore) -> None:
    snapshot = phones.load_snapshot()
    user = snapshot.digest_user("alice", "lab")
    assert isinstance(user, DigestUserConfig)
    assert user.has_password
    assert snapshot.digest_user("alice", "CUCMA") is None
    assert snapshot.digest_user("bob", "lab") is None


def test_listeners_with_phone_ports(phones: ConfigStore) -> None:
    listeners = phones.load_snapshot().listeners()
    summary = [(item.transport, item.port, item.phones) for item in listeners]
    assert summary == [
        (Transport.TCP, 5060, True),
        (Transport.TLS, 5061, False),
        (Transport.TLS, 5062, True),
        (Transport.UDP, 5060, True),
    ]
    assert all(item.profiles == () for item in listeners if item.phones)


def test_listener_defaults_to_trunks() -> None:
    listener = Listener(Transport.TLS, 5061, ())
    assert listener.phones is False


def test_build_without_phones() -> None:
    snapshot = ConfigSnapshot.build(NodeConfig("N", "127.0.0.1"), (), (), (), (), (), ())
    assert snapshot.phones_for_number("1018") == ()
    assert snapshot.digest_user("a", "N") is None
    assert snapshot.listeners() == []
