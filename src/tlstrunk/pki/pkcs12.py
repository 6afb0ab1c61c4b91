"""PKCS#12 (.p12/.pfx) import and export of a node identity: key, certificate, intermediates.

Exported files use PBES2 with AES-256-CBC and a SHA-256 MAC, which OpenSSL 3,
Java keystores and Windows read; cryptography writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from tlstrunk.i18n import _
from tlstrunk.pki.errors import CertificateUploadError

_KDF_ROUNDS = 200_000


@dataclass(frozen=True)
class Pkcs12Identity:
    """The content of a PKCS#12 file: private key, its certificate and other certificates."""

    key: CertificateIssuerPrivateKeyTypes
    certificate: x509.Certificate
    additional: list[x509.Certificate]


def load_identity(data: bytes, passphrase: bytes | None) -> Pkcs12Identity:
    """Parse a PKCS#12 file that contains one private key and its certificate.

    Raises:
        CertificateUploadError: the file is not PKCS#12, the passphrase is
            wrong, or the key or certificate is missing.
    """
    try:
        loaded = pkcs12.load_pkcs12(data, passphrase or None)
    except ValueError as exc:
        raise CertificateUploadError(
            _(
                "The file is not a PKCS#12 file or the passphrase is wrong ({error}); check "
                "the passphrase, and export the file again as .p12 or .pfx with its key."
            ).format(error=exc)
        ) from exc
    key = loaded.key
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CertificateUploadError(
            _(
                "The PKCS#12 file contains no RSA or ECDSA private key; export it again "
                "with the private key included."
            )
        )
    if loaded.cert is None:
        raise CertificateUploadError(
            _(
                "The PKCS#12 file contains no certificate for its key; export it again with "
                "the certificate included."
            )
        )
    additional = [item.certificate for item in loaded.additional_certs]
    return Pkcs12Identity(key, loaded.cert.certificate, additional)


def dump_identity(
    name: str,
    key: CertificateIssuerPrivateKeyTypes,
    chain: Sequence[x509.Certificate],
    passphrase: bytes,
) -> bytes:
    """Serialize ``key`` with ``chain`` (leaf first) as an encrypted PKCS#12 file.

    Raises:
        ValueError: the passphrase is empty, or the key is neither RSA nor ECDSA.
    """
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(_("Only RSA and ECDSA keys can be exported as PKCS#12."))
    if not passphrase:
        raise ValueError(
            _("A PKCS#12 export needs a passphrase, because the file contains the private key.")
        )
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(_KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase)
    )
    return pkcs12.serialize_key_and_certificates(
        name.encode(), key, chain[0], list(chain[1:]) or None, encryption
    )
