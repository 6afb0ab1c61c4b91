"""Calls between two nodes in one event loop, over real TLS on loopback.

Each test provisions a fresh lab with the demo's provisioning code (real CA,
CSRs, uploads and configuration), starts both nodes, and places calls.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from lab_support import example_topology_on_free_ports, profile_port, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.config.topology import Topology
from tlstrunk.lab.provision import Breakage


class Lab:
    def __init__(self, topology: Topology, nodes: dict[str, Node]) -> None:
        self.topology = topology
        self.nodes = nodes

    @property
    def a(self) -> Node:
        return self.nodes["CUCMA"]

    @property
    def b(self) -> Node:
        return self.nodes["CUCM10"]


async def start_lab(tmp_path: Path, breakage: Breakage | None = None) -> Lab:
    topology = example_topology_on_free_ports()
    paths = provision_lab(tmp_path, topology, breakage)
    nodes = {name: Node(node_paths) for name, node_paths in paths.items()}
    for node in nodes.values():
        await node.start()
    return Lab(topology, nodes)


async def stop_lab(lab: Lab) -> None:
    for node in lab.nodes.values():
        await node.stop()


def test_call_connects_both_ways(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = await start_lab(tmp_path)
        try:
            first = await lab.a.place_call("1018", "9898", 0.05)
            second = await lab.b.place_call("9898", "1018", 0.05)
        finally:
            await stop_lab(lab)
        for report in (first, second):
            assert report.state == "cleared", report.reason
            assert report.answered is not None
            assert report.secure
            assert report.srtp_suite == "AEAD_AES_256_GCM"
            assert report.connection is not None
            assert report.connection["tls_version"] in ("TLSv1.2", "TLSv1.3")
        assert first.peer_certificate is not None
        assert first.peer_certificate["matched_name"] == "CUCM10"
        assert second.peer_certificate is not None
        assert second.peer_certificate["matched_name"] == "CUCMA"
        far = lab.b.reports(first.call_id)
        assert len(far) == 1
        assert far[0].state == "cleared"
        assert far[0].called == "9898"
        assert far[0].peer_certificate is not None
        assert far[0].peer_certificate["subject"] == "/CN=CUCMA"

    asyncio.run(scenario())


def test_call_ladder_has_full_exchange(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        lab = await start_lab(tmp_path)
        try:
            report = await lab.a.place_call("1018", "9898", 0.05)
        finally:
            await stop_lab(lab)
        return [f"{e.direction} {e.summary.split(' ')[0]}" for e in report.ladder]

    ladder = asyncio.run(scenario())
    assert ladder == [
        "out INVITE",
        "in 100",
        "in 180",
        "in 200",
        "out ACK",
        "out BYE",
        "in 200",
    ]


def test_trunk_connection_reused(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = await start_lab(tmp_path)
        try:
            first = await lab.a.place_call("1018", "9898", 0.0)
            second = await lab.a.place_call("1018", "9898", 0.0)
            status = lab.a.status()
        finally:
            await stop_lab(lab)
        assert first.state == "cleared"
        assert second.state == "cleared"
        assert first.connection is not None and second.connection is not None
        assert first.connection["id"] == second.connection["id"]
        assert status["outbound_handshakes"] == 1

    asyncio.run(scenario())


def test_unknown_number_gets_404(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = await start_lab(tmp_path)
        try:
            report = await lab.a.place_call("1018", "5555", 0.0)
        finally:
            await stop_lab(lab)
        assert report.state == "failed"
        assert report.status == 404
        assert "No route pattern" in (report.reason or "")

    asyncio.run(scenario())


def test_subject_name_mismatch_rejected(tmp_path: Path) -> None:
    async def scenario() -> None:
        from tlstrunk.lab.demo import apply_breakage

        topology = apply_breakage(example_topology_on_free_ports(), Breakage("name", "CUCM10"))
        paths = provision_lab(tmp_path, topology)
        nodes = {name: Node(p) for name, p in paths.items()}
        for node in nodes.values():
            await node.start()
        try:
            inbound = await nodes["CUCMA"].place_call("1018", "9898", 0.0)
            outbound = await nodes["CUCM10"].place_call("9898", "1018", 0.0)
        finally:
            for node in nodes.values():
                await node.stop()
        assert inbound.state == "failed"
        assert [e.direction for e in inbound.ladder] == ["out"]
        rejected = list(nodes["CUCM10"].rejections)
        assert rejected[0].direction == "inbound"
        assert rejected[0].check == "X.509 subject name"
        assert "CN=CUCMA" in rejected[0].detail
        assert "CUCMA-WRONG" in rejected[0].detail
        assert outbound.state == "failed"
        assert outbound.failed_check == "X.509 subject name"
        assert rejected[-1].direction == "outbound"

    asyncio.run(scenario())


def test_untrusted_ca_rejected(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = await start_lab(tmp_path, Breakage("ca", "CUCMA"))
        try:
            inbound = await lab.a.place_call("1018", "9898", 0.0)
            outbound = await lab.b.place_call("9898", "1018", 0.0)
        finally:
            await stop_lab(lab)
        assert inbound.state == "failed"
        assert "Untrusted Demo CA" in (inbound.reason or "")
        first = next(iter(lab.b.rejections))
        assert first.check == "certificate chain"
        assert "not in CallManager-trust" in first.detail
        assert outbound.state == "failed"
        assert outbound.failed_check == "certificate chain"
        assert "issued by /CN=Untrusted Demo CA" in (outbound.reason or "")

    asyncio.run(scenario())


def _client_context(certificate: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if certificate is not None and key is not None:
        context.load_cert_chain(certificate, key)
    return context


OPTIONS = (
    b"OPTIONS sip:9898@127.0.0.200 SIP/2.0\r\n"
    b"Via: SIP/2.0/TLS 127.0.0.203:5061;branch=z9hG4bKprobe1\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.203>;tag=1\r\nTo: <sip:9898@127.0.0.200>\r\n"
    b"Call-ID: probe-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


async def _send_options(port: int, context: ssl.SSLContext, local: str) -> bytes:
    """Connect to CUCM10's TLS port, send OPTIONS, and return whatever comes back."""
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.200", port, ssl=context, server_hostname="", local_addr=(local, 0)
        )
    except (ssl.SSLError, ConnectionError):
        return b""
    try:
        writer.write(OPTIONS)
        await writer.drain()
        return await asyncio.wait_for(reader.read(4096), 10)
    except (ssl.SSLError, ConnectionError):
        return b""
    finally:
        writer.close()


def test_peer_without_certificate_gets_no_sip(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = await start_lab(tmp_path)
        try:
            answer = await _send_options(
                profile_port(lab.topology, "CUCM10"), _client_context(), "127.0.0.203"
            )
            await asyncio.sleep(0.1)
        finally:
            await stop_lab(lab)
        assert b"SIP/2.0" not in answer
        checks = [r.check for r in lab.b.rejections]
        assert checks == ["client certificate"]

    asyncio.run(scenario())


def test_other_ca_with_right_cn_gets_no_sip(tmp_path: Path) -> None:
    async def scenario() -> None:
        from cryptography.hazmat.primitives import serialization

        from tlstrunk.pki.ca import CertificateAuthority
        from tlstrunk.pki.store import CertificateStore

        lab = await start_lab(tmp_path)
        other = CertificateAuthority.create(tmp_path / "other-ca", common_name="Other CA")
        store = CertificateStore.open(tmp_path / "impostor")
        csr = store.generate_csr("CallManager", common_name="CUCMA", ip_addresses=["127.0.0.203"])
        issued = other.issue(other.submit(csr.pem))
        key_path = store.directory / "own" / "CallManager" / "pending-key.pem"
        cert_path = tmp_path / "impostor.pem"
        cert_path.write_bytes(issued.public_bytes(serialization.Encoding.PEM))
        try:
            answer = await _send_options(
                profile_port(lab.topology, "CUCM10"),
                _client_context(cert_path, key_path),
                "127.0.0.203",
            )
            await asyncio.sleep(0.1)
        finally:
            await stop_lab(lab)
        assert b"SIP/2.0" not in answer
        assert [r.check for r in lab.b.rejections] == ["certificate chain"]

    asyncio.run(scenario())


def test_unknown_source_address_rejected(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = await start_lab(tmp_path)
        chain, key = _identity(tmp_path, "CUCMA")
        try:
            answer = await _send_options(
                profile_port(lab.topology, "CUCM10"), _client_context(chain, key), "127.0.0.99"
            )
            await asyncio.sleep(0.1)
        finally:
            await stop_lab(lab)
        assert b"SIP/2.0" not in answer
        rejection = next(iter(lab.b.rejections))
        assert rejection.check == "source address"
        assert "127.0.0.99" in rejection.detail

    asyncio.run(scenario())


def test_valid_peer_options_answered(tmp_path: Path) -> None:
    async def scenario() -> bytes:
        lab = await start_lab(tmp_path)
        chain, key = _identity(tmp_path, "CUCMA")
        try:
            return await _send_options(
                profile_port(lab.topology, "CUCM10"), _client_context(chain, key), "127.0.0.203"
            )
        finally:
            await stop_lab(lab)

    answer = asyncio.run(scenario())
    assert answer.startswith(b"SIP/2.0 200 OK\r\n")
    assert b"Call-ID: probe-1\r\n" in answer


def _identity(tmp_path: Path, node: str) -> tuple[Path, Path]:
    from tlstrunk.pki.store import CertificateStore

    return CertificateStore.open(tmp_path / node / "certs").identity_files("CallManager")


def test_ca_certificate_as_client_certificate_rejected(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = await start_lab(tmp_path)
        ca_dir = tmp_path / "ca"
        try:
            answer = await _send_options(
                profile_port(lab.topology, "CUCM10"),
                _client_context(ca_dir / "ca-cert.pem", ca_dir / "ca-key.pem"),
                "127.0.0.203",
            )
            await asyncio.sleep(0.1)
        finally:
            await stop_lab(lab)
        assert b"SIP/2.0" not in answer
        [rejection] = list(lab.b.rejections)
        assert rejection.check == "client certificate"
        assert "CA certificate" in rejection.detail

    asyncio.run(scenario())
