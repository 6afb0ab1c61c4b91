"""Ladders and `tlstrunk trace` on the traces of a real two-node call over TLS on loopback."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lab_support import example_topology_on_free_ports, provision_lab
from tlstrunk.admin.trace_cmd import app
from tlstrunk.callcontrol.node import Node
from tlstrunk.diag.ladder import build_ladder, render_html, render_svg, render_text
from tlstrunk.observe.trace import TraceWriter

EXCHANGE = ["INVITE", "100 Trying (INVITE)", "180 Ringing (INVITE)", "200 OK (INVITE)",
            "ACK", "BYE", "200 OK (BYE)"]


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], str]:
    directory = tmp_path_factory.mktemp("lab")
    paths = provision_lab(directory, example_topology_on_free_ports())

    async def scenario() -> str:
        nodes = [Node(node_paths) for node_paths in paths.values()]
        for node in nodes:
            await node.start()
        try:
            report = await nodes[list(paths).index("CUCMA")].place_call("1018", "9898", 0.05)
        finally:
            for node in nodes:
                await node.stop()
        assert report.state == "cleared", report.reason
        return report.call_id

    call_id = asyncio.run(scenario())
    return {name: node_paths.root for name, node_paths in paths.items()}, call_id


def test_ladder_of_two_nodes_shows_each_message_once(call: tuple[dict[str, Path], str]) -> None:
    dirs, call_id = call
    ladder = build_ladder([dirs["CUCMA"], dirs["CUCM10"]], call_id)
    assert [row.label for row in ladder.messages] == EXCHANGE
    assert [key for key, _label in ladder.columns] == ["CUCMA", "CUCM10"]
    invite = ladder.messages[0]
    assert (invite.source, invite.target) == ("CUCMA", "CUCM10")
    assert set(invite.observers) == {"CUCMA", "CUCM10"}
    notes = [row.label for row in ladder.rows if row.is_note]
    assert any("Certificate indication" in note and "CN=CUCM10" in note for note in notes)
    assert any("Connection created" in note for note in notes)
    text = render_text(ladder)
    positions = [text.find(label, text.find("INVITE")) for label in EXCHANGE]
    assert -1 not in positions
    assert positions == sorted(positions)


def test_ladder_of_one_node_names_the_far_host_by_address(
    call: tuple[dict[str, Path], str],
) -> None:
    dirs, call_id = call
    ladder = build_ladder([dirs["CUCM10"]], call_id)
    assert [row.label for row in ladder.messages] == EXCHANGE
    assert ladder.columns[1][0].startswith("127.")
    assert "(trunk CUCMA)" in ladder.columns[1][1]


def test_svg_is_xml_with_the_labels(call: tuple[dict[str, Path], str]) -> None:
    dirs, call_id = call
    root = ET.fromstring(render_svg(build_ladder(list(dirs.values()), call_id)))
    texts = [element.text or "" for element in root.iter("{http://www.w3.org/2000/svg}text")]
    labels = [text for text in texts if text in EXCHANGE]
    assert labels == EXCHANGE


def test_html_escapes_display_names(tmp_path: Path) -> None:
    root = tmp_path / "NODE"
    trace = TraceWriter(root / "traces" / "sdl.txt", root / "traces" / "sdl.jsonl")
    trace.info("CallManager", "Node NODE started on 127.0.0.9")
    trace.detailed(
        "SIPUdp",
        "Outgoing SIP UDP message to 127.0.0.8 on port 5060\n%s",
        'INVITE sip:1@127.0.0.8 SIP/2.0\r\nFrom: "<b>Tom & Jerry</b>" <sip:2@127.0.0.9>;tag=1\r\n'
        "Call-ID: esc@1\r\nCSeq: 1 INVITE\r\n\r\n",
    )
    trace.close()
    page = render_html(build_ladder([root], "esc@1"))
    assert "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;" in page
    assert "<b>Tom" not in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")


def test_cli_get_filters_by_call_id(call: tuple[dict[str, Path], str], tmp_path: Path) -> None:
    dirs, call_id = call
    result = CliRunner().invoke(app, ["get", "--node-dir", str(dirs["CUCMA"]),
                                      "--call-id", call_id, "--component", "SIPTcp"])
    assert result.exit_code == 0, result.output
    assert "INVITE sip:9898" in result.output
    assert "|SIPTcp" in result.output
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(app, [
        "get", "--node-dir", str(dirs["CUCMA"]), "--node-dir", str(dirs["CUCM10"]),
        "--call-id", call_id, "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {record["node"] for record in records} == {"CUCMA", "CUCM10"}
    times = [record["time"] for record in records]
    assert times == sorted(times)


def test_cli_ladder_writes_svg_and_html(call: tuple[dict[str, Path], str], tmp_path: Path) -> None:
    dirs, call_id = call
    svg, page = tmp_path / "call.svg", tmp_path / "call.html"
    result = CliRunner().invoke(app, [
        "ladder", "--node-dir", str(dirs["CUCMA"]), "--node-dir", str(dirs["CUCM10"]),
        "--call-id", call_id, "--svg", str(svg), "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert "200 OK (BYE)" in result.output
    ET.parse(svg)
    assert "<!DOCTYPE html>" in page.read_text()


def test_cli_reports_unknown_call_and_missing_traces(
    call: tuple[dict[str, Path], str], tmp_path: Path,
) -> None:
    dirs, _call_id = call
    result = CliRunner().invoke(app, ["ladder", "--node-dir", str(dirs["CUCMA"]),
                                      "--call-id", "nobody@nowhere"])
    assert result.exit_code == 1
    assert "No SIP messages with Call-ID nobody@nowhere" in result.output
    result = CliRunner().invoke(app, ["get", "--node-dir", str(dirs["CUCMA"]),
                                      "--call-id", "nobody@nowhere"])
    assert result.exit_code == 1
    assert "No trace event mentions Call-ID nobody@nowhere" in result.output
    result = CliRunner().invoke(app, ["get", "--node-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "No trace files in" in result.output
