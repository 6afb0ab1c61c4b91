"""Tests for the OPTIONS ping settings of SIP trunks: store, snapshot, topology, CLI."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from config_helpers import TLS_PROFILE, TLS_TRUNK
from rich.console import Console
from typer.testing import CliRunner

from tlstrunk.admin import config_cmd
from tlstrunk.config import ConfigError, ConfigStore
from tlstrunk.config.topology import TopologyError, apply_cluster, load_topology

EXAMPLE = Path(__file__).parents[2] / "examples" / "two-clusters.yaml"
PINGED = dataclasses.replace(TLS_TRUNK, options_ping=True, options_ping_interval=30)


def test_trunk_defaults_ping_off(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    store.add_trunk(TLS_TRUNK)
    trunk = store.get_trunk(TLS_TRUNK.name)
    assert trunk.options_ping is False
    assert trunk.options_ping_interval == 60


def test_trunk_ping_round_trip(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    store.add_trunk(PINGED)
    trunk = store.get_trunk(PINGED.name)
    assert trunk.options_ping is True
    assert trunk.options_ping_interval == 30
    assert trunk.to_spec() == PINGED


def test_snapshot_lists_pinged_trunks(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    store.add_trunk(PINGED)
    store.add_trunk(dataclasses.replace(TLS_TRUNK, name="Quiet"))
    snapshot = store.load_snapshot()
    assert [trunk.name for trunk in snapshot.options_ping_trunks()] == [PINGED.name]
    assert snapshot.trunks[PINGED.name].options_ping_interval == 30


@pytest.mark.parametrize("interval", [4, 3601, 0, -60])
def test_ping_interval_out_of_range(store: ConfigStore, interval: int) -> None:
    store.add_security_profile(TLS_PROFILE)
    trunk = dataclasses.replace(PINGED, options_ping_interval=interval)
    with pytest.raises(ConfigError) as caught:
        store.add_trunk(trunk)
    message = str(caught.value)
    assert f"OPTIONS ping interval {interval}" in message
    assert "from 5 to 3600" in message
    assert store.list_trunks() == []


@pytest.mark.parametrize("interval", [5, 3600])
def test_ping_interval_limits_accepted(store: ConfigStore, interval: int) -> None:
    store.add_security_profile(TLS_PROFILE)
    store.add_trunk(dataclasses.replace(PINGED, options_ping_interval=interval))
    assert store.get_trunk(PINGED.name).options_ping_interval == interval


def test_ping_setting_must_be_boolean(store: ConfigStore) -> None:
    store.add_security_profile(TLS_PROFILE)
    trunk = dataclasses.replace(PINGED, options_ping="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="use true or false"):
        store.add_trunk(trunk)


# --- topology -------------------------------------------------------------


def example_with_ping(tmp_path: Path, **settings: Any) -> Path:
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    document["clusters"][0]["trunks"][0].update(settings)
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_topology_ping_keys_optional() -> None:
    trunk = load_topology(EXAMPLE).clusters[0].trunks[0]
    assert trunk.options_ping is False
    assert trunk.options_ping_interval == 60


def test_topology_ping_applied(tmp_path: Path, store: ConfigStore) -> None:
    path = example_with_ping(tmp_path, options_ping=True, options_ping_interval=15)
    cluster = load_topology(path).clusters[0]
    apply_cluster(store, cluster)
    trunk = store.get_trunk(cluster.trunks[0].name)
    assert trunk.options_ping is True
    assert trunk.options_ping_interval == 15


def test_topology_bad_ping_interval(tmp_path: Path) -> None:
    path = example_with_ping(tmp_path, options_ping=True, options_ping_interval=2)
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    message = str(caught.value)
    assert "clusters[0].trunks[0]" in message
    assert "OPTIONS ping interval 2" in message


def test_topology_ping_not_boolean(tmp_path: Path) -> None:
    path = example_with_ping(tmp_path, options_ping="often")
    with pytest.raises(TopologyError, match=r"trunks\[0\]\.options_ping: expected true or false"):
        load_topology(path)


# --- CLI ------------------------------------------------------------------

app = typer.Typer()
app.add_typer(config_cmd.profile_app, name="profile")
app.add_typer(config_cmd.trunk_app, name="trunk")
runner = CliRunner()
PROFILE = "Secure SIP Trunk Profile TLS"


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_cmd, "console", Console(width=200))
    monkeypatch.setattr(config_cmd, "err_console", Console(width=200, stderr=True))


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "CUCMA"
    code, output = invoke(
        "profile", "add", "--node-dir", str(directory), PROFILE, "--mode", "Encrypted",
        "--incoming-transport", "TLS", "--outgoing-transport", "TLS",
        "--x509-subject-name", "CUCM10", "--incoming-port", "5061",
    )  # fmt: skip
    assert code == 0, output
    return directory


def test_cli_trunk_add_with_ping(node_dir: Path) -> None:
    code, output = invoke(
        "trunk", "add", "--node-dir", str(node_dir), "CUCM10", "--profile", PROFILE,
        "--destination", "127.0.0.200:5061", "--options-ping", "--options-ping-interval", "20",
    )  # fmt: skip
    assert code == 0, output
    with ConfigStore(node_dir / "config.db") as store:
        trunk = store.get_trunk("CUCM10")
    assert trunk.options_ping is True
    assert trunk.options_ping_interval == 20
    code, output = invoke("trunk", "list", "--node-dir", str(node_dir))
    assert code == 0, output
    assert "OPTIONS ping" in output
    assert "every 20 s" in output
    code, output = invoke("trunk", "show", "--node-dir", str(node_dir), "CUCM10")
    assert code == 0, output
    assert "options ping interval" in output
    assert "20 s" in output


def test_cli_trunk_ping_off_by_default(node_dir: Path) -> None:
    code, output = invoke(
        "trunk", "add", "--node-dir", str(node_dir), "CUCM10", "--profile", PROFILE,
        "--destination", "127.0.0.200:5061",
    )  # fmt: skip
    assert code == 0, output
    code, output = invoke("trunk", "list", "--node-dir", str(node_dir))
    assert "off" in output


def test_cli_trunk_bad_ping_interval(node_dir: Path) -> None:
    code, output = invoke(
        "trunk", "add", "--node-dir", str(node_dir), "CUCM10", "--profile", PROFILE,
        "--destination", "127.0.0.200:5061", "--options-ping", "--options-ping-interval", "1",
    )  # fmt: skip
    assert code == 1
    assert "OPTIONS ping interval 1 of trunk 'CUCM10' is not valid" in output
