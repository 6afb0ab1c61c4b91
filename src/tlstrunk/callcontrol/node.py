"""One call-control node at run time: listeners, trunks, the B2BUA.

The node loads its configuration into an immutable snapshot once at start,
builds its TLS contexts from its certificate store, and listens on every TLS
port its security profiles name.  Nothing on the call path reads the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any

from cryptography import x509

from tlstrunk.callcontrol.b2bua import IN_SERVICE, PING_NOT_ENABLED, B2bua, NodeIdentity
from tlstrunk.callcontrol.report import CallReport
from tlstrunk.callcontrol.sipstack import SipStack
from tlstrunk.callcontrol.trunks import TrunkConnections, TrunkUnavailable
from tlstrunk.config.cdr import CdrRecord, CdrWriter
from tlstrunk.config.enums import TlsPolicy
from tlstrunk.config.snapshot import ConfigSnapshot
from tlstrunk.config.store import ConfigStore
from tlstrunk.config.validate import legacy_policy_warning
from tlstrunk.config.values import TrunkConfig
from tlstrunk.i18n import _
from tlstrunk.observe.trace import TraceWriter
from tlstrunk.paths import NodePaths
from tlstrunk.pki.errors import PkiError
from tlstrunk.pki.expiry import expiring_certificates, record_peer_certificate
from tlstrunk.pki.explain import explain_ssl_error
from tlstrunk.pki.names import openssl_style_subject
from tlstrunk.pki.store import CertificateStore
from tlstrunk.sip.message import Message
from tlstrunk.transport.capture import CaptureSettings, NodeCapture
from tlstrunk.transport.connection import SipChannel, SipConnection
from tlstrunk.transport.listener import Rejection, StreamListener
from tlstrunk.transport.tls import (
    TlsConfigurationError,
    TlsIdentity,
    build_client_context,
    build_phone_server_context,
    build_probe_context,
    build_server_context,
)
from tlstrunk.transport.udp import UdpEndpoint

logger = logging.getLogger(__name__)

PURPOSE = "CallManager"
TRUST = "CallManager-trust"
#: How many refused connections a node remembers for ``status`` and the demo.
KEPT_REJECTIONS = 100
#: Certificates expiring within this many days get a warning.
EXPIRY_WARNING_DAYS = 30
#: Seconds between two expiry checks: once a day.
EXPIRY_CHECK_INTERVAL = 24 * 3600.0
#: Length of the key that signs digest nonces.
DIGEST_SECRET_BYTES = 32
#: Seconds between two DNS SRV lookups of a trunk's destinations.
SRV_REFRESH_INTERVAL = 300.0


class NodeStartError(Exception):
    """Raised when a node cannot start; the message names the fix."""


class Node:
    """A running node built from a node directory."""

    def __init__(
        self,
        paths: NodePaths,
        *,
        passphrase: bytes | None = None,
        capture: CaptureSettings | None = None,
    ) -> None:
        self.paths = paths
        self._passphrase = passphrase
        self._capture_settings = capture
        self._capture: NodeCapture | None = None
        self._cdr_writer: CdrWriter | None = None
        self._ping_tasks: list[asyncio.Task[None]] = []
        #: Trunk name to (status, reason) from the latest OPTIONS ping.
        self.trunk_status: dict[str, tuple[str, str]] = {}
        self.trace = TraceWriter(paths.trace_text, paths.trace_json)
        self._snapshot: ConfigSnapshot | None = None
        self._listeners: list[tuple[str, int, StreamListener]] = []
        self._udp: UdpEndpoint | None = None
        #: The UDP socket of the phone port, separate from the trunks' socket.
        self._phone_udp: UdpEndpoint | None = None
        self._phone_context: ssl.SSLContext | None = None
        self._tls_identity: TlsIdentity | None = None
        #: Server and client contexts by TLS policy, for the policies the profiles use.
        self._contexts: dict[str, tuple[ssl.SSLContext, ssl.SSLContext]] = {}
        self._identity_seen: tuple[str, int] = ("", 0)
        self._own_serial = ""
        self.rejections: deque[Rejection] = deque(maxlen=KEPT_REJECTIONS)
        self._stack = SipStack(trace=self.trace, on_request=self._on_request, observe=self._observe)
        self._trunks: TrunkConnections | None = None
        self._b2bua: B2bua | None = None
        self._connections: dict[int, SipConnection] = {}
        self.stopped = asyncio.Event()
        self._expiry_task: asyncio.Task[None] | None = None
        self._own_certificate = ""

    # -- life cycle -------------------------------------------------------------

    @property
    def snapshot(self) -> ConfigSnapshot:
        """The configuration in force."""
        if self._snapshot is None:
            raise NodeStartError(_("The node has not started."))
        return self._snapshot

    def _identity_version(self) -> tuple[str, int]:
        """Return what identifies the installed certificate and trust store right now.

        The store installs a new certificate in a new folder and then swaps a
        pointer file, so the chain file's path changes with every upload. The
        trust bundle is rewritten in place, so its modification time is used.
        """
        store = self._store()
        chain, _key = store.identity_files(PURPOSE)
        try:
            trust_mtime = store.trust_bundle_path(TRUST).stat().st_mtime_ns
        except OSError:
            trust_mtime = 0
        return str(chain), trust_mtime

    def _identity(self) -> TlsIdentity:
        store = self._store()
        own = store.own_certificate(PURPOSE)
        if own is None:
            raise NodeStartError(
                _(
                    "Node directory {dir} has no CallManager certificate; generate a CSR, have "
                    "it signed and upload the certificate before starting the node."
                ).format(dir=self.paths.root)
            )
        chain, key = store.identity_files(PURPOSE)
        self._own_certificate = _("{subject} issued by {issuer}").format(
            subject=openssl_style_subject(own.subject), issuer=openssl_style_subject(own.issuer)
        )
        self._own_serial = f"{own.serial_number:x}"
        return TlsIdentity(
            chain, key, store.trust_bundle_path(TRUST), store.identity_password(PURPOSE)
        )

    def _store(self) -> CertificateStore:
        return CertificateStore.open(self.paths.certs, passphrase=self._passphrase)

    def _policies(self) -> set[str]:
        policies = {
            str(trunk.profile.tls_policy)
            for trunk in self.snapshot.trunks.values()
            if trunk.profile.uses_tls
        }
        return policies or {str(TlsPolicy.MODERN)}

    def _load_contexts(self) -> None:
        identity = self._identity()
        self._tls_identity = identity
        keylog = self._capture.keylog_path if self._capture is not None else None
        contexts = {
            policy: (
                build_server_context(identity, policy, keylog),
                build_client_context(identity, policy, keylog),
            )
            for policy in sorted(self._policies())
        }
        self._contexts = contexts
        if any(item.phones and str(item.transport) == "TLS" for item in self.snapshot.listeners()):
            self._phone_context = build_phone_server_context(identity, keylog)
        self._identity_seen = self._identity_version()

    def _warn_legacy_profiles(self) -> None:
        for profile in self.snapshot.security_profiles.values():
            if profile.tls_policy is TlsPolicy.LEGACY:
                message = legacy_policy_warning(profile.name)
                logger.warning("%s", message)
                self.trace.warning("CallManager", "%s", message)

    def _refresh_contexts(self) -> None:
        """Rebuild the TLS contexts when the certificate or trust store changed on disk.

        Runs once per new connection, not per message. Established connections
        keep the contexts they were made with, so calls on them go on.
        """
        try:
            version = self._identity_version()
            if version == self._identity_seen:
                return
            self._load_contexts()
        except (PkiError, NodeStartError, TlsConfigurationError, OSError) as exc:
            self.trace.error(
                "CallManager",
                "The changed certificate files cannot be used, so new connections keep the "
                "previous certificate: %s",
                exc,
            )
            return
        self.trace.info(
            "CallManager",
            "CallManager certificate or trust store changed; new TLS connections use %s "
            "(serial %s)",
            self._own_certificate,
            self._own_serial,
        )

    def _context_pair(self, policy: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
        self._refresh_contexts()
        pair = self._contexts.get(policy)
        if pair is None:
            # No trunk has this peer's address, so the source check rejects it after any handshake.
            pair = next(iter(self._contexts.values()))
        return pair

    def _current_server_context(self, remote: tuple[str, int]) -> ssl.SSLContext:
        trunk = self.snapshot.trunk_for_source(remote[0])
        policy = str(trunk.profile.tls_policy) if trunk is not None else str(TlsPolicy.MODERN)
        return self._context_pair(policy)[0]

    async def start(self) -> None:
        """Load the configuration and certificates and open every listener."""
        if not self.paths.config_db.exists():
            raise NodeStartError(
                _("No configuration database at {path}; configure the node first.").format(
                    path=self.paths.config_db
                )
            )
        self._snapshot = ConfigStore(self.paths.config_db).load_snapshot()
        self._cdr_writer = CdrWriter(self.paths.config_db)
        node = self._snapshot.node
        if node is None:
            raise NodeStartError(
                _(
                    "The configuration at {path} names no node; set the node's name and "
                    "address with 'tlstrunk node set --node-dir DIR --name NAME --address IP'."
                ).format(path=self.paths.config_db)
            )
        if self._capture_settings is not None:
            self._capture = NodeCapture(self._capture_settings, self.paths.keylog)
            self.trace.info(
                "CallManager",
                "Capturing to %s with TLS secrets embedded",
                self._capture_settings.path,
            )
        self._load_contexts()
        self._warn_legacy_profiles()
        all_listeners = self._snapshot.listeners()
        listeners = sorted(
            {(str(item.transport), item.port) for item in all_listeners if not item.phones}
        )
        phone_listeners = sorted(
            {(str(item.transport), item.port) for item in all_listeners if item.phones}
        )
        sip_ports: dict[str, int] = {}
        for transport, port in listeners:
            sip_ports.setdefault(transport, port)
        self._trunks = TrunkConnections(
            node_address=node.address,
            snapshot=lambda: self.snapshot,
            client_context=self._current_client_context,
            make_connection=self._make_connection,
            on_rejected=self._on_rejected,
            record_peer=self._record_peer,
            udp_endpoint=lambda: self._udp,
            probe_context=lambda: build_probe_context(self._tls_identity),
            trace=self.trace,
            capture=self._capture,
        )
        self._b2bua = B2bua(
            node=NodeIdentity(node.name, node.address, sip_ports),
            stack=self._stack,
            trunks=self._trunks,
            snapshot=lambda: self.snapshot,
            own_certificate=lambda: self._own_certificate,
            trace=self.trace,
            on_call_ended=self._record_call,
            digest_secret=self._digest_secret(),
        )
        for transport, port, phones in [(t, p, False) for t, p in listeners] + [
            (t, p, True) for t, p in phone_listeners
        ]:
            try:
                await self._listen(transport, node.address, port, phones=phones)
            except OSError as exc:
                fix = (
                    _("change the node's phone port with 'tlstrunk node set'")
                    if phones
                    else _("change the profile's incoming port")
                )
                raise NodeStartError(
                    _(
                        "Cannot listen for SIP over {transport} on {address}:{port}: {error}. "
                        "Stop the program using that port or {fix}."
                    ).format(
                        transport=transport, address=node.address, port=port, error=exc, fix=fix
                    )
                ) from exc
        self.trace.info("CallManager", "Node %s started on %s", node.name, node.address)
        self._expiry_task = asyncio.get_running_loop().create_task(self._watch_expiry())
        srv_trunks = [t for t in self._snapshot.trunks.values() if t.destination_is_srv]
        if srv_trunks:
            self._ping_tasks.append(
                asyncio.get_running_loop().create_task(self._refresh_srv(srv_trunks))
            )
        for trunk in self._snapshot.options_ping_trunks():
            task = asyncio.get_running_loop().create_task(self._ping_trunk(trunk))
            self._ping_tasks.append(task)

    async def _listen(self, transport: str, address: str, port: int, *, phones: bool) -> None:
        assert self._trunks is not None
        if transport == "UDP":
            endpoint = UdpEndpoint(
                on_message=self._stack.handle_message,
                check=_accept_phone_channel if phones else self._trunks.check_udp,
                trace=self.trace,
                capture=self._capture,
            )
            await endpoint.start(address, port)
            if phones:
                self._phone_udp = endpoint
            else:
                self._udp = endpoint
            return
        context: Callable[[tuple[str, int]], ssl.SSLContext] | None = None
        if transport == "TLS":
            context = self._current_phone_context if phones else self._current_server_context
        listener = StreamListener(
            context=context,
            make_connection=self._make_connection,
            check=_accept_phone_connection if phones else self._trunks.check_inbound,
            on_rejected=self._on_rejected,
            trace=self.trace,
            capture=self._capture,
        )
        await listener.start(address, port)
        self._listeners.append((address, port, listener))

    async def stop(self) -> None:
        """Close listeners and connections."""
        if self._expiry_task is not None:
            self._expiry_task.cancel()
        for task in self._ping_tasks:
            task.cancel()
        for _address, _port, listener in self._listeners:
            await listener.stop()
        if self._udp is not None:
            self._udp.stop()
        if self._phone_udp is not None:
            self._phone_udp.stop()
        if self._b2bua is not None:
            await self._b2bua.stop()
        for connection in list(self._connections.values()):
            connection.close("node stopping")
        if self._cdr_writer is not None:
            writer = self._cdr_writer
            self._cdr_writer = None
            await asyncio.get_running_loop().run_in_executor(None, writer.close, 5.0)
        if self._capture is not None:
            await asyncio.sleep(0.05)  # let the closing connections reach the capture
            self._capture.close()
            self._capture = None
        self.trace.info("CallManager", "Node stopped")
        self.trace.close()
        self.stopped.set()

    async def ping(self, trunk_name: str) -> tuple[str, str]:
        """Send one OPTIONS ping over the trunk named ``trunk_name`` and keep its status."""
        assert self._b2bua is not None
        result = await self._b2bua.ping(self.snapshot.trunks[trunk_name])
        self.trunk_status[trunk_name] = result
        return result

    async def _ping_trunk(self, trunk: TrunkConfig) -> None:
        """Send OPTIONS over ``trunk`` every ping interval and keep its status."""
        assert self._b2bua is not None
        assert self._trunks is not None
        while True:
            await self._trunks.fail_back(trunk)
            status, reason = await self._b2bua.ping(trunk)
            previous = self.trunk_status.get(trunk.name)
            self.trunk_status[trunk.name] = (status, reason)
            if previous is None or previous[0] != status:
                level = "AppInfo" if status == IN_SERVICE else "Warning"
                self.trace.event(
                    level, "SIPHandler", "Trunk %s is %s (%s)", trunk.name, status, reason
                )
            await asyncio.sleep(trunk.options_ping_interval)

    async def _refresh_srv(self, trunks: list[TrunkConfig]) -> None:
        """Resolve the SRV trunks now and every few minutes, so inbound peers are recognised."""
        assert self._trunks is not None
        while True:
            for trunk in trunks:
                try:
                    await self._trunks.resolve(trunk)
                except TrunkUnavailable as exc:
                    self.trace.warning("SIPHandler", "%s", exc)
            await asyncio.sleep(SRV_REFRESH_INTERVAL)

    def _trunk_status(self, trunk: TrunkConfig) -> str:
        if not trunk.options_ping:
            return PING_NOT_ENABLED
        status, reason = self.trunk_status.get(trunk.name, ("Unknown", "no ping yet"))
        return status if status == IN_SERVICE else f"{status} ({reason})"

    def _digest_secret(self) -> bytes:
        """Return the node's nonce key, made on first start, so phones keep their nonces."""
        path = self.paths.digest_secret
        try:
            secret = path.read_bytes()
            if len(secret) >= DIGEST_SECRET_BYTES:
                return secret
        except FileNotFoundError:
            pass
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        secret = secrets.token_bytes(DIGEST_SECRET_BYTES)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(secret)
        return secret

    def _record_call(self, report: CallReport) -> None:
        # The writer queues the record for its own thread; the call path never waits on it.
        if self._cdr_writer is not None:
            self._cdr_writer.submit(CdrRecord.from_report(report.to_dict()))

    def _record_peer(self, trunk: str, certificate: x509.Certificate) -> None:
        try:
            record_peer_certificate(self.paths.certs, trunk, certificate)
        except (OSError, ValueError) as exc:
            logger.warning("cannot record the peer certificate of trunk %s: %s", trunk, exc)

    async def _watch_expiry(self) -> None:
        """Warn once a day about every certificate that expires within the warning period."""
        while True:
            try:
                expiring = expiring_certificates(self._store(), EXPIRY_WARNING_DAYS)
            except (PkiError, OSError, ValueError) as exc:
                logger.warning("expiry check failed: %s", exc)
                expiring = []
            for item in expiring:
                message = _(
                    "The {kind} certificate {subject} ({name}, serial {serial}) expires in "
                    "{days} days, on {date}; have a new one issued and upload it."
                ).format(
                    kind=item.kind,
                    subject=item.subject,
                    name=item.name,
                    serial=item.serial,
                    days=item.days_left,
                    date=item.not_after.date().isoformat(),
                )
                logger.warning("%s", message)
                self.trace.warning("CertMonitor", "%s", message)
            await asyncio.sleep(EXPIRY_CHECK_INTERVAL)

    def _current_phone_context(self, remote: tuple[str, int]) -> ssl.SSLContext:
        self._refresh_contexts()
        assert self._phone_context is not None
        return self._phone_context

    def registrations(self) -> list[dict[str, Any]]:
        """Return the live registrations of SIP phones."""
        return self._b2bua.registrar.describe() if self._b2bua is not None else []

    def _current_client_context(self, trunk: TrunkConfig) -> ssl.SSLContext:
        return self._context_pair(str(trunk.profile.tls_policy))[1]

    # -- connections ------------------------------------------------------------

    def _make_connection(self, direction: str) -> SipConnection:
        connection = SipConnection(
            direction=direction,
            on_message=self._stack.handle_message,
            on_closed=self._on_closed,
            trace=self.trace,
        )
        self._connections[connection.id] = connection
        return connection

    def _on_closed(self, connection: SipConnection, exc: BaseException | None) -> None:
        self._connections.pop(connection.id, None)
        if isinstance(exc, ssl.SSLError):
            side = "client" if connection.direction == "outbound" else "server"
            connection.close_reason = explain_ssl_error(exc, side=side)
        self._stack.connection_closed(connection, connection.close_reason or "connection closed")
        if self._trunks is not None:
            self._trunks.forget(connection)
        if self._b2bua is not None:
            self._b2bua.connection_closed(connection)

    def _on_rejected(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)

    def _on_request(self, request: Any, connection: SipChannel, transaction: Any) -> None:
        assert self._b2bua is not None
        self._b2bua.on_request(request, connection, transaction)

    def _observe(self, direction: str, connection: SipChannel, message: Message) -> None:
        if self._b2bua is not None:
            self._b2bua.observe(direction, connection, message)

    # -- operations ---------------------------------------------------------------

    async def place_call(self, calling: str, dialled: str, hold: float) -> CallReport:
        """Place a call from a local directory number and return its report."""
        assert self._b2bua is not None
        return await self._b2bua.place_call(calling, dialled, hold)

    def reports(self, call_id: str | None = None) -> list[CallReport]:
        """Return kept call reports."""
        return self._b2bua.reports(call_id) if self._b2bua is not None else []

    def status(self) -> dict[str, Any]:
        """Describe the node: listeners, trunk connections, counters."""
        snapshot = self.snapshot
        assert snapshot.node is not None
        trunks = self._trunks
        outbound = trunks.outbound_connections() if trunks else {}
        return {
            "node": snapshot.node.name,
            "address": snapshot.node.address,
            "listeners": [
                {
                    "address": address,
                    "port": port,
                    "transport": listener.transport,
                    "handshakes": listener.handshakes,
                }
                for address, port, listener in self._listeners
            ]
            + (
                [
                    {
                        "address": self._udp.local[0],
                        "port": self._udp.local[1],
                        "transport": "UDP",
                        "dropped": self._udp.dropped,
                    }
                ]
                if self._udp is not None
                else []
            )
            + (
                [
                    {
                        "address": self._phone_udp.local[0],
                        "port": self._phone_udp.local[1],
                        "transport": "UDP",
                        "phones": True,
                    }
                ]
                if self._phone_udp is not None
                else []
            ),
            "trunks": [
                {
                    "name": trunk.name,
                    "destinations": [f"{d.address}:{d.port}" for d in trunk.destinations],
                    "connection": (
                        f"{outbound[trunk.name].local[0]}:{outbound[trunk.name].local[1]} -> "
                        f"{outbound[trunk.name].remote[0]}:{outbound[trunk.name].remote[1]}"
                        if trunk.name in outbound
                        else None
                    ),
                    "status": self._trunk_status(trunk),
                }
                for trunk in snapshot.trunks.values()
            ],
            "outbound_handshakes": trunks.handshakes if trunks else 0,
            "open_connections": len(self._connections),
            "registrations": self.registrations(),
            "rejections": [rejection_to_dict(r) for r in self.rejections],
        }


def rejection_to_dict(rejection: Rejection) -> dict[str, Any]:
    """Return a rejection as JSON-ready data."""
    return {
        "direction": rejection.direction,
        "local": f"{rejection.local[0]}:{rejection.local[1]}",
        "remote": f"{rejection.remote[0]}:{rejection.remote[1]}",
        "check": rejection.check,
        "detail": rejection.detail,
    }


def _accept_phone_connection(connection: SipConnection) -> None:
    """Accept a connection on the phone port: phones authenticate per request, not by address."""
    connection.phone_listener = True


def _accept_phone_channel(channel: SipChannel) -> str | None:
    """Accept a UDP peer on the phone port; see :func:`_accept_phone_connection`."""
    channel.phone_listener = True
    return None
