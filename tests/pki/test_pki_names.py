"""The X.509 subject-name rule and name formatting."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tlstrunk.pki.names import (
    SubjectNameMismatch,
    certificate_names,
    check_subject_name,
    openssl_style_subject,
    parse_subject_names,
    rfc4514_subject,
)

SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "IN"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "cisco"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "cisco"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cisco"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "cisco"),
        x509.NameAttribute(NameOID.COMMON_NAME, "CUCM10"),
    ]
)


def make_certificate(
    subject: x509.Name, dns: list[str], ips: tuple[str, ...] = ()
) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
    )
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CUCMA", ("CUCMA",)),
        ("CUCMA CUCM10", ("CUCMA", "CUCM10")),
        ("CUCMA,CUCM10", ("CUCMA", "CUCM10")),
        ("CUCMA; CUCM10 ,, cucm.example.com", ("CUCMA", "CUCM10", "cucm.example.com")),
        ("  CUCMA\t", ("CUCMA",)),
    ],
)
def test_parse_subject_names_separators(text: str, expected: tuple[str, ...]) -> None:
    assert parse_subject_names(text) == expected


@pytest.mark.parametrize("text", ["", "   ", " ,; "])
def test_parse_subject_names_empty(text: str) -> None:
    with pytest.raises(ValueError, match=r"X\.509 subject name is empty"):
        parse_subject_names(text)


def test_check_subject_name_cn_match() -> None:
    certificate = make_certificate(SUBJECT, [])
    assert check_subject_name(certificate, ["CUCM10"]) == "CUCM10"


def test_check_subject_name_cn_ignores_case() -> None:
    certificate = make_certificate(SUBJECT, [])
    assert check_subject_name(certificate, ["cucm10"]) == "cucm10"


def test_check_subject_name_san_dns_ignores_case() -> None:
    certificate = make_certificate(SUBJECT, ["cucm10.Example.com"])
    assert check_subject_name(certificate, ["CUCM10.EXAMPLE.COM"]) == "CUCM10.EXAMPLE.COM"


def test_check_subject_name_any_of_several() -> None:
    certificate = make_certificate(SUBJECT, ["b.example.com"])
    allowed = parse_subject_names("CUCMX;a.example.com, b.example.com")
    assert check_subject_name(certificate, allowed) == "b.example.com"


def test_check_subject_name_ip_san_not_a_name() -> None:
    certificate = make_certificate(SUBJECT, [], ("127.0.0.200",))
    with pytest.raises(SubjectNameMismatch):
        check_subject_name(certificate, ["127.0.0.200"])


def test_mismatch_message_and_attributes() -> None:
    certificate = make_certificate(SUBJECT, [])
    with pytest.raises(SubjectNameMismatch) as info:
        check_subject_name(certificate, ["CUCMX"])
    error = info.value
    assert error.allowed == ("CUCMX",)
    assert error.seen.common_names == ("CUCM10",)
    assert error.seen.dns_names == ()
    message = str(error)
    assert "subject CN=CUCM10 (SAN DNS: none)" in message
    assert "X.509 subject name 'CUCMX'" in message
    assert "set the X.509 subject name to CUCM10" in message
    assert "install a certificate for CUCMX on the peer" in message


def test_mismatch_message_for_profile() -> None:
    certificate = make_certificate(SUBJECT, ["cucm10.example.com"])
    with pytest.raises(SubjectNameMismatch) as info:
        check_subject_name(certificate, ["CUCMX"])
    message = info.value.message_for_profile("Secure SIP Trunk Profile TLS")
    assert message.startswith(
        "The peer certificate's subject CN=CUCM10 (SAN DNS: cucm10.example.com) does not "
        "match the X.509 subject name 'CUCMX' of profile 'Secure SIP Trunk Profile TLS'; "
        "set the profile's X.509 subject name to CUCM10 or install a certificate for CUCMX "
        "on the peer."
    )


def test_certificate_names_collects_all() -> None:
    certificate = make_certificate(SUBJECT, ["a.example.com"], ("127.0.0.203",))
    names = certificate_names(certificate)
    assert names.common_names == ("CUCM10",)
    assert names.dns_names == ("a.example.com",)
    assert names.ip_addresses == ("127.0.0.203",)


def test_openssl_and_rfc4514_forms() -> None:
    assert openssl_style_subject(SUBJECT) == "/C=IN/ST=cisco/L=cisco/O=cisco/OU=cisco/CN=CUCM10"
    assert rfc4514_subject(SUBJECT) == "CN=CUCM10, OU=cisco, O=cisco, L=cisco, ST=cisco, C=IN"
