"""Run pjsua2 as a third-party SIP peer over mutual TLS and report events as JSON lines.

The interop tests start this script in a subprocess so that pjsua2's threads and
global library state never live inside the pytest process. Subcommands:

``probe``
    Create the library and a TLS transport on 127.0.0.1, then report whether
    TLS support is compiled in.
``call``
    Act as a trunk peer that places one call: bind the TLS transport to a chosen
    loopback address, present a client certificate, verify the server
    certificate, wait for 200 OK (CONFIRMED), hold the call, send BYE. The TLS
    connection leaves from ``--local-address`` with an ephemeral source port;
    ``--local-port`` only sets this peer's own listening port.
``answer``
    Act as an endpoint that receives calls: listen with TLS, require and verify
    the client certificate, answer each INVITE with 180 and then 200, and report
    each call until the caller hangs up.

Each event is one JSON object per line on stdout, for example
``{"event": "call_state", "state": "CONFIRMED", "last_status": 200, ...}``.
The last line is always ``{"event": "result", "ok": ..., "detail": ...}``. The
exit status is 0 when the scenario succeeded, 1 when it failed or timed out,
2 when pjsua2 cannot be imported and 3 when the library or transport could not
be set up. pjsua2's own log goes to stderr, or to the file given by ``--log``.

pjsua2 runs with no worker threads: the main loop polls ``libHandleEvents`` so
that every callback runs in the main Python thread. Every wait is bounded by
``--timeout``, except that a BYE sent at the end gets up to 5 more seconds.
SIGTERM or SIGINT ends the scenario early, with a result line as usual.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

try:
    import pjsua2 as pj
except ImportError as exc:  # reported as an event so the caller can skip cleanly
    print(json.dumps({"event": "result", "ok": False, "detail": f"import pjsua2 failed: {exc}"}))
    sys.exit(2)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_SETUP_FAILED = 3

POLL_MS = 20
LOG_LEVEL = 4
CONSOLE_LOG_LEVEL = 3

TRANSPORT_STATES = {
    pj.PJSIP_TP_STATE_CONNECTED: "CONNECTED",
    pj.PJSIP_TP_STATE_DISCONNECTED: "DISCONNECTED",
    pj.PJSIP_TP_STATE_SHUTDOWN: "SHUTDOWN",
    pj.PJSIP_TP_STATE_DESTROY: "DESTROY",
}
CALL_STATES = {
    pj.PJSIP_INV_STATE_NULL: "NULL",
    pj.PJSIP_INV_STATE_CALLING: "CALLING",
    pj.PJSIP_INV_STATE_INCOMING: "INCOMING",
    pj.PJSIP_INV_STATE_EARLY: "EARLY",
    pj.PJSIP_INV_STATE_CONNECTING: "CONNECTING",
    pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
    pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED",
}
PROTOCOL_BITS = (
    (pj.PJ_SSL_SOCK_PROTO_TLS1, "TLSv1"),
    (pj.PJ_SSL_SOCK_PROTO_TLS1_1, "TLSv1.1"),
    (pj.PJ_SSL_SOCK_PROTO_TLS1_2, "TLSv1.2"),
    (pj.PJ_SSL_SOCK_PROTO_TLS1_3, "TLSv1.3"),
)
MEDIA_STATUSES = {
    pj.PJSUA_CALL_MEDIA_NONE: "NONE",
    pj.PJSUA_CALL_MEDIA_ACTIVE: "ACTIVE",
    pj.PJSUA_CALL_MEDIA_LOCAL_HOLD: "LOCAL_HOLD",
    pj.PJSUA_CALL_MEDIA_REMOTE_HOLD: "REMOTE_HOLD",
    pj.PJSUA_CALL_MEDIA_ERROR: "ERROR",
}


_events = sys.stdout


def emit(event: str, **fields: Any) -> None:
    """Write one event as a JSON line on the event stream and flush it at once."""
    print(json.dumps({"event": event, **fields}, default=str), file=_events, flush=True)


def reserve_stdout_for_events() -> None:
    """Point file descriptor 1 at stderr, keeping the original stdout for events only.

    pjlib writes its console log to the C stdout, which would mix with the JSON
    lines, so the C library gets stderr and the events get a private copy.
    """
    global _events
    sys.stdout.flush()
    events_fd = os.dup(1)
    os.dup2(2, 1)
    _events = os.fdopen(events_fd, "w", buffering=1, encoding="utf-8")
    sys.stdout = sys.stderr


# ---------------------------------------------------------------------------
# pjsua2 subclasses: callbacks turn into events and into state on PeerState
# ---------------------------------------------------------------------------


@dataclass
class CallRecord:
    """What one call went through, as seen by this peer."""

    call: PeerCall
    states: list[str] = field(default_factory=list)
    confirmed: bool = False
    disconnected: bool = False
    last_status: int = 0
    reason: str = ""
    answer_at: float | None = None


@dataclass
class PeerState:
    """State shared between the pjsua2 callbacks and the main loop."""

    calls: list[CallRecord] = field(default_factory=list)
    stop_requested: bool = False
    ring_seconds: float = 0.2


class PeerEndpoint(pj.Endpoint):  # type: ignore[misc]
    """Endpoint that reports TLS transport state changes."""

    def onTransportState(self, prm: Any) -> None:
        state = TRANSPORT_STATES.get(prm.state, str(prm.state))
        fields: dict[str, Any] = {"state": state, "last_error": prm.lastError}
        tls = prm.tlsInfo
        if not tls.isEmpty():
            fields.update(describe_tls(tls))
        emit("transport", **fields)
        if not tls.isEmpty():
            emit("tls", **describe_tls(tls))


def describe_tls(tls: Any) -> dict[str, Any]:
    """Return the TLS parameters and the certificate verification outcome of a transport."""
    remote = tls.remoteCertInfo
    local = tls.localCertInfo
    return {
        "established": bool(tls.established),
        # NOTE: pjsua2 2.15 fills TlsInfo.protocol with the configured protocol mask,
        # not the negotiated version; the cipher name shows what was negotiated.
        "allowed_protocols": [name for bit, name in PROTOCOL_BITS if tls.protocol & bit],
        "cipher": tls.cipherName,
        "local_addr": tls.localAddr,
        "remote_addr": tls.remoteAddr,
        "verified": tls.verifyStatus == pj.PJ_SSL_CERT_ESUCCESS,
        "verify_status": tls.verifyStatus,
        "verify_messages": list(tls.verifyMsgs),
        "peer_subject": "" if remote.isEmpty() else remote.subjectInfo,
        "peer_cn": "" if remote.isEmpty() else remote.subjectCn,
        "peer_issuer_cn": "" if remote.isEmpty() else remote.issuerCn,
        "local_cn": "" if local.isEmpty() else local.subjectCn,
    }


class PeerCall(pj.Call):  # type: ignore[misc]
    """Call that records its state changes and reports them as events."""

    def __init__(self, account: pj.Account, state: PeerState, call_id: int | None = None) -> None:
        if call_id is None:
            super().__init__(account)
        else:
            super().__init__(account, call_id)
        self.record = CallRecord(call=self)
        state.calls.append(self.record)

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        name = CALL_STATES.get(info.state, info.stateText)
        record = self.record
        record.states.append(name)
        record.last_status = int(info.lastStatusCode)
        record.reason = info.lastReason
        record.confirmed = record.confirmed or name == "CONFIRMED"
        record.disconnected = name == "DISCONNECTED"
        emit(
            "call_state",
            state=name,
            last_status=record.last_status,
            reason=record.reason,
            remote_uri=info.remoteUri,
            local_uri=info.localUri,
            call_id=info.callIdString,
        )

    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()
        media = [
            {"index": m.index, "status": MEDIA_STATUSES.get(m.status, str(m.status))}
            for m in info.media
        ]
        fields: dict[str, Any] = {"media": media}
        try:
            stream = self.getStreamInfo(0)
            fields.update(codec=stream.codecName, remote_rtp=stream.remoteRtpAddress)
        except pj.Error:
            pass
        emit("media", **fields)


class AnsweringAccount(pj.Account):  # type: ignore[misc]
    """Account that rings each incoming INVITE with 180 and schedules the 200."""

    def __init__(self, state: PeerState) -> None:
        super().__init__()
        self.state = state

    def onIncomingCall(self, prm: Any) -> None:
        call = PeerCall(self, self.state, prm.callId)
        rdata = prm.rdata
        via_transport = via_transport_of(rdata.wholeMsg)
        info = call.getInfo()
        emit(
            "incoming_call",
            remote_uri=info.remoteUri,
            local_uri=info.localUri,
            src_address=rdata.srcAddress,
            via_transport=via_transport,
            tls=via_transport == "TLS",
            call_id=info.callIdString,
        )
        ring = pj.CallOpParam()
        ring.statusCode = 180
        call.answer(ring)
        call.record.answer_at = time.monotonic() + self.state.ring_seconds


def via_transport_of(message: str) -> str:
    """Return the transport token of the top Via header, such as ``TLS``, or ``""``."""
    for line in message.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() in ("via", "v"):
            protocol = value.strip().split(" ", 1)[0]
            return protocol.rsplit("/", 1)[-1].upper()
    return ""


# ---------------------------------------------------------------------------
# library setup
# ---------------------------------------------------------------------------


def start_library(log_file: str | None) -> PeerEndpoint:
    """Create and start pjsua2 with no worker threads and a null sound device."""
    ep = PeerEndpoint()
    ep.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True
    config.uaConfig.userAgent = "pjsua2-interop-peer"
    config.medConfig.threadCnt = 1
    config.medConfig.noVad = True
    config.logConfig.level = LOG_LEVEL
    config.logConfig.consoleLevel = 0 if log_file else CONSOLE_LOG_LEVEL
    if log_file:
        config.logConfig.filename = log_file
    ep.libInit(config)
    ep.audDevManager().setNullDev()
    return ep


def tls_transport_config(args: argparse.Namespace, address: str, port: int) -> Any:
    """Build a TLS transport config with mutual certificate verification."""
    config = pj.TransportConfig()
    config.boundAddress = address
    config.publicAddress = address
    config.port = port
    tls = config.tlsConfig
    tls.CaListFile = args.ca
    tls.certFile = args.cert
    tls.privKeyFile = args.key
    tls.proto = pj.PJ_SSL_SOCK_PROTO_TLS1_2 | pj.PJ_SSL_SOCK_PROTO_TLS1_3
    tls.verifyServer = True
    tls.verifyClient = True
    tls.requireClientCert = True
    tls.msecTimeout = int(args.tls_timeout * 1000)
    return config


def account_config(user: str, address: str, transport_id: int) -> Any:
    """Build a registrar-less account bound to the TLS transport, with optional SRTP."""
    config = pj.AccountConfig()
    config.idUri = f"sip:{user}@{address}"
    config.sipConfig.transportId = transport_id
    config.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_OPTIONAL
    config.mediaConfig.srtpSecureSignaling = 0
    config.mediaConfig.transportConfig.boundAddress = address
    config.mediaConfig.transportConfig.publicAddress = address
    config.natConfig.iceEnabled = False
    config.natConfig.sdpNatRewriteUse = 0
    config.natConfig.viaRewriteUse = 0
    config.natConfig.contactRewriteUse = 0
    return config


def poll_until(
    ep: PeerEndpoint, state: PeerState, deadline: float, done: Callable[[], bool]
) -> bool:
    """Handle pjsua2 events until ``done()`` is true, a signal arrives or the deadline passes."""
    while not done():
        if state.stop_requested or time.monotonic() >= deadline:
            return False
        ep.libHandleEvents(POLL_MS)
    return True


# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------


def run_probe(ep: PeerEndpoint, args: argparse.Namespace, state: PeerState) -> tuple[bool, str]:
    """Create a TLS transport on 127.0.0.1 to prove that TLS support is compiled in."""
    config = pj.TransportConfig()
    config.boundAddress = "127.0.0.1"
    config.port = 0
    try:
        transport_id = ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, config)
    except pj.Error as exc:
        return False, f"pjsua2 has no usable TLS transport: {exc.info()}"
    info = ep.transportGetInfo(transport_id)
    emit("ready", version=ep.libVersion().full, transport=info.typeName, local=info.localName)
    return True, "TLS transport created"


def run_call(ep: PeerEndpoint, args: argparse.Namespace, state: PeerState) -> tuple[bool, str]:
    """Place one call, hold it for ``--hold`` seconds after CONFIRMED, then hang up."""
    deadline = time.monotonic() + args.timeout
    transport_config = tls_transport_config(args, args.local_address, args.local_port)
    transport_id = ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, transport_config)
    info = ep.transportGetInfo(transport_id)
    emit("ready", role="call", transport=info.typeName, local=info.localName)

    account = pj.Account()
    account.create(account_config(args.from_user, args.local_address, transport_id))
    call = PeerCall(account, state)
    op = pj.CallOpParam(True)
    op.opt.audioCount = 1
    op.opt.videoCount = 0
    try:
        call.makeCall(args.target, op)
    except pj.Error as exc:
        return finish_account(ep, account, False, f"makeCall failed: {exc.info()}")

    record = call.record
    poll_until(ep, state, deadline, lambda: record.confirmed or record.disconnected)
    if record.confirmed and not record.disconnected:
        hold_until = min(deadline, time.monotonic() + args.hold)
        poll_until(ep, state, hold_until, lambda: record.disconnected)
        if not record.disconnected:
            emit("hangup", by="local")
            call.hangup(pj.CallOpParam(True))
            # the BYE gets its own short grace period even when the deadline is near
            poll_until(
                ep, state, max(deadline, time.monotonic() + 5.0), lambda: record.disconnected
            )

    ok, detail = judge_call(record, state)
    if not record.disconnected:
        hangup_quietly(call)
    return finish_account(ep, account, ok, detail)


def judge_call(record: CallRecord, state: PeerState) -> tuple[bool, str]:
    """Return whether a call was confirmed and ended, with a one-line explanation."""
    if not record.confirmed:
        if record.disconnected:
            return False, f"call failed before CONFIRMED: {record.last_status} {record.reason}"
        cause = "stopped by signal" if state.stop_requested else "timed out"
        return False, f"{cause} before CONFIRMED; states {record.states}"
    if not record.disconnected:
        return False, f"call confirmed but did not end in time; states {record.states}"
    return True, f"call confirmed and ended: {record.last_status} {record.reason}"


def run_answer(ep: PeerEndpoint, args: argparse.Namespace, state: PeerState) -> tuple[bool, str]:
    """Answer up to ``--calls`` calls and report each one until the caller hangs up."""
    deadline = time.monotonic() + args.timeout
    state.ring_seconds = args.ring
    transport_config = tls_transport_config(args, args.listen, args.port)
    transport_id = ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, transport_config)
    info = ep.transportGetInfo(transport_id)
    account = AnsweringAccount(state)
    account.create(account_config(args.user, args.listen, transport_id))
    emit("ready", role="answer", transport=info.typeName, local=info.localName)

    def all_calls_ended() -> bool:
        answer_due_calls(state)
        ended = [r for r in state.calls if r.disconnected]
        return len(ended) >= args.calls and len(ended) == len(state.calls)

    poll_until(ep, state, deadline, all_calls_ended)
    good = [r for r in state.calls if r.confirmed and r.disconnected]
    ok = len(good) >= args.calls
    detail = f"{len(good)} of {args.calls} calls confirmed and ended; {len(state.calls)} received"
    if not ok:
        cause = "stopped by signal" if state.stop_requested else "timed out"
        detail = f"{cause}: {detail}"
    for record in state.calls:
        if not record.disconnected:
            hangup_quietly(record.call)
    return finish_account(ep, account, ok, detail)


def answer_due_calls(state: PeerState) -> None:
    """Send 200 OK for every ringing call whose ring time has passed."""
    now = time.monotonic()
    for record in state.calls:
        if record.answer_at is not None and now >= record.answer_at:
            record.answer_at = None
            if record.disconnected:
                continue
            ok = pj.CallOpParam(True)
            ok.statusCode = 200
            ok.opt.audioCount = 1
            ok.opt.videoCount = 0
            try:
                record.call.answer(ok)
            except pj.Error as exc:
                emit("error", where="answer", detail=exc.info())


def hangup_quietly(call: PeerCall) -> None:
    """Hang up a call that may already be gone, ignoring pjsua2 errors."""
    with contextlib.suppress(pj.Error):
        call.hangup(pj.CallOpParam(True))


def finish_account(
    ep: PeerEndpoint, account: pj.Account, ok: bool, detail: str
) -> tuple[bool, str]:
    """Let pending messages go out, then shut the account down before the library."""
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        ep.libHandleEvents(POLL_MS)
    account.shutdown()
    return ok, detail


# ---------------------------------------------------------------------------
# phone: register at a registrar, then dial or answer
# ---------------------------------------------------------------------------

TRANSPORT_TYPES = {
    "udp": pj.PJSIP_TRANSPORT_UDP,
    "tcp": pj.PJSIP_TRANSPORT_TCP,
    "tls": pj.PJSIP_TRANSPORT_TLS,
}
SRTP_USE = {
    "off": pj.PJMEDIA_SRTP_DISABLED,
    "optional": pj.PJMEDIA_SRTP_OPTIONAL,
    "mandatory": pj.PJMEDIA_SRTP_MANDATORY,
}
TONE_HZ = 440
STATS_INTERVAL = 0.25
UNREGISTER_GRACE = 3.0


@dataclass
class Registration:
    """The latest registration outcome reported by pjsua2, ``code`` 0 until the first."""

    code: int = 0
    reason: str = ""
    expiration: int = 0
    changes: int = 0


class PhoneAccount(pj.Account):  # type: ignore[misc]
    """Account that reports registration changes and handles incoming calls per ``--answer``."""

    def __init__(self, state: PeerState, answer_mode: str) -> None:
        super().__init__()
        self.state = state
        self.answer_mode = answer_mode
        self.registration = Registration()

    def onRegState(self, prm: Any) -> None:
        info = self.getInfo()
        reg = self.registration
        reg.code = int(prm.code)
        reg.reason = prm.reason
        reg.expiration = int(prm.expiration)
        reg.changes += 1
        emit(
            "registration",
            code=reg.code,
            reason=reg.reason,
            expiration=reg.expiration,
            active=bool(info.regIsActive),
            uri=info.uri,
        )

    def onIncomingCall(self, prm: Any) -> None:
        call = PhoneCall(self, self.state, prm.callId)
        info = call.getInfo()
        call.remote_sdp = sdp_of(prm.rdata.wholeMsg)
        emit(
            "incoming_call",
            remote_uri=info.remoteUri,
            local_uri=info.localUri,
            src_address=prm.rdata.srcAddress,
            via_transport=via_transport_of(prm.rdata.wholeMsg),
            call_id=info.callIdString,
            answer=self.answer_mode,
        )
        reply = pj.CallOpParam()
        reply.statusCode = 486 if self.answer_mode == "busy" else 180
        call.answer(reply)
        if self.answer_mode == "auto":
            call.record.answer_at = time.monotonic() + self.state.ring_seconds


class PhoneCall(PeerCall):
    """Call that plays a tone into the stream, tracks RTP counters and reports SRTP use."""

    def __init__(self, account: pj.Account, state: PeerState, call_id: int | None = None) -> None:
        super().__init__(account, state, call_id)
        self.remote_sdp = ""
        self.tone: Any = None
        self.rtp: dict[str, int] = {}
        self.next_sample = 0.0

    def onCallTsxState(self, prm: Any) -> None:
        event = prm.e
        if event.type != pj.PJSIP_EVENT_TSX_STATE:
            return
        source = event.body.tsxState.src
        if event.body.tsxState.type == pj.PJSIP_EVENT_RX_MSG:
            sdp = sdp_of(source.rdata.wholeMsg)
            if sdp:
                self.remote_sdp = sdp

    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()
        fields: dict[str, Any] = {
            "media": [
                {"index": m.index, "status": MEDIA_STATUSES.get(m.status, str(m.status))}
                for m in info.media
            ],
            "srtp": remote_offers_crypto(self.remote_sdp),
        }
        active = any(m.status == pj.PJSUA_CALL_MEDIA_ACTIVE for m in info.media)
        fields["audio_active"] = active
        with contextlib.suppress(pj.Error):
            stream = self.getStreamInfo(0)
            fields.update(codec=stream.codecName, remote_rtp=stream.remoteRtpAddress)
        emit("media", **fields)
        if active and self.tone is None:
            self.start_tone()

    def start_tone(self) -> None:
        """Play a steady tone into the call so that RTP carries audio, not silence."""
        try:
            tone = pj.ToneGenerator()
            tone.createToneGenerator()
            desc = pj.ToneDesc()
            desc.freq1 = TONE_HZ
            desc.freq2 = 0
            desc.on_msec = 1000
            desc.off_msec = 0
            tones = pj.ToneDescVector()
            tones.append(desc)
            tone.play(tones, True)
            tone.startTransmit(self.getAudioMedia(-1))
        except pj.Error as exc:
            emit("error", where="tone", detail=exc.info())
            return
        self.tone = tone

    def onStreamDestroyed(self, prm: Any) -> None:
        self.sample_rtp()

    def sample_rtp(self) -> None:
        """Store the audio stream's RTP packet counters while the stream exists."""
        with contextlib.suppress(pj.Error):
            stat = self.getStreamStat(0)
            self.rtp = {
                "tx_packets": int(stat.rtcp.txStat.pkt),
                "rx_packets": int(stat.rtcp.rxStat.pkt),
                "rx_lost": int(stat.rtcp.rxStat.loss),
            }

    def onCallState(self, prm: Any) -> None:
        super().onCallState(prm)
        if self.record.disconnected:
            emit("rtp", call_id=self.getInfo().callIdString, **self.rtp)


def sdp_of(message: str) -> str:
    """Return the body of a SIP message when it is SDP, else ``""``."""
    head, _, body = message.partition("\r\n\r\n")
    return body if "application/sdp" in head.lower() else ""


def remote_offers_crypto(sdp: str) -> bool:
    """Return whether the far end's audio description carries an SDES ``a=crypto`` line.

    pjsua2 has no call attribute for the negotiated SRTP state, so this reads
    the far end's SDP; pjsua2 would have rejected or cleared the call had it
    not accepted one of the far end's crypto suites.
    """
    in_audio = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            in_audio = line.startswith("m=audio")
        elif in_audio and line.startswith("a=crypto:"):
            return True
    return False


def phone_transport_config(args: argparse.Namespace) -> Any:
    """Build the phone's transport config; TLS presents ``--cert`` and verifies the server."""
    config = pj.TransportConfig()
    config.boundAddress = args.local_address
    config.publicAddress = args.local_address
    config.port = args.local_port
    if args.transport == "tls":
        tls = config.tlsConfig
        tls.CaListFile = args.ca
        tls.certFile = args.cert or ""
        tls.privKeyFile = args.key or ""
        tls.proto = pj.PJ_SSL_SOCK_PROTO_TLS1_2 | pj.PJ_SSL_SOCK_PROTO_TLS1_3
        tls.verifyServer = True
        tls.verifyClient = False
        tls.requireClientCert = False
        tls.msecTimeout = int(args.tls_timeout * 1000)
    return config


def registrar_uri(args: argparse.Namespace) -> str:
    return f"sip:{args.registrar}:{args.registrar_port};transport={args.transport}"


def dial_uri(args: argparse.Namespace) -> str:
    if args.dial.startswith(("sip:", "sips:")):
        return str(args.dial)
    return f"sip:{args.dial}@{args.registrar}:{args.registrar_port};transport={args.transport}"


def phone_account_config(args: argparse.Namespace, transport_id: int) -> Any:
    """Build an account that registers with digest credentials and routes via the registrar."""
    config = pj.AccountConfig()
    config.idUri = f"sip:{args.user}@{args.domain or args.registrar}"
    config.regConfig.registrarUri = registrar_uri(args)
    config.regConfig.timeoutSec = args.expires
    config.regConfig.retryIntervalSec = 0  # a failed registration stays failed
    config.sipConfig.transportId = transport_id
    config.sipConfig.proxies.append(registrar_uri(args) + ";lr")
    credentials = pj.AuthCredInfo("digest", "*", args.auth_user or args.user, 0, args.password)
    config.sipConfig.authCreds.append(credentials)
    config.mediaConfig.srtpUse = SRTP_USE[args.srtp]
    config.mediaConfig.srtpSecureSignaling = 0
    config.mediaConfig.transportConfig.boundAddress = args.local_address
    config.mediaConfig.transportConfig.publicAddress = args.local_address
    config.natConfig.iceEnabled = False
    return config


def run_phone(ep: PeerEndpoint, args: argparse.Namespace, state: PeerState) -> tuple[bool, str]:
    """Register, then dial or answer as ``--dial`` or ``--answer`` says, then unregister."""
    deadline = time.monotonic() + args.timeout
    state.ring_seconds = args.ring
    transport_id = ep.transportCreate(TRANSPORT_TYPES[args.transport], phone_transport_config(args))
    info = ep.transportGetInfo(transport_id)
    emit("ready", role="phone", transport=info.typeName, local=info.localName)

    account = PhoneAccount(state, args.answer or "auto")
    account.create(phone_account_config(args, transport_id))
    reg = account.registration
    poll_until(ep, state, deadline, lambda: reg.code != 0)
    if not 200 <= reg.code < 300:
        cause = f"{reg.code} {reg.reason}" if reg.code else "no answer before the timeout"
        return finish_account(ep, account, False, f"registration failed: {cause}")

    if args.dial:
        ok, detail = dial_once(ep, args, state, account, deadline)
    else:
        ok, detail = answer_calls(ep, args, state, deadline)
    unregister(ep, account, state)
    return finish_account(ep, account, ok, detail)


def dial_once(
    ep: PeerEndpoint,
    args: argparse.Namespace,
    state: PeerState,
    account: PhoneAccount,
    deadline: float,
) -> tuple[bool, str]:
    """Place one call and judge it against ``--expect`` (200 means confirmed and ended)."""
    call = PhoneCall(account, state)
    op = pj.CallOpParam(True)
    op.opt.audioCount = 1
    op.opt.videoCount = 0
    try:
        call.makeCall(dial_uri(args), op)
    except pj.Error as exc:
        return False, f"makeCall failed: {exc.info()}"
    record = call.record
    if args.cancel_after is not None:
        poll_until(ep, state, deadline, lambda: "EARLY" in record.states or record.disconnected)
        if not record.disconnected:
            poll_calls(ep, state, min(deadline, time.monotonic() + args.cancel_after), record)
            if not record.disconnected:
                emit("hangup", by="local", while_state=record.states[-1])
                hangup_quietly(call)
    else:
        poll_calls(ep, state, deadline, record, lambda: record.confirmed)
        if record.confirmed and not record.disconnected:
            poll_calls(ep, state, min(deadline, time.monotonic() + args.hold), record)
            if not record.disconnected:
                call.sample_rtp()
                emit("hangup", by="local", while_state="CONFIRMED")
                hangup_quietly(call)
    poll_calls(ep, state, max(deadline, time.monotonic() + 5.0), record)
    return judge_dial(record, args.expect, state)


def poll_calls(
    ep: PeerEndpoint,
    state: PeerState,
    until: float,
    record: CallRecord,
    done: Callable[[], bool] | None = None,
) -> None:
    """Handle events until ``record`` ends, ``done()`` is true or ``until`` passes; sample RTP."""

    def finished() -> bool:
        answer_due_calls(state)
        sample_due_calls(state)
        return record.disconnected or (done is not None and done())

    poll_until(ep, state, until, finished)


def sample_due_calls(state: PeerState) -> None:
    now = time.monotonic()
    for record in state.calls:
        call = record.call
        live = record.confirmed and not record.disconnected
        if isinstance(call, PhoneCall) and live and now >= call.next_sample:
            call.next_sample = now + STATS_INTERVAL
            call.sample_rtp()


def judge_dial(record: CallRecord, expect: int, state: PeerState) -> tuple[bool, str]:
    """Return whether the call ended as expected, with the final status in the detail."""
    if expect == 200:
        return judge_call(record, state)
    if not record.disconnected:
        return False, f"call did not end in time; states {record.states}"
    if record.confirmed:
        return False, f"call was answered although {expect} was expected"
    ok = record.last_status == expect
    return ok, f"call ended with {record.last_status} {record.reason} (expected {expect})"


def answer_calls(
    ep: PeerEndpoint, args: argparse.Namespace, state: PeerState, deadline: float
) -> tuple[bool, str]:
    """Handle ``--calls`` incoming calls per ``--answer`` until each one has ended."""

    def all_calls_ended() -> bool:
        answer_due_calls(state)
        sample_due_calls(state)
        ended = [r for r in state.calls if r.disconnected]
        return len(ended) >= args.calls and len(ended) == len(state.calls)

    poll_until(ep, state, deadline, all_calls_ended)
    ended = [r for r in state.calls if r.disconnected]
    if args.answer == "auto":
        good = [r for r in ended if r.confirmed]
        what = "confirmed and ended"
    else:
        good = [r for r in ended if not r.confirmed]
        what = f"ended unanswered ({args.answer})"
    ok = len(good) >= args.calls
    detail = f"{len(good)} of {args.calls} calls {what}; {len(state.calls)} received"
    if not ok:
        cause = "stopped by signal" if state.stop_requested else "timed out"
        detail = f"{cause}: {detail}"
    for record in state.calls:
        if not record.disconnected:
            hangup_quietly(record.call)
    return ok, detail


def unregister(ep: PeerEndpoint, account: PhoneAccount, state: PeerState) -> None:
    """Send REGISTER with expiry 0 and wait briefly for the registrar's response."""
    reg = account.registration
    changes = reg.changes
    try:
        account.setRegistration(False)
    except pj.Error as exc:
        emit("error", where="unregister", detail=exc.info())
        return
    poll_until(ep, state, time.monotonic() + UNREGISTER_GRACE, lambda: reg.changes > changes)
    emit("unregistered", code=reg.code, reason=reg.reason, done=reg.changes > changes)


SCENARIOS: dict[str, Callable[[PeerEndpoint, argparse.Namespace, PeerState], tuple[bool, str]]] = {
    "probe": run_probe,
    "call": run_call,
    "answer": run_answer,
    "phone": run_phone,
}


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def add_tls_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cert", required=True, help="PEM certificate this peer presents")
    parser.add_argument("--key", required=True, help="PEM private key of --cert (unencrypted)")
    parser.add_argument("--ca", required=True, help="PEM file of CA certificates to trust")
    parser.add_argument(
        "--tls-timeout", type=float, default=5.0, help="TLS handshake timeout in seconds"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", help="write pjsua2's log to this file instead of stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("probe", help="check that pjsua2 loads and supports TLS")

    call = commands.add_parser("call", help="place one call over mutual TLS")
    call.add_argument("--local-address", required=True, help="loopback address to bind")
    call.add_argument("--local-port", type=int, default=0, help="TLS listening port, 0 for any")
    call.add_argument("--target", required=True, help="request URI, e.g. sip:9898@host:5061;...")
    call.add_argument("--from-user", default="2000", help="user part of the From URI")
    call.add_argument("--hold", type=float, default=1.0, help="seconds to hold after CONFIRMED")
    call.add_argument("--timeout", type=float, default=15.0, help="seconds for the whole call")
    add_tls_options(call)

    answer = commands.add_parser("answer", help="answer calls over mutual TLS")
    answer.add_argument("--listen", required=True, help="loopback address to listen on")
    answer.add_argument("--port", type=int, default=5061, help="TLS port to listen on")
    answer.add_argument("--user", default="answer", help="user part of this peer's URI")
    answer.add_argument("--calls", type=int, default=1, help="number of calls to wait for")
    answer.add_argument("--ring", type=float, default=0.2, help="seconds between 180 and 200")
    answer.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for calls")
    add_tls_options(answer)
    add_phone_parser(commands)
    return parser


def add_phone_parser(commands: Any) -> None:
    phone = commands.add_parser("phone", help="register at a registrar, then dial or answer")
    phone.add_argument("--user", required=True, help="user part of this phone's address of record")
    phone.add_argument("--password", required=True, help="digest password")
    phone.add_argument("--auth-user", help="digest user name (default: --user)")
    phone.add_argument("--domain", help="host part of the address of record (default: registrar)")
    phone.add_argument("--registrar", required=True, help="registrar address")
    phone.add_argument("--registrar-port", type=int, required=True, help="registrar port")
    phone.add_argument("--transport", choices=sorted(TRANSPORT_TYPES), default="tls")
    phone.add_argument("--local-address", required=True, help="loopback address to bind")
    phone.add_argument("--local-port", type=int, default=0, help="SIP port to bind, 0 for any")
    phone.add_argument("--expires", type=int, default=300, help="requested registration seconds")
    phone.add_argument("--srtp", choices=sorted(SRTP_USE), default="optional", help="SDES-SRTP use")
    action = phone.add_mutually_exclusive_group(required=True)
    action.add_argument("--dial", help="number or SIP URI to call through the registrar")
    action.add_argument(
        "--answer", choices=("auto", "busy", "ignore"), help="incoming call handling"
    )
    phone.add_argument("--cancel-after", type=float, help="CANCEL this many seconds after ringing")
    phone.add_argument(
        "--expect", type=int, default=200, help="final status that counts as success when dialling"
    )
    phone.add_argument("--hold", type=float, default=1.0, help="seconds to hold after CONFIRMED")
    phone.add_argument("--calls", type=int, default=1, help="calls to wait for in answer mode")
    phone.add_argument("--ring", type=float, default=0.2, help="seconds between 180 and 200")
    phone.add_argument("--timeout", type=float, default=30.0, help="seconds for the whole run")
    phone.add_argument("--cert", help="PEM client certificate for TLS")
    phone.add_argument("--key", help="PEM private key of --cert (unencrypted)")
    phone.add_argument("--ca", help="PEM file of CA certificates that verify the registrar")
    phone.add_argument("--tls-timeout", type=float, default=5.0, help="TLS handshake timeout (s)")


def find_unreadable_file(args: argparse.Namespace) -> str:
    """Return a message naming the first TLS file that cannot be read, or ``""``."""
    for option in ("cert", "key", "ca"):
        path = getattr(args, option, None)
        if path is None:
            continue
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            return f"--{option} file {path!r} cannot be read ({exc.strerror}); pass a PEM file."
    return ""


def check_phone_options(args: argparse.Namespace) -> str:
    """Return a message naming a ``phone`` option that does not fit the others, or ``""``."""
    if args.command != "phone":
        return ""
    if args.transport == "tls" and not args.ca:
        return "--transport tls needs --ca, the CA file that verifies the registrar's certificate."
    if bool(args.cert) != bool(args.key):
        return "--cert and --key go together; pass both files or neither."
    if args.cancel_after is not None and not args.dial:
        return "--cancel-after applies to --dial only; add --dial NUMBER or drop it."
    return ""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    reserve_stdout_for_events()
    problem = find_unreadable_file(args) or check_phone_options(args)
    if problem:
        # pjsip reads these files only at the first handshake, so check them up front
        emit("result", ok=False, detail=problem)
        return EXIT_SETUP_FAILED
    state = PeerState()

    def request_stop(signum: int, frame: object) -> None:
        state.stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    try:
        ep = start_library(args.log)
        ep.libStart()
    except pj.Error as exc:
        emit("result", ok=False, detail=f"pjsua2 setup failed: {exc.info()}")
        return EXIT_SETUP_FAILED

    code = EXIT_FAILED
    try:
        ok, detail = SCENARIOS[args.command](ep, args, state)
        code = EXIT_OK if ok else EXIT_FAILED
    except pj.Error as exc:
        ok, detail = False, f"pjsua2 error: {exc.info()}"
        code = EXIT_SETUP_FAILED
    except Exception as exc:  # the result line must come out whatever failed
        traceback.print_exc()
        ok, detail = False, f"peer script error: {exc!r}"
        code = EXIT_FAILED
    finally:
        # pjsua2 Call objects must be destroyed while the library still exists:
        # deleting one after libDestroy() trips an assertion in pjsua_call.c.
        state.calls.clear()
        gc.collect()
        ep.libDestroy()
    emit("result", ok=ok, detail=detail)
    return code


if __name__ == "__main__":
    sys.exit(main())
