"""Route lists on a real trunk call: failover to the next trunk, and called-party transformation."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from lab_support import example_topology_on_free_ports, free_port, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.config.enums import DiscardDigits
from tlstrunk.config.topology import Topology
from tlstrunk.config.values import (
    Destination,
    RouteGroupConfig,
    RouteListConfig,
    RoutePatternConfig,
)


def with_route_list(topology: Topology) -> Topology:
    """On CUCMA, route 9.9898 (dial 99898) through a list whose first trunk is down."""
    clusters = []
    for cluster in topology.clusters:
        if cluster.name == "CUCMA":
            real = cluster.trunks[0]
            dead = dataclasses.replace(
                real,
                name="CUCM10-DOWN",
                destinations=(Destination("127.0.0.200", free_port("127.0.0.200")),),
            )
            cluster = dataclasses.replace(
                cluster,
                trunks=(dead, real),
                route_groups=(RouteGroupConfig("RG-CUCM10", (dead.name, real.name)),),
                route_lists=(RouteListConfig("RL-CUCM10", ("RG-CUCM10",)),),
                route_patterns=(
                    RoutePatternConfig(
                        "9.9898", route_list="RL-CUCM10", discard_digits=DiscardDigits.PRE_DOT
                    ),
                ),
            )
        clusters.append(cluster)
    return dataclasses.replace(topology, clusters=tuple(clusters))


def test_route_list_fails_over_and_transforms(tmp_path: Path) -> None:
    topology = with_route_list(example_topology_on_free_ports())
    paths = provision_lab(tmp_path, topology)

    async def scenario() -> None:
        a, b = Node(paths["CUCMA"]), Node(paths["CUCM10"])
        await a.start()
        await b.start()
        try:
            report = await a.place_call("1018", "99898", 0.05)
            await asyncio.sleep(0.1)
            far = b.reports(report.call_id)
        finally:
            await a.stop()
            await b.stop()
        assert report.state == "cleared", report.to_dict()
        assert [attempt["trunk"] for attempt in report.attempts] == ["CUCM10-DOWN", "CUCM10"]
        assert report.attempts[0]["state"] == "failed"
        assert report.trunk == "CUCM10"
        assert report.digit_analysis is not None
        assert report.digit_analysis["pattern"] == "9.9898"
        assert len(far) == 1
        assert far[0].called == "9898"
        assert far[0].state == "cleared"

    asyncio.run(scenario())
