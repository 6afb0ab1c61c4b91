"""Virtual phones: directory numbers that offer and answer audio on their own.

A virtual phone builds the SDP a desk phone would send: G.711 mu-law and
A-law plus telephone-event, on a real UDP port it holds for its calls.  It
offers RTP/SAVP with an SDES key only when the call's signalling may carry
keys; it answers an offer with keys only under the same condition, and
refuses (488) an offer that insists on SRTP when it may not send keys.
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass

from tlstrunk.i18n import _
from tlstrunk.media.sdes import SUITES, new_master_key, suite_by_name
from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.sdp import (
    Attribute,
    Connection,
    CryptoAttribute,
    KeyParam,
    MediaDescription,
    Origin,
    SessionDescription,
)

#: RTP payload types offered: PCMU, PCMA, telephone-event.
AUDIO_FORMATS = ("0", "8", "101")
RTPMAPS = {"0": "PCMU/8000", "8": "PCMA/8000", "101": "telephone-event/8000"}


class MediaRejected(Exception):
    """Raised when an offer cannot be answered; the INVITE gets 488 Not Acceptable Here."""


@dataclass(frozen=True)
class MediaAnswer:
    """An SDP answer and the SRTP suite it agreed on (``None`` for plain RTP)."""

    body: bytes
    srtp_suite: str | None


class VirtualPhone:
    """The media side of one directory number on a node."""

    def __init__(self, number: str, address: str) -> None:
        self.number = number
        self.address = address
        self._session_id = secrets.randbelow(2**31)
        self._version = 0
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((address, 0))
        self.rtp_port = int(self._socket.getsockname()[1])

    def close(self) -> None:
        """Release the phone's RTP port."""
        self._socket.close()

    def _session(self, media: MediaDescription) -> bytes:
        self._version += 1
        origin = Origin(
            self.number, str(self._session_id), str(self._version), "IN", "IP4", self.address
        )
        description = SessionDescription(
            origin=origin,
            session_name="tlstrunk",
            connection=Connection("IN", "IP4", self.address),
            media=[media],
        )
        return description.to_bytes()

    def _audio(
        self, proto: str, formats: tuple[str, ...], crypto: list[CryptoAttribute]
    ) -> MediaDescription:
        attributes = [line.to_attribute() for line in crypto]
        attributes += [Attribute("rtpmap", f"{fmt} {RTPMAPS[fmt]}") for fmt in formats]
        if "101" in formats:
            attributes.append(Attribute("fmtp", "101 0-15"))
        attributes += [Attribute("ptime", "20"), Attribute("sendrecv")]
        return MediaDescription("audio", self.rtp_port, proto, list(formats), attributes=attributes)

    def make_offer(self, *, srtp: bool) -> bytes:
        """Return an SDP offer, with an SDES key on RTP/SAVP when ``srtp`` is true."""
        if srtp:
            suite = SUITES[0]
            crypto = [CryptoAttribute(1, suite.name, (KeyParam(new_master_key(suite)),))]
            return self._session(self._audio("RTP/SAVP", AUDIO_FORMATS, crypto))
        return self._session(self._audio("RTP/AVP", AUDIO_FORMATS, []))

    def make_answer(self, offer: bytes, *, srtp: bool) -> MediaAnswer:
        """Answer ``offer``; raises :class:`MediaRejected` when no answer is possible."""
        try:
            description = SessionDescription.parse(offer)
            audio = next((m for m in description.media if m.media == "audio" and m.port), None)
            offered = audio.crypto() if audio is not None else []
        except SipParseError as exc:
            raise MediaRejected(_("The SDP offer is invalid: {error}").format(error=exc)) from exc
        if audio is None:
            raise MediaRejected(_("The SDP offer has no audio stream."))
        formats = tuple(fmt for fmt in audio.formats if fmt in RTPMAPS)
        if not any(fmt in ("0", "8") for fmt in formats):
            raise MediaRejected(_("The SDP offer has neither PCMU nor PCMA."))
        chosen = next((line for line in offered if suite_by_name(line.suite) is not None), None)
        if srtp and chosen is not None:
            suite = suite_by_name(chosen.suite)
            assert suite is not None
            crypto = [CryptoAttribute(chosen.tag, suite.name, (KeyParam(new_master_key(suite)),))]
            body = self._session(self._audio(audio.proto, formats, crypto))
            return MediaAnswer(body, suite.name)
        if audio.proto == "RTP/SAVP":
            if srtp:
                raise MediaRejected(_("The offer requires SRTP with no supported crypto suite."))
            raise MediaRejected(
                _("The offer requires SRTP but this trunk may not carry SRTP keys.")
            )
        return MediaAnswer(self._session(self._audio(audio.proto, formats, [])), None)

    @staticmethod
    def accept_answer(answer: bytes) -> str | None:
        """Return the SRTP suite an answer agreed on, or ``None`` for plain RTP."""
        if not answer:
            return None
        try:
            description = SessionDescription.parse(answer)
            for media in description.media:
                for line in media.crypto():
                    if suite_by_name(line.suite) is not None:
                        return line.suite
        except SipParseError:
            return None
        return None
