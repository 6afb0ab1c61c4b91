"""Conformance verdict for one SIP message, as a compliant element would judge it.

A message is *invalid* when a compliant element must answer it with 400 or 505,
or discard it (a malformed response). A message that parses but asks for
another response (416, 420, 415, 406, 483, 501) is *valid*; the verdict names
that response. ``tlstrunk sip check`` prints these verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tlstrunk.i18n import _
from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.headers import split_comma_list
from tlstrunk.sip.message import (
    REASON_PHRASES,
    SUPPORTED_REQUEST_SCHEMES,
    Message,
    Request,
    parse_message,
)
from tlstrunk.sip.transaction import MAGIC_COOKIE

KNOWN_METHODS = frozenset((
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY",
    "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
))
DEFAULT_SUPPORTED = frozenset(("timer", "replaces", "100rel", "path", "outbound", "gruu"))
DEFAULT_ACCEPTED_TYPES = frozenset(("application/sdp", "multipart/mixed",
                                    "multipart/alternative", "text/plain"))


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking one message.

    Attributes:
        valid: False when the message must be rejected with 400/505 or discarded.
        message: the parsed message, or None when it did not parse.
        error: the parse error of an invalid message.
        response: (status, reason) that a server would send, or None to process normally.
        notes: further remarks in full sentences (e.g. RFC 2543 transaction matching).
    """

    valid: bool
    message: Message | None
    error: SipParseError | None = None
    response: tuple[int, str] | None = None
    notes: tuple[str, ...] = ()


def check_message(
    data: bytes,
    *,
    supported: Iterable[str] = DEFAULT_SUPPORTED,
    accepted_types: Iterable[str] = DEFAULT_ACCEPTED_TYPES,
) -> Verdict:
    """Parse ``data`` as one datagram and judge it as RFC 3261 and RFC 4475 do."""
    try:
        message = parse_message(data, reject_unknown_schemes=False)
    except SipParseError as error:
        return Verdict(False, None, error, (error.status_code, error.reason))
    if not isinstance(message, Request):
        return Verdict(True, message)
    response = expected_response(
        message, supported=frozenset(supported), accepted_types=frozenset(accepted_types))
    return Verdict(True, message, None, response, _request_notes(message))


def _reply(code: int) -> tuple[int, str]:
    return code, REASON_PHRASES[code]


def expected_response(
    request: Request, *, supported: frozenset[str], accepted_types: frozenset[str],
) -> tuple[int, str] | None:
    """Return the response a UAS or proxy owes a well-formed request, or None.

    The checks run in the order of RFC 3261 section 8.2: URI scheme (416),
    extensions (420), then content (415, 406), hops (483) and method (501).
    """
    if request.uri.scheme not in SUPPORTED_REQUEST_SCHEMES:
        return _reply(416)
    if request.method not in ("ACK", "CANCEL"):
        required = [*request.headers.get_all("Require"), *request.headers.get_all("Proxy-Require")]
        if any(tag.lower() not in supported for tag in required):
            return _reply(420)
    if request.body and _media_type(request.headers.get("Content-Type")) not in accepted_types:
        return _reply(415)
    if request.method == "INVITE" and not _accepts_any(request, accepted_types):
        return _reply(406)
    max_forwards = request.headers.get("Max-Forwards")
    if max_forwards == "0" and request.method not in ("OPTIONS", "ACK"):
        return _reply(483)
    if request.method not in KNOWN_METHODS:
        return _reply(501)
    if request.method == "REGISTER" and not request.to.uri.is_sip:
        return 400, "Invalid Address of Record"
    return None


def _media_type(value: str | None) -> str:
    return (value or "").partition(";")[0].strip().lower()


def _accepts_any(request: Request, accepted_types: frozenset[str]) -> bool:
    accept = request.headers.get_all("Accept")
    if not accept:
        return True
    types = {_media_type(item) for value in accept for item in split_comma_list(value)}
    return bool(types & (accepted_types | {"*/*", "application/*"}))


def _request_notes(request: Request) -> tuple[str, ...]:
    notes: list[str] = []
    branch = request.branch
    if branch is None or not branch.startswith(MAGIC_COOKIE):
        notes.append(_("The top Via branch lacks the z9hG4bK cookie, so transactions are matched "
                       "by the RFC 2543 rules."))
    elif branch == MAGIC_COOKIE:
        notes.append(_("The top Via branch is the bare z9hG4bK cookie: answer 400 statelessly "
                       "or match transactions by the RFC 2543 rules."))
    for value in request.headers.get_all("Authorization"):
        scheme = value.strip().partition(" ")[0]
        if scheme.lower() != "digest":
            notes.append(_("The Authorization scheme {scheme!r} is unknown: a registrar "
                           "challenges with 401 and Digest.").format(scheme=scheme))
    if request.headers.get("Max-Forwards") == "0" and request.method == "OPTIONS":
        notes.append(_("Max-Forwards is 0: a proxy answers 483, the addressed UAS may answer."))
    return tuple(notes)


__all__ = ["DEFAULT_ACCEPTED_TYPES", "DEFAULT_SUPPORTED", "Verdict", "check_message",
           "expected_response"]
