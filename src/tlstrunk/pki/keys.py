"""Key specifications, signature hashes and the crypto policy checks.

The modern policy (the default) accepts RSA keys of 2048 bits or more, ECDSA
keys on P-256 or P-384, and SHA-256 or stronger signatures. The legacy policy
also accepts 1024-bit RSA keys and SHA-1 signatures so that old clusters can
still be reached; it is chosen explicitly, never by default, and every use of
it is logged as a warning (see :func:`warn_legacy`).
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)

from tlstrunk.i18n import _
from tlstrunk.pki.errors import PolicyError

RSA_SIZES = (1024, 2048, 3072, 4096)
MODERN_MIN_RSA_SIZE = 2048
CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}
HASH_NAMES = ("sha256", "sha384", "sha512")
DEFAULT_HASH = "sha256"

SigningHash = hashes.SHA256 | hashes.SHA384 | hashes.SHA512

_HASHES: dict[str, type[SigningHash]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_KEY_SPEC_PATTERN = re.compile(r"^(rsa|ecdsa|ec)[-:]?(p-?256|p-?384|\d+)$")


class CryptoPolicy(enum.Enum):
    """The set of key sizes and signature hashes that are accepted."""

    MODERN = "modern"
    LEGACY = "legacy"


@dataclass(frozen=True)
class KeySpec:
    """The algorithm and size of a key to generate.

    ``size`` applies to RSA keys (bits) and ``curve`` to ECDSA keys.
    """

    algorithm: str = "rsa"
    size: int = 2048
    curve: str = "P-256"

    def __post_init__(self) -> None:
        if self.algorithm not in ("rsa", "ecdsa"):
            raise ValueError(
                _("Unknown key algorithm {value!r}; use 'rsa' or 'ecdsa'.").format(
                    value=self.algorithm
                )
            )
        if self.algorithm == "rsa" and self.size not in RSA_SIZES:
            raise ValueError(
                _(
                    "Unsupported RSA key size {value}; use 2048, 3072 or 4096 bits (1024 "
                    "only with the legacy policy)."
                ).format(value=self.size)
            )
        if self.algorithm == "ecdsa" and self.curve not in CURVES:
            raise ValueError(
                _("Unsupported ECDSA curve {value!r}; use P-256 or P-384.").format(value=self.curve)
            )

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        """Parse "rsa2048", "rsa:3072", "RSA-4096", "ecdsa-p256", "ecdsa:P-384" and similar.

        Raises:
            ValueError: the text names no supported key type.
        """
        match = _KEY_SPEC_PATTERN.match(text.strip().lower())
        if match is None:
            raise ValueError(
                _(
                    "Invalid key type {value!r}; use rsa2048, rsa3072, rsa4096, "
                    "ecdsa-p256 or ecdsa-p384."
                ).format(value=text)
            )
        algorithm, parameter = match.groups()
        if algorithm == "rsa":
            if not parameter.isdigit():
                raise ValueError(
                    _(
                        "Invalid key type {value!r}: an RSA key takes a size in bits, "
                        "such as rsa2048."
                    ).format(value=text)
                )
            return cls("rsa", size=int(parameter))
        if parameter.isdigit():
            raise ValueError(
                _(
                    "Invalid key type {value!r}: an ECDSA key takes a curve, such as ecdsa-p256."
                ).format(value=text)
            )
        return cls("ecdsa", curve="P-" + parameter.removeprefix("p").lstrip("-"))

    def __str__(self) -> str:
        if self.algorithm == "rsa":
            return f"rsa{self.size}"
        return f"ecdsa-{self.curve.lower().replace('-', '')}"

    def check_policy(self, policy: CryptoPolicy = CryptoPolicy.MODERN) -> None:
        """Raise :class:`PolicyError` if ``policy`` rejects keys of this kind."""
        too_small = self.algorithm == "rsa" and self.size < MODERN_MIN_RSA_SIZE
        if too_small and policy is not CryptoPolicy.LEGACY:
            raise PolicyError(_rsa_too_small_message(self.size))


RSA_2048 = KeySpec("rsa", 2048)


def warn_legacy(logger: logging.Logger, subject: str) -> None:
    """Log a warning that the legacy policy is in use for ``subject``."""
    logger.warning(
        "legacy crypto policy in use for %s: 1024-bit RSA keys and SHA-1 signatures are "
        "accepted; move the peer to RSA 2048 and SHA-256 and return to the modern policy",
        subject,
    )


def generate_private_key(spec: KeySpec) -> CertificateIssuerPrivateKeyTypes:
    """Generate a new private key as described by ``spec``."""
    if spec.algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=spec.size)
    return ec.generate_private_key(CURVES[spec.curve])


def hash_algorithm(name: str) -> SigningHash:
    """Return the hash named "sha256", "sha384" or "sha512".

    Raises:
        PolicyError: ``name`` is "sha1", which cannot be used to sign here.
        ValueError: ``name`` is not a known hash.
    """
    normalized = name.strip().lower().replace("-", "")
    if normalized == "sha1":
        raise PolicyError(
            _(
                "SHA-1 signatures cannot be created: the cryptography library refuses to "
                "sign with SHA-1 and the modern policy rejects it. Use sha256, sha384 or "
                "sha512. Legacy SHA-1 certificates for old clusters must be made with "
                "another tool (for example the old cluster's own CA)."
            )
        )
    try:
        return _HASHES[normalized]()
    except KeyError:
        raise ValueError(
            _("Unknown hash {value!r}; use sha256, sha384 or sha512.").format(value=name)
        ) from None


def describe_public_key(key: CertificatePublicKeyTypes) -> str:
    """Return a short description such as "RSA 2048" or "ECDSA P-256"."""
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        names = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"ECDSA {names.get(key.curve.name, key.curve.name)}"
    return type(key).__name__.removesuffix("PublicKey").removeprefix("_")


def check_public_key(
    key: CertificatePublicKeyTypes, policy: CryptoPolicy = CryptoPolicy.MODERN
) -> None:
    """Raise :class:`PolicyError` if ``policy`` rejects ``key``."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MODERN_MIN_RSA_SIZE and policy is not CryptoPolicy.LEGACY:
            raise PolicyError(_rsa_too_small_message(key.key_size))
        return
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise PolicyError(
                _("The ECDSA curve {curve} is not supported; use P-256 or P-384.").format(
                    curve=key.curve.name
                )
            )
        return
    raise PolicyError(
        _("The key type {kind} is not supported; use an RSA or ECDSA key.").format(
            kind=describe_public_key(key)
        )
    )


def check_signature_hash(
    algorithm: hashes.HashAlgorithm | None, policy: CryptoPolicy = CryptoPolicy.MODERN
) -> None:
    """Raise :class:`PolicyError` if ``policy`` rejects a signature made with ``algorithm``."""
    if algorithm is None:
        raise PolicyError(
            _(
                "The signature algorithm has no separate hash (such as Ed25519), which is "
                "not supported; sign with SHA-256 or better."
            )
        )
    if algorithm.name in _HASHES:
        return
    if algorithm.name == "sha1" and policy is CryptoPolicy.LEGACY:
        return
    raise PolicyError(
        _(
            "The signature uses {hash}, which the modern policy rejects (OpenSSL 3 reports "
            "it as 'ca md too weak'); sign with SHA-256 or better, or select the legacy "
            "policy for an old peer."
        ).format(hash=algorithm.name.upper())
    )


def _rsa_too_small_message(size: int) -> str:
    return _(
        "An RSA key of {size} bits is too small for the modern policy, which requires "
        "at least 2048 bits (OpenSSL 3 reports it as 'ee key too small' or 'ca key too "
        "small'); use rsa2048 or larger, or select the legacy policy for an old peer."
    ).format(size=size)
