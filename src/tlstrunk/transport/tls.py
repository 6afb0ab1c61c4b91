"""TLS contexts for SIP trunks: the only module that builds ``ssl.SSLContext``.

Both directions of a trunk use mutual TLS.  The context verifies the peer's
chain against the node's ``CallManager-trust`` store and presents the node's
``CallManager`` certificate.  Host-name checking is off on purpose: a SIP trunk
accepts its peer by the security profile's X.509 subject name (the subject CN or
a SAN DNS name), which :func:`tlstrunk.pki.names.check_subject_name` applies
once the handshake is done, on both sides.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from tlstrunk.i18n import _

#: OpenSSL security level 2 refuses RSA keys under 2048 bits and SHA-1 signatures.
MODERN_CIPHERS = "DEFAULT:@SECLEVEL=2"


@dataclass(frozen=True)
class TlsIdentity:
    """The files a node presents and trusts on one purpose.

    Attributes:
        certificate_chain: PEM file with the node's certificate, then its intermediates.
        private_key: PEM file with the matching private key.
        trust_bundle: PEM file with every certificate of the purpose's trust store.
    """

    certificate_chain: Path
    private_key: Path
    trust_bundle: Path


class TlsConfigurationError(Exception):
    """Raised when a TLS context cannot be built from the node's files."""


def _base_context(protocol: int, identity: TlsIdentity) -> ssl.SSLContext:
    context = ssl.SSLContext(protocol)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(MODERN_CIPHERS)
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_cert_chain(identity.certificate_chain, identity.private_key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigurationError(
            _(
                "Cannot load the node certificate {cert} with key {key}: {error}. "
                "Upload a CallManager certificate for this node first."
            ).format(cert=identity.certificate_chain, key=identity.private_key, error=exc)
        ) from exc
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


def build_server_context(identity: TlsIdentity) -> ssl.SSLContext:
    """Build the context for inbound trunk connections; the client must present a certificate."""
    context = _base_context(ssl.PROTOCOL_TLS_SERVER, identity)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def build_client_context(identity: TlsIdentity) -> ssl.SSLContext:
    """Build the context for outbound trunk connections."""
    context = _base_context(ssl.PROTOCOL_TLS_CLIENT, identity)
    # The peer is matched by the profile's X.509 subject name after the handshake.
    context.check_hostname = False
    return context


def build_probe_context() -> ssl.SSLContext:
    """Build a client context that accepts any server certificate, to read it for diagnostics.

    A node uses it only after a verified handshake failed, to name the
    certificate it refused; no SIP is ever sent over such a connection.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
