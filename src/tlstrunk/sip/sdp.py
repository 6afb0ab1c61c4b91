"""Session descriptions (RFC 4566) and SDES crypto attributes (RFC 4568).

Only what a B2BUA needs: parse, inspect, edit and serialise. Lines that this
module does not interpret (i=, u=, e=, p=, b=, r=, z=, k=) are kept and written
back in the order RFC 4566 section 5 gives, so canonical input round-trips to
the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace

from tlstrunk.i18n import _
from tlstrunk.sip.errors import SipParseError

_LINE_RE = re.compile(r"([a-z])=(.*)\Z")
_WSP_RE = re.compile(r"[ \t]+")
_LIFETIME_RE = re.compile(r"(2\^)?([0-9]+)\Z")
_MKI_RE = re.compile(r"([0-9]+):([0-9]+)\Z")
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")

# Master key plus master salt length in octets per suite (RFC 4568, RFC 6188, RFC 7714).
KEY_SALT_LENGTHS: dict[str, int] = {
    "AES_CM_128_HMAC_SHA1_80": 30,
    "AES_CM_128_HMAC_SHA1_32": 30,
    "F8_128_HMAC_SHA1_80": 30,
    "AES_192_CM_HMAC_SHA1_80": 38,
    "AES_192_CM_HMAC_SHA1_32": 38,
    "AES_256_CM_HMAC_SHA1_80": 46,
    "AES_256_CM_HMAC_SHA1_32": 46,
    "AEAD_AES_128_GCM": 28,
    "AEAD_AES_256_GCM": 44,
}

_SESSION_ORDER_BEFORE_C = "iuep"


def _sdp_error(message: str) -> SipParseError:
    return SipParseError(message, 400, "Invalid SDP")


@dataclass(frozen=True, slots=True)
class Origin:
    """The o= line."""

    username: str
    session_id: str
    session_version: str
    net_type: str
    address_type: str
    address: str

    @classmethod
    def parse(cls, text: str) -> Origin:
        """Parse the value of an o= line."""
        parts = text.split(" ")
        if len(parts) != 6 or not all(parts):
            raise _sdp_error(_("The SDP origin {value!r} does not have six fields.").format(
                value=text))
        return cls(*parts)

    def __str__(self) -> str:
        return " ".join((self.username, self.session_id, self.session_version, self.net_type,
                         self.address_type, self.address))


@dataclass(frozen=True, slots=True)
class Connection:
    """A c= line."""

    net_type: str
    address_type: str
    address: str

    @classmethod
    def parse(cls, text: str) -> Connection:
        """Parse the value of a c= line."""
        parts = text.split(" ")
        if len(parts) != 3 or not all(parts):
            raise _sdp_error(_("The SDP connection {value!r} does not have three fields.").format(
                value=text))
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.net_type} {self.address_type} {self.address}"


@dataclass(frozen=True, slots=True)
class Attribute:
    """An a= line: ``name`` or ``name:value``."""

    name: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Attribute:
        """Parse the value of an a= line."""
        name, colon, value = text.partition(":")
        if not name:
            raise _sdp_error(_("The SDP attribute {value!r} has no name.").format(value=text))
        return cls(name, value if colon else None)

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass
class MediaDescription:
    """An m= section with its own lines."""

    media: str
    port: int
    proto: str
    formats: list[str]
    connection: Connection | None = None
    attributes: list[Attribute] = field(default_factory=list)
    port_count: int | None = None
    other: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse_m_line(cls, text: str) -> MediaDescription:
        """Parse the value of an m= line."""
        parts = text.split(" ")
        if len(parts) < 3:
            raise _sdp_error(_("The SDP media line {value!r} has fewer than three fields.")
                             .format(value=text))
        port_text, _slash, count_text = parts[1].partition("/")
        if not port_text.isdigit() or int(port_text) > 65535 or (
            count_text and not count_text.isdigit()
        ):
            raise _sdp_error(_("The SDP media port {value!r} is invalid.").format(value=parts[1]))
        count = int(count_text) if count_text else None
        return cls(parts[0], int(port_text), parts[2], parts[3:], port_count=count)

    def attribute(self, name: str) -> str | None:
        """Return the first value of an attribute ("" for a flag), or None."""
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute.value or ""
        return None

    def crypto(self) -> list[CryptoAttribute]:
        """Parse every a=crypto line of this section.

        Raises:
            SipParseError: (400) for a malformed crypto attribute.
        """
        return [CryptoAttribute.parse(a.value or "") for a in self.attributes if a.name == "crypto"]

    def lines(self) -> list[str]:
        """Serialise the section as SDP lines without line endings."""
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        out = [f"m={' '.join([self.media, port, self.proto, *self.formats])}"]
        out += [f"{kind}={value}" for kind, value in self.other if kind == "i"]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"{kind}={value}" for kind, value in self.other if kind in "bk"]
        out += [f"a={attribute}" for attribute in self.attributes]
        return out


@dataclass
class SessionDescription:
    """A parsed SDP body."""

    origin: Origin
    session_name: str = "-"
    connection: Connection | None = None
    times: list[tuple[str, str]] = field(default_factory=lambda: [("t", "0 0")])
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)
    version: int = 0

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        """Parse an SDP body; lines may end in CRLF or LF.

        Raises:
            SipParseError: (400, "Invalid SDP") naming the faulty line.
        """
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
        if not lines or lines[0] != "v=0":
            raise _sdp_error(_("The SDP does not start with 'v=0'."))
        origin: Origin | None = None
        name = None
        pending: dict[str, list[tuple[str, str]]] = {"other": [], "times": []}
        connection: Connection | None = None
        attributes: list[Attribute] = []
        media: list[MediaDescription] = []
        for line in lines[1:]:
            match = _LINE_RE.match(line)
            if match is None:
                raise _sdp_error(_("The SDP line {line!r} is not 'x=value'.").format(line=line))
            kind, value = match.groups()
            if kind == "m":
                media.append(MediaDescription.parse_m_line(value))
            elif media:
                _add_media_line(media[-1], kind, value)
            elif kind == "o":
                origin = Origin.parse(value)
            elif kind == "s":
                name = value
            elif kind == "c":
                connection = Connection.parse(value)
            elif kind in "tr":
                pending["times"].append((kind, value))
            elif kind == "a":
                attributes.append(Attribute.parse(value))
            else:
                pending["other"].append((kind, value))
        if origin is None or name is None or not pending["times"]:
            raise _sdp_error(_("The SDP lacks one of the mandatory o=, s= and t= lines."))
        return cls(origin, name, connection, pending["times"], attributes, media, pending["other"])

    def attribute(self, name: str) -> str | None:
        """Return the first value of a session-level attribute ("" for a flag), or None."""
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute.value or ""
        return None

    def to_bytes(self) -> bytes:
        """Serialise with CRLF line endings."""
        out = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        out += [f"{kind}={value}" for kind, value in self.other if kind in _SESSION_ORDER_BEFORE_C]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"{kind}={value}" for kind, value in self.other if kind == "b"]
        out += [f"{kind}={value}" for kind, value in self.times]
        out += [f"{kind}={value}" for kind, value in self.other if kind in "zk"]
        out += [f"a={attribute}" for attribute in self.attributes]
        for media in self.media:
            out += media.lines()
        return ("\r\n".join(out) + "\r\n").encode("utf-8")


def _add_media_line(media: MediaDescription, kind: str, value: str) -> None:
    if kind == "c":
        media.connection = Connection.parse(value)
    elif kind == "a":
        media.attributes.append(Attribute.parse(value))
    elif kind in "ibk":
        media.other.append((kind, value))
    else:
        raise _sdp_error(_("The SDP line '{kind}={value}' is not allowed in a media section.")
                         .format(kind=kind, value=value))


def strip_crypto(session: SessionDescription) -> SessionDescription:
    """Return a copy without any a=crypto line (the input is not changed)."""
    media = [
        dataclass_replace(m, attributes=[a for a in m.attributes if a.name != "crypto"],
                          formats=list(m.formats), other=list(m.other))
        for m in session.media
    ]
    return dataclass_replace(
        session, media=media,
        attributes=[a for a in session.attributes if a.name != "crypto"],
    )


@dataclass(frozen=True, slots=True)
class KeyParam:
    """One ``inline:<key||salt>[|lifetime][|MKI:length]`` key parameter (RFC 4568 6.1)."""

    key_salt_b64: str
    lifetime_text: str | None = None
    mki_value: int | None = None
    mki_length: int | None = None

    @classmethod
    def parse(cls, text: str) -> KeyParam:
        """Parse a key parameter; the grammar puts the lifetime before the MKI."""
        method, colon, info = text.partition(":")
        if method != "inline" or not colon:
            raise _sdp_error(_("The SDES key parameter {value!r} does not start with 'inline:'.")
                             .format(value=text))
        fields = info.split("|")
        if len(fields) > 3:
            raise _sdp_error(_("The SDES key parameter {value!r} has too many '|' fields.")
                             .format(value=text))
        key, rest = fields[0], fields[1:]
        lifetime = None
        if rest and _LIFETIME_RE.match(rest[0]):
            lifetime = rest.pop(0)
            match = _LIFETIME_RE.match(lifetime)
            assert match is not None
            if (match.group(1) and int(match.group(2)) > 64) or int(match.group(2)) > 2**64:
                raise _sdp_error(_("The SDES key lifetime {value!r} exceeds 2^64 packets.")
                                 .format(value=lifetime))
        mki_value = mki_length = None
        if rest:
            mki = _MKI_RE.match(rest.pop(0))
            if mki is None or rest or not 1 <= int(mki.group(2)) <= 128:
                raise _sdp_error(_("The SDES key parameter {value!r} has an invalid lifetime or "
                                   "MKI; expected '|2^20|1:4' style fields in that order.")
                                 .format(value=text))
            mki_value, mki_length = int(mki.group(1)), int(mki.group(2))
        param = cls(key, lifetime, mki_value, mki_length)
        param.key_salt  # noqa: B018 - decoding validates the base64
        return param

    @property
    def key_salt(self) -> bytes:
        """The decoded master key followed by the master salt."""
        try:
            return base64.b64decode(self.key_salt_b64, validate=True)
        except (binascii.Error, ValueError) as error:
            raise _sdp_error(_("The SDES key {key!r} is not valid base64.").format(
                key=self.key_salt_b64)) from error

    @property
    def lifetime(self) -> int | None:
        """The master key lifetime in packets, or None."""
        if self.lifetime_text is None:
            return None
        if self.lifetime_text.startswith("2^"):
            return 1 << int(self.lifetime_text[2:])
        return int(self.lifetime_text)

    def __str__(self) -> str:
        text = f"inline:{self.key_salt_b64}"
        if self.lifetime_text is not None:
            text += f"|{self.lifetime_text}"
        if self.mki_value is not None:
            text += f"|{self.mki_value}:{self.mki_length}"
        return text


@dataclass(frozen=True, slots=True)
class CryptoAttribute:
    """An ``a=crypto`` attribute (RFC 4568 section 9.1)."""

    tag: int
    suite: str
    key_params: tuple[KeyParam, ...]
    session_params: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> CryptoAttribute:
        """Parse ``tag suite key-params [session-params]``; ``a=crypto:`` may prefix it.

        Keys of a known suite must decode to that suite's key and salt length.
        A suite this module does not know parses, so the caller can ignore the
        attribute as RFC 4568 section 6.2 requires.

        Raises:
            SipParseError: (400, "Invalid SDP") naming the faulty part.
        """
        value = text.removeprefix("a=").removeprefix("crypto:")
        parts = _WSP_RE.split(value.strip(" \t"))
        if len(parts) < 3 or not parts[0]:
            raise _sdp_error(_("The crypto attribute {value!r} needs a tag, a suite and key "
                               "parameters.").format(value=text))
        tag_text, suite, key_text, *session_params = parts
        if not tag_text.isdigit() or len(tag_text) > 9:
            raise _sdp_error(_("The crypto tag {tag!r} is not a number of 1 to 9 digits.")
                             .format(tag=tag_text))
        if not _TOKEN_RE.match(suite):
            raise _sdp_error(_("The crypto suite {suite!r} is not a token.").format(suite=suite))
        keys = tuple(KeyParam.parse(item) for item in key_text.split(";"))
        expected = KEY_SALT_LENGTHS.get(suite)
        for key in keys:
            if expected is not None and len(key.key_salt) != expected:
                raise _sdp_error(_("The key of crypto suite {suite} decodes to {size} octets "
                                   "instead of {expected}.").format(
                                       suite=suite, size=len(key.key_salt), expected=expected))
        return cls(int(tag_text), suite, keys, tuple(session_params))

    @property
    def known_suite(self) -> bool:
        """True when the key length of the suite is in ``KEY_SALT_LENGTHS``."""
        return self.suite in KEY_SALT_LENGTHS

    def to_attribute(self) -> Attribute:
        """Return the a= attribute carrying this value."""
        return Attribute("crypto", str(self))

    def __str__(self) -> str:
        text = f"{self.tag} {self.suite} {';'.join(str(key) for key in self.key_params)}"
        return " ".join((text, *self.session_params))
