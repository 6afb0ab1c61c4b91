"""Trunk features between two nodes: security status, tandem routing, digest and DNS SRV.

Each test provisions the demo's two clusters on free ports, changes what it
needs, runs both nodes in this event loop and places calls over real TLS.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from dns_support import LoopbackDnsServer
from lab_support import example_topology_on_free_ports, free_port, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.config.topology import ClusterTopology, DigestUserSpec, Topology
from tlstrunk.config.values import (
    CallingSearchSpaceConfig,
    Destination,
    DirectoryNumberConfig,
    PartitionConfig,
    RoutePatternConfig,
)
from tlstrunk.transport.srv import DNS_SERVERS_ENV

TRUNK_PASSWORD = "trunk-secret-1"


def change(
    topology: Topology, name: str, edit: Callable[[ClusterTopology], ClusterTopology]
) -> Topology:
    clusters = tuple(edit(c) if c.name == name else c for c in topology.clusters)
    return dataclasses.replace(topology, clusters=clusters)


async def run_nodes(tmp_path: Path, topology: Topology) -> dict[str, Node]:
    paths = provision_lab(tmp_path, topology)
    nodes = {name: Node(node_paths) for name, node_paths in paths.items()}
    for node in nodes.values():
        await node.start()
    return nodes


async def stop_nodes(nodes: dict[str, Node]) -> None:
    for node in nodes.values():
        await node.stop()


@pytest.mark.parametrize("transmit", [True, False])
def test_security_status_reaches_the_far_end(tmp_path: Path, transmit: bool) -> None:
    def without_status(cluster: ClusterTopology) -> ClusterTopology:
        profiles = tuple(
            dataclasses.replace(p, transmit_security_status=False)
            for p in cluster.security_profiles
        )
        return dataclasses.replace(cluster, security_profiles=profiles)

    async def scenario() -> None:
        topology = example_topology_on_free_ports()
        if not transmit:
            topology = change(change(topology, "CUCMA", without_status), "CUCM10", without_status)
        nodes = await run_nodes(tmp_path, topology)
        try:
            report = await nodes["CUCMA"].place_call("1018", "9898", 0.05)
        finally:
            await stop_nodes(nodes)
        assert report.state == "cleared", report.reason
        # The example profiles transmit the security status, so each side saw the other's.
        expected = "Encrypted" if transmit else None
        assert report.far_security == expected
        [far] = nodes["CUCM10"].reports(report.call_id)
        assert far.far_security == expected

    asyncio.run(scenario())


def with_tandem(topology: Topology) -> Topology:
    """Route 7777 from CUCMA to CUCM10 and back to CUCMA, where a virtual phone takes the call."""

    def on_a(cluster: ClusterTopology) -> ClusterTopology:
        # 7777 dialled on CUCMA goes out; arriving from CUCM10 it reaches the number in
        # PT_Internal, which the trunk's calling search space puts before <None>.
        return dataclasses.replace(
            cluster,
            partitions=(*cluster.partitions, PartitionConfig("PT_Internal")),
            calling_search_spaces=(
                *cluster.calling_search_spaces,
                CallingSearchSpaceConfig("CSS_FromTrunk", ("PT_Internal",)),
            ),
            trunks=tuple(dataclasses.replace(t, css="CSS_FromTrunk") for t in cluster.trunks),
            route_patterns=(*cluster.route_patterns, RoutePatternConfig("7777", "CUCM10")),
            directory_numbers=(
                *cluster.directory_numbers,
                DirectoryNumberConfig("7777", partition="PT_Internal"),
            ),
        )

    def on_b(cluster: ClusterTopology) -> ClusterTopology:
        return dataclasses.replace(
            cluster,
            route_patterns=(
                *cluster.route_patterns,
                RoutePatternConfig("7777", "CUCMA"),
                RoutePatternConfig("8888", "CUCMA"),
            ),
        )

    topology = change(topology, "CUCMA", on_a)
    return change(topology, "CUCM10", on_b)


def test_tandem_call_through_the_far_cluster(tmp_path: Path) -> None:
    async def scenario() -> None:
        nodes = await run_nodes(tmp_path, with_tandem(example_topology_on_free_ports()))
        try:
            report = await nodes["CUCMA"].place_call("1018", "7777", 0.05)
            await asyncio.sleep(0.1)
        finally:
            await stop_nodes(nodes)
        assert report.state == "cleared", report.reason
        [tandem] = [r for r in nodes["CUCM10"].reports() if r.called == "7777"]
        assert tandem.direction == "tandem"
        assert tandem.answered is not None
        assert [leg["label"] for leg in tandem.legs] == ["trunk CUCMA", "trunk CUCMA"]
        answered = [r for r in nodes["CUCMA"].reports() if r.direction == "inbound"]
        assert [r.called for r in answered] == ["7777"]

    asyncio.run(scenario())


def test_routing_loop_ends_with_483(tmp_path: Path) -> None:
    def on_a(cluster: ClusterTopology) -> ClusterTopology:
        patterns = (*cluster.route_patterns, RoutePatternConfig("8888", "CUCM10"))
        return dataclasses.replace(cluster, route_patterns=patterns)

    async def scenario() -> None:
        topology = change(with_tandem(example_topology_on_free_ports()), "CUCMA", on_a)
        nodes = await run_nodes(tmp_path, topology)
        try:
            report = await nodes["CUCMA"].place_call("1018", "8888", 0.05)
        finally:
            await stop_nodes(nodes)
        assert report.state == "failed"
        assert report.status == 483

    asyncio.run(scenario())


def with_trunk_digest(topology: Topology, *, answer: bool) -> Topology:
    """Make CUCM10 challenge its trunk from CUCMA, and give CUCMA credentials when ``answer``."""

    def on_b(cluster: ClusterTopology) -> ClusterTopology:
        profiles = tuple(
            dataclasses.replace(p, enable_digest_authentication=True)
            for p in cluster.security_profiles
        )
        trunks = tuple(
            dataclasses.replace(t, inbound_digest_user="cucma-trunk") for t in cluster.trunks
        )
        users = (DigestUserSpec("cucma-trunk", TRUNK_PASSWORD),)
        return dataclasses.replace(
            cluster, security_profiles=profiles, trunks=trunks, digest_users=users
        )

    def on_a(cluster: ClusterTopology) -> ClusterTopology:
        trunks = tuple(
            dataclasses.replace(t, outbound_digest_user="cucma-trunk") for t in cluster.trunks
        )
        # The far end's realm is its node name; the HA1 is made for that realm.
        users = (DigestUserSpec("cucma-trunk", TRUNK_PASSWORD, realm="CUCM10"),)
        return dataclasses.replace(cluster, trunks=trunks, digest_users=users)

    topology = change(topology, "CUCM10", on_b)
    return change(topology, "CUCMA", on_a) if answer else topology


@pytest.mark.parametrize("answer", [True, False])
def test_trunk_digest_challenge(tmp_path: Path, answer: bool) -> None:
    async def scenario() -> None:
        topology = with_trunk_digest(example_topology_on_free_ports(), answer=answer)
        nodes = await run_nodes(tmp_path, topology)
        try:
            report = await nodes["CUCMA"].place_call("1018", "9898", 0.05)
            back = await nodes["CUCM10"].place_call("9898", "1018", 0.05)
        finally:
            await stop_nodes(nodes)
        if answer:
            assert report.state == "cleared", report.reason
        else:
            assert report.state == "failed"
            assert report.status == 407
        # CUCMA does not challenge, so calls the other way need no credentials.
        assert back.state == "cleared", back.reason

    asyncio.run(scenario())


def test_srv_destination_finds_the_far_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        topology = example_topology_on_free_ports()
        b = next(c for c in topology.clusters if c.name == "CUCM10")
        port = b.security_profiles[0].incoming_port
        zone = {
            "_sips._tcp.cucm10.example.test": [("SRV", f"10 60 {port} b.example.test.")],
            "b.example.test": [("A", b.address)],
        }

        def on_a(cluster: ClusterTopology) -> ClusterTopology:
            trunks = tuple(
                dataclasses.replace(
                    t,
                    destination_is_srv=True,
                    destinations=(Destination("cucm10.example.test", 0),),
                )
                for t in cluster.trunks
            )
            return dataclasses.replace(cluster, trunks=trunks)

        with LoopbackDnsServer(zone, host="127.0.5.60") as dns:
            monkeypatch.setenv(DNS_SERVERS_ENV, f"{dns.address[0]}:{dns.address[1]}")
            nodes = await run_nodes(tmp_path, change(topology, "CUCMA", on_a))
            try:
                report = await nodes["CUCMA"].place_call("1018", "9898", 0.05)
                back = await nodes["CUCM10"].place_call("9898", "1018", 0.05)
            finally:
                await stop_nodes(nodes)
            queried = [name for name, _type in dns.queries]
        assert report.state == "cleared", report.reason
        assert back.state == "cleared", back.reason
        assert "_sips._tcp.cucm10.example.test" in queried

    asyncio.run(scenario())


class Forwarder:
    """A TCP relay on loopback standing in for a second address of the far node.

    TLS runs end to end through it, so both nodes still check each other's
    certificate. It connects from ``source``, so the far node recognises the trunk.
    """

    def __init__(self, listen: tuple[str, int], target: tuple[str, int], source: str) -> None:
        self.listen = listen
        self.target = target
        self.source = source
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, *self.listen)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        far_reader, far_writer = await asyncio.open_connection(
            *self.target, local_addr=(self.source, 0)
        )
        for source, sink in ((reader, far_writer), (far_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pipe(source, sink))
            self._tasks.add(task)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        finally:
            sink.close()


def test_trunk_fails_over_and_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        topology = example_topology_on_free_ports()
        b = next(c for c in topology.clusters if c.name == "CUCM10")
        a = next(c for c in topology.clusters if c.name == "CUCMA")
        real_port = b.security_profiles[0].incoming_port
        spare_port = free_port(b.address)

        def on_a(cluster: ClusterTopology) -> ClusterTopology:
            trunks = tuple(
                dataclasses.replace(
                    t,
                    destinations=(
                        Destination(b.address, spare_port),
                        Destination(b.address, real_port),
                    ),
                    options_ping=True,
                    options_ping_interval=5,
                )
                for t in cluster.trunks
            )
            return dataclasses.replace(cluster, trunks=trunks)

        nodes = await run_nodes(tmp_path, change(topology, "CUCMA", on_a))
        forwarder = Forwarder((b.address, spare_port), (b.address, real_port), a.address)
        try:
            first = await nodes["CUCMA"].place_call("1018", "9898", 0.05)
            await forwarder.start()
            moved = await wait_for_connection(nodes["CUCMA"], f":{spare_port}", timeout=20)
            second = await nodes["CUCMA"].place_call("1018", "9898", 0.05)
        finally:
            await forwarder.stop()
            await stop_nodes(nodes)
        assert first.state == "cleared", first.reason
        assert first.connection is not None
        assert first.connection["remote"].endswith(f":{real_port}")
        assert moved, "the trunk did not move back to its first destination"
        assert second.state == "cleared", second.reason
        assert second.connection is not None
        assert second.connection["remote"].endswith(f":{spare_port}")

    asyncio.run(scenario())


async def wait_for_connection(node: Node, remote_suffix: str, timeout: float) -> bool:
    """Wait, at most ``timeout`` seconds, until the node's trunk connection goes to that port."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for trunk in node.status()["trunks"]:
            if (trunk["connection"] or "").endswith(remote_suffix):
                return True
        await asyncio.sleep(0.2)
    return False


def test_busy_phone_port_names_the_node_setting(tmp_path: Path) -> None:
    import socket

    from tlstrunk.callcontrol.node import NodeStartError

    topology = example_topology_on_free_ports()
    a = next(c for c in topology.clusters if c.name == "CUCMA")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((a.address, 0))
        taken.listen()
        port = taken.getsockname()[1]

        def on_a(cluster: ClusterTopology) -> ClusterTopology:
            return dataclasses.replace(cluster, phone_secure_port=port)

        paths = provision_lab(tmp_path, change(topology, "CUCMA", on_a))
        node = Node(paths["CUCMA"])

        async def scenario() -> str:
            try:
                await node.start()
            except NodeStartError as exc:
                return str(exc)
            finally:
                await node.stop()
            return ""

        message = asyncio.run(scenario())
    assert f":{port}" in message
    assert "phone port" in message
