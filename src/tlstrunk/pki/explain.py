"""Plain-language explanations of OpenSSL certificate verification and handshake errors.

OpenSSL reports failures with terse codes and reasons ("unable to get local
issuer certificate", "tlsv1 alert unknown ca"). These functions turn them into
a sentence that states what is wrong on which side and what to change. They only
read attributes of ``ssl`` exceptions; no TLS context is built here.

``side`` is this node's role in the connection: "client" for an outgoing trunk
connection (this node checks the server's certificate) and "server" for an
incoming one (this node checks the client's certificate).
"""

from __future__ import annotations

import ssl

from tlstrunk.i18n import _

_UNTRUSTED_ISSUER_CODES = frozenset({2, 20, 21})
#: 18: the leaf itself is self-signed.
_SELF_SIGNED_CODES = frozenset({18})
#: 19: the chain ends in a root that is not trusted.  OpenSSL adds the root
#: to a chain it sends when the sender's own trust store holds it.
_UNTRUSTED_ROOT_CODES = frozenset({19})


def explain_verify_failure(
    verify_code: int | None,
    verify_message: str | None,
    *,
    side: str,
    trust_name: str = "CallManager-trust",
) -> str:
    """Explain an OpenSSL verify error of the peer's certificate, with the fix.

    ``verify_code`` and ``verify_message`` are the attributes of the same names
    of :class:`ssl.SSLCertVerificationError`.
    """
    code = verify_code or 0
    message = (verify_message or "").lower()
    peer = _peer(side)
    text = _explain_by_code(code, peer, trust_name) or _explain_by_message(message, peer)
    if text is None:
        text = _(
            "The {peer}'s certificate failed verification ({detail}); check it with "
            "'tlstrunk cert show' on the peer and compare it with {trust}."
        ).format(peer=peer, detail=verify_message or code, trust=trust_name)
    return text


def explain_ssl_error(
    exc: ssl.SSLError, *, side: str = "server", trust_name: str = "CallManager-trust"
) -> str:
    """Explain a failed TLS handshake, as seen on ``side``, with the fix."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return explain_verify_failure(
            exc.verify_code, exc.verify_message, side=side, trust_name=trust_name
        )
    if isinstance(exc, ssl.SSLEOFError):
        return _(
            "The {peer} closed the connection during the TLS handshake, which usually means "
            "it rejected this node's certificate or does not expect TLS on this port; read "
            "the {peer}'s trace for the reason."
        ).format(peer=_peer(side))
    reason = (getattr(exc, "reason", None) or str(exc)).upper().replace(" ", "_")
    peer = _peer(side)
    for key, template in _REASONS:
        if key in reason:
            return template().format(peer=peer, trust=trust_name)
    return _("The TLS handshake with the {peer} failed: {detail}.").format(peer=peer, detail=exc)


def _peer(side: str) -> str:
    if side == "client":
        return _("server")
    if side == "server":
        return _("client")
    raise ValueError(_("Invalid side {value!r}; use 'client' or 'server'.").format(value=side))


def _explain_by_code(code: int, peer: str, trust: str) -> str | None:
    if code in _UNTRUSTED_ISSUER_CODES:
        return _(
            "The {peer}'s certificate was issued by a CA that is not in {trust}; upload the "
            "{peer}'s root CA as {trust} (and check that the {peer} sends its intermediates)."
        ).format(peer=peer, trust=trust)
    if code in _UNTRUSTED_ROOT_CODES:
        return _(
            "The {peer}'s certificate chains to a root CA that is not in {trust}; upload "
            "that root CA as {trust} on this node, or have the {peer}'s certificate issued "
            "by a CA in {trust}."
        ).format(peer=peer, trust=trust)
    if code in _SELF_SIGNED_CODES:
        return _(
            "The {peer} presented a self-signed certificate that is not in {trust}; install a "
            "CA-signed certificate on the {peer}, or upload its certificate as {trust}."
        ).format(peer=peer, trust=trust)
    texts = {
        7: _(
            "The signature on the {peer}'s certificate is invalid; the {peer}'s certificate "
            "or the CA certificate in {trust} is damaged or does not belong to that CA."
        ),
        9: _(
            "The {peer}'s certificate is not valid yet; check the clocks of both nodes, or "
            "wait until the certificate's start date."
        ),
        10: _(
            "The {peer}'s certificate has expired; have a new certificate issued for the "
            "{peer} and upload it there."
        ),
        23: _("The {peer}'s certificate has been revoked; have a new certificate issued."),
        24: _(
            "A CA certificate in the {peer}'s chain is not valid for signing certificates; "
            "check the CA certificates in {trust} and the {peer}'s intermediates."
        ),
        26: _(
            "The {peer}'s certificate is not valid for this use: its extended key usage "
            "lacks {usage}; have a certificate issued with both serverAuth and clientAuth."
        ),
        66: _WEAK_KEY,
        67: _WEAK_CA_KEY,
        68: _WEAK_HASH,
    }
    template = texts.get(code)
    if template is None:
        return None
    usage = "serverAuth" if peer == _("server") else "clientAuth"
    return template.format(peer=peer, trust=trust, usage=usage)


def _explain_by_message(message: str, peer: str) -> str | None:
    if "key too small" in message or "key too weak" in message:
        return _WEAK_KEY.format(peer=peer)
    if "md too weak" in message or "digest algorithm too weak" in message:
        return _WEAK_HASH.format(peer=peer)
    return None


_WEAK_KEY = _(
    "The {peer}'s certificate key is too small for the modern policy (OpenSSL: 'ee key too "
    "small'); issue the {peer} a certificate with an RSA key of at least 2048 bits or an "
    "ECDSA key, or select the legacy policy in the trunk's security profile."
)
_WEAK_CA_KEY = _(
    "The key of a CA in the {peer}'s chain is too small for the modern policy (OpenSSL: "
    "'ca key too small'); use a CA with an RSA key of at least 2048 bits or an ECDSA key."
)
_WEAK_HASH = _(
    "A certificate in the {peer}'s chain is signed with a weak hash such as SHA-1 (OpenSSL: "
    "'ca md too weak'); have it reissued with SHA-256 or better, or select the legacy policy "
    "in the trunk's security profile."
)


def _unknown_ca() -> str:
    return _(
        "The {peer} rejected this node's certificate because its issuer is not in the "
        "{peer}'s trust store; upload this node's root CA on the {peer} as {trust}."
    )


def _bad_certificate() -> str:
    return _(
        "The {peer} rejected this node's certificate (bad certificate); check on the {peer} "
        "that this node's root CA is in {trust} and that the certificate's usages are valid."
    )


def _expired() -> str:
    return _(
        "The {peer} rejected this node's certificate as expired; upload a new certificate "
        "on this node."
    )


def _no_certificate() -> str:
    return _(
        "The {peer} did not send a certificate, but this node requires one; on the {peer}, "
        "upload a CA-signed certificate for its CallManager purpose and use a TLS profile."
    )


def _certificate_required() -> str:
    return _(
        "The {peer} requires a certificate from this node; upload a CA-signed certificate "
        "for this node's CallManager purpose."
    )


def _protocol_version() -> str:
    return _(
        "The {peer} and this node share no TLS version; the modern policy allows TLS 1.2 and "
        "1.3, so enable one of them on the {peer} or select the legacy policy."
    )


def _no_cipher() -> str:
    return _(
        "The {peer} and this node share no cipher suite; check the {peer}'s TLS settings, "
        "or select the legacy policy for an old peer."
    )


def _handshake_failure() -> str:
    return _(
        "The {peer} aborted the handshake (handshake failure), usually because the two "
        "sides share no cipher suite or TLS version, or because the {peer} rejected the "
        "certificate; read the {peer}'s trace for the reason."
    )


# OpenSSL raises these reasons when this node's own certificate is loaded.
def _own_key_too_small() -> str:
    return _(
        "This node's certificate (or its CA) has a key too small for the modern policy "
        "(OpenSSL: 'ee key too small'); generate a new CSR with rsa2048 or larger or an "
        "ECDSA key, or select the legacy policy in the trunk's security profile."
    )


def _own_hash_too_weak() -> str:
    return _(
        "This node's certificate is signed with a weak hash such as SHA-1 (OpenSSL: "
        "'ca md too weak'); have it reissued with SHA-256 or better, or select the legacy "
        "policy in the trunk's security profile."
    )


def _not_tls() -> str:
    return _(
        "The {peer} did not speak TLS on this port (plain SIP over TCP?); set the {peer}'s "
        "trunk transport to TLS, or use the non-secure port."
    )


_REASONS = (
    ("ALERT_UNKNOWN_CA", _unknown_ca),
    ("BAD_CERTIFICATE", _bad_certificate),
    ("UNSUPPORTED_CERTIFICATE", _bad_certificate),
    ("CERTIFICATE_EXPIRED", _expired),
    ("PEER_DID_NOT_RETURN_A_CERTIFICATE", _no_certificate),
    ("CERTIFICATE_REQUIRED", _certificate_required),
    ("PROTOCOL_VERSION", _protocol_version),
    ("UNSUPPORTED_PROTOCOL", _protocol_version),
    ("NO_SHARED_CIPHER", _no_cipher),
    ("HANDSHAKE_FAILURE", _handshake_failure),
    ("WRONG_VERSION_NUMBER", _not_tls),
    ("HTTP_REQUEST", _not_tls),
    ("EE_KEY_TOO_SMALL", _own_key_too_small),
    ("CA_KEY_TOO_SMALL", _own_key_too_small),
    ("CA_MD_TOO_WEAK", _own_hash_too_weak),
)
