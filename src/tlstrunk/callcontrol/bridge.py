"""Bridged calls: a B2BUA joining two real SIP legs, a phone or a trunk on each side.

The inbound leg (A) is the INVITE the node answers as a UAS; the outbound leg
(B) is the INVITE it sends as a UAC to a registered phone or over a trunk.
Each leg has its own Call-ID, tags and CSeq. Provisional and final responses
from B are answered on A; CANCEL, BYE and in-dialog requests travel across.
The SDP passes through unchanged except that SDES ``a=crypto`` lines are
removed before they would cross a hop whose signalling is not encrypted, so
SRTP keys never travel in clear text. Media flows between the two endpoints;
the node does not anchor it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from tlstrunk.callcontrol.phones import VirtualPhone
from tlstrunk.callcontrol.report import CallReport
from tlstrunk.callcontrol.sipstack import RequestFailed, RequestTimedOut, SipStack
from tlstrunk.callcontrol.trunks import TrunkUnavailable
from tlstrunk.i18n import _
from tlstrunk.observe.trace import TraceWriter
from tlstrunk.sip.address import Via
from tlstrunk.sip.dialog import Dialog
from tlstrunk.sip.headers import Headers
from tlstrunk.sip.message import Request, Response, make_response
from tlstrunk.sip.transaction import ServerTransaction
from tlstrunk.sip.uri import SipUri
from tlstrunk.transport.connection import SipChannel

logger = logging.getLogger(__name__)

#: Seconds an outbound INVITE waits for a final response once the far end answered
#: provisionally (Timer C of RFC 3261 16.6, more than 3 minutes). Without any
#: response the transaction's Timer B ends it after 32 s.
INVITE_TIMEOUT = 181.0
#: Seconds a BYE or an in-dialog request waits for its final response.
REQUEST_TIMEOUT = 32.0
#: Final responses after which a route list tries its next trunk.
FAILOVER_STATUSES = frozenset({408, 503})
ALLOWED_METHODS = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE"
#: The Call-Info URI that carries the call's security status to the far end.
CALL_INFO_URN = "urn:X-cisco-remotecc:callinfo"
#: Security levels, least secure first, as Call-Info's ``security`` parameter names them.
SECURITY_LEVELS = ("NotAuthenticated", "Authenticated", "Encrypted")


@dataclass
class Leg:
    """One side of a bridged call."""

    channel: SipChannel
    #: Whether SDES keys may cross this hop (TLS signalling under an Encrypted mode).
    keys_allowed: bool
    #: "trunk CUCM10" or "phone SEP0011 (1018)", for reports and traces.
    label: str
    #: The security level of the hop: an entry of SECURITY_LEVELS.
    security: str = "NotAuthenticated"
    trunk: str | None = None
    phone: str | None = None
    #: Whether to send the call's security status in Call-Info on this leg.
    transmit_security: bool = False
    dialog: Dialog | None = None

    def describe(self) -> dict[str, object]:
        """Return the leg as JSON-ready data for the call report."""
        channel = self.channel
        return {
            "label": self.label,
            "transport": channel.transport,
            "local": f"{channel.local[0]}:{channel.local[1]}",
            "remote": f"{channel.remote[0]}:{channel.remote[1]}",
            "tls_version": channel.tls.version if channel.tls else None,
            "security": self.security,
        }


@dataclass
class Target:
    """The destination of the outbound leg: a trunk or a registered phone.

    ``open`` returns the leg (it may raise :class:`TrunkUnavailable`);
    ``request_uri`` builds the Request-URI once the leg's channel is known.
    """

    label: str
    open: Callable[[], Awaitable[Leg]]
    request_uri: Callable[[Leg], SipUri]
    called: str
    #: Seconds the phone rings before the caller gets 480; ``None`` for trunks.
    ring_timeout: float | None = None
    #: Whether a failure here lets the next target try (route lists).
    failover: bool = False
    #: Adds credentials after a 401 or 407: returns the request to resend, or None.
    authorize: Callable[[Request, Response, SipChannel], Request | None] | None = None


@dataclass
class BridgedCall:
    """The state of one call between two legs."""

    report: CallReport
    a_request: Request
    a_transaction: ServerTransaction
    a_leg: Leg
    calling: str
    a_tag: str = field(default_factory=lambda: secrets.token_hex(6))
    b_leg: Leg | None = None
    b_invite: Request | None = None
    cancelled: bool = False
    no_answer: bool = False
    answered: bool = False
    #: For a delayed-offer INVITE: B's 2xx waits for A's ACK, which carries the SDP answer.
    awaiting_ack: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def other(self, leg: Leg) -> Leg | None:
        return self.b_leg if leg is self.a_leg else self.a_leg


def strip_crypto(body: bytes) -> bytes:
    """Return an SDP body without its ``a=crypto`` lines (RFC 4568 keys)."""
    if b"a=crypto" not in body:
        return body
    lines = body.split(b"\r\n")
    return b"\r\n".join(line for line in lines if not line.startswith(b"a=crypto:"))


def _requires_srtp(body: bytes) -> bool:
    """Return whether an SDP offer has an RTP/SAVP audio stream and no plain RTP one."""
    lines = [line for line in body.split(b"\r\n") if line.startswith(b"m=audio ")]
    return bool(lines) and all(b" RTP/SAVP " in line for line in lines)


def sdp_for(leg: Leg, body: bytes) -> bytes:
    """Return ``body`` as it may be sent on ``leg``."""
    return body if leg.keys_allowed else strip_crypto(body)


def call_security(*legs: Leg) -> str:
    """Return the call's security level: the lowest of its legs'."""
    return min((leg.security for leg in legs), key=SECURITY_LEVELS.index)


def security_from_call_info(message: Request | Response) -> str | None:
    """Return the ``security`` parameter of a Call-Info header naming CALL_INFO_URN, if any."""
    for value in message.headers.get_all("Call-Info"):
        if CALL_INFO_URN.lower() not in value.lower():
            continue
        for param in value.split(";")[1:]:
            name, _eq, level = param.partition("=")
            if name.strip().lower() == "security":
                return level.strip().strip('"')
    return None


class CallBridge:
    """Runs bridged calls for a node's B2BUA."""

    def __init__(
        self,
        *,
        stack: SipStack,
        trace: TraceWriter,
        node_address: str,
        via: Callable[[SipChannel], Via],
        contact: Callable[[str, SipChannel], str],
        alias: Callable[[str, CallReport], None],
        finished: Callable[[CallReport], None],
    ) -> None:
        self._stack = stack
        self._trace = trace
        self._node_address = node_address
        self._via = via
        self._contact = contact
        self._alias = alias
        self._finished = finished
        self._by_a_call_id: dict[str, BridgedCall] = {}
        self._dialogs: dict[tuple[str, str, str], tuple[BridgedCall, Leg]] = {}

    @property
    def active_calls(self) -> int:
        """How many bridged calls are set up or connected."""
        return len(self._by_a_call_id)

    # -- setting up ------------------------------------------------------------------

    async def connect(self, call: BridgedCall, targets: Sequence[Target]) -> None:
        """Offer the call to each target in turn until one answers or fails for good."""
        self._by_a_call_id[call.a_request.call_id] = call
        status, reason = 404, "Not Found"
        try:
            for index, target in enumerate(targets):
                if call.cancelled:
                    return
                if index:
                    call.report.restart()
                    self._trace.info(
                        "SIPHandler", "Call %s: trying %s", call.report.call_id, target.label
                    )
                outcome = await self._attempt(call, target)
                call.report.attempts.append(
                    {
                        "target": target.label,
                        "state": call.report.state,
                        "reason": call.report.reason,
                    }
                )
                if outcome is None:
                    return
                status, reason = outcome
                if not (target.failover and status in FAILOVER_STATUSES):
                    break
            if not call.cancelled:
                self._fail_a(call, status, reason)
        finally:
            if not call.answered:
                self._by_a_call_id.pop(call.a_request.call_id, None)
                self._finish(call)

    async def _attempt(self, call: BridgedCall, target: Target) -> tuple[int, str] | None:
        """Place the B leg to ``target``; return (status, reason) when it failed."""
        report = call.report
        try:
            leg = await target.open()
        except TrunkUnavailable as exc:
            report.failed_check = exc.check
            report.finish("failed", status=503, reason=str(exc))
            return 503, str(exc)
        if call.cancelled:
            return None
        call.b_leg = leg
        report.legs = [call.a_leg.describe(), leg.describe()]
        if not leg.keys_allowed and _requires_srtp(call.a_request.body):
            reason = _(
                "The caller offers SRTP only (RTP/SAVP), but the keys may not cross to "
                "{target}, whose signalling is {security}; allow RTP at the caller, or make "
                "that hop TLS under an Encrypted security mode."
            ).format(target=target.label, security=leg.security)
            report.finish("failed", status=488, reason=reason)
            return 488, reason
        invite = self._build_invite(call, leg, target)
        call.b_invite = invite
        self._alias(invite.call_id, report)
        timer = None
        if target.ring_timeout is not None:
            timer = asyncio.get_running_loop().call_later(
                target.ring_timeout, self._ring_timeout, call, invite, target
            )
        try:
            response = await self._send_invite(call, leg, invite)
            if response.status_code in (401, 407) and target.authorize is not None:
                authorized = target.authorize(invite, response, leg.channel)
                if authorized is not None and not call.cancelled:
                    invite = authorized
                    call.b_invite = invite
                    response = await self._send_invite(call, leg, invite)
        except (TimeoutError, RequestTimedOut) as exc:
            if call.cancelled:
                return None
            if isinstance(exc, TimeoutError):
                self._stack.cancel(invite)
                reason = _("{target} sent no final response within {seconds:.0f} s.").format(
                    target=target.label, seconds=INVITE_TIMEOUT
                )
            else:
                reason = _("{target} did not respond to the INVITE.").format(target=target.label)
            report.failed_check = "INVITE timeout"
            report.finish("failed", status=408, reason=reason)
            return 408, reason
        except RequestFailed as exc:
            if call.cancelled:
                return None
            reason = _("{target}: the connection failed before a final response ({error}).").format(
                target=target.label, error=leg.channel.close_reason or exc
            )
            report.finish("failed", status=503, reason=reason)
            return 503, reason
        finally:
            if timer is not None:
                timer.cancel()
        if 200 <= response.status_code < 300:
            self._answered(call, leg, invite, response)
            return None
        if call.cancelled:
            return None
        report.finish("failed", status=response.status_code, reason=response.reason)
        return response.status_code, response.reason

    async def _send_invite(self, call: BridgedCall, leg: Leg, invite: Request) -> Response:
        return await asyncio.wait_for(
            self._stack.send_request(
                invite, leg.channel, on_provisional=lambda r: self._relay_provisional(call, r)
            ),
            INVITE_TIMEOUT,
        )

    def _build_invite(self, call: BridgedCall, leg: Leg, target: Target) -> Request:
        request = call.a_request
        uri = target.request_uri(leg)
        headers = Headers()
        headers.add("Via", str(self._via(leg.channel)))
        headers.add("Max-Forwards", str(max(1, request.max_forwards) - 1))
        display = request.from_.display_name
        name = f'"{display}" ' if display else ""
        headers.add(
            "From",
            f"{name}<sip:{call.calling}@{self._node_address}>;tag={secrets.token_hex(6)}",
        )
        headers.add("To", f"<sip:{target.called}@{uri.host}>")
        headers.add("Call-ID", f"{secrets.token_hex(12)}@{self._node_address}")
        headers.add("CSeq", "101 INVITE")
        headers.add("Contact", self._contact(call.calling, leg.channel))
        headers.add("Allow", ALLOWED_METHODS)
        headers.add("User-Agent", "tlstrunk")
        if leg.transmit_security:
            headers.add("Call-Info", f"<{CALL_INFO_URN}>;security={call.a_leg.security}")
        body = sdp_for(leg, request.body)
        if body:
            headers.add("Content-Type", request.headers.get("Content-Type") or "application/sdp")
        return Request("INVITE", uri, headers, body)

    def _ring_timeout(self, call: BridgedCall, invite: Request, target: Target) -> None:
        """Give the caller 480 and cancel the phone that did not answer in time.

        A phone that never responded cannot be cancelled (RFC 3261 9.1), so its
        INVITE runs out on Timer B. A late 200 from it gets ACK and BYE.
        """
        if call.answered or call.cancelled:
            return
        call.no_answer = True
        call.cancelled = True
        reason = _("{number} did not answer within {seconds:.0f} s.").format(
            number=target.called, seconds=target.ring_timeout or 0
        )
        self._trace.info(
            "SIPHandler", "Call %s: no answer, cancelling %s", call.report.call_id, invite.uri
        )
        call.report.finish("failed", status=480, reason=reason)
        self._fail_a(call, 480, reason)
        self._stack.cancel(invite)

    def _relay_provisional(self, call: BridgedCall, response: Response) -> None:
        if call.cancelled or response.status_code == 100:
            return
        call.report.state = "alerting"
        relayed = make_response(
            call.a_request,
            response.status_code,
            response.reason,
            to_tag=call.a_tag,
            body=sdp_for(call.a_leg, response.body),
            content_type=response.headers.get("Content-Type") if response.body else None,
        )
        relayed.headers.add("Contact", self._contact(call.report.called, call.a_leg.channel))
        self._stack.respond(call.a_transaction, relayed)

    def _answered(self, call: BridgedCall, leg: Leg, invite: Request, response: Response) -> None:
        b_dialog = Dialog.from_uac(invite, response)
        leg.dialog = b_dialog
        if call.cancelled:
            # The caller cancelled while the callee answered: end the callee's side.
            self._stack.send_stateless(
                b_dialog.create_ack(invite.cseq.number, via=self._via(leg.channel)), leg.channel
            )
            asyncio.get_running_loop().create_task(self._send_bye(leg))
            return
        call.answered = True
        a_dialog = Dialog.from_uas(call.a_request, call.a_tag)
        call.a_leg.dialog = a_dialog
        self._dialogs[a_dialog.dialog_id] = (call, call.a_leg)
        self._dialogs[b_dialog.dialog_id] = (call, leg)
        if call.a_request.body:
            self._stack.send_stateless(
                b_dialog.create_ack(invite.cseq.number, via=self._via(leg.channel)), leg.channel
            )
        else:
            call.awaiting_ack = True
        ok = make_response(
            call.a_request,
            200,
            to_tag=call.a_tag,
            body=sdp_for(call.a_leg, response.body),
            content_type="application/sdp" if response.body else None,
        )
        ok.headers.add("Contact", self._contact(call.report.called, call.a_leg.channel))
        ok.headers.add("Allow", ALLOWED_METHODS)
        level = call_security(call.a_leg, leg)
        if call.a_leg.transmit_security:
            ok.headers.add("Call-Info", f"<{CALL_INFO_URN}>;security={level}")
        self._stack.respond(call.a_transaction, ok)
        self._mark_connected(call, leg, response, level)

    def _mark_connected(self, call: BridgedCall, leg: Leg, response: Response, level: str) -> None:
        report = call.report
        report.state = "connected"
        report.answered = time.time()
        report.far_security = security_from_call_info(response) or security_from_call_info(
            call.a_request
        )
        encrypted = call.a_leg.keys_allowed and leg.keys_allowed
        report.signalling_encrypted = encrypted
        report.srtp_suite = VirtualPhone.accept_answer(response.body) if encrypted else None
        report.secure = encrypted and report.srtp_suite is not None
        if report.secure:
            report.security = _(
                "secure: encrypted signalling on both legs and SRTP {suite} end to end"
            ).format(suite=report.srtp_suite)
        elif encrypted:
            report.security = _("not secure: encrypted signalling but the media is plain RTP")
        else:
            report.security = _(
                "not secure: the call's weakest leg is {level}, so no SRTP keys cross it"
            ).format(level=level)
        self._trace.info(
            "SIPHandler",
            "Call %s connected: %s -> %s via %s and %s, %s",
            report.call_id,
            report.calling,
            report.called,
            call.a_leg.label,
            leg.label,
            report.security,
        )

    def _fail_a(self, call: BridgedCall, status: int, reason: str) -> None:
        response = make_response(call.a_request, status, _reason_phrase(reason), to_tag=call.a_tag)
        self._stack.respond(call.a_transaction, response)

    # -- requests from either leg ------------------------------------------------------

    def on_cancel(self, request: Request, transaction: ServerTransaction) -> bool:
        """Handle a CANCEL for a bridged call; return False when it is not ours."""
        call = self._by_a_call_id.get(request.call_id)
        if call is None or call.answered:
            return False
        self._stack.respond(transaction, make_response(request, 200))
        call.cancelled = True
        self._stack.respond(
            call.a_transaction, make_response(call.a_request, 487, to_tag=call.a_tag)
        )
        call.report.finish("cancelled", status=487, reason=_("The caller cancelled the call."))
        if call.b_invite is not None:
            self._stack.cancel(call.b_invite)
        return True

    def on_in_dialog(self, request: Request, transaction: ServerTransaction | None) -> bool:
        """Handle an ACK, BYE or other in-dialog request of a bridged call; False if not ours."""
        key = (request.call_id, request.to.tag or "", request.from_.tag or "")
        found = self._dialogs.get(key)
        if found is None:
            return False
        call, leg = found
        if request.method == "ACK":
            self._on_ack(call, leg, request)
            return True
        if transaction is None:
            return True
        if request.method == "BYE":
            self._stack.respond(transaction, make_response(request, 200))
            side = _("the caller") if leg is call.a_leg else _("the called party")
            call.report.finish("cleared", status=200, reason=_("BYE from {side}").format(side=side))
            self._end(call)
            other = call.other(leg)
            if other is not None and other.dialog is not None:
                asyncio.get_running_loop().create_task(self._send_bye(other))
            return True
        asyncio.get_running_loop().create_task(self._relay_request(call, leg, request, transaction))
        return True

    def _on_ack(self, call: BridgedCall, leg: Leg, ack: Request) -> None:
        if leg is not call.a_leg or not call.awaiting_ack:
            return
        call.awaiting_ack = False
        b_leg = call.b_leg
        if b_leg is None or b_leg.dialog is None or call.b_invite is None:
            return
        body = sdp_for(b_leg, ack.body)
        relayed = b_leg.dialog.create_ack(
            call.b_invite.cseq.number,
            via=self._via(b_leg.channel),
            body=body,
            content_type="application/sdp" if body else None,
        )
        self._stack.send_stateless(relayed, b_leg.channel)

    async def _relay_request(
        self, call: BridgedCall, leg: Leg, request: Request, transaction: ServerTransaction
    ) -> None:
        """Send an in-dialog request (re-INVITE, UPDATE, INFO) on to the other leg."""
        other = call.other(leg)
        if other is None or other.dialog is None:
            self._stack.respond(transaction, make_response(request, 481))
            return
        body = sdp_for(other, request.body)
        content_type = request.headers.get("Content-Type") if body else None
        relayed = other.dialog.create_request(
            request.method, via=self._via(other.channel), body=body, content_type=content_type
        )
        try:
            response = await asyncio.wait_for(
                self._stack.send_request(relayed, other.channel), REQUEST_TIMEOUT
            )
        except (RequestFailed, TimeoutError):
            self._stack.respond(transaction, make_response(request, 408))
            return
        if request.method == "INVITE" and 200 <= response.status_code < 300:
            self._stack.send_stateless(
                other.dialog.create_ack(relayed.cseq.number, via=self._via(other.channel)),
                other.channel,
            )
        answer = make_response(
            request,
            response.status_code,
            response.reason,
            body=sdp_for(leg, response.body),
            content_type=response.headers.get("Content-Type") if response.body else None,
        )
        if request.method == "INVITE" and response.status_code < 300:
            answer.headers.add("Contact", self._contact(call.report.called, leg.channel))
        self._stack.respond(transaction, answer)

    async def _send_bye(self, leg: Leg, *, timeout: float = REQUEST_TIMEOUT) -> None:
        if leg.dialog is None or not leg.channel.is_open:
            return
        bye = leg.dialog.create_request("BYE", via=self._via(leg.channel))
        try:
            await asyncio.wait_for(self._stack.send_request(bye, leg.channel), timeout)
        except (RequestFailed, TimeoutError) as exc:
            self._trace.warning("SIPHandler", "BYE to %s got no answer: %s", leg.label, exc)

    def _end(self, call: BridgedCall) -> None:
        for leg in (call.a_leg, call.b_leg):
            if leg is not None and leg.dialog is not None:
                self._dialogs.pop(leg.dialog.dialog_id, None)
        self._by_a_call_id.pop(call.a_request.call_id, None)
        call.ended.set()
        self._finish(call)

    def _finish(self, call: BridgedCall) -> None:
        if call.report.ended is None:
            call.report.finish(call.report.state)
        self._finished(call.report)

    async def stop(self, timeout: float) -> None:
        """Hang up every connected bridged call on both legs."""
        calls = {id(call): call for call, _leg in self._dialogs.values()}
        for call in calls.values():
            call.report.finish("ended", reason=_("The node stopped."))
            self._end(call)
        byes = [
            self._send_bye(leg, timeout=timeout)
            for call in calls.values()
            for leg in (call.a_leg, call.b_leg)
            if leg is not None
        ]
        if byes:
            await asyncio.gather(*byes, return_exceptions=True)

    def connection_closed(self, channel: SipChannel) -> None:
        """End the calls one of whose legs ran over ``channel``; BYE the other leg."""
        for call, leg in list(self._dialogs.values()):
            if leg.channel is channel and not call.ended.is_set():
                call.report.finish(
                    "failed", reason=_("The connection of {leg} closed.").format(leg=leg.label)
                )
                self._end(call)
                other = call.other(leg)
                if other is not None:
                    asyncio.get_running_loop().create_task(self._send_bye(other))


def _reason_phrase(reason: str) -> str:
    """Return ``reason`` as a one-line reason phrase."""
    return reason.replace("\r", " ").replace("\n", " ")[:200]
