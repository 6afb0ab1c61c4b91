"""Kamailio as a record-routing TLS proxy between the two clusters of the example lab.

Both nodes' trunks point at Kamailio on 127.0.0.150 and expect its certificate
(CN and SAN DNS "KAMAILIO", issued by the lab's CA). Kamailio demands and
verifies a client certificate on its TLS port, and presents the same
certificate when it connects on to the far node. The nodes run in this test's
event loop; Kamailio runs in a subprocess.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from kamailio_peer import KamailioProcess, KamailioSettings, NextHop, kamailio_binary

from lab_support import example_topology_on_free_ports, free_port, profile_port, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.callcontrol.report import CallReport
from tlstrunk.config.topology import ClusterTopology, Topology
from tlstrunk.config.values import Destination
from tlstrunk.paths import NodePaths
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.store import CertificateStore

pytestmark = [
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(
        kamailio_binary() is None,
        reason="kamailio is not on PATH; install the Debian packages kamailio and "
        "kamailio-tls-modules to run the Kamailio interop tests.",
    ),
]

KAMAILIO_NAME = "KAMAILIO"
KAMAILIO_ADDRESS = "127.0.0.150"
CUCMA_ADDRESS = "127.0.0.203"
CUCM10_ADDRESS = "127.0.0.200"
PROBE_ADDRESS = "127.0.0.99"


@dataclass
class HopLab:
    """Two provisioned nodes whose trunk leads through Kamailio, and Kamailio's settings."""

    directory: Path
    topology: Topology
    paths: dict[str, NodePaths]
    kamailio: KamailioSettings

    def trace(self, node: str) -> str:
        """Return the node's SDL trace text, or a note that there is none."""
        path = self.directory / node / "traces" / "sdl.txt"
        return path.read_text(errors="replace") if path.exists() else f"(no trace at {path})"


def through_kamailio(topology: Topology, kamailio_port: int) -> Topology:
    """Point every trunk at Kamailio and expect Kamailio's certificate on every profile."""
    hop = Destination(KAMAILIO_ADDRESS, kamailio_port)

    def rewire(cluster: ClusterTopology) -> ClusterTopology:
        profiles = tuple(
            dataclasses.replace(p, x509_subject_name=KAMAILIO_NAME)
            for p in cluster.security_profiles
        )
        trunks = tuple(dataclasses.replace(t, destinations=(hop,)) for t in cluster.trunks)
        return dataclasses.replace(cluster, security_profiles=profiles, trunks=trunks)

    return dataclasses.replace(topology, clusters=tuple(rewire(c) for c in topology.clusters))


def issue_kamailio_identity(lab_dir: Path) -> tuple[Path, Path]:
    """Have the lab's CA issue Kamailio's certificate and return its chain and key files."""
    ca = CertificateAuthority.open(lab_dir / "ca")
    store = CertificateStore.open(lab_dir / KAMAILIO_NAME)
    store.upload_trust("CallManager-trust", ca.export_root("pem"))
    csr = store.generate_csr(
        "CallManager",
        common_name=KAMAILIO_NAME,
        dns_names=[KAMAILIO_NAME],
        ip_addresses=[KAMAILIO_ADDRESS],
    )
    issued = ca.issue(ca.submit(csr.pem))
    store.upload_certificate("CallManager", issued.public_bytes(serialization.Encoding.PEM))
    return store.identity_files("CallManager")


def provision_hop_lab(directory: Path) -> HopLab:
    """Provision both clusters behind a Kamailio hop and issue Kamailio's identity."""
    kamailio_port = free_port(KAMAILIO_ADDRESS)
    direct = example_topology_on_free_ports()
    topology = through_kamailio(direct, kamailio_port)
    paths = provision_lab(directory, topology)
    chain, key = issue_kamailio_identity(directory)
    settings = KamailioSettings(
        address=KAMAILIO_ADDRESS,
        port=kamailio_port,
        certificate=chain,
        private_key=key,
        ca_list=directory / "ca-root.pem",
        next_hops=(
            NextHop(CUCMA_ADDRESS, CUCM10_ADDRESS, profile_port(direct, "CUCM10")),
            NextHop(CUCM10_ADDRESS, CUCMA_ADDRESS, profile_port(direct, "CUCMA")),
        ),
    )
    return HopLab(directory, topology, paths, settings)


@pytest.fixture
def hop_lab(tmp_path: Path) -> HopLab:
    return provision_hop_lab(tmp_path)


@pytest.fixture
def kamailio(hop_lab: HopLab) -> Iterator[KamailioProcess]:
    with KamailioProcess(hop_lab.kamailio, hop_lab.directory / "kamailio") as process:
        yield process


async def call_through_hop(
    lab: HopLab, caller: str, callee: str, calling: str, dialled: str
) -> tuple[CallReport, list[CallReport], Node, Node]:
    """Start both nodes, place one call from ``caller``, and return both sides' reports."""
    nodes = {name: Node(paths) for name, paths in lab.paths.items()}
    for node in nodes.values():
        await node.start()
    try:
        report = await nodes[caller].place_call(calling, dialled, 0.2)
        await asyncio.sleep(0.2)
    finally:
        for node in nodes.values():
            await node.stop()
    return report, nodes[callee].reports(report.call_id), nodes[caller], nodes[callee]


def explain(lab: HopLab, kamailio: KamailioProcess, *reports: CallReport) -> str:
    """Describe a failed call: the reports, both nodes' traces and Kamailio's log."""
    parts = [repr(r.to_dict()) for r in reports]
    for name in lab.paths:
        parts.append(f"--- {name} trace\n{lab.trace(name)[-6000:]}")
    parts.append(kamailio.log_tail())
    return "\n".join(parts)


def assert_hop_call(
    lab: HopLab,
    kamailio: KamailioProcess,
    report: CallReport,
    far: list[CallReport],
    far_trunk: str,
) -> None:
    """Check that the call connected and cleared, and that both nodes saw Kamailio's cert."""
    details = explain(lab, kamailio, report, *far)
    assert report.state == "cleared", details
    assert report.answered is not None, details
    assert report.peer_certificate is not None, details
    assert report.peer_certificate["subject"] == f"/CN={KAMAILIO_NAME}", details
    assert report.peer_certificate["matched_name"] == KAMAILIO_NAME, details
    assert report.connection is not None, details
    assert report.connection["tls_version"] in ("TLSv1.2", "TLSv1.3"), details
    assert len(far) == 1, details
    assert far[0].direction == "inbound", details
    assert far[0].state == "cleared", details
    assert far[0].trunk == far_trunk, details
    assert far[0].peer_certificate is not None, details
    assert far[0].peer_certificate["subject"] == f"/CN={KAMAILIO_NAME}", details


def test_call_from_cucma_through_kamailio(hop_lab: HopLab, kamailio: KamailioProcess) -> None:
    report, far, caller, callee = asyncio.run(
        call_through_hop(hop_lab, "CUCMA", "CUCM10", "1018", "9898")
    )
    assert_hop_call(hop_lab, kamailio, report, far, "CUCMA")
    assert far[0].called == "9898"
    assert list(caller.rejections) == []
    assert list(callee.rejections) == []
    assert f"Call-ID {report.call_id}" in kamailio.log()


def test_call_from_cucm10_through_kamailio(hop_lab: HopLab, kamailio: KamailioProcess) -> None:
    report, far, caller, callee = asyncio.run(
        call_through_hop(hop_lab, "CUCM10", "CUCMA", "9898", "1018")
    )
    assert_hop_call(hop_lab, kamailio, report, far, "CUCM10")
    assert far[0].called == "1018"
    assert list(caller.rejections) == []
    assert list(callee.rejections) == []


# -- Kamailio's own certificate checks -------------------------------------------------


def options_probe(max_forwards: int) -> bytes:
    return (
        f"OPTIONS sip:{KAMAILIO_ADDRESS} SIP/2.0\r\n"
        f"Via: SIP/2.0/TLS {PROBE_ADDRESS}:5061;branch=z9hG4bKkamprobe{max_forwards}\r\n"
        f"Max-Forwards: {max_forwards}\r\n"
        f"From: <sip:probe@{PROBE_ADDRESS}>;tag=probe\r\n"
        f"To: <sip:{KAMAILIO_ADDRESS}>\r\n"
        f"Call-ID: kamailio-probe-{max_forwards}\r\n"
        "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def send_probe(port: int, context: ssl.SSLContext) -> bytes:
    """Send an OPTIONS with Max-Forwards 0 to Kamailio and return the bytes that come back.

    The result is empty when the TLS handshake or the connection fails.
    """
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                KAMAILIO_ADDRESS,
                port,
                ssl=context,
                server_hostname=KAMAILIO_NAME,
                local_addr=(PROBE_ADDRESS, 0),
            ),
            10,
        )
    except (ssl.SSLError, ConnectionError):
        return b""
    try:
        writer.write(options_probe(0))
        await writer.drain()
        return await asyncio.wait_for(reader.read(4096), 10)
    except (ssl.SSLError, ConnectionError):
        return b""
    finally:
        writer.close()


def client_context(ca_root: Path, identity: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(ca_root)
    if identity is not None:
        context.load_cert_chain(*identity)
    return context


def other_ca_identity(directory: Path) -> tuple[Path, Path]:
    """Issue a certificate named CUCMA by a CA that Kamailio does not trust."""
    other = CertificateAuthority.create(directory / "other-ca", common_name="Other CA")
    store = CertificateStore.open(directory / "impostor")
    csr = store.generate_csr("CallManager", common_name="CUCMA", ip_addresses=[PROBE_ADDRESS])
    issued = other.issue(other.submit(csr.pem))
    certificate = directory / "impostor.pem"
    certificate.write_bytes(issued.public_bytes(serialization.Encoding.PEM))
    return certificate, store.directory / "own" / "CallManager" / "pending-key.pem"


def test_kamailio_answers_lab_certificate(hop_lab: HopLab, kamailio: KamailioProcess) -> None:
    # Max-Forwards 0 makes Kamailio answer 483 itself, so no node needs to run.
    identity = CertificateStore.open(hop_lab.directory / "CUCMA" / "certs").identity_files(
        "CallManager"
    )
    context = client_context(hop_lab.directory / "ca-root.pem", identity)
    answer = asyncio.run(send_probe(hop_lab.kamailio.port, context))
    assert answer.startswith(b"SIP/2.0 483 "), kamailio.log_tail()


@pytest.mark.parametrize(
    ("client", "openssl_error"),
    [
        ("other CA", "certificate verify failed"),
        ("no certificate", "peer did not return a certificate"),
    ],
)
def test_kamailio_rejects_client(
    hop_lab: HopLab, kamailio: KamailioProcess, client: str, openssl_error: str
) -> None:
    identity = other_ca_identity(hop_lab.directory) if client == "other CA" else None
    context = client_context(hop_lab.directory / "ca-root.pem", identity)
    answer = asyncio.run(send_probe(hop_lab.kamailio.port, context))
    assert b"SIP/2.0" not in answer, answer
    assert kamailio.wait_for_log(openssl_error), kamailio.log_tail()
