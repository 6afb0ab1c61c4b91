"""SIP over a TLS or TCP byte stream: one asyncio protocol per connection.

The protocol only moves bytes.  It feeds what arrives to the sans-IO
:class:`~tlstrunk.sip.framing.StreamFramer`, hands whole messages to the
owner's callback, answers CRLF keep-alive pings, and closes a stream that can
no longer be framed.  Connections are checked by an acceptance callback after
the TLS handshake and before any SIP is read from them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

from tlstrunk.observe.trace import TraceWriter
from tlstrunk.sip.errors import FramingError
from tlstrunk.sip.framing import (
    BadMessage,
    KeepAlivePing,
    KeepAlivePong,
    MessageReceived,
    StreamFramer,
)
from tlstrunk.sip.message import Message, Request

logger = logging.getLogger(__name__)

_connection_ids = itertools.count(1)

Address = tuple[str, int]


class SipChannel(Protocol):
    """Path to a peer as the transaction layer and the B2BUA use it.

    A TLS or TCP :class:`SipConnection` and a UDP channel both provide it.
    """

    id: int
    direction: str
    local: Address
    remote: Address
    transport: str
    trunk_name: str | None
    phone_listener: bool
    close_reason: str | None

    @property
    def tls(self) -> TlsSessionInfo | None: ...

    @property
    def reliable(self) -> bool: ...

    @property
    def is_open(self) -> bool: ...

    def send(self, message: Message) -> None: ...

    def close(self, reason: str) -> None: ...


@dataclass(frozen=True)
class TlsSessionInfo:
    """TLS version, cipher and peer certificate of one connection."""

    version: str
    cipher: str
    peer_certificate_der: bytes | None


class SipConnection(asyncio.Protocol):
    """One SIP-over-TLS connection, inbound or outbound.

    Args:
        direction: ``"inbound"`` or ``"outbound"``, for traces.
        on_message: called with each parsed message, once the connection is accepted.
        on_closed: called once when the connection ends, with the error if any.
        trace: the node's trace writer.
    """

    def __init__(
        self,
        *,
        direction: str,
        on_message: Callable[[SipConnection, Message], None],
        on_closed: Callable[[SipConnection, BaseException | None], None],
        trace: TraceWriter,
    ) -> None:
        self.id = next(_connection_ids)
        self.direction = direction
        self.local: Address = ("", 0)
        self.remote: Address = ("", 0)
        self.tls: TlsSessionInfo | None = None
        self.trunk_name: str | None = None
        #: Whether the connection arrived on the node's phone port rather than a trunk's.
        self.phone_listener = False
        self.close_reason: str | None = None
        #: "TLS" or "TCP", set by the code that opens or accepts the connection.
        self.transport = "TLS"
        self._on_message = on_message
        self._on_closed = on_closed
        self._trace = trace
        self._framer = StreamFramer()
        self._transport: asyncio.Transport | None = None
        self._accepted = False
        self._early_data = bytearray()
        self._closed = False

    # -- asyncio callbacks ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        sockname = transport.get_extra_info("sockname")
        peername = transport.get_extra_info("peername")
        self.local = (str(sockname[0]), int(sockname[1]))
        self.remote = (str(peername[0]), int(peername[1]))
        ssl_object = transport.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject):
            cipher = ssl_object.cipher()
            self.tls = TlsSessionInfo(
                version=ssl_object.version() or "unknown",
                cipher=cipher[0] if cipher else "unknown",
                peer_certificate_der=ssl_object.getpeercert(binary_form=True),
            )

    def data_received(self, data: bytes) -> None:
        if not self._accepted:
            # TLS may hand over application data before the acceptance check ran.
            self._early_data += data
            return
        self._feed(data)

    def eof_received(self) -> bool | None:
        if self.close_reason is None:
            self.close_reason = "closed by the peer"
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        if exc is not None and self.close_reason is None:
            self.close_reason = str(exc)
        self._trace.info(
            "SIPTcp",
            "Connection %d to %s:%d closed: %s",
            self.id,
            self.remote[0],
            self.remote[1],
            self.close_reason or "closed locally",
            connection=self.id,
        )
        self._on_closed(self, exc)

    # -- owner API --------------------------------------------------------

    @property
    def reliable(self) -> bool:
        """Streams deliver in order without loss, so transactions never retransmit."""
        return True

    @property
    def is_open(self) -> bool:
        """Whether the connection can still carry messages."""
        return not self._closed and self._transport is not None and not self._transport.is_closing()

    def accept(self) -> None:
        """Start reading SIP from the connection once the acceptance check passed."""
        self._accepted = True
        if self._early_data:
            data = bytes(self._early_data)
            self._early_data.clear()
            self._feed(data)

    def send(self, message: Message) -> None:
        """Serialize ``message`` and write it to the connection."""
        if not self.is_open or self._transport is None:
            raise ConnectionError(
                f"connection {self.id} to {self.remote[0]}:{self.remote[1]} is closed"
            )
        data = message.to_bytes()
        if self._trace.enabled:
            self._trace.detailed(
                "SIPTcp",
                "//SIP/SIPHandler/ccbId=0/scbId=0/SIPTcp - wait_SdlSPISignal: Outgoing SIP TCP "
                "message to %s on port %d index %d\n%s",
                self.remote[0],
                self.remote[1],
                self.id,
                data.decode("utf-8", "replace"),
                connection=self.id,
                call_id=message.call_id,
            )
        self._transport.write(data)

    def close(self, reason: str) -> None:
        """Close the connection, recording ``reason`` for traces and reports."""
        if self.close_reason is None:
            self.close_reason = reason
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self, reason: str) -> None:
        """Drop the connection at once, without a TLS close_notify."""
        if self.close_reason is None:
            self.close_reason = reason
        if self._transport is not None:
            self._transport.abort()

    # -- internals --------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        try:
            events = self._framer.feed(data)
        except FramingError as exc:
            self._trace.error(
                "SIPTcp",
                "Connection %d from %s:%d cannot be framed (%s); closing it",
                self.id,
                self.remote[0],
                self.remote[1],
                exc.reason,
                connection=self.id,
            )
            if exc.head is not None:
                # The header block arrived whole, so the request gets its 513 or 400 first.
                self._answer_bad_message(BadMessage(exc.head + b"\r\n\r\n", exc))
            self.close(f"unframeable stream: {exc.reason}")
            return
        for event in events:
            if isinstance(event, MessageReceived):
                self._deliver(event.message)
            elif isinstance(event, KeepAlivePing):
                if self._transport is not None:
                    self._transport.write(b"\r\n")
            elif isinstance(event, KeepAlivePong):
                continue
            elif isinstance(event, BadMessage):
                self._answer_bad_message(event)

    def _deliver(self, message: Message) -> None:
        if self._trace.enabled:
            self._trace.detailed(
                "SIPTcp",
                "//SIP/SIPHandler/ccbId=0/scbId=0/SIPTcp - wait_SdlReadRsp: Incoming SIP TCP "
                "message from %s on port %d index %d\n%s",
                self.remote[0],
                self.remote[1],
                self.id,
                message.to_bytes().decode("utf-8", "replace"),
                connection=self.id,
                call_id=message.call_id,
            )
        try:
            self._on_message(self, message)
        except Exception:
            logger.exception("connection %d: handling a SIP message failed", self.id)

    def _answer_bad_message(self, event: BadMessage) -> None:
        self._trace.warning(
            "SIPTcp",
            "Invalid SIP message from %s:%d on connection %d: %s (status %d)",
            self.remote[0],
            self.remote[1],
            self.id,
            event.error.reason,
            event.error.status_code,
            connection=self.id,
        )
        response = event.try_make_response()
        if response is not None and self.is_open and self._transport is not None:
            self._transport.write(response.to_bytes())


def is_request(message: Message) -> bool:
    """Return whether ``message`` is a request."""
    return isinstance(message, Request)
