"""A new CallManager certificate applies to new TLS connections without a restart.

A call is held across the upload to prove that established connections and
the calls on them go on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab_support import example_topology_on_free_ports, profile_port, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.store import CertificateStore
from tlstrunk.transport.listener import fetch_server_certificate
from tlstrunk.transport.tls import build_probe_context


def reissue(lab_dir: Path, node: str, address: str) -> int:
    """Generate a new CSR on ``node``, have the lab CA issue it, upload it; return its serial."""
    ca = CertificateAuthority.open(lab_dir / "ca")
    store = CertificateStore.open(lab_dir / node / "certs")
    csr = store.generate_csr(
        "CallManager", common_name=node, dns_names=[node], ip_addresses=[address]
    )
    issued = ca.issue(ca.submit(csr.pem))
    store.upload_certificate("CallManager", issued.public_bytes(serialization.Encoding.PEM))
    return issued.serial_number


async def served_serial(address: str, port: int) -> int:
    der = await fetch_server_certificate(
        host=address, port=port, local_address=None, context=build_probe_context()
    )
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_new_certificate_used_without_restart(tmp_path: Path) -> None:
    async def scenario() -> None:
        topology = example_topology_on_free_ports()
        paths = provision_lab(tmp_path, topology)
        a, b = Node(paths["CUCMA"]), Node(paths["CUCM10"])
        await a.start()
        await b.start()
        port_b = profile_port(topology, "CUCM10")
        try:
            old_serial = await served_serial("127.0.0.200", port_b)
            held = asyncio.create_task(a.place_call("1018", "9898", 1.5))
            await asyncio.sleep(0.7)
            new_serial = reissue(tmp_path, "CUCM10", "127.0.0.200")
            assert new_serial != old_serial
            assert await served_serial("127.0.0.200", port_b) == new_serial
            outbound = await b.place_call("9898", "1018", 0.05)
            held_report = await held
        finally:
            await a.stop()
            await b.stop()
        assert held_report.state == "cleared", held_report.reason
        assert outbound.state == "cleared", outbound.reason
        seen_by_a = a.reports(outbound.call_id)[0].peer_certificate
        assert seen_by_a is not None
        assert seen_by_a["serial"] == f"{new_serial:x}"
        trace = (tmp_path / "CUCM10" / "traces" / "sdl.txt").read_text()
        assert f"(serial {new_serial:x})" in trace

    asyncio.run(scenario())
