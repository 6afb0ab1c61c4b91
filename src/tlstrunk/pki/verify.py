"""Check a peer's certificate chain the way a trunk does, step by step, for people to read.

:func:`verify_peer` runs every check and returns one :class:`CheckResult` per
check, so that ``tlstrunk cert verify`` and the trunk doctor can print what
passed and what failed. It raises nothing for an invalid peer. The checks:

chain
    The path from the peer's certificate to a trust anchor, built and
    signature-checked by cryptography (modern policy) or OpenSSL (legacy).
validity
    Every certificate of the chain is within its validity at the given time.
key usage
    The peer's certificate and any intermediate allow the TLS role, which is
    serverAuth for a server and clientAuth for a client, whenever they carry an
    extended key usage extension. The peer's key usage must allow signatures.
policy
    Key sizes and signature hashes are allowed by the crypto policy.
name
    The X.509 subject-name rule of trunk profiles (see :mod:`tlstrunk.pki.names`).
revocation
    No certificate of the chain is on a CRL from its issuer, when CRLs are given.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlstrunk.i18n import _
from tlstrunk.pki.errors import CertificateValidationError, PolicyError
from tlstrunk.pki.keys import CryptoPolicy, check_public_key, warn_legacy
from tlstrunk.pki.legacy import assemble_chain, verify_chain_legacy
from tlstrunk.pki.names import SubjectNameMismatch, check_subject_name, rfc4514_subject
from tlstrunk.pki.validate import (
    build_verifier,
    check_policy,
    check_validity,
    explain_chain_failure,
    extended_key_usages,
    is_self_signed,
)

logger = logging.getLogger(__name__)

#: The extended key usage a certificate needs for each TLS role.
ROLE_USAGES = {
    "server": ExtendedKeyUsageOID.SERVER_AUTH,
    "client": ExtendedKeyUsageOID.CLIENT_AUTH,
}
_USAGE_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
}


#: Exceptions cryptography raises for a malformed key or extension when it is first read.
_MALFORMED = (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)


class CheckStatus(enum.Enum):
    """The outcome of one check."""

    PASSED = "pass"
    FAILED = "fail"
    SKIPPED = "skip"


@dataclass(frozen=True)
class CheckResult:
    """One check of :func:`verify_peer`: its name, outcome and a sentence for people."""

    check: str
    status: CheckStatus
    detail: str

    @property
    def passed(self) -> bool:
        """True unless the check failed (a skipped check does not fail the peer)."""
        return self.status is not CheckStatus.FAILED


def is_valid(results: Sequence[CheckResult]) -> bool:
    """Tell whether no check of ``results`` failed."""
    return all(result.passed for result in results)


def verify_peer(
    peer_chain: Sequence[x509.Certificate],
    trusted: Sequence[x509.Certificate],
    *,
    role: str,
    now: dt.datetime,
    names: Sequence[str] = (),
    untrusted: Sequence[x509.Certificate] = (),
    policy: CryptoPolicy = CryptoPolicy.MODERN,
    crls: Sequence[x509.CertificateRevocationList] = (),
    trust_name: str = "CallManager-trust",
) -> list[CheckResult]:
    """Check the peer certificate ``peer_chain[0]`` and return the result of every check.

    ``peer_chain`` is what the peer sends: its certificate, then intermediates.
    ``untrusted`` adds intermediates from elsewhere. ``role`` is the peer's TLS
    role, "server" or "client". ``names`` are the accepted subject names; with
    none, the name check is skipped. ``trust_name`` only appears in messages.

    Raises:
        ValueError: ``peer_chain`` is empty or ``role`` is unknown.
    """
    if not peer_chain:
        raise ValueError(_("No peer certificate to verify; give the peer's certificate file."))
    if role not in ROLE_USAGES:
        raise ValueError(_("Invalid role {value!r}; use 'client' or 'server'.").format(value=role))
    leaf = peer_chain[0]
    intermediates = [*peer_chain[1:], *untrusted]
    try:
        chain_result, chain = _check_chain(leaf, intermediates, trusted, now, policy, trust_name)
    except _MALFORMED as exc:
        chain_result, chain = _malformed("chain", exc), [leaf]
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("validity", lambda: _check_validity(chain, now)),
        ("key usage", lambda: _check_usage(chain, trusted, role)),
        ("policy", lambda: _check_policy(chain, trusted, policy)),
        ("name", lambda: _check_name(leaf, names)),
        ("revocation", lambda: _check_revocation(chain, crls, now)),
    ]
    results = [chain_result]
    for name, check in checks:
        try:
            results.append(check())
        except _MALFORMED as exc:
            # cryptography parses keys and extensions lazily, so a malformed one
            # raises here rather than when the certificate is loaded
            results.append(_malformed(name, exc))
    return results


def _malformed(check: str, exc: Exception) -> CheckResult:
    detail = _(
        "A certificate of the chain is malformed ({error}); have it reissued by its CA."
    ).format(error=exc)
    return CheckResult(check, CheckStatus.FAILED, detail)


def _check_chain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    trusted: Sequence[x509.Certificate],
    now: dt.datetime,
    policy: CryptoPolicy,
    trust_name: str,
) -> tuple[CheckResult, list[x509.Certificate]]:
    """Build the path; on failure, return the chain found by issuer names for the other checks."""
    fallback = assemble_chain(leaf, intermediates, trusted)
    if not trusted:
        detail = _("{trust} is empty; upload the peer's root CA to it.").format(trust=trust_name)
        return CheckResult("chain", CheckStatus.FAILED, detail), fallback
    try:
        if policy is CryptoPolicy.LEGACY:
            chain = verify_chain_legacy(
                leaf, intermediates, trusted, now=now, trust_name=trust_name
            )
        else:
            chain = build_verifier(trusted, now).verify(leaf, intermediates).chain
    except verification.VerificationError as exc:
        detail = explain_chain_failure(leaf, intermediates, trusted, trust_name, str(exc))
        return CheckResult("chain", CheckStatus.FAILED, detail), fallback
    except CertificateValidationError as exc:
        return CheckResult("chain", CheckStatus.FAILED, str(exc)), fallback
    path = " -> ".join(rfc4514_subject(c.subject) for c in chain)
    return CheckResult("chain", CheckStatus.PASSED, path), list(chain)


def _check_validity(chain: Sequence[x509.Certificate], now: dt.datetime) -> CheckResult:
    for certificate in chain:
        try:
            check_validity(certificate, now)
        except CertificateValidationError as exc:
            return CheckResult("validity", CheckStatus.FAILED, str(exc))
    leaf = chain[0]
    detail = _("valid from {start} to {end}").format(
        start=leaf.not_valid_before_utc.isoformat(), end=leaf.not_valid_after_utc.isoformat()
    )
    return CheckResult("validity", CheckStatus.PASSED, detail)


def _check_usage(
    chain: Sequence[x509.Certificate], trusted: Sequence[x509.Certificate], role: str
) -> CheckResult:
    expected_usage = ROLE_USAGES[role]
    name = _USAGE_NAMES[expected_usage]
    for position, certificate in enumerate(chain):
        if position > 0 and certificate in trusted:
            break  # OpenSSL does not hold a trust anchor's own usages against the peer
        usages = extended_key_usages(certificate)
        if usages is not None and expected_usage not in usages:
            found = ", ".join(_USAGE_NAMES.get(oid, oid.dotted_string) for oid in usages)
            detail = _(
                "The extended key usage of {subject} lacks {usage} (it has: {found}), so it "
                "cannot act as a TLS {role}; have a certificate issued with both serverAuth "
                "and clientAuth."
            ).format(
                subject=rfc4514_subject(certificate.subject), usage=name, found=found, role=role
            )
            return CheckResult("key usage", CheckStatus.FAILED, detail)
    if not _signs(chain[0]):
        detail = _(
            "The key usage of {subject} lacks digitalSignature, which TLS 1.3 and ECDHE "
            "need; have a certificate issued with digitalSignature."
        ).format(subject=rfc4514_subject(chain[0].subject))
        return CheckResult("key usage", CheckStatus.FAILED, detail)
    detail = _("allows {usage} and signatures").format(usage=name)
    return CheckResult("key usage", CheckStatus.PASSED, detail)


def _signs(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    # TLS 1.2 RSA key exchange gets by with keyEncipherment alone.
    is_rsa = isinstance(certificate.public_key(), rsa.RSAPublicKey)
    return usage.digital_signature or (is_rsa and usage.key_encipherment)


def _check_policy(
    chain: Sequence[x509.Certificate], trusted: Sequence[x509.Certificate], policy: CryptoPolicy
) -> CheckResult:
    if policy is CryptoPolicy.LEGACY:
        warn_legacy(logger, rfc4514_subject(chain[0].subject))
    for certificate in chain:
        try:
            if certificate in trusted and is_self_signed(certificate):
                # nothing relies on a root's signature on itself, only on its key
                check_public_key(certificate.public_key(), policy)
            else:
                check_policy(certificate, policy)
        except PolicyError as exc:
            detail = _("{subject}: {reason}").format(
                subject=rfc4514_subject(certificate.subject), reason=exc
            )
            return CheckResult("policy", CheckStatus.FAILED, detail)
    detail = _("keys and hashes allowed by the {policy} policy").format(policy=policy.value)
    return CheckResult("policy", CheckStatus.PASSED, detail)


def _check_name(leaf: x509.Certificate, names: Sequence[str]) -> CheckResult:
    if not names:
        return CheckResult("name", CheckStatus.SKIPPED, _("no expected name given"))
    try:
        matched = check_subject_name(leaf, names)
    except SubjectNameMismatch as exc:
        return CheckResult("name", CheckStatus.FAILED, str(exc))
    return CheckResult("name", CheckStatus.PASSED, _("matches {name}").format(name=matched))


def _check_revocation(
    chain: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    now: dt.datetime,
) -> CheckResult:
    if not crls:
        return CheckResult("revocation", CheckStatus.SKIPPED, _("no CRL given"))
    checked = 0
    for child, parent in itertools.pairwise(chain):
        crl = _crl_for(parent, crls)
        if crl is None:
            continue
        checked += 1
        if crl.next_update_utc is not None and crl.next_update_utc < now:
            detail = _(
                "The CRL of {issuer} was due for renewal on {date}; publish a new CRL."
            ).format(issuer=rfc4514_subject(parent.subject), date=crl.next_update_utc)
            return CheckResult("revocation", CheckStatus.FAILED, detail)
        entry = crl.get_revoked_certificate_by_serial_number(child.serial_number)
        if entry is not None:
            detail = _(
                "{subject} (serial {serial:X}) was revoked by {issuer} on {date}; have a new "
                "certificate issued."
            ).format(
                subject=rfc4514_subject(child.subject),
                serial=child.serial_number,
                issuer=rfc4514_subject(parent.subject),
                date=entry.revocation_date_utc,
            )
            return CheckResult("revocation", CheckStatus.FAILED, detail)
    if checked == 0:
        return CheckResult(
            "revocation", CheckStatus.SKIPPED, _("no given CRL is from an issuer in the chain")
        )
    return CheckResult(
        "revocation",
        CheckStatus.PASSED,
        _("not revoked ({count} CRLs checked)").format(count=checked),
    )


def _crl_for(
    issuer: x509.Certificate, crls: Sequence[x509.CertificateRevocationList]
) -> x509.CertificateRevocationList | None:
    for crl in crls:
        if crl.issuer != issuer.subject:
            continue
        public_key = issuer.public_key()
        if crl.is_signature_valid(public_key):  # type: ignore[arg-type]
            return crl
    return None
