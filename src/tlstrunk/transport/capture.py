"""The node's own packet capture: TLS records as they cross its sockets, with their secrets.

When capture is on, stream connections run their TLS through
:class:`tlstrunk.observe.tap.StreamTap` and ``loop.start_tls``, so the
capture sees the records on the wire, and every TLS context writes its
secrets to a key log file that the capture embeds in the pcapng file. The
tap needs the standard asyncio event loop (uvloop's ``start_tls`` accepts
only its own transports), so a capturing node runs without uvloop.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from tlstrunk.observe.capture import CaptureFilter, CaptureSession, KeyLogFollower
from tlstrunk.observe.pcapng import PcapngWriter
from tlstrunk.observe.tap import StreamTap
from tlstrunk.transport.connection import Address, SipConnection

_capture_ids = itertools.count(1)


@dataclass(frozen=True)
class CaptureSettings:
    """Capture request: the file and the usual host, port and count filters."""

    path: Path
    host: str | None = None
    port: int | None = None
    count: int | None = None


class NodeCapture:
    """A capture file being written for one node, and its key log file.

    Args:
        settings: the file and the filters.
        keylog_path: where the TLS contexts write their secrets. It contains
            secrets, so it lives in the node's private directory and is deleted on close.
    """

    def __init__(self, settings: CaptureSettings, keylog_path: Path) -> None:
        self.settings = settings
        self.keylog_path = keylog_path
        keylog_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        keylog_path.touch(mode=0o600)
        self._session = CaptureSession(
            PcapngWriter(settings.path),
            capture_filter=CaptureFilter(settings.host, settings.port, settings.count),
            key_source=KeyLogFollower(keylog_path).read_new_lines,
        )

    def close(self) -> None:
        """Finish the capture file and delete the key log file."""
        self._session.close()
        self.keylog_path.unlink(missing_ok=True)

    def _tap(self, key: int) -> StreamTap:
        session = self._session
        return StreamTap(
            on_data=lambda direction, data: session.data(key, direction, data, time.time()),
            after_receive=session.flush,
            on_connection_lost=lambda _exc: _closed(session, key),
        )

    async def accept(
        self,
        accepted: socket.socket,
        connection: SipConnection,
        context: ssl.SSLContext,
        handshake_timeout: float,
    ) -> None:
        """Run the server side of a TLS handshake on ``accepted`` through the capture tap."""
        loop = asyncio.get_running_loop()
        key = next(_capture_ids)
        tap = self._tap(key)
        await loop.connect_accepted_socket(lambda: tap, accepted)
        tapped = self._opened(key, tap, initiated_locally=False)
        tls_transport = await loop.start_tls(
            tapped,
            connection,
            context,
            server_side=True,
            ssl_handshake_timeout=handshake_timeout,
        )
        if tls_transport is None:
            raise ConnectionError("the TLS handshake ended without a transport")
        connection.connection_made(tls_transport)

    async def connect(
        self,
        host: str,
        port: int,
        local_addr: tuple[str, int] | None,
        connection: SipConnection,
        context: ssl.SSLContext,
        handshake_timeout: float,
    ) -> None:
        """Open an outbound TLS connection through the capture tap."""
        loop = asyncio.get_running_loop()
        key = next(_capture_ids)
        tap = self._tap(key)
        await loop.create_connection(lambda: tap, host, port, local_addr=local_addr)
        tapped = self._opened(key, tap, initiated_locally=True)
        tls_transport = await loop.start_tls(
            tapped,
            connection,
            context,
            server_hostname="",
            ssl_handshake_timeout=handshake_timeout,
        )
        if tls_transport is None:
            raise ConnectionError("the TLS handshake ended without a transport")
        connection.connection_made(tls_transport)

    def udp(self, local: Address, remote: Address, direction: str, payload: bytes) -> None:
        """Record one SIP datagram."""
        self._session.udp(local, remote, direction, payload, time.time())

    def _opened(self, key: int, tap: StreamTap, *, initiated_locally: bool) -> asyncio.Transport:
        transport = tap.transport
        if transport is None:
            raise ConnectionError("the connection closed before the TLS handshake")
        local = transport.get_extra_info("sockname")
        remote = transport.get_extra_info("peername")
        self._session.connection_opened(
            key,
            (str(local[0]), int(local[1])),
            (str(remote[0]), int(remote[1])),
            initiated_locally,
            time.time(),
        )
        return transport


def _closed(session: CaptureSession, key: int) -> None:
    if key in session:
        session.connection_closed(key, time.time())
