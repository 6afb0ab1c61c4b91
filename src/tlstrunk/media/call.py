"""From an agreed SDP offer/answer to a running media stream.

Both sides of a call run the same steps on their own SDP (offer or answer)
and the peer's.  They find the audio section, the peer's address and port and
a common G.711 payload type.  For SRTP they also find the ``a=crypto`` line
of each side with the same tag.  Our line's key protects what we send; the peer's line's
key checks what it sends (RFC 4568 section 6.1).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from tlstrunk.i18n import _
from tlstrunk.media.rtp import MAX_PACKETS, PCMA, PCMU, MediaStream
from tlstrunk.media.sdes import parse_crypto_lines, rejection_reason
from tlstrunk.media.srtp import SrtpContext
from tlstrunk.sip.sdp import CryptoAttribute, MediaDescription, SessionDescription

_G711 = (str(PCMU), str(PCMA))


@dataclass(frozen=True)
class MediaPlan:
    """The address, payload type and keys of one side's stream (``suite`` is None for plain RTP)."""

    remote: tuple[str, int]
    payload_type: int
    suite: str | None
    local_crypto: CryptoAttribute | None
    remote_crypto: CryptoAttribute | None

    def contexts(self) -> tuple[SrtpContext | None, SrtpContext | None]:
        """Fresh ``(outbound, inbound)`` SRTP contexts, or ``(None, None)`` for plain RTP."""
        if self.local_crypto is None or self.remote_crypto is None:
            return None, None
        return SrtpContext.pair(self.local_crypto, self.remote_crypto)


def _audio(description: SessionDescription, whose: str) -> MediaDescription:
    for media in description.media:
        if media.media == "audio" and media.port:
            return media
    raise ValueError(_("The {whose} SDP has no active audio stream.").format(whose=whose))


def _matching_crypto(
    local: MediaDescription, remote: MediaDescription
) -> tuple[CryptoAttribute, CryptoAttribute] | None:
    mine, _reasons = parse_crypto_lines(local)
    theirs, _others = parse_crypto_lines(remote)
    by_tag = {line.tag: line for line in theirs}
    for line in mine:
        peer = by_tag.get(line.tag)
        if (peer is not None and peer.suite == line.suite
                and rejection_reason(line) is None and rejection_reason(peer) is None):
            return line, peer
    return None


def plan_media(local_sdp: bytes | str, remote_sdp: bytes | str) -> MediaPlan:
    """Build the stream plan from our SDP and the peer's (either may be the offer).

    Raises:
        SipParseError: when an SDP does not parse.
        ValueError: when there is no audio, no common G.711 format, no peer
            address, or SRTP was asked for without a matching crypto line.
    """
    local = _audio(SessionDescription.parse(local_sdp), _("local"))
    remote_description = SessionDescription.parse(remote_sdp)
    remote = _audio(remote_description, _("remote"))
    formats = [fmt for fmt in local.formats if fmt in _G711 and fmt in remote.formats]
    if not formats:
        raise ValueError(_("The two SDPs share neither PCMU (0) nor PCMA (8); the local SDP "
                           "has {local}, the remote one {remote}.").format(
                               local=" ".join(local.formats), remote=" ".join(remote.formats)))
    connection = remote.connection or remote_description.connection
    if connection is None:
        raise ValueError(_("The remote SDP has no c= line for its audio stream."))
    pair = _matching_crypto(local, remote)
    secure = "SAVP" in local.proto or "SAVP" in remote.proto
    if pair is None and secure:
        raise ValueError(_("The SDPs ask for SRTP ({proto}) but no a=crypto line of the local "
                           "SDP matches one of the remote SDP by tag and suite.").format(
                               proto=remote.proto))
    return MediaPlan(
        remote=(connection.address, remote.port),
        payload_type=int(formats[0]),
        suite=pair[0].suite if pair else None,
        local_crypto=pair[0] if pair else None,
        remote_crypto=pair[1] if pair else None,
    )


def stream_from_sdp(
    local_sdp: bytes | str,
    remote_sdp: bytes | str,
    *,
    sock: socket.socket | None = None,
    max_packets: int = MAX_PACKETS,
) -> MediaStream:
    """Return a :class:`MediaStream` for the agreed call, ready to :meth:`~MediaStream.start`.

    ``sock`` is the UDP socket whose port our SDP announced (it is
    duplicated, not taken over).  Without it, a socket is bound to the
    address and port of our own SDP's audio line.
    """
    plan = plan_media(local_sdp, remote_sdp)
    outbound, inbound = plan.contexts()
    if sock is None:
        description = SessionDescription.parse(local_sdp)
        audio = _audio(description, _("local"))
        connection = audio.connection or description.connection
        host = connection.address if connection is not None else "127.0.0.1"
        return MediaStream(plan.remote, payload_type=plan.payload_type, local=(host, audio.port),
                           outbound=outbound, inbound=inbound, max_packets=max_packets)
    return MediaStream(plan.remote, payload_type=plan.payload_type, sock=sock,
                       outbound=outbound, inbound=inbound, max_packets=max_packets)
