"""Certificate operations of the web pages and API, on top of ``CertificateStore``.

This is a thin adapter: it reads the same options as ``tlstrunk cert
generate-csr`` and ``tlstrunk cert upload`` from a form or JSON object and
calls the store, so both give the same messages for the same input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from tlstrunk.pki.ca import utc_now
from tlstrunk.pki.errors import CertificateStoreError
from tlstrunk.pki.keys import CryptoPolicy, KeySpec
from tlstrunk.pki.names import rfc4514_subject
from tlstrunk.pki.render import render_certificate
from tlstrunk.pki.store import (
    PURPOSES,
    CertificateStore,
    CsrResult,
    find_purpose,
    find_trust_purpose,
)
from tlstrunk.pki.validate import is_self_signed
from tlstrunk.web.fields import InputError
from tlstrunk.web.language import N_, _

__all__ = [
    "CSR_OPTIONS",
    "EXPIRY_WARNING_DAYS",
    "CertificateRow",
    "certificate_rows",
    "generate_csr",
    "render_own",
    "render_trust",
    "upload",
]

#: Certificates that expire within this many days get a warning on the list page.
EXPIRY_WARNING_DAYS = 30

KEY_TYPES = ("rsa2048", "rsa3072", "rsa4096", "ecdsa-p256", "ecdsa-p384")
HASHES = ("sha256", "sha384", "sha512")
DISTRIBUTIONS = ("this-node", "multi-server")
POLICIES = tuple(policy.value for policy in CryptoPolicy)

#: The CSR form's fields: name, English label, kind ("text", "choice" or "lines") and choices.
CSR_OPTIONS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("purpose", N_("Purpose"), "choice", tuple(PURPOSES)),
    ("common_name", N_("Common name (the node's host name)"), "text", ()),
    ("distribution", N_("Distribution"), "choice", DISTRIBUTIONS),
    ("cluster_nodes", N_("Cluster nodes, for multi-server (one per line)"), "lines", ()),
    ("dns_names", N_("Subject alternative DNS names (one per line)"), "lines", ()),
    ("ip_addresses", N_("Subject alternative IP addresses (one per line)"), "lines", ()),
    ("key", N_("Key type and length"), "choice", KEY_TYPES),
    ("hash", N_("Signature hash"), "choice", HASHES),
    ("organization", N_("Organization (O)"), "text", ()),
    ("organizational_unit", N_("Organizational unit (OU)"), "text", ()),
    ("locality", N_("Locality (L)"), "text", ()),
    ("state", N_("State or province (ST)"), "text", ()),
    ("country", N_("Two-letter country code (C)"), "text", ()),
    ("policy", N_("Crypto policy"), "choice", POLICIES),
)


@dataclass(frozen=True)
class CertificateRow:
    """One line of the certificate list."""

    kind: str
    purpose: str
    subject: str
    issuer: str
    expires: str
    fingerprint: str
    csr_pending: bool
    warning: str


def _expiry_warning(certificate: x509.Certificate, now: dt.datetime) -> str:
    days = (certificate.not_valid_after_utc - now).days
    if certificate.not_valid_after_utc <= now:
        return _("Expired; replace this certificate.")
    if days < EXPIRY_WARNING_DAYS:
        return _("Expires in {days} days; renew it soon.").format(days=days)
    return ""


def certificate_rows(
    store: CertificateStore, now: dt.datetime | None = None
) -> list[CertificateRow]:
    """Return the own certificates, then every trust certificate, with expiry warnings."""
    moment = utc_now(now)
    rows = []
    for entry in store.list_own():
        cert = entry.certificate
        rows.append(
            CertificateRow(
                kind="own",
                purpose=entry.purpose,
                subject=rfc4514_subject(cert.subject) if cert else "",
                issuer=rfc4514_subject(cert.issuer) if cert else "",
                expires=cert.not_valid_after_utc.date().isoformat() if cert else "",
                fingerprint="",
                csr_pending=entry.csr_pending,
                warning=_expiry_warning(cert, moment) if cert else "",
            )
        )
    for purpose in PURPOSES.values():
        for trust in store.list_trust(purpose.trust_name):
            rows.append(
                CertificateRow(
                    kind="trust",
                    purpose=trust.trust_name,
                    subject=rfc4514_subject(trust.certificate.subject),
                    issuer=rfc4514_subject(trust.certificate.issuer),
                    expires=trust.certificate.not_valid_after_utc.date().isoformat(),
                    fingerprint=trust.fingerprint,
                    csr_pending=False,
                    warning=_expiry_warning(trust.certificate, moment),
                )
            )
    return rows


def _text(raw: Mapping[str, Any], name: str, default: str = "") -> str:
    value = raw.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InputError(name, _("{name} must be text.").format(name=name))
    return value.strip()


def _items(raw: Mapping[str, Any], name: str) -> list[str]:
    value = raw.get(name) or []
    if isinstance(value, str):
        return value.replace(",", " ").split()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    raise InputError(name, _("{name} must be a list of text items.").format(name=name))


def _policy(raw: Mapping[str, Any]) -> CryptoPolicy:
    text = _text(raw, "policy", "modern")
    try:
        return CryptoPolicy(text)
    except ValueError:
        raise InputError(
            "policy",
            _("Crypto policy {value!r} is not one of: {choices}.").format(
                value=text, choices=", ".join(POLICIES)
            ),
        ) from None


def generate_csr(store: CertificateStore, raw: Mapping[str, Any]) -> tuple[str, CsrResult]:
    """Generate a CSR from the options of :data:`CSR_OPTIONS`; return the purpose and result.

    Raises:
        InputError: the common name is missing or an option is malformed.
        PkiError, ValueError: the store rejected the options, as on the command line.
    """
    common_name = _text(raw, "common_name")
    if not common_name:
        raise InputError(
            "common_name",
            _("Common name is missing; enter the node's host name, such as CUCM10."),
        )
    purpose = find_purpose(_text(raw, "purpose", "CallManager")).name
    result = store.generate_csr(
        purpose,
        common_name=common_name,
        dns_names=_items(raw, "dns_names"),
        ip_addresses=_items(raw, "ip_addresses"),
        key=KeySpec.parse(_text(raw, "key", "rsa2048")),
        hash_name=_text(raw, "hash", "sha256"),
        organization=_text(raw, "organization") or None,
        organizational_unit=_text(raw, "organizational_unit") or None,
        locality=_text(raw, "locality") or None,
        state=_text(raw, "state") or None,
        country=_text(raw, "country") or None,
        policy=_policy(raw),
        distribution=_text(raw, "distribution", "this-node"),
        cluster_nodes=_items(raw, "cluster_nodes"),
    )
    return purpose, result


def upload(
    store: CertificateStore, purpose: str, data: bytes, policy: CryptoPolicy
) -> tuple[str, list[str]]:
    """Upload ``data`` as ``purpose`` (an own purpose or a trust store name).

    Returns a sentence describing what was installed and the store's warnings.

    Raises:
        PkiError: the upload was rejected; the store is unchanged.
    """
    if purpose.casefold().endswith("-trust"):
        certificate = store.upload_trust(purpose, data)
        message = _("Added {subject} to {trust}.").format(
            subject=rfc4514_subject(certificate.subject),
            trust=find_trust_purpose(purpose).trust_name,
        )
        return message, []
    result = store.upload_certificate(purpose, data, policy=policy)
    message = _("Installed {subject} for {purpose}, issued by {issuer}.").format(
        subject=rfc4514_subject(result.certificate.subject),
        purpose=find_purpose(purpose).name,
        issuer=rfc4514_subject(result.certificate.issuer),
    )
    return message, list(result.warnings)


def render_own(store: CertificateStore, purpose: str) -> str:
    """Return the "show cert" text of the installed certificate of ``purpose``.

    Raises:
        CertificateStoreError: the purpose is unknown or has no certificate.
    """
    info = find_purpose(purpose)
    certificate = store.own_certificate(info.name)
    if certificate is None:
        store.identity_files(info.name)  # raises the "no certificate installed" error
        raise AssertionError("identity_files returned without a certificate")
    description = (
        _("Self-signed certificate")
        if is_self_signed(certificate)
        else _("Certificate Signed by CA")
    )
    return render_certificate(
        certificate, file_name=f"{info.name}.pem", purpose=info.name, description=description
    )


def render_trust(store: CertificateStore, trust_name: str, fingerprint: str) -> str:
    """Return the "show cert" text of one trust certificate.

    Raises:
        CertificateStoreError: the trust store is unknown or has no such certificate.
    """
    info = find_trust_purpose(trust_name)
    for entry in store.list_trust(info.trust_name):
        if entry.fingerprint == fingerprint:
            return render_certificate(
                entry.certificate,
                file_name=f"{entry.fingerprint[:16]}.pem",
                purpose=info.trust_name,
                description=_("Trust certificate {subject}").format(
                    subject=rfc4514_subject(entry.certificate.subject)
                ),
            )
    raise CertificateStoreError(
        _("No certificate in {trust} has fingerprint {fingerprint}; reload the list.").format(
            trust=info.trust_name, fingerprint=fingerprint
        )
    )
