"""Two-cluster labs for tests: the example topology on free ports, provisioned on disk.

The lab uses the same provisioning code as the demo, so tests exercise the
real CA, CSR, upload and configuration steps.
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

from tlstrunk.config.topology import ClusterTopology, Topology, load_topology
from tlstrunk.config.values import Destination
from tlstrunk.lab.provision import Breakage, node_paths, provision_topology
from tlstrunk.paths import NodePaths

EXAMPLE_TOPOLOGY = Path(__file__).resolve().parents[1] / "examples" / "two-clusters.yaml"


def free_port(address: str) -> int:
    """Return a TCP port that is free on ``address`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _cluster_on_port(cluster: ClusterTopology, ports: dict[str, int]) -> ClusterTopology:
    own = ports[cluster.address]
    profiles = tuple(dataclasses.replace(p, incoming_port=own) for p in cluster.security_profiles)
    trunks = tuple(
        dataclasses.replace(
            trunk,
            destinations=tuple(
                Destination(d.address, ports.get(d.address, d.port)) for d in trunk.destinations
            ),
        )
        for trunk in cluster.trunks
    )
    return dataclasses.replace(cluster, security_profiles=profiles, trunks=trunks)


def example_topology_on_free_ports() -> Topology:
    """Return the example topology with each cluster's TLS port moved to a free one."""
    topology = load_topology(EXAMPLE_TOPOLOGY)
    ports = {cluster.address: free_port(cluster.address) for cluster in topology.clusters}
    clusters = tuple(_cluster_on_port(cluster, ports) for cluster in topology.clusters)
    return dataclasses.replace(topology, clusters=clusters)


def provision_lab(
    directory: Path, topology: Topology, breakage: Breakage | None = None
) -> dict[str, NodePaths]:
    """Provision every cluster of ``topology`` under ``directory``; return node paths by name."""
    steps: list[str] = []
    provision_topology(
        topology, directory, step=steps.append, section=steps.append, breakage=breakage
    )
    return {cluster.name: node_paths(directory, cluster) for cluster in topology.clusters}


def profile_port(topology: Topology, name: str) -> int:
    """Return the incoming TLS port of cluster ``name``."""
    cluster = next(c for c in topology.clusters if c.name == name)
    return cluster.security_profiles[0].incoming_port
