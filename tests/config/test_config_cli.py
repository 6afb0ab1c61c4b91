"""Tests for the profile, trunk, route, dn, partition and css commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from tlstrunk.admin import config_cmd
from tlstrunk.admin.config_cmd import parse_destination
from tlstrunk.config import ConfigError, ConfigStore, Destination

app = typer.Typer()
app.add_typer(config_cmd.profile_app, name="profile")
app.add_typer(config_cmd.trunk_app, name="trunk")
app.add_typer(config_cmd.route_app, name="route")
app.add_typer(config_cmd.dn_app, name="dn")
app.add_typer(config_cmd.partition_app, name="partition")
app.add_typer(config_cmd.css_app, name="css")

runner = CliRunner()
PROFILE = "Secure SIP Trunk Profile TLS"


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich wraps at 80 columns when output is not a terminal; wide output keeps phrases whole
    monkeypatch.setattr(config_cmd, "console", Console(width=200))
    monkeypatch.setattr(config_cmd, "err_console", Console(width=200, stderr=True))


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "CUCMA"
    steps = [
        ["profile", "add", "--node-dir", str(directory), PROFILE, "--mode", "Encrypted",
         "--incoming-transport", "TLS", "--outgoing-transport", "TLS",
         "--x509-subject-name", "CUCM10", "--incoming-port", "5061",
         "--transmit-security-status"],
        ["trunk", "add", "--node-dir", str(directory), "CUCM10", "--profile", PROFILE,
         "--destination", "127.0.0.200:5061", "--srtp-allowed"],
        ["route", "add", "--node-dir", str(directory), "9898", "--trunk", "CUCM10"],
        ["dn", "add", "--node-dir", str(directory), "1018"],
    ]  # fmt: skip
    for step in steps:
        code, output = invoke(*step)
        assert code == 0, output
    return directory


def test_commands_write_database(node_dir: Path) -> None:
    with ConfigStore(node_dir / "config.db") as store:
        trunk = store.get_trunk("CUCM10")
        assert trunk.destinations == (Destination("127.0.0.200", 5061),)
        assert trunk.srtp_allowed
        assert trunk.profile.transmit_security_status
        assert [r.pattern for r in store.list_route_patterns()] == ["9898"]
        assert [n.number for n in store.list_directory_numbers()] == ["1018"]


def test_profile_list_and_show(node_dir: Path) -> None:
    code, output = invoke("profile", "list", "--node-dir", str(node_dir))
    assert code == 0
    assert PROFILE in output
    assert "Encrypted" in output
    code, output = invoke("profile", "show", "--node-dir", str(node_dir), PROFILE)
    assert code == 0
    assert "x509 subject name" in output
    assert "CUCM10" in output


def test_profile_add_optional_flags(tmp_path: Path) -> None:
    code, output = invoke(
        "profile", "add", "--node-dir", str(tmp_path), "Flags", "--accept-replaces-header",
        "--allow-charging-header", "--digest-authentication", "--nonce-validity-time", "30",
    )  # fmt: skip
    assert code == 0, output
    with ConfigStore(tmp_path / "config.db") as store:
        profile = store.get_security_profile("Flags")
    assert profile.accept_replaces_header
    assert profile.allow_charging_header
    assert profile.enable_digest_authentication
    assert profile.nonce_validity_time == 30
    assert not profile.accept_presence_subscription


def test_profile_mode_is_case_insensitive(tmp_path: Path) -> None:
    code, output = invoke(
        "profile", "add", "--node-dir", str(tmp_path), "Plain", "--mode", "non secure"
    )
    assert code == 0, output


def test_profile_add_rejected_names_fix(tmp_path: Path) -> None:
    code, output = invoke(
        "profile", "add", "--node-dir", str(tmp_path), "Bad", "--mode", "Encrypted",
        "--incoming-transport", "TLS", "--outgoing-transport", "TLS",
    )  # fmt: skip
    assert code == 1
    assert "has no X.509 subject name" in output


def test_trunk_list_and_show(node_dir: Path) -> None:
    code, output = invoke("trunk", "list", "--node-dir", str(node_dir))
    assert code == 0
    assert "127.0.0.200:5061" in output
    code, output = invoke("trunk", "show", "--node-dir", str(node_dir), "CUCM10")
    assert code == 0
    assert "sends SRTP keys" in output


def test_show_unknown_trunk(node_dir: Path) -> None:
    code, output = invoke("trunk", "show", "--node-dir", str(node_dir), "Nowhere")
    assert code == 1
    assert "trunk 'Nowhere' does not exist" in output


def test_route_add_bad_pattern(node_dir: Path) -> None:
    code, output = invoke("route", "add", "--node-dir", str(node_dir), "[2-5", "--trunk", "CUCM10")
    assert code == 1
    assert "is not closed" in output


def test_route_list_shows_sets_literally(node_dir: Path) -> None:
    code, output = invoke(
        "route", "add", "--node-dir", str(node_dir), "1[3-5]XX", "--trunk", "CUCM10"
    )
    assert code == 0, output
    code, output = invoke("route", "list", "--node-dir", str(node_dir))
    assert "1[3-5]XX" in output
    assert "<None>" in output


def test_route_analyze_to_trunk(node_dir: Path) -> None:
    invoke("route", "add", "--node-dir", str(node_dir), "98XX", "--trunk", "CUCM10")
    code, output = invoke("route", "analyze", "--node-dir", str(node_dir), "9898")
    assert code == 0, output
    assert "Matched pattern 9898 in partition <None>: it matches 1 string of 4 digits." in output
    assert "leaves by trunk CUCM10 to 127.0.0.200:5061 over TLS" in output
    assert "98XX" in output
    assert "more than the 1 of 9898" in output


def test_route_analyze_to_directory_number(node_dir: Path) -> None:
    code, output = invoke("route", "analyze", "--node-dir", str(node_dir), "1018")
    assert code == 0
    assert "directory number 1018 on this node" in output


def test_route_analyze_no_match(node_dir: Path) -> None:
    code, output = invoke("route", "analyze", "--node-dir", str(node_dir), "98")
    assert code == 1
    assert "No pattern matches these digits." in output
    assert "More digits could still match" in output


def test_route_analyze_with_css(node_dir: Path) -> None:
    directory = str(node_dir)
    assert invoke("partition", "add", "--node-dir", directory, "Internal")[0] == 0
    assert invoke("css", "add", "--node-dir", directory, "Lab", "--partition", "Internal")[0] == 0
    code, output = invoke(
        "route", "add", "--node-dir", directory, "98XX", "--trunk", "CUCM10",
        "--partition", "Internal",
    )  # fmt: skip
    assert code == 0, output
    code, output = invoke("route", "analyze", "--node-dir", directory, "--css", "Lab", "9800")
    assert code == 0, output
    assert "Matched pattern 98XX in partition Internal" in output
    assert "searches Internal, <None>" in output
    code, output = invoke("route", "analyze", "--node-dir", directory, "9800")
    assert code == 1


def test_route_analyze_unknown_css(node_dir: Path) -> None:
    code, output = invoke("route", "analyze", "--node-dir", str(node_dir), "--css", "Nope", "1")
    assert code == 1
    assert "Calling search space 'Nope' does not exist" in output


def test_missing_database_is_reported(tmp_path: Path) -> None:
    code, output = invoke("route", "list", "--node-dir", str(tmp_path / "typo"))
    assert code == 1
    assert "No configuration database at" in output
    assert not (tmp_path / "typo").exists()


def test_dn_list(node_dir: Path) -> None:
    code, output = invoke("dn", "list", "--node-dir", str(node_dir))
    assert code == 0
    assert "1018" in output
    assert "auto" in output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.200:5061", Destination("127.0.0.200", 5061)),
        ("127.0.0.200", Destination("127.0.0.200", 5060)),
        ("[::1]:5061", Destination("::1", 5061)),
        ("::1", Destination("::1", 5060)),
        ("cucm10.example.com:5061", Destination("cucm10.example.com", 5061)),
    ],
)
def test_parse_destination(text: str, expected: Destination) -> None:
    assert parse_destination(text) == expected


def test_parse_destination_bad_port() -> None:
    with pytest.raises(ConfigError, match="has port 'tls', which is not a number"):
        parse_destination("127.0.0.200:tls")


def test_destination_without_port_takes_5061_on_tls_profile(node_dir: Path) -> None:
    code, output = invoke(
        "trunk", "add", "--node-dir", str(node_dir), "CUCM11", "--profile", PROFILE,
        "--destination", "127.0.0.201",
    )  # fmt: skip
    assert code == 0, output
    with ConfigStore(node_dir / "config.db") as store:
        assert store.get_trunk("CUCM11").destinations == (Destination("127.0.0.201", 5061),)
