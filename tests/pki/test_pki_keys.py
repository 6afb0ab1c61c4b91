"""Key specifications, hashes and the modern policy."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tlstrunk.pki.errors import PolicyError
from tlstrunk.pki.keys import (
    CryptoPolicy,
    KeySpec,
    check_public_key,
    check_signature_hash,
    generate_private_key,
    hash_algorithm,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rsa2048", KeySpec("rsa", 2048)),
        ("rsa:3072", KeySpec("rsa", 3072)),
        ("RSA-4096", KeySpec("rsa", 4096)),
        ("ecdsa-p256", KeySpec("ecdsa", curve="P-256")),
        ("ecdsa:P-384", KeySpec("ecdsa", curve="P-384")),
    ],
)
def test_keyspec_parse_accepts_forms(text: str, expected: KeySpec) -> None:
    assert KeySpec.parse(text) == expected


@pytest.mark.parametrize("text", ["rsa", "dsa2048", "ecdsa2048", "rsa-p256", "rsa1000", ""])
def test_keyspec_parse_rejects_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="key"):
        KeySpec.parse(text)


def test_keyspec_str_round_trips() -> None:
    for text in ("rsa2048", "rsa4096", "ecdsa-p256", "ecdsa-p384"):
        assert str(KeySpec.parse(text)) == text


def test_generate_private_key_types() -> None:
    rsa_key = generate_private_key(KeySpec.parse("rsa2048"))
    ec_key = generate_private_key(KeySpec.parse("ecdsa-p384"))
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    assert rsa_key.key_size == 2048
    assert isinstance(ec_key, ec.EllipticCurvePrivateKey)
    assert ec_key.curve.name == "secp384r1"


def test_rsa1024_rejected_by_modern_policy() -> None:
    spec = KeySpec.parse("rsa1024")
    with pytest.raises(PolicyError, match=r"1024 bits is too small.*at least 2048"):
        spec.check_policy()
    spec.check_policy(CryptoPolicy.LEGACY)


def test_sha1_rejected_with_explanation() -> None:
    with pytest.raises(PolicyError) as info:
        hash_algorithm("sha1")
    message = str(info.value)
    assert "refuses to sign with SHA-1" in message
    assert "another tool" in message


def test_hash_names() -> None:
    assert isinstance(hash_algorithm("sha256"), hashes.SHA256)
    assert isinstance(hash_algorithm("SHA-384"), hashes.SHA384)
    assert isinstance(hash_algorithm("sha512"), hashes.SHA512)
    with pytest.raises(ValueError, match="Unknown hash 'md5'"):
        hash_algorithm("md5")


def test_public_key_and_hash_policy() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    with pytest.raises(PolicyError, match="1024 bits"):
        check_public_key(small)
    check_public_key(small, CryptoPolicy.LEGACY)
    with pytest.raises(PolicyError, match="SHA1"):
        check_signature_hash(hashes.SHA1())
    check_signature_hash(hashes.SHA1(), CryptoPolicy.LEGACY)
    check_signature_hash(hashes.SHA256())
