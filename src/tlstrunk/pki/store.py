"""A node's certificate store: its own identities per purpose and a trust store per purpose.

Directory layout (every write is atomic: a temporary file, then ``os.replace``)::

    own/<purpose>/csr.pem              the pending CSR
    own/<purpose>/pending-key.pem      its private key, mode 0600
    own/<purpose>/current              name of the directory of the current identity
    own/<purpose>/<id>/cert.pem        leaf followed by intermediates
    own/<purpose>/<id>/key.pem         private key, mode 0600
    trust/<trust name>/<sha256>.pem    one file per trusted certificate
    trust/<trust name>.bundle.pem      all of them, for ``load_verify_locations``

An uploaded identity goes to a new ``<id>`` directory, and only then does
``current`` switch to it, so the certificate and key always change together and
a rejected upload leaves the store as it was.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import NameOID

from tlstrunk.i18n import _
from tlstrunk.pki import _files
from tlstrunk.pki.ca import utc_now
from tlstrunk.pki.errors import (
    CertificateStoreError,
    CertificateUploadError,
    CertificateValidationError,
    PolicyError,
)
from tlstrunk.pki.keys import (
    RSA_2048,
    CryptoPolicy,
    KeySpec,
    generate_private_key,
    hash_algorithm,
)
from tlstrunk.pki.names import rfc4514_subject
from tlstrunk.pki.validate import (
    check_policy,
    is_ca,
    parse_certificates,
    usage_warnings,
    verify_chain,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purpose:
    """A certificate purpose, its trust store and its certificate group."""

    name: str
    trust_name: str
    group: str


PURPOSES: dict[str, Purpose] = {
    purpose.name: purpose
    for purpose in (
        Purpose("CallManager", "CallManager-trust", "product-cm"),
        Purpose("tomcat", "tomcat-trust", "product-cpi"),
    )
}


@dataclass(frozen=True)
class CsrResult:
    """A newly generated CSR."""

    pem: bytes
    replaced_existing: bool


@dataclass(frozen=True)
class UploadResult:
    """An accepted certificate upload: the leaf, its validated chain and any warnings."""

    certificate: x509.Certificate
    chain: list[x509.Certificate]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OwnEntry:
    """One purpose of the node: its certificate, if any, and whether a CSR is pending."""

    purpose: str
    certificate: x509.Certificate | None
    csr_pending: bool


@dataclass(frozen=True)
class TrustEntry:
    """One certificate of a trust store, keyed by its SHA-256 fingerprint (hex)."""

    trust_name: str
    fingerprint: str
    certificate: x509.Certificate


def find_purpose(name: str) -> Purpose:
    """Return the purpose called ``name`` (case-insensitive).

    Raises:
        CertificateStoreError: no such purpose.
    """
    for purpose in PURPOSES.values():
        if purpose.name.casefold() == name.casefold():
            return purpose
    raise CertificateStoreError(
        _("Unknown certificate purpose {value!r}; use one of: {known}.").format(
            value=name, known=", ".join(PURPOSES)
        )
    )


def find_trust_purpose(trust_name: str) -> Purpose:
    """Return the purpose whose trust store is ``trust_name`` (case-insensitive).

    Raises:
        CertificateStoreError: no such trust store.
    """
    for purpose in PURPOSES.values():
        if purpose.trust_name.casefold() == trust_name.casefold():
            return purpose
    raise CertificateStoreError(
        _("Unknown trust store {value!r}; use one of: {known}.").format(
            value=trust_name, known=", ".join(p.trust_name for p in PURPOSES.values())
        )
    )


class CertificateStore:
    """The certificates of one node, kept in a directory; see the module docstring."""

    def __init__(self, directory: Path) -> None:
        """Use :meth:`open` instead."""
        self.directory = directory

    @classmethod
    def open(cls, directory: Path) -> CertificateStore:
        """Open the store in ``directory``, creating the directory if missing."""
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory)

    # own certificates

    def generate_csr(
        self,
        purpose: str,
        *,
        common_name: str,
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        key: KeySpec = RSA_2048,
        hash_name: str = "sha256",
        organization: str | None = None,
        organizational_unit: str | None = None,
        locality: str | None = None,
        state: str | None = None,
        country: str | None = None,
        policy: CryptoPolicy = CryptoPolicy.MODERN,
    ) -> CsrResult:
        """Generate a key pair and a CSR for ``purpose``, replacing any pending CSR.

        The private key is kept (mode 0600) until the signed certificate is uploaded.

        Raises:
            PolicyError: the key or hash is rejected by ``policy`` (SHA-1 always is).
            ValueError: a name or address is invalid.
            CertificateStoreError: the purpose is unknown.
        """
        info = find_purpose(purpose)
        key.check_policy(policy)
        algorithm = hash_algorithm(hash_name)
        subject = _subject_name(
            common_name, organization, organizational_unit, locality, state, country
        )
        builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
        alt_names = _alt_names(dns_names, ip_addresses)
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        private_key = generate_private_key(key)
        csr = builder.sign(private_key, algorithm)

        folder = self._own_dir(info)
        replaced = (folder / "csr.pem").exists()
        _files.write_atomic(
            folder / "pending-key.pem",
            _files.private_key_pem(private_key),
            mode=_files.PRIVATE_FILE_MODE,
        )
        pem = csr.public_bytes(serialization.Encoding.PEM)
        _files.write_atomic(folder / "csr.pem", pem)
        logger.info("generated CSR for %s (%s, %s)", info.name, key, hash_name)
        return CsrResult(pem=pem, replaced_existing=replaced)

    def csr_pem(self, purpose: str) -> bytes:
        """Return the pending CSR of ``purpose`` as PEM.

        Raises:
            CertificateStoreError: no CSR is pending for that purpose.
        """
        info = find_purpose(purpose)
        path = self._own_dir(info) / "csr.pem"
        if not path.is_file():
            raise CertificateStoreError(
                _(
                    "No CSR for purpose {purpose}; generate one first with 'tlstrunk cert "
                    "generate-csr --purpose {purpose} --cn NODE_NAME'."
                ).format(purpose=info.name)
            )
        return path.read_bytes()

    def upload_certificate(
        self,
        purpose: str,
        data: bytes,
        *,
        now: dt.datetime | None = None,
        policy: CryptoPolicy = CryptoPolicy.MODERN,
    ) -> UploadResult:
        """Validate and install the CA-signed certificate (or bundle) for ``purpose``.

        ``data`` contains the leaf, optionally with intermediates in any order. The
        leaf's key must match the pending CSR's key or the current key, and the
        chain must validate to a certificate of the purpose's trust store at ``now``.

        Raises:
            CertificateUploadError: the upload is rejected; the message names the
                fault and the fix, and nothing in the store has changed.
        """
        info = find_purpose(purpose)
        moment = utc_now(now)
        try:
            certificates = parse_certificates(data)
            leaf, key = self._select_leaf(info, certificates)
            check_policy(leaf, policy)
            others = [c for c in certificates if c is not leaf]
            anchors = self.trust_certificates(info.trust_name)
            chain = verify_chain(leaf, others, anchors, now=moment, trust_name=info.trust_name)
        except (CertificateValidationError, PolicyError) as exc:
            raise CertificateUploadError(str(exc)) from exc

        # the anchor at the end is in the peers' trust stores; send the rest
        presented = chain[:-1] or chain[:1]
        self._install_identity(info, presented, key)
        warnings = usage_warnings(leaf, moment)
        for warning in warnings:
            logger.warning("%s certificate: %s", info.name, warning)
        return UploadResult(certificate=leaf, chain=chain, warnings=warnings)

    def own_certificate(self, purpose: str) -> x509.Certificate | None:
        """Return the installed certificate of ``purpose``, or None if there is none."""
        folder = self._current_identity_dir(find_purpose(purpose))
        if folder is None:
            return None
        return x509.load_pem_x509_certificates((folder / "cert.pem").read_bytes())[0]

    def own_chain(self, purpose: str) -> list[x509.Certificate]:
        """Return the installed certificate of ``purpose`` followed by its intermediates."""
        cert_path, _key_path = self.identity_files(purpose)
        return x509.load_pem_x509_certificates(cert_path.read_bytes())

    def identity_files(self, purpose: str) -> tuple[Path, Path]:
        """Return the certificate chain file and key file, as ``load_cert_chain`` takes them.

        Raises:
            CertificateStoreError: no certificate is installed for ``purpose``.
        """
        info = find_purpose(purpose)
        folder = self._current_identity_dir(info)
        if folder is None:
            raise CertificateStoreError(
                _(
                    "No certificate is installed for {purpose} on this node; generate a CSR, "
                    "have it signed by the CA and upload it with 'tlstrunk cert upload "
                    "--purpose {purpose} FILE'."
                ).format(purpose=info.name)
            )
        return folder / "cert.pem", folder / "key.pem"

    def list_own(self) -> list[OwnEntry]:
        """Return every known purpose with its certificate and CSR state."""
        return [
            OwnEntry(
                purpose=info.name,
                certificate=self.own_certificate(info.name),
                csr_pending=(self._own_dir(info) / "csr.pem").is_file(),
            )
            for info in PURPOSES.values()
        ]

    # trust stores

    def upload_trust(self, trust_name: str, pem_or_der: bytes) -> x509.Certificate:
        """Add one certificate to the trust store ``trust_name`` and return it.

        CA certificates are the normal content. A non-CA certificate (a peer's
        self-signed node certificate) is accepted too, with a logged warning.
        Uploading a certificate that is already present changes nothing.

        Raises:
            CertificateUploadError: the data is not exactly one certificate.
        """
        info = find_trust_purpose(trust_name)
        try:
            certificates = parse_certificates(pem_or_der)
        except CertificateValidationError as exc:
            raise CertificateUploadError(str(exc)) from exc
        if len(certificates) != 1:
            raise CertificateUploadError(
                _(
                    "The file contains {count} certificates; upload trust certificates one at "
                    "a time, starting with the root CA."
                ).format(count=len(certificates))
            )
        certificate = certificates[0]
        if not is_ca(certificate):
            logger.warning(
                "%s: %s is not a CA certificate; trusting it as a peer's own certificate",
                info.trust_name,
                rfc4514_subject(certificate.subject),
            )
        path = self._trust_dir(info) / f"{_files.fingerprint_sha256(certificate)}.pem"
        if not path.exists():
            _files.write_atomic(path, _files.encode_certificate(certificate, "pem"))
            logger.info("added %s to %s", rfc4514_subject(certificate.subject), info.trust_name)
        self._write_bundle(info)
        return certificate

    def list_trust(self, trust_name: str) -> list[TrustEntry]:
        """Return the certificates of ``trust_name``, ordered by fingerprint."""
        info = find_trust_purpose(trust_name)
        folder = self._trust_dir(info)
        if not folder.is_dir():
            return []
        return [
            TrustEntry(
                trust_name=info.trust_name,
                fingerprint=path.stem,
                certificate=x509.load_pem_x509_certificate(path.read_bytes()),
            )
            for path in sorted(folder.glob("*.pem"))
        ]

    def trust_certificates(self, trust_name: str) -> list[x509.Certificate]:
        """Return the certificates of ``trust_name``."""
        return [entry.certificate for entry in self.list_trust(trust_name)]

    def trust_bundle_path(self, trust_name: str) -> Path:
        """Return the PEM bundle of ``trust_name``, as ``load_verify_locations`` takes it.

        Raises:
            CertificateStoreError: the trust store is empty.
        """
        info = find_trust_purpose(trust_name)
        if not self.list_trust(info.trust_name):
            raise CertificateStoreError(
                _(
                    "{trust} is empty on this node; upload the CA's root certificate with "
                    "'tlstrunk cert upload --purpose {trust} FILE'."
                ).format(trust=info.trust_name)
            )
        return self._bundle_path(info)

    def delete_trust(self, trust_name: str, fingerprint_or_subject: str) -> x509.Certificate:
        """Remove one certificate from ``trust_name`` and return it.

        The certificate is named by its SHA-256 fingerprint (or a prefix of at
        least 8 hex digits, colons allowed), its RFC 4514 subject or its CN.

        Raises:
            CertificateStoreError: nothing or more than one certificate matches.
        """
        info = find_trust_purpose(trust_name)
        matches = _match_trust(self.list_trust(info.trust_name), fingerprint_or_subject)
        if len(matches) != 1:
            raise CertificateStoreError(_ambiguity_message(info, fingerprint_or_subject, matches))
        entry = matches[0]
        (self._trust_dir(info) / f"{entry.fingerprint}.pem").unlink()
        self._write_bundle(info)
        logger.info("removed %s from %s", rfc4514_subject(entry.certificate.subject), trust_name)
        return entry.certificate

    # storage

    def _own_dir(self, info: Purpose) -> Path:
        return self.directory / "own" / info.name

    def _trust_dir(self, info: Purpose) -> Path:
        return self.directory / "trust" / info.trust_name

    def _bundle_path(self, info: Purpose) -> Path:
        return self.directory / "trust" / f"{info.trust_name}.bundle.pem"

    def _current_identity_dir(self, info: Purpose) -> Path | None:
        pointer = self._own_dir(info) / "current"
        if not pointer.is_file():
            return None
        return self._own_dir(info) / pointer.read_text(encoding="utf-8").strip()

    def _load_key(self, path: Path) -> CertificateIssuerPrivateKeyTypes | None:
        return _files.load_private_key(path) if path.is_file() else None

    def _select_leaf(
        self, info: Purpose, certificates: list[x509.Certificate]
    ) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]:
        pending = self._load_key(self._own_dir(info) / "pending-key.pem")
        current_dir = self._current_identity_dir(info)
        current = self._load_key(current_dir / "key.pem") if current_dir else None
        for key in (pending, current):
            if key is None:
                continue
            for certificate in certificates:
                if _same_public_key(certificate.public_key(), key.public_key()):
                    return certificate, key
        raise CertificateValidationError(_leaf_not_found_message(info, certificates, pending))

    def _install_identity(
        self,
        info: Purpose,
        presented: list[x509.Certificate],
        key: CertificateIssuerPrivateKeyTypes,
    ) -> None:
        folder = self._own_dir(info)
        previous = self._current_identity_dir(info)
        name = f"{_files.fingerprint_sha256(presented[0])[:16]}-{secrets.token_hex(4)}"
        chain_pem = b"".join(_files.encode_certificate(c, "pem") for c in presented)
        _files.write_atomic(folder / name / "cert.pem", chain_pem)
        _files.write_atomic(
            folder / name / "key.pem", _files.private_key_pem(key), mode=_files.PRIVATE_FILE_MODE
        )
        _files.write_atomic(folder / "current", name.encode())

        pending = self._load_key(folder / "pending-key.pem")
        if pending is not None and _same_public_key(pending.public_key(), key.public_key()):
            (folder / "csr.pem").unlink(missing_ok=True)
            (folder / "pending-key.pem").unlink(missing_ok=True)
        if previous is not None and previous.name != name:
            shutil.rmtree(previous, ignore_errors=True)
        logger.info("installed %s certificate %s", info.name, rfc4514_subject(presented[0].subject))

    def _write_bundle(self, info: Purpose) -> None:
        certificates = self.trust_certificates(info.trust_name)
        data = b"".join(_files.encode_certificate(c, "pem") for c in certificates)
        _files.write_atomic(self._bundle_path(info), data)


def _same_public_key(left: CertificatePublicKeyTypes, right: CertificatePublicKeyTypes) -> bool:
    encoding = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return left.public_bytes(encoding, spki) == right.public_bytes(encoding, spki)


def _subject_name(
    common_name: str,
    organization: str | None,
    organizational_unit: str | None,
    locality: str | None,
    state: str | None,
    country: str | None,
) -> x509.Name:
    if not common_name.strip():
        raise ValueError(_("The common name is empty; use the node's host name, such as CUCM10."))
    if country is not None and len(country) != 2:
        raise ValueError(
            _("Invalid country {value!r}; use a two-letter code such as IN.").format(value=country)
        )
    # most significant first, so the OpenSSL form reads /C=../ST=../L=../O=../OU=../CN=..
    parts = [
        (NameOID.COUNTRY_NAME, country),
        (NameOID.STATE_OR_PROVINCE_NAME, state),
        (NameOID.LOCALITY_NAME, locality),
        (NameOID.ORGANIZATION_NAME, organization),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, organizational_unit),
        (NameOID.COMMON_NAME, common_name.strip()),
    ]
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts if value])


def _alt_names(dns_names: Sequence[str], ip_addresses: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names if name]
    for text in ip_addresses:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError:
            raise ValueError(
                _("Invalid IP address {value!r} for the subject alternative names.").format(
                    value=text
                )
            ) from None
    return names


def _leaf_not_found_message(
    info: Purpose,
    certificates: list[x509.Certificate],
    pending: CertificateIssuerPrivateKeyTypes | None,
) -> str:
    if all(is_ca(c) for c in certificates):
        subjects = "; ".join(rfc4514_subject(c.subject) for c in certificates)
        return _(
            "The file contains only CA certificates ({subjects}); upload it as {trust}, or "
            "upload the certificate the CA issued for this node as {purpose}."
        ).format(subjects=subjects, trust=info.trust_name, purpose=info.name)
    if pending is None:
        return _(
            "The certificate's public key does not match any key of this node for "
            "{purpose}, and no CSR is pending; generate a CSR with 'tlstrunk cert "
            "generate-csr --purpose {purpose}', have it signed and upload the result."
        ).format(purpose=info.name)
    return _(
        "The certificate's public key does not match the CSR generated on this node for "
        "{purpose}; upload the certificate issued for this node's CSR, or generate a new CSR."
    ).format(purpose=info.name)


def _match_trust(entries: list[TrustEntry], selector: str) -> list[TrustEntry]:
    wanted = selector.strip().casefold()
    hex_digits = wanted.replace(":", "")
    if len(hex_digits) >= 8 and all(c in "0123456789abcdef" for c in hex_digits):
        by_fingerprint = [e for e in entries if e.fingerprint.startswith(hex_digits)]
        if by_fingerprint:
            return by_fingerprint
    matches = []
    for entry in entries:
        subject = entry.certificate.subject
        cns = [str(a.value).casefold() for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        if rfc4514_subject(subject).casefold() == wanted or wanted in cns:
            matches.append(entry)
    return matches


def _ambiguity_message(info: Purpose, selector: str, matches: list[TrustEntry]) -> str:
    if not matches:
        return _(
            "No certificate in {trust} matches {value!r}; list them with 'tlstrunk cert list' "
            "and give a SHA-256 fingerprint or the subject."
        ).format(trust=info.trust_name, value=selector)
    found = ", ".join(
        f"{m.fingerprint[:16]} ({rfc4514_subject(m.certificate.subject)})" for m in matches
    )
    return _(
        "{count} certificates in {trust} match {value!r}: {found}; give a longer fingerprint."
    ).format(count=len(matches), trust=info.trust_name, value=selector, found=found)
