"""Atomic file writes and certificate encoding helpers shared by the CA and the store."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from tlstrunk.i18n import _
from tlstrunk.pki.errors import PkiError

Encoding = Literal["pem", "der"]

PRIVATE_FILE_MODE = 0o600


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a part.

    The data goes to a temporary file in the same directory, is flushed to disk,
    and then replaces ``path`` with ``os.replace``. The file gets ``mode`` before
    any byte is written, so a private key is never readable by others.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, value: Any) -> None:
    """Write ``value`` as indented JSON with :func:`write_atomic`."""
    write_atomic(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path) -> Any:
    """Read a JSON file written by :func:`write_json_atomic`."""
    return json.loads(path.read_text(encoding="utf-8"))


def private_key_pem(
    key: CertificateIssuerPrivateKeyTypes, passphrase: bytes | None = None
) -> bytes:
    """Serialize a private key as PKCS#8 PEM, encrypted when ``passphrase`` is given.

    Encrypted keys use cryptography's best available PKCS#8 encryption (PBES2
    with AES-256-CBC), which OpenSSL and ``ssl.SSLContext.load_cert_chain`` read.
    """
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def is_encrypted_pem(data: bytes) -> bool:
    """Tell whether PEM private key ``data`` is encrypted (PKCS#8 or legacy OpenSSL form)."""
    return b"ENCRYPTED" in data.split(b"\n", 3)[0] or b"Proc-Type: 4,ENCRYPTED" in data


def load_private_key(
    path: Path, passphrase: bytes | None = None
) -> CertificateIssuerPrivateKeyTypes:
    """Load a PEM private key written by :func:`private_key_pem`.

    An unencrypted key loads whatever ``passphrase`` is; an encrypted key
    needs the passphrase it was written with.

    Raises:
        PkiError: the key is encrypted and ``passphrase`` is missing or wrong.
    """
    data = path.read_bytes()
    encrypted = is_encrypted_pem(data)
    if encrypted and not passphrase:
        raise PkiError(
            _(
                "The private key {path} is encrypted; give its passphrase (option "
                "--passphrase-file, or the store's passphrase)."
            ).format(path=path)
        )
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except ValueError as exc:
        raise PkiError(
            _(
                "The private key {path} cannot be decrypted with the given passphrase; "
                "check the passphrase."
            ).format(path=path)
        ) from exc
    return key  # type: ignore[return-value]


def encode_certificate(certificate: x509.Certificate, encoding: str) -> bytes:
    """Encode ``certificate`` as PEM (Base-64) or DER (binary).

    Raises:
        PkiError: ``encoding`` is neither "pem" nor "der".
    """
    if encoding == "pem":
        return certificate.public_bytes(serialization.Encoding.PEM)
    if encoding == "der":
        return certificate.public_bytes(serialization.Encoding.DER)
    raise PkiError(
        _("Unknown certificate encoding {value!r}; use 'pem' (Base-64) or 'der' (binary).").format(
            value=encoding
        )
    )


def fingerprint_sha256(certificate: x509.Certificate) -> str:
    """Return the certificate's SHA-256 fingerprint as lowercase hex without separators."""
    return certificate.fingerprint(hashes.SHA256()).hex()
