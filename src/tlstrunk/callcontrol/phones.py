"""Virtual phones: directory numbers that offer, answer and send audio on their own.

A virtual phone builds the SDP a desk phone would send: G.711 mu-law and
A-law plus telephone-event, on a real UDP port it holds for its calls.  It
offers RTP/SAVP with SDES keys only when the call's signalling may carry
keys; it answers an offer with keys only under the same condition, and
refuses (488) an offer that insists on SRTP when it may not send keys.
Once a call is up, :meth:`VirtualPhone.start_media` sends a tone as RTP or
SRTP and counts what comes back.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from dataclasses import asdict, dataclass
from typing import Any

from tlstrunk.i18n import _
from tlstrunk.media.call import stream_from_sdp
from tlstrunk.media.rtp import MAX_DURATION, MediaStream
from tlstrunk.media.sdes import (
    answer_crypto,
    choose_crypto,
    offer_crypto,
    parse_crypto_lines,
    suite_by_name,
)
from tlstrunk.media.srtp import SrtpError
from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.sdp import (
    Attribute,
    Connection,
    CryptoAttribute,
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
        """Return an SDP offer, with SDES keys on RTP/SAVP when ``srtp`` is true."""
        if srtp:
            return self._session(self._audio("RTP/SAVP", AUDIO_FORMATS, offer_crypto()))
        return self._session(self._audio("RTP/AVP", AUDIO_FORMATS, []))

    def make_answer(self, offer: bytes, *, srtp: bool) -> MediaAnswer:
        """Answer ``offer``; raises :class:`MediaRejected` when no answer is possible."""
        try:
            description = SessionDescription.parse(offer)
        except SipParseError as exc:
            raise MediaRejected(_("The SDP offer is invalid: {error}").format(error=exc)) from exc
        audio = next((m for m in description.media if m.media == "audio" and m.port), None)
        if audio is None:
            raise MediaRejected(_("The SDP offer has no audio stream."))
        formats = tuple(fmt for fmt in audio.formats if fmt in RTPMAPS)
        if not any(fmt in ("0", "8") for fmt in formats):
            raise MediaRejected(_("The SDP offer has neither PCMU nor PCMA."))
        offered, skipped = parse_crypto_lines(audio)
        chosen = choose_crypto(offered) if srtp else None
        if chosen is not None:
            line = answer_crypto(chosen)
            body = self._session(self._audio(audio.proto, formats, [line]))
            return MediaAnswer(body, chosen.suite)
        if audio.proto == "RTP/SAVP":
            if srtp:
                reasons = "; ".join(skipped) or _("no crypto line")
                raise MediaRejected(
                    _("The offer requires SRTP but no crypto line is usable: {reasons}").format(
                        reasons=reasons
                    )
                )
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
        except SipParseError:
            return None
        for media in description.media:
            lines, _skipped = parse_crypto_lines(media)
            for line in lines:
                if suite_by_name(line.suite) is not None:
                    return line.suite
        return None

    async def start_media(self, local_sdp: bytes, remote_sdp: bytes) -> CallMedia | None:
        """Start sending a tone to the peer and counting its packets, for up to a minute.

        Returns ``None`` when the two SDPs agree on no usable stream.
        """
        try:
            stream = stream_from_sdp(local_sdp, remote_sdp, sock=self._socket)
            await stream.open()
        except (SipParseError, SrtpError, ValueError, OSError):
            return None
        media = CallMedia(stream)
        media.task = asyncio.get_running_loop().create_task(stream.start(MAX_DURATION))
        return media


class CallMedia:
    """The RTP or SRTP stream of one call leg while the call is up."""

    def __init__(self, stream: MediaStream) -> None:
        self.stream = stream
        self.task: asyncio.Task[Any] | None = None

    def stop(self) -> dict[str, Any]:
        """Stop sending and receiving; return the packet counts."""
        if self.task is not None:
            self.task.cancel()
        stats = asdict(self.stream.stats())
        self.stream.close()
        return stats
