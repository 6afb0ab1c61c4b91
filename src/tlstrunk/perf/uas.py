"""The load generator's UAS: answers every INVITE with 100, 180 and 200, and every BYE with 200.

It listens on TCP or TLS (the TLS listener demands a client certificate, as
a trunk peer does). It answers at once and builds each response from the
request alone, so it holds no state per call.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import ssl
from dataclasses import dataclass
from typing import cast

from tlstrunk.perf.sipwire import FramingError, StreamFramer, finish, response_head

logger = logging.getLogger(__name__)

_ANSWER_SDP = (
    b"v=0\r\no=uas 1 1 IN IP4 0.0.0.0\r\ns=bench\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    b"m=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=inactive\r\n"
)


@dataclass
class UasCounters:
    """Requests the UAS received, by method, and the INVITEs it answered."""

    invites: int = 0
    acks: int = 0
    byes: int = 0
    other: int = 0
    answered: int = 0
    connections: int = 0


class _UasConnection(asyncio.Protocol):
    def __init__(self, uas: Uas) -> None:
        self._uas = uas
        self._framer = StreamFramer(self._on_message)
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self._transport = cast(asyncio.Transport, transport)
        self._uas.counters.connections += 1

    def data_received(self, data: bytes) -> None:
        try:
            self._framer.feed(data)
        except FramingError as exc:
            logger.warning("closing a UAS connection: %s", exc)
            assert self._transport is not None
            self._transport.close()

    def _on_message(self, message: bytes) -> None:
        if message.startswith(b"SIP/2.0 "):
            return
        assert self._transport is not None
        reply = self._uas.answer(message)
        if reply:
            self._transport.write(reply)


class Uas:
    """Answers calls on one listening socket.

    Args:
        contact: the host and port put in the 2xx Contact, where in-dialog
            requests are sent.
        transport: ``"TCP"`` or ``"TLS"``.
    """

    def __init__(self, contact: tuple[str, int], transport: str = "TCP") -> None:
        self.counters = UasCounters()
        param = transport.lower()
        self._contact = b"Contact: <sip:uas@%s:%d;transport=%s>" % (
            contact[0].encode(),
            contact[1],
            param.encode(),
        )
        self._tags = itertools.count(1)

    def answer(self, request: bytes) -> bytes:
        """Return the responses to ``request`` as bytes to write, empty for an ACK."""
        method = request[: request.find(b" ")]
        counters = self.counters
        if method == b"INVITE":
            counters.invites += 1
            counters.answered += 1
            tag = b"u%d" % next(self._tags)
            trying = finish(response_head(request, 100, "Trying"))
            ringing = finish(response_head(request, 180, "Ringing", tag))
            ok_lines = response_head(request, 200, "OK", tag)
            ok_lines.append(self._contact)
            ok = finish(ok_lines, _ANSWER_SDP, b"application/sdp")
            return trying + ringing + ok
        if method == b"ACK":
            counters.acks += 1
            return b""
        if method == b"BYE":
            counters.byes += 1
        else:
            counters.other += 1
        return finish(response_head(request, 200, "OK"))


async def start_uas(
    address: str, port: int, transport: str = "TCP", context: ssl.SSLContext | None = None
) -> tuple[Uas, asyncio.Server]:
    """Listen on ``address``:``port`` and answer calls; return the UAS and its server.

    Port 0 picks a free port; the Contact then carries the port chosen.
    """
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind((address, port))
    uas = Uas((address, int(listening.getsockname()[1])), transport)
    server = await asyncio.get_running_loop().create_server(
        lambda: _UasConnection(uas),
        sock=listening,
        ssl=context if transport == "TLS" else None,
        backlog=512,
    )
    return uas, server
