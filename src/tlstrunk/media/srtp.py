"""SRTP and SRTCP protection for one direction of a media stream.

A thin wrapper around pylibsrtp (libsrtp): one :class:`SrtpContext` per
direction, built from an SDES suite and the decoded ``inline:`` key.  The
outbound context protects what we send with our own key; the inbound
context checks what the peer sends with its key.  Failures come out as
:class:`SrtpError` with a :attr:`SrtpError.kind` a caller can count.
"""

from __future__ import annotations

import logging
from typing import Literal

import pylibsrtp

from tlstrunk.i18n import _
from tlstrunk.media.sdes import UNSUPPORTED, SrtpSuite, suite_by_name
from tlstrunk.sip.sdp import CryptoAttribute

logger = logging.getLogger(__name__)

#: pylibsrtp profile for each suite it can run.
LIBSRTP_PROFILES: dict[str, int] = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    "AEAD_AES_128_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    "AEAD_AES_256_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
}

ErrorKind = Literal["auth", "replay", "malformed"]


class SrtpError(Exception):
    """A packet that could not be protected or unprotected.

    ``kind`` is ``"auth"`` (tag check failed: wrong key or tampering),
    ``"replay"`` (index seen before or too old) or ``"malformed"`` (anything
    else, such as a packet too short to be SRTP).
    """

    def __init__(self, message: str, kind: ErrorKind) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind


def _kind(detail: str) -> ErrorKind:
    if "authentication" in detail:
        return "auth"
    if "replay" in detail or "too old" in detail:
        return "replay"
    return "malformed"


class SrtpContext:
    """libsrtp state for one direction: protect outbound or unprotect inbound packets."""

    def __init__(self, suite: SrtpSuite | str, key_salt: bytes, *, outbound: bool) -> None:
        name = suite.name if isinstance(suite, SrtpSuite) else suite
        known = suite_by_name(name)
        if known is None or name not in LIBSRTP_PROFILES:
            reason = UNSUPPORTED.get(name, "unknown suite")
            raise ValueError(_("The SRTP suite {suite} cannot be used ({reason}); use one of "
                               "{names}.").format(suite=name, reason=reason,
                                                  names=", ".join(LIBSRTP_PROFILES)))
        if len(key_salt) != known.key_salt_bytes:
            raise ValueError(_("The {suite} master key and salt must be {expected} bytes, not "
                               "{size}.").format(suite=name, expected=known.key_salt_bytes,
                                                 size=len(key_salt)))
        ssrc_type = (pylibsrtp.Policy.SSRC_ANY_OUTBOUND if outbound
                     else pylibsrtp.Policy.SSRC_ANY_INBOUND)
        policy = pylibsrtp.Policy(key=bytes(key_salt), ssrc_type=ssrc_type,
                                  srtp_profile=LIBSRTP_PROFILES[name])
        self.suite = known
        self.outbound = outbound
        self._session = pylibsrtp.Session(policy)

    @classmethod
    def for_outbound(cls, suite: SrtpSuite | str, key_salt: bytes) -> SrtpContext:
        """Create a context that protects what we send, keyed with our own ``a=crypto`` key."""
        return cls(suite, key_salt, outbound=True)

    @classmethod
    def for_inbound(cls, suite: SrtpSuite | str, key_salt: bytes) -> SrtpContext:
        """Create a context that checks the packets the peer sends, keyed with the peer's key."""
        return cls(suite, key_salt, outbound=False)

    @classmethod
    def pair(cls, local: CryptoAttribute, remote: CryptoAttribute) -> tuple[SrtpContext,
                                                                             SrtpContext]:
        """Return ``(outbound, inbound)`` from our ``a=crypto`` line and the peer's.

        Both lines must name the same suite (an offer line and its answer).
        """
        if local.suite != remote.suite:
            raise ValueError(_("The local crypto suite {local} and the remote suite {remote} "
                               "differ; an answer must use the suite of the offer line it "
                               "accepts.").format(local=local.suite, remote=remote.suite))
        return (cls.for_outbound(local.suite, local.key_params[0].key_salt),
                cls.for_inbound(remote.suite, remote.key_params[0].key_salt))

    def _run(self, method: str, packet: bytes) -> bytes:
        if self.outbound != method.startswith("protect"):
            raise TypeError(f"{method} on an {'outbound' if self.outbound else 'inbound'} "
                            "SRTP context")
        try:
            result: bytes = getattr(self._session, method)(bytes(packet))
        except pylibsrtp.Error as error:
            raise SrtpError(_("SRTP {operation} failed: {detail}.").format(
                operation=method, detail=error), _kind(str(error))) from error
        except ValueError as error:
            raise SrtpError(_("SRTP {operation} failed: {detail}.").format(
                operation=method, detail=error), "malformed") from error
        return result

    def protect(self, rtp: bytes) -> bytes:
        """Encrypt and authenticate one RTP packet."""
        return self._run("protect", rtp)

    def unprotect(self, srtp: bytes) -> bytes:
        """Check and decrypt one SRTP packet; raises :class:`SrtpError` on failure."""
        return self._run("unprotect", srtp)

    def protect_rtcp(self, rtcp: bytes) -> bytes:
        """Encrypt and authenticate one RTCP packet."""
        return self._run("protect_rtcp", rtcp)

    def unprotect_rtcp(self, srtcp: bytes) -> bytes:
        """Check and decrypt one SRTCP packet; raises :class:`SrtpError` on failure."""
        return self._run("unprotect_rtcp", srtcp)
