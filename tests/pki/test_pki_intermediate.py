"""CA with an intermediate, key types, usages, revocation and CRLs; mutual TLS through it."""

from __future__ import annotations

import datetime as dt
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID
from pki_helpers import CA_START, NOW
from tls_helpers import SOCKET_TIMEOUT, Server, connect, context

from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.errors import CertificateAuthorityError, PolicyError
from tlstrunk.pki.keys import CryptoPolicy, KeySpec
from tlstrunk.pki.names import check_subject_name
from tlstrunk.pki.store import CertificateStore


@pytest.fixture
def sub_ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.create(
        tmp_path / "ca",
        common_name="Lab Root",
        key=KeySpec.parse("ecdsa-p384"),
        hash_name="sha384",
        intermediate_common_name="Lab Issuing CA",
        intermediate_key=KeySpec.parse("rsa3072"),
        intermediate_hash_name="sha256",
        now=CA_START,
    )


def node_with_certificate(
    directory: Path, name: str, ca: CertificateAuthority, now: dt.datetime | None = None
) -> CertificateStore:
    """A node that trusts only ``ca``'s root and has uploaded leaf + intermediate."""
    node = CertificateStore.open(directory)
    node.upload_trust("CallManager-trust", ca.export_root("pem"))
    node.generate_csr("CallManager", common_name=name)
    certificate = ca.issue(ca.submit(node.csr_pem("CallManager"), now=now), now=now)
    node.upload_certificate(
        "CallManager", ca.export_certificate(certificate.serial_number), now=now
    )
    return node


def test_intermediate_created(sub_ca: CertificateAuthority) -> None:
    root, intermediate = sub_ca.root_certificate, sub_ca.intermediate_certificate
    assert intermediate is not None
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)
    assert root.signature_hash_algorithm is not None
    assert root.signature_hash_algorithm.name == "sha384"
    public_key = intermediate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 3072
    assert intermediate.issuer == root.subject
    intermediate.verify_directly_issued_by(root)
    constraints = intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    assert constraints.path_length == 0
    assert intermediate.not_valid_after_utc <= root.not_valid_after_utc
    mode = stat.S_IMODE((sub_ca.directory / "intermediate-key.pem").stat().st_mode)
    assert mode == 0o600
    assert CertificateAuthority.open(sub_ca.directory).intermediate_certificate == intermediate


def test_leaf_issued_by_intermediate(sub_ca: CertificateAuthority, tmp_path: Path) -> None:
    node = CertificateStore.open(tmp_path / "node")
    node.generate_csr("CallManager", common_name="CUCM10", dns_names=["cucm10.example.com"])
    leaf = sub_ca.issue(sub_ca.submit(node.csr_pem("CallManager"), now=NOW), now=NOW)
    intermediate = sub_ca.intermediate_certificate
    assert intermediate is not None
    assert leaf.issuer == intermediate.subject
    leaf.verify_directly_issued_by(intermediate)
    assert leaf.signature_hash_algorithm is not None
    assert leaf.signature_hash_algorithm.name == "sha256"

    exported = x509.load_pem_x509_certificates(sub_ca.export_certificate(leaf.serial_number))
    assert exported == [leaf, intermediate]
    assert x509.load_pem_x509_certificates(
        sub_ca.export_certificate(leaf.serial_number, include_chain=False)
    ) == [leaf]
    assert (
        x509.load_der_x509_certificate(sub_ca.export_certificate(leaf.serial_number, "der")) == leaf
    )
    assert x509.load_pem_x509_certificates(sub_ca.export_chain()) == [
        intermediate,
        sub_ca.root_certificate,
    ]
    p7b = pkcs7.load_der_pkcs7_certificates(sub_ca.export_chain("p7b"))
    # PKCS#7 keeps certificates in a DER SET, which has no order
    assert sorted(c.subject.rfc4514_string() for c in p7b) == ["CN=Lab Issuing CA", "CN=Lab Root"]


def test_leaf_carries_csr_sans_and_default_usages(ca: CertificateAuthority, tmp_path: Path) -> None:
    node = CertificateStore.open(tmp_path / "node")
    node.generate_csr(
        "CallManager",
        common_name="CUCM10",
        dns_names=["cucm10.example.com"],
        ip_addresses=["127.0.0.200"],
    )
    leaf = ca.issue(ca.submit(node.csr_pem("CallManager"), now=NOW), now=NOW)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["cucm10.example.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.200"]
    ekus = list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ekus == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert ca.issued()[0].usages == ("serverAuth", "clientAuth")


def test_issue_chosen_usages(ca: CertificateAuthority, tmp_path: Path) -> None:
    node = CertificateStore.open(tmp_path / "node")
    node.generate_csr("CallManager", common_name="CUCM10")
    request_id = ca.submit(node.csr_pem("CallManager"), now=NOW)
    with pytest.raises(ValueError, match="Unknown extended key usage 'codeSigning'"):
        ca.issue(request_id, usages=("codeSigning",), now=NOW)
    leaf = ca.issue(request_id, usages=("serverAuth",), now=NOW)
    ekus = list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ekus == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert ca.issued()[0].usages == ("serverAuth",)


@pytest.mark.parametrize(("key", "hash_name"), [("rsa4096", "sha512"), ("ecdsa-p256", "sha256")])
def test_root_key_types(tmp_path: Path, key: str, hash_name: str) -> None:
    ca = CertificateAuthority.create(
        tmp_path / "ca", key=KeySpec.parse(key), hash_name=hash_name, now=NOW
    )
    root = ca.root_certificate
    assert root.signature_hash_algorithm is not None
    assert root.signature_hash_algorithm.name == hash_name


def test_ca_rejects_sha1_and_rsa1024(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="refuses to sign with SHA-1"):
        CertificateAuthority.create(tmp_path / "a", hash_name="sha1")
    with pytest.raises(PolicyError, match="1024 bits is too small for the modern policy") as info:
        CertificateAuthority.create(
            tmp_path / "b", intermediate_common_name="x", intermediate_key=KeySpec.parse("rsa1024")
        )
    assert "ee key too small" in str(info.value)
    assert not (tmp_path / "b" / "ca.json").exists()


def test_ca_legacy_accepts_rsa1024_and_sha1_csr(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ca = CertificateAuthority.create(
        tmp_path / "ca", key=KeySpec.parse("rsa1024"), policy=CryptoPolicy.LEGACY, now=NOW
    )
    assert "legacy crypto policy in use" in caplog.text
    public_key = ca.root_certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 1024
    modern = CertificateAuthority.create(tmp_path / "modern", key=KeySpec.parse("ecdsa-p256"))
    small = rsa.generate_private_key(65537, 1024)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=CUCMA"))
        .sign(small, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(PolicyError, match="CSR was rejected: An RSA key of 1024 bits"):
        modern.submit(csr)
    assert ca.submit(csr, now=NOW) == 1


def test_revoke_and_crl(sub_ca: CertificateAuthority, tmp_path: Path) -> None:
    node = CertificateStore.open(tmp_path / "node")
    node.generate_csr("CallManager", common_name="CUCM10")
    first = sub_ca.issue(sub_ca.submit(node.csr_pem("CallManager"), now=NOW), now=NOW)
    node.generate_csr("CallManager", common_name="CUCM10")
    second = sub_ca.issue(sub_ca.submit(node.csr_pem("CallManager"), now=NOW), now=NOW)

    record = sub_ca.revoke(first.serial_number, "keyCompromise", now=NOW)
    assert record.revoked
    assert record.revocation_reason == "keyCompromise"
    with pytest.raises(CertificateAuthorityError, match="already revoked"):
        sub_ca.revoke(first.serial_number)
    with pytest.raises(CertificateAuthorityError, match="no certificate with serial 1234"):
        sub_ca.revoke(0x1234)
    with pytest.raises(ValueError, match="Unknown revocation reason 'lost'"):
        sub_ca.revoke(second.serial_number, "lost")

    records = {r.serial: r for r in CertificateAuthority.open(sub_ca.directory).issued()}
    assert records[first.serial_number].revoked_at == NOW
    assert not records[second.serial_number].revoked

    crl = x509.load_pem_x509_crl(sub_ca.publish_crl(days=7, now=NOW))
    intermediate = sub_ca.intermediate_certificate
    assert intermediate is not None
    assert crl.issuer == intermediate.subject
    assert crl.is_signature_valid(intermediate.public_key())  # type: ignore[arg-type]
    assert crl.next_update_utc == NOW + dt.timedelta(days=7)
    entry = crl.get_revoked_certificate_by_serial_number(first.serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.key_compromise
    assert crl.get_revoked_certificate_by_serial_number(second.serial_number) is None
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert (sub_ca.directory / "crl.pem").read_bytes() == crl.public_bytes(
        serialization.Encoding.PEM
    )
    der = x509.load_der_x509_crl(sub_ca.publish_crl(now=NOW, encoding="der"))
    assert der.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    assert (sub_ca.directory / "crl.der").read_bytes() == der.public_bytes(
        serialization.Encoding.DER
    )


def test_mutual_tls_through_intermediate(tmp_path: Path) -> None:
    # OpenSSL checks validity against the real clock, so this CA starts now.
    ca = CertificateAuthority.create(
        tmp_path / "ca",
        common_name="Lab Root",
        key=KeySpec.parse("ecdsa-p256"),
        intermediate_common_name="Lab Issuing CA",
    )
    cucma = node_with_certificate(tmp_path / "a", "CUCMA", ca)
    cucm10 = node_with_certificate(tmp_path / "b", "CUCM10", ca)
    for node in (cucma, cucm10):
        # each side trusts only the root and sends leaf + intermediate
        assert node.trust_certificates("CallManager-trust") == [ca.root_certificate]
        assert node.own_chain("CallManager")[1] == ca.intermediate_certificate

    server = Server(context(cucm10, ssl.PROTOCOL_TLS_SERVER))
    server.start()
    peer, echo = connect(context(cucma, ssl.PROTOCOL_TLS_CLIENT), server.port)
    server.join(SOCKET_TIMEOUT)

    assert echo == b"OPTIONS"
    assert check_subject_name(peer, ["CUCM10"]) == "CUCM10"
    assert server.error is None
    assert server.peer is not None
    assert check_subject_name(server.peer, ["CUCMA"]) == "CUCMA"
