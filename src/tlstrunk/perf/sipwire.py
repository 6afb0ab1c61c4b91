"""The generator's SIP on the wire: stream framing, prebuilt requests, copied response heads.

The load generator must cost far less than the system it measures, so it
does not run the full parser of :mod:`tlstrunk.sip.message` (about 50 µs a
message). It frames stream bytes by ``Content-Length``, routes a message by
:func:`tlstrunk.sip.peek.peek_routing`, and reads the three headers a UAC
needs from a 2xx (To, Contact, Record-Route) with a line scan. Requests come
from byte templates filled with ``%``. Every message it builds is its own, so
the scan trusts their shape; a peer's malformed message fails the call that
it belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: Largest header block the framer accepts before it drops the connection.
MAX_HEAD = 16 * 1024
#: Largest body the framer accepts.
MAX_BODY = 64 * 1024

_URI_IN_BRACKETS = re.compile(rb"<([^>]*)>")
_COPIED = frozenset({b"via", b"v", b"from", b"f", b"to", b"t", b"call-id", b"i", b"cseq"})


class FramingError(Exception):
    """Raised when a stream carries a message the framer cannot delimit."""


class StreamFramer:
    """Splits a SIP byte stream into messages by the blank line and ``Content-Length``.

    Args:
        deliver: called with each whole message (head, blank line and body).
    """

    def __init__(self, deliver: Callable[[bytes], None]) -> None:
        self._deliver = deliver
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        """Add bytes from the stream and deliver every message they complete.

        Raises:
            FramingError: a header block or body is larger than the caps, or
                ``Content-Length`` is not a number.
        """
        buffer = self._buffer
        buffer += data
        while buffer:
            # keep-alive CRLFs between messages (RFC 5626 section 3.5.1) are skipped
            while buffer[:2] == b"\r\n":
                del buffer[:2]
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    raise FramingError(f"a header block is longer than {MAX_HEAD} bytes")
                return
            length = content_length(bytes(buffer[:end]))
            total = end + 4 + length
            if len(buffer) < total:
                return
            message = bytes(buffer[:total])
            del buffer[:total]
            self._deliver(message)


def content_length(head: bytes) -> int:
    """Return the ``Content-Length`` (or ``l``) value of a header block, 0 when absent.

    Raises:
        FramingError: the value is not a number or exceeds :data:`MAX_BODY`.
    """
    lowered = head.lower()
    start = lowered.find(b"\r\ncontent-length:")
    if start >= 0:
        start += 17
    else:
        start = lowered.find(b"\r\nl:")
        if start < 0:
            return 0
        start += 4
    stop = lowered.find(b"\r\n", start)
    value = head[start : stop if stop >= 0 else len(head)].strip()
    if not value.isdigit():
        raise FramingError(f"Content-Length {value!r} is not a number")
    length = int(value)
    if length > MAX_BODY:
        raise FramingError(f"a body of {length} bytes is larger than {MAX_BODY}")
    return length


def header_lines(message: bytes) -> list[bytes]:
    """Return the header lines of ``message``, without the start line."""
    end = message.find(b"\r\n\r\n")
    head = message[: end if end >= 0 else len(message)]
    return head.split(b"\r\n")[1:]


def header_name(line: bytes) -> bytes:
    """Return the lower-case name of a header line, empty for a continuation line."""
    name, _colon, _value = line.partition(b":")
    return name.strip().lower()


@dataclass(frozen=True)
class DialogTarget:
    """The To, Contact and route set that a UAC reads from a 2xx to build its ACK and BYE."""

    to: bytes
    contact: bytes | None
    #: The route set in the order the UAC puts it in Route: the reversed Record-Route.
    routes: tuple[bytes, ...]


def read_dialog_target(response: bytes) -> DialogTarget:
    """Read To, the Contact URI and the route set from a 2xx response."""
    to = b""
    contact: bytes | None = None
    record_route: list[bytes] = []
    for line in header_lines(response):
        name = header_name(line)
        value = line.partition(b":")[2].strip()
        if name in (b"to", b"t"):
            to = value
        elif name in (b"contact", b"m") and contact is None:
            found = _URI_IN_BRACKETS.search(value)
            contact = found.group(1) if found else value.split(b";", 1)[0]
        elif name == b"record-route":
            record_route.extend(b"<" + uri + b">" for uri in _URI_IN_BRACKETS.findall(value))
    return DialogTarget(to, contact, tuple(reversed(record_route)))


def response_head(
    request: bytes, status: int, reason: str, to_tag: bytes | None = None
) -> list[bytes]:
    """Return the status line and the headers a response copies from ``request`` (RFC 3261 8.2.6.2).

    Via, From, To, Call-ID and CSeq are copied, and Record-Route too, as a UAS
    must in a 2xx to INVITE (RFC 3261 12.1.1). ``to_tag`` is added to a To
    that has no tag yet.
    """
    lines = [b"SIP/2.0 %d %s" % (status, reason.encode())]
    for line in header_lines(request):
        name = header_name(line)
        if name in (b"to", b"t") and to_tag is not None and b";tag=" not in line.lower():
            lines.append(line + b";tag=" + to_tag)
        elif name in _COPIED or (name == b"record-route" and 200 <= status < 300):
            lines.append(line)
    return lines


def finish(lines: list[bytes], body: bytes = b"", content_type: bytes = b"") -> bytes:
    """Join header lines and a body into one message, adding Content-Type and -Length."""
    if body:
        lines = [*lines, b"Content-Type: " + content_type]
    lines = [*lines, b"Content-Length: %d" % len(body)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@dataclass(frozen=True)
class UacTemplates:
    """Byte templates of the UAC's requests for one connection.

    The transport is ``TCP`` or ``TLS``; the local host and port go into Via
    and Contact. The SDP offer points its audio at 0.0.0.0 with ``a=inactive``,
    so the far end sends no RTP and the benchmark measures signalling only.
    """

    invite: bytes
    ack: bytes
    bye: bytes
    ack_failed: bytes

    @classmethod
    def build(
        cls, *, transport: str, local: tuple[str, int], target: tuple[str, int], called: str
    ) -> UacTemplates:
        """Build the templates for calls from ``local`` to ``called`` at ``target``."""
        param = transport.lower()
        host, port = local
        sdp = (
            "v=0\r\n"
            f"o=bench 1 1 IN IP4 {host}\r\n"
            "s=bench\r\n"
            "c=IN IP4 0.0.0.0\r\n"
            "t=0 0\r\n"
            "m=audio 40000 RTP/AVP 0 8 101\r\n"
            "a=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:8 PCMA/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\n"
            "a=inactive\r\n"
        )
        via = f"Via: SIP/2.0/{transport} {host}:{port};branch=z9hG4bK%s;rport\r\n"
        from_ = f"From: <sip:bench@{host}>;tag=%s\r\n"
        invite = (
            f"INVITE sip:{called}@{target[0]}:{target[1]};transport={param} SIP/2.0\r\n"
            + via
            + "Max-Forwards: 70\r\n"
            + from_
            + f"To: <sip:{called}@{target[0]}>\r\n"
            "Call-ID: %s\r\n"
            "CSeq: 1 INVITE\r\n"
            f"Contact: <sip:bench@{host}:{port};transport={param}>\r\n"
            "Content-Type: application/sdp\r\n"
            f"Content-Length: {len(sdp)}\r\n\r\n" + sdp
        )

        def in_dialog(method: str, cseq: int) -> str:
            # request URI, Via branch, Route lines, From tag, To, Call-ID
            return (
                f"{method} %s SIP/2.0\r\n"
                + via
                + "Max-Forwards: 70\r\n%s"
                + from_
                + "To: %s\r\nCall-ID: %s\r\n"
                f"CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
            )

        return cls(
            invite=invite.encode(),
            ack=in_dialog("ACK", 1).encode(),
            bye=in_dialog("BYE", 2).encode(),
            ack_failed=(
                f"ACK sip:{called}@{target[0]}:{target[1]};transport={param} SIP/2.0\r\n"
                + via
                + "Max-Forwards: 70\r\n"
                + from_
                + "To: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
            ).encode(),
        )


def route_lines(routes: tuple[bytes, ...]) -> bytes:
    """Return the Route header line for a route set, empty for none."""
    if not routes:
        return b""
    return b"Route: " + b", ".join(routes) + b"\r\n"
