"""The load generator: a UAC that places calls at a set rate and a UAS that answers them.

Each call is INVITE, 100, 180, 200, ACK, a hold time, then BYE and its 200.
The UAC speaks to its next hop over persistent stream connections (TCP, or
TLS with a client certificate) and records, per call, the time from sending
the INVITE to reading its 200 (the setup time) and, for a failed call, the
cause: the final status, a timeout, or a closed connection.

Runs are bounded twice: by the number of calls and by ``max_seconds``. Calls
still open at the end count as failed, with the state they were in.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import ssl
import time
from dataclasses import dataclass, field
from typing import cast

from tlstrunk.perf.sipwire import (
    FramingError,
    StreamFramer,
    UacTemplates,
    read_dialog_target,
    route_lines,
)
from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.peek import peek_routing

logger = logging.getLogger(__name__)

#: Seconds to wait for the connections to the next hop to open.
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class LoadSpec:
    """The calls one UAC run places, and over which connections.

    Attributes:
        target: next hop ``(address, port)``.
        local_address: the address the UAC binds to; the next hop may match it to a trunk.
        transport: ``"TCP"`` or ``"TLS"``.
        called: the number dialled (the user part of the request URI).
        rate: calls started per second.
        calls: how many calls to start.
        hold: seconds between the ACK and the BYE.
        max_concurrent: calls open at once; the UAC waits for a free slot above it.
        connections: persistent connections to the next hop, used in turn.
        invite_timeout: seconds an INVITE waits for its final response.
        bye_timeout: seconds a BYE waits for its final response.
        max_seconds: hard bound on the whole run, from the first INVITE.
    """

    target: tuple[str, int]
    local_address: str
    transport: str = "TCP"
    called: str = "9898"
    rate: float = 10.0
    calls: int = 100
    hold: float = 1.0
    max_concurrent: int = 100_000
    connections: int = 1
    invite_timeout: float = 10.0
    bye_timeout: float = 10.0
    max_seconds: float = 120.0


@dataclass
class UacResult:
    """Counts and setup-time samples of one UAC run."""

    attempted: int = 0
    connected: int = 0
    completed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    #: Seconds from INVITE sent to 200 read, one sample per connected call.
    setup_times: list[float] = field(default_factory=list)
    #: Seconds from the first INVITE to the end of the run.
    elapsed: float = 0.0
    #: Highest number of calls open at once.
    peak_open: int = 0

    def fail(self, cause: str) -> None:
        """Count one failed call under ``cause``."""
        self.failures[cause] = self.failures.get(cause, 0) + 1


# call states
_INVITING, _HOLDING, _BYEING = 1, 2, 3


class _Call:
    __slots__ = ("branch", "call_id", "connection", "started", "state", "tag", "target", "timer")

    def __init__(
        self, call_id: bytes, tag: bytes, branch: bytes, connection: _UacConnection
    ) -> None:
        self.call_id = call_id
        self.tag = tag
        self.branch = branch
        self.connection = connection
        self.state = _INVITING
        #: ``time.perf_counter()`` when the INVITE was sent; uvloop's clock has 1 ms steps.
        self.started = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.target: tuple[bytes, bytes, bytes] | None = None  # request URI, routes, To


class _UacConnection(asyncio.Protocol):
    def __init__(self, uac: Uac) -> None:
        self._uac = uac
        self._framer = StreamFramer(self._on_message)
        self.transport: asyncio.Transport | None = None
        self.templates: UacTemplates | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._framer.feed(data)
        except FramingError as exc:
            logger.warning("closing the UAC connection: %s", exc)
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self._uac.connection_lost(self)

    @property
    def is_open(self) -> bool:
        """Whether the connection can still carry requests."""
        return self.transport is not None and not self.transport.is_closing()

    def send(self, data: bytes) -> None:
        """Write ``data`` unless the connection is closing (its calls fail on their own)."""
        if self.is_open:
            assert self.transport is not None
            self.transport.write(data)

    def _on_message(self, message: bytes) -> None:
        self._uac.on_message(self, message)


class Uac:
    """Places calls over persistent connections and counts what happens to them."""

    def __init__(self, spec: LoadSpec, context: ssl.SSLContext | None = None) -> None:
        if spec.transport not in ("TCP", "TLS"):
            raise ValueError(
                f"The UAC transport {spec.transport!r} is not supported; use TCP or TLS."
            )
        if spec.transport == "TLS" and context is None:
            raise ValueError("A TLS UAC needs a client SSL context with its certificate.")
        if spec.rate <= 0 or spec.calls < 0:
            raise ValueError(
                f"Rate {spec.rate} and call count {spec.calls} are invalid; "
                "give a positive rate and a call count of 0 or more."
            )
        self.spec = spec
        self._context = context
        self.result = UacResult()
        self._calls: dict[bytes, _Call] = {}
        self._connections: list[_UacConnection] = []
        self._prefix = os.urandom(4).hex().encode()
        self._serial = itertools.count(1)
        self._slot_free = asyncio.Event()
        self._done = asyncio.Event()
        self._placing = True
        self._loop = asyncio.get_running_loop()

    async def connect(self) -> None:
        """Open the persistent connections to the next hop."""
        host, port = self.spec.target
        for _index in range(self.spec.connections):
            _transport, protocol = await asyncio.wait_for(
                self._loop.create_connection(
                    lambda: _UacConnection(self),
                    host,
                    port,
                    ssl=self._context,
                    local_addr=(self.spec.local_address, 0),
                ),
                CONNECT_TIMEOUT,
            )
            assert protocol.transport is not None
            local = protocol.transport.get_extra_info("sockname")
            protocol.templates = UacTemplates.build(
                transport=self.spec.transport,
                local=(str(local[0]), int(local[1])),
                target=self.spec.target,
                called=self.spec.called,
            )
            self._connections.append(protocol)

    async def close(self) -> None:
        """Close the connections."""
        for connection in self._connections:
            if connection.transport is not None:
                connection.transport.close()
        for connection in self._connections:
            await asyncio.wait([connection.closed], timeout=2.0)

    async def run(self) -> UacResult:
        """Place every call at the set rate, wait for them to end, and return the counts."""
        spec = self.spec
        begin = self._loop.time()
        deadline = begin + spec.max_seconds
        await self._place_all(begin, deadline)
        self._placing = False
        if self._calls:
            remaining = max(0.0, deadline - self._loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), remaining)
        self._abandon_open_calls()
        self.result.elapsed = self._loop.time() - begin
        return self.result

    async def _place_all(self, begin: float, deadline: float) -> None:
        spec = self.spec
        placed = 0
        while placed < spec.calls:
            now = self._loop.time()
            if now >= deadline:
                return
            due = min(spec.calls, int((now - begin) * spec.rate) + 1)
            while placed < due:
                if len(self._calls) >= spec.max_concurrent:
                    self._slot_free.clear()
                    try:
                        await asyncio.wait_for(self._slot_free.wait(), deadline - now)
                    except TimeoutError:
                        return
                    break
                self._start_call(self._connections[placed % len(self._connections)])
                placed += 1
            next_due = begin + placed / spec.rate
            await asyncio.sleep(max(0.0, next_due - self._loop.time()))

    def _start_call(self, connection: _UacConnection) -> None:
        serial = b"%d" % next(self._serial)
        call_id = self._prefix + b"-" + serial
        call = _Call(call_id, serial, b"i" + self._prefix + serial, connection)
        self._calls[call_id] = call
        self.result.attempted += 1
        self.result.peak_open = max(self.result.peak_open, len(self._calls))
        assert connection.templates is not None
        call.started = time.perf_counter()
        if not connection.is_open:
            self._finish(call, "connection closed")
            return
        call.timer = self._loop.call_later(self.spec.invite_timeout, self._timeout, call)
        connection.send(connection.templates.invite % (call.branch, call.tag, call_id))

    # -- responses ---------------------------------------------------------

    def on_message(self, connection: _UacConnection, message: bytes) -> None:
        """Handle one message from the next hop."""
        try:
            info = peek_routing(message)
        except SipParseError:
            logger.warning("unroutable message from the next hop dropped")
            return
        status = info.status_code
        if status is None:
            self._answer_request(connection, message, info.method or "")
            return
        call_id = info.call_id.encode()
        call = self._calls.get(call_id)
        if status < 200:
            return
        if call is None:
            if status < 300 and info.cseq_method == "INVITE":
                self._release_late_answer(connection, call_id, message)
            return
        if info.cseq_method == "INVITE":
            self._invite_final(call, status, message)
        elif info.cseq_method == "BYE" and call.state == _BYEING:
            self._finish(call, None if status < 300 else f"BYE answered {status}")

    def _release_late_answer(
        self, connection: _UacConnection, call_id: bytes, message: bytes
    ) -> None:
        """Send ACK and BYE for a 200 that came after its call counted as failed.

        The far end would otherwise hold a dialog that the run no longer counts.
        """
        templates = connection.templates
        prefix, _dash, serial = call_id.rpartition(b"-")
        if templates is None or prefix != self._prefix:
            return
        target = read_dialog_target(message)
        uri = target.contact or b"sip:%s" % self.spec.target[0].encode()
        routes = route_lines(target.routes)
        branch = b"i" + self._prefix + serial
        for template, kind in ((templates.ack, b"a"), (templates.bye, b"b")):
            connection.send(template % (uri, kind + branch, routes, serial, target.to, call_id))

    def _answer_request(self, connection: _UacConnection, message: bytes, method: str) -> None:
        # NOTE: a request towards the UAC (a BYE from the far end) is not expected in the
        # benchmark's call flow, so it gets no answer and the call ends by its own timer.
        logger.debug("unexpected %s towards the UAC ignored", method)

    def _invite_final(self, call: _Call, status: int, message: bytes) -> None:
        connection = call.connection
        templates = connection.templates
        assert templates is not None
        if status >= 300:
            to = read_dialog_target(message).to
            connection.send(templates.ack_failed % (call.branch, call.tag, to, call.call_id))
            if call.state == _INVITING:
                self._finish(call, f"INVITE answered {status}")
            return
        if call.state != _INVITING:
            # a retransmitted 200 means our ACK was lost; send it again
            self._send_ack(call)
            return
        self.result.setup_times.append(time.perf_counter() - call.started)
        self.result.connected += 1
        target = read_dialog_target(message)
        uri = target.contact or b"sip:%s" % self.spec.target[0].encode()
        call.target = (uri, route_lines(target.routes), target.to)
        call.state = _HOLDING
        self._send_ack(call)
        self._rearm(call, self.spec.hold, self._send_bye)

    def _send_ack(self, call: _Call) -> None:
        assert call.target is not None and call.connection.templates is not None
        uri, routes, to = call.target
        branch = b"a" + call.branch
        call.connection.send(
            call.connection.templates.ack % (uri, branch, routes, call.tag, to, call.call_id)
        )

    def _send_bye(self, call: _Call) -> None:
        assert call.target is not None and call.connection.templates is not None
        uri, routes, to = call.target
        call.state = _BYEING
        branch = b"b" + call.branch
        self._rearm(call, self.spec.bye_timeout, self._timeout)
        call.connection.send(
            call.connection.templates.bye % (uri, branch, routes, call.tag, to, call.call_id)
        )

    @property
    def open_calls(self) -> int:
        """Calls started and not yet ended."""
        return len(self._calls)

    async def hang_up_all(self, rate: float) -> None:
        """Send BYE, ``rate`` per second, in every call that is in its hold time."""
        holding = [call for call in self._calls.values() if call.state == _HOLDING]
        begin = self._loop.time()
        for index, call in enumerate(holding):
            due = begin + index / rate
            delay = due - self._loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if call.state == _HOLDING and call.call_id in self._calls:
                self._send_bye(call)

    # -- endings -----------------------------------------------------------

    def _rearm(self, call: _Call, delay: float, callback: object) -> None:
        if call.timer is not None:
            call.timer.cancel()
        call.timer = self._loop.call_later(delay, callback, call)  # type: ignore[arg-type]

    def _timeout(self, call: _Call) -> None:
        call.timer = None
        cause = "timeout: no final response to INVITE"
        if call.state == _BYEING:
            cause = "timeout: no final response to BYE"
        self._finish(call, cause)

    def _finish(self, call: _Call, failure: str | None) -> None:
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None
        if self._calls.pop(call.call_id, None) is None:
            return
        if failure is None:
            self.result.completed += 1
        else:
            self.result.fail(failure)
        self._slot_free.set()
        if not self._calls and not self._placing:
            self._done.set()

    def connection_lost(self, connection: _UacConnection) -> None:
        """Fail every open call on a connection that closed."""
        for call in [c for c in self._calls.values() if c.connection is connection]:
            self._finish(call, "connection closed")

    def _abandon_open_calls(self) -> None:
        names = {
            _INVITING: "run ended before the INVITE was answered",
            _HOLDING: "run ended during the hold time",
            _BYEING: "run ended before the BYE was answered",
        }
        for call in list(self._calls.values()):
            self._finish(call, names[call.state])


async def run_uac(spec: LoadSpec, context: ssl.SSLContext | None = None) -> UacResult:
    """Connect, place every call of ``spec``, close, and return the counts."""
    uac = Uac(spec, context)
    await uac.connect()
    try:
        return await uac.run()
    finally:
        await uac.close()
