"""Builders for the certificates and CRLs the CA signs: root, intermediate, leaf, CRL."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlstrunk.i18n import _
from tlstrunk.pki.keys import SigningHash

SERIAL_BITS = 127  # random serials of 65 to 127 bits; RFC 5280 allows up to 20 octets

#: Extended key usages the CA can put in a leaf, by the names OpenSSL prints.
USAGES: dict[str, x509.ObjectIdentifier] = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "ipsecEndSystem": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
}
DEFAULT_USAGES = ("serverAuth", "clientAuth")

#: Revocation reasons by their RFC 5280 names.
REASONS: dict[str, x509.ReasonFlags] = {flag.value: flag for flag in x509.ReasonFlags}


def parse_usages(names: Sequence[str]) -> list[x509.ObjectIdentifier]:
    """Return the OIDs of extended key usage ``names`` (case-insensitive).

    Raises:
        ValueError: a name is unknown, or ``names`` is empty.
    """
    if not names:
        raise ValueError(_("No extended key usage given; use serverAuth, clientAuth or both."))
    by_folded = {name.casefold(): oid for name, oid in USAGES.items()}
    oids = []
    for name in names:
        oid = by_folded.get(name.strip().casefold())
        if oid is None:
            raise ValueError(
                _("Unknown extended key usage {value!r}; use one of: {known}.").format(
                    value=name, known=", ".join(USAGES)
                )
            )
        if oid not in oids:
            oids.append(oid)
    return oids


def parse_reason(name: str) -> x509.ReasonFlags:
    """Return the revocation reason called ``name``, such as "keyCompromise".

    Raises:
        ValueError: ``name`` is not an RFC 5280 reason.
    """
    for value, flag in REASONS.items():
        if value.casefold() == name.strip().casefold():
            return flag
    raise ValueError(
        _("Unknown revocation reason {value!r}; use one of: {known}.").format(
            value=name, known=", ".join(REASONS)
        )
    )


def random_serial() -> int:
    # at least 64 random bits, as the CA/Browser Forum Baseline Requirements require
    return secrets.randbits(SERIAL_BITS) | (1 << 64)


def build_root(
    private_key: CertificateIssuerPrivateKeyTypes,
    common_name: str,
    algorithm: SigningHash,
    start: dt.datetime,
    days: int,
) -> x509.Certificate:
    """Build the self-signed root certificate."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public_key = private_key.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(random_serial())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    return builder.sign(private_key, algorithm)


def build_intermediate(
    private_key: CertificateIssuerPrivateKeyTypes,
    common_name: str,
    root: x509.Certificate,
    root_key: CertificateIssuerPrivateKeyTypes,
    algorithm: SigningHash,
    start: dt.datetime,
    end: dt.datetime,
) -> x509.Certificate:
    """Build an issuing CA certificate signed by ``root``, allowed to sign leaves only."""
    public_key = private_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(root.subject)
        .public_key(public_key)
        .serial_number(random_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_authority_key_identifier(root), critical=False)
    )
    return builder.sign(root_key, algorithm)


def build_leaf(
    csr: x509.CertificateSigningRequest,
    issuer: x509.Certificate,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    algorithm: SigningHash,
    start: dt.datetime,
    end: dt.datetime,
    usages: Sequence[x509.ObjectIdentifier],
) -> x509.Certificate:
    """Build a node certificate for ``csr``, copying its subject and SANs."""
    public_key = csr.public_key()
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(random_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(digital_signature=True, key_encipherment=is_rsa), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_authority_key_identifier(issuer), critical=False)
    )
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None and len(san) > 0:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(issuer_key, algorithm)


def build_crl(
    issuer: x509.Certificate,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    algorithm: SigningHash,
    revoked: Sequence[tuple[int, dt.datetime, x509.ReasonFlags]],
    number: int,
    start: dt.datetime,
    next_update: dt.datetime,
) -> x509.CertificateRevocationList:
    """Build a CRL of ``revoked`` (serial, revocation time, reason) signed by ``issuer``."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(start)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_authority_key_identifier(issuer), critical=False)
    )
    for serial, revoked_at, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revoked_at)
        if reason is not x509.ReasonFlags.unspecified:
            # RFC 5280 5.3.1: the reasonCode should be absent rather than unspecified.
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(issuer_key, algorithm)


def key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    """Return a KeyUsage extension with the given bits set and every other bit clear."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
