"""Path validation under the legacy crypto policy, done by the ``openssl verify`` command.

The legacy policy accepts 1024-bit RSA keys and SHA-1 signatures, as older
call-manager releases issue them. The cryptography verifier refuses both
without an option to relax it, and the ``ssl`` module exposes no X.509 store to
verify a chain outside a handshake. So legacy chains are checked by running
``openssl verify`` with ``-auth_level 0`` (security level 0: no minimum key size
or digest strength), the same OpenSSL that the TLS handshakes use. Only the
given trust anchors are used: the system's default CA paths are switched off.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tlstrunk.i18n import _
from tlstrunk.pki import _files
from tlstrunk.pki.errors import CertificateValidationError
from tlstrunk.pki.keys import warn_legacy
from tlstrunk.pki.names import rfc4514_subject

logger = logging.getLogger(__name__)

#: ``openssl verify -purpose`` values for this node's peer roles.
OPENSSL_PURPOSES = {"server": "sslserver", "client": "sslclient"}
_TIMEOUT_SECONDS = 30.0
_MAX_CHAIN_DEPTH = 8


def verify_chain_legacy(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    *,
    now: dt.datetime,
    trust_name: str,
    purpose: str | None = None,
) -> list[x509.Certificate]:
    """Validate ``leaf`` up to one of ``anchors`` with OpenSSL at security level 0.

    ``purpose`` is "server" or "client" to also have OpenSSL check the key
    usages for that TLS role, or None to check the path only. Returns the
    chain, leaf first, ending with the anchor.

    Raises:
        CertificateValidationError: OpenSSL rejects the chain, or the
            ``openssl`` command is not installed.
    """
    warn_legacy(logger, rfc4514_subject(leaf.subject))
    if not anchors:
        raise CertificateValidationError(
            _(
                "{trust} is empty, so no certificate can be validated; upload the root "
                "certificate of the CA that signed it as {trust} first."
            ).format(trust=trust_name)
        )
    output = _run_openssl_verify(leaf, intermediates, anchors, now, purpose)
    if output is not None:
        raise CertificateValidationError(
            _(
                "OpenSSL rejected the chain under the legacy policy ({detail}); check that "
                "the file contains the certificate issued for this node and its "
                "intermediates, and that the issuing root CA is in {trust}."
            ).format(detail=output, trust=trust_name)
        )
    return assemble_chain(leaf, intermediates, anchors)


def assemble_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
) -> list[x509.Certificate]:
    """Return the chain from ``leaf`` to an anchor by issuer names and signatures.

    It runs after OpenSSL has validated the path, so it only orders the
    certificates. A trust anchor or a certificate without a parent ends the chain.
    """
    chain = [leaf]
    current = leaf
    for _step in range(_MAX_CHAIN_DEPTH):
        if current in anchors:
            break
        parent = _find_issuer(current, [*anchors, *intermediates])
        if parent is None or parent == current:
            break
        chain.append(parent)
        current = parent
    return chain


def _find_issuer(
    child: x509.Certificate, candidates: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    for candidate in candidates:
        if candidate.subject == child.issuer and _signed_by(child, candidate):
            return candidate
    return None


def _signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Check the signature of ``child`` with the key of ``parent``, SHA-1 included.

    ``verify_directly_issued_by`` rejects SHA-1 signatures, so RSA PKCS#1 v1.5
    and ECDSA signatures are checked with the public key directly.
    """
    try:
        algorithm = child.signature_hash_algorithm
        public_key = parent.public_key()
        if isinstance(public_key, rsa.RSAPublicKey) and algorithm is not None:
            public_key.verify(
                child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), algorithm
            )
            return True
        if isinstance(public_key, ec.EllipticCurvePublicKey) and algorithm is not None:
            public_key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(algorithm))
            return True
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _run_openssl_verify(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    purpose: str | None,
) -> str | None:
    """Run ``openssl verify`` and return None when it succeeds, else its error line."""
    executable = shutil.which("openssl")
    if executable is None:
        raise CertificateValidationError(
            _(
                "The legacy policy needs the 'openssl' command to validate certificates, and "
                "it is not installed; install OpenSSL or use the modern policy."
            )
        )
    with tempfile.TemporaryDirectory(prefix="tlstrunk-legacy-") as folder:
        directory = Path(folder)
        _write_pem(directory / "anchors.pem", anchors)
        _write_pem(directory / "leaf.pem", [leaf])
        command = [
            executable,
            "verify",
            "-auth_level",
            "0",
            "-no-CApath",
            "-no-CAstore",
            "-attime",
            str(int(now.timestamp())),
            "-CAfile",
            str(directory / "anchors.pem"),
        ]
        if intermediates:
            _write_pem(directory / "untrusted.pem", intermediates)
            command += ["-untrusted", str(directory / "untrusted.pem")]
        if purpose is not None:
            command += ["-purpose", OPENSSL_PURPOSES[purpose]]
        command.append(str(directory / "leaf.pem"))
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=_TIMEOUT_SECONDS, check=False
        )
    if result.returncode == 0:
        return None
    return _error_line(result.stdout + result.stderr)


def _write_pem(path: Path, certificates: Sequence[x509.Certificate]) -> None:
    path.write_bytes(b"".join(_files.encode_certificate(c, "pem") for c in certificates))


def _error_line(output: str) -> str:
    """Pick the "error N at D depth lookup: reason" line out of OpenSSL's output."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("error ") and " lookup:" in line:
            return line
    return lines[-1] if lines else "openssl verify failed"
