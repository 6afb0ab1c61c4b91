"""A shallow parse for routing: the few fields a dispatcher needs, without validation.

``peek_routing`` reads the start line, Call-ID, CSeq and the top Via branch and
nothing else, several times faster than ``parse_message``. It checks only what
it reads; a message that peeks cleanly can still fail the full parse, which the
handler that takes the message runs.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tlstrunk.i18n import _
from tlstrunk.sip.errors import SipParseError

_WANTED = {
    b"call-id": b"call-id", b"i": b"call-id",
    b"cseq": b"cseq",
    b"via": b"via", b"v": b"via",
}
_BRANCH_RE = re.compile(rb";[ \t]*branch[ \t]*=[ \t]*([^;, \t]+)", re.IGNORECASE)
_CSEQ_RE = re.compile(rb"([0-9]{1,10})[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)\Z")


class RoutingInfo(NamedTuple):
    """The fields of a message that transaction and dialog dispatch needs.

    ``method`` is the request method, or None for a response, whose code is in
    ``status_code``. ``branch`` is None when the top Via has no branch.
    """

    method: str | None
    status_code: int | None
    request_uri: str | None
    call_id: str
    cseq_number: int
    cseq_method: str
    branch: str | None


def _fail(what: str) -> SipParseError:
    return SipParseError(
        _("The message cannot be routed: {what}.").format(what=what), 400, "Bad Request")


def peek_routing(data: bytes) -> RoutingInfo:
    """Read the routing fields of one message (a datagram or a framed stream message).

    Raises:
        SipParseError: (400) when the start line, Call-ID, CSeq or Via is absent or malformed.
    """
    end = data.find(b"\r\n\r\n")
    head = data[: end if end >= 0 else len(data)].lstrip(b"\r\n")
    lines = head.split(b"\r\n")
    found: dict[bytes, bytes] = {}
    folding: bytes | None = None  # the field that a continuation line extends
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            if folding is not None:
                found[folding] += b" " + line.strip()
            continue
        name, colon, value = line.partition(b":")
        key = _WANTED.get(name.rstrip(b" \t").lower()) if colon else None
        folding = None
        if key is not None and key not in found:
            found[key] = value.strip()
            folding = key
    return _build(lines[0], found)


def _build(start: bytes, found: dict[bytes, bytes]) -> RoutingInfo:
    call_id = found.get(b"call-id")
    cseq = found.get(b"cseq")
    via = found.get(b"via")
    if not call_id or cseq is None or via is None:
        raise _fail(_("Call-ID, CSeq or Via is missing"))
    match = _CSEQ_RE.match(cseq)
    if match is None:
        raise _fail(_("the CSeq is malformed"))
    top_via = via.split(b",", 1)[0]
    branch = _BRANCH_RE.search(top_via)
    method: str | None = None
    status: int | None = None
    uri: str | None = None
    if start.startswith(b"SIP/2.0 "):
        code = start[8:11]
        if not code.isdigit() or start[11:12] not in (b"", b" "):
            raise _fail(_("the status line is malformed"))
        status = int(code)
    else:
        parts = start.split(b" ")
        if len(parts) != 3 or parts[2] != b"SIP/2.0":
            raise _fail(_("the start line is malformed"))
        method, uri = parts[0].decode("ascii", "replace"), parts[1].decode("utf-8", "replace")
    return RoutingInfo(
        method, status, uri, call_id.decode("utf-8", "replace"), int(match.group(1)),
        match.group(2).decode("ascii"),
        branch.group(1).decode("ascii", "replace") if branch else None,
    )


__all__ = ["RoutingInfo", "peek_routing"]
