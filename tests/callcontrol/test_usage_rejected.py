"""A node certificate whose extended key usage lists only serverAuth, used on a trunk.

The upload warns that outgoing connections need clientAuth. When the node
calls anyway, the far node rejects the client certificate and names the
missing usage.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from lab_support import example_topology_on_free_ports, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.store import CertificateStore


def test_server_auth_only_certificate_rejected(tmp_path: Path) -> None:
    topology = example_topology_on_free_ports()
    paths = provision_lab(tmp_path, topology)
    ca = CertificateAuthority.open(tmp_path / "ca")
    store = CertificateStore.open(paths["CUCMA"].certs)
    csr = store.generate_csr(
        "CallManager", common_name="CUCMA", dns_names=["CUCMA"], ip_addresses=["127.0.0.203"]
    )
    issued = ca.issue(ca.submit(csr.pem), usages=("serverAuth",))
    upload = store.upload_certificate(
        "CallManager", issued.public_bytes(serialization.Encoding.PEM)
    )
    assert any("clientAuth" in warning for warning in upload.warnings)

    async def scenario() -> None:
        a, b = Node(paths["CUCMA"]), Node(paths["CUCM10"])
        await a.start()
        await b.start()
        try:
            report = await a.place_call("1018", "9898", 0.0)
        finally:
            await a.stop()
            await b.stop()
        assert report.state == "failed"
        rejection = next(iter(b.rejections))
        assert rejection.check == "certificate chain"
        assert "lacks clientAuth" in rejection.detail

    asyncio.run(scenario())
