"""The certificate authority: create, open, submit, pending, issue, deny, export."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pki_helpers import NOW

from tlstrunk.pki.ca import CertificateAuthority, RequestStatus
from tlstrunk.pki.errors import CertificateAuthorityError, PolicyError
from tlstrunk.pki.keys import KeySpec
from tlstrunk.pki.store import CertificateStore


def make_csr(
    common_name: str = "CUCM10",
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    dns: tuple[str, ...] = ("cucm10.example.com",),
) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    if dns:
        names = [x509.DNSName(name) for name in dns]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def test_create_writes_root_and_private_key(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path / "ca", common_name="Lab CA", now=NOW)
    root = ca.root_certificate
    assert root.subject == root.issuer
    assert root.subject.rfc4514_string() == "CN=Lab CA"
    assert root.not_valid_before_utc == NOW
    assert root.not_valid_after_utc == NOW + dt.timedelta(days=3650)
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert isinstance(root.public_key(), rsa.RSAPublicKey)
    key_mode = stat.S_IMODE((tmp_path / "ca" / "ca-key.pem").stat().st_mode)
    assert key_mode == 0o600


def test_create_rejects_existing_ca(ca: CertificateAuthority) -> None:
    with pytest.raises(CertificateAuthorityError, match="already contains a certificate authority"):
        CertificateAuthority.create(ca.directory)


def test_create_rejects_weak_key(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="1024 bits"):
        CertificateAuthority.create(tmp_path / "ca", key=KeySpec.parse("rsa1024"))
    assert not (tmp_path / "ca" / "ca.json").exists()


def test_open_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(CertificateAuthorityError, match="No certificate authority in"):
        CertificateAuthority.open(tmp_path / "nothing")


def test_open_reads_same_root(ca: CertificateAuthority) -> None:
    assert CertificateAuthority.open(ca.directory).root_certificate == ca.root_certificate


def test_submit_lists_pending(ca: CertificateAuthority) -> None:
    first = ca.submit(make_csr("CUCM10"), now=NOW)
    second = ca.submit(make_csr("CUCMA", dns=()), now=NOW)
    pending = CertificateAuthority.open(ca.directory).pending()
    assert [r.id for r in pending] == [first, second]
    assert pending[0].subject == "CN=CUCM10"
    assert pending[0].dns_names == ("cucm10.example.com",)
    assert pending[0].submitted_at == NOW
    assert pending[0].status is RequestStatus.PENDING
    assert pending[1].dns_names == ()


def test_submit_accepts_der(ca: CertificateAuthority) -> None:
    csr = x509.load_pem_x509_csr(make_csr())
    assert ca.submit(csr.public_bytes(serialization.Encoding.DER)) == 1


def test_submit_rejects_tampered_csr(ca: CertificateAuthority) -> None:
    csr = x509.load_pem_x509_csr(make_csr())
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # flip a bit inside the signature
    with pytest.raises(CertificateAuthorityError, match="signature is invalid"):
        ca.submit(bytes(der))
    assert ca.pending() == []


def test_submit_rejects_weak_rsa(ca: CertificateAuthority) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(PolicyError, match="CSR was rejected: An RSA key of 1024 bits"):
        ca.submit(make_csr(key=weak))


def test_submit_rejects_garbage(ca: CertificateAuthority) -> None:
    with pytest.raises(CertificateAuthorityError, match="not a certificate signing request"):
        ca.submit(b"hello")


def test_issue_extensions_rsa(ca: CertificateAuthority) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    request_id = ca.submit(make_csr(key=key), now=NOW)
    certificate = ca.issue(request_id, days=30, now=NOW)

    assert certificate.subject.rfc4514_string() == "CN=CUCM10"
    assert certificate.issuer == ca.root_certificate.subject
    assert certificate.not_valid_before_utc == NOW
    assert certificate.not_valid_after_utc == NOW + dt.timedelta(days=30)
    extensions = certificate.extensions
    usage = extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.key_encipherment
    assert not usage.key_cert_sign
    ekus = list(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ekus == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["cucm10.example.com"]
    aki = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = ca.root_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == root_ski.value.digest
    ski = extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate.verify_directly_issued_by(ca.root_certificate)


def test_issue_ec_key_usage(ca: CertificateAuthority) -> None:
    certificate = ca.issue(ca.submit(make_csr()), now=NOW)
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_encipherment


def test_issue_caps_validity_at_root_expiry(ca: CertificateAuthority) -> None:
    certificate = ca.issue(ca.submit(make_csr()), days=36_500, now=NOW)
    assert certificate.not_valid_after_utc == ca.root_certificate.not_valid_after_utc


def test_serials_are_random_and_large(ca: CertificateAuthority) -> None:
    serials = [ca.issue(ca.submit(make_csr(f"node{i}")), now=NOW).serial_number for i in range(8)]
    assert len(set(serials)) == len(serials)
    for serial in serials:
        assert serial.bit_length() > 64
        assert serial.bit_length() <= 159


def test_issue_records_and_state(ca: CertificateAuthority) -> None:
    request_id = ca.submit(make_csr(), now=NOW)
    certificate = ca.issue(request_id, now=NOW)
    reopened = CertificateAuthority.open(ca.directory)
    assert reopened.pending() == []
    [record] = reopened.issued()
    assert record.serial == certificate.serial_number
    assert record.request_id == request_id
    assert record.subject == "CN=CUCM10"
    assert record.not_after == certificate.not_valid_after_utc
    [request] = reopened.requests()
    assert request.status is RequestStatus.ISSUED
    assert request.serial == certificate.serial_number
    with pytest.raises(CertificateAuthorityError, match="Request 1 is issued, not pending"):
        reopened.issue(request_id)


def test_issue_unknown_request(ca: CertificateAuthority) -> None:
    with pytest.raises(CertificateAuthorityError, match="No request with id 42"):
        ca.issue(42)


def test_deny_records_reason(ca: CertificateAuthority) -> None:
    request_id = ca.submit(make_csr())
    ca.deny(request_id, "wrong host name")
    [request] = CertificateAuthority.open(ca.directory).requests()
    assert request.status is RequestStatus.DENIED
    assert request.reason == "wrong host name"
    assert ca.pending() == []
    with pytest.raises(CertificateAuthorityError, match="is denied, not pending"):
        ca.issue(request_id)


def test_export_pem_and_der(ca: CertificateAuthority) -> None:
    certificate = ca.issue(ca.submit(make_csr()), now=NOW)
    pem = ca.export_certificate(certificate.serial_number, "pem")
    der = ca.export_certificate(certificate.serial_number, "der")
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert x509.load_pem_x509_certificate(pem) == certificate
    assert x509.load_der_x509_certificate(der) == certificate
    assert x509.load_der_x509_certificate(ca.export_root("der")) == ca.root_certificate
    assert x509.load_pem_x509_certificate(ca.export_root("pem")) == ca.root_certificate


def test_export_errors(ca: CertificateAuthority) -> None:
    with pytest.raises(CertificateAuthorityError, match="no certificate with serial ABC"):
        ca.export_certificate(0xABC, "pem")
    with pytest.raises(Exception, match="Unknown certificate encoding 'p7b'"):
        ca.export_root("p7b")


def test_index_is_json(ca: CertificateAuthority) -> None:
    ca.submit(make_csr())
    index = json.loads((ca.directory / "ca.json").read_text())
    assert index["next_request_id"] == 2
    assert index["requests"][0]["status"] == "pending"
    assert not list(ca.directory.glob(".*.tmp"))


def test_node_csr_round_trip(ca: CertificateAuthority, tmp_path: Path) -> None:
    node = CertificateStore.open(tmp_path / "node")
    node.generate_csr("CallManager", common_name="CUCMA", ip_addresses=["127.0.0.203"])
    request_id = ca.submit(node.csr_pem("CallManager"))
    [request] = ca.pending()
    assert request.id == request_id
    assert request.subject == "CN=CUCMA"
    assert request.ip_addresses == ("127.0.0.203",)


def test_issue_rejects_century_validity(ca: CertificateAuthority) -> None:
    with pytest.raises(ValueError, match="validity of 36501 days is too long"):
        ca.issue(ca.submit(make_csr()), days=36_501, now=NOW)
