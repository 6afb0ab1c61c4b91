"""Certificate rendering and the plain-language explanations of OpenSSL errors."""

from __future__ import annotations

import ssl

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
from pki_helpers import NOW, build_certificate, ca_private_key, csr_public_key, issue_for_store

from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.explain import explain_ssl_error, explain_verify_failure
from tlstrunk.pki.render import render_certificate
from tlstrunk.pki.store import CertificateStore


def test_render_issued_certificate(store: CertificateStore, ca: CertificateAuthority) -> None:
    certificate = issue_for_store(ca, store)
    text = render_certificate(
        certificate,
        file_name="CallManager.pem",
        purpose="CallManager",
        description="Certificate Signed by CA",
    )
    lines = text.splitlines()
    assert lines[:3] == [
        "File Name: CallManager.pem",
        "Certificate Purpose: CallManager",
        "Description: Certificate Signed by CA",
    ]
    assert "Version: V3" in lines
    assert f"Serial Number: {certificate.serial_number:X}" in lines
    assert "SignatureAlgorithm: SHA256withECDSA (1.2.840.10045.4.3.2)" in lines
    assert "Issuer Name: CN=tlstrunk Test CA" in lines
    assert "Validity From: Sat Mar 01 12:00:00 UTC 2025" in lines
    assert "             To: Mon Mar 01 12:00:00 UTC 2027" in lines
    assert "Subject Name: CN=CUCM10" in lines
    assert "Key: RSA 2048 (1.2.840.113549.1.1.1)" in lines
    assert "Extensions: 6 present" in lines
    assert "Key usages: digitalSignature, keyEncipherment" in lines
    assert "Usage oids: serverAuth (1.3.6.1.5.5.7.3.1), clientAuth (1.3.6.1.5.5.7.3.2)" in lines
    assert "Subject alternative names: DNS:cucm10.example.com" in lines
    assert any(line.startswith("SHA-256 Fingerprint: ") for line in lines)
    assert any(line.startswith("SHA-1 Fingerprint: ") for line in lines)


def test_render_names_ipsec_end_system(store: CertificateStore, ca: CertificateAuthority) -> None:
    ekus = [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    ]
    certificate = build_certificate(
        subject="CUCMA",
        public_key=csr_public_key(store),
        issuer=ca.root_certificate,
        issuer_key=ca_private_key(ca),
        ekus=ekus,
        not_before=NOW,
    )
    text = render_certificate(certificate)
    assert "ipsecEndSystem (1.3.6.1.5.5.7.3.5)" in text
    assert not text.startswith("File Name")


@pytest.mark.parametrize(
    ("code", "message", "side", "expected"),
    [
        (
            20,
            "unable to get local issuer certificate",
            "client",
            "The server's certificate was issued by a CA that is not in CallManager-trust; "
            "upload the server's root CA as CallManager-trust",
        ),
        (10, "certificate has expired", "server", "The client's certificate has expired"),
        (9, "certificate is not yet valid", "client", "is not valid yet; check the clocks"),
        (18, "self-signed certificate", "client", "presented a self-signed certificate"),
        (
            19,
            "self-signed certificate in certificate chain",
            "server",
            "The client's certificate chains to a root CA that is not in CallManager-trust",
        ),
        (26, "unsupported certificate purpose", "server", "lacks clientAuth"),
        (26, "unsupported certificate purpose", "client", "lacks serverAuth"),
        (66, "EE certificate key too weak", "client", "key is too small for the modern policy"),
        (68, "CA signature digest algorithm too weak", "client", "weak hash such as SHA-1"),
        (None, "ee key too small", "client", "key is too small"),
        (None, "ca md too weak", "server", "weak hash"),
    ],
)
def test_explain_verify_failure(code: int | None, message: str, side: str, expected: str) -> None:
    assert expected in explain_verify_failure(code, message, side=side)


def test_explain_verify_failure_unknown_code() -> None:
    text = explain_verify_failure(99, "something odd", side="client")
    assert "failed verification (something odd)" in text


def test_explain_verify_failure_rejects_bad_side() -> None:
    with pytest.raises(ValueError, match="Invalid side 'peer'"):
        explain_verify_failure(20, None, side="peer")


def ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}] {reason.lower().replace('_', ' ')}")
    error.reason = reason
    return error


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("TLSV1_ALERT_UNKNOWN_CA", "its issuer is not in the server's trust store"),
        ("SSLV3_ALERT_BAD_CERTIFICATE", "rejected this node's certificate (bad certificate)"),
        ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "did not send a certificate"),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "requires a certificate from this node"),
        ("WRONG_VERSION_NUMBER", "did not speak TLS"),
        ("EE_KEY_TOO_SMALL", "This node's certificate (or its CA) has a key too small"),
        ("CA_MD_TOO_WEAK", "signed with a weak hash"),
    ],
)
def test_explain_ssl_error_reasons(reason: str, expected: str) -> None:
    assert expected in explain_ssl_error(ssl_error(reason), side="client")


def test_explain_ssl_error_fallback() -> None:
    text = explain_ssl_error(ssl_error("SOMETHING_NEW"), side="server")
    assert text.startswith("The TLS handshake with the client failed:")
