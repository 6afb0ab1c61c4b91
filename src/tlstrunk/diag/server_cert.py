"""Doctor steps on the certificate chain the far end presented: chain, names, validity, record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tlstrunk.config.values import SecurityProfileConfig
from tlstrunk.diag.local import EXPIRY_WARNING_DAYS
from tlstrunk.diag.results import StepResult, Verdict
from tlstrunk.i18n import _
from tlstrunk.pki.errors import CertificateStoreError
from tlstrunk.pki.expiry import PeerRecord, peer_certificates
from tlstrunk.pki.keys import CryptoPolicy
from tlstrunk.pki.names import (
    SubjectNameMismatch,
    certificate_names,
    check_subject_name,
    rfc4514_subject,
)
from tlstrunk.pki.validate import is_self_signed
from tlstrunk.pki.verify import CheckResult, CheckStatus, verify_peer

SERVER_CHAIN = "server chain"
NAMES = "names"
SERVER_CERTIFICATE = "server certificate"
RECORD = "record"

TRUST = "CallManager-trust"


def check_server_chain(
    chain: Sequence[x509.Certificate],
    trusted: Sequence[x509.Certificate],
    own_chain: Sequence[x509.Certificate],
    profile: SecurityProfileConfig,
    now: dt.datetime,
    where: str,
) -> list[StepResult]:
    """Run the chain, name and certificate steps on the chain the server sent, leaf first.

    ``own_chain`` is this node's certificate with its intermediates: a server
    certificate from the same intermediate CA tells a missing intermediate
    apart from an unknown CA.
    """
    policy = CryptoPolicy(str(profile.tls_policy))
    checks = {
        result.check: result
        for result in verify_peer(chain, trusted, role="server", now=now, policy=policy)
    }
    chain_result = _chain_result(chain, trusted, own_chain, checks["chain"], where)
    if chain_result.verdict is Verdict.FAIL and checks["validity"].status is CheckStatus.FAILED:
        # an expired certificate also fails path building; the validity step names the fix
        chain_result = StepResult(
            SERVER_CHAIN,
            Verdict.FAIL,
            chain_result.seen,
            _("see the server certificate step: a certificate of the chain is not valid now"),
            where,
        )
    return [
        chain_result,
        _policy_result(checks["policy"], profile, where),
        _names_result(chain[0], profile, where),
        _validity_result(chain[0], checks["validity"], now, where),
        _usage_result(checks["key usage"], where),
    ]


def _chain_result(
    chain: Sequence[x509.Certificate],
    trusted: Sequence[x509.Certificate],
    own_chain: Sequence[x509.Certificate],
    check: CheckResult,
    where: str,
) -> StepResult:
    leaf = chain[0]
    sent = _("the server sent {count} certificate(s): {subjects}").format(
        count=len(chain), subjects="; ".join(rfc4514_subject(c.subject) for c in chain)
    )
    if check.status is CheckStatus.PASSED:
        seen = _("{sent}; path to {trust}: {path}").format(
            sent=sent, trust=TRUST, path=check.detail
        )
        return StepResult(SERVER_CHAIN, Verdict.PASS, seen, destination=where)
    issuer = rfc4514_subject(leaf.issuer)
    known = {certificate.subject for certificate in trusted}
    issuer_missing = len(chain) == 1 and leaf.issuer not in known and not is_self_signed(leaf)
    if issuer_missing and any(ca.subject == leaf.issuer for ca in own_chain[1:]):
        seen = _(
            "{sent}; it was issued by the intermediate CA {issuer}, which is not in {trust} "
            "and which the server did not send"
        ).format(sent=sent, issuer=issuer, trust=TRUST)
        fix = _(
            "upload the intermediate CA {issuer} as {trust} (this node sends it in its own "
            "chain), or have the server send it with its certificate"
        ).format(issuer=issuer, trust=TRUST)
        return StepResult(SERVER_CHAIN, Verdict.FAIL, seen, fix, where)
    if issuer_missing:
        seen = _(
            "{sent}; it was issued by {issuer}, which is not in {trust}, and the server sent "
            "no CA certificate with it"
        ).format(sent=sent, issuer=issuer, trust=TRUST)
        fix = _(
            "if {issuer} is an intermediate CA, upload the intermediate CA as {trust} (or have "
            "the server send it with its certificate); if it is a root CA, upload it as {trust} "
            "or have the far end's certificate issued by a CA in {trust}"
        ).format(issuer=issuer, trust=TRUST)
        return StepResult(SERVER_CHAIN, Verdict.FAIL, seen, fix, where)
    top = _top_of(chain)
    if is_self_signed(top) and top not in trusted:
        seen = _("{sent}; the chain ends in the root CA {root}, which is not in {trust}").format(
            sent=sent, root=rfc4514_subject(top.subject), trust=TRUST
        )
        fix = _(
            "upload the root CA {root} as {trust} if you trust it, or have the far end's "
            "certificate issued by a CA in {trust}"
        ).format(root=rfc4514_subject(top.subject), trust=TRUST)
        return StepResult(SERVER_CHAIN, Verdict.FAIL, seen, fix, where)
    seen = _("{sent}; {detail}").format(sent=sent, detail=check.detail)
    fix = _(
        "upload the root CA above {issuer} as {trust}, or have the far end's certificate "
        "issued by a CA in {trust}"
    ).format(issuer=rfc4514_subject(top.issuer), trust=TRUST)
    return StepResult(SERVER_CHAIN, Verdict.FAIL, seen, fix, where)


def _top_of(chain: Sequence[x509.Certificate]) -> x509.Certificate:
    """Follow issuer names from the leaf through the sent chain to the highest certificate."""
    current = chain[0]
    for _step in chain:
        if is_self_signed(current):
            break
        parent = next((c for c in chain if c.subject == current.issuer and c != current), None)
        if parent is None:
            break
        current = parent
    return current


def _policy_result(check: CheckResult, profile: SecurityProfileConfig, where: str) -> StepResult:
    if check.status is CheckStatus.PASSED:
        return StepResult(SERVER_CHAIN, Verdict.PASS, check.detail, destination=where)
    fix = _(
        "have the far end's certificate reissued with an RSA 2048 or ECDSA key signed with "
        "SHA-256, or set the legacy TLS policy on profile '{profile}' for an old cluster"
    ).format(profile=profile.name)
    return StepResult(SERVER_CHAIN, Verdict.FAIL, check.detail, fix, where)


def _names_result(leaf: x509.Certificate, profile: SecurityProfileConfig, where: str) -> StepResult:
    allowed = profile.x509_subject_names
    seen_names = certificate_names(leaf)
    if not allowed:
        return StepResult(
            NAMES,
            Verdict.SKIP,
            _("profile '{profile}' has no X.509 subject name; the server presented {names}").format(
                profile=profile.name, names=seen_names.describe()
            ),
            destination=where,
        )
    try:
        matched = check_subject_name(leaf, allowed)
    except SubjectNameMismatch as exc:
        value = (*seen_names.common_names, *seen_names.dns_names, "")[0]
        if value:
            fix = _(
                "set the X.509 subject name of profile '{profile}' to {value}, or install a "
                "certificate for {allowed} on the far end"
            ).format(profile=profile.name, value=value, allowed=" ".join(allowed))
        else:
            fix = _("install a certificate for {allowed} on the far end").format(
                allowed=" ".join(allowed)
            )
        return StepResult(NAMES, Verdict.FAIL, exc.message_for_profile(profile.name), fix, where)
    seen = _("{names} matches the X.509 subject name {matched} of profile '{profile}'").format(
        names=seen_names.describe(), matched=matched, profile=profile.name
    )
    return StepResult(NAMES, Verdict.PASS, seen, destination=where)


def _validity_result(
    leaf: x509.Certificate, check: CheckResult, now: dt.datetime, where: str
) -> StepResult:
    if check.status is CheckStatus.FAILED:
        fix = _(
            "have a new certificate issued for the far end and upload it there, or check both "
            "nodes' clocks"
        )
        return StepResult(SERVER_CERTIFICATE, Verdict.FAIL, check.detail, fix, where)
    days = (leaf.not_valid_after_utc - now) // dt.timedelta(days=1)
    seen = _("{subject}: {detail}, {days} days to expiry").format(
        subject=rfc4514_subject(leaf.subject), detail=check.detail, days=days
    )
    if days < EXPIRY_WARNING_DAYS:
        fix = _("have a new certificate issued for the far end before it expires")
        return StepResult(SERVER_CERTIFICATE, Verdict.WARN, seen, fix, where)
    return StepResult(SERVER_CERTIFICATE, Verdict.PASS, seen, destination=where)


def _usage_result(check: CheckResult, where: str) -> StepResult:
    if check.status is CheckStatus.FAILED:
        fix = _("have the far end's certificate issued with both serverAuth and clientAuth")
        return StepResult(SERVER_CERTIFICATE, Verdict.FAIL, check.detail, fix, where)
    return StepResult(SERVER_CERTIFICATE, Verdict.PASS, check.detail, destination=where)


def check_record(certs_dir: Path, trunk: str, leaf: x509.Certificate, where: str) -> StepResult:
    """Compare ``leaf`` with the certificate last recorded for ``trunk`` in ``peers.json``."""
    try:
        records = {record.trunk: record for record in peer_certificates(certs_dir)}
    except CertificateStoreError as exc:
        return StepResult(RECORD, Verdict.WARN, str(exc), _("delete the file named above"), where)
    record = records.get(trunk)
    if record is None:
        seen = _(
            "no certificate of trunk {trunk} was recorded before, so there is nothing to "
            "compare with"
        ).format(trunk=trunk)
        return StepResult(RECORD, Verdict.SKIP, seen, destination=where)
    changes = _changes(record, leaf)
    when = record.seen_at.isoformat() if record.seen_at else _("an unknown time")
    if not changes:
        seen = _("same certificate as recorded at {when} (serial {serial})").format(
            when=when, serial=record.serial
        )
        return StepResult(RECORD, Verdict.PASS, seen, destination=where)
    seen = _("the far end's certificate changed since it was recorded at {when}: {changes}").format(
        when=when, changes="; ".join(changes)
    )
    fix = _(
        "if the far end renewed its certificate on purpose, nothing needs to change (the node "
        "records the new one at its next handshake); otherwise find out who replaced it"
    )
    return StepResult(RECORD, Verdict.WARN, seen, fix, where)


def _changes(record: PeerRecord, leaf: x509.Certificate) -> list[str]:
    changes = []
    serial = f"{leaf.serial_number:X}"
    if record.serial.upper() != serial:
        changes.append(_("serial {old} -> {new}").format(old=record.serial, new=serial))
    subject = rfc4514_subject(leaf.subject)
    if record.subject != subject:
        changes.append(_("subject {old} -> {new}").format(old=record.subject, new=subject))
    if record.not_after != leaf.not_valid_after_utc:
        changes.append(
            _("valid until {old} -> {new}").format(
                old=record.not_after.isoformat(), new=leaf.not_valid_after_utc.isoformat()
            )
        )
    fingerprint = leaf.fingerprint(hashes.SHA256()).hex()
    if not changes and record.fingerprint and record.fingerprint != fingerprint:
        changes.append(
            _("SHA-256 fingerprint {old} -> {new}").format(
                old=record.fingerprint[:16], new=fingerprint[:16]
            )
        )
    # NOTE: peers.json keeps no issuer, so a change of issuer shows only as a new serial.
    return changes
