"""The X.509 subject-name rule of SIP trunk security profiles, and name formatting.

A profile's X.509 subject name contains one or more names separated by spaces,
commas or semicolons. A peer certificate is accepted when one of those names
equals the certificate's subject common name (CN) or one of its subject
alternative name (SAN) DNS names. Both comparisons ignore case: DNS names are
case-insensitive by definition, and call managers compare the CN the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from tlstrunk.i18n import _
from tlstrunk.pki.errors import PkiError

_SEPARATORS = re.compile(r"[\s,;]+")

# Short labels of the OpenSSL one-line form ("/C=IN/ST=cisco/CN=CUCM10").
_OPENSSL_LABELS: dict[x509.ObjectIdentifier, str] = {
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.SERIAL_NUMBER: "serialNumber",
}


@dataclass(frozen=True)
class CertificateNames:
    """The names a certificate identifies its subject by."""

    common_names: tuple[str, ...]
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]

    def describe(self) -> str:
        """Return "CN=CUCM10 (SAN DNS: cucm10.example.com)" for messages and traces."""
        cn = ", ".join(f"CN={name}" for name in self.common_names) or _("no CN")
        dns = ", ".join(self.dns_names) or _("none")
        return _("{cn} (SAN DNS: {dns})").format(cn=cn, dns=dns)


class SubjectNameMismatch(PkiError):
    """A peer certificate carries none of the names a profile allows.

    The message is written so that a caller can prefix it with the profile or
    trunk it concerns, for example ``f"Trunk CUCM10: {exc}"``.

    Attributes:
        allowed: the names the profile allows.
        seen: the names found in the certificate.
    """

    def __init__(self, allowed: Sequence[str], seen: CertificateNames) -> None:
        self.allowed = tuple(allowed)
        self.seen = seen
        super().__init__(_mismatch_message(self.allowed, seen))

    def message_for_profile(self, profile: str) -> str:
        """Return the message with the profile's name in it, for traces and the doctor."""
        return _mismatch_message(self.allowed, self.seen, profile)


def parse_subject_names(text: str) -> tuple[str, ...]:
    """Split an X.509 subject name setting into its names.

    Raises:
        ValueError: the text contains no name.
    """
    names = tuple(name for name in _SEPARATORS.split(text) if name)
    if not names:
        raise ValueError(
            _(
                "The X.509 subject name is empty; enter the peer certificate's common "
                "name or a DNS name from its subject alternative names (several names "
                "may be separated by spaces, commas or semicolons)."
            )
        )
    return names


def certificate_names(certificate: x509.Certificate) -> CertificateNames:
    """Collect the subject CNs and the SAN DNS names and IP addresses of ``certificate``."""
    common_names = tuple(
        str(attribute.value)
        for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    )
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return CertificateNames(common_names, (), ())
    dns_names = tuple(san.get_values_for_type(x509.DNSName))
    ip_addresses = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return CertificateNames(common_names, dns_names, ip_addresses)


def check_subject_name(certificate: x509.Certificate, allowed: Sequence[str]) -> str:
    """Return the first allowed name that the certificate's CN or a SAN DNS name equals.

    Raises:
        ValueError: ``allowed`` is empty.
        SubjectNameMismatch: no allowed name matches.
    """
    if not allowed:
        raise ValueError(_("No X.509 subject name to check the peer certificate against."))
    seen = certificate_names(certificate)
    candidates = {name.casefold() for name in (*seen.common_names, *seen.dns_names)}
    for name in allowed:
        if name.casefold() in candidates:
            return name
    raise SubjectNameMismatch(allowed, seen)


def openssl_style_subject(name: x509.Name) -> str:
    """Format ``name`` as OpenSSL's one-line form, most significant first: "/C=IN/.../CN=x"."""
    parts = []
    for attribute in name:
        label = _OPENSSL_LABELS.get(attribute.oid, attribute.oid.dotted_string)
        parts.append(f"/{label}={attribute.value!s}")
    return "".join(parts)


def rfc4514_subject(name: x509.Name) -> str:
    """Format ``name`` as RFC 4514 does, least significant first: "CN=x, OU=..., C=IN"."""
    return ", ".join(rdn.rfc4514_string() for rdn in reversed(name.rdns))


def _mismatch_message(
    allowed: tuple[str, ...], seen: CertificateNames, profile: str | None = None
) -> str:
    allowed_text = " ".join(allowed)
    if profile is None:
        setting = _("the X.509 subject name '{allowed}'").format(allowed=allowed_text)
        owner = _("the X.509 subject name")
    else:
        setting = _("the X.509 subject name '{allowed}' of profile '{profile}'").format(
            allowed=allowed_text, profile=profile
        )
        owner = _("the profile's X.509 subject name")
    suggestion = (*seen.common_names, *seen.dns_names, "")[0]
    if suggestion:
        fix = _("set {owner} to {suggestion} or install a certificate for {allowed} on the peer")
    else:
        fix = _("install a certificate for {allowed} on the peer")
    fix = fix.format(owner=owner, suggestion=suggestion, allowed=allowed_text)
    return _(
        "The peer certificate's subject {seen} does not match {setting}; {fix}. "
        "Names are compared without regard to case."
    ).format(seen=seen.describe(), setting=setting, fix=fix)
