"""Network probes of the trunk doctor: TCP connect, TLS handshakes and one OPTIONS exchange.

The probes only move bytes and report what happened; the doctor turns the
outcomes into verdicts.  TLS contexts come from :mod:`tlstrunk.transport.tls`.

To judge the server's chain the doctor needs every certificate the server
sent, not only the leaf that ``getpeercert`` returns.  Python 3.13 makes
``SSLObject.get_unverified_chain`` public; Python 3.11 and 3.12 have the same
method on the private ``_sslobj`` attribute, which :func:`_presented_chain`
falls back to, and to the leaf alone when neither exists.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any, cast

from cryptography import x509

from tlstrunk.sip.errors import FramingError
from tlstrunk.sip.framing import MessageReceived, StreamFramer
from tlstrunk.sip.headers import Headers
from tlstrunk.sip.message import Request, Response
from tlstrunk.sip.transaction import new_branch
from tlstrunk.sip.uri import SipUri
from tlstrunk.transport.listener import connect_tls

logger = logging.getLogger(__name__)

Address = tuple[str, int]


@dataclass(frozen=True)
class TlsSession:
    """Version, cipher and server chain (leaf first) seen in one TLS handshake."""

    version: str
    cipher: str
    chain: tuple[x509.Certificate, ...]
    local: Address


@dataclass(frozen=True)
class OptionsOutcome:
    """Outcome of one OPTIONS request.

    Exactly one of ``response``, ``closed_by`` (the error that ended the
    connection, ``None`` for a clean close) or ``timed_out`` describes the end.
    ``elapsed`` is the time from sending the request, in seconds.
    """

    response: Response | None
    elapsed: float
    closed: bool
    closed_by: BaseException | None
    timed_out: bool


def _presented_chain(ssl_object: Any) -> tuple[x509.Certificate, ...]:
    getter = getattr(ssl_object, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    if getter is not None:
        try:
            items = getter() or []
            return tuple(_load_certificate(item) for item in items)
        except (ValueError, ssl.SSLError) as exc:
            logger.debug("cannot read the presented chain: %s", exc)
    der = ssl_object.getpeercert(binary_form=True)
    return (x509.load_der_x509_certificate(der),) if der else ()


def _load_certificate(item: Any) -> x509.Certificate:
    if isinstance(item, bytes):
        return x509.load_der_x509_certificate(item)
    # Python 3.11's private certificate objects return PEM text by default.
    return x509.load_pem_x509_certificate(str(item.public_bytes()).encode())


class _SipProbe(asyncio.Protocol):
    """Reads SIP responses from a stream and records how the stream ended."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.session: TlsSession | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.responses: asyncio.Queue[Response] = asyncio.Queue()
        self._framer = StreamFramer()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        sockname = transport.get_extra_info("sockname")
        local = (str(sockname[0]), int(sockname[1]))
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            cipher = ssl_object.cipher()
            self.session = TlsSession(
                version=ssl_object.version() or "unknown",
                cipher=cipher[0] if cipher else "unknown",
                chain=_presented_chain(ssl_object),
                local=local,
            )
        else:
            self.session = TlsSession("none", "none", (), local)

    def data_received(self, data: bytes) -> None:
        try:
            events = self._framer.feed(data)
        except FramingError as exc:
            logger.info("the far end sent an unframeable stream: %s", exc)
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, MessageReceived) and isinstance(event.message, Response):
                self.responses.put_nowait(event.message)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


async def tcp_connect(
    host: str, port: int, *, local_address: str | None, timeout: float
) -> socket.socket:
    """Open a TCP connection from ``local_address`` and return the connected socket.

    Raises:
        OSError: the connection was refused or failed.
        TimeoutError: the connect timed out after ``timeout`` seconds.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if local_address:
            sock.bind((local_address, 0))
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (host, port)), timeout)
    except BaseException:
        sock.close()
        raise
    return sock


async def open_sip_stream(
    sock: socket.socket, context: ssl.SSLContext | None, *, timeout: float
) -> _SipProbe:
    """Run the TLS handshake (none when ``context`` is ``None``) on a connected socket.

    Raises:
        ssl.SSLError, OSError, TimeoutError: the handshake failed.
    """
    loop = asyncio.get_running_loop()
    probe = _SipProbe()
    if context is None:
        await loop.create_connection(lambda: probe, sock=sock)
    else:
        await loop.create_connection(
            lambda: probe, sock=sock, ssl=context, server_hostname="", ssl_handshake_timeout=timeout
        )
    return probe


async def exchange_options(probe: _SipProbe, request: Request, timeout: float) -> OptionsOutcome:
    """Send ``request`` on an open stream and wait for its final response or the stream's end."""
    assert probe.transport is not None
    started = time.perf_counter()
    probe.transport.write(request.to_bytes())
    deadline = started + timeout
    while True:
        remaining = deadline - time.perf_counter()
        getter = asyncio.ensure_future(probe.responses.get())
        done, _pending = await asyncio.wait(
            {getter, probe.closed}, timeout=max(remaining, 0.0), return_when=asyncio.FIRST_COMPLETED
        )
        elapsed = time.perf_counter() - started
        if getter in done:
            response = getter.result()
            if response.status_code >= 200 and response.call_id == request.call_id:
                return OptionsOutcome(response, elapsed, False, None, False)
            continue
        getter.cancel()
        if probe.closed in done:
            return OptionsOutcome(None, elapsed, True, probe.closed.result(), False)
        return OptionsOutcome(None, elapsed, False, None, True)


def build_options(
    *, node_address: str, via_port: int, host: str, port: int, transport: str
) -> Request:
    """Build an out-of-dialog OPTIONS request to ``host:port`` from this node."""
    parameter = ";transport=tls" if transport == "TLS" else ";transport=tcp"
    headers = Headers()
    headers.add("Via", f"SIP/2.0/{transport} {node_address}:{via_port};branch={new_branch()}")
    headers.add("Max-Forwards", "70")
    headers.add("From", f"<sip:doctor@{node_address}>;tag={secrets.token_hex(6)}")
    headers.add("To", f"<sip:{host}:{port}>")
    headers.add("Call-ID", f"{secrets.token_hex(12)}@{node_address}")
    headers.add("CSeq", "1 OPTIONS")
    headers.add("Accept", "application/sdp")
    headers.add("User-Agent", "tlstrunk doctor")
    return Request("OPTIONS", SipUri.parse(f"sip:{host}:{port}{parameter}"), headers)


async def fetch_presented_chain(
    host: str, port: int, *, local_address: str | None, context: ssl.SSLContext, timeout: float
) -> tuple[x509.Certificate, ...]:
    """Return the chain ``host:port`` sends, read with a probe context, or () if unreadable."""
    probe = _SipProbe()
    try:
        await connect_tls(
            probe,
            host=host,
            port=port,
            local_address=local_address,
            context=context,
            timeout=timeout,
        )
    except (ssl.SSLError, OSError, TimeoutError) as exc:
        logger.info("probe handshake with %s:%d failed: %s", host, port, exc)
        return ()
    probe.close()
    return probe.session.chain if probe.session else ()


#: Reasons OpenSSL gives when the two sides share no TLS version.
_VERSION_REFUSED = (
    "PROTOCOL_VERSION",
    "UNSUPPORTED_PROTOCOL",
    "WRONG_VERSION_NUMBER",
    "NO_PROTOCOLS_AVAILABLE",
)


async def version_accepted(
    host: str, port: int, *, local_address: str | None, context: ssl.SSLContext, timeout: float
) -> bool | None:
    """Tell whether the far end completes a handshake offering only ``context``'s version.

    Returns None when the outcome says nothing about the version (a reset or timeout).
    A certificate alert counts as accepted: the alert comes after the version was agreed.
    """
    probe = _SipProbe()
    try:
        await connect_tls(
            probe,
            host=host,
            port=port,
            local_address=local_address,
            context=context,
            timeout=timeout,
        )
    except ssl.SSLError as exc:
        reason = (getattr(exc, "reason", None) or str(exc)).upper()
        if isinstance(exc, ssl.SSLEOFError):
            return None
        return not any(key in reason for key in _VERSION_REFUSED)
    except (OSError, TimeoutError) as exc:
        logger.info("version probe of %s:%d failed: %s", host, port, exc)
        return None
    probe.close()
    return True
