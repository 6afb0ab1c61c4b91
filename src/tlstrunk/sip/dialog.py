"""SIP dialogs (RFC 3261 section 12): identifiers, route sets, CSeq rules, in-dialog requests."""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from tlstrunk.i18n import _
from tlstrunk.sip.address import NameAddress, Via
from tlstrunk.sip.errors import SipParseError, SipUsageError
from tlstrunk.sip.headers import Headers
from tlstrunk.sip.message import Message, Request, Response, make_response
from tlstrunk.sip.uri import SipUri

logger = logging.getLogger(__name__)

# Methods whose Contact replaces the remote target (RFC 3261 12.2, RFC 3311, RFC 6665).
TARGET_REFRESH_METHODS = frozenset(("INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"))


class DialogState(enum.Enum):
    """Dialog states (RFC 3261 section 12)."""

    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def _contact_uri(message: Message) -> SipUri | None:
    contacts = message.headers.get_all("Contact")
    if not contacts:
        return None
    return NameAddress.parse(contacts[0], "Contact").uri


@dataclass
class Dialog:
    """The state of one dialog, seen from our side.

    ``local_cseq`` is the CSeq of the last request we sent in the dialog; the
    next ``create_request`` uses ``local_cseq + 1``.
    """

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: NameAddress
    remote_uri: NameAddress
    remote_target: SipUri
    route_set: tuple[str, ...] = ()
    local_cseq: int = 0
    remote_cseq: int | None = None
    secure: bool = False
    state: DialogState = DialogState.EARLY
    local_contact: str | None = None

    @classmethod
    def from_uac(cls, request: Request, response: Response) -> Dialog:
        """Create the dialog of a request we sent, from a 1xx with a To tag or a 2xx (12.1.2).

        Raises:
            SipUsageError: for a response that creates no dialog.
            SipParseError: when the response lacks a Contact (400 Missing Contact).
        """
        code = response.status_code
        to_tag = response.to.tag
        if not 100 < code < 300 or (code < 200 and not to_tag):
            raise SipUsageError(_("Response {code} without a To tag does not create a dialog.")
                                .format(code=code))
        target = _contact_uri(response)
        if target is None:
            raise SipParseError(_("The {code} response that creates a dialog has no Contact.")
                                .format(code=code), 400, "Missing Contact")
        from_ = request.from_
        dialog = cls(
            call_id=request.call_id,
            local_tag=from_.tag or "",
            remote_tag=to_tag or "",
            local_uri=from_,
            remote_uri=response.to,
            remote_target=target,
            route_set=tuple(reversed(response.headers.get_all("Record-Route"))),
            local_cseq=request.cseq.number,
            secure=request.uri.scheme == "sips",
            state=DialogState.EARLY if code < 200 else DialogState.CONFIRMED,
            local_contact=request.headers.get("Contact"),
        )
        logger.debug("dialog %s created by UAC in state %s", dialog.call_id, dialog.state.value)
        return dialog

    @classmethod
    def from_uas(cls, request: Request, local_tag: str, local_contact: str | None = None) -> Dialog:
        """Create the dialog of a received request whose responses carry ``local_tag`` (12.1.1).

        The dialog stays early until ``confirm()`` is called when the 2xx is sent.
        """
        target = _contact_uri(request)
        if target is None:
            raise SipParseError(_("The {method} request that creates a dialog has no Contact.")
                                .format(method=request.method), 400, "Missing Contact")
        to = request.to
        dialog = cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=request.from_.tag or "",
            local_uri=to if to.tag else to.with_tag(local_tag),
            remote_uri=request.from_,
            remote_target=target,
            route_set=tuple(request.headers.get_all("Record-Route")),
            remote_cseq=request.cseq.number,
            secure=request.uri.scheme == "sips",
            local_contact=local_contact,
        )
        logger.debug("dialog %s created by UAS", dialog.call_id)
        return dialog

    @property
    def dialog_id(self) -> tuple[str, str, str]:
        """Call-ID, local tag and remote tag."""
        return (self.call_id, self.local_tag, self.remote_tag)

    def matches(self, message: Message) -> bool:
        """Return whether a received request, or a response to our request, is in this dialog."""
        if message.call_id != self.call_id:
            return False
        if isinstance(message, Request):
            return message.to.tag == self.local_tag and (message.from_.tag or "") == self.remote_tag
        return message.from_.tag == self.local_tag and (message.to.tag or "") == self.remote_tag

    def confirm(self) -> None:
        """Move an early dialog to confirmed (a 2xx was sent or received)."""
        self._set_state(DialogState.CONFIRMED)

    def terminate(self) -> None:
        """Mark the dialog terminated (after the 2xx to BYE, or when the INVITE failed)."""
        self._set_state(DialogState.TERMINATED)

    def _set_state(self, state: DialogState) -> None:
        if state is not self.state:
            logger.debug("dialog %s: %s -> %s", self.call_id, self.state.value, state.value)
            self.state = state

    def receive_request(self, request: Request) -> None:
        """Apply the CSeq and target-refresh rules to a request received in the dialog (12.2.2).

        Raises:
            SipParseError: (500) when the CSeq is lower than the last one received.
        """
        number = request.cseq.number
        if request.method not in ("ACK", "CANCEL"):
            if self.remote_cseq is not None and number < self.remote_cseq:
                raise SipParseError(
                    _("CSeq {number} is lower than {last}, the last CSeq received in dialog "
                      "{call_id}.").format(
                        number=number, last=self.remote_cseq, call_id=self.call_id),
                    500, "CSeq Out of Order")
            self.remote_cseq = number
        if request.method in TARGET_REFRESH_METHODS:
            target = _contact_uri(request)
            if target is not None:
                self.remote_target = target

    def receive_response(self, response: Response, method: str) -> None:
        """Apply a response to a request we sent in the dialog.

        A 2xx confirms an early dialog and recomputes its route set (13.2.2.4);
        a 2xx to a target refresh request replaces the remote target (12.2.1.2).
        """
        if not 200 <= response.status_code < 300:
            return
        if self.state is DialogState.EARLY:
            self.route_set = tuple(reversed(response.headers.get_all("Record-Route")))
            self.confirm()
        if method in TARGET_REFRESH_METHODS:
            target = _contact_uri(response)
            if target is not None:
                self.remote_target = target

    def create_request(
        self,
        method: str,
        *,
        via: Via | str,
        body: bytes = b"",
        content_type: str | None = None,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> Request:
        """Build a request within the dialog (12.2.1.1), taking the next local CSeq.

        Raises:
            SipUsageError: for ACK (use ``create_ack``) or CANCEL (built by the transaction).
        """
        if method in ("ACK", "CANCEL"):
            raise SipUsageError(_("{method} reuses the CSeq of its INVITE; use {helper}.").format(
                method=method,
                helper="Dialog.create_ack" if method == "ACK" else "ClientTransaction.make_cancel"))
        if self.state is DialogState.TERMINATED:
            raise SipUsageError(_("Dialog {call_id} is terminated; no request can be sent in it.")
                                .format(call_id=self.call_id))
        self.local_cseq += 1
        return self._build(method, self.local_cseq, via, body, content_type, extra_headers)

    def create_ack(
        self, invite_cseq: int, via: Via | str, *, body: bytes = b"",
        content_type: str | None = None,
    ) -> Request:
        """Build the ACK for a 2xx to the INVITE whose CSeq number is ``invite_cseq`` (13.2.2.4)."""
        return self._build("ACK", invite_cseq, via, body, content_type, ())

    def _build(
        self, method: str, cseq: int, via: Via | str, body: bytes, content_type: str | None,
        extra_headers: Iterable[tuple[str, str]],
    ) -> Request:
        uri, routes = self._request_target()
        headers = Headers()
        headers.add("Via", str(via))
        headers.add("Max-Forwards", "70")
        for route in routes:
            headers.add("Route", route)
        headers.add("From", str(self.local_uri.with_tag(self.local_tag)))
        to = self.remote_uri.with_tag(self.remote_tag) if self.remote_tag else self.remote_uri
        headers.add("To", str(to))
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{cseq} {method}")
        if self.local_contact is not None and method in TARGET_REFRESH_METHODS:
            headers.add("Contact", self.local_contact)
        for name, value in extra_headers:
            headers.add(name, value)
        if content_type is not None:
            headers.add("Content-Type", content_type)
        return Request(method, uri, headers, body)

    def _request_target(self) -> tuple[SipUri, list[str]]:
        """Return the Request-URI and Route values, for loose or strict routing (12.2.1.1)."""
        if not self.route_set:
            return self.remote_target, []
        first = NameAddress.parse(self.route_set[0], "Route")
        if first.uri.has_param("lr"):
            return self.remote_target, list(self.route_set)
        # strict routing: the first route becomes the Request-URI
        routes = [*self.route_set[1:], f"<{self.remote_target}>"]
        return first.uri.replace(headers=()), routes


def no_dialog_response(request: Request, to_tag: str | None = None) -> Response:
    """Build the 481 for a request whose To tag names no dialog we know (RFC 3261 12.2.2).

    The same response answers a CANCEL that matches no transaction (9.2) and a
    BYE for a call already gone.
    """
    return make_response(request, 481, to_tag=to_tag)


def loop_detected_response(request: Request, to_tag: str | None = None) -> Response:
    """Build the 482 for a merged request (RFC 3261 8.2.2.2); see ``find_merged``."""
    return make_response(request, 482, to_tag=to_tag)
