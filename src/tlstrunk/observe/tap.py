"""A protocol that copies the bytes of a TCP connection below its TLS layer.

asyncio hands a TLS connection's protocol plaintext only; the records on the
wire stay inside asyncio's TLS protocol.  :class:`StreamTap` sits between the
socket transport and that TLS protocol and reports every chunk read from and
written to the socket, so a capture gets the TLS records exactly as they
cross the socket.  Use it with ``loop.start_tls``::

    tap = StreamTap(on_data=report)
    await loop.create_connection(lambda: tap, host, port)
    tls_transport = await loop.start_tls(tap.transport, app_protocol, context)
    app_protocol.connection_made(tls_transport)

On the accepting side, the server factory returns a fresh ``StreamTap`` and
the owner calls ``start_tls(..., server_side=True)`` from its
``on_connection_made`` callback.  The tap stops reading until ``start_tls``
installs the TLS protocol, so no byte of the ClientHello is lost.

NOTE: uvloop's ``start_tls`` accepts only its own transports, so the tap works
on the standard asyncio event loop only.

This module imports nothing from the rest of tlstrunk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, cast

logger = logging.getLogger(__name__)

_READ_BUFFER_SIZE = 256 * 1024


class StreamTap(asyncio.BufferedProtocol):
    """Forwards a TCP connection to an inner protocol and reports its bytes.

    Args:
        inner: the protocol that reads the connection, or ``None`` until
            ``loop.start_tls`` (or :meth:`_TapTransport.set_protocol`) sets it.
        on_data: called with ``"in"`` or ``"out"`` and each chunk read from or
            written to the socket, before the inner protocol reads it.
        after_receive: called after the inner protocol processed a received
            chunk; a capture flushes the packets held for key log lines here.
        on_connection_made: called with the tapping transport once connected.
        on_connection_lost: called with the error, if any, when the connection ends.
    """

    def __init__(
        self,
        inner: asyncio.BaseProtocol | None = None,
        *,
        on_data: Callable[[str, bytes], None],
        after_receive: Callable[[], None] | None = None,
        on_connection_made: Callable[[_TapTransport], None] | None = None,
        on_connection_lost: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        self.inner = inner
        self.transport: _TapTransport | None = None
        self._on_data = on_data
        self._after_receive = after_receive
        self._on_connection_made = on_connection_made
        self._on_connection_lost = on_connection_lost
        self._buffer: memoryview = memoryview(bytearray(0))
        self._early_data = bytearray()

    # -- from the socket transport -----------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = _TapTransport(cast(asyncio.Transport, transport), self)
        if self.inner is None:
            # Read nothing until the TLS protocol is installed.
            self.transport.pause_reading()
        else:
            self.inner.connection_made(self.transport)
        if self._on_connection_made is not None:
            self._on_connection_made(self.transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        if isinstance(self.inner, asyncio.BufferedProtocol):
            self._buffer = memoryview(self.inner.get_buffer(sizehint))
        elif len(self._buffer) < max(sizehint, 1) or self._buffer.readonly:
            self._buffer = memoryview(bytearray(max(sizehint, _READ_BUFFER_SIZE)))
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        data = bytes(self._buffer[:nbytes])
        self._report("in", data)
        if isinstance(self.inner, asyncio.BufferedProtocol):
            self.inner.buffer_updated(nbytes)
        elif isinstance(self.inner, asyncio.Protocol):
            self.inner.data_received(data)
        else:
            self._early_data += data
            return
        self._processed()

    def eof_received(self) -> bool | None:
        if isinstance(self.inner, asyncio.Protocol | asyncio.BufferedProtocol):
            return self.inner.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inner is not None:
            self.inner.connection_lost(exc)
        if self._on_connection_lost is not None:
            self._on_connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    # -- internals ----------------------------------------------------------

    def _report(self, direction: str, data: bytes) -> None:
        try:
            self._on_data(direction, data)
        except Exception:
            logger.exception("reporting %d %s bytes to the capture failed", len(data), direction)

    def _processed(self) -> None:
        if self._after_receive is None:
            return
        try:
            self._after_receive()
        except Exception:
            logger.exception("flushing the capture after a read failed")

    def _deliver_held(self) -> None:
        """Feed bytes read before the inner protocol was installed."""
        if not self._early_data or self.inner is None:
            return
        data = bytes(self._early_data)
        self._early_data.clear()
        if isinstance(self.inner, asyncio.BufferedProtocol):
            view = memoryview(data)
            while view:
                buffer = memoryview(self.inner.get_buffer(len(view)))
                size = min(len(buffer), len(view))
                buffer[:size] = view[:size]
                self.inner.buffer_updated(size)
                view = view[size:]
        elif isinstance(self.inner, asyncio.Protocol):
            self.inner.data_received(data)
        self._processed()


class _TapTransport(asyncio.Transport):
    """A proxy of the socket transport that reports each write to the tap."""

    # loop.start_tls() checks this flag before it wraps a transport.
    _start_tls_compatible = True

    def __init__(self, transport: asyncio.Transport, tap: StreamTap) -> None:
        super().__init__()
        self._transport = transport
        self._tap = tap

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._tap._report("out", bytes(data))
        self._transport.write(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._tap.inner = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return cast(asyncio.BaseProtocol, self._tap.inner)

    def resume_reading(self) -> None:
        self._tap._deliver_held()
        self._transport.resume_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self._transport.close()

    def abort(self) -> None:
        self._transport.abort()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self._transport.write_eof()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()
