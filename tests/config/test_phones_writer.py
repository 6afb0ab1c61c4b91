"""Tests for writes of digest users, phones, phone ports, SRV trunks and no-answer timeouts."""

from __future__ import annotations

import dataclasses

import pytest
from config_helpers import TLS_PROFILE, TLS_TRUNK

from tlstrunk.config import (
    ConfigError,
    ConfigNotFoundError,
    ConfigStore,
    Destination,
    DeviceSecurityMode,
    DirectoryNumberConfig,
    IncomingTransport,
    NodeConfig,
    PhoneConfig,
    SecurityProfileConfig,
    TrunkSpec,
)
from tlstrunk.sip.digest import compute_ha1

PASSWORD = "correct horse"
PHONE = PhoneConfig("SEP00AABBCCDDEE", "1018", digest_user="alice")
DIGEST_PROFILE = SecurityProfileConfig(
    name="Digest TCP", incoming_port=5070, enable_digest_authentication=True
)


@pytest.fixture
def node(store: ConfigStore) -> ConfigStore:
    store.set_node("CUCMA", "127.0.0.203")
    store.add_directory_number("1018")
    return store


# --- digest users -----------------------------------------------------------


def test_digest_user_stores_ha1_only(node: ConfigStore) -> None:
    node.add_digest_user("alice", PASSWORD)
    (user,) = node.list_digest_users()
    assert user.realm == "CUCMA"
    assert user.ha1_md5 == compute_ha1("alice", "CUCMA", PASSWORD, "MD5")
    assert user.ha1_sha256 == compute_ha1("alice", "CUCMA", PASSWORD, "SHA-256")
    assert PASSWORD not in repr(user)


def test_digest_user_other_realm(node: ConfigStore) -> None:
    node.add_digest_user("alice", PASSWORD, realm="cucm10.example.com")
    (user,) = node.list_digest_users()
    assert user.realm == "cucm10.example.com"
    assert user.ha1_md5 == compute_ha1("alice", "cucm10.example.com", PASSWORD)


@pytest.mark.parametrize("password", ["", "seven77"])
def test_short_password_rejected(node: ConfigStore, password: str) -> None:
    with pytest.raises(ConfigError) as caught:
        node.add_digest_user("alice", password)
    message = str(caught.value)
    assert "'alice'" in message
    assert f"has {len(password)} characters" in message
    assert "at least 8" in message
    assert node.list_digest_users() == []


def test_digest_user_needs_node_or_realm(store: ConfigStore) -> None:
    with pytest.raises(ConfigError) as caught:
        store.add_digest_user("alice", PASSWORD)
    assert "'alice'" in str(caught.value)
    assert "--realm" in str(caught.value)
    assert "node set" in str(caught.value)


def test_duplicate_digest_user_rejected(node: ConfigStore) -> None:
    node.add_digest_user("alice", PASSWORD)
    with pytest.raises(ConfigError) as caught:
        node.add_digest_user("alice", PASSWORD)
    assert "'alice' already exists in realm 'CUCMA'" in str(caught.value)
    assert "digestuser set" in str(caught.value)


def test_digest_user_name_with_quote_rejected(node: ConfigStore) -> None:
    with pytest.raises(ConfigError) as caught:
        node.add_digest_user('al"ice', PASSWORD)
    assert "'al\"ice'" in str(caught.value)
    assert "quote" in str(caught.value)


def test_set_password_changes_hashes(node: ConfigStore) -> None:
    node.add_digest_user("alice", PASSWORD)
    node.set_digest_user("alice", password="another secret")
    (user,) = node.list_digest_users()
    assert user.ha1_md5 == compute_ha1("alice", "CUCMA", "another secret")


def test_ambiguous_digest_user_needs_realm(node: ConfigStore) -> None:
    node.add_digest_user("alice", PASSWORD)
    node.add_digest_user("alice", PASSWORD, realm="far.example.com")
    with pytest.raises(ConfigError) as caught:
        node.delete_digest_user("alice")
    assert "'CUCMA', 'far.example.com'" in str(caught.value)
    assert "--realm" in str(caught.value)
    node.delete_digest_user("alice", "far.example.com")
    assert [user.realm for user in node.list_digest_users()] == ["CUCMA"]


def test_unknown_digest_user_not_found(node: ConfigStore) -> None:
    with pytest.raises(ConfigNotFoundError) as caught:
        node.set_digest_user("bob", password=PASSWORD)
    assert "'bob'" in str(caught.value)
    assert "digestuser add" in str(caught.value)


def test_remove_used_digest_user_names_users(node: ConfigStore) -> None:
    node.add_digest_user("alice", PASSWORD)
    node.add_phone(PHONE)
    node.add_security_profile(TLS_PROFILE)
    node.add_trunk(dataclasses.replace(TLS_TRUNK, outbound_digest_user="alice"))
    with pytest.raises(ConfigError) as caught:
        node.delete_digest_user("alice")
    message = str(caught.value)
    assert "phone SEP00AABBCCDDEE" in message
    assert "trunk CUCM10 (outbound)" in message
    assert "another digest user or none" in message


def test_remove_outbound_user_keeps_other_realm(node: ConfigStore) -> None:
    node.add_digest_user("peer", PASSWORD, realm="a.example.com")
    node.add_digest_user("peer", PASSWORD, realm="b.example.com")
    node.add_security_profile(TLS_PROFILE)
    node.add_trunk(dataclasses.replace(TLS_TRUNK, outbound_digest_user="peer"))
    node.delete_digest_user("peer", "a.example.com")
    assert node.get_trunk("CUCM10").outbound_digest_user == "peer"


# --- realm changes ----------------------------------------------------------


def test_realm_change_clears_local_users(node: ConfigStore) -> None:
    node.add_digest_user("alice", PASSWORD)
    node.add_digest_user("peer", PASSWORD, realm="far.example.com")
    node.add_phone(PHONE)
    moved = node.save_node(NodeConfig("CUCMA", "127.0.0.203", sip_realm="cucma.example.com"))
    assert moved == ("alice",)
    users = {(user.name, user.realm): user for user in node.list_digest_users()}
    alice = users[("alice", "cucma.example.com")]
    assert not alice.has_password
    assert users[("peer", "far.example.com")].has_password
    assert node.get_phone(PHONE.name).digest_user == "alice"


def test_set_node_keeps_realm_and_ports(node: ConfigStore) -> None:
    node.save_node(NodeConfig("CUCMA", "127.0.0.203", sip_realm="lab", phone_port=5080))
    assert node.set_node("CUCMA", "127.0.0.204", "moved") == ()
    saved = node.get_node()
    assert saved == NodeConfig("CUCMA", "127.0.0.204", "moved", "lab", 5080, None)


def test_node_rename_moves_default_realm(node: ConfigStore) -> None:
    node.add_digest_user("alice", PASSWORD)
    assert node.set_node("CUCMB", "127.0.0.203") == ("alice",)
    (user,) = node.list_digest_users()
    assert user.realm == "CUCMB"


# --- phone ports --------------------------------------------------------------


def test_phone_port_clash_with_profile(node: ConfigStore) -> None:
    node.add_security_profile(TLS_PROFILE)
    with pytest.raises(ConfigError) as caught:
        node.save_node(NodeConfig("CUCMA", "127.0.0.203", phone_port=5061))
    message = str(caught.value)
    assert "Phone port 5061" in message
    assert "'Secure SIP Trunk Profile TLS'" in message
    assert "transport TLS" in message
    assert "choose another phone port" in message
    assert node.get_node() == NodeConfig("CUCMA", "127.0.0.203")


def test_phone_port_beside_udp_profile(node: ConfigStore) -> None:
    node.add_security_profile(
        SecurityProfileConfig("UDP only", incoming_transport=IncomingTransport.UDP)
    )
    node.save_node(NodeConfig("CUCMA", "127.0.0.203", phone_secure_port=5060))
    with pytest.raises(ConfigError, match="Phone port 5060 \\(TCP\\+UDP\\)"):
        node.save_node(NodeConfig("CUCMA", "127.0.0.203", phone_port=5060))


def test_profile_clash_with_phone_port(node: ConfigStore) -> None:
    node.save_node(NodeConfig("CUCMA", "127.0.0.203", phone_port=5060, phone_secure_port=5061))
    with pytest.raises(ConfigError) as caught:
        node.add_security_profile(TLS_PROFILE)
    message = str(caught.value)
    assert "Incoming port 5061 with transport TLS" in message
    assert "'Secure SIP Trunk Profile TLS'" in message
    assert "phone port for TLS" in message
    assert "node set" in message


def test_equal_phone_ports_rejected(node: ConfigStore) -> None:
    with pytest.raises(ConfigError) as caught:
        node.save_node(NodeConfig("CUCMA", "127.0.0.203", phone_port=5060, phone_secure_port=5060))
    assert "both 5060" in str(caught.value)
    assert "choose two ports" in str(caught.value)


@pytest.mark.parametrize("port", [0, 65536])
def test_phone_port_range(node: ConfigStore, port: int) -> None:
    with pytest.raises(ConfigError) as caught:
        node.save_node(NodeConfig("CUCMA", "127.0.0.203", phone_port=port))
    assert f"phone port of node 'CUCMA' {port} is not a valid port" in str(caught.value)
    assert "1 to 65535" in str(caught.value)


# --- phones -------------------------------------------------------------------


def test_phone_round_trip(node: ConfigStore) -> None:
    node.add_digest_user("alice", PASSWORD)
    phone = dataclasses.replace(
        PHONE,
        device_security_mode=DeviceSecurityMode.ENCRYPTED,
        transport=IncomingTransport.TLS,
        description="desk",
    )
    node.add_phone(phone)
    assert node.list_phones() == [phone]
    changed = dataclasses.replace(phone, digest_user=None, description="lobby")
    node.update_phone(changed)
    assert node.get_phone(phone.name) == changed
    node.delete_phone(phone.name)
    assert node.list_phones() == []


@pytest.mark.parametrize("mode", [DeviceSecurityMode.AUTHENTICATED, DeviceSecurityMode.ENCRYPTED])
def test_secure_phone_needs_tls(node: ConfigStore, mode: DeviceSecurityMode) -> None:
    phone = PhoneConfig("SEP1", "1018", device_security_mode=mode, transport=IncomingTransport.TCP)
    with pytest.raises(ConfigError) as caught:
        node.add_phone(phone)
    message = str(caught.value)
    assert "'SEP1'" in message
    assert mode.value in message
    assert "transport is TCP" in message
    assert "set the transport to TLS" in message


def test_phone_unknown_digest_user(node: ConfigStore) -> None:
    with pytest.raises(ConfigNotFoundError) as caught:
        node.add_phone(PHONE)
    message = str(caught.value)
    assert "'alice' of phone SEP00AABBCCDDEE" in message
    assert "digestuser add" in message


def test_phone_digest_user_in_other_realm(node: ConfigStore) -> None:
    node.add_digest_user("alice", PASSWORD, realm="far.example.com")
    with pytest.raises(ConfigError) as caught:
        node.add_phone(PHONE)
    message = str(caught.value)
    assert "only in realm 'far.example.com'" in message
    assert "add the user in realm 'CUCMA'" in message


def test_phone_unknown_directory_number(node: ConfigStore) -> None:
    with pytest.raises(ConfigNotFoundError) as caught:
        node.add_phone(PhoneConfig("SEP1", "2000"))
    message = str(caught.value)
    assert "directory number 2000 in partition <None>" in message
    assert "dn add" in message


def test_phone_in_partition(node: ConfigStore) -> None:
    node.add_partition("Phones")
    node.add_directory_number("1018", "Phones")
    node.add_phone(PhoneConfig("SEP1", "1018", partition="Phones"))
    assert node.get_phone("SEP1").partition == "Phones"


def test_duplicate_phone_rejected(node: ConfigStore) -> None:
    node.add_phone(PhoneConfig("SEP1", "1018"))
    with pytest.raises(ConfigError, match="phone named 'SEP1' already exists"):
        node.add_phone(PhoneConfig("SEP1", "1018"))


def test_directory_number_with_phone_not_deleted(node: ConfigStore) -> None:
    node.add_phone(PhoneConfig("SEP1", "1018"))
    with pytest.raises(ConfigError) as caught:
        node.delete_directory_number("1018")
    assert "1018 is the line of phone SEP1" in str(caught.value)
    assert "remove those phones" in str(caught.value)


# --- directory numbers and trunks -------------------------------------------


def test_no_answer_timeout_round_trip(node: ConfigStore) -> None:
    node.add_directory_number("2000", no_answer_timeout=30)
    numbers = {entry.number: entry for entry in node.list_directory_numbers()}
    assert numbers["1018"].no_answer_timeout == 12
    assert numbers["2000"].no_answer_timeout == 30
    node.update_directory_number(dataclasses.replace(numbers["2000"], no_answer_timeout=300))
    assert node.load_snapshot().directory_number("2000") == DirectoryNumberConfig(
        "2000", no_answer_timeout=300
    )


@pytest.mark.parametrize("seconds", [0, 301])
def test_no_answer_timeout_range(node: ConfigStore, seconds: int) -> None:
    with pytest.raises(ConfigError) as caught:
        node.add_directory_number("2000", no_answer_timeout=seconds)
    message = str(caught.value)
    assert f"no-answer timeout {seconds} of directory number 2000" in message
    assert "from 1 to 300" in message


def test_srv_trunk_round_trip(node: ConfigStore) -> None:
    node.add_security_profile(TLS_PROFILE)
    trunk = TrunkSpec(
        "CUCM10",
        TLS_PROFILE.name,
        (Destination("cucm10.example.com", 0),),
        destination_is_srv=True,
    )
    node.add_trunk(trunk)
    assert node.get_trunk("CUCM10").to_spec() == trunk


def test_srv_trunk_rejects_ip_address(node: ConfigStore) -> None:
    node.add_security_profile(TLS_PROFILE)
    trunk = TrunkSpec(
        "CUCM10", TLS_PROFILE.name, (Destination("127.0.0.200", 0),), destination_is_srv=True
    )
    with pytest.raises(ConfigError) as caught:
        node.add_trunk(trunk)
    message = str(caught.value)
    assert "'127.0.0.200' of trunk 'CUCM10' is not a domain name" in message
    assert "turn SRV off" in message


def test_port_zero_needs_srv(node: ConfigStore) -> None:
    node.add_security_profile(TLS_PROFILE)
    trunk = TrunkSpec("CUCM10", TLS_PROFILE.name, (Destination("cucm10.example.com", 0),))
    with pytest.raises(ConfigError, match="port of trunk 'CUCM10' 0 is not a valid port"):
        node.add_trunk(trunk)


def test_digest_profile_needs_inbound_user(node: ConfigStore) -> None:
    node.add_security_profile(DIGEST_PROFILE)
    trunk = TrunkSpec("Far", DIGEST_PROFILE.name, (Destination("127.0.0.210"),))
    with pytest.raises(ConfigError) as caught:
        node.add_trunk(trunk)
    message = str(caught.value)
    assert "'Far'" in message
    assert "'Digest TCP'" in message
    assert "--inbound-digest-user" in message
    node.add_digest_user("far", PASSWORD)
    node.add_trunk(dataclasses.replace(trunk, inbound_digest_user="far"))
    assert node.get_trunk("Far").inbound_digest_user == "far"


def test_update_trunk_keeps_references(node: ConfigStore) -> None:
    node.add_security_profile(TLS_PROFILE)
    node.add_trunk(TLS_TRUNK)
    node.add_route_pattern("9898", "CUCM10")
    new = dataclasses.replace(
        TLS_TRUNK,
        destinations=(Destination("127.0.0.201", 5061), Destination("127.0.0.202", 5061)),
        srtp_allowed=False,
    )
    node.update_trunk(new)
    assert node.get_trunk("CUCM10").to_spec() == new
    assert node.list_route_patterns()[0].trunk == "CUCM10"


def test_update_trunk_validates(node: ConfigStore) -> None:
    node.add_security_profile(TLS_PROFILE)
    node.add_trunk(TLS_TRUNK)
    bad = dataclasses.replace(TLS_TRUNK, inbound_digest_user="nobody")
    with pytest.raises(ConfigNotFoundError, match="'nobody' of trunk CUCM10"):
        node.update_trunk(bad)
    assert node.get_trunk("CUCM10").to_spec() == TLS_TRUNK


def test_clear_removes_phones_and_users(node: ConfigStore) -> None:
    node.add_digest_user("alice", PASSWORD)
    node.add_phone(PHONE)
    with node.batch() as writer:
        writer.clear()
    assert node.list_phones() == []
    assert node.list_digest_users() == []
