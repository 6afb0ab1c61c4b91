"""Tests for the configuration store: migrations, validation and transactions."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
from config_helpers import TLS_PROFILE, TLS_TRUNK
from sqlalchemy import create_engine, inspect

from tlstrunk.config import (
    AnswerMode,
    ConfigError,
    ConfigNotFoundError,
    ConfigStore,
    Destination,
    DeviceSecurityMode,
    IncomingTransport,
    SecurityProfileConfig,
    Transport,
)
from tlstrunk.config.enums import TlsPolicy
from tlstrunk.config.orm import Base
from tlstrunk.config.store import upgrade


def test_store_creates_schema_at_head(tmp_path: Path) -> None:
    path = tmp_path / "config.db"
    ConfigStore(path).close()
    with sqlite3.connect(path) as connection:
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == ("0005",)


def test_store_upgrade_keeps_profiles(tmp_path: Path) -> None:
    path = tmp_path / "config.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO security_profile (name, description, device_security_mode, "
            "incoming_transport, outgoing_transport, enable_digest_authentication, "
            "nonce_validity_time, x509_subject_name, incoming_port, "
            "enable_application_level_authorization, accept_presence_subscription, "
            "accept_out_of_dialog_refer, accept_unsolicited_notification, "
            "accept_replaces_header, transmit_security_status, allow_charging_header, "
            "sip_v150_outbound_sdp_offer_filtering) VALUES ('Old TLS', '', 'Encrypted', "
            "'TLS', 'TLS', 0, 600, 'PEER', 5061, 0, 0, 0, 0, 0, 1, 0, 'Use Default Filter')"
        )
    engine.dispose()
    store = ConfigStore(path)
    profile = store.get_security_profile("Old TLS")
    store.close()
    assert profile.tls_policy is TlsPolicy.MODERN
    assert profile.x509_subject_name == "PEER"


def test_migration_matches_orm_tables(tmp_path: Path) -> None:
    path = tmp_path / "config.db"
    ConfigStore(path).close()
    inspector = inspect(create_engine(f"sqlite:///{path}"))
    for table in Base.metadata.sorted_tables:
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        assert columns == set(table.columns.keys()), table.name


def test_reopening_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "config.db"
    with ConfigStore(path) as first:
        first.add_security_profile(TLS_PROFILE)
    with ConfigStore(path) as second:
        assert second.get_security_profile(TLS_PROFILE.name) == TLS_PROFILE


def test_node_set_and_replaced(store: ConfigStore) -> None:
    store.set_node("CUCMA", "127.0.0.203", "lab node")
    store.set_node("CUCMB", "127.0.0.204")
    node = store.get_node()
    assert node is not None
    assert (node.name, node.address) == ("CUCMB", "127.0.0.204")


def test_node_address_invalid(store: ConfigStore) -> None:
    with pytest.raises(ConfigError, match="Node address 'not an address'"):
        store.set_node("CUCMA", "not an address")


def test_profile_round_trip(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    assert store.list_security_profiles() == [TLS_PROFILE]


def test_profile_defaults_are_non_secure() -> None:
    profile = SecurityProfileConfig("Non Secure SIP Trunk Profile")
    assert profile.device_security_mode is DeviceSecurityMode.NON_SECURE
    assert profile.incoming_transport is IncomingTransport.TCP_UDP
    assert profile.nonce_validity_time == 600
    assert profile.incoming_port == 5060
    assert profile.sip_v150_outbound_sdp_offer_filtering == "Use Default Filter"


def test_profile_tls_without_subject_name(store: ConfigStore) -> None:
    profile = dataclasses.replace(TLS_PROFILE, x509_subject_name="  ")
    with pytest.raises(ConfigError, match=r"accepts TLS but has no X\.509 subject name"):
        store.add_security_profile(profile)


@pytest.mark.parametrize("mode", [DeviceSecurityMode.ENCRYPTED, DeviceSecurityMode.AUTHENTICATED])
def test_profile_secure_mode_needs_tls(store: ConfigStore, mode: DeviceSecurityMode) -> None:
    profile = dataclasses.replace(
        TLS_PROFILE, device_security_mode=mode, outgoing_transport=Transport.TCP
    )
    with pytest.raises(ConfigError, match=f"device security mode {mode.value}, which needs TLS"):
        store.add_security_profile(profile)


def test_profile_non_secure_with_tls(store: ConfigStore) -> None:
    profile = dataclasses.replace(TLS_PROFILE, device_security_mode=DeviceSecurityMode.NON_SECURE)
    with pytest.raises(ConfigError, match="uses TLS but its device security mode is Non Secure"):
        store.add_security_profile(profile)


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_profile_port_out_of_range(store: ConfigStore, port: int) -> None:
    with pytest.raises(ConfigError, match=f"port of profile .* {port} is not a valid port"):
        store.add_security_profile(dataclasses.replace(TLS_PROFILE, incoming_port=port))


@pytest.mark.parametrize("port", [1, 65535])
def test_profile_port_bounds_accepted(store: ConfigStore, port: int) -> None:
    store.add_security_profile(dataclasses.replace(TLS_PROFILE, incoming_port=port))
    assert store.get_security_profile(TLS_PROFILE.name).incoming_port == port


def test_profile_port_clash_with_other_transport(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    clash = SecurityProfileConfig("Plain", incoming_port=5061)
    with pytest.raises(ConfigError, match="already used by profile 'Secure SIP Trunk Profile TLS'"):
        store.add_security_profile(clash)


def test_profile_port_shared_with_same_transport(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    store.add_security_profile(dataclasses.replace(TLS_PROFILE, name="Second TLS"))
    assert len(store.list_security_profiles()) == 2


def test_profile_duplicate_name(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    with pytest.raises(ConfigError, match="already exists; choose another name"):
        store.add_security_profile(TLS_PROFILE)


def test_profile_subject_names_split() -> None:
    profile = dataclasses.replace(TLS_PROFILE, x509_subject_name="CUCM10, cucm10.example.com;B  C")
    assert profile.x509_subject_names == ("CUCM10", "cucm10.example.com", "B", "C")


def test_profile_delete_in_use(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    store.add_trunk(TLS_TRUNK)
    with pytest.raises(ConfigError, match="is used by trunk CUCM10"):
        store.delete_security_profile(TLS_PROFILE.name)


def test_trunk_round_trip(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    destinations = (Destination("127.0.0.200", 5061), Destination("::1", 5061))
    store.add_trunk(dataclasses.replace(TLS_TRUNK, destinations=destinations))
    trunk = store.get_trunk("CUCM10")
    assert trunk.destinations == destinations
    assert trunk.profile == TLS_PROFILE
    assert trunk.sends_srtp_keys
    assert trunk.to_spec() == dataclasses.replace(TLS_TRUNK, destinations=destinations)


def test_trunk_unknown_profile(store: ConfigStore) -> None:
    with pytest.raises(
        ConfigNotFoundError, match="security profile 'Secure SIP Trunk Profile TLS'"
    ):
        store.add_trunk(TLS_TRUNK)


@pytest.mark.parametrize("address", ["300.1.1.1", "bad host", "-lead.example.com", ""])
def test_trunk_destination_address_invalid(store: ConfigStore, address: str) -> None:
    store.add_security_profile(TLS_PROFILE)
    trunk = dataclasses.replace(TLS_TRUNK, destinations=(Destination(address, 5061),))
    with pytest.raises(ConfigError, match="is neither an IP address nor a host name"):
        store.add_trunk(trunk)


def test_trunk_destination_host_name_accepted(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    trunk = dataclasses.replace(TLS_TRUNK, destinations=(Destination("cucm10.example.com", 5061),))
    store.add_trunk(trunk)
    assert store.get_trunk("CUCM10").destinations[0].address == "cucm10.example.com"


@pytest.mark.parametrize("count", [0, 17])
def test_trunk_destination_count(store: ConfigStore, count: int) -> None:
    store.add_security_profile(TLS_PROFILE)
    destinations = tuple(Destination(f"127.0.0.{index + 1}", 5061) for index in range(count))
    with pytest.raises(ConfigError, match=f"has {count} destinations; give from 1 to 16"):
        store.add_trunk(dataclasses.replace(TLS_TRUNK, destinations=destinations))


def test_trunk_destination_port_invalid(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    trunk = dataclasses.replace(TLS_TRUNK, destinations=(Destination("127.0.0.200", 70000),))
    with pytest.raises(ConfigError, match="70000 is not a valid port"):
        store.add_trunk(trunk)


def test_route_pattern_syntax_error(cucma: ConfigStore) -> None:
    with pytest.raises(ConfigError, match=r"range 5-2 at character 2 runs backwards"):
        cucma.add_route_pattern("[5-2]XX", "CUCM10")


def test_route_pattern_unknown_trunk(cucma: ConfigStore) -> None:
    with pytest.raises(ConfigNotFoundError, match="trunk 'Nowhere' does not exist"):
        cucma.add_route_pattern("5XXX", "Nowhere")


def test_route_pattern_unknown_partition(cucma: ConfigStore) -> None:
    with pytest.raises(ConfigNotFoundError, match="partition 'Internal' does not exist"):
        cucma.add_route_pattern("5XXX", "CUCM10", partition="Internal")


def test_route_pattern_duplicate_in_partition(cucma: ConfigStore) -> None:
    with pytest.raises(ConfigError, match="9898 is already a route pattern in partition <None>"):
        cucma.add_route_pattern("9898", "CUCM10")


def test_route_pattern_clashes_with_directory_number(cucma: ConfigStore) -> None:
    with pytest.raises(ConfigError, match="1018 is already a directory number"):
        cucma.add_route_pattern("1018", "CUCM10")


def test_route_pattern_same_text_other_partition(cucma: ConfigStore) -> None:
    cucma.add_partition("Internal")
    cucma.add_route_pattern("9898", "CUCM10", partition="Internal")
    assert [(r.pattern, r.partition) for r in cucma.list_route_patterns()] == [
        ("9898", None),
        ("9898", "Internal"),
    ]


def test_route_pattern_delete(cucma: ConfigStore) -> None:
    cucma.delete_route_pattern("9898")
    assert cucma.list_route_patterns() == []
    with pytest.raises(ConfigNotFoundError, match="Route pattern 9898 in partition <None>"):
        cucma.delete_route_pattern("9898")


def test_trunk_delete_in_use(cucma: ConfigStore) -> None:
    with pytest.raises(ConfigError, match="is the target of route pattern 9898"):
        cucma.delete_trunk("CUCM10")


def test_directory_number_invalid(store: ConfigStore) -> None:
    with pytest.raises(ConfigError, match="Directory number '10XX' is not valid"):
        store.add_directory_number("10XX")


def test_directory_number_fields(store: ConfigStore) -> None:
    store.add_partition("Phones")
    store.add_css("PhoneCSS", ["Phones"])
    store.add_directory_number(
        "\\+4930123", "Phones", "lab phone", answer_mode=AnswerMode.MANUAL, css="PhoneCSS"
    )
    (number,) = store.list_directory_numbers()
    assert number.number == "\\+4930123"
    assert number.partition == "Phones"
    assert number.answer_mode is AnswerMode.MANUAL
    assert number.css == "PhoneCSS"


def test_css_keeps_partition_order(store: ConfigStore) -> None:
    for name in ("B", "A", "C"):
        store.add_partition(name)
    store.add_css("Everything", ["C", "A", "B"])
    (css,) = store.list_css()
    assert css.partitions == ("C", "A", "B")


def test_css_unknown_partition(store: ConfigStore) -> None:
    with pytest.raises(ConfigNotFoundError, match="partition 'Missing' does not exist"):
        store.add_css("Broken", ["Missing"])


def test_css_repeated_partition(store: ConfigStore) -> None:
    store.add_partition("A")
    with pytest.raises(ConfigError, match="lists partition A more than once"):
        store.add_css("Twice", ["A", "A"])


def test_partition_reserved_name(store: ConfigStore) -> None:
    with pytest.raises(ConfigError, match="reserved for patterns without a partition"):
        store.add_partition("<None>")


def test_partition_delete_in_use(store: ConfigStore) -> None:
    store.add_partition("A")
    store.add_css("CSS", ["A"])
    with pytest.raises(ConfigError, match="Partition 'A' is still used"):
        store.delete_partition("A")
    store.delete_css("CSS")
    store.delete_partition("A")
    assert store.list_partitions() == []


def test_batch_is_all_or_nothing(store: ConfigStore) -> None:
    with pytest.raises(ConfigError), store.batch() as writer:
        writer.add_security_profile(TLS_PROFILE)
        writer.add_trunk(TLS_TRUNK)
        writer.add_route_pattern("[2-5", "CUCM10")
    assert store.list_security_profiles() == []
    assert store.list_trunks() == []


def test_failed_write_leaves_earlier_data(cucma: ConfigStore) -> None:
    with pytest.raises(ConfigError):
        cucma.add_route_pattern("", "CUCM10")
    assert [r.pattern for r in cucma.list_route_patterns()] == ["9898"]


def test_store_rejects_non_database_file(tmp_path: Path) -> None:
    path = tmp_path / "config.db"
    path.write_bytes(b"this is not SQLite, just text " * 200)
    with pytest.raises(ConfigError, match="is not a usable configuration database"):
        ConfigStore(path)


def test_database_readable_by_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "node" / "config.db"
    with ConfigStore(path):
        pass
    assert path.stat().st_mode & 0o777 == 0o600
