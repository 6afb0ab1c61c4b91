"""Exceptions raised by the PKI layer.

Every exception carries a message written for the administrator: it names the
value at fault and the step that fixes it, so callers can show ``str(exc)``
as is, or prefix it with their own context (a trunk or profile name).
"""

from __future__ import annotations


class PkiError(Exception):
    """Base class of every error raised by ``tlstrunk.pki``."""


class PolicyError(PkiError):
    """A key, hash or certificate is rejected by the crypto policy in force."""


class CertificateAuthorityError(PkiError):
    """A certificate authority operation failed (bad request, unknown id, wrong state)."""


class CertificateStoreError(PkiError):
    """A node certificate store operation failed (missing CSR, unknown purpose, empty store)."""


class CertificateUploadError(CertificateStoreError):
    """An uploaded certificate or chain was rejected; the store is unchanged."""


class CertificateValidationError(PkiError):
    """A certificate or chain failed validation (dates, issuer, policy, parsing)."""
