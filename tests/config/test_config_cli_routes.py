"""Tests for the routegroup and routelist commands and route lists in route commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from tlstrunk.admin import config_cmd

app = typer.Typer()
app.add_typer(config_cmd.profile_app, name="profile")
app.add_typer(config_cmd.trunk_app, name="trunk")
app.add_typer(config_cmd.routegroup_app, name="routegroup")
app.add_typer(config_cmd.routelist_app, name="routelist")
app.add_typer(config_cmd.route_app, name="route")

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_cmd, "console", Console(width=200))
    monkeypatch.setattr(config_cmd, "err_console", Console(width=200, stderr=True))


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    directory = str(tmp_path / "CUCMA")
    steps = [["profile", "add", "--node-dir", directory, "Plain"]]
    for name, address in (("T1", "127.0.0.201:5060"), ("T2", "127.0.0.202:5060")):
        steps.append(["trunk", "add", "--node-dir", directory, name, "--profile", "Plain",
                      "--destination", address])  # fmt: skip
    steps += [
        ["routegroup", "add", "--node-dir", directory, "RG", "--trunk", "T2", "--trunk", "T1"],
        ["routelist", "add", "--node-dir", directory, "RL", "--route-group", "RG"],
        ["route", "add", "--node-dir", directory, "9.1XXX", "--route-list", "RL",
         "--discard-digits", "predot", "--prefix-digits", "0"],
    ]  # fmt: skip
    for step in steps:
        code, output = invoke(*step)
        assert code == 0, output
    return tmp_path / "CUCMA"


def test_routegroup_list(node_dir: Path) -> None:
    code, output = invoke("routegroup", "list", "--node-dir", str(node_dir))
    assert code == 0
    assert "RG" in output
    assert "Top Down" in output
    assert "T2, T1" in output


def test_routelist_list(node_dir: Path) -> None:
    code, output = invoke("routelist", "list", "--node-dir", str(node_dir))
    assert code == 0
    assert "RL" in output


def test_route_list_shows_target_and_transform(node_dir: Path) -> None:
    code, output = invoke("route", "list", "--node-dir", str(node_dir))
    assert code == 0
    assert "route list RL" in output
    assert "discard PreDot, prefix 0" in output


def test_route_analyze_route_list(node_dir: Path) -> None:
    code, output = invoke("route", "analyze", "--node-dir", str(node_dir), "91234")
    assert code == 0, output
    assert "Called number after transformations: 01234." in output
    assert "route list RL, which tries these trunks in order" in output
    assert output.index("trunk T2") < output.index("trunk T1")


def test_route_add_needs_target(node_dir: Path) -> None:
    code, output = invoke("route", "add", "--node-dir", str(node_dir), "5XXX")
    assert code == 1
    assert "has no target; give it a trunk or a route list" in output


def test_routegroup_unknown_trunk(node_dir: Path) -> None:
    code, output = invoke("routegroup", "add", "--node-dir", str(node_dir), "X", "--trunk", "T9")
    assert code == 1
    assert "The trunk 'T9' does not exist" in output


def test_routelist_delete_in_use(node_dir: Path) -> None:
    code, output = invoke("routelist", "delete", "--node-dir", str(node_dir), "RL")
    assert code == 1
    assert "is the target of route pattern 9.1XXX" in output
