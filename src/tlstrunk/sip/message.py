"""SIP requests and responses: parsing, validation and serialisation (RFC 3261 section 7).

Header values stay raw text in ``Headers``; the structured views (``cseq``,
``from_``, ``to``, ``top_via``) are parsed on access. The head is decoded as
UTF-8 with ``surrogateescape``, so bytes that are not UTF-8 survive a round
trip, and the checks that need valid UTF-8 (display names, reason phrases)
look for the escaped surrogates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tlstrunk.i18n import _
from tlstrunk.sip.address import CSeq, NameAddress, Via
from tlstrunk.sip.errors import SipParseError, SipUsageError
from tlstrunk.sip.headers import Headers, canonical_name
from tlstrunk.sip.uri import SipUri

SIP_VERSION = "SIP/2.0"
SUPPORTED_REQUEST_SCHEMES = frozenset(("sip", "sips", "tel"))

# Header fields that a message may carry at most once.
SINGLE_HEADERS = (
    "Call-ID", "CSeq", "From", "To", "Max-Forwards", "Content-Length", "Content-Type", "Date",
    "Expires",
)
MANDATORY_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")

_METHOD_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
_HEADER_NAME_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
_SURROGATE_RE = re.compile("[\udc80-\udcff]")
# rfc1123-date of RFC 3261 section 25.1: the only time zone allowed is GMT.
_DATE_RE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    r"[0-9]{2}:[0-9]{2}:[0-9]{2} GMT\Z"
)

REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 300: "Multiple Choices",
    301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized",
    402: "Payment Required", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout",
    410: "Gone", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    491: "Request Pending", 493: "Undecipherable", 500: "Server Internal Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}


def _header(headers: Headers, name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise SipUsageError(_("The message has no {name} header.").format(name=name))
    return value


class _MessageViews:
    """Structured views shared by requests and responses."""

    headers: Headers

    @property
    def call_id(self) -> str:
        """The Call-ID value."""
        return _header(self.headers, "Call-ID")

    @property
    def cseq(self) -> CSeq:
        """The parsed CSeq header."""
        return CSeq.parse(_header(self.headers, "CSeq"))

    @property
    def from_(self) -> NameAddress:
        """The parsed From header."""
        return NameAddress.parse(_header(self.headers, "From"), "From")

    @property
    def to(self) -> NameAddress:
        """The parsed To header."""
        return NameAddress.parse(_header(self.headers, "To"), "To")

    @property
    def top_via(self) -> Via:
        """The first Via value."""
        vias = self.headers.get_all("Via")
        if not vias:
            raise SipUsageError(_("The message has no Via header."))
        return Via.parse(vias[0])

    @property
    def branch(self) -> str | None:
        """The top Via's branch parameter."""
        return self.top_via.branch

    @property
    def max_forwards(self) -> int:
        """The Max-Forwards value; 70, the RFC 3261 default, when missing or not a number."""
        value = self.headers.get("Max-Forwards")
        if value is None or not value.strip().isdigit():
            return 70
        return int(value)

    def _head_lines(self, start_line: str, body: bytes) -> bytes:
        lines = [start_line]
        length_written = False
        for name, value in self.headers:
            if name == "Content-Length":
                if length_written:
                    continue
                value = str(len(body))
                length_written = True
            lines.append(f"{name}: {value}")
        if not length_written:
            lines.append(f"Content-Length: {len(body)}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + body


@dataclass(eq=True)
class Request(_MessageViews):
    """A SIP request."""

    method: str
    uri: SipUri
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = SIP_VERSION

    def to_bytes(self) -> bytes:
        """Serialise the request, writing Content-Length from the body's byte length."""
        return self._head_lines(f"{self.method} {self.uri} {self.version}", self.body)


@dataclass(eq=True)
class Response(_MessageViews):
    """A SIP response."""

    status_code: int
    reason: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = SIP_VERSION

    def to_bytes(self) -> bytes:
        """Serialise the response, writing Content-Length from the body's byte length."""
        return self._head_lines(f"{self.version} {self.status_code} {self.reason}", self.body)


Message = Request | Response


def split_head(data: bytes) -> tuple[bytes, bytes] | None:
    """Split a message into head and the bytes after the empty line.

    Leading CRLFs are skipped (RFC 3261 section 7.5). Lines may end in CRLF or a
    bare LF. Data that ends with a complete header line but no empty line is all
    head; data cut inside a line returns None.
    """
    data = data.lstrip(b"\r\n")
    index = data.find(b"\r\n\r\n")
    bare = data.find(b"\n\n")
    if index >= 0 and (bare < 0 or index < bare):
        return data[:index], data[index + 4 :]
    if bare >= 0:
        return data[:bare], data[bare + 2 :]
    if data.endswith(b"\n"):
        # A datagram whose last header line ends without the empty line: no body.
        return data.rstrip(b"\r\n"), b""
    return None


def parse_head(head: bytes) -> tuple[str, Headers]:
    """Parse the start line and header fields, undoing line folding.

    Raises:
        SipParseError: (400) for an empty head or a malformed header line.
    """
    text = head.decode("utf-8", "surrogateescape")
    lines = text.replace("\r\n", "\n").split("\n")
    start_line = lines[0]
    if not start_line:
        raise SipParseError(_("The message has no start line."), 400, "Missing Start Line")
    fields: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            if not fields:
                raise SipParseError(
                    _("The first header line {line!r} starts with whitespace.").format(line=line),
                    400, "Malformed Header Line")
            name, value = fields[-1]
            fields[-1] = (name, (value + " " + line.strip(" \t")).strip(" \t"))
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not _HEADER_NAME_RE.match(name):
            raise SipParseError(
                _("The header line {line!r} is not 'Name: value'.").format(line=line),
                400, "Malformed Header Line")
        fields.append((name, value.strip(" \t")))
    return start_line, Headers(fields)


def parse_message(data: bytes, *, reject_unknown_schemes: bool = True) -> Message:
    """Parse one whole message, such as a UDP datagram, and validate it.

    Octets beyond Content-Length are discarded (RFC 3261 section 18.3). Without
    Content-Length the rest of the data is the body, as allowed for datagrams.

    Args:
        data: the message bytes.
        reject_unknown_schemes: raise 416 for a Request-URI whose scheme is not
            sip, sips or tel. Pass False to parse such a request anyway, e.g. to
            report on it.

    Raises:
        SipParseError: with the response status (400, 416 or 505) and a reason.
    """
    parts = split_head(data)
    if parts is None:
        raise SipParseError(
            _("The message has no empty line after its header fields; it may be truncated."),
            400, "Truncated Message")
    head, rest = parts
    start_line, headers = parse_head(head)
    length = content_length(headers)
    if length is None:
        body = rest
    elif length > len(rest):
        raise SipParseError(
            _("Content-Length is {length} but only {size} body bytes follow.").format(
                length=length, size=len(rest)),
            400, "Content-Length Larger Than Message")
    else:
        body = rest[:length]
    message = _parse_start_line(start_line, headers, body, reject_unknown_schemes)
    validate_headers(message)
    return message


def content_length(headers: Headers) -> int | None:
    """Return the validated Content-Length, or None when the header is absent.

    Raises:
        SipParseError: (400) for a repeated or non-numeric Content-Length.
    """
    values = [value for name, value in headers if name == "Content-Length"]
    if not values:
        return None
    if len(values) > 1:
        raise SipParseError(_("The message has {count} Content-Length headers.").format(
            count=len(values)), 400, "Duplicate Content-Length")
    if not values[0].isdigit() or not values[0].isascii():
        raise SipParseError(
            _("Content-Length {value!r} is not a non-negative integer.").format(value=values[0]),
            400, "Invalid Content-Length")
    return int(values[0])


def _parse_start_line(
    start_line: str, headers: Headers, body: bytes, reject_unknown_schemes: bool = True,
) -> Message:
    if start_line.startswith("SIP/"):
        return _parse_status_line(start_line, headers, body)
    parts = start_line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise SipParseError(
            _("The request line {line!r} is not 'METHOD URI SIP/2.0' with single spaces.").format(
                line=start_line), 400, "Malformed Request-Line")
    method, uri_text, version = parts
    if not _METHOD_RE.match(method):
        raise SipParseError(_("The method {method!r} is not a token.").format(method=method),
                            400, "Invalid Method")
    if version != SIP_VERSION:
        raise SipParseError(
            _("The SIP version {version!r} is not supported; only SIP/2.0 is.").format(
                version=version), 505, "Version Not Supported")
    uri = SipUri.parse(uri_text)
    if reject_unknown_schemes and uri.scheme not in SUPPORTED_REQUEST_SCHEMES:
        raise SipParseError(
            _("The Request-URI scheme {scheme!r} is not supported; use sip, sips or tel.").format(
                scheme=uri.scheme), 416, "Unsupported URI Scheme")
    if uri.headers:
        raise SipParseError(
            _("The Request-URI {uri!r} carries URI headers, which a Request-URI must not.").format(
                uri=uri_text), 400, "Headers In Request-URI")
    return Request(method, uri, headers, body)


def _parse_status_line(start_line: str, headers: Headers, body: bytes) -> Response:
    version, _space, rest = start_line.partition(" ")
    if version != SIP_VERSION:
        raise SipParseError(
            _("The SIP version {version!r} is not supported; only SIP/2.0 is.").format(
                version=version), 505, "Version Not Supported")
    code_text, _space, reason = rest.partition(" ")
    if len(code_text) != 3 or not code_text.isdigit() or not "100" <= code_text <= "699":
        raise SipParseError(
            _("The status code {code!r} is not a number from 100 to 699.").format(code=code_text),
            400, "Invalid Status Code")
    if _SURROGATE_RE.search(reason):
        raise SipParseError(_("The reason phrase is not valid UTF-8."), 400, "Invalid Reason")
    return Response(int(code_text), reason, headers, body)


def validate_headers(message: Message) -> None:
    """Check the header fields every message needs (RFC 3261 sections 8.1.1 and 20).

    Raises:
        SipParseError: (400) naming the missing, repeated or malformed header.
    """
    headers = message.headers
    for name in MANDATORY_HEADERS:
        if name not in headers:
            raise SipParseError(_("The mandatory {name} header is missing.").format(name=name),
                                400, f"Missing {name}")
    for name in SINGLE_HEADERS:
        if headers.count(name) > 1:
            raise SipParseError(_("The {name} header appears more than once.").format(name=name),
                                400, f"Duplicate {name}")
    if not headers.get_all("Via"):
        raise SipParseError(_("The Via header is empty."), 400, "Missing Via")
    message.top_via  # noqa: B018 - parsing validates the top Via
    message.from_  # noqa: B018
    message.to  # noqa: B018
    for contact in headers.get_all("Contact"):
        if contact != "*":
            NameAddress.parse(contact, "Contact")
    cseq = message.cseq
    date = headers.get("Date")
    if date is not None and not _DATE_RE.match(date):
        raise SipParseError(
            _("The Date {value!r} is not an RFC 1123 date in GMT such as "
              "'Sat, 13 Nov 2010 23:29:00 GMT'.").format(value=date), 400, "Invalid Date")
    if isinstance(message, Request):
        if cseq.method != message.method:
            raise SipParseError(
                _("The CSeq method {cseq!r} differs from the request method {method!r}.").format(
                    cseq=cseq.method, method=message.method), 400, "CSeq Method Mismatch")
        max_forwards = headers.get("Max-Forwards")
        if max_forwards is not None and (
            not max_forwards.isdigit() or not max_forwards.isascii() or int(max_forwards) > 255
        ):
            raise SipParseError(
                _("Max-Forwards {value!r} is not a number from 0 to 255.").format(
                    value=max_forwards), 400, "Invalid Max-Forwards")


def make_response(
    request: Request,
    status_code: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> Response:
    """Build a response to ``request`` as RFC 3261 section 8.2.6 prescribes.

    Via (every value, in order), From, Call-ID and CSeq are copied; To is copied
    and gets ``to_tag`` unless it already has a tag. A dialog-creating response
    (1xx other than 100, or 2xx, to INVITE or SUBSCRIBE) also copies Record-Route
    (RFC 3261 section 12.1.1).
    """
    if not 100 <= status_code <= 699:
        raise SipUsageError(
            _("Status code {code} is outside 100-699.").format(code=status_code))
    headers = Headers()
    for name, value in request.headers:
        if name in ("Via", "From", "Call-ID", "CSeq"):
            headers.add(name, value)
        elif name == "To":
            if to_tag is not None and request.to.tag is None:
                value = f"{value};tag={to_tag}"
            headers.add(name, value)
        elif (
            name == "Record-Route"
            and 100 < status_code < 300
            and request.method in ("INVITE", "SUBSCRIBE")
        ):
            headers.add(name, value)
    if content_type is not None:
        headers.add("Content-Type", content_type)
    if reason is None:
        reason = REASON_PHRASES.get(status_code, "")
    return Response(status_code, reason, headers, body)


__all__ = [
    "REASON_PHRASES", "Message", "Request", "Response", "canonical_name", "content_length",
    "make_response", "parse_head", "parse_message", "split_head", "validate_headers",
]
