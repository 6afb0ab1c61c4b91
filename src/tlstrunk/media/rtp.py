"""RTP media for virtual phones: a test tone out, the peer's packets in, counted.

A :class:`MediaStream` sends a 1 kHz tone in G.711 (PCMU or PCMA), one packet
of 160 samples every 20 ms, optionally through an outbound
:class:`~tlstrunk.media.srtp.SrtpContext`, and counts what the peer sends,
checked through the inbound context.  It only talks to loopback addresses and
stops by itself: at most ``max_packets`` packets, at most
:data:`MAX_DURATION` seconds.

G.711 encoding is written here because the standard library's ``audioop``
is deprecated (and gone in Python 3.13), and a tone needs only the encoder.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import secrets
import socket
import struct
from dataclasses import dataclass, field, replace

from tlstrunk.i18n import _
from tlstrunk.media.srtp import SrtpContext, SrtpError

logger = logging.getLogger(__name__)

PCMU = 0
PCMA = 8
SAMPLE_RATE = 8000
PTIME = 0.020
SAMPLES_PER_PACKET = 160
#: Hard limits on one :meth:`MediaStream.start` call.
MAX_DURATION = 60.0
MAX_PACKETS = int(MAX_DURATION / PTIME)

_RTP_HEADER = struct.Struct("!BBHII")


def ulaw_encode(sample: int) -> int:
    """Encode one signed 16-bit sample in G.711 mu-law."""
    value = sample >> 2
    mask = 0xFF if value >= 0 else 0x7F
    value = min(abs(value), 8159) + 0x21
    segment = (value >> 6).bit_length()
    if segment >= 8:
        return 0x7F ^ mask
    return (segment << 4 | (value >> (segment + 1)) & 0x0F) ^ mask


def alaw_encode(sample: int) -> int:
    """Encode one signed 16-bit sample in G.711 A-law."""
    value = sample >> 3
    mask = 0xD5 if value >= 0 else 0x55
    if value < 0:
        value = -value - 1
    segment = max(0, value.bit_length() - 5)
    if segment >= 8:
        return 0x7F ^ mask
    mantissa = (value >> 1) & 0x0F if segment < 2 else (value >> segment) & 0x0F
    return (segment << 4 | mantissa) ^ mask


def tone_payload(payload_type: int, frequency: float = 1000.0, amplitude: int = 8000) -> bytes:
    """Return one 20 ms packet of a sine tone (a 1 kHz tone repeats exactly every packet)."""
    encode = {PCMU: ulaw_encode, PCMA: alaw_encode}[payload_type]
    return bytes(
        encode(round(amplitude * math.sin(2 * math.pi * frequency * n / SAMPLE_RATE)))
        for n in range(SAMPLES_PER_PACKET)
    )


@dataclass
class MediaStats:
    """Packet counts of one stream.  ``received == decrypted + plain + failed``.

    ``decrypted`` counts SRTP packets that authenticated and decrypted.
    ``plain`` counts well-formed RTP packets on a stream without SRTP.
    ``failed`` counts the rest, split by reason in ``failures``
    (``auth``, ``replay``, ``malformed``).
    """

    sent: int = 0
    sent_bytes: int = 0
    received: int = 0
    received_bytes: int = 0
    decrypted: int = 0
    plain: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)


def _check_loopback(host: str, what: str) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(_("The {what} RTP address {host} is not a loopback address; virtual "
                           "phones send media on 127.0.0.0/8 or ::1 only.").format(
                               what=what, host=host))


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, stream: MediaStream) -> None:
        self._stream = stream

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._stream._on_datagram(data)

    def error_received(self, exc: Exception) -> None:
        logger.debug("RTP socket error: %s", exc)


class MediaStream:
    """One RTP (or SRTP) audio stream between a virtual phone and its peer.

    Args:
        remote: the peer's ``(address, port)`` from its SDP (``c=`` and ``m=``).
        payload_type: 0 (PCMU) or 8 (PCMA).
        sock: a bound UDP socket to use (it is duplicated, so the caller keeps
            its own); without it a socket is bound to ``local``.
        local: address to bind when ``sock`` is not given; port 0 picks one.
        outbound: context that protects what we send (our own key), or None.
        inbound: context that checks what the peer sends (its key), or None.
        max_packets: upper bound on packets sent by one :meth:`start`.
    """

    def __init__(
        self,
        remote: tuple[str, int],
        *,
        payload_type: int = PCMU,
        sock: socket.socket | None = None,
        local: tuple[str, int] = ("127.0.0.1", 0),
        outbound: SrtpContext | None = None,
        inbound: SrtpContext | None = None,
        max_packets: int = MAX_PACKETS,
    ) -> None:
        if payload_type not in (PCMU, PCMA):
            raise ValueError(_("The RTP payload type {pt} is not supported; use 0 (PCMU) or "
                               "8 (PCMA).").format(pt=payload_type))
        _check_loopback(remote[0], _("remote"))
        if sock is None:
            _check_loopback(local[0], _("local"))
            family = socket.AF_INET6 if ":" in local[0] else socket.AF_INET
            self._sock = socket.socket(family, socket.SOCK_DGRAM)
            self._sock.bind(local)
        else:
            _check_loopback(str(sock.getsockname()[0]), _("local"))
            self._sock = sock.dup()
        self.remote = remote
        self.payload_type = payload_type
        self.max_packets = min(max_packets, MAX_PACKETS)
        self._outbound = outbound
        self._inbound = inbound
        self._payload = tone_payload(payload_type)
        self._ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp = secrets.randbits(32)
        self._stats = MediaStats()
        self._transport: asyncio.DatagramTransport | None = None
        self._closed = False

    @property
    def local_address(self) -> tuple[str, int]:
        """The bound ``(address, port)`` to put in our SDP."""
        name = self._sock.getsockname()
        return str(name[0]), int(name[1])

    @property
    def ssrc(self) -> int:
        """The SSRC of the packets we send."""
        return self._ssrc

    async def open(self) -> None:
        """Start receiving; :meth:`start` calls it when needed."""
        if self._closed:
            raise RuntimeError("MediaStream is closed")
        if self._transport is None:
            loop = asyncio.get_running_loop()
            transport, _protocol = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), sock=self._sock)
            self._transport = transport

    async def start(self, duration: float, *, quiet: float = 0.25,
                    linger: float = 3.0) -> MediaStats:
        """Send the tone for ``duration`` seconds, then wait for the peer to go quiet.

        Sends ``duration / 20 ms`` packets (at least one, at most
        ``max_packets``), paced every 20 ms.  Afterwards it keeps receiving
        until no packet arrived for ``quiet`` seconds, at most ``linger``
        seconds, and returns a snapshot of the stats.  Receiving goes on
        until :meth:`close`.
        """
        await self.open()
        duration = min(max(duration, 0.0), MAX_DURATION)
        count = min(self.max_packets, max(1, round(duration / PTIME)))
        loop = asyncio.get_running_loop()
        begin = loop.time()
        for index in range(count):
            delay = begin + index * PTIME - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._send(marker=index == 0)
        for _round in range(max(1, math.ceil(linger / quiet))):
            before = self._stats.received
            await asyncio.sleep(quiet)
            if self._stats.received == before:
                break
        return self.stats()

    def _send(self, *, marker: bool) -> None:
        assert self._transport is not None
        header = _RTP_HEADER.pack(0x80, (0x80 if marker else 0) | self.payload_type,
                                  self._sequence, self._timestamp, self._ssrc)
        packet = header + self._payload
        if self._outbound is not None:
            packet = self._outbound.protect(packet)
        self._transport.sendto(packet, self.remote)
        self._stats.sent += 1
        self._stats.sent_bytes += len(packet)
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + SAMPLES_PER_PACKET) & 0xFFFFFFFF

    def _fail(self, kind: str) -> None:
        self._stats.failed += 1
        self._stats.failures[kind] = self._stats.failures.get(kind, 0) + 1

    def _on_datagram(self, data: bytes) -> None:
        # NOTE: packets from any source address count, and RTCP is neither sent nor told apart.
        self._stats.received += 1
        self._stats.received_bytes += len(data)
        if self._inbound is not None:
            try:
                data = self._inbound.unprotect(data)
            except SrtpError as error:
                self._fail(error.kind)
                return
        if len(data) < _RTP_HEADER.size or data[0] >> 6 != 2:
            self._fail("malformed")
        elif self._inbound is not None:
            self._stats.decrypted += 1
        else:
            self._stats.plain += 1

    def stats(self) -> MediaStats:
        """Return a copy of the counters so far."""
        return replace(self._stats, failures=dict(self._stats.failures))

    def close(self) -> None:
        """Stop receiving and release the socket (the caller's own socket stays open)."""
        self._closed = True
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        else:
            self._sock.close()

    async def __aenter__(self) -> MediaStream:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
