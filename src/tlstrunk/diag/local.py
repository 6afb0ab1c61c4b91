"""Doctor steps that read only the node's own files: configuration, own certificate, addresses."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlstrunk.config.enums import TlsPolicy, Transport
from tlstrunk.config.validate import legacy_policy_warning
from tlstrunk.config.values import Destination, TrunkConfig
from tlstrunk.diag.results import StepResult, Verdict
from tlstrunk.i18n import _
from tlstrunk.pki.errors import PolicyError
from tlstrunk.pki.keys import CryptoPolicy, describe_public_key
from tlstrunk.pki.names import rfc4514_subject
from tlstrunk.pki.validate import check_policy, extended_key_usages

CONFIGURATION = "configuration"
OWN_CERTIFICATE = "own certificate"
ADDRESS = "address"

#: Certificates that expire within this many days get a warning.
EXPIRY_WARNING_DAYS = 30
#: Hosts file the doctor reads names from; it sends no DNS query.
HOSTS_FILE = Path("/etc/hosts")

_POLICY_WORDS = {
    TlsPolicy.MODERN: "modern (TLS 1.2 and 1.3, RSA keys of 2048 bits or more or ECDSA, "
    "SHA-256 or better)",
    TlsPolicy.LEGACY: "legacy (also TLS 1.0 and 1.1, 1024-bit RSA keys and SHA-1 signatures)",
}


def check_configuration(trunk: TrunkConfig) -> list[StepResult]:
    """Describe the trunk's profile and flag settings that stop or weaken the trunk."""
    profile = trunk.profile
    destinations = ", ".join(str(d) for d in trunk.destinations) or _("none")
    seen = _(
        "trunk {trunk} uses profile '{profile}' ({mode}): outgoing {outgoing}, incoming "
        "{incoming} on port {port}, TLS policy {policy}, X.509 subject name '{names}', "
        "destinations {destinations}"
    ).format(
        trunk=trunk.name,
        profile=profile.name,
        mode=profile.device_security_mode,
        outgoing=profile.outgoing_transport,
        incoming=profile.incoming_transport,
        port=profile.incoming_port,
        policy=_POLICY_WORDS[profile.tls_policy],
        names=profile.x509_subject_name,
        destinations=destinations,
    )
    results = [StepResult(CONFIGURATION, Verdict.PASS, seen)]
    if not trunk.destinations:
        results.append(
            StepResult(
                CONFIGURATION,
                Verdict.FAIL,
                _("trunk {trunk} has no destination").format(trunk=trunk.name),
                _("add the far end's address and port to trunk {trunk}").format(trunk=trunk.name),
            )
        )
    if profile.uses_tls and not profile.x509_subject_names:
        results.append(
            StepResult(
                CONFIGURATION,
                Verdict.FAIL,
                _("profile '{profile}' uses TLS but has no X.509 subject name").format(
                    profile=profile.name
                ),
                _("set the profile's X.509 subject name to the far end's certificate CN"),
            )
        )
    if profile.outgoing_transport is not Transport.TLS:
        results.append(
            StepResult(
                CONFIGURATION,
                Verdict.WARN,
                _(
                    "profile '{profile}' sends over {transport}, so signalling to the far end "
                    "is not protected and the TLS steps are skipped"
                ).format(profile=profile.name, transport=profile.outgoing_transport),
                _("set the profile's outgoing transport to TLS to protect the trunk"),
            )
        )
    if profile.tls_policy is TlsPolicy.LEGACY:
        results.append(
            StepResult(
                CONFIGURATION,
                Verdict.WARN,
                legacy_policy_warning(profile.name),
                _(
                    "once the far cluster has an RSA 2048 or ECDSA certificate signed with "
                    "SHA-256, set the TLS policy of profile '{profile}' to modern"
                ).format(profile=profile.name),
            )
        )
    return results


def check_own_certificate(
    certificate: x509.Certificate | None, trusted: int, policy: TlsPolicy, now: dt.datetime
) -> list[StepResult]:
    """Check the node's CallManager certificate: presence, validity, usages and strength.

    ``trusted`` is the number of certificates in CallManager-trust.
    """
    if certificate is None:
        return [
            StepResult(
                OWN_CERTIFICATE,
                Verdict.FAIL,
                _("this node has no CallManager certificate"),
                _(
                    "generate a CSR with 'tlstrunk cert generate-csr --purpose CallManager', "
                    "have the CA sign it and upload it with 'tlstrunk cert upload'"
                ),
            )
        ]
    subject = rfc4514_subject(certificate.subject)
    results = [_own_validity(certificate, subject, now)]
    results += _own_usages(certificate, subject)
    results.append(_own_strength(certificate, subject, policy))
    if trusted == 0:
        results.append(
            StepResult(
                OWN_CERTIFICATE,
                Verdict.FAIL,
                _("CallManager-trust is empty, so no server certificate can be verified"),
                _("upload the far end's root CA as CallManager-trust"),
            )
        )
    return results


def _own_validity(certificate: x509.Certificate, subject: str, now: dt.datetime) -> StepResult:
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    days = (end - now) // dt.timedelta(days=1)
    seen = _("{subject} issued by {issuer}, valid from {start} to {end}").format(
        subject=subject,
        issuer=rfc4514_subject(certificate.issuer),
        start=start.isoformat(),
        end=end.isoformat(),
    )
    renew = _("generate a new CSR, have it signed and upload the new certificate as CallManager")
    if now < start:
        return StepResult(
            OWN_CERTIFICATE,
            Verdict.FAIL,
            _("{seen}: not valid yet").format(seen=seen),
            _("check this node's clock and the CA's"),
        )
    if now > end:
        return StepResult(
            OWN_CERTIFICATE, Verdict.FAIL, _("{seen}: expired").format(seen=seen), renew
        )
    seen = _("{seen}, {days} days to expiry").format(seen=seen, days=days)
    if days < EXPIRY_WARNING_DAYS:
        return StepResult(OWN_CERTIFICATE, Verdict.WARN, seen, renew)
    return StepResult(OWN_CERTIFICATE, Verdict.PASS, seen)


def _own_usages(certificate: x509.Certificate, subject: str) -> list[StepResult]:
    usages = extended_key_usages(certificate)
    if usages is None:
        seen = _("{subject} has no extended key usage, so it serves as TLS client and server")
        return [StepResult(OWN_CERTIFICATE, Verdict.PASS, seen.format(subject=subject))]
    missing = [
        (name, role)
        for oid, name, role in (
            (ExtendedKeyUsageOID.CLIENT_AUTH, "clientAuth", _("outgoing")),
            (ExtendedKeyUsageOID.SERVER_AUTH, "serverAuth", _("incoming")),
        )
        if oid not in usages
    ]
    if not missing:
        seen = _("{subject} allows clientAuth (outgoing) and serverAuth (incoming)")
        return [StepResult(OWN_CERTIFICATE, Verdict.PASS, seen.format(subject=subject))]
    return [
        StepResult(
            OWN_CERTIFICATE,
            Verdict.FAIL,
            _(
                "{subject} lacks the extended key usage {usage}, needed for {role} connections"
            ).format(subject=subject, usage=usage, role=role),
            _("have the CA issue a certificate with both serverAuth and clientAuth"),
        )
        for usage, role in missing
    ]


def _own_strength(certificate: x509.Certificate, subject: str, policy: TlsPolicy) -> StepResult:
    hash_algorithm = certificate.signature_hash_algorithm
    seen = _("{subject} has a {key} key signed with {hash}").format(
        subject=subject,
        key=describe_public_key(certificate.public_key()),
        hash=hash_algorithm.name.upper() if hash_algorithm else _("no hash"),
    )
    try:
        check_policy(certificate, CryptoPolicy(str(policy)))
    except PolicyError as exc:
        return StepResult(
            OWN_CERTIFICATE,
            Verdict.FAIL,
            _("{seen}, which the {policy} policy rejects: {reason}").format(
                seen=seen, policy=policy, reason=exc
            ),
            _(
                "generate a CSR with rsa2048 or larger or an ECDSA key and SHA-256, or set the "
                "legacy TLS policy on the profile of a trunk to an old cluster"
            ),
        )
    return StepResult(
        OWN_CERTIFICATE,
        Verdict.PASS,
        _("{seen}, allowed by the {policy} policy").format(seen=seen, policy=policy),
    )


def resolve_destination(destination: Destination) -> tuple[StepResult, str | None]:
    """Return the address step for ``destination`` and the IP address to connect to.

    Only addresses, ``localhost`` names and names in the hosts file are resolved,
    so the doctor never sends a DNS query.
    """
    where = str(destination)
    host = destination.address
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return StepResult(
            ADDRESS, Verdict.PASS, _("{host} is an IP address").format(host=host), destination=where
        ), host
    address = _resolve_locally(host)
    if address is None:
        return (
            StepResult(
                ADDRESS,
                Verdict.WARN,
                _(
                    "{host} is neither an IP address nor a name in {hosts}; the doctor does "
                    "not query DNS, so the remaining steps for it are skipped"
                ).format(host=host, hosts=HOSTS_FILE),
                _("set the trunk destination to the far node's IP address"),
                where,
            ),
            None,
        )
    seen = _("{host} resolves locally to {address}").format(host=host, address=address)
    return StepResult(ADDRESS, Verdict.PASS, seen, destination=where), address


def _resolve_locally(name: str) -> str | None:
    lowered = name.lower().rstrip(".")
    address = _hosts_file_address(lowered)
    if address is None and (lowered == "localhost" or lowered.endswith(".localhost")):
        # RFC 6761 reserves these names for loopback.
        return "127.0.0.1"
    return address


def _hosts_file_address(name: str) -> str | None:
    try:
        text = HOSTS_FILE.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and name in (field.lower() for field in fields[1:]):
            return fields[0]
    return None
