"""SIP over UDP: one socket per node address and port, one channel per peer address.

Each datagram carries one whole message (RFC 3261 section 18.3). A request
that arrives gets ``received`` and ``rport`` on its top Via (RFC 3581), so that
responses built from it go back to the address and port it really came from.
A datagram that does not parse is answered with 400 when it is a request whose
key headers survive, and dropped and counted otherwise.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import Any, cast

from tlstrunk.observe.trace import TraceWriter
from tlstrunk.sip.address import Via
from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.framing import BadMessage
from tlstrunk.sip.message import Message, Request, parse_message
from tlstrunk.transport.capture import NodeCapture

logger = logging.getLogger(__name__)

Address = tuple[str, int]

#: Largest datagram read; SIP over UDP stays far below it.
MAX_DATAGRAM = 65535

_channel_ids = itertools.count(1_000_000)


class UdpChannel:
    """The path to one peer address through a node's UDP socket.

    It offers the same attributes as a stream connection, so the transaction
    layer and the B2BUA treat both alike. ``reliable`` is False, so client
    transactions retransmit.
    """

    def __init__(self, endpoint: UdpEndpoint, remote: Address, direction: str) -> None:
        self.id = next(_channel_ids)
        self.direction = direction
        self.local: Address = endpoint.local
        self.remote = remote
        self.tls = None
        self.transport = "UDP"
        self.trunk_name: str | None = None
        #: Whether the channel belongs to the node's phone port rather than a trunk.
        self.phone_listener = False
        self.close_reason: str | None = None
        self._endpoint = endpoint

    @property
    def reliable(self) -> bool:
        """UDP may lose datagrams, so transactions retransmit."""
        return False

    @property
    def is_open(self) -> bool:
        """Whether the node's UDP socket is still open."""
        return self._endpoint.is_open

    def send(self, message: Message) -> None:
        """Send ``message`` to the peer in one datagram."""
        self._endpoint.send(message, self.remote)

    def close(self, reason: str) -> None:
        """Forget the peer; the shared socket stays open."""
        self.close_reason = reason
        self._endpoint.forget(self.remote)


class UdpEndpoint(asyncio.DatagramProtocol):
    """A node's UDP socket on one address and port.

    Args:
        on_message: called with the channel and each parsed message from an accepted peer.
        check: called with a new channel before its first message is delivered;
            returns a reason to drop the peer's datagrams, or ``None`` to accept it.
        trace: the node's trace writer.
    """

    def __init__(
        self,
        *,
        on_message: Callable[[UdpChannel, Message], None],
        check: Callable[[UdpChannel], str | None],
        trace: TraceWriter,
        capture: NodeCapture | None = None,
    ) -> None:
        self._capture = capture
        self._on_message = on_message
        self._check = check
        self._trace = trace
        self._transport: asyncio.DatagramTransport | None = None
        self._channels: dict[Address, UdpChannel] = {}
        self.local: Address = ("", 0)
        self.dropped = 0

    async def start(self, host: str, port: int) -> None:
        """Bind the socket to ``host:port``."""
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        self._trace.info("SIPHandler", "Listening for SIP over UDP on %s:%d", *self.local)

    def stop(self) -> None:
        """Close the socket."""
        if self._transport is not None:
            self._transport.close()

    @property
    def is_open(self) -> bool:
        """Whether the socket can still send."""
        return self._transport is not None and not self._transport.is_closing()

    def channel(self, remote: Address, direction: str = "outbound") -> UdpChannel:
        """Return the channel to ``remote``, creating it when new."""
        channel = self._channels.get(remote)
        if channel is None:
            channel = UdpChannel(self, remote, direction)
            self._channels[remote] = channel
        return channel

    def forget(self, remote: Address) -> None:
        """Drop the channel to ``remote``."""
        self._channels.pop(remote, None)

    def send(self, message: Message, remote: Address) -> None:
        """Send ``message`` to ``remote``."""
        if self._transport is None:
            raise ConnectionError("the UDP socket is closed")
        data = message.to_bytes()
        if self._trace.enabled:
            self._trace.detailed(
                "SIPUdp",
                "Outgoing SIP UDP message to %s on port %d\n%s",
                remote[0],
                remote[1],
                data.decode("utf-8", "replace"),
                call_id=message.call_id,
            )
        self._transport.sendto(data, remote)
        if self._capture is not None:
            self._capture.udp(self.local, remote, "out", data)

    # -- asyncio callbacks ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        sockname = transport.get_extra_info("sockname")
        self.local = (str(sockname[0]), int(sockname[1]))

    def datagram_received(self, data: bytes, addr: Any) -> None:
        remote: Address = (str(addr[0]), int(addr[1]))
        if self._capture is not None:
            self._capture.udp(self.local, remote, "in", data)
        channel = self._channels.get(remote)
        if channel is None:
            channel = UdpChannel(self, remote, "inbound")
            reason = self._check(channel)
            if reason is not None:
                self.dropped += 1
                self._trace.warning(
                    "SIPUdp", "Dropped UDP datagram from %s:%d: %s", remote[0], remote[1], reason
                )
                return
            self._channels[remote] = channel
        self._deliver(channel, data)

    def error_received(self, exc: Exception) -> None:
        logger.info("UDP socket %s:%d reported %s", self.local[0], self.local[1], exc)

    # -- internals --------------------------------------------------------

    def _deliver(self, channel: UdpChannel, data: bytes) -> None:
        try:
            message = parse_message(data)
        except SipParseError as error:
            self._answer_bad(channel, data, error)
            return
        if isinstance(message, Request):
            _mark_received(message, channel.remote)
        if self._trace.enabled:
            self._trace.detailed(
                "SIPUdp",
                "Incoming SIP UDP message from %s on port %d\n%s",
                channel.remote[0],
                channel.remote[1],
                data.decode("utf-8", "replace"),
                call_id=message.call_id,
            )
        try:
            self._on_message(channel, message)
        except Exception:
            logger.exception("UDP channel %d: handling a SIP message failed", channel.id)

    def _answer_bad(self, channel: UdpChannel, data: bytes, error: SipParseError) -> None:
        self._trace.warning(
            "SIPUdp",
            "Invalid SIP message from %s:%d: %s (status %d)",
            channel.remote[0],
            channel.remote[1],
            error.reason,
            error.status_code,
        )
        response = BadMessage(data, error).try_make_response()
        if response is None:
            self.dropped += 1
            return
        self.send(response, channel.remote)


def _mark_received(request: Request, remote: Address) -> None:
    """Add ``received`` and fill ``rport`` on the top Via (RFC 3581 section 4)."""
    values = request.headers.get_all("Via")
    if not values:
        return
    try:
        top = Via.parse(values[0])
    except SipParseError:
        return
    if top.host != remote[0]:
        top = top.with_param("received", remote[0])
    if top.wants_rport:
        top = top.with_param("rport", str(remote[1]))
    if str(top) == values[0]:
        return
    request.headers.remove("Via")
    for value in reversed([str(top), *values[1:]]):
        request.headers.insert_first("Via", value)
