"""Packet captures of a node's own connections, with the TLS secrets embedded.

The transport reports what it sends and receives on each socket: TCP payload
per direction (TLS records, not plaintext), connection opens and closes, and
UDP datagrams.  :class:`CaptureSession` turns those reports into the packets a
sniffer would have seen: a three-way handshake, data segments with consistent
sequence and acknowledgement numbers, ACKs and a FIN exchange.  It writes them
with :class:`~tlstrunk.observe.pcapng.PcapngWriter`, together with the TLS key
log lines in Decryption Secrets Blocks.

Wireshark only decrypts records that come after the secrets in the file.  A
TLS stack derives the secrets while it processes the bytes it just received,
so the key log lines for received records exist only after those records were
reported.  The session therefore holds received packets back until
:meth:`CaptureSession.flush` (or the next report), and writes the pending key
log lines first.  Sent records are written at once, because the stack derived
their keys before it encrypted them.

This module imports nothing from the rest of tlstrunk.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

from tlstrunk.observe.packets import (
    ACK,
    FIN,
    PSH,
    SYN,
    Endpoint,
    IPAddress,
    check_same_version,
    tcp_packet,
    udp_packet,
)
from tlstrunk.observe.pcapng import PcapngWriter

logger = logging.getLogger(__name__)

#: Payload bytes per synthesised TCP segment.
DEFAULT_MSS = 1400
#: Segments between two synthesised ACKs, so that unacknowledged data stays
#: below the advertised 64 KiB window and Wireshark flags no "window full".
_SEGMENTS_PER_ACK = 16

DIRECTIONS = ("out", "in")


@dataclass(frozen=True)
class CaptureFilter:
    """Packet selection of a capture, like ``host ADDRESS``, ``port N`` and ``count N``.

    Args:
        host: keep packets from or to this IP address; ``None`` keeps all.
        port: keep packets from or to this port; ``None`` keeps all.
        count: stop writing after this many packets; ``None`` has no limit.

    Raises:
        ValueError: a value is invalid; the message names it.
    """

    host: str | None = None
    port: int | None = None
    count: int | None = None
    _host_address: IPAddress | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.host is not None:
            try:
                address = Endpoint.parse((self.host, 0)).address
            except ValueError:
                raise ValueError(
                    f"Capture host {self.host!r} is not an IP address; give an IPv4 or IPv6 "
                    "address such as 192.0.2.10."
                ) from None
            object.__setattr__(self, "_host_address", address)
        if self.port is not None and not 1 <= self.port <= 65535:
            raise ValueError(f"Capture port {self.port} is invalid; use a value from 1 to 65535.")
        if self.count is not None and self.count < 1:
            raise ValueError(f"Capture count {self.count} is invalid; use a positive number.")

    def matches(self, local: Endpoint, remote: Endpoint) -> bool:
        """Return whether packets between ``local`` and ``remote`` are kept."""
        if self._host_address is not None and self._host_address not in (
            local.address,
            remote.address,
        ):
            return False
        return self.port is None or self.port in (local.port, remote.port)


class KeyLogFollower:
    """Reads the lines that OpenSSL appends to a key log file.

    Python 3.11's ``ssl`` has no key log callback, only
    ``SSLContext.keylog_filename``; polling this follower is how the lines get
    from that file into a capture.  Only whole lines are returned.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._offset = 0
        self._partial = b""

    def read_new_lines(self) -> list[str]:
        """Return the lines appended since the last call; a missing file has none."""
        try:
            with open(self.path, "rb") as file:
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        return [line.decode("ascii", "replace") for line in complete if line.strip()]


@dataclass
class _Connection:
    local: Endpoint
    remote: Endpoint
    next_seq: dict[str, int]
    closed: bool = False

    def endpoints(self, direction: str) -> tuple[Endpoint, Endpoint]:
        if direction == "out":
            return self.local, self.remote
        return self.remote, self.local


def _opposite(direction: str) -> str:
    return "in" if direction == "out" else "out"


def _initial_sequence_number(conn_id: Hashable, sender: Endpoint, receiver: Endpoint) -> int:
    # Deterministic, so the same reports give the same file.
    key = f"{conn_id!r}|{sender}|{receiver}".encode()
    return zlib.crc32(key)


class CaptureSession:
    """Synthesises TCP and UDP packets from a node's socket reports into a pcapng file.

    Calls are serialised by a lock, so a session may be fed from several
    threads, although the node feeds it from its event loop only.

    Args:
        writer: the capture file.
        capture_filter: which packets to keep; the default keeps everything.
        key_source: polled for new NSS key log lines before each packet is
            written, for example :meth:`KeyLogFollower.read_new_lines`.
        mss: payload bytes per synthesised TCP segment.
    """

    def __init__(
        self,
        writer: PcapngWriter,
        *,
        capture_filter: CaptureFilter | None = None,
        key_source: Callable[[], Iterable[str]] | None = None,
        mss: int = DEFAULT_MSS,
    ) -> None:
        if not 1 <= mss <= 65495:
            raise ValueError(f"Segment size {mss} is invalid; use a value from 1 to 65495.")
        self.writer = writer
        self.filter = capture_filter or CaptureFilter()
        self.mss = mss
        self._key_source = key_source
        self._connections: dict[Hashable, _Connection | None] = {}
        self._pending_keys: list[str] = []
        self._pending_packets: list[tuple[bytes, int]] = []
        self._accepted = 0
        self._lock = threading.RLock()

    @property
    def done(self) -> bool:
        """Whether the packet count of the filter has been reached."""
        return self.filter.count is not None and self._accepted >= self.filter.count

    def __contains__(self, conn_id: Hashable) -> bool:
        """Return whether ``conn_id`` was opened in this session and not closed yet."""
        with self._lock:
            return conn_id in self._connections

    # -- reports from the transport ------------------------------------------

    def connection_opened(
        self,
        conn_id: Hashable,
        local: tuple[str, int],
        remote: tuple[str, int],
        initiated_locally: bool,
        now: float,
    ) -> None:
        """Record a new TCP connection and write its three-way handshake.

        Args:
            conn_id: the caller's id for the connection, used by later reports.
            local: this node's socket address.
            remote: the peer's socket address.
            initiated_locally: whether this node connected (sent the SYN).
            now: seconds since the Unix epoch.

        Raises:
            ValueError: ``conn_id`` is already open or an address is invalid.
        """
        with self._lock:
            if conn_id in self._connections:
                raise ValueError(f"Connection {conn_id!r} is already open in this capture.")
            local_endpoint = Endpoint.parse(local)
            remote_endpoint = Endpoint.parse(remote)
            check_same_version(local_endpoint, remote_endpoint)
            if not self.filter.matches(local_endpoint, remote_endpoint):
                self._connections[conn_id] = None
                return
            connection = _Connection(
                local_endpoint,
                remote_endpoint,
                {
                    "out": _initial_sequence_number(conn_id, local_endpoint, remote_endpoint),
                    "in": _initial_sequence_number(conn_id, remote_endpoint, local_endpoint),
                },
            )
            self._connections[conn_id] = connection
            self._write_pending()
            first = "out" if initiated_locally else "in"
            second = _opposite(first)
            timestamp = _nanoseconds(now)
            self._emit_tcp(connection, first, SYN, timestamp, syn_or_fin=True)
            self._emit_tcp(connection, second, SYN | ACK, timestamp, syn_or_fin=True)
            self._emit_tcp(connection, first, ACK, timestamp)

    def data(self, conn_id: Hashable, direction: str, payload: bytes, now: float) -> None:
        """Write ``payload`` sent (``"out"``) or received (``"in"``) on a connection.

        The payload is split into segments of at most :attr:`mss` bytes, and the
        receiving side acknowledges them.  Received packets are held until the
        next report or :meth:`flush`, so that key log lines derived from them
        can be written first.

        Raises:
            ValueError: ``conn_id`` was never opened, or ``direction`` is invalid.
        """
        if direction not in DIRECTIONS:
            raise ValueError(f"Direction {direction!r} is invalid; use 'out' or 'in'.")
        with self._lock:
            connection = self._lookup(conn_id)
            self._write_pending()
            if connection is None or connection.closed or not payload:
                return
            timestamp = _nanoseconds(now)
            view = memoryview(payload)
            unacknowledged = 0
            for start in range(0, len(payload), self.mss):
                chunk = bytes(view[start : start + self.mss])
                self._emit_tcp(connection, direction, PSH | ACK, timestamp, payload=chunk)
                unacknowledged += 1
                if unacknowledged == _SEGMENTS_PER_ACK:
                    self._emit_tcp(connection, _opposite(direction), ACK, timestamp)
                    unacknowledged = 0
            if unacknowledged:
                self._emit_tcp(connection, _opposite(direction), ACK, timestamp)
            if direction == "out":
                self._write_pending()

    def connection_closed(
        self, conn_id: Hashable, now: float, *, closed_locally: bool = True
    ) -> None:
        """Write the FIN exchange of a connection and forget it.

        Raises:
            ValueError: ``conn_id`` was never opened.
        """
        with self._lock:
            connection = self._lookup(conn_id)
            self._write_pending()
            del self._connections[conn_id]
            if connection is None:
                return
            first = "out" if closed_locally else "in"
            second = _opposite(first)
            timestamp = _nanoseconds(now)
            self._emit_tcp(connection, first, FIN | ACK, timestamp, syn_or_fin=True)
            self._emit_tcp(connection, second, FIN | ACK, timestamp, syn_or_fin=True)
            self._emit_tcp(connection, first, ACK, timestamp)
            connection.closed = True
            self._write_pending()

    def udp(
        self,
        local: tuple[str, int],
        remote: tuple[str, int],
        direction: str,
        payload: bytes,
        now: float,
    ) -> None:
        """Write one UDP datagram sent (``"out"``) or received (``"in"``)."""
        if direction not in DIRECTIONS:
            raise ValueError(f"Direction {direction!r} is invalid; use 'out' or 'in'.")
        local_endpoint = Endpoint.parse(local)
        remote_endpoint = Endpoint.parse(remote)
        with self._lock:
            self._write_pending()
            if not self.filter.matches(local_endpoint, remote_endpoint):
                return
            if direction == "out":
                packet = udp_packet(local_endpoint, remote_endpoint, payload)
            else:
                packet = udp_packet(remote_endpoint, local_endpoint, payload)
            self._queue(packet, _nanoseconds(now))
            self._write_pending()

    def key_log_line(self, line: str) -> None:
        """Add one NSS key log line, written before the next packet."""
        with self._lock:
            if line.strip() and not line.lstrip().startswith("#"):
                self._pending_keys.append(line.strip())

    def flush(self) -> None:
        """Write pending key log lines and held packets, and flush the file."""
        with self._lock:
            self._write_pending()
            if not self.writer.closed:
                self.writer.flush()

    def close(self) -> None:
        """Write what is pending and close the file; open connections are left as they are."""
        with self._lock:
            if not self.writer.closed:
                self._write_pending()
                self.writer.close()

    # -- internals --------------------------------------------------------

    def _lookup(self, conn_id: Hashable) -> _Connection | None:
        try:
            return self._connections[conn_id]
        except KeyError:
            raise ValueError(
                f"Connection {conn_id!r} is not open in this capture; report it with "
                "connection_opened() first."
            ) from None

    def _emit_tcp(
        self,
        connection: _Connection,
        direction: str,
        flags: int,
        timestamp: int,
        *,
        payload: bytes = b"",
        syn_or_fin: bool = False,
    ) -> None:
        source, destination = connection.endpoints(direction)
        seq = connection.next_seq[direction]
        ack = connection.next_seq[_opposite(direction)]
        packet = tcp_packet(
            source,
            destination,
            seq=seq,
            ack=ack,
            flags=flags,
            payload=payload,
            mss=self.mss if flags & SYN else None,
        )
        connection.next_seq[direction] = (seq + len(payload) + int(syn_or_fin)) & 0xFFFFFFFF
        self._queue(packet, timestamp)

    def _queue(self, packet: bytes, timestamp: int) -> None:
        if self.done or self.writer.closed:
            return
        self._accepted += 1
        self._pending_packets.append((packet, timestamp))
        if self.done:
            logger.info(
                "capture %s reached its count of %d packets", self.writer.path, self._accepted
            )

    def _write_pending(self) -> None:
        if self.writer.closed:
            return
        if self._key_source is not None:
            for line in self._key_source():
                self.key_log_line(line)
        if self._pending_keys and self._pending_packets:
            self.writer.write_tls_key_log(self._pending_keys)
            self._pending_keys.clear()
        for packet, timestamp in self._pending_packets:
            self.writer.write_packet(packet, timestamp)
        self._pending_packets.clear()


def _nanoseconds(now: float) -> int:
    return round(now * 1_000_000_000)


def wall_clock() -> float:
    """Return the current time in seconds since the Unix epoch, the unit of ``now``."""
    return time.time()


__all__ = [
    "DEFAULT_MSS",
    "CaptureFilter",
    "CaptureSession",
    "KeyLogFollower",
    "wall_clock",
]
