"""The node certificate store: CSRs, uploads with validation, trust stores."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID
from pki_helpers import (
    NOW,
    build_certificate,
    ca_private_key,
    csr_public_key,
    issue_for_store,
    pem,
)

from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.errors import CertificateStoreError, CertificateUploadError, PolicyError
from tlstrunk.pki.keys import KeySpec
from tlstrunk.pki.store import CertificateStore

SECOND = dt.timedelta(seconds=1)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    ("key", "hash_name"),
    [
        ("rsa2048", "sha256"),
        ("rsa3072", "sha384"),
        ("ecdsa-p256", "sha256"),
        ("ecdsa-p384", "sha512"),
    ],
)
def test_generate_csr_key_types(tmp_path: Path, key: str, hash_name: str) -> None:
    node = CertificateStore.open(tmp_path / "node")
    result = node.generate_csr(
        "CallManager",
        common_name="CUCM10",
        dns_names=["cucm10.example.com"],
        ip_addresses=["127.0.0.200"],
        key=KeySpec.parse(key),
        hash_name=hash_name,
        organization="cisco",
        organizational_unit="cisco",
        locality="cisco",
        state="cisco",
        country="IN",
    )
    csr = x509.load_pem_x509_csr(result.pem)
    assert csr.is_signature_valid
    assert result.replaced_existing is False
    assert csr.signature_hash_algorithm is not None
    assert csr.signature_hash_algorithm.name == hash_name
    public_key = csr.public_key()
    if key.startswith("rsa"):
        assert isinstance(public_key, rsa.RSAPublicKey)
        assert public_key.key_size == int(key[3:])
    else:
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert csr.subject.rfc4514_string() == "CN=CUCM10,OU=cisco,O=cisco,L=cisco,ST=cisco,C=IN"
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["cucm10.example.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.200"]
    key_file = tmp_path / "node" / "own" / "CallManager" / "pending-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert node.csr_pem("CallManager") == result.pem


def test_generate_csr_replaces_existing(store: CertificateStore) -> None:
    old = store.csr_pem("CallManager")
    result = store.generate_csr("CallManager", common_name="CUCM10")
    assert result.replaced_existing is True
    assert store.csr_pem("CallManager") == result.pem != old


def test_generate_csr_rejects_sha1(tmp_path: Path) -> None:
    node = CertificateStore.open(tmp_path / "node")
    with pytest.raises(PolicyError, match="refuses to sign with SHA-1"):
        node.generate_csr("CallManager", common_name="CUCM10", hash_name="sha1")
    assert snapshot(tmp_path / "node") == {}


def test_generate_csr_rejects_rsa1024(tmp_path: Path) -> None:
    node = CertificateStore.open(tmp_path / "node")
    with pytest.raises(PolicyError, match="1024 bits is too small"):
        node.generate_csr("CallManager", common_name="CUCM10", key=KeySpec.parse("rsa1024"))


def test_generate_csr_input_errors(tmp_path: Path) -> None:
    node = CertificateStore.open(tmp_path / "node")
    with pytest.raises(ValueError, match=r"Invalid IP address '10\.0\.0\.300'"):
        node.generate_csr("CallManager", common_name="x", ip_addresses=["10.0.0.300"])
    with pytest.raises(ValueError, match="common name is empty"):
        node.generate_csr("CallManager", common_name=" ")
    with pytest.raises(CertificateStoreError, match="Unknown certificate purpose 'ipsec'"):
        node.generate_csr("ipsec", common_name="x")


def test_csr_pem_missing(tmp_path: Path) -> None:
    node = CertificateStore.open(tmp_path / "node")
    with pytest.raises(CertificateStoreError, match="No CSR for purpose CallManager; generate"):
        node.csr_pem("CallManager")


def test_upload_matching_certificate(store: CertificateStore, ca: CertificateAuthority) -> None:
    certificate = issue_for_store(ca, store)
    result = store.upload_certificate("CallManager", pem(certificate), now=NOW)
    assert result.certificate == certificate
    assert result.chain == [certificate, ca.root_certificate]
    assert result.warnings == []
    assert store.own_certificate("CallManager") == certificate

    cert_file, key_file = store.identity_files("CallManager")
    assert x509.load_pem_x509_certificates(cert_file.read_bytes()) == [certificate]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert key.public_key() == certificate.public_key()
    with pytest.raises(CertificateStoreError, match="No CSR for purpose CallManager"):
        store.csr_pem("CallManager")


def test_upload_same_certificate_again(store: CertificateStore, ca: CertificateAuthority) -> None:
    certificate = issue_for_store(ca, store)
    store.upload_certificate("CallManager", pem(certificate), now=NOW)
    result = store.upload_certificate("CallManager", pem(certificate), now=NOW)
    assert result.certificate == certificate
    assert len([p for p in (store.directory / "own" / "CallManager").iterdir() if p.is_dir()]) == 1


def test_upload_der(store: CertificateStore, ca: CertificateAuthority) -> None:
    certificate = issue_for_store(ca, store)
    der = certificate.public_bytes(serialization.Encoding.DER)
    assert store.upload_certificate("CallManager", der, now=NOW).certificate == certificate


def test_upload_mismatching_key_rejected(
    store: CertificateStore, ca: CertificateAuthority, tmp_path: Path
) -> None:
    other = CertificateStore.open(tmp_path / "other")
    other.generate_csr("CallManager", common_name="CUCMA")
    foreign = issue_for_store(ca, other)
    before = snapshot(store.directory)
    with pytest.raises(CertificateUploadError) as info:
        store.upload_certificate("CallManager", pem(foreign), now=NOW)
    assert str(info.value) == (
        "The certificate's public key does not match the CSR generated on this node for "
        "CallManager; upload the certificate issued for this node's CSR, or generate a new CSR."
    )
    assert snapshot(store.directory) == before


def test_upload_mismatch_keeps_installed_identity(
    store: CertificateStore, ca: CertificateAuthority, tmp_path: Path
) -> None:
    store.upload_certificate("CallManager", pem(issue_for_store(ca, store)), now=NOW)
    other = CertificateStore.open(tmp_path / "other")
    other.generate_csr("CallManager", common_name="CUCMA")
    before = snapshot(store.directory)
    with pytest.raises(CertificateUploadError, match="no CSR is pending"):
        store.upload_certificate("CallManager", pem(issue_for_store(ca, other)), now=NOW)
    assert snapshot(store.directory) == before


def test_upload_from_other_ca_names_issuer(
    store: CertificateStore, other_ca: CertificateAuthority
) -> None:
    certificate = issue_for_store(other_ca, store)
    before = snapshot(store.directory)
    with pytest.raises(CertificateUploadError) as info:
        store.upload_certificate("CallManager", pem(certificate), now=NOW)
    assert str(info.value).startswith(
        "The certificate was issued by CN=Other CA, which is not in CallManager-trust; "
        "upload that CA's root certificate as CallManager-trust first"
    )
    assert snapshot(store.directory) == before


def test_upload_with_empty_trust_store(ca: CertificateAuthority, tmp_path: Path) -> None:
    node = CertificateStore.open(tmp_path / "node")
    node.generate_csr("CallManager", common_name="CUCM10")
    with pytest.raises(CertificateUploadError, match="CallManager-trust is empty"):
        node.upload_certificate("CallManager", pem(issue_for_store(ca, node)), now=NOW)


def test_upload_root_as_own_certificate(store: CertificateStore, ca: CertificateAuthority) -> None:
    with pytest.raises(
        CertificateUploadError, match=r"only CA certificates .*as CallManager-trust"
    ):
        store.upload_certificate("CallManager", ca.export_root("pem"), now=NOW)


def test_upload_garbage(store: CertificateStore) -> None:
    with pytest.raises(CertificateUploadError, match=r"contains no X\.509 certificate"):
        store.upload_certificate("CallManager", b"not a certificate", now=NOW)


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-SECOND, False), (dt.timedelta(0), True), (SECOND, True)],
)
def test_upload_not_before_boundary(
    store: CertificateStore, ca: CertificateAuthority, offset: dt.timedelta, accepted: bool
) -> None:
    certificate = issue_for_store(ca, store)
    moment = certificate.not_valid_before_utc + offset
    if accepted:
        store.upload_certificate("CallManager", pem(certificate), now=moment)
        return
    with pytest.raises(CertificateUploadError, match="is not valid yet"):
        store.upload_certificate("CallManager", pem(certificate), now=moment)
    assert store.own_certificate("CallManager") is None


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-SECOND, True), (dt.timedelta(0), True), (SECOND, False)],
)
def test_upload_not_after_boundary(
    store: CertificateStore, ca: CertificateAuthority, offset: dt.timedelta, accepted: bool
) -> None:
    certificate = issue_for_store(ca, store)
    moment = certificate.not_valid_after_utc + offset
    if accepted:
        store.upload_certificate("CallManager", pem(certificate), now=moment)
        return
    with pytest.raises(CertificateUploadError, match="expired on"):
        store.upload_certificate("CallManager", pem(certificate), now=moment)
    assert store.own_certificate("CallManager") is None


def test_upload_expiry_warning(store: CertificateStore, ca: CertificateAuthority) -> None:
    certificate = issue_for_store(ca, store, days=20)
    result = store.upload_certificate("CallManager", pem(certificate), now=NOW)
    assert len(result.warnings) == 1
    assert "expires on" in result.warnings[0]
    assert "in 20 days" in result.warnings[0]


def test_upload_no_warning_at_31_days(store: CertificateStore, ca: CertificateAuthority) -> None:
    certificate = issue_for_store(ca, store, days=31)
    assert store.upload_certificate("CallManager", pem(certificate), now=NOW).warnings == []


@pytest.mark.parametrize(
    ("ekus", "missing"),
    [
        ([ExtendedKeyUsageOID.SERVER_AUTH], "lacks clientAuth"),
        ([ExtendedKeyUsageOID.CLIENT_AUTH], "lacks serverAuth"),
    ],
)
def test_upload_eku_warnings(
    store: CertificateStore,
    ca: CertificateAuthority,
    ekus: list[x509.ObjectIdentifier],
    missing: str,
) -> None:
    certificate = build_certificate(
        subject="CUCM10",
        public_key=csr_public_key(store),
        issuer=ca.root_certificate,
        issuer_key=ca_private_key(ca),
        ekus=ekus,
    )
    result = store.upload_certificate("CallManager", pem(certificate), now=NOW)
    assert len(result.warnings) == 1
    assert missing in result.warnings[0]


def test_upload_without_eku_has_no_warning(
    store: CertificateStore, ca: CertificateAuthority
) -> None:
    certificate = build_certificate(
        subject="CUCM10",
        public_key=csr_public_key(store),
        issuer=ca.root_certificate,
        issuer_key=ca_private_key(ca),
        ekus=None,
    )
    assert store.upload_certificate("CallManager", pem(certificate), now=NOW).warnings == []


@pytest.fixture
def intermediate_chain(
    store: CertificateStore, ca: CertificateAuthority
) -> tuple[x509.Certificate, x509.Certificate]:
    """A leaf for the store's CSR, issued by an intermediate under ``ca``."""
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = build_certificate(
        subject="Issuing CA",
        public_key=intermediate_key.public_key(),
        issuer=ca.root_certificate,
        issuer_key=ca_private_key(ca),
        ca=True,
        ekus=None,
    )
    leaf = build_certificate(
        subject="CUCM10",
        public_key=csr_public_key(store),
        issuer=intermediate,
        issuer_key=intermediate_key,
    )
    return leaf, intermediate


@pytest.mark.parametrize("leaf_first", [True, False])
def test_upload_bundle_any_order(
    store: CertificateStore,
    intermediate_chain: tuple[x509.Certificate, x509.Certificate],
    leaf_first: bool,
) -> None:
    leaf, intermediate = intermediate_chain
    data = pem(leaf, intermediate) if leaf_first else pem(intermediate, leaf)
    result = store.upload_certificate("CallManager", data, now=NOW)
    assert result.certificate == leaf
    assert result.chain[:2] == [leaf, intermediate]
    cert_file, _key_file = store.identity_files("CallManager")
    assert x509.load_pem_x509_certificates(cert_file.read_bytes()) == [leaf, intermediate]


def test_upload_pkcs7_bundle(
    store: CertificateStore, intermediate_chain: tuple[x509.Certificate, x509.Certificate]
) -> None:
    leaf, intermediate = intermediate_chain
    data = pkcs7.serialize_certificates([intermediate, leaf], serialization.Encoding.DER)
    assert store.upload_certificate("CallManager", data, now=NOW).certificate == leaf


def test_upload_missing_intermediate_names_it(
    store: CertificateStore, intermediate_chain: tuple[x509.Certificate, x509.Certificate]
) -> None:
    leaf, _intermediate = intermediate_chain
    with pytest.raises(CertificateUploadError, match="issued by CN=Issuing CA, which is not in"):
        store.upload_certificate("CallManager", pem(leaf), now=NOW)


def test_trust_upload_idempotent_and_bundle(
    tmp_path: Path, ca: CertificateAuthority, other_ca: CertificateAuthority
) -> None:
    node = CertificateStore.open(tmp_path / "node")
    with pytest.raises(CertificateStoreError, match="CallManager-trust is empty"):
        node.trust_bundle_path("CallManager-trust")
    node.upload_trust("CallManager-trust", ca.export_root("der"))
    node.upload_trust("CallManager-trust", ca.export_root("pem"))
    node.upload_trust("callmanager-trust", other_ca.export_root("pem"))
    assert sorted(
        c.subject.rfc4514_string() for c in node.trust_certificates("CallManager-trust")
    ) == ["CN=Other CA", "CN=tlstrunk Test CA"]
    bundle = x509.load_pem_x509_certificates(
        node.trust_bundle_path("CallManager-trust").read_bytes()
    )
    assert len(bundle) == 2


def test_trust_upload_rejects_several(
    tmp_path: Path, ca: CertificateAuthority, other_ca: CertificateAuthority
) -> None:
    node = CertificateStore.open(tmp_path / "node")
    data = pem(ca.root_certificate, other_ca.root_certificate)
    with pytest.raises(CertificateUploadError, match="contains 2 certificates"):
        node.upload_trust("CallManager-trust", data)
    with pytest.raises(CertificateStoreError, match="Unknown trust store 'Phone-trust'"):
        node.upload_trust("Phone-trust", ca.export_root("pem"))


def test_delete_trust_by_fingerprint_and_cn(
    tmp_path: Path, ca: CertificateAuthority, other_ca: CertificateAuthority
) -> None:
    node = CertificateStore.open(tmp_path / "node")
    node.upload_trust("CallManager-trust", ca.export_root("pem"))
    node.upload_trust("CallManager-trust", other_ca.export_root("pem"))
    [entry] = [
        e for e in node.list_trust("CallManager-trust") if e.certificate == ca.root_certificate
    ]
    fingerprint = ":".join(entry.fingerprint[i : i + 2] for i in range(0, 16, 2)).upper()
    assert node.delete_trust("CallManager-trust", fingerprint) == ca.root_certificate
    assert node.delete_trust("CallManager-trust", "other ca") == other_ca.root_certificate
    assert node.list_trust("CallManager-trust") == []
    with pytest.raises(CertificateStoreError, match="No certificate in CallManager-trust"):
        node.delete_trust("CallManager-trust", "Other CA")


def test_list_own(store: CertificateStore, ca: CertificateAuthority) -> None:
    entries = {entry.purpose: entry for entry in store.list_own()}
    assert entries["CallManager"].certificate is None
    assert entries["CallManager"].csr_pending
    certificate = issue_for_store(ca, store)
    store.upload_certificate("CallManager", pem(certificate), now=NOW)
    entries = {entry.purpose: entry for entry in store.list_own()}
    assert entries["CallManager"].certificate == certificate
    assert not entries["CallManager"].csr_pending
    assert entries["tomcat"].certificate is None


def test_identity_files_missing(store: CertificateStore) -> None:
    with pytest.raises(CertificateStoreError, match="No certificate is installed for CallManager"):
        store.identity_files("CallManager")
