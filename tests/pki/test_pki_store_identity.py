"""Multi-server CSRs, the tomcat purpose, PKCS#12 import/export and encrypted private keys."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from pki_helpers import NOW, pem
from tls_helpers import SOCKET_TIMEOUT, Server, connect, context

from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.errors import CertificateStoreError, CertificateUploadError
from tlstrunk.pki.store import CertificateStore


def signed_node(
    directory: Path,
    ca: CertificateAuthority,
    *,
    passphrase: str | None = None,
    purpose: str = "CallManager",
) -> CertificateStore:
    node = CertificateStore.open(directory, passphrase=passphrase)
    node.upload_trust(f"{purpose}-trust", ca.export_root())
    node.generate_csr(purpose, common_name=directory.name.upper())
    certificate = ca.issue(ca.submit(node.csr_pem(purpose)))
    node.upload_certificate(purpose, pem(certificate))
    return node


def test_multi_server_csr_names_every_node(tmp_path: Path, ca: CertificateAuthority) -> None:
    node = CertificateStore.open(tmp_path / "node")
    result = node.generate_csr(
        "CallManager",
        common_name="cluster-ms",
        dns_names=["cluster.example.com", "CUCM10"],
        distribution="multi-server",
        cluster_nodes=["CUCM10", "CUCM10-sub1", "CUCM10-sub2"],
    )
    csr = x509.load_pem_x509_csr(result.pem)
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    expected = ["CUCM10", "CUCM10-sub1", "CUCM10-sub2", "cluster.example.com"]
    assert san.get_values_for_type(x509.DNSName) == expected
    leaf = ca.issue(ca.submit(result.pem, now=NOW), now=NOW)
    issued = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert issued.get_values_for_type(x509.DNSName) == expected


def test_multi_server_csr_input_errors(tmp_path: Path) -> None:
    node = CertificateStore.open(tmp_path / "node")
    with pytest.raises(ValueError, match="multi-server CSR needs the name of every node"):
        node.generate_csr("CallManager", common_name="x", distribution="multi-server")
    with pytest.raises(ValueError, match="Unknown distribution 'cluster'"):
        node.generate_csr("CallManager", common_name="x", distribution="cluster")
    with pytest.raises(ValueError, match="given for a this-node CSR"):
        node.generate_csr("CallManager", common_name="x", cluster_nodes=["a"])
    with pytest.raises(ValueError, match="Invalid DNS name 'bad name'"):
        node.generate_csr(
            "CallManager", common_name="x", distribution="multi-server", cluster_nodes=["bad name"]
        )


def test_regenerate_csr_logs_warning(
    store: CertificateStore, caplog: pytest.LogCaptureFixture
) -> None:
    assert store.generate_csr("CallManager", common_name="CUCM10").replaced_existing
    assert "new CallManager CSR replaced the pending one" in caplog.text


def test_tomcat_purpose_uses_tomcat_trust(
    tmp_path: Path, ca: CertificateAuthority, other_ca: CertificateAuthority
) -> None:
    node = CertificateStore.open(tmp_path / "node")
    node.upload_trust("CallManager-trust", other_ca.export_root())
    node.generate_csr("tomcat", common_name="CUCM10")
    certificate = ca.issue(ca.submit(node.csr_pem("tomcat"), now=NOW), now=NOW)
    with pytest.raises(CertificateUploadError, match="tomcat-trust is empty"):
        node.upload_certificate("tomcat", pem(certificate), now=NOW)
    node.upload_trust("tomcat-trust", ca.export_root())
    node.upload_certificate("tomcat", pem(certificate), now=NOW)
    assert node.own_certificate("tomcat") == certificate
    assert node.own_certificate("CallManager") is None
    assert node.trust_certificates("tomcat-trust") == [ca.root_certificate]


def test_tomcat_handshake(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path / "ca")
    server_node = signed_node(tmp_path / "web", ca, purpose="tomcat")
    client_node = signed_node(tmp_path / "admin", ca, purpose="tomcat")
    server = Server(context(server_node, ssl.PROTOCOL_TLS_SERVER, "tomcat"))
    server.start()
    _peer, echo = connect(context(client_node, ssl.PROTOCOL_TLS_CLIENT, "tomcat"), server.port)
    server.join(SOCKET_TIMEOUT)
    assert echo == b"OPTIONS"
    assert server.error is None


def test_pkcs12_export_import_round_trip(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path / "ca", intermediate_common_name="Issuing CA")
    first = CertificateStore.open(tmp_path / "sub1")
    first.upload_trust("CallManager-trust", ca.export_root())
    first.generate_csr(
        "CallManager",
        common_name="cluster-ms",
        distribution="multi-server",
        cluster_nodes=["sub1", "sub2"],
    )
    leaf = ca.issue(ca.submit(first.csr_pem("CallManager")))
    first.upload_certificate("CallManager", ca.export_certificate(leaf.serial_number))

    data = first.export_pkcs12("CallManager", "s3cret")
    loaded = pkcs12.load_pkcs12(data, b"s3cret")
    assert loaded.cert is not None
    assert loaded.cert.certificate == leaf
    assert [c.certificate for c in loaded.additional_certs] == [ca.intermediate_certificate]

    second = CertificateStore.open(tmp_path / "sub2")
    second.upload_trust("CallManager-trust", ca.export_root())
    with pytest.raises(CertificateUploadError, match="passphrase is wrong"):
        second.import_pkcs12("CallManager", data, "wrong")
    result = second.import_pkcs12("CallManager", data, b"s3cret")
    assert result.certificate == leaf
    assert second.own_chain("CallManager") == first.own_chain("CallManager")
    _cert_file, key_file = second.identity_files("CallManager")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    # both nodes now present the same certificate, which names both
    server = Server(context(first, ssl.PROTOCOL_TLS_SERVER))
    server.start()
    peer, _echo = connect(context(second, ssl.PROTOCOL_TLS_CLIENT), server.port)
    server.join(SOCKET_TIMEOUT)
    assert server.error is None
    assert peer == leaf


def test_pkcs12_import_rejects_untrusted(
    tmp_path: Path, ca: CertificateAuthority, other_ca: CertificateAuthority
) -> None:
    source = signed_node(tmp_path / "src", ca)
    data = source.export_pkcs12("CallManager", "pw")
    target = CertificateStore.open(tmp_path / "dst")
    target.upload_trust("CallManager-trust", other_ca.export_root())
    with pytest.raises(CertificateUploadError, match="not in CallManager-trust"):
        target.import_pkcs12("CallManager", data, "pw")
    assert target.own_certificate("CallManager") is None


def test_pkcs12_export_needs_passphrase(tmp_path: Path, ca: CertificateAuthority) -> None:
    node = signed_node(tmp_path / "node", ca)
    with pytest.raises(ValueError, match="needs a passphrase"):
        node.export_pkcs12("CallManager", "")


def test_encrypted_keys_load_in_ssl(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path / "ca")
    node = signed_node(tmp_path / "cucma", ca, passphrase="store secret")
    cert_file, key_file = node.identity_files("CallManager")
    assert b"ENCRYPTED PRIVATE KEY" in key_file.read_bytes()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert node.identity_password("CallManager") == b"store secret"

    without = CertificateStore.open(tmp_path / "cucma")
    with pytest.raises(CertificateStoreError, match="private key on this node is encrypted"):
        without.identity_password("CallManager")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ssl.SSLError):
        ctx.load_cert_chain(cert_file, key_file, password=b"wrong")

    peer = signed_node(tmp_path / "cucm10", ca)
    assert peer.identity_password("CallManager") is None
    server = Server(context(peer, ssl.PROTOCOL_TLS_SERVER))
    server.start()
    _peer, echo = connect(context(node, ssl.PROTOCOL_TLS_CLIENT), server.port)
    server.join(SOCKET_TIMEOUT)
    assert echo == b"OPTIONS"


def test_pending_key_encrypted(tmp_path: Path, ca: CertificateAuthority) -> None:
    node = CertificateStore.open(tmp_path / "node", passphrase=b"pw")
    node.upload_trust("CallManager-trust", ca.export_root())
    node.generate_csr("CallManager", common_name="CUCM10")
    pending = tmp_path / "node" / "own" / "CallManager" / "pending-key.pem"
    assert b"ENCRYPTED" in pending.read_bytes()
    certificate = ca.issue(ca.submit(node.csr_pem("CallManager"), now=NOW), now=NOW)
    without = CertificateStore.open(tmp_path / "node")
    with pytest.raises(CertificateUploadError, match="is encrypted; give its passphrase"):
        without.upload_certificate("CallManager", pem(certificate), now=NOW)
    node.upload_certificate("CallManager", pem(certificate), now=NOW)
