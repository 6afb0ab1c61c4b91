"""``tlstrunk doctor trunk`` and ``tlstrunk doctor inbound``, against real nodes on loopback."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

from doctor_lab import FAR, TRUNK, provision, running, running_in_thread
from typer.testing import CliRunner

from lab_support import profile_port
from tlstrunk.admin.doctor_cmd import app
from tlstrunk.diag.peer import group_inbound, node_rejections, render_groups
from tlstrunk.lab.provision import Breakage
from tlstrunk.pki.store import CertificateStore

runner = CliRunner()


def client_context(certificate: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if certificate is not None and key is not None:
        context.load_cert_chain(certificate, key)
    return context


async def knock(port: int, context: ssl.SSLContext, local: str) -> None:
    """Open a TLS connection to the far node from ``local``, read until it closes."""
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.200", port, ssl=context, server_hostname="", local_addr=(local, 0)
        )
    except (ssl.SSLError, ConnectionError):
        return
    try:
        await asyncio.wait_for(reader.read(), 5)
    except (ssl.SSLError, ConnectionError):
        pass
    finally:
        writer.close()


def test_inbound_groups_by_reason(tmp_path: Path) -> None:
    lab = provision(tmp_path)
    port = profile_port(lab.topology, FAR)
    chain, key = CertificateStore.open(lab.near.certs).identity_files("CallManager")

    async def scenario() -> list[dict[str, object]]:
        async with running(lab.far):
            await knock(port, client_context(), "127.0.0.203")
            await knock(port, client_context(), "127.0.0.203")
            await knock(port, client_context(chain, key), "127.0.0.99")
            await asyncio.sleep(0.2)
            return await node_rejections(lab.far.root)

    groups = group_inbound(asyncio.run(scenario()))
    summary = [(g.port, g.reason, g.sources) for g in groups]
    assert summary == [
        (str(port), "no client certificate", {"127.0.0.203": 2}),
        (str(port), "no trunk for that source address", {"127.0.0.99": 1}),
    ]
    text = render_groups(groups)
    assert f"port {port}:" in text
    assert "no client certificate: 2 connection(s) from 127.0.0.203 (2)" in text
    assert "127.0.0.99" in groups[1].last_detail


def test_cli_trunk_and_inbound(tmp_path: Path) -> None:
    lab = provision(tmp_path)
    near = str(lab.near.root)
    with running_in_thread(lab.far):
        healthy = runner.invoke(app, ["trunk", TRUNK, "--node-dir", near])
        as_json = runner.invoke(app, ["trunk", TRUNK, "--node-dir", near, "--json"])
        inbound = runner.invoke(app, ["inbound", "--node-dir", str(lab.far.root)])
    assert healthy.exit_code == 0, healthy.output
    lines = healthy.output.splitlines()
    assert lines[0].startswith("[PASS] configuration: trunk CUCM10 uses profile")
    assert any(line.startswith("[PASS] OPTIONS (127.0.0.200:") for line in lines)
    assert as_json.exit_code == 0
    document = json.loads(as_json.output)
    assert document["ok"] is True
    assert {step["verdict"] for step in document["steps"]} <= {"PASS", "SKIP"}
    assert inbound.exit_code == 0, inbound.output
    assert "No inbound connection was rejected recently." in inbound.output


def test_cli_failure_exit_codes(tmp_path: Path) -> None:
    lab = provision(tmp_path, breakage=Breakage("ca", FAR))
    near = str(lab.near.root)
    with running_in_thread(lab.far):
        broken = runner.invoke(app, ["trunk", TRUNK, "--node-dir", near])
    unknown = runner.invoke(app, ["trunk", "NOPE", "--node-dir", near])
    not_running = runner.invoke(app, ["inbound", "--node-dir", str(lab.far.root)])
    assert broken.exit_code == 1, broken.output
    assert "[FAIL] server chain" in broken.output
    assert "    fix: upload the root CA CN=Untrusted Demo CA" in broken.output
    assert unknown.exit_code == 2
    assert "its trunks are: CUCM10" in unknown.output
    assert not_running.exit_code == 2
    assert "Is the node running?" in not_running.output
