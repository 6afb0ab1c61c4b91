"""Structured header values: name-addr (From, To, Contact, Route), Via and CSeq.

Each class parses the raw header text that ``Headers`` stores and serialises
back to a canonical form (RFC 3261 section 20 and the grammar in section 25).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import replace as dataclass_replace

from tlstrunk.i18n import _
from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.uri import Params, SipUri, format_params, split_host_port

_TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
_TOKEN_RE = re.compile(f"[{_TOKEN_CHARS}]+\\Z")
_DISPLAY_TOKENS_RE = re.compile(f"[{_TOKEN_CHARS}]+(?:[ \\t]+[{_TOKEN_CHARS}]+)*\\Z")
_VIA_RE = re.compile(
    f"([{_TOKEN_CHARS}]+)[ \\t]*/[ \\t]*([{_TOKEN_CHARS}]+)[ \\t]*/[ \\t]*([{_TOKEN_CHARS}]+)"
    r"[ \t]+(\[[^\]]*\]|[^;:\s]+)(?:[ \t]*:[ \t]*([0-9]+))?[ \t]*(?:;(.*))?\Z",
    re.DOTALL,
)
_CSEQ_RE = re.compile(f"[ \\t]*([0-9]+)[ \\t]+([{_TOKEN_CHARS}]+)[ \\t]*\\Z")
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_UNESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)
_SURROGATE_RE = re.compile("[\udc80-\udcff]")

CSEQ_MAX = 2**31 - 1


def _invalid(header: str, value: str, what: str) -> SipParseError:
    return SipParseError(
        _("Invalid {header} header {value!r}: {what}.").format(
            header=header, value=value, what=what
        ),
        400,
        _("Invalid {header} header").format(header=header),
    )


def parse_header_params(text: str, header: str, source: str) -> Params:
    """Parse ``;name[=value]`` header parameters; a value may be a quoted string."""
    text = text.strip()
    if not text:
        return ()
    if not text.startswith(";"):
        raise _invalid(header, source, _("unexpected text {text!r}").format(text=text))
    params: list[tuple[str, str | None]] = []
    position = 1
    while True:
        end = position
        while end < len(text) and text[end] != ";":
            if text[end] == '"':
                match = _QUOTED_RE.match(text, end)
                if match is None:
                    raise _invalid(header, source, _("a quoted parameter is not terminated"))
                end = match.end()
            else:
                end += 1
        name, equals, value = text[position:end].partition("=")
        name = name.strip()
        if not _TOKEN_RE.match(name):
            raise _invalid(header, source, _("parameter name {name!r} is malformed").format(
                name=name))
        params.append((name, value.strip() if equals else None))
        if end >= len(text):
            return tuple(params)
        position = end + 1


def _find_param(params: Params, name: str) -> str | None:
    lowered = name.lower()
    for key, value in params:
        if key.lower() == lowered:
            return "" if value is None else value
    return None


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class NameAddress:
    """A name-addr or addr-spec with header parameters, as in From, To, Contact, Route."""

    display_name: str | None
    uri: SipUri
    params: Params = ()

    @classmethod
    def parse(cls, value: str, header: str = "address") -> NameAddress:
        """Parse ``"Name" <uri>;params``, ``Name <uri>;params`` or ``uri;params``.

        Params after a bare URI belong to the header, not to the URI (RFC 3261 20.10).

        Raises:
            SipParseError: (400) naming the header and the fault.
        """
        text = value.strip(" \t")
        display: str | None = None
        if text.startswith('"'):
            match = _QUOTED_RE.match(text)
            if match is None:
                raise _invalid(header, value, _("the quoted display name is not terminated"))
            display = _UNESCAPE_RE.sub(r"\1", match.group(1))
            text = text[match.end() :].lstrip(" \t")
            if not text.startswith("<"):
                raise _invalid(header, value, _("a quoted display name must be followed by <uri>"))
        if "<" in text.partition(";")[0] or text.startswith("<"):
            name_part, _angle, rest = text.partition("<")
            name_part = name_part.strip(" \t")
            if name_part:
                if not _DISPLAY_TOKENS_RE.match(name_part):
                    raise _invalid(header, value, _(
                        "the display name {name!r} must be quoted because it contains "
                        "characters other than tokens").format(name=name_part))
                display = name_part
            uri_text, closing, param_text = rest.partition(">")
            if not closing:
                raise _invalid(header, value, _("the '<' has no matching '>'"))
            uri = SipUri.parse(uri_text)
        else:
            uri_text, semicolon, param_text = text.partition(";")
            param_text = semicolon + param_text
            if "?" in uri_text or "," in uri_text:
                raise _invalid(header, value, _(
                    "a URI with '?' or ',' must be enclosed in '<>'"))
            uri = SipUri.parse(uri_text.strip(" \t"))
        if display is not None and _SURROGATE_RE.search(display):
            raise _invalid(header, value, _("the display name is not valid UTF-8"))
        return cls(display, uri, parse_header_params(param_text, header, value))

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter, or None."""
        return _find_param(self.params, "tag")

    def param(self, name: str) -> str | None:
        """Return a header parameter's value ("" for a flag), or None if absent."""
        return _find_param(self.params, name)

    def with_tag(self, tag: str) -> NameAddress:
        """Return a copy with the ``tag`` parameter set."""
        kept = tuple(p for p in self.params if p[0].lower() != "tag")
        return dataclass_replace(self, params=(*kept, ("tag", tag)))

    def __str__(self) -> str:
        prefix = f"{_quote(self.display_name)} " if self.display_name is not None else ""
        return f"{prefix}<{self.uri}>{format_params(self.params)}"


@dataclass(frozen=True, slots=True)
class Via:
    """One Via header value (RFC 3261 section 20.42)."""

    transport: str
    host: str
    port: int | None = None
    params: Params = ()

    @classmethod
    def parse(cls, value: str) -> Via:
        """Parse ``SIP/2.0/TRANSPORT host[:port];params``.

        Raises:
            SipParseError: (400) when the value is malformed or not SIP/2.0.
        """
        match = _VIA_RE.match(value.strip(" \t"))
        if match is None:
            raise _invalid("Via", value, _("expected 'SIP/2.0/<transport> <host>[:<port>]'"))
        name, version, transport, host, port_text, param_text = match.groups()
        if name.upper() != "SIP" or version != "2.0":
            raise _invalid("Via", value, _("the protocol is not SIP/2.0"))
        host, _port = split_host_port(host, value)
        port = int(port_text) if port_text is not None else None
        if port is not None and port > 65535:
            raise _invalid("Via", value, _("the port is larger than 65535"))
        params = parse_header_params(";" + param_text, "Via", value) if param_text else ()
        return cls(transport.upper(), host, port, params)

    @property
    def sent_by(self) -> str:
        """``host[:port]`` as sent."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter, or None."""
        return _find_param(self.params, "branch")

    @property
    def received(self) -> str | None:
        """The ``received`` parameter, or None."""
        return _find_param(self.params, "received")

    @property
    def rport(self) -> int | None:
        """The ``rport`` value filled in by a server, or None (absent or still empty)."""
        value = _find_param(self.params, "rport")
        return int(value) if value and value.isdigit() else None

    @property
    def wants_rport(self) -> bool:
        """Whether the ``rport`` parameter is present (RFC 3581)."""
        return _find_param(self.params, "rport") is not None

    def param(self, name: str) -> str | None:
        """Return a parameter's value ("" for a flag), or None if absent."""
        return _find_param(self.params, name)

    def with_param(self, name: str, value: str | None) -> Via:
        """Return a copy with the parameter set (replacing one of that name)."""
        kept = tuple(p for p in self.params if p[0].lower() != name.lower())
        return dataclass_replace(self, params=(*kept, (name, value)))

    def __str__(self) -> str:
        return f"SIP/2.0/{self.transport} {self.sent_by}{format_params(self.params)}"


@dataclass(frozen=True, slots=True)
class CSeq:
    """A CSeq header value: sequence number and method."""

    number: int
    method: str

    @classmethod
    def parse(cls, value: str) -> CSeq:
        """Parse ``number METHOD``; the number must be below 2**31 (RFC 3261 8.1.1.5).

        Raises:
            SipParseError: (400) when malformed or out of range.
        """
        match = _CSEQ_RE.match(value)
        if match is None:
            raise _invalid("CSeq", value, _("expected '<number> <method>'"))
        number = int(match.group(1))
        if number > CSEQ_MAX:
            raise _invalid("CSeq", value, _("the sequence number is larger than 2**31-1"))
        return cls(number, match.group(2))

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


_AUTH_PARAM_RE = re.compile(
    f"[ \\t]*([{_TOKEN_CHARS}]+)[ \\t]*=[ \\t]*"
    r'("(?:[^"\\]|\\.)*"|[^ \t,"]+)[ \t]*(?:,|\Z)',
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Challenge:
    """A WWW-Authenticate or Proxy-Authenticate challenge (RFC 3261 section 25.1).

    Quoted parameter values are kept unquoted and unescaped in ``params``.
    """

    scheme: str
    params: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, value: str, header: str = "WWW-Authenticate") -> Challenge:
        """Parse ``Scheme name=value, name="quoted", ...``.

        Raises:
            SipParseError: (400) when the scheme or a parameter is malformed.
        """
        text = value.strip(" \t")
        scheme, _space, rest = text.partition(" ")
        if not _TOKEN_RE.match(scheme):
            raise _invalid(header, value, _("the scheme {scheme!r} is not a token").format(
                scheme=scheme))
        params: list[tuple[str, str]] = []
        position = 0
        rest = rest.strip(" \t")
        while position < len(rest):
            match = _AUTH_PARAM_RE.match(rest, position)
            if match is None:
                raise _invalid(header, value, _("the parameters after {at!r} are malformed").format(
                    at=rest[position:position + 20]))
            name, raw = match.groups()
            if raw.startswith('"'):
                raw = _UNESCAPE_RE.sub(r"\1", raw[1:-1])
            params.append((name, raw))
            position = match.end()
        return cls(scheme, tuple(params))

    def param(self, name: str) -> str | None:
        """Return a parameter's value, or None; names compare without regard to case."""
        lowered = name.lower()
        return next((v for k, v in self.params if k.lower() == lowered), None)
