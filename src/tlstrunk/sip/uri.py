"""SIP, SIPS and tel URIs (RFC 3261 section 19.1, RFC 3966).

``sip:`` and ``sips:`` URIs are parsed into their parts. ``tel:`` keeps the
number in ``host`` and its parameters in ``params``. Any other scheme is kept
opaque (everything after the colon in ``host``), so that a From or To header
with an ``http:`` URI still parses. The message parser rejects such schemes in
the Request-URI with 416.

Parameter and header values are stored as received, still %-escaped, so a URI
serialises back to the same text.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from typing import Any

from tlstrunk.i18n import _
from tlstrunk.sip.errors import SipParseError

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*\Z")
_FORBIDDEN_RE = re.compile(r'[\x00-\x20\x7f<>"{}|\\^`]')
_HOST_RE = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9\-._]*)\Z")
_USER_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/:%]+\Z")
_ESCAPE_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PARAM_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()%\[\]/:&+$]+\Z")

SIP_SCHEMES = frozenset(("sip", "sips"))

Params = tuple[tuple[str, str | None], ...]


def _invalid(text: str, what: str) -> SipParseError:
    return SipParseError(
        _("Invalid URI {uri!r}: {what}.").format(uri=text, what=what), 400, "Invalid URI"
    )


def parse_params(text: str, source: str) -> Params:
    """Parse ``name[=value]`` items separated by ``;`` (the leading ``;`` already removed)."""
    params: list[tuple[str, str | None]] = []
    for item in text.split(";"):
        name, equals, value = item.partition("=")
        name = name.strip()
        if not name or not _PARAM_RE.match(name):
            raise _invalid(source, _("parameter {item!r} is malformed").format(item=item))
        params.append((name, value.strip() if equals else None))
    return tuple(params)


def format_params(params: Params) -> str:
    """Serialise parameters as ``;name=value`` items."""
    return "".join(f";{name}" if value is None else f";{name}={value}" for name, value in params)


def is_ipv6_reference(host: str) -> bool:
    """Return whether ``[address]`` contains an IPv6 address.

    The three-colon form such as ``[2001:db8:::192.0.2.1]``, which the RFC 3261
    grammar wrongly allowed, is tolerated as RFC 5118 section 4.10 advises.
    """
    inner = host[1:-1]
    for candidate in (inner, inner.replace(":::", "::", 1)):
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        return True
    return False


def split_host_port(text: str, source: str) -> tuple[str, int | None]:
    """Split ``host[:port]``, keeping the brackets around an IPv6 reference."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise _invalid(source, _("the IPv6 reference has no closing bracket"))
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise _invalid(source, _("unexpected text after the IPv6 reference"))
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_raw = text.partition(":")
        port_text = port_text_raw if colon else None
    if not _HOST_RE.match(host):
        raise _invalid(source, _("the host {host!r} is malformed").format(host=host))
    if host.startswith("[") and not is_ipv6_reference(host):
        raise _invalid(source, _("the IPv6 reference {host!r} is not an IPv6 address").format(
            host=host))
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not port_text.isascii() or int(port_text) > 65535:
        raise _invalid(source, _("the port {port!r} is not a number from 0 to 65535").format(
            port=port_text))
    return host, int(port_text)


@dataclass(frozen=True, slots=True)
class SipUri:
    """A parsed URI. ``user`` keeps any ``:password`` suffix as received."""

    scheme: str
    user: str | None
    host: str
    port: int | None = None
    params: Params = ()
    headers: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a URI.

        Raises:
            SipParseError: (400) when the text is not a well-formed URI.
        """
        scheme, colon, rest = text.partition(":")
        if not colon or not _SCHEME_RE.match(scheme):
            raise _invalid(text, _("it does not start with a scheme such as 'sip:'"))
        scheme = scheme.lower()
        if _FORBIDDEN_RE.search(rest) or not rest:
            raise _invalid(text, _("it is empty or contains whitespace, quotes or angle brackets"))
        if scheme in SIP_SCHEMES:
            return cls._parse_sip(scheme, rest, text)
        if scheme == "tel":
            number, _separator, param_text = rest.partition(";")
            params = parse_params(param_text, text) if param_text else ()
            return cls(scheme, None, number, None, params)
        return cls(scheme, None, rest)

    @classmethod
    def _parse_sip(cls, scheme: str, rest: str, text: str) -> SipUri:
        # The userinfo may itself contain "?" and ";" (RFC 3261 user-unreserved),
        # so the first "@" ends it before the headers are split off.
        user: str | None = None
        if "@" in rest:
            user, _at, rest = rest.partition("@")
        rest, question, header_text = rest.partition("?")
        if user is not None and (not _USER_RE.match(user) or _ESCAPE_RE.search(user)):
            raise _invalid(text, _("the user part {user!r} is malformed").format(user=user))
        hostport, semicolon, param_text = rest.partition(";")
        host, port = split_host_port(hostport, text)
        params = parse_params(param_text, text) if semicolon else ()
        headers: list[tuple[str, str]] = []
        if question:
            for item in header_text.split("&"):
                name, equals, value = item.partition("=")
                if not name or not equals:
                    raise _invalid(text, _("URI header {item!r} is malformed").format(item=item))
                headers.append((name, value))
        return cls(scheme, user, host, port, params, tuple(headers))

    @property
    def is_sip(self) -> bool:
        """True for the ``sip`` and ``sips`` schemes."""
        return self.scheme in SIP_SCHEMES

    @property
    def host_port(self) -> str:
        """``host[:port]`` as it appears in the URI."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def param(self, name: str) -> str | None:
        """Return a URI parameter's value ("" for a flag such as ``;lr``), or None if absent."""
        lowered = name.lower()
        for key, value in self.params:
            if key.lower() == lowered:
                return "" if value is None else value
        return None

    def has_param(self, name: str) -> bool:
        """Return whether the parameter is present, with or without a value."""
        lowered = name.lower()
        return any(key.lower() == lowered for key, _value in self.params)

    def with_param(self, name: str, value: str | None = None) -> SipUri:
        """Return a copy with the parameter set (replacing an existing one of that name)."""
        lowered = name.lower()
        kept = tuple(p for p in self.params if p[0].lower() != lowered)
        return dataclass_replace(self, params=(*kept, (name, value)))

    def without_params(self, *names: str) -> SipUri:
        """Return a copy without the named parameters."""
        lowered = {name.lower() for name in names}
        return dataclass_replace(
            self, params=tuple(p for p in self.params if p[0].lower() not in lowered)
        )

    def replace(self, **changes: Any) -> SipUri:
        """Return a copy with the given fields replaced."""
        return dataclass_replace(self, **changes)

    def __str__(self) -> str:
        if not self.is_sip:
            return f"{self.scheme}:{self.host}{format_params(self.params)}"
        userinfo = f"{self.user}@" if self.user is not None else ""
        text = f"{self.scheme}:{userinfo}{self.host_port}{format_params(self.params)}"
        if self.headers:
            text += "?" + "&".join(f"{name}={value}" for name, value in self.headers)
        return text
