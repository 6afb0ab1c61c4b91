"""Inbound and outbound stream connections (TLS or plain TCP) for SIP trunks.

The listener accepts TCP sockets itself and wraps each one with
``loop.connect_accepted_socket(..., ssl=...)`` instead of passing ``ssl=`` to
``create_server``.  That way a failed handshake (no client certificate, an
untrusted chain) raises here, where it can be traced with the peer's address
and turned into a plain explanation, instead of disappearing into the event
loop's default exception handler.  ``loop.start_tls`` on an accepted transport
is no alternative: uvloop 0.21 starts reading right after ``connection_made``
even when the protocol paused reading, so a quick ClientHello can be lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tlstrunk.i18n import _
from tlstrunk.observe.trace import TraceWriter
from tlstrunk.pki.explain import explain_ssl_error
from tlstrunk.transport.capture import NodeCapture
from tlstrunk.transport.connection import Address, SipConnection

logger = logging.getLogger(__name__)

#: Handshakes that take longer than this many seconds are abandoned.
HANDSHAKE_TIMEOUT = 10.0
#: Pending TCP connections the kernel queues before accept.
BACKLOG = 128


def _address(sockaddr: Any) -> Address:
    return (str(sockaddr[0]), int(sockaddr[1]))


class ConnectionRejected(Exception):
    """Raised by an acceptance check; the connection is closed without SIP.

    Attributes:
        check: which check failed, e.g. ``"X.509 subject name"`` or ``"source address"``.
        detail: what was seen, in a full sentence with the fix.
    """

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(f"{check}: {detail}")
        self.check = check
        self.detail = detail


@dataclass(frozen=True)
class Rejection:
    """A connection refused during or right after the TLS handshake."""

    direction: str
    local: Address
    remote: Address
    check: str
    detail: str


AcceptCheck = Callable[[SipConnection], None]
ConnectionFactory = Callable[[str], SipConnection]


def classify_handshake_error(exc: BaseException) -> str:
    """Name the check that a failed server-side handshake stands for."""
    text = str(exc).lower()
    if "peer did not return a certificate" in text or "certificate required" in text:
        return "client certificate"
    if isinstance(exc, ssl.SSLCertVerificationError) or "certificate verify failed" in text:
        return "certificate chain"
    if "unknown ca" in text or "bad certificate" in text or "certificate unknown" in text:
        return "certificate rejected by the peer"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError) or _is_handshake_timeout(exc):
        return "handshake timeout"
    return "TLS handshake"


class StreamListener:
    """Listens for SIP over TLS, or over plain TCP, on one address and port.

    Args:
        context: returns the server context for a handshake with the given peer
            address, so that a new certificate applies to new connections without a
            restart and each trunk's TLS policy applies to its peer; ``None`` for
            plain TCP.
        make_connection: builds the :class:`SipConnection` for an accepted stream.
        check: runs after the handshake; raises :class:`ConnectionRejected` to refuse.
        on_rejected: called with every rejected connection.
        trace: the node's trace writer.
    """

    def __init__(
        self,
        *,
        context: Callable[[Address], ssl.SSLContext] | None,
        make_connection: ConnectionFactory,
        check: AcceptCheck,
        on_rejected: Callable[[Rejection], None],
        trace: TraceWriter,
        capture: NodeCapture | None = None,
    ) -> None:
        self._capture = capture
        self._context = context
        self.transport = "TCP" if context is None else "TLS"
        self._make_connection = make_connection
        self._check = check
        self._on_rejected = on_rejected
        self._trace = trace
        self._socket: socket.socket | None = None
        self._accept_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.handshakes = 0

    async def start(self, host: str, port: int) -> None:
        """Start listening on ``host:port``."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listening = socket.socket(family, socket.SOCK_STREAM)
        try:
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.bind((host, port))
            listening.listen(BACKLOG)
            listening.setblocking(False)
        except OSError:
            listening.close()
            raise
        self._socket = listening
        self._accept_task = asyncio.get_running_loop().create_task(self._accept_loop(listening))
        self._trace.info(
            "SIPHandler", "Listening for SIP over %s on %s:%d", self.transport, host, port
        )

    async def stop(self) -> None:
        """Stop listening and cancel handshakes still in progress."""
        if self._accept_task is not None:
            self._accept_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accept_task
        if self._socket is not None:
            self._socket.close()
        for task in list(self._tasks):
            task.cancel()

    async def _accept_loop(self, listening: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                accepted, _address = await loop.sock_accept(listening)
            except OSError as exc:
                # EMFILE and friends: log, back off, keep serving.
                logger.warning("accept on %s failed: %s", listening.getsockname(), exc)
                await asyncio.sleep(0.1)
                continue
            task = loop.create_task(self._handshake(accepted))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handshake(self, accepted: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        local: Address = _address(accepted.getsockname())
        remote: Address = _address(accepted.getpeername())
        connection = self._make_connection("inbound")
        connection.local, connection.remote = local, remote
        connection.transport = self.transport
        try:
            if self._context is None:
                await loop.connect_accepted_socket(lambda: connection, accepted)
            elif self._capture is not None:
                self.handshakes += 1
                await self._capture.accept(
                    accepted, connection, self._context(remote), HANDSHAKE_TIMEOUT
                )
            else:
                self.handshakes += 1
                await loop.connect_accepted_socket(
                    lambda: connection,
                    accepted,
                    ssl=self._context(remote),
                    ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
                )
        except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as exc:
            accepted.close()
            connection.close_reason = "TLS handshake failed"
            connection.connection_lost(None)
            self._reject(local, remote, classify_handshake_error(exc), str(exc), exc)
            return
        try:
            self._check(connection)
        except ConnectionRejected as rejected:
            connection.close(f"rejected: {rejected.check}")
            self._reject(local, remote, rejected.check, rejected.detail, None)
            return
        connection.accept()

    def _reject(
        self,
        local: Address,
        remote: Address,
        check: str,
        detail: str,
        exc: BaseException | None,
    ) -> None:
        if exc is not None:
            detail = explain_handshake_failure(exc, detail)
        self._trace.error(
            "SIPHandler",
            "Rejected TLS connection from %s:%d to %s:%d: %s failed: %s",
            remote[0],
            remote[1],
            local[0],
            local[1],
            check,
            detail,
        )
        self._on_rejected(Rejection("inbound", local, remote, check, detail))


def _is_handshake_timeout(exc: BaseException) -> bool:
    # asyncio and uvloop abort a slow handshake with ConnectionAbortedError and this text.
    return "handshake is taking longer" in str(exc)


def explain_handshake_failure(exc: BaseException, fallback: str) -> str:
    """Return a plain-language account of a failed server-side handshake."""
    if isinstance(exc, ssl.SSLError):
        return explain_ssl_error(exc, side="server")
    if isinstance(exc, TimeoutError) or _is_handshake_timeout(exc):
        return _(
            "The client did not finish the TLS handshake within {seconds:.0f} s; check that "
            "it speaks TLS to this port."
        ).format(seconds=HANDSHAKE_TIMEOUT)
    if isinstance(exc, ConnectionError):
        return _(
            "The client closed the connection during the TLS handshake ({error}), which "
            "usually means it rejected this node's certificate; the client's trace names the "
            "check that failed."
        ).format(error=type(exc).__name__)
    return fallback or repr(exc)


async def open_stream_connection(
    *,
    host: str,
    port: int,
    local_address: str | None,
    context: ssl.SSLContext | None,
    connection: SipConnection,
    capture: NodeCapture | None = None,
) -> SipConnection:
    """Connect to ``host:port`` over TLS, or plain TCP when ``context`` is ``None``.

    Raises ``ssl.SSLError`` or ``OSError`` on failure.
    """
    loop = asyncio.get_running_loop()
    local_addr = (local_address, 0) if local_address else None
    if context is None:
        connection.transport = "TCP"
        await loop.create_connection(lambda: connection, host, port, local_addr=local_addr)
        return connection
    if capture is not None:
        await capture.connect(host, port, local_addr, connection, context, HANDSHAKE_TIMEOUT)
        return connection
    await loop.create_connection(
        lambda: connection,
        host,
        port,
        ssl=context,
        server_hostname="",
        local_addr=local_addr,
        ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
    )
    return connection


class _ProbeProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.der: bytes | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.der = ssl_object.getpeercert(binary_form=True)
        transport.close()


async def fetch_server_certificate(
    *, host: str, port: int, local_address: str | None, context: ssl.SSLContext
) -> bytes | None:
    """Return the DER certificate that ``host:port`` presents, or ``None`` if none was seen.

    ``context`` must skip verification (see ``build_probe_context``); the
    connection closes right after the handshake.
    """
    probe = _ProbeProtocol()
    try:
        await connect_tls(probe, host=host, port=port, local_address=local_address, context=context)
    except (ssl.SSLError, OSError, TimeoutError):
        return probe.der
    return probe.der


async def connect_tls(
    protocol: asyncio.BaseProtocol,
    *,
    host: str,
    port: int,
    local_address: str | None,
    context: ssl.SSLContext,
    timeout: float = HANDSHAKE_TIMEOUT,
) -> None:
    """Open a TLS connection to ``host:port`` from ``local_address`` for ``protocol``.

    No SNI is sent: trunk peers are checked by the profile's X.509 subject name,
    not by host name. Raises ``ssl.SSLError``, ``OSError`` or ``TimeoutError``.
    """
    loop = asyncio.get_running_loop()
    local_addr = (local_address, 0) if local_address else None
    await loop.create_connection(
        lambda: protocol,
        host,
        port,
        ssl=context,
        server_hostname="",
        local_addr=local_addr,
        ssl_handshake_timeout=timeout,
    )
