"""Certificate builders and constants shared by the PKI tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.store import CertificateStore

# A fixed clock for tests that do not open sockets (OpenSSL reads the real clock).
NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
CA_START = NOW - dt.timedelta(days=1)


def issue_for_store(
    ca: CertificateAuthority,
    node: CertificateStore,
    *,
    days: int = 730,
    now: dt.datetime | None = NOW,
) -> x509.Certificate:
    """Submit the node's pending CSR to ``ca`` and issue it."""
    request_id = ca.submit(node.csr_pem("CallManager"), now=now)
    return ca.issue(request_id, days=days, now=now)


def pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def ca_private_key(ca: CertificateAuthority) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(
        (ca.directory / "ca-key.pem").read_bytes(), password=None
    )
    return key  # type: ignore[return-value]


def build_certificate(
    *,
    subject: str,
    public_key: object,
    issuer: x509.Certificate,
    issuer_key: object,
    ca: bool = False,
    ekus: Sequence[x509.ObjectIdentifier] | None = (
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ),
    not_before: dt.datetime = NOW,
    days: int = 365,
) -> x509.Certificate:
    """Build a certificate by hand, for shapes the CA does not issue (intermediates, odd EKUs)."""
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=not ca,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key),  # type: ignore[arg-type]
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
    )
    if ekus is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]


def csr_public_key(node: CertificateStore) -> object:
    return x509.load_pem_x509_csr(node.csr_pem("CallManager")).public_key()
