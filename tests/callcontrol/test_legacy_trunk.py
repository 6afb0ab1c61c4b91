"""A trunk between two old-style nodes: 1024-bit RSA and SHA-1 certificates.

The certificates come from the openssl command line, as an old cluster's CA
would have made them, and reach each node as a PKCS#12 file. On profiles
with the legacy TLS policy the call connects and both nodes warn; on modern
profiles the node refuses to start and says why in plain words.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from pathlib import Path

import pytest

from lab_support import example_topology_on_free_ports, provision_lab
from legacy_support import legacy_leaf, legacy_root, openssl
from tlstrunk.callcontrol.node import Node
from tlstrunk.config.enums import TlsPolicy
from tlstrunk.config.topology import Topology
from tlstrunk.pki.keys import CryptoPolicy
from tlstrunk.pki.store import CertificateStore
from tlstrunk.transport.tls import TlsConfigurationError

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")

ADDRESSES = {"CUCMA": "127.0.0.203", "CUCM10": "127.0.0.200"}


def legacy_pkcs12(folder: Path, name: str) -> bytes:
    certificate, key = legacy_leaf(
        folder, name, subject=f"/C=IN/O=cisco/CN={name}", address=ADDRESSES[name]
    )
    openssl(
        "pkcs12", "-export", "-inkey", key.name, "-in", certificate.name,
        "-out", f"{name}.p12", "-passout", "pass:old-cluster", cwd=folder,
    )  # fmt: skip
    return (folder / f"{name}.p12").read_bytes()


def with_policy(topology: Topology, policy: TlsPolicy) -> Topology:
    clusters = tuple(
        dataclasses.replace(
            cluster,
            security_profiles=tuple(
                dataclasses.replace(profile, tls_policy=policy)
                for profile in cluster.security_profiles
            ),
        )
        for cluster in topology.clusters
    )
    return dataclasses.replace(topology, clusters=clusters)


def install_legacy_identities(tmp_path: Path, topology: Topology) -> dict[str, Node]:
    paths = provision_lab(tmp_path / "lab", topology)
    folder = tmp_path / "openssl"
    folder.mkdir()
    root = legacy_root(folder, "Old Cluster CA").read_bytes()
    for name, node_paths in paths.items():
        store = CertificateStore.open(node_paths.certs)
        store.upload_trust("CallManager-trust", root)
        store.import_pkcs12(
            "CallManager", legacy_pkcs12(folder, name), "old-cluster", policy=CryptoPolicy.LEGACY
        )
    return {name: Node(node_paths) for name, node_paths in paths.items()}


def test_legacy_profiles_connect_old_certificates(tmp_path: Path) -> None:
    topology = with_policy(example_topology_on_free_ports(), TlsPolicy.LEGACY)
    nodes = install_legacy_identities(tmp_path, topology)

    async def scenario() -> None:
        for node in nodes.values():
            await node.start()
        try:
            report = await nodes["CUCMA"].place_call("1018", "9898", 0.05)
        finally:
            for node in nodes.values():
                await node.stop()
        assert report.state == "cleared", report.reason
        assert report.peer_certificate is not None
        assert report.peer_certificate["issuer"] == "/CN=Old Cluster CA"

    asyncio.run(scenario())
    trace = (tmp_path / "lab" / "CUCMA" / "traces" / "sdl.txt").read_text()
    assert "uses the legacy TLS policy" in trace


def test_modern_profiles_refuse_old_certificates(tmp_path: Path) -> None:
    topology = with_policy(example_topology_on_free_ports(), TlsPolicy.MODERN)
    nodes = install_legacy_identities(tmp_path, topology)

    async def scenario() -> None:
        await nodes["CUCMA"].start()

    with pytest.raises(TlsConfigurationError) as raised:
        asyncio.run(scenario())
    message = str(raised.value)
    assert "The modern TLS policy refuses this node's certificate" in message
    assert "ee key too small" in message
    assert "set the legacy TLS policy" in message
