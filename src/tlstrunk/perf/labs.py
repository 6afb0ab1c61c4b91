"""Benchmark topologies: nodes provisioned with the lab code, plus identities for the generator.

Addresses are fixed inside 127.0.7.0/24, so benchmark runs do not collide
with the demo (127.0.0.200 and 127.0.0.203) or with the tests. Ports are
picked free at run time. Every certificate comes from the lab's CA, through
the same CSR, issue and upload steps that ``tlstrunk cert`` runs.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tlstrunk.config.enums import DeviceSecurityMode, IncomingTransport, Transport
from tlstrunk.config.topology import CertificateSpec, ClusterTopology, Topology
from tlstrunk.config.values import (
    Destination,
    DirectoryNumberConfig,
    RoutePatternConfig,
    SecurityProfileConfig,
    TrunkSpec,
)
from tlstrunk.lab.provision import PURPOSE, TRUST, node_paths, provision_topology
from tlstrunk.paths import NodePaths
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.store import CertificateStore
from tlstrunk.transport.tls import TlsIdentity

NODE_A = "127.0.7.1"
NODE_B = "127.0.7.2"
KAMAILIO = "127.0.7.3"
#: The address a trunk peer's handshakes come from, matching node A's TLS trunk.
TLS_PEER = "127.0.7.4"
OPENSSL_SERVER = "127.0.7.5"
GENERATOR_UAC = "127.0.7.10"
GENERATOR_UAS = "127.0.7.11"
#: The number the generator dials; a virtual phone or the UAS answers it.
CALLED = "9898"
TLS_PEER_NAME = "PEER"
SECURE_PROFILE = "Secure SIP Trunk Profile TLS"
GENERATOR_PROFILE = "Non Secure TCP"


def free_port(address: str) -> int:
    """Return a TCP port that is free on ``address`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class NodeLab:
    """A provisioned benchmark topology: node directories, their ports, and the lab's CA."""

    directory: Path
    nodes: dict[str, NodePaths]
    #: The TCP port of node A's "from-generator" trunk profile.
    generator_port: int
    #: Each node's TLS port, by node name.
    tls_ports: dict[str, int]

    @property
    def ca_root(self) -> Path:
        """The lab CA's root certificate (PEM)."""
        return self.directory / "ca-root.pem"


def _secure_profile(peer_name: str, port: int) -> SecurityProfileConfig:
    return SecurityProfileConfig(
        name=SECURE_PROFILE,
        device_security_mode=DeviceSecurityMode.ENCRYPTED,
        incoming_transport=IncomingTransport.TLS,
        outgoing_transport=Transport.TLS,
        x509_subject_name=peer_name,
        incoming_port=port,
    )


def _tcp_profile(port: int) -> SecurityProfileConfig:
    return SecurityProfileConfig(
        name=GENERATOR_PROFILE,
        device_security_mode=DeviceSecurityMode.NON_SECURE,
        incoming_transport=IncomingTransport.TCP,
        outgoing_transport=Transport.TCP,
        incoming_port=port,
    )


def _topology(directory: Path, clusters: tuple[ClusterTopology, ...]) -> Topology:
    return Topology(
        path=directory / "bench-topology",
        ca=CertificateSpec(common_name="tlstrunk Bench Root CA", days=3650),
        clusters=clusters,
    )


def _provision(directory: Path, topology: Topology) -> dict[str, NodePaths]:
    steps: list[str] = []
    provision_topology(topology, directory, step=steps.append, section=steps.append)
    return {cluster.name: node_paths(directory, cluster) for cluster in topology.clusters}


def provision_single_node(directory: Path) -> NodeLab:
    """Provision node A: the generator's TCP trunk, a virtual phone on 9898 and a TLS trunk.

    The TLS trunk ("PEER", from :data:`TLS_PEER`) gives node A a TLS listener
    for the handshake benchmark; no call uses it.
    """
    tcp_port, tls_port = free_port(NODE_A), free_port(NODE_A)
    cluster = ClusterTopology(
        name="BENCHA",
        address=NODE_A,
        certificate=CertificateSpec(common_name="BENCHA"),
        security_profiles=(_tcp_profile(tcp_port), _secure_profile(TLS_PEER_NAME, tls_port)),
        trunks=(
            TrunkSpec("from-generator", GENERATOR_PROFILE, (Destination(GENERATOR_UAC, 5060),)),
            TrunkSpec(TLS_PEER_NAME, SECURE_PROFILE, (Destination(TLS_PEER, tls_port),)),
        ),
        directory_numbers=(DirectoryNumberConfig(CALLED),),
    )
    nodes = _provision(directory, _topology(directory, (cluster,)))
    return NodeLab(directory, nodes, tcp_port, {"BENCHA": tls_port})


def provision_two_nodes(directory: Path, uas_port: int) -> NodeLab:
    """Provision the tandem path: generator -> A (TCP) -> A to B (mutual TLS) -> B -> UAS (TCP).

    Node B forwards calls that arrive on its TLS trunk to its "to-uas" trunk,
    which needs tandem routing (trunk to trunk) in the node.
    """
    a_tcp, a_tls = free_port(NODE_A), free_port(NODE_A)
    b_tcp, b_tls = free_port(NODE_B), free_port(NODE_B)
    node_a = ClusterTopology(
        name="BENCHA",
        address=NODE_A,
        certificate=CertificateSpec(common_name="BENCHA"),
        security_profiles=(_tcp_profile(a_tcp), _secure_profile("BENCHB", a_tls)),
        trunks=(
            TrunkSpec("from-generator", GENERATOR_PROFILE, (Destination(GENERATOR_UAC, 5060),)),
            TrunkSpec("BENCHB", SECURE_PROFILE, (Destination(NODE_B, b_tls),)),
        ),
        route_patterns=(RoutePatternConfig(CALLED, trunk="BENCHB"),),
    )
    node_b = ClusterTopology(
        name="BENCHB",
        address=NODE_B,
        certificate=CertificateSpec(common_name="BENCHB"),
        security_profiles=(_tcp_profile(b_tcp), _secure_profile("BENCHA", b_tls)),
        trunks=(
            TrunkSpec("BENCHA", SECURE_PROFILE, (Destination(NODE_A, a_tls),)),
            TrunkSpec("to-uas", GENERATOR_PROFILE, (Destination(GENERATOR_UAS, uas_port),)),
        ),
        route_patterns=(RoutePatternConfig(CALLED, trunk="to-uas"),),
    )
    nodes = _provision(directory, _topology(directory, (node_a, node_b)))
    return NodeLab(directory, nodes, a_tcp, {"BENCHA": a_tls, "BENCHB": b_tls})


def issue_identity(lab_dir: Path, name: str, address: str) -> TlsIdentity:
    """Have the lab's CA issue a certificate for ``name`` and return its identity files.

    The certificate carries ``name`` as CN and SAN DNS name and ``address`` as
    SAN IP address. The trust bundle contains the lab's root.
    """
    ca = CertificateAuthority.open(lab_dir / "ca")
    store = CertificateStore.open(lab_dir / "identities" / name)
    store.upload_trust(TRUST, ca.export_root("pem"))
    csr = store.generate_csr(PURPOSE, common_name=name, dns_names=[name], ip_addresses=[address])
    issued = ca.issue(ca.submit(csr.pem))
    store.upload_certificate(PURPOSE, issued.public_bytes(serialization.Encoding.PEM))
    chain, key = store.identity_files(PURPOSE)
    return TlsIdentity(chain, key, store.trust_bundle_path(TRUST))
