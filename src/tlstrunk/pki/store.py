"""A node's certificate store: its own identities per purpose and a trust store per purpose.

Directory layout (every write is atomic: a temporary file, then ``os.replace``)::

    own/<purpose>/csr.pem              the pending CSR
    own/<purpose>/pending-key.pem      its private key, mode 0600
    own/<purpose>/current              name of the directory of the current identity
    own/<purpose>/<id>/cert.pem        leaf followed by intermediates
    own/<purpose>/<id>/key.pem         private key, mode 0600 (encrypted with a passphrase
                                       when the store is opened with one)
    trust/<trust name>/<sha256>.pem    one file per trusted certificate
    trust/<trust name>.bundle.pem      all of them, for ``load_verify_locations``

An uploaded identity goes to a new ``<id>`` directory, and only then does
``current`` switch to it, so the certificate and key always change together and
a rejected upload leaves the store as it was.

Private keys are PKCS#8 PEM files of mode 0600. A store opened with a
passphrase encrypts the keys it writes; :meth:`CertificateStore.identity_password`
then returns what ``ssl.SSLContext.load_cert_chain`` needs as ``password``.
"""

from __future__ import annotations

import datetime as dt
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
from tlstrunk.pki import _files, pkcs12
from tlstrunk.pki._csrbuild import alt_names, distribution_dns_names, subject_name
from tlstrunk.pki.ca import utc_now
from tlstrunk.pki.errors import (
    CertificateStoreError,
    CertificateUploadError,
    CertificateValidationError,
    PkiError,
    PolicyError,
)
from tlstrunk.pki.keys import (
    RSA_2048,
    CryptoPolicy,
    KeySpec,
    generate_private_key,
    hash_algorithm,
    warn_legacy,
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

#: Days a self-signed tomcat certificate made at first start stays valid.
SELF_SIGNED_DAYS = 825


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

    def __init__(self, directory: Path, passphrase: bytes | None = None) -> None:
        """Use :meth:`open` instead."""
        self.directory = directory
        self._passphrase = passphrase

    @classmethod
    def open(cls, directory: Path, *, passphrase: bytes | str | None = None) -> CertificateStore:
        """Open the store in ``directory``, creating the directory if missing.

        With ``passphrase``, private keys written from now on are encrypted with
        it, and encrypted keys already in the store are read with it.
        Unencrypted keys are still read without one.
        """
        directory.mkdir(parents=True, exist_ok=True)
        if isinstance(passphrase, str):
            passphrase = passphrase.encode()
        return cls(directory, passphrase or None)

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
        distribution: str = "this-node",
        cluster_nodes: Sequence[str] = (),
    ) -> CsrResult:
        """Generate a key pair and a CSR for ``purpose``, replacing any pending CSR.

        The private key is kept (mode 0600) until the signed certificate is
        uploaded. ``distribution`` "multi-server" makes one CSR for the whole
        cluster: every name of ``cluster_nodes`` goes into the SAN DNS names,
        before ``dns_names``. ``replaced_existing`` in the result tells the
        caller to warn that the previous pending CSR is gone.

        Raises:
            PolicyError: the key or hash is rejected by ``policy`` (SHA-1 always is).
            ValueError: a name, address or the distribution is invalid.
            CertificateStoreError: the purpose is unknown.
        """
        info = find_purpose(purpose)
        key.check_policy(policy)
        if policy is CryptoPolicy.LEGACY:
            warn_legacy(logger, _("{purpose} CSR").format(purpose=info.name))
        algorithm = hash_algorithm(hash_name)
        subject = subject_name(
            common_name, organization, organizational_unit, locality, state, country
        )
        dns = distribution_dns_names(distribution, common_name, dns_names, cluster_nodes)
        builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
        names = alt_names(dns, ip_addresses)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        private_key = generate_private_key(key)
        csr = builder.sign(private_key, algorithm)

        folder = self._own_dir(info)
        replaced = (folder / "csr.pem").exists()
        self._write_key(folder / "pending-key.pem", private_key)
        pem = csr.public_bytes(serialization.Encoding.PEM)
        _files.write_atomic(folder / "csr.pem", pem)
        if replaced:
            logger.warning("new %s CSR replaced the pending one and its key", info.name)
        logger.info("generated %s CSR for %s (%s, %s)", distribution, info.name, key, hash_name)
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
        ``policy`` LEGACY accepts 1024-bit RSA and SHA-1 certificates, validated
        by OpenSSL, and logs a warning.

        Raises:
            CertificateUploadError: the upload is rejected; the message names the
                fault and the fix, and nothing in the store has changed.
        """
        info = find_purpose(purpose)
        try:
            certificates = parse_certificates(data)
            leaf, key = self._select_leaf(info, certificates)
        except (CertificateValidationError, PolicyError) as exc:
            raise CertificateUploadError(str(exc)) from exc
        others = [c for c in certificates if c is not leaf]
        return self._validate_and_install(info, leaf, others, key, utc_now(now), policy)

    def import_pkcs12(
        self,
        purpose: str,
        data: bytes,
        passphrase: bytes | str | None,
        *,
        now: dt.datetime | None = None,
        policy: CryptoPolicy = CryptoPolicy.MODERN,
    ) -> UploadResult:
        """Install the key and certificate of a PKCS#12 file as the identity of ``purpose``.

        The file's certificate must match its key and validate, with the file's
        other certificates as intermediates, to the purpose's trust store at
        ``now``, as for :meth:`upload_certificate`. A pending CSR stays pending.
        This is how a multi-server certificate reaches the other cluster nodes.

        Raises:
            CertificateUploadError: the file, passphrase or chain is rejected;
                the store is unchanged.
        """
        info = find_purpose(purpose)
        secret = passphrase.encode() if isinstance(passphrase, str) else passphrase
        identity = pkcs12.load_identity(data, secret)
        if not _same_public_key(identity.certificate.public_key(), identity.key.public_key()):
            raise CertificateUploadError(
                _(
                    "The certificate in the PKCS#12 file does not belong to its private key; "
                    "export the file again from the node that holds the certificate."
                )
            )
        others = [c for c in identity.additional if c != identity.certificate]
        moment = utc_now(now)
        return self._validate_and_install(
            info, identity.certificate, others, identity.key, moment, policy
        )

    def export_pkcs12(self, purpose: str, passphrase: bytes | str) -> bytes:
        """Return the installed identity of ``purpose`` as a PKCS#12 file encrypted with
        ``passphrase``: the private key, the certificate and its intermediates.

        Raises:
            CertificateStoreError: no certificate is installed for ``purpose``.
            ValueError: the passphrase is empty.
        """
        info = find_purpose(purpose)
        cert_path, key_path = self.identity_files(info.name)
        key = _files.load_private_key(key_path, self._passphrase)
        chain = x509.load_pem_x509_certificates(cert_path.read_bytes())
        secret = passphrase.encode() if isinstance(passphrase, str) else passphrase
        logger.info("exported %s identity as PKCS#12", info.name)
        return pkcs12.dump_identity(info.name, key, chain, secret)

    def _validate_and_install(
        self,
        info: Purpose,
        leaf: x509.Certificate,
        others: list[x509.Certificate],
        key: CertificateIssuerPrivateKeyTypes,
        moment: dt.datetime,
        policy: CryptoPolicy,
    ) -> UploadResult:
        anchors = self.trust_certificates(info.trust_name)
        try:
            check_policy(leaf, policy)
            chain = verify_chain(
                leaf, others, anchors, now=moment, trust_name=info.trust_name, policy=policy
            )
        except (CertificateValidationError, PolicyError) as exc:
            raise CertificateUploadError(str(exc)) from exc

        # the anchor at the end is in the peers' trust stores; send the rest
        presented = chain[:-1] or chain[:1]
        self._install_identity(info, presented, key)
        warnings = usage_warnings(leaf, moment, client_auth=info.name != "tomcat")
        for warning in warnings:
            logger.warning("%s certificate: %s", info.name, warning)
        return UploadResult(certificate=leaf, chain=chain, warnings=warnings)

    def install_self_signed(
        self,
        purpose: str,
        *,
        common_name: str,
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        days: int = SELF_SIGNED_DAYS,
    ) -> x509.Certificate:
        """Install a new key and a self-signed server certificate for ``purpose``.

        This is how a call manager's tomcat certificate starts out at install
        time: enough to serve the admin pages over HTTPS until a CA-signed one
        is uploaded. Peers do not trust it, so it is no use for a trunk.
        """
        info = find_purpose(purpose)
        key = generate_private_key(RSA_2048)
        subject = subject_name(common_name, None, None, None, None, None)
        now = utc_now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        )
        names = alt_names(dns_names or [common_name], ip_addresses)
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(key, hash_algorithm("sha256"))
        self._install_identity(info, [certificate], key)
        return certificate

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

    def identity_password(self, purpose: str) -> bytes | None:
        """Return the ``password`` for ``load_cert_chain`` with :meth:`identity_files`.

        It is the store's passphrase when the installed key of ``purpose`` is
        encrypted, and None when the key is stored unencrypted.

        Raises:
            CertificateStoreError: no certificate is installed for ``purpose``,
                or its key is encrypted and the store was opened without a passphrase.
        """
        _cert_path, key_path = self.identity_files(purpose)
        if not _files.is_encrypted_pem(key_path.read_bytes()):
            return None
        if self._passphrase is None:
            raise CertificateStoreError(
                _(
                    "The {purpose} private key on this node is encrypted; open the "
                    "certificate store with its passphrase."
                ).format(purpose=find_purpose(purpose).name)
            )
        return self._passphrase

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
        if not path.is_file():
            return None
        try:
            return _files.load_private_key(path, self._passphrase)
        except PkiError as exc:
            raise CertificateValidationError(str(exc)) from exc

    def _write_key(self, path: Path, key: CertificateIssuerPrivateKeyTypes) -> None:
        data = _files.private_key_pem(key, self._passphrase)
        _files.write_atomic(path, data, mode=_files.PRIVATE_FILE_MODE)

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
        self._write_key(folder / name / "key.pem", key)
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
