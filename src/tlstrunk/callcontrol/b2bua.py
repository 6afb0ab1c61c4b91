"""The B2BUA: every call a node handles, with a phone or a trunk on each side.

A call placed by a local virtual phone runs digit analysis, takes the trunk's
persistent TLS connection and sends the INVITE as a UAC. A call that arrives
on a trunk, or from a registered SIP phone, runs digit analysis with the
calling search space of the trunk or of the phone's line, then goes to a
registered phone, over a trunk (tandem), or to the virtual phone of a
directory number that has no SIP phone. Calls between two real SIP legs are
run by :mod:`tlstrunk.callcontrol.bridge`. Either side may hang up.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from tlstrunk.callcontrol.bridge import (
    CALL_INFO_URN,
    BridgedCall,
    CallBridge,
    Leg,
    Target,
    security_from_call_info,
)
from tlstrunk.callcontrol.bridge import (
    INVITE_TIMEOUT as CALL_SETUP_TIMEOUT,
)
from tlstrunk.callcontrol.digits import AnalysisResult, RouteMatch, transform_called
from tlstrunk.callcontrol.legs import (
    phone_leg,
    phone_target,
    transport_param,
    trunk_leg,
    trunk_target,
)
from tlstrunk.callcontrol.phones import CallMedia, MediaAnswer, MediaRejected, VirtualPhone
from tlstrunk.callcontrol.policy import profile_refusal, refusal_explanation
from tlstrunk.callcontrol.registrar import PHONE_ALGORITHMS, PhoneAuthenticator, Registrar
from tlstrunk.callcontrol.report import CallReport
from tlstrunk.callcontrol.sipstack import RequestFailed, RequestTimedOut, SipStack
from tlstrunk.callcontrol.trunks import TrunkConnections, TrunkUnavailable
from tlstrunk.config.snapshot import ConfigSnapshot, RouteTarget
from tlstrunk.config.values import PhoneConfig, TrunkConfig
from tlstrunk.i18n import _
from tlstrunk.observe.trace import TraceWriter
from tlstrunk.sip.address import Via
from tlstrunk.sip.dialog import Dialog
from tlstrunk.sip.digest import AuthOutcome, DigestClient
from tlstrunk.sip.headers import Headers, warning_text
from tlstrunk.sip.message import Message, Request, Response, make_response
from tlstrunk.sip.transaction import ServerTransaction, new_branch
from tlstrunk.sip.uri import SipUri
from tlstrunk.transport.connection import SipChannel

logger = logging.getLogger(__name__)

#: How many finished call reports a node keeps for the control socket.
KEPT_REPORTS = 200
#: Seconds a virtual phone rings before it answers.
RING_DELAY = 0.2
#: Seconds an outbound INVITE waits for a final response.
INVITE_TIMEOUT = 32.0
#: Seconds a stopping node waits for the 200 to each BYE it sends.
STOP_BYE_TIMEOUT = 2.0
#: Final responses after which a route list tries its next trunk.
FAILOVER_STATUSES = frozenset({408, 503})
#: Seconds an OPTIONS ping waits for its final response.
OPTIONS_TIMEOUT = 5.0
#: Trunk states as the trunk list shows them.
IN_SERVICE = "In Service"
OUT_OF_SERVICE = "Out of Service"
PING_NOT_ENABLED = "Unknown - OPTIONS Ping not enabled"
ALLOWED_METHODS = "INVITE, ACK, BYE, CANCEL, OPTIONS"
#: Methods a phone may send outside a dialog.
PHONE_METHODS = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER"
#: Seconds a phone's line rings when its directory number sets no timeout.
DEFAULT_NO_ANSWER_TIMEOUT = 12.0


@dataclass
class _ActiveDialog:
    dialog: Dialog
    connection: SipChannel
    report: CallReport
    hung_up: asyncio.Event
    #: For a delayed-offer INVITE: the leg whose ACK must carry the SDP answer.
    awaiting_answer: Leg | None = None
    #: The phone's SDP in this dialog: the offer it sent or the answer it gave.
    local_sdp: bytes = b""
    #: The RTP or SRTP stream while the call is up.
    media: CallMedia | None = None


@dataclass(frozen=True)
class NodeIdentity:
    """The name and SIP address of the node the B2BUA runs on."""

    name: str
    address: str
    #: The port the node listens on for each transport ("TLS", "TCP", "UDP").
    sip_ports: Mapping[str, int]


class B2bua:
    """Places and answers calls between a node's virtual phones and its trunks."""

    def __init__(
        self,
        *,
        node: NodeIdentity,
        stack: SipStack,
        trunks: TrunkConnections,
        snapshot: Callable[[], ConfigSnapshot],
        own_certificate: Callable[[], str],
        trace: TraceWriter,
        on_call_ended: Callable[[CallReport], None] | None = None,
        digest_secret: bytes | None = None,
    ) -> None:
        self._on_call_ended = on_call_ended
        self._node = node
        self._own_certificate = own_certificate
        self._stack = stack
        self._trunks = trunks
        self._snapshot = snapshot
        self._trace = trace
        self._phones: dict[str, VirtualPhone] = {}
        self._dialogs: dict[tuple[str, str, str], _ActiveDialog] = {}
        self._reports: OrderedDict[str, CallReport] = OrderedDict()
        self._pending_invites: dict[str, ServerTransaction] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._aliases: dict[str, CallReport] = {}
        self.authenticator = PhoneAuthenticator(snapshot, trace, digest_secret)
        self.registrar = Registrar(snapshot=snapshot, authenticator=self.authenticator, trace=trace)
        self._bridge = CallBridge(
            stack=stack,
            trace=trace,
            node_address=node.address,
            via=self._via,
            contact=self._contact,
            alias=self._alias,
            finished=self._call_ended,
        )

    # -- reports ----------------------------------------------------------------

    def reports(self, call_id: str | None = None) -> list[CallReport]:
        """Return the kept call reports, or the one for ``call_id``."""
        if call_id is not None:
            report = self._reports.get(call_id)
            return [report] if report is not None else []
        return list(self._reports.values())

    def _keep(self, report: CallReport) -> None:
        self._reports[report.call_id] = report
        while len(self._reports) > KEPT_REPORTS:
            self._reports.popitem(last=False)
        while len(self._aliases) > KEPT_REPORTS:
            self._aliases.pop(next(iter(self._aliases)))

    def _alias(self, call_id: str, report: CallReport) -> None:
        """Draw the messages of a bridged call's second leg (its own Call-ID) in its ladder."""
        self._aliases[call_id] = report

    def observe(self, direction: str, connection: SipChannel, message: Message) -> None:
        """Add a SIP message to the ladder of the call it belongs to."""
        report = self._reports.get(message.call_id) or self._aliases.get(message.call_id)
        if report is not None:
            local = f"{connection.local[0]}:{connection.local[1]}"
            remote = f"{connection.remote[0]}:{connection.remote[1]}"
            report.record(direction, local, remote, message)

    def phone(self, number: str) -> VirtualPhone:
        """Return the virtual phone of directory number ``number``."""
        phone = self._phones.get(number)
        if phone is None:
            phone = VirtualPhone(number, self._node.address)
            self._phones[number] = phone
        return phone

    # -- outbound calls -------------------------------------------------------

    async def place_call(self, calling: str, dialled: str, hold: float) -> CallReport:
        """Place a call from local directory number ``calling`` and hang up after ``hold`` s."""
        report = await self._place_call(calling, dialled, hold)
        self._call_ended(report)
        return report

    def _call_ended(self, report: CallReport) -> None:
        """Hand a finished call's report to the node once, for its call detail record."""
        if report.recorded or report.ended is None:
            return
        report.recorded = True
        if self._on_call_ended is not None:
            self._on_call_ended(report)

    async def _place_call(self, calling: str, dialled: str, hold: float) -> CallReport:
        snapshot = self._snapshot()
        call_id = f"{secrets.token_hex(12)}@{self._node.address}"
        report = CallReport(self._node.name, call_id, "outbound", calling, dialled)
        self._keep(report)
        line = snapshot.directory_number(calling)
        if line is None:
            report.finish(
                "failed",
                status=404,
                reason=_(
                    "Directory number {number} is not configured on node {node}; "
                    "add it before placing calls from it."
                ).format(number=calling, node=self._node.name),
            )
            return report
        analysis = snapshot.analyzer.analyze(dialled, snapshot.css_partitions(line.css))
        report.digit_analysis = self._describe_analysis(calling, analysis)
        self._trace_analysis(calling, analysis)
        matched = analysis.matched
        if matched is None:
            report.finish(
                "failed",
                status=404,
                reason=_(
                    "No route pattern on node {node} matches {digits}; add a route pattern "
                    "for it in a partition of the calling search space."
                ).format(node=self._node.name, digits=dialled),
            )
            return report
        trunks = snapshot.target_trunks(matched.target)
        if not trunks:
            report.finish(
                "failed",
                reason=_(
                    "{digits} is a directory number on this node; calls between local "
                    "phones are not placed over a trunk."
                ).format(digits=dialled),
            )
            return report
        called = transform_called(matched, dialled)
        for index, trunk in enumerate(trunks):
            if index:
                self._trace.info(
                    "DigitAnalysis",
                    "Route list %s: trunk %s failed (%s); trying trunk %s",
                    matched.target[1],
                    trunks[index - 1].name,
                    report.reason,
                    trunk.name,
                )
                report.restart()
            retry = await self._call_over_trunk(report, trunk, hold, called)
            report.attempts.append(
                {"trunk": trunk.name, "state": report.state, "reason": report.reason}
            )
            if not retry:
                break
        return report

    async def _call_over_trunk(
        self, report: CallReport, trunk: TrunkConfig, hold: float, called: str
    ) -> bool:
        """Place the call on ``trunk``; return whether the next trunk of a route list may try.

        The next trunk tries after the trunk cannot be reached, the INVITE gets no
        final response, or it gets 503 or 408, as route lists in call managers do.
        """
        report.trunk = trunk.name
        try:
            connection = await self._trunks.connection_for(trunk)
        except TrunkUnavailable as exc:
            report.failed_check = exc.check
            report.finish("failed", status=503, reason=str(exc))
            return True
        self._describe_connection(report, connection)
        leg = trunk_leg(trunk, connection)
        report.signalling_encrypted = leg.security == "Encrypted"
        phone = self.phone(report.calling)
        offer = phone.make_offer(srtp=leg.keys_allowed)
        invite = self._build_invite(report, connection, offer, called)
        if leg.transmit_security:
            invite.headers.add("Call-Info", f"<{CALL_INFO_URN}>;security={leg.security}")
        try:
            response = await asyncio.wait_for(
                self._stack.send_request(invite, connection), CALL_SETUP_TIMEOUT
            )
            authorized = self._authorize(trunk, invite, response, connection)
            if authorized is not None:
                invite = authorized
                response = await asyncio.wait_for(
                    self._stack.send_request(invite, connection), CALL_SETUP_TIMEOUT
                )
        except TimeoutError:
            self._stack.cancel(invite)
            report.failed_check = "INVITE timeout"
            report.finish(
                "failed",
                status=408,
                reason=_(
                    "The INVITE to trunk {trunk} got no final response within {seconds:.0f} s."
                ).format(trunk=trunk.name, seconds=CALL_SETUP_TIMEOUT),
            )
            return True
        except RequestTimedOut:
            report.failed_check = "INVITE timeout"
            report.finish(
                "failed",
                status=408,
                reason=_("Trunk {trunk}: the far end did not respond to the INVITE.").format(
                    trunk=trunk.name
                ),
            )
            return True
        except RequestFailed as exc:
            report.failed_check = "connection closed by the far end"
            report.finish(
                "failed",
                status=503,
                reason=_(
                    "Trunk {trunk}: the far end closed the TLS connection without answering "
                    "the INVITE ({error}). A node closes a trunk connection when one of its "
                    "checks fails (certificate chain, X.509 subject name, source address); "
                    "the far node's trace names the check. This node presented {own}."
                ).format(
                    trunk=trunk.name,
                    error=connection.close_reason or exc,
                    own=self._own_certificate(),
                ),
            )
            return True
        if response.status_code >= 300:
            report.finish("failed", status=response.status_code, reason=response.reason)
            return response.status_code in FAILOVER_STATUSES
        dialog = Dialog.from_uac(invite, response)
        active = _ActiveDialog(dialog, connection, report, asyncio.Event())
        self._dialogs[dialog.dialog_id] = active
        ack = dialog.create_ack(invite.cseq.number, via=self._via(connection))
        self._stack.send_stateless(ack, connection)
        report.srtp_suite = phone.accept_answer(response.body)
        report.far_security = security_from_call_info(response)
        self._mark_connected(report, leg)
        active.media = await phone.start_media(offer, response.body)
        try:
            await asyncio.wait_for(active.hung_up.wait(), hold)
        except TimeoutError:
            self._stop_media(active)
            await self._hang_up(active)
        finally:
            self._stop_media(active)
            self._dialogs.pop(dialog.dialog_id, None)
        return False

    @staticmethod
    def _stop_media(active: _ActiveDialog) -> None:
        """Stop the call's RTP stream and record its packet counts in the report."""
        if active.media is not None:
            active.report.media = active.media.stop()
            active.media = None

    async def _hang_up(self, active: _ActiveDialog, *, stopping: bool = False) -> None:
        """Send BYE in the dialog and record how the call ended."""
        bye = active.dialog.create_request("BYE", via=self._via(active.connection))
        timeout = STOP_BYE_TIMEOUT if stopping else INVITE_TIMEOUT
        try:
            response = await asyncio.wait_for(
                self._stack.send_request(bye, active.connection), timeout
            )
        except (RequestFailed, TimeoutError) as exc:
            if stopping:
                reason = _("The node stopped; the far end did not answer its BYE.")
                active.report.finish("ended", reason=reason)
                return
            active.report.finish(
                "failed", reason=_("BYE got no response: {error}").format(error=exc)
            )
            return
        if response.status_code >= 300:
            active.report.finish("failed", status=response.status_code, reason=response.reason)
            return
        reason = _("BYE sent because the node stopped") if stopping else "BYE"
        active.report.finish("cleared", status=response.status_code, reason=reason)

    async def ping(self, trunk: TrunkConfig) -> tuple[str, str]:
        """Send OPTIONS over ``trunk``; return its status, as the trunk list shows, and why.

        Any final response means the far end is alive, so the trunk is "In
        Service" unless it answered 408 or 503; no connection or no answer makes
        it "Out of Service" with the reason.
        """
        try:
            connection = await self._trunks.connection_for(trunk)
        except TrunkUnavailable as exc:
            return OUT_OF_SERVICE, str(exc)
        remote_host, remote_port = connection.remote
        uri = SipUri.parse(f"sip:{remote_host}:{remote_port}{transport_param(connection)}")
        headers = Headers()
        headers.add("Via", str(self._via(connection)))
        headers.add("Max-Forwards", "70")
        headers.add(
            "From", f"<sip:{self._node.name}@{self._node.address}>;tag={secrets.token_hex(6)}"
        )
        headers.add("To", f"<sip:{remote_host}>")
        headers.add("Call-ID", f"{secrets.token_hex(12)}@{self._node.address}")
        headers.add("CSeq", "1 OPTIONS")
        headers.add("User-Agent", "tlstrunk")
        request = Request("OPTIONS", uri, headers)
        try:
            response = await asyncio.wait_for(
                self._stack.send_request(request, connection), OPTIONS_TIMEOUT
            )
        except (RequestFailed, TimeoutError) as exc:
            reason = connection.close_reason or str(exc) or _("no response")
            if connection.reliable and connection.is_open:
                # A connection with no response to OPTIONS is dead: close it, so the
                # next call or ping goes through the trunk's destinations in order.
                connection.close("OPTIONS got no response")
            return OUT_OF_SERVICE, _("OPTIONS got no response: {reason}").format(reason=reason)
        if response.status_code in FAILOVER_STATUSES:
            return OUT_OF_SERVICE, f"{response.status_code} {response.reason}"
        return IN_SERVICE, f"{response.status_code} {response.reason}"

    def _build_invite(
        self, report: CallReport, connection: SipChannel, offer: bytes, called: str
    ) -> Request:
        remote_host, remote_port = connection.remote
        uri = SipUri.parse(f"sip:{called}@{remote_host}:{remote_port}{transport_param(connection)}")
        local_tag = secrets.token_hex(6)
        headers = Headers()
        headers.add("Via", str(self._via(connection)))
        headers.add("Max-Forwards", "70")
        headers.add(
            "From",
            f'"{report.calling}" <sip:{report.calling}@{self._node.address}>;tag={local_tag}',
        )
        headers.add("To", f"<sip:{called}@{remote_host}>")
        headers.add("Call-ID", report.call_id)
        headers.add("CSeq", "101 INVITE")
        headers.add("Contact", self._contact(report.calling, connection))
        headers.add("Allow", ALLOWED_METHODS)
        headers.add("User-Agent", "tlstrunk")
        headers.add("Content-Type", "application/sdp")
        return Request("INVITE", uri, headers, offer)

    # -- inbound requests -------------------------------------------------------

    def on_request(
        self, request: Request, connection: SipChannel, transaction: ServerTransaction | None
    ) -> None:
        """Handle a new request from the transaction layer."""
        if transaction is None:
            if not self._bridge.on_in_dialog(request, None):
                self._on_ack(request)
            return
        method = request.method
        if method == "CANCEL":
            if not self._bridge.on_cancel(request, transaction):
                self._on_cancel(request, transaction)
            return
        if request.to.tag is not None and self._bridge.on_in_dialog(request, transaction):
            return
        if method == "INVITE" and request.to.tag is None and request.max_forwards == 0:
            self._stack.respond(transaction, make_response(request, 483, to_tag=_tag()))
            return
        if connection.phone_listener and request.to.tag is None:
            self._on_phone_request(request, connection, transaction)
            return
        if self._refused_by_profile(request, connection, transaction):
            return
        if request.to.tag is None and self._challenged_on_trunk(request, connection, transaction):
            return
        if method == "INVITE" and request.to.tag is None:
            self._spawn(self._answer_invite(request, connection, transaction))
        elif method == "BYE":
            self._on_bye(request, transaction)
        elif method == "OPTIONS":
            response = make_response(request, 200)
            response.headers.add("Allow", ALLOWED_METHODS)
            self._stack.respond(transaction, response)
        elif method == "INVITE":
            self._on_reinvite(request, transaction)
        else:
            response = make_response(request, 405)
            response.headers.add("Allow", ALLOWED_METHODS)
            self._stack.respond(transaction, response)

    def _refused_by_profile(
        self, request: Request, connection: SipChannel, transaction: ServerTransaction
    ) -> bool:
        trunk = self._snapshot().trunks.get(connection.trunk_name or "")
        if trunk is None:
            return False
        refusal = profile_refusal(request, trunk.profile)
        if refusal is None:
            return False
        self._trace.warning(
            "SIPHandler", "%s", refusal_explanation(refusal, request, trunk.profile.name)
        )
        response = make_response(
            request, refusal.status, refusal.reason, to_tag=secrets.token_hex(6)
        )
        self._stack.respond(transaction, response)
        return True

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_invite(
        self, request: Request, connection: SipChannel, transaction: ServerTransaction
    ) -> None:
        snapshot = self._snapshot()
        called = request.uri.user or ""
        calling = request.from_.uri.user or ""
        report = CallReport(self._node.name, request.call_id, "inbound", calling, called)
        report.trunk = connection.trunk_name
        self._keep(report)
        self._describe_connection(report, connection)
        self._stack.respond(transaction, make_response(request, 100))
        trunk = snapshot.trunks.get(connection.trunk_name) if connection.trunk_name else None
        if trunk is None:
            self._reject(report, transaction, request, 403, "No trunk for this connection")
            return
        analysis = snapshot.analyzer.analyze(called, snapshot.css_partitions(trunk.css))
        report.digit_analysis = self._describe_analysis(calling, analysis)
        self._trace_analysis(calling, analysis)
        matched = analysis.matched
        report.far_security = security_from_call_info(request)
        if matched is None:
            self._reject(report, transaction, request, 404, "Not Found")
            return
        leg = trunk_leg(trunk, connection)
        if self._needs_bridge(snapshot, matched):
            await self._bridge_call(report, request, transaction, leg, calling, matched, called)
            return
        await self._answer_virtually(report, request, transaction, leg, matched.target[1])

    async def _answer_virtually(
        self,
        report: CallReport,
        request: Request,
        transaction: ServerTransaction,
        leg: Leg,
        number: str,
    ) -> None:
        """Accept the INVITE with the virtual phone of directory number ``number``."""
        connection = leg.channel
        report.signalling_encrypted = leg.security == "Encrypted"
        phone = self.phone(number)
        srtp = leg.keys_allowed
        delayed_offer = not request.body
        try:
            # A delayed-offer INVITE has no SDP: the 200 carries our offer, the ACK the answer.
            answer = (
                MediaAnswer(phone.make_offer(srtp=srtp), None)
                if delayed_offer
                else phone.make_answer(request.body, srtp=srtp)
            )
        except MediaRejected as exc:
            self._reject(report, transaction, request, 488, str(exc))
            return
        local_tag = secrets.token_hex(6)
        self._pending_invites[request.call_id] = transaction
        self._stack.respond(transaction, make_response(request, 180, to_tag=local_tag))
        await asyncio.sleep(RING_DELAY)
        if self._pending_invites.pop(request.call_id, None) is None:
            report.finish("cancelled", status=487, reason="Request Terminated")
            self._call_ended(report)
            return
        ok = make_response(
            request, 200, to_tag=local_tag, body=answer.body, content_type="application/sdp"
        )
        ok.headers.add("Contact", self._contact(phone.number, connection))
        ok.headers.add("Allow", ALLOWED_METHODS)
        dialog = Dialog.from_uas(request, local_tag)
        active = _ActiveDialog(dialog, connection, report, asyncio.Event())
        active.local_sdp = answer.body
        if leg.transmit_security:
            ok.headers.add("Call-Info", f"<{CALL_INFO_URN}>;security={leg.security}")
        if delayed_offer:
            active.awaiting_answer = leg
        self._dialogs[dialog.dialog_id] = active
        self._stack.respond(transaction, ok)
        report.srtp_suite = answer.srtp_suite
        self._mark_connected(report, leg)
        if not delayed_offer:
            active.media = await phone.start_media(answer.body, request.body)

    def _reject(
        self,
        report: CallReport,
        transaction: ServerTransaction,
        request: Request,
        status: int,
        reason: str,
    ) -> None:
        self._stack.respond(
            transaction, make_response(request, status, reason, to_tag=secrets.token_hex(6))
        )
        report.finish("failed", status=status, reason=reason)
        self._call_ended(report)

    def _on_ack(self, request: Request) -> None:
        active = self._dialogs.get(self._incoming_key(request))
        if active is None:
            return
        self._trace.detailed("SIPHandler", "ACK confirms dialog %s", request.call_id)
        leg = active.awaiting_answer
        if leg is not None:
            active.awaiting_answer = None
            active.report.srtp_suite = VirtualPhone.accept_answer(request.body)
            self._mark_connected(active.report, leg)
            self._spawn(self._start_answered_media(active, request.body))

    async def _start_answered_media(self, active: _ActiveDialog, remote_sdp: bytes) -> None:
        phone = self.phone(active.report.called)
        active.media = await phone.start_media(active.local_sdp, remote_sdp)

    def _on_bye(self, request: Request, transaction: ServerTransaction) -> None:
        active = self._dialogs.pop(self._incoming_key(request), None)
        if active is None:
            self._stack.respond(transaction, make_response(request, 481))
            return
        self._stack.respond(transaction, make_response(request, 200))
        self._stop_media(active)
        active.report.finish("cleared", status=200, reason="BYE from the far end")
        if active.report.direction == "inbound":
            self._call_ended(active.report)
        active.hung_up.set()

    def _on_cancel(self, request: Request, transaction: ServerTransaction) -> None:
        pending = self._pending_invites.pop(request.call_id, None)
        if pending is None:
            self._stack.respond(transaction, make_response(request, 481))
            return
        self._stack.respond(transaction, make_response(request, 200))
        self._stack.respond(
            pending, make_response(pending_request(pending), 487, to_tag=secrets.token_hex(6))
        )

    def _on_reinvite(self, request: Request, transaction: ServerTransaction) -> None:
        active = self._dialogs.get(self._incoming_key(request))
        if active is None:
            self._stack.respond(transaction, make_response(request, 481))
            return
        # NOTE: a re-INVITE is refused until session refresh and hold are supported.
        self._stack.respond(transaction, make_response(request, 488))

    @staticmethod
    def _incoming_key(request: Request) -> tuple[str, str, str]:
        return (request.call_id, request.to.tag or "", request.from_.tag or "")

    # -- bridged calls: registered phones and tandem trunks ---------------------------

    def _needs_bridge(self, snapshot: ConfigSnapshot, matched: RouteMatch[RouteTarget]) -> bool:
        """Return whether the call goes to a real SIP leg rather than a virtual phone."""
        kind, name = matched.target
        return kind != "dn" or bool(snapshot.phones_for_number(name))

    async def _bridge_call(
        self,
        report: CallReport,
        request: Request,
        transaction: ServerTransaction,
        a_leg: Leg,
        calling: str,
        matched: RouteMatch[RouteTarget],
        dialled: str,
    ) -> None:
        """Send the call to the registered phone or the trunks that digit analysis chose."""
        snapshot = self._snapshot()
        kind, name = matched.target
        targets: list[Target] = []
        if kind == "dn":
            bindings = self.registrar.bindings(name)
            phone = snapshot.phones.get(bindings[0].phone) if bindings else None
            if phone is None:
                reason = _(
                    "Directory number {number} has a SIP phone, but no phone is registered "
                    "for it now."
                ).format(number=name)
                self._reject(report, transaction, request, 480, reason)
                return
            line = snapshot.directory_number_in(name, matched.partition)
            timeout = float(line.no_answer_timeout) if line else DEFAULT_NO_ANSWER_TIMEOUT
            targets.append(phone_target(phone, bindings[0], timeout))
            report.direction = "inbound" if a_leg.trunk else "local"
        else:
            trunks = snapshot.target_trunks(matched.target)
            called = transform_called(matched, dialled)
            failover = len(trunks) > 1
            targets = [
                trunk_target(t, called, self._connect_trunk, failover=failover) for t in trunks
            ]
            report.trunk = trunks[0].name if trunks else None
            report.direction = "tandem" if a_leg.trunk else "outbound"
            for trunk, target in zip(trunks, targets, strict=True):
                target.authorize = self._trunk_authorizer(trunk)
        call = BridgedCall(report, request, transaction, a_leg, calling)
        await self._bridge.connect(call, targets)

    async def _connect_trunk(self, trunk: TrunkConfig) -> SipChannel:
        return await self._trunks.connection_for(trunk)

    def _trunk_authorizer(
        self, trunk: TrunkConfig
    ) -> Callable[[Request, Response, SipChannel], Request | None]:
        return lambda invite, response, channel: self._authorize(trunk, invite, response, channel)

    def _authorize(
        self, trunk: TrunkConfig, request: Request, response: Response, channel: SipChannel
    ) -> Request | None:
        """Build the request that responds to the far end's 401 or 407 with the outbound user."""
        if response.status_code not in (401, 407) or not trunk.outbound_digest_user:
            return None
        snapshot = self._snapshot()
        user = trunk.outbound_digest_user

        def ha1_for(realm: str, algorithm: str) -> str | None:
            found = snapshot.digest_user(user, realm)
            if found is None:
                return None
            return found.ha1_sha256 if algorithm.upper() == "SHA-256" else found.ha1_md5

        authorized = DigestClient(user, ha1_for).authorize(request, response)
        if authorized is None:
            self._trace.warning(
                "SIPHandler",
                "Trunk %s: the far end asked for digest credentials (%d) but digest user %s "
                "has none for its realm",
                trunk.name,
                response.status_code,
                user,
            )
            return None
        authorized.headers.set("Via", str(self._via(channel)))
        return authorized

    def _challenged_on_trunk(
        self, request: Request, connection: SipChannel, transaction: ServerTransaction
    ) -> bool:
        """Challenge an out-of-dialog request on a trunk whose profile enables digest."""
        trunk = self._snapshot().trunks.get(connection.trunk_name or "")
        if trunk is None or not trunk.profile.enable_digest_authentication:
            return False
        if request.method in ("ACK", "CANCEL"):
            return False
        server = self.authenticator.server(trunk.profile.nonce_validity_time * 60.0)
        now = time.time()
        result = server.verify(request, self.authenticator.lookup_ha1, now, proxy=True)
        if result.outcome is AuthOutcome.OK and result.username == trunk.inbound_digest_user:
            return False
        if result.outcome in (AuthOutcome.MISSING, AuthOutcome.STALE):
            stale = result.outcome is AuthOutcome.STALE
            self._stack.respond(
                transaction, server.challenge(request, now, proxy=True, stale=stale)
            )
            return True
        reason = result.reason
        if result.outcome is AuthOutcome.OK:
            reason = _("Trunk {trunk} takes digest user {expected}, not {user}.").format(
                trunk=trunk.name, expected=trunk.inbound_digest_user, user=result.username
            )
        self._trace.warning(
            "SIPHandler", "%s on trunk %s refused: %s", request.method, trunk.name, reason
        )
        self._stack.respond(transaction, make_response(request, 403, to_tag=_tag()))
        return True

    def _on_phone_request(
        self, request: Request, connection: SipChannel, transaction: ServerTransaction
    ) -> None:
        method = request.method
        if method == "REGISTER":
            self._stack.respond(transaction, self.registrar.register(request, connection))
        elif method == "INVITE":
            self._spawn(self._phone_invite(request, connection, transaction))
        elif method == "OPTIONS":
            response = make_response(request, 200, to_tag=_tag())
            response.headers.add("Allow", PHONE_METHODS)
            self._stack.respond(transaction, response)
        else:
            response = make_response(request, 405, to_tag=_tag())
            response.headers.add("Allow", PHONE_METHODS)
            self._stack.respond(transaction, response)

    def _identify_caller(
        self, request: Request, connection: SipChannel
    ) -> tuple[PhoneConfig | None, Response | None]:
        """Return the phone that sent an INVITE, or the response refusing it.

        A phone with a digest user must answer a 407 challenge; the call then
        comes from that phone's line whatever the From header says. A phone
        without one must have registered over this connection (or from this
        UDP address).
        """
        snapshot = self._snapshot()
        number = request.from_.uri.user or ""
        phones = snapshot.phones_for_number(number)
        binding = self.registrar.binding_for_channel(number, connection)
        if binding is not None:
            phone = snapshot.phones.get(binding.phone)
            if phone is not None and not phone.digest_user:
                return phone, None
        if not any(p.digest_user for p in phones) and binding is None:
            return None, self._refusal(
                request,
                403,
                _(
                    "The INVITE from {number} did not come from a registered phone; the "
                    "phone must register on this node before it calls."
                ).format(number=number or "<empty>"),
            )
        source = connection.remote[0]
        if self.authenticator.blocked(source):
            reason = _("Too many failed digest checks from {address}; wait a minute.").format(
                address=source
            )
            return None, self._refusal(request, 403, reason)
        server = self.authenticator.server(self.registrar.nonce_validity, PHONE_ALGORITHMS)
        now = time.time()
        result = server.verify(request, self.authenticator.lookup_ha1, now, proxy=True)
        if result.outcome in (AuthOutcome.MISSING, AuthOutcome.STALE):
            stale = result.outcome is AuthOutcome.STALE
            return None, server.challenge(request, now, proxy=True, stale=stale)
        if result.outcome is not AuthOutcome.OK:
            self.authenticator.note_failure(source)
            return None, self._refusal(request, 403, result.reason)
        for phone in snapshot.phones.values():
            if phone.digest_user == result.username:
                return phone, None
        return None, self._refusal(
            request,
            403,
            _("Digest user {user} belongs to no phone on this node.").format(user=result.username),
        )

    def _refusal(self, request: Request, status: int, reason: str) -> Response:
        self._trace.warning("SIPHandler", "%s refused with %d: %s", request.method, status, reason)
        response = make_response(request, status, to_tag=_tag())
        response.headers.add("Warning", f'399 tlstrunk "{warning_text(reason)}"')
        return response

    async def _phone_invite(
        self, request: Request, connection: SipChannel, transaction: ServerTransaction
    ) -> None:
        phone, refusal = self._identify_caller(request, connection)
        if refusal is not None or phone is None:
            if refusal is not None:
                self._stack.respond(transaction, refusal)
            return
        snapshot = self._snapshot()
        calling = phone.directory_number
        called = request.uri.user or ""
        report = CallReport(self._node.name, request.call_id, "outbound", calling, called)
        self._keep(report)
        self._stack.respond(transaction, make_response(request, 100))
        line = snapshot.directory_number_in(calling, phone.partition)
        css = line.css if line is not None else None
        analysis = snapshot.analyzer.analyze(called, snapshot.css_partitions(css))
        report.digit_analysis = self._describe_analysis(calling, analysis)
        self._trace_analysis(calling, analysis)
        matched = analysis.matched
        if matched is None:
            reason = _(
                "No route pattern or directory number in calling search space {css} "
                "matches {digits}."
            ).format(css=css or "<None>", digits=called)
            self._reject(report, transaction, request, 404, reason)
            return
        leg = phone_leg(phone, calling, connection)
        if self._needs_bridge(snapshot, matched):
            await self._bridge_call(report, request, transaction, leg, calling, matched, called)
            return
        report.direction = "local"
        await self._answer_virtually(report, request, transaction, leg, matched.target[1])

    def connection_closed(self, connection: SipChannel) -> None:
        """Forget the registrations and end the bridged calls that used ``connection``."""
        self.registrar.connection_closed(connection)
        self._bridge.connection_closed(connection)

    # -- helpers ------------------------------------------------------------------

    def _port(self, connection: SipChannel) -> int:
        if connection.phone_listener:
            return connection.local[1]
        return self._node.sip_ports.get(connection.transport, connection.local[1])

    def _via(self, connection: SipChannel) -> Via:
        # RFC 3581: ask a UDP peer to answer to the port the request came from.
        rport = ";rport" if connection.transport == "UDP" else ""
        return Via.parse(
            f"SIP/2.0/{connection.transport} {self._node.address}:{self._port(connection)}"
            f";branch={new_branch()}{rport}"
        )

    def _contact(self, number: str, connection: SipChannel) -> str:
        host = f"{self._node.address}:{self._port(connection)}"
        return f"<sip:{number}@{host}{transport_param(connection)}>"

    def _describe_connection(self, report: CallReport, connection: SipChannel) -> None:
        tls = connection.tls
        report.connection = {
            "id": connection.id,
            "direction": connection.direction,
            "local": f"{connection.local[0]}:{connection.local[1]}",
            "remote": f"{connection.remote[0]}:{connection.remote[1]}",
            "transport": "TLS over TCP" if connection.transport == "TLS" else connection.transport,
            "tls_version": tls.version if tls else None,
            "cipher": tls.cipher if tls else None,
        }
        peer = self._trunks.peers.get(connection.id)
        if peer is not None:
            report.peer_certificate = {
                "subject": peer.subject,
                "issuer": peer.issuer,
                "serial": peer.serial,
                "san_dns": list(peer.dns_names),
                "matched_name": peer.matched_name,
            }

    def _mark_connected(self, report: CallReport, leg: Leg) -> None:
        report.state = "connected"
        report.answered = time.time()
        report.secure = report.signalling_encrypted and report.srtp_suite is not None
        if report.secure:
            report.security = _("secure: TLS signalling (Encrypted) and SRTP {suite}").format(
                suite=report.srtp_suite
            )
        elif report.signalling_encrypted:
            report.security = _("not secure: TLS signalling but RTP media without SRTP keys")
        else:
            report.security = _("not secure: {leg} is {level}, so no SRTP keys are sent").format(
                leg=leg.label, level=leg.security
            )
        self._trace.info(
            "SIPHandler",
            "Call %s connected: %s -> %s over %s, %s",
            report.call_id,
            report.calling,
            report.called,
            leg.label,
            report.security,
        )

    @staticmethod
    def _describe_analysis(
        calling: str, analysis: AnalysisResult[RouteTarget]
    ) -> dict[str, object]:
        matched = analysis.matched
        return {
            "calling": calling,
            "dialed": analysis.digits,
            "pattern": matched.pattern.text if matched else None,
            "partition": matched.partition if matched else None,
            "target": list(matched.target) if matched else None,
            "candidates": [c.pattern.text for c in analysis.candidates],
        }

    def _trace_analysis(self, calling: str, analysis: AnalysisResult[RouteTarget]) -> None:
        matched = analysis.matched
        self._trace.info(
            "DigitAnalysis",
            "Digit analysis: CallingPartyNumber=%s DialingPattern=%s "
            "FullyQualifiedCalledPartyNumber=%s Partition=%s Target=%s",
            calling,
            matched.pattern.text if matched else "<none>",
            analysis.digits,
            (matched.partition or "<None>") if matched else "-",
            ":".join(matched.target) if matched else "-",
        )

    async def stop(self) -> None:
        """Hang up every connected call with BYE, then cancel calls still being answered."""
        await self._bridge.stop(STOP_BYE_TIMEOUT)
        active = list(self._dialogs.values())
        self._dialogs.clear()
        for call in active:
            self._stop_media(call)
        if active:
            await asyncio.gather(
                *(self._hang_up(a, stopping=True) for a in active), return_exceptions=True
            )
            for call in active:
                call.hung_up.set()
                if call.report.direction == "inbound":
                    self._call_ended(call.report)
        for task in list(self._tasks):
            task.cancel()


def pending_request(transaction: ServerTransaction) -> Request:
    """Return the request a server transaction was created for."""
    return transaction.request


def _tag() -> str:
    return secrets.token_hex(6)
