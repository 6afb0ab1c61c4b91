"""Parsing of uploaded certificate files, and path validation with clear messages.

Path building and signature checks are done by ``cryptography.x509.verification``.
Its server verifier requires a subjectAltName in the leaf and checks a DNS name
or IP address against it. Node certificates from enterprise CAs often carry
only a common name, and trunk profiles check names with their own X.509
subject-name rule (see :mod:`tlstrunk.pki.names`). So the leaf is validated
with the client verifier and the WebPKI end-entity extension policy relaxed in
three places: the subjectAltName, the extended key usage and the authority key
identifier may be absent. Extended key usage is checked here instead, as
warnings that say which trunk direction a missing usage breaks (and as a
failed check in :mod:`tlstrunk.pki.verify`). CA certificates keep the WebPKI
defaults (basicConstraints CA, keyCertSign) except that their extended key
usage is not tied to the client role, because :mod:`tlstrunk.pki.verify` checks
it for the role at hand.

The cryptography verifier enforces RSA >= 2048 bits and rejects SHA-1
signatures, so chains under the legacy policy are validated by OpenSSL
instead (see :mod:`tlstrunk.pki.legacy`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlstrunk.i18n import _
from tlstrunk.pki.errors import CertificateValidationError, PolicyError
from tlstrunk.pki.keys import CryptoPolicy, check_public_key, check_signature_hash
from tlstrunk.pki.legacy import verify_chain_legacy
from tlstrunk.pki.names import rfc4514_subject

EXPIRY_WARNING_DAYS = 30
_MAX_CHAIN_DEPTH = 8


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """Load every certificate of a PEM bundle, a DER certificate or a PKCS#7 (.p7b) file.

    Raises:
        CertificateValidationError: the data contains no certificate.
    """
    loaders = (
        [x509.load_pem_x509_certificates, pkcs7.load_pem_pkcs7_certificates]
        if b"-----BEGIN" in data
        else [_load_der_certificate, pkcs7.load_der_pkcs7_certificates]
    )
    for loader in loaders:
        try:
            certificates = loader(data)
        except ValueError:
            continue
        if certificates:
            return certificates
    raise CertificateValidationError(
        _(
            "The file contains no X.509 certificate in PEM (Base-64), DER (binary) or PKCS#7 "
            "form; export the certificate from the CA again as Base-64 or DER."
        )
    )


def is_ca(certificate: x509.Certificate) -> bool:
    """Tell whether ``certificate`` has basicConstraints with CA set."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def is_self_signed(certificate: x509.Certificate) -> bool:
    """Tell whether ``certificate`` is issued by itself and its signature checks out."""
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def check_validity(certificate: x509.Certificate, now: dt.datetime) -> None:
    """Raise if ``now`` is outside the certificate's validity (both ends inclusive)."""
    subject = rfc4514_subject(certificate.subject)
    if now < certificate.not_valid_before_utc:
        raise CertificateValidationError(
            _(
                "The certificate for {subject} is not valid yet: it is valid from {start} "
                "(it is now {now}); check this node's clock and the CA's, or wait."
            ).format(subject=subject, start=certificate.not_valid_before_utc, now=now)
        )
    if now > certificate.not_valid_after_utc:
        raise CertificateValidationError(
            _(
                "The certificate for {subject} expired on {end} (it is now {now}); have a new "
                "certificate issued for this node's CSR."
            ).format(subject=subject, end=certificate.not_valid_after_utc, now=now)
        )


def check_policy(certificate: x509.Certificate, policy: CryptoPolicy) -> None:
    """Raise :class:`PolicyError` if the certificate's key or signature hash breaks ``policy``."""
    subject = rfc4514_subject(certificate.subject)
    try:
        check_public_key(certificate.public_key(), policy)
        check_signature_hash(certificate.signature_hash_algorithm, policy)
    except PolicyError as exc:
        raise PolicyError(
            _("The certificate for {subject} was rejected: {reason}").format(
                subject=subject, reason=exc
            )
        ) from exc


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    *,
    now: dt.datetime,
    trust_name: str,
    policy: CryptoPolicy = CryptoPolicy.MODERN,
) -> list[x509.Certificate]:
    """Validate ``leaf`` up to one of ``anchors`` and return the chain, leaf first.

    Under the legacy policy, OpenSSL validates the chain (see
    :mod:`tlstrunk.pki.legacy`) and the use is logged as a warning.

    Raises:
        CertificateValidationError: the chain is invalid; the message names the
            fault, for example the issuer missing from ``trust_name``.
    """
    check_validity(leaf, now)
    if policy is CryptoPolicy.LEGACY:
        return verify_chain_legacy(leaf, intermediates, anchors, now=now, trust_name=trust_name)
    if not anchors:
        raise CertificateValidationError(
            _(
                "{trust} is empty, so no certificate can be validated; upload the root "
                "certificate of the CA that signed it as {trust} first."
            ).format(trust=trust_name)
        )
    verifier = build_verifier(anchors, now)
    try:
        return verifier.verify(leaf, list(intermediates)).chain
    except verification.VerificationError as exc:
        raise CertificateValidationError(
            explain_chain_failure(leaf, intermediates, anchors, trust_name, str(exc))
        ) from exc


def build_verifier(
    anchors: Sequence[x509.Certificate], now: dt.datetime
) -> verification.ClientVerifier:
    """Build the cryptography verifier used for every modern-policy path validation."""
    agnostic = verification.Criticality.AGNOSTIC
    ee_policy = (
        verification.ExtensionPolicy.webpki_defaults_ee()
        .may_be_present(x509.SubjectAlternativeName, agnostic, None)
        .may_be_present(x509.ExtendedKeyUsage, agnostic, None)
        .may_be_present(x509.AuthorityKeyIdentifier, agnostic, None)
    )
    ca_policy = verification.ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, agnostic, None
    )
    return (
        verification.PolicyBuilder()
        .store(verification.Store(list(anchors)))
        .time(now)
        .max_chain_depth(_MAX_CHAIN_DEPTH)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )


def extended_key_usages(certificate: x509.Certificate) -> list[x509.ObjectIdentifier] | None:
    """Return the certificate's extended key usages, or None if it has no such extension."""
    return _extended_key_usages(certificate)


def usage_warnings(
    certificate: x509.Certificate, now: dt.datetime, *, client_auth: bool = True
) -> list[str]:
    """Return warnings about key usages a trunk needs and about near expiry.

    ``client_auth`` false is for a certificate that only ever serves (tomcat):
    a missing clientAuth usage is then no fault.
    """
    warnings: list[str] = []
    ekus = _extended_key_usages(certificate)
    if client_auth and ekus is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in ekus:
        warnings.append(
            _(
                "The certificate's extended key usage lacks clientAuth, so peers will reject "
                "it on outgoing trunk connections, where this node is the TLS client; ask "
                "the CA for a certificate with both serverAuth and clientAuth."
            )
        )
    if ekus is not None and ExtendedKeyUsageOID.SERVER_AUTH not in ekus:
        warnings.append(
            _(
                "The certificate's extended key usage lacks serverAuth, so peers will reject "
                "it on incoming trunk connections, where this node is the TLS server; ask "
                "the CA for a certificate with both serverAuth and clientAuth."
            )
        )
    if not _allows_digital_signature(certificate):
        warnings.append(
            _(
                "The certificate's key usage lacks digitalSignature, which TLS 1.3 and "
                "ECDHE cipher suites need; ask the CA for a certificate with digitalSignature."
            )
        )
    remaining = certificate.not_valid_after_utc - now
    if remaining <= dt.timedelta(days=EXPIRY_WARNING_DAYS):
        warnings.append(
            _(
                "The certificate expires on {end}, in {days} days; generate a new CSR and "
                "have it signed before then."
            ).format(end=certificate.not_valid_after_utc, days=remaining.days)
        )
    return warnings


def _load_der_certificate(data: bytes) -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(data)]


def _extended_key_usages(certificate: x509.Certificate) -> list[x509.ObjectIdentifier] | None:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return None
    return list(extension.value)


def _allows_digital_signature(certificate: x509.Certificate) -> bool:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        return True
    return extension.value.digital_signature


def explain_chain_failure(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    trust_name: str,
    detail: str,
) -> str:
    """Explain why cryptography's verifier rejected the chain of ``leaf``, with the fix."""
    top = _walk_to_top(leaf, intermediates)
    anchor_names = {anchor.subject for anchor in anchors}
    if top.issuer not in anchor_names:
        issuer = rfc4514_subject(top.issuer)
        return _(
            "The certificate was issued by {issuer}, which is not in {trust}; upload that "
            "CA's root certificate as {trust} first (and, if {issuer} is an intermediate CA, "
            "upload the certificate together with its intermediates as one file)."
        ).format(issuer=issuer, trust=trust_name)
    return _(
        "The certificate chain up to {trust} is invalid: {detail}. Check that the file "
        "contains the certificate issued for this node and the right intermediates."
    ).format(trust=trust_name, detail=detail)


def _walk_to_top(
    leaf: x509.Certificate, intermediates: Sequence[x509.Certificate]
) -> x509.Certificate:
    """Follow issuer names through ``intermediates`` to the highest certificate found."""
    current = leaf
    for _step in range(_MAX_CHAIN_DEPTH):
        if is_self_signed(current):
            return current
        parent = next((c for c in intermediates if c.subject == current.issuer), None)
        if parent is None or parent is current:
            return current
        current = parent
    return current
