"""Real mutual-TLS handshakes on loopback with certificates from the CA and node stores.

The contexts are built here only to prove the certificates work; the product's
contexts come from the transport layer.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from tls_helpers import SOCKET_TIMEOUT, Server, context

from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.explain import explain_ssl_error
from tlstrunk.pki.names import check_subject_name
from tlstrunk.pki.store import CertificateStore


def make_node(
    directory: Path, name: str, issuer: CertificateAuthority, trusted: CertificateAuthority
) -> CertificateStore:
    """A node with a certificate from ``issuer`` that trusts ``trusted``'s root."""
    node = CertificateStore.open(directory)
    node.upload_trust("CallManager-trust", trusted.export_root("pem"))
    node.generate_csr("CallManager", common_name=name)
    certificate = issuer.issue(issuer.submit(node.csr_pem("CallManager")))
    if issuer is not trusted:
        node.upload_trust("CallManager-trust", issuer.export_root("pem"))
    node.upload_certificate("CallManager", certificate.public_bytes(serialization.Encoding.PEM))
    if issuer is not trusted:
        node.delete_trust(
            "CallManager-trust", issuer.root_certificate.fingerprint(hashes.SHA256()).hex()
        )
    return node


def test_mutual_tls_succeeds(tmp_path: Path, ca: CertificateAuthority) -> None:
    cucma = make_node(tmp_path / "a", "CUCMA", ca, ca)
    cucm10 = make_node(tmp_path / "b", "CUCM10", ca, ca)
    server = Server(context(cucm10, ssl.PROTOCOL_TLS_SERVER))
    server.start()

    client_ctx = context(cucma, ssl.PROTOCOL_TLS_CLIENT)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as raw,
        client_ctx.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        assert check_subject_name(x509.load_der_x509_certificate(der), ["CUCM10"]) == "CUCM10"
        tls.sendall(b"OPTIONS")
        assert tls.recv(64) == b"OPTIONS"
    server.join(SOCKET_TIMEOUT)

    assert server.error is None
    assert server.peer is not None
    assert check_subject_name(server.peer, ["CUCMA"]) == "CUCMA"


def test_client_from_other_ca_rejected(
    tmp_path: Path, ca: CertificateAuthority, other_ca: CertificateAuthority
) -> None:
    # The client trusts the server's CA but has a certificate from a CA the server does not.
    cucma = make_node(tmp_path / "a", "CUCMA", other_ca, ca)
    cucm10 = make_node(tmp_path / "b", "CUCM10", ca, ca)
    server = Server(context(cucm10, ssl.PROTOCOL_TLS_SERVER))
    server.start()

    client_ctx = context(cucma, ssl.PROTOCOL_TLS_CLIENT)
    # TLS 1.3 finishes the client's handshake before the server checks the
    # client certificate, so the alert may arrive with the first read.
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as raw,
        pytest.raises(ssl.SSLError) as client_info,
        client_ctx.wrap_socket(raw) as tls,
    ):
        tls.sendall(b"OPTIONS")
        tls.recv(64)
    server.join(SOCKET_TIMEOUT)

    assert isinstance(server.error, ssl.SSLCertVerificationError)
    assert server.error.verify_code == 20
    server_text = explain_ssl_error(server.error, side="server")
    assert server_text == (
        "The client's certificate was issued by a CA that is not in CallManager-trust; "
        "upload the client's root CA as CallManager-trust (and check that the client sends "
        "its intermediates)."
    )
    client_text = explain_ssl_error(client_info.value, side="client")
    assert "rejected this node's certificate because its issuer is not in the server's" in (
        client_text
    )
