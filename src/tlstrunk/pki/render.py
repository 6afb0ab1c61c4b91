"""Text rendering of certificates in the layout of a call manager's ``show cert``."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from tlstrunk.i18n import _
from tlstrunk.pki.keys import describe_public_key
from tlstrunk.pki.names import rfc4514_subject

# Java-style names of signature algorithms, as call-manager pages show them.
_SIGNATURE_NAMES: dict[str, str] = {
    "1.2.840.113549.1.1.5": "SHA1withRSA",
    "1.2.840.113549.1.1.11": "SHA256withRSA",
    "1.2.840.113549.1.1.12": "SHA384withRSA",
    "1.2.840.113549.1.1.13": "SHA512withRSA",
    "1.2.840.113549.1.1.10": "RSASSA-PSS",
    "1.2.840.10045.4.1": "SHA1withECDSA",
    "1.2.840.10045.4.3.2": "SHA256withECDSA",
    "1.2.840.10045.4.3.3": "SHA384withECDSA",
    "1.2.840.10045.4.3.4": "SHA512withECDSA",
}
_EKU_NAMES: dict[ObjectIdentifier, str] = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ObjectIdentifier("1.3.6.1.5.5.7.3.5"): "ipsecEndSystem",
    ObjectIdentifier("1.3.6.1.5.5.7.3.6"): "ipsecTunnel",
    ObjectIdentifier("1.3.6.1.5.5.7.3.7"): "ipsecUser",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
}
_KEY_USAGE_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def render_certificate(
    certificate: x509.Certificate,
    *,
    file_name: str | None = None,
    purpose: str | None = None,
    description: str | None = None,
) -> str:
    """Render ``certificate`` as the text of a ``show cert`` page.

    ``file_name``, ``purpose`` and ``description`` add the header lines a
    certificate page shows above the certificate data.
    """
    lines: list[str] = []
    for label, value in (
        (_("File Name"), file_name),
        (_("Certificate Purpose"), purpose),
        (_("Description"), description),
    ):
        if value is not None:
            lines.append(f"{label}: {value}")
    lines += ["[", *_core_lines(certificate), *_extension_lines(certificate)]
    lines += _fingerprint_lines(certificate)
    lines.append("]")
    return "\n".join(lines) + "\n"


def signature_algorithm_name(certificate: x509.Certificate) -> str:
    """Return "SHA256withRSA (1.2.840.113549.1.1.11)" and similar."""
    oid = certificate.signature_algorithm_oid.dotted_string
    name = _SIGNATURE_NAMES.get(oid, certificate.signature_algorithm_oid._name)
    return f"{name} ({oid})"


def extended_key_usage_name(oid: ObjectIdentifier) -> str:
    """Return the short name of an extended key usage, such as "clientAuth"."""
    return _EKU_NAMES.get(oid, oid.dotted_string)


def _core_lines(certificate: x509.Certificate) -> list[str]:
    public_key = certificate.public_key()
    return [
        _("Version: V{number}").format(number=certificate.version.value + 1),
        _("Serial Number: {serial:X}").format(serial=certificate.serial_number),
        _("SignatureAlgorithm: {name}").format(name=signature_algorithm_name(certificate)),
        _("Issuer Name: {name}").format(name=rfc4514_subject(certificate.issuer)),
        _("Validity From: {start}").format(start=_format_time(certificate.not_valid_before_utc)),
        _("             To: {end}").format(end=_format_time(certificate.not_valid_after_utc)),
        _("Subject Name: {name}").format(name=rfc4514_subject(certificate.subject)),
        _("Key: {key} ({oid})").format(
            key=describe_public_key(public_key), oid=_key_oid(public_key)
        ),
        _("Key value:"),
        *_wrap_hex(_public_key_value(certificate)),
    ]


def _extension_lines(certificate: x509.Certificate) -> list[str]:
    extensions = list(certificate.extensions)
    lines = [_("Extensions: {count} present").format(count=len(extensions))]
    for extension in extensions:
        lines += [
            "[",
            _("Extension: {name} (OID.{oid})").format(
                name=extension.oid._name, oid=extension.oid.dotted_string
            ),
            _("Critical: {value}").format(value=str(extension.critical).lower()),
            *_extension_detail(extension.value),
            "]",
        ]
    return lines


def _extension_detail(value: x509.ExtensionType) -> list[str]:
    if isinstance(value, x509.ExtendedKeyUsage):
        usages = ", ".join(f"{extended_key_usage_name(oid)} ({oid.dotted_string})" for oid in value)
        return [_("Usage oids: {usages}").format(usages=usages)]
    if isinstance(value, x509.KeyUsage):
        return [_("Key usages: {usages}").format(usages=", ".join(_key_usage_names(value)))]
    if isinstance(value, x509.SubjectAlternativeName):
        dns = [f"DNS:{name}" for name in value.get_values_for_type(x509.DNSName)]
        ips = [f"IP:{ip}" for ip in value.get_values_for_type(x509.IPAddress)]
        return [_("Subject alternative names: {names}").format(names=", ".join(dns + ips))]
    if isinstance(value, x509.BasicConstraints):
        return [
            _("CA: {ca}, path length: {length}").format(
                ca=str(value.ca).lower(), length=value.path_length
            )
        ]
    if isinstance(value, x509.SubjectKeyIdentifier):
        return [_("Key identifier: {value}").format(value=value.digest.hex())]
    if isinstance(value, x509.AuthorityKeyIdentifier) and value.key_identifier:
        return [_("Key identifier: {value}").format(value=value.key_identifier.hex())]
    return []


def _key_usage_names(usage: x509.KeyUsage) -> list[str]:
    names = [name for name in _KEY_USAGE_FIELDS if getattr(usage, name)]
    if usage.key_agreement:
        names += [name for name in ("encipher_only", "decipher_only") if getattr(usage, name)]
    # camelCase as in RFC 5280: digitalSignature, keyEncipherment, keyCertSign...
    return [_camel_case(name) for name in names]


def _fingerprint_lines(certificate: x509.Certificate) -> list[str]:
    return [
        _("SHA-256 Fingerprint: {value}").format(
            value=_colon_hex(certificate.fingerprint(hashes.SHA256()))
        ),
        # SHA-1 only identifies the certificate here, as many tools still list it.
        _("SHA-1 Fingerprint: {value}").format(
            value=_colon_hex(certificate.fingerprint(hashes.SHA1()))
        ),
    ]


def _format_time(value: dt.datetime) -> str:
    return value.strftime("%a %b %d %H:%M:%S UTC %Y")


def _key_oid(public_key: object) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "1.2.840.113549.1.1.1"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "1.2.840.10045.2.1"
    return "?"


def _public_key_value(certificate: x509.Certificate) -> str:
    public_key = certificate.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        return der.hex()
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        point = public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return point.hex()
    return ""


def _wrap_hex(text: str, width: int = 88) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]


def _colon_hex(data: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in data)


def _camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)
