"""OPTIONS ping per trunk and the status a user sees in the trunk list."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from lab_support import example_topology_on_free_ports, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.config.topology import Topology


def with_ping(topology: Topology, cluster_name: str) -> Topology:
    clusters = tuple(
        dataclasses.replace(
            cluster,
            trunks=tuple(
                dataclasses.replace(t, options_ping=True, options_ping_interval=5)
                for t in cluster.trunks
            ),
        )
        if cluster.name == cluster_name
        else cluster
        for cluster in topology.clusters
    )
    return dataclasses.replace(topology, clusters=clusters)


def trunk_status(node: Node) -> str:
    return str(node.status()["trunks"][0]["status"])


def test_ping_status_follows_far_node(tmp_path: Path) -> None:
    topology = with_ping(example_topology_on_free_ports(), "CUCMA")
    paths = provision_lab(tmp_path, topology)

    async def wait_for(node: Node, prefix: str) -> str:
        for _attempt in range(100):
            status = trunk_status(node)
            if status.startswith(prefix):
                return status
            await asyncio.sleep(0.05)
        return trunk_status(node)

    async def scenario() -> None:
        a, b = Node(paths["CUCMA"]), Node(paths["CUCM10"])
        await a.start()
        try:
            down = await wait_for(a, "Out of Service")
            assert down.startswith("Out of Service (Cannot connect to 127.0.0.200:")
            await b.start()
            assert trunk_status(b) == "Unknown - OPTIONS Ping not enabled"
            status, reason = await a.ping("CUCM10")
            assert status == "In Service"
            assert reason == "200 OK"
            assert trunk_status(a) == "In Service"
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())
