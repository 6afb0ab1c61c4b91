"""TLS contexts for SIP trunks: the only module that builds ``ssl.SSLContext``.

Both directions of a trunk use mutual TLS.  The context verifies the peer's
chain against the node's ``CallManager-trust`` store and presents the node's
``CallManager`` certificate.  Host-name checking is off on purpose: a SIP trunk
accepts its peer by the security profile's X.509 subject name (the subject CN or
a SAN DNS name), which :func:`tlstrunk.pki.names.check_subject_name` applies
once the handshake is done, on both sides.
"""

from __future__ import annotations

import contextlib
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

from tlstrunk.i18n import _

#: OpenSSL security level 2 refuses RSA keys under 2048 bits and SHA-1 signatures.
MODERN_CIPHERS = "DEFAULT:@SECLEVEL=2"
#: Security level 0 lets OpenSSL 3 use TLS 1.0 and 1.1, 1024-bit RSA and SHA-1.
LEGACY_CIPHERS = "DEFAULT:@SECLEVEL=0"

#: Names of the TLS policies a security profile may choose.
MODERN = "modern"
LEGACY = "legacy"


@dataclass(frozen=True)
class TlsIdentity:
    """The files a node presents and trusts on one purpose.

    Attributes:
        certificate_chain: PEM file with the node's certificate, then its intermediates.
        private_key: PEM file with the matching private key.
        trust_bundle: PEM file with every certificate of the purpose's trust store.
        password: the passphrase of an encrypted private key, or ``None``.
    """

    certificate_chain: Path
    private_key: Path
    trust_bundle: Path
    password: bytes | None = None


class TlsConfigurationError(Exception):
    """Raised when a TLS context cannot be built from the node's files."""


def _base_context(
    protocol: int, identity: TlsIdentity, policy: str, keylog: Path | None
) -> ssl.SSLContext:
    context = ssl.SSLContext(protocol)
    if keylog is not None:
        # Only a node that captures its own traffic writes its TLS secrets, to a
        # private file that the capture embeds and deletes.
        context.keylog_filename = str(keylog)
    if policy == LEGACY:
        # Python deprecates TLS 1.0 because it is weak; the legacy policy exists
        # to reach old clusters that speak nothing newer.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers(LEGACY_CIPHERS)
    elif policy == MODERN:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(MODERN_CIPHERS)
    else:
        raise ValueError(f"unknown TLS policy {policy!r}; use {MODERN!r} or {LEGACY!r}")
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_cert_chain(
            identity.certificate_chain, identity.private_key, password=identity.password
        )
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigurationError(_own_certificate_problem(identity, exc)) from exc
    try:
        context.load_verify_locations(cafile=identity.trust_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigurationError(
            _(
                "Cannot load the trust store {path}: {error}. "
                "Upload the peer's root CA as CallManager-trust first."
            ).format(path=identity.trust_bundle, error=exc)
        ) from exc
    return context


def _openssl_reason(exc: Exception) -> str:
    """Return OpenSSL's reason as its error strings spell it, e.g. "ee key too small"."""
    reason = getattr(exc, "reason", None)
    return reason.lower().replace("_", " ") if isinstance(reason, str) else str(exc)


def _own_certificate_problem(identity: TlsIdentity, exc: Exception) -> str:
    text = str(exc).lower()
    if "key too small" in text or "md too weak" in text:
        return _(
            "The modern TLS policy refuses this node's certificate {cert} (OpenSSL: "
            "'{error}'): its RSA key is shorter than 2048 bits or it is signed with SHA-1. "
            "Upload a certificate with an RSA key of at least 2048 bits signed with SHA-256, "
            "or set the legacy TLS policy on the profiles of trunks to old clusters."
        ).format(cert=identity.certificate_chain, error=_openssl_reason(exc))
    return _(
        "Cannot load the node certificate {cert} with key {key}: {error}. "
        "Upload a CallManager certificate for this node first."
    ).format(cert=identity.certificate_chain, key=identity.private_key, error=exc)


def build_server_context(
    identity: TlsIdentity, policy: str = MODERN, keylog: Path | None = None
) -> ssl.SSLContext:
    """Build the context for inbound trunk connections; the client must present a certificate."""
    context = _base_context(ssl.PROTOCOL_TLS_SERVER, identity, policy, keylog)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def build_phone_server_context(
    identity: TlsIdentity, keylog: Path | None = None
) -> ssl.SSLContext:
    """Build the context for the phone port: a client certificate is verified when sent.

    Phones prove who they are with digest authentication; a phone that also
    presents a certificate must present one that chains to the trust store.
    """
    context = _base_context(ssl.PROTOCOL_TLS_SERVER, identity, MODERN, keylog)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


def build_client_context(
    identity: TlsIdentity, policy: str = MODERN, keylog: Path | None = None
) -> ssl.SSLContext:
    """Build the context for outbound trunk connections."""
    context = _base_context(ssl.PROTOCOL_TLS_CLIENT, identity, policy, keylog)
    # The peer is matched by the profile's X.509 subject name after the handshake.
    context.check_hostname = False
    return context


def build_probe_context(identity: TlsIdentity | None = None) -> ssl.SSLContext:
    """Build a client context that accepts any server certificate, to read it for diagnostics.

    A node uses it only after a verified handshake failed, to name the
    certificate it refused; no SIP is ever sent over such a connection. With
    ``identity`` the probe presents the node's own certificate, so that the far
    node does not record a bogus "no client certificate" rejection.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if identity is not None:
        # Without the node's certificate the probe still reads the server's.
        with contextlib.suppress(OSError, ssl.SSLError):
            context.load_cert_chain(
                identity.certificate_chain, identity.private_key, password=identity.password
            )
    return context


#: TLS versions a single-version probe may offer, by the names ``ssl.SSLObject.version()`` returns.
PROBE_VERSIONS = {
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def build_version_probe_context(
    version: str, identity: TlsIdentity | None = None
) -> ssl.SSLContext:
    """Build a probe context (see :func:`build_probe_context`) that offers only ``version``.

    The trunk doctor uses one such handshake per version to learn which TLS
    versions the far end accepts.

    Raises:
        ValueError: ``version`` is not a key of :data:`PROBE_VERSIONS`.
    """
    if version not in PROBE_VERSIONS:
        raise ValueError(
            _("Unknown TLS version {value!r}; use one of: {known}.").format(
                value=version, known=", ".join(PROBE_VERSIONS)
            )
        )
    context = build_probe_context(identity)
    context.minimum_version = PROBE_VERSIONS[version]
    context.maximum_version = PROBE_VERSIONS[version]
    return context
