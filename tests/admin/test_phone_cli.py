"""Tests for the digestuser, phone, node set, trunk set and dn set commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from tlstrunk.admin import config_cmd, phone_cmd
from tlstrunk.config import ConfigStore, DeviceSecurityMode, IncomingTransport
from tlstrunk.sip.digest import compute_ha1

node_app = typer.Typer()
node_app.command("set")(phone_cmd.node_set)


@node_app.callback()
def node_group() -> None:
    """Keep "node" a group, as in the real command line, although it has one command here."""


app = typer.Typer()
app.add_typer(phone_cmd.digestuser_app, name="digestuser")
app.add_typer(phone_cmd.phone_app, name="phone")
app.add_typer(node_app, name="node")
app.add_typer(config_cmd.profile_app, name="profile")
app.add_typer(config_cmd.trunk_app, name="trunk")
app.add_typer(config_cmd.dn_app, name="dn")

runner = CliRunner()
PROFILE = "Secure SIP Trunk Profile TLS"
PASSWORD = "correct horse"


def invoke(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich wraps at 80 columns when output is not a terminal; wide output keeps phrases whole
    for module in (config_cmd, phone_cmd):
        monkeypatch.setattr(module, "console", Console(width=200))
        monkeypatch.setattr(module, "err_console", Console(width=200, stderr=True))


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "CUCMA"
    steps = [
        ["node", "set", "--node-dir", str(directory), "--name", "CUCMA",
         "--address", "127.0.0.203"],
        ["profile", "add", "--node-dir", str(directory), PROFILE, "--mode", "Encrypted",
         "--incoming-transport", "TLS", "--outgoing-transport", "TLS",
         "--x509-subject-name", "CUCM10", "--incoming-port", "5061"],
        ["trunk", "add", "--node-dir", str(directory), "CUCM10", "--profile", PROFILE,
         "--destination", "127.0.0.200:5061"],
        ["dn", "add", "--node-dir", str(directory), "1018"],
    ]  # fmt: skip
    for step in steps:
        code, output = invoke(*step)
        assert code == 0, output
    return directory


def open_store(node_dir: Path) -> ConfigStore:
    return ConfigStore(node_dir / "config.db")


def test_digestuser_add_from_file(node_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(PASSWORD + "\nignored\n", encoding="utf-8")
    code, output = invoke(
        "digestuser", "add", "--node-dir", str(node_dir), "alice", "--password-file", str(secret)
    )
    assert code == 0, output
    assert "Added digest user alice." in output
    with open_store(node_dir) as store:
        (user,) = store.list_digest_users()
    assert user.ha1_md5 == compute_ha1("alice", "CUCMA", PASSWORD)


def test_digestuser_add_prompts_twice(node_dir: Path) -> None:
    code, output = invoke(
        "digestuser", "add", "--node-dir", str(node_dir), "alice",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert code == 0, output
    assert PASSWORD not in output
    with open_store(node_dir) as store:
        (user,) = store.list_digest_users()
    assert user.ha1_sha256 == compute_ha1("alice", "CUCMA", PASSWORD, "SHA-256")


def test_digestuser_short_password_fails(node_dir: Path) -> None:
    code, output = invoke(
        "digestuser", "add", "--node-dir", str(node_dir), "alice", "--password", "short"
    )
    assert code == 1
    assert "digest user 'alice' has 5 characters; use at least 8" in output


def test_digestuser_list_hides_hashes(node_dir: Path) -> None:
    invoke("digestuser", "add", "--node-dir", str(node_dir), "alice", "--password", PASSWORD)
    code, output = invoke("digestuser", "list", "--node-dir", str(node_dir))
    assert code == 0, output
    assert "alice" in output
    assert "CUCMA" in output
    assert compute_ha1("alice", "CUCMA", PASSWORD) not in output
    assert compute_ha1("alice", "CUCMA", PASSWORD, "SHA-256") not in output


def test_realm_change_warns(node_dir: Path) -> None:
    invoke("digestuser", "add", "--node-dir", str(node_dir), "alice", "--password", PASSWORD)
    code, output = invoke("node", "set", "--node-dir", str(node_dir), "--realm", "lab")
    assert code == 0, output
    assert "realm changed from 'CUCMA' to 'lab'" in output
    assert "alice" in output
    assert "digestuser set" in output
    code, output = invoke("digestuser", "list", "--node-dir", str(node_dir))
    assert "must be set again" in output
    code, output = invoke(
        "digestuser", "set", "--node-dir", str(node_dir), "alice", "--password", PASSWORD
    )
    assert code == 0, output
    with open_store(node_dir) as store:
        (user,) = store.list_digest_users()
    assert user.ha1_md5 == compute_ha1("alice", "lab", PASSWORD)


def test_node_set_phone_ports(node_dir: Path) -> None:
    code, output = invoke(
        "node", "set", "--node-dir", str(node_dir), "--phone-port", "5070",
        "--phone-secure-port", "5072",
    )  # fmt: skip
    assert code == 0, output
    with open_store(node_dir) as store:
        node = store.get_node()
    assert node is not None
    assert (node.name, node.phone_port, node.phone_secure_port) == ("CUCMA", 5070, 5072)
    code, output = invoke("node", "set", "--node-dir", str(node_dir), "--phone-port", "0")
    assert code == 0, output
    with open_store(node_dir) as store:
        node = store.get_node()
    assert node is not None
    assert (node.phone_port, node.phone_secure_port) == (None, 5072)


def test_node_set_port_clash_fails(node_dir: Path) -> None:
    code, output = invoke("node", "set", "--node-dir", str(node_dir), "--phone-secure-port", "5061")
    assert code == 1
    assert "Phone port 5061 (TLS)" in output
    assert PROFILE in output


def test_node_set_first_time_needs_name(tmp_path: Path) -> None:
    code, output = invoke("node", "set", "--node-dir", str(tmp_path / "new"), "--realm", "x")
    assert code == 1
    assert "--name and --address" in output


def test_phone_round_trip(node_dir: Path) -> None:
    invoke("digestuser", "add", "--node-dir", str(node_dir), "alice", "--password", PASSWORD)
    code, output = invoke(
        "phone", "add", "--node-dir", str(node_dir), "SEP00AABBCCDDEE", "--dn", "1018",
        "--digest-user", "alice", "--security-mode", "Encrypted", "--transport", "TLS",
    )  # fmt: skip
    assert code == 0, output
    assert "no phone port for TLS" in output
    code, output = invoke("phone", "list", "--node-dir", str(node_dir))
    assert "SEP00AABBCCDDEE" in output
    assert "Encrypted" in output
    code, output = invoke(
        "phone", "set", "--node-dir", str(node_dir), "SEP00AABBCCDDEE", "--digest-user", "",
        "--description", "lobby",
    )  # fmt: skip
    assert code == 0, output
    with open_store(node_dir) as store:
        phone = store.get_phone("SEP00AABBCCDDEE")
    assert phone.digest_user is None
    assert phone.description == "lobby"
    assert phone.device_security_mode is DeviceSecurityMode.ENCRYPTED
    assert phone.transport is IncomingTransport.TLS
    code, output = invoke("phone", "remove", "--node-dir", str(node_dir), "SEP00AABBCCDDEE")
    assert code == 0, output
    with open_store(node_dir) as store:
        assert store.list_phones() == []


def test_phone_secure_mode_needs_tls(node_dir: Path) -> None:
    code, output = invoke(
        "phone", "add", "--node-dir", str(node_dir), "SEP1", "--dn", "1018",
        "--security-mode", "Authenticated",
    )  # fmt: skip
    assert code == 1
    assert "Phone 'SEP1' has device security mode Authenticated" in output
    assert "set the transport to TLS" in output


def test_digestuser_remove_in_use_fails(node_dir: Path) -> None:
    invoke("digestuser", "add", "--node-dir", str(node_dir), "alice", "--password", PASSWORD)
    invoke("phone", "add", "--node-dir", str(node_dir), "SEP1", "--dn", "1018",
           "--digest-user", "alice")  # fmt: skip
    code, output = invoke("digestuser", "remove", "--node-dir", str(node_dir), "alice")
    assert code == 1
    assert "used by phone SEP1" in output


def test_trunk_set_srv_and_digest(node_dir: Path) -> None:
    invoke("digestuser", "add", "--node-dir", str(node_dir), "cucma", "--password", PASSWORD,
           "--realm", "CUCM10")  # fmt: skip
    code, output = invoke(
        "trunk", "set", "--node-dir", str(node_dir), "CUCM10", "--srv",
        "--destination", "cucm10.example.com", "--outbound-digest-user", "cucma",
    )  # fmt: skip
    assert code == 0, output
    with open_store(node_dir) as store:
        trunk = store.get_trunk("CUCM10")
    assert trunk.destination_is_srv
    assert [(d.address, d.port) for d in trunk.destinations] == [("cucm10.example.com", 0)]
    assert trunk.outbound_digest_user == "cucma"
    assert trunk.profile.name == PROFILE
    code, output = invoke("trunk", "show", "--node-dir", str(node_dir), "CUCM10")
    assert "destination is srv" in output
    code, output = invoke(
        "trunk", "set", "--node-dir", str(node_dir), "CUCM10", "--outbound-digest-user", ""
    )
    assert code == 0, output
    with open_store(node_dir) as store:
        assert store.get_trunk("CUCM10").outbound_digest_user is None


def test_trunk_add_srv_rejects_address(node_dir: Path) -> None:
    code, output = invoke(
        "trunk", "add", "--node-dir", str(node_dir), "Far", "--profile", PROFILE,
        "--destination", "127.0.0.210", "--srv",
    )  # fmt: skip
    assert code == 1
    assert "'127.0.0.210' of trunk 'Far' is not a domain name" in output


def test_dn_no_answer_timeout(node_dir: Path) -> None:
    code, output = invoke(
        "dn", "add", "--node-dir", str(node_dir), "2000", "--no-answer-timeout", "25"
    )
    assert code == 0, output
    code, output = invoke("dn", "set", "--node-dir", str(node_dir), "1018",
                          "--no-answer-timeout", "40")  # fmt: skip
    assert code == 0, output
    code, output = invoke("dn", "list", "--node-dir", str(node_dir))
    assert "25 s" in output
    assert "40 s" in output
    code, output = invoke("dn", "set", "--node-dir", str(node_dir), "1018",
                          "--no-answer-timeout", "301")  # fmt: skip
    assert code == 1
    assert "no-answer timeout 301 of directory number 1018" in output
    code, output = invoke("dn", "set", "--node-dir", str(node_dir), "3000")
    assert code == 1
    assert "Directory number 3000 in partition <None> does not exist" in output
