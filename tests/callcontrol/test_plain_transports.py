"""Trunks on Non Secure profiles over TCP and UDP, and an Authenticated TLS trunk.

None of them may carry an SDES key: the outgoing SIP that the trace records
in full must hold no ``a=crypto`` line, even with SRTP allowed on the trunk.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from lab_support import example_topology_on_free_ports, free_port, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.config.enums import DeviceSecurityMode, IncomingTransport, Transport
from tlstrunk.config.topology import Topology
from tlstrunk.config.values import Destination


def with_transport(
    topology: Topology, mode: DeviceSecurityMode, incoming: IncomingTransport, outgoing: Transport
) -> Topology:
    """Switch every profile to ``mode`` and the transports, on fresh free ports."""
    ports = {c.address: free_port(c.address) for c in topology.clusters}
    clusters = []
    for cluster in topology.clusters:
        profiles = tuple(
            dataclasses.replace(
                profile,
                device_security_mode=mode,
                incoming_transport=incoming,
                outgoing_transport=outgoing,
                incoming_port=ports[cluster.address],
                x509_subject_name=profile.x509_subject_name if outgoing is Transport.TLS else "",
            )
            for profile in cluster.security_profiles
        )
        trunks = tuple(
            dataclasses.replace(
                trunk,
                destinations=tuple(
                    Destination(d.address, ports[d.address]) for d in trunk.destinations
                ),
            )
            for trunk in cluster.trunks
        )
        clusters.append(dataclasses.replace(cluster, security_profiles=profiles, trunks=trunks))
    return dataclasses.replace(topology, clusters=tuple(clusters))


CASES = [
    pytest.param(
        DeviceSecurityMode.NON_SECURE, IncomingTransport.TCP, Transport.TCP, "TCP", id="tcp"
    ),
    pytest.param(
        DeviceSecurityMode.NON_SECURE, IncomingTransport.UDP, Transport.UDP, "UDP", id="udp"
    ),
    pytest.param(
        DeviceSecurityMode.NON_SECURE,
        IncomingTransport.TCP_UDP,
        Transport.UDP,
        "UDP",
        id="tcp-udp-in",
    ),
    pytest.param(
        DeviceSecurityMode.AUTHENTICATED,
        IncomingTransport.TLS,
        Transport.TLS,
        "TLS over TCP",
        id="authenticated-tls",
    ),
]


@pytest.mark.parametrize(("mode", "incoming", "outgoing", "transport"), CASES)
def test_call_without_keys(
    tmp_path: Path,
    mode: DeviceSecurityMode,
    incoming: IncomingTransport,
    outgoing: Transport,
    transport: str,
) -> None:
    topology = with_transport(example_topology_on_free_ports(), mode, incoming, outgoing)
    paths = provision_lab(tmp_path, topology)

    async def scenario() -> None:
        a, b = Node(paths["CUCMA"]), Node(paths["CUCM10"])
        await a.start()
        await b.start()
        try:
            first = await a.place_call("1018", "9898", 0.05)
            second = await b.place_call("9898", "1018", 0.05)
        finally:
            await a.stop()
            await b.stop()
        for report in (first, second):
            assert report.state == "cleared", report.reason
            assert report.connection is not None
            assert report.connection["transport"] == transport
            assert report.srtp_suite is None
            assert not report.secure
            assert not report.signalling_encrypted

    asyncio.run(scenario())
    for node in ("CUCMA", "CUCM10"):
        trace = (tmp_path / node / "traces" / "sdl.txt").read_text()
        assert "m=audio" in trace
        assert "RTP/AVP" in trace
        assert "a=crypto" not in trace
        assert "RTP/SAVP" not in trace
