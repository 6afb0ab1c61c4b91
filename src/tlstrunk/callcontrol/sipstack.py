"""The asyncio side of the SIP transaction layer.

The sans-IO transactions in :mod:`tlstrunk.sip.transaction` return events and
deadlines. This module moves their bytes over connections, arms one loop
timer for the earliest deadline, and hands requests and responses to the
transaction user (the B2BUA).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tlstrunk.observe.trace import TraceWriter
from tlstrunk.sip.message import Message, Request, Response
from tlstrunk.sip.transaction import (
    AckReceived,
    ClientTransaction,
    ResponseReceived,
    SendMessage,
    ServerTransaction,
    Transaction,
    TransactionTable,
    TransactionTerminated,
    TransactionTimeout,
)
from tlstrunk.transport.connection import SipChannel

logger = logging.getLogger(__name__)

ProvisionalCallback = Callable[[Response], None]
MessageObserver = Callable[[str, SipChannel, Message], None]


class RequestFailed(Exception):
    """Raised for a client transaction that ended without a final response."""


class RequestTimedOut(RequestFailed):
    """Raised when the far end sent nothing at all before the transaction timer (B or F) fired."""


@dataclass
class _ClientContext:
    connection: SipChannel
    future: asyncio.Future[Response]
    on_provisional: ProvisionalCallback | None
    #: Whether a provisional response arrived, so a CANCEL may be sent (RFC 3261 9.1).
    proceeding: bool = False
    #: Whether the caller asked to cancel before any provisional response arrived.
    cancel_pending: bool = False


@dataclass
class _ServerContext:
    connection: SipChannel
    request: Request
    acks: list[Request] = field(default_factory=list)


class SipStack:
    """Runs client and server transactions over SIP connections.

    Args:
        trace: the node's trace writer.
        on_request: called for every new request (not for retransmissions)
            with the request, the connection it came on and its server
            transaction (``None`` for an ACK to a 2xx, which has none).
        observe: called with ``"in"`` or ``"out"`` for every SIP message,
            so that calls can draw their ladders.
    """

    def __init__(
        self,
        *,
        trace: TraceWriter,
        on_request: Callable[[Request, SipChannel, ServerTransaction | None], None],
        observe: MessageObserver | None = None,
    ) -> None:
        self._trace = trace
        self._on_request = on_request
        self._observe = observe
        self._table = TransactionTable()
        self._clients: dict[ClientTransaction, _ClientContext] = {}
        self._servers: dict[ServerTransaction, _ServerContext] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline: float | None = None
        #: (deadline, sequence, transaction) entries; stale ones are skipped when due.
        self._deadlines: list[tuple[float, int, Transaction]] = []
        #: The deadline each transaction's live heap entry has.
        self._scheduled: dict[Transaction, float] = {}
        self._sequence = itertools.count()

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    # -- client side --------------------------------------------------------

    def send_request(
        self,
        request: Request,
        connection: SipChannel,
        *,
        on_provisional: ProvisionalCallback | None = None,
    ) -> asyncio.Future[Response]:
        """Start a client transaction; the future resolves with the final response."""
        loop = asyncio.get_running_loop()
        transaction = ClientTransaction(request, reliable=connection.reliable, now=loop.time())
        future: asyncio.Future[Response] = loop.create_future()
        self._clients[transaction] = _ClientContext(connection, future, on_provisional)
        self._table.add_client(transaction)
        self._process_client(transaction, transaction.start())
        return future

    def cancel(self, request: Request) -> None:
        """Cancel the INVITE ``request`` that :meth:`send_request` sent (RFC 3261 9.1).

        The CANCEL goes in its own client transaction once a provisional
        response has arrived; asked earlier, it waits for the first one. The
        INVITE's future then resolves with the 487 (or a 2xx that crossed it).
        """
        for transaction, context in self._clients.items():
            if transaction.request is request:
                if context.future.done():
                    return
                if context.proceeding:
                    self._send_cancel(transaction, context)
                else:
                    context.cancel_pending = True
                return

    def _send_cancel(self, transaction: ClientTransaction, context: _ClientContext) -> None:
        cancel = transaction.make_cancel()
        future = self.send_request(cancel, context.connection)
        # The INVITE's 487 reports the outcome, so the CANCEL's own response is ignored.
        future.add_done_callback(_consume_result)

    def send_stateless(self, message: Message, connection: SipChannel) -> None:
        """Send a message outside any transaction (an ACK to a 2xx, for instance)."""
        self._send(connection, message)

    def _process_client(self, transaction: ClientTransaction, events: Sequence[object]) -> None:
        context = self._clients.get(transaction)
        if context is None:
            return
        for event in events:
            if isinstance(event, SendMessage):
                self._send_or_fail(context, event.message)
            elif isinstance(event, ResponseReceived):
                if event.response.status_code < 200 and not context.proceeding:
                    context.proceeding = True
                    if context.cancel_pending:
                        self._send_cancel(transaction, context)
                self._deliver_response(context, event.response)
            elif isinstance(event, TransactionTimeout):
                if not context.future.done():
                    context.future.set_exception(
                        RequestTimedOut("no response before the transaction timed out")
                    )
            elif isinstance(event, TransactionTerminated):
                self._clients.pop(transaction, None)
        self._schedule(transaction)

    def _send_or_fail(self, context: _ClientContext, message: Message) -> None:
        try:
            self._send(context.connection, message)
        except ConnectionError as exc:
            if not context.future.done():
                context.future.set_exception(RequestFailed(str(exc)))

    @staticmethod
    def _deliver_response(context: _ClientContext, response: Response) -> None:
        if response.status_code < 200:
            if context.on_provisional is not None:
                context.on_provisional(response)
        elif not context.future.done():
            context.future.set_result(response)

    # -- server side --------------------------------------------------------

    def respond(self, transaction: ServerTransaction, response: Response) -> None:
        """Send ``response`` through the server transaction that ``response`` answers."""
        context = self._servers.get(transaction)
        if context is None:
            logger.debug("response %d for a finished transaction dropped", response.status_code)
            return
        self._process_server(transaction, transaction.send_response(response, self._now()))

    def _process_server(self, transaction: ServerTransaction, events: Sequence[object]) -> None:
        context = self._servers.get(transaction)
        if context is None:
            return
        for event in events:
            if isinstance(event, SendMessage):
                try:
                    self._send(context.connection, event.message)
                except ConnectionError as exc:
                    logger.info("response not sent: %s", exc)
            elif isinstance(event, AckReceived):
                context.acks.append(event.request)
            elif isinstance(event, TransactionTerminated):
                self._servers.pop(transaction, None)
        self._schedule(transaction)

    # -- incoming messages ----------------------------------------------------

    def handle_message(self, connection: SipChannel, message: Message) -> None:
        """Dispatch one message read from ``connection``."""
        if self._observe is not None:
            self._observe("in", connection, message)
        now = self._now()
        if isinstance(message, Response):
            client = self._table.match_response(message)
            if client is None:
                self._trace.detailed(
                    "SIPHandler",
                    "Stray response %d %s for Call-ID %s ignored",
                    message.status_code,
                    message.reason,
                    message.call_id,
                )
                return
            self._process_client(client, client.receive_response(message, now))
            return
        server = self._table.match_request(message)
        if server is not None:
            self._process_server(server, server.receive_request(message, now))
            return
        if message.method == "ACK":
            self._on_request(message, connection, None)
            return
        transaction = ServerTransaction(message, reliable=connection.reliable, now=now)
        self._servers[transaction] = _ServerContext(connection, message)
        self._table.add_server(transaction)
        self._on_request(message, connection, transaction)

    def connection_closed(self, connection: SipChannel, reason: str) -> None:
        """Fail every client transaction waiting on ``connection``."""
        for transaction, context in list(self._clients.items()):
            if context.connection is connection:
                if not context.future.done():
                    context.future.set_exception(RequestFailed(reason))
                self._clients.pop(transaction, None)
                self._table.remove(transaction)
        for server, server_context in list(self._servers.items()):
            if server_context.connection is connection:
                self._servers.pop(server, None)
                self._table.remove(server)

    # -- plumbing -------------------------------------------------------------

    def _send(self, connection: SipChannel, message: Message) -> None:
        connection.send(message)
        if self._observe is not None:
            self._observe("out", connection, message)

    def _schedule(self, transaction: Transaction) -> None:
        """Note the transaction's next deadline, or drop it from the table once it ended.

        Deadlines wait in a heap, so a message costs O(log n) here however many
        transactions run. An entry whose transaction has moved on is skipped when
        it comes due.
        """
        if transaction.terminated:
            self._table.remove(transaction)
            self._scheduled.pop(transaction, None)
            return
        deadline = transaction.next_deadline()
        if deadline is None or self._scheduled.get(transaction) == deadline:
            return
        self._scheduled[transaction] = deadline
        heapq.heappush(self._deadlines, (deadline, next(self._sequence), transaction))
        if self._timer_deadline is None or deadline < self._timer_deadline:
            self._arm(deadline)

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_deadline = deadline
        self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_deadline = None
        now = self._now()
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            _deadline, _sequence, transaction = heapq.heappop(heap)
            current = transaction.next_deadline()
            if self._scheduled.get(transaction) != _deadline:
                continue  # a later entry of the same transaction stands for it
            del self._scheduled[transaction]
            if current is None or current > now:
                self._schedule(transaction)
                continue
            events = transaction.handle_timer(now)
            if isinstance(transaction, ClientTransaction) and transaction in self._clients:
                self._process_client(transaction, events)
            elif isinstance(transaction, ServerTransaction) and transaction in self._servers:
                self._process_server(transaction, events)
            else:
                self._table.remove(transaction)  # its connection closed
        if heap:
            self._arm(heap[0][0])

    @property
    def pending_transactions(self) -> int:
        """How many client and server transactions are still running."""
        return len(self._clients) + len(self._servers)


def _consume_result(future: asyncio.Future[Response]) -> None:
    """Retrieve a future's outcome so that asyncio does not log it as never retrieved."""
    if not future.cancelled():
        future.exception()
