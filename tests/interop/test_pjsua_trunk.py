"""pjsua2 as a trunk peer of a tlstrunk node, over mutual TLS with certificates from our CA.

pjsua2 is a SIP stack nobody on this team wrote. In one test it calls 9898 on
CUCM10 as a far cluster would; in the other, CUCM10 calls a pjsua2 endpoint
that presents a server certificate. pjsua2 runs in a subprocess; the node runs
in this process's event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from pjsua_runner import run_pjsua_peer, start_pjsua_peer

from lab_support import example_topology_on_free_ports, free_port, profile_port, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.config.enums import DeviceSecurityMode, IncomingTransport, Transport
from tlstrunk.config.topology import Topology
from tlstrunk.config.values import (
    Destination,
    RoutePatternConfig,
    SecurityProfileConfig,
    TrunkSpec,
)
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.store import CertificateStore

pytestmark = [pytest.mark.interop, pytest.mark.slow, pytest.mark.usefixtures("pjsua2_peer")]

CALLER_ADDRESS = "127.0.0.50"
ANSWER_ADDRESS = "127.0.0.60"
PEER_PROFILE = "pjsua2 TLS Profile"


def with_pjsua_trunks(topology: Topology, answer_port: int) -> Topology:
    """Add to CUCM10 a profile for the pjsua2 peers, a trunk to each, and pattern 7000."""
    clusters = []
    for cluster in topology.clusters:
        if cluster.name == "CUCM10":
            port = cluster.security_profiles[0].incoming_port
            profile = SecurityProfileConfig(
                name=PEER_PROFILE,
                device_security_mode=DeviceSecurityMode.ENCRYPTED,
                incoming_transport=IncomingTransport.TLS,
                outgoing_transport=Transport.TLS,
                x509_subject_name="PJSUA-CALLER, PJSUA-ANSWER",
                incoming_port=port,
            )
            trunks = (
                TrunkSpec(
                    "PJSUA-CALLER",
                    PEER_PROFILE,
                    (Destination(CALLER_ADDRESS, 5061),),
                    srtp_allowed=True,
                ),
                TrunkSpec(
                    "PJSUA-ANSWER",
                    PEER_PROFILE,
                    (Destination(ANSWER_ADDRESS, answer_port),),
                    srtp_allowed=True,
                ),
            )
            cluster = dataclasses.replace(
                cluster,
                security_profiles=(*cluster.security_profiles, profile),
                trunks=(*cluster.trunks, *trunks),
                route_patterns=(
                    *cluster.route_patterns,
                    RoutePatternConfig("7000", "PJSUA-ANSWER"),
                ),
            )
        clusters.append(cluster)
    return dataclasses.replace(topology, clusters=tuple(clusters))


def issue_peer_identity(lab_dir: Path, name: str, address: str) -> tuple[Path, Path]:
    """Have the lab's CA issue a certificate for a pjsua2 peer; return its chain and key files."""
    ca = CertificateAuthority.open(lab_dir / "ca")
    store = CertificateStore.open(lab_dir / name)
    store.upload_trust("CallManager-trust", ca.export_root("pem"))
    csr = store.generate_csr(
        "CallManager", common_name=name, dns_names=[name], ip_addresses=[address]
    )
    issued = ca.issue(ca.submit(csr.pem))
    store.upload_certificate("CallManager", issued.public_bytes(serialization.Encoding.PEM))
    return store.identity_files("CallManager")


async def start_cucm10(tmp_path: Path, answer_port: int) -> tuple[Node, int]:
    topology = with_pjsua_trunks(example_topology_on_free_ports(), answer_port)
    paths = provision_lab(tmp_path, topology)
    node = Node(paths["CUCM10"])
    await node.start()
    return node, profile_port(topology, "CUCM10")


def test_pjsua2_calls_node_over_mutual_tls(tmp_path: Path) -> None:
    async def scenario() -> None:
        node, port = await start_cucm10(tmp_path, free_port(ANSWER_ADDRESS))
        chain, key = issue_peer_identity(tmp_path, "PJSUA-CALLER", CALLER_ADDRESS)
        args = [
            "call",
            "--local-address",
            CALLER_ADDRESS,
            "--cert",
            str(chain),
            "--key",
            str(key),
            "--ca",
            str(tmp_path / "ca-root.pem"),
            "--target",
            f"sip:9898@127.0.0.200:{port};transport=tls",
            "--from-user",
            "2000",
            "--hold",
            "0.5",
            "--timeout",
            "20",
        ]
        try:
            run = await asyncio.to_thread(run_pjsua_peer, args, 60)
            await asyncio.sleep(0.2)
        finally:
            await node.stop()
        assert run.ok, run.describe()
        assert "CONFIRMED" in run.call_states, run.describe()
        reports = [r for r in node.reports() if r.direction == "inbound"]
        assert len(reports) == 1, [r.to_dict() for r in node.reports()]
        report = reports[0]
        assert report.trunk == "PJSUA-CALLER"
        assert report.called == "9898"
        assert report.answered is not None
        assert report.state == "cleared"
        assert report.peer_certificate is not None
        assert report.peer_certificate["subject"] == "/CN=PJSUA-CALLER"
        assert report.connection is not None
        assert report.connection["tls_version"] == "TLSv1.2"

    asyncio.run(scenario())


def test_node_calls_pjsua2_over_mutual_tls(tmp_path: Path) -> None:
    async def scenario() -> None:
        answer_port = free_port(ANSWER_ADDRESS)
        node, _port = await start_cucm10(tmp_path, answer_port)
        chain, key = issue_peer_identity(tmp_path, "PJSUA-ANSWER", ANSWER_ADDRESS)
        args = [
            "answer",
            "--listen",
            ANSWER_ADDRESS,
            "--port",
            str(answer_port),
            "--cert",
            str(chain),
            "--key",
            str(key),
            "--ca",
            str(tmp_path / "ca-root.pem"),
            "--calls",
            "1",
            "--timeout",
            "40",
        ]
        try:
            with start_pjsua_peer(args) as peer:
                report = await node.place_call("9898", "7000", 0.5)
                run = await asyncio.to_thread(peer.wait, 30)
        finally:
            await node.stop()
        assert report.state == "cleared", report.to_dict()
        assert report.answered is not None
        assert report.peer_certificate is not None
        assert report.peer_certificate["matched_name"] == "PJSUA-ANSWER"
        assert run.ok, run.describe()
        incoming = run.named("incoming_call")
        assert len(incoming) == 1, run.describe()
        assert incoming[0]["tls"] is True
        tls_events = [e for e in run.named("tls") if e.get("peer_cn")]
        assert tls_events, run.describe()
        assert tls_events[-1]["peer_cn"] == "CUCM10"

    asyncio.run(scenario())
