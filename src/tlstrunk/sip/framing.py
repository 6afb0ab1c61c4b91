"""Splitting a TCP or TLS byte stream into SIP messages (RFC 3261 section 18.3).

On a stream every message must carry Content-Length, which is the only way to
find where its body ends. Keep-alives follow RFC 5626 section 4.4.1: a double
CRLF between messages is a ping and a single CRLF is the pong.

A CRLF that arrives alone is held until the next byte tells whether it starts a
ping, so a ping that arrives byte by byte is one ping. A caller that sent a
ping calls ``expect_pong()``, and the next lone CRLF is then reported at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tlstrunk.i18n import _
from tlstrunk.sip.errors import FramingError, SipParseError, SipUsageError
from tlstrunk.sip.message import (
    Message,
    Request,
    Response,
    make_response,
    parse_head,
    parse_message,
)
from tlstrunk.sip.uri import SipUri

_HEAD_END_RE = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH_RE = re.compile(
    rb"^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE
)
_START_LINE_RE = re.compile(rb"[A-Za-z0-9\-.!%*_+`'~]+ [^ \r\n]+ SIP/|SIP/[0-9.]+ [0-9]{3}")


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A complete, valid message."""

    message: Message


@dataclass(frozen=True, slots=True)
class BadMessage:
    """A message that could be delimited but not parsed; the stream goes on after it."""

    data: bytes
    error: SipParseError

    @property
    def answerable(self) -> bool:
        """Whether an error response can be sent for this message."""
        return self.try_make_response() is not None

    def try_make_response(self) -> Response | None:
        """Build the error response for a bad request, if enough headers survive.

        From, To, Call-ID and CSeq are copied as received, so a value that does
        not parse (a Latin-1 display name, say) still gets its 400. Returns None
        for a bad response (it is discarded), when one of those headers is
        missing, or when the top Via, which routes the response, does not parse.
        """
        split = _HEAD_END_RE.search(self.data)
        head = self.data[: split.start()] if split else self.data
        try:
            start_line, headers = parse_head(head)
        except SipParseError:
            return None
        parts = start_line.split(" ")
        if start_line.startswith("SIP/") or len(parts) < 2:
            return None
        stub = Request(parts[0], SipUri("sip", None, "invalid"), headers)
        if any(headers.get(name) is None for name in ("From", "To", "Call-ID", "CSeq")):
            return None
        try:
            stub.top_via  # noqa: B018 - parsing checks that the response can be routed
        except (SipParseError, SipUsageError):
            return None
        return make_response(stub, self.error.status_code, self.error.reason)


@dataclass(frozen=True, slots=True)
class KeepAlivePing:
    """A double CRLF between messages; the transport replies with a single CRLF."""


@dataclass(frozen=True, slots=True)
class KeepAlivePong:
    """A single CRLF between messages."""


FramerEvent = MessageReceived | BadMessage | KeepAlivePing | KeepAlivePong


class StreamFramer:
    """Incremental splitter of a byte stream into framer events.

    Args:
        max_header_bytes: largest head (start line and headers) accepted.
        max_body_bytes: largest Content-Length accepted.

    ``feed`` raises ``FramingError`` when the stream cannot be split any more;
    the connection must then close, after a 513 response when the error's status is 513.
    """

    def __init__(self, max_header_bytes: int = 16384, max_body_bytes: int = 1_048_576) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer already searched for the end of the head
        self._pong_expected = False
        self._length_was_missing = False
        self._broken: FramingError | None = None
        self.messages = 0
        """Valid messages delivered so far."""
        self.bad_messages = 0
        """Delimited messages that failed to parse (answered or not)."""
        self.dropped = 0
        """Bad messages that cannot be answered (a bad response, or lost headers)."""

    def expect_pong(self) -> None:
        """Note that we sent a ping, so a lone CRLF is reported as a pong without waiting."""
        self._pong_expected = True

    def feed(self, data: bytes) -> list[FramerEvent]:
        """Add received bytes and return the events they complete.

        Raises:
            FramingError: when the stream cannot be framed; every later call raises it again.
        """
        if self._broken is not None:
            raise self._broken
        self._buffer += data
        events: list[FramerEvent] = []
        try:
            while True:
                event = self._next_event()
                if event is None:
                    return events
                self._count(event)
                events.append(event)
        except FramingError as error:
            self._broken = error
            raise

    def _count(self, event: FramerEvent) -> None:
        if isinstance(event, MessageReceived):
            self.messages += 1
        elif isinstance(event, BadMessage):
            self.bad_messages += 1
            if not event.answerable:
                self.dropped += 1

    def _next_event(self) -> FramerEvent | None:
        buffer = self._buffer
        if buffer[:1] == b"\r" or buffer[:1] == b"\n":
            return self._next_keepalive()
        if not buffer:
            return None
        if self._length_was_missing and not self._starts_message():
            return None
        match = _HEAD_END_RE.search(buffer, self._scanned)
        if match is None:
            if len(buffer) > self.max_header_bytes:
                raise self._too_large(_("The header block exceeds {limit} bytes.").format(
                    limit=self.max_header_bytes))
            self._scanned = max(0, len(buffer) - 3)
            return None
        if match.start() > self.max_header_bytes:
            raise self._too_large(_("The header block exceeds {limit} bytes.").format(
                limit=self.max_header_bytes))
        head = bytes(buffer[: match.start()])
        try:
            length = self._content_length(head)
        except FramingError as error:
            error.head = head
            raise
        if length is None:
            data = bytes(buffer[: match.end()])
            self._consume(match.end())
            self._length_was_missing = True
            return BadMessage(data, SipParseError(
                _("The message has no Content-Length header, which a stream requires."),
                400, "Missing Content-Length"))
        end = match.end() + length
        if len(buffer) < end:
            return None
        data = bytes(buffer[:end])
        self._consume(end)
        try:
            return MessageReceived(parse_message(data))
        except SipParseError as error:
            return BadMessage(data, error)

    def _consume(self, size: int) -> None:
        del self._buffer[:size]
        self._scanned = 0

    def _next_keepalive(self) -> FramerEvent | None:
        buffer = self._buffer
        if buffer.startswith(b"\r\n\r\n"):
            self._consume(4)
            return KeepAlivePing()
        if buffer.startswith(b"\r\n"):
            if len(buffer) == 2 and not self._pong_expected:
                return None  # the next byte decides between a pong and the start of a ping
            if buffer[2:3] == b"\r" and len(buffer) < 4:
                return None  # maybe a ping still arriving
            self._consume(2)
            self._pong_expected = False
            return KeepAlivePong()
        if buffer == b"\r":
            return None
        self._consume(1)  # a stray CR or LF between messages carries no meaning
        return self._next_event()

    def _starts_message(self) -> bool:
        """Check, after a message without Content-Length, that a new message follows.

        Returns False while too few bytes arrived to tell. Raises ``FramingError``
        when the bytes look like a leftover body.
        """
        buffer = self._buffer
        if b"\n" not in buffer[:256] and len(buffer) < 256:
            return False
        if not _START_LINE_RE.match(buffer):
            raise FramingError(
                _("A message without Content-Length was followed by data that does not start "
                  "a new message, so the stream cannot be split."),
                400, "Missing Content-Length")
        self._length_was_missing = False
        return True

    def _content_length(self, head: bytes) -> int | None:
        values = _CONTENT_LENGTH_RE.findall(head)
        if not values:
            return None
        if len(set(values)) > 1:
            raise FramingError(
                _("The message has conflicting Content-Length headers, so the stream cannot "
                  "be split."), 400, "Conflicting Content-Length")
        text = values[0]
        if not text.isdigit():
            raise FramingError(
                _("Content-Length {value!r} is not a non-negative integer, so the stream "
                  "cannot be split.").format(value=text.decode("latin-1")),
                400, "Invalid Content-Length")
        length = int(text)
        if length > self.max_body_bytes:
            raise self._too_large(_("The body of {length} bytes exceeds {limit} bytes.").format(
                length=length, limit=self.max_body_bytes))
        return length

    @staticmethod
    def _too_large(message: str) -> FramingError:
        return FramingError(message, 513, "Message Too Large")

