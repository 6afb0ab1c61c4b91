"""SIP transactions (RFC 3261 section 17, with RFC 6026 for 2xx responses to INVITE).

The state machines are sans-IO: every method takes ``now`` (seconds, from any
monotonic clock) and returns events. The caller sends each ``SendMessage``,
arms one timer at ``next_deadline()`` and calls ``handle_timer(now)`` when it
passes. Retransmission timers (A, E, G) run only on unreliable transports, and
the wait timers D, I, J and K are zero on reliable ones (RFC 3261 17.1.1.2).
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from tlstrunk.i18n import _
from tlstrunk.sip.errors import SipUsageError
from tlstrunk.sip.headers import Headers
from tlstrunk.sip.message import Message, Request, Response

logger = logging.getLogger(__name__)

MAGIC_COOKIE = "z9hG4bK"


def new_branch() -> str:
    """Return a new RFC 3261 branch: the magic cookie and 128 random bits."""
    return MAGIC_COOKIE + secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """Base timer values in seconds (RFC 3261 table 4)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    c: float = 180.0  # timer C: more than 3 minutes per RFC 3261 16.6; 180 s is a floor

    @property
    def timeout(self) -> float:
        """Timers B, F, H, J, L and M: 64*T1."""
        return 64 * self.t1

    def wait_d(self, reliable: bool) -> float:
        """Timer D: at least 32 s on unreliable transports, zero on reliable ones."""
        return 0.0 if reliable else max(32.0, self.timeout)


DEFAULT_TIMERS = TimerConfig()


@dataclass(frozen=True, slots=True)
class SendMessage:
    """Send this message to the transaction's peer."""

    message: Message


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response for the transaction user (client transactions)."""

    response: Response


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request for the transaction user (server transactions)."""

    request: Request


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK that RFC 6026 passes to the transaction user (Accepted state)."""

    request: Request


@dataclass(frozen=True, slots=True)
class TransactionTimeout:
    """Timer B, F or H fired: no final response, or no ACK, arrived in time."""


@dataclass(frozen=True, slots=True)
class TimerCFired:
    """Timer C fired (RFC 3261 16.6 step 11, 16.8): the INVITE got no final response in time.

    In Proceeding the caller sends a CANCEL (``make_cancel``); in Calling it
    treats the branch as if it had received 408. The transaction itself goes on.
    """


@dataclass(frozen=True, slots=True)
class TransportError:
    """The transport failed to send; the transaction is over (RFC 3261 17.1.4)."""


@dataclass(frozen=True, slots=True)
class TransactionTerminated:
    """The transaction reached Terminated and may be removed from the table."""


Event = (
    SendMessage | ResponseReceived | RequestReceived | AckReceived | TransactionTimeout
    | TimerCFired | TransportError | TransactionTerminated
)


class State(enum.Enum):
    """Transaction states of RFC 3261 section 17 and RFC 6026 (Accepted)."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class _Transaction:
    """State, timers and logging shared by client and server transactions."""

    def __init__(self, request: Request, reliable: bool, now: float, timers: TimerConfig) -> None:
        self.request = request
        self.reliable = reliable
        self.timers = timers
        self.created = now
        self.branch = request.branch or ""
        self.is_invite = request.method == "INVITE"
        self._state = State.TRYING
        self._deadlines: dict[str, float] = {}
        self._intervals: dict[str, float] = {}

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def terminated(self) -> bool:
        """Whether the transaction reached Terminated."""
        return self._state is State.TERMINATED

    def next_deadline(self) -> float | None:
        """Return when ``handle_timer`` must next be called, or None."""
        return min(self._deadlines.values()) if self._deadlines else None

    def handle_timer(self, now: float) -> list[Event]:
        """Fire every timer whose deadline is at or before ``now``, earliest first."""
        events: list[Event] = []
        while self._deadlines:
            name, deadline = min(self._deadlines.items(), key=lambda item: item[1])
            if deadline > now:
                break
            del self._deadlines[name]
            events.extend(self._fire(name, deadline))
        return events

    def handle_transport_error(self, now: float) -> list[Event]:
        """Report that sending failed; the transaction terminates (RFC 3261 17.1.4, 17.2.4)."""
        if self.terminated:
            return []
        return [TransportError(), *self._terminate()]

    def _fire(self, name: str, deadline: float) -> list[Event]:
        raise NotImplementedError

    def _set_state(self, state: State) -> None:
        logger.debug(
            "transaction %s %s %s: %s -> %s", type(self).__name__, self.request.method,
            self.branch, self._state.value, state.value,
        )
        self._state = state

    def _start_timer(self, name: str, at: float, interval: float | None = None) -> None:
        self._deadlines[name] = at
        if interval is not None:
            self._intervals[name] = interval

    def _terminate(self) -> list[Event]:
        self._deadlines.clear()
        if self._state is State.TERMINATED:
            return []
        self._set_state(State.TERMINATED)
        return [TransactionTerminated()]

    def _wait_then_terminate(self, name: str, now: float, duration: float) -> list[Event]:
        self._deadlines.clear()
        if duration <= 0:
            return self._terminate()
        self._start_timer(name, now + duration)
        return []


class ClientTransaction(_Transaction):
    """An INVITE or non-INVITE client transaction (RFC 3261 17.1)."""

    def __init__(
        self, request: Request, *, reliable: bool, now: float,
        timers: TimerConfig = DEFAULT_TIMERS, use_timer_c: bool = False,
    ) -> None:
        """Create the transaction; ``start`` sends the request.

        Args:
            use_timer_c: for an INVITE forwarded by a proxy or B2BUA, run timer C,
                restarted by each provisional response, and report ``TimerCFired``.
        """
        if request.method == "ACK":
            raise SipUsageError(_("An ACK is sent without a client transaction."))
        super().__init__(request, reliable, now, timers)
        if not self.branch.startswith(MAGIC_COOKIE):
            raise SipUsageError(_("The request's top Via branch {branch!r} must start with "
                                  "{cookie}; use new_branch().").format(
                                      branch=self.branch, cookie=MAGIC_COOKIE))
        self.key = (self.branch, request.method)
        self.last_response: Response | None = None
        self._state = State.CALLING if self.is_invite else State.TRYING
        self._started = False
        self.use_timer_c = use_timer_c and self.is_invite

    def start(self, now: float | None = None) -> list[Event]:
        """Send the request and start timers A/B (INVITE) or E/F (non-INVITE).

        ``now`` defaults to the creation time given to the constructor.
        """
        if self._started:
            raise SipUsageError(_("The client transaction {branch} was already started.").format(
                branch=self.branch))
        self._started = True
        at = self.created if now is None else now
        retransmit, timeout = ("A", "B") if self.is_invite else ("E", "F")
        if not self.reliable:
            self._start_timer(retransmit, at + self.timers.t1, self.timers.t1)
        self._start_timer(timeout, at + self.timers.timeout)
        if self.use_timer_c:
            self._start_timer("C", at + self.timers.c)
        return [SendMessage(self.request)]

    def receive_response(self, response: Response, now: float) -> list[Event]:
        """Handle a response matched to this transaction; absorbs retransmissions."""
        if self.is_invite:
            return self._invite_response(response, now)
        return self._non_invite_response(response, now)

    def _invite_response(self, response: Response, now: float) -> list[Event]:
        state = self._state
        code = response.status_code
        if state in (State.CALLING, State.PROCEEDING):
            self.last_response = response
            if code < 200:
                self._deadlines.pop("A", None)
                self._deadlines.pop("B", None)
                if self.use_timer_c and code > 100:
                    self._start_timer("C", now + self.timers.c)
                self._set_state(State.PROCEEDING)
                return [ResponseReceived(response)]
            if code < 300:
                self._set_state(State.ACCEPTED)
                self._deadlines.clear()
                self._start_timer("M", now + self.timers.timeout)
                return [ResponseReceived(response)]
            self._set_state(State.COMPLETED)
            events: list[Event] = [SendMessage(self.make_ack(response)), ResponseReceived(response)]
            return events + self._wait_then_terminate("D", now, self.timers.wait_d(self.reliable))
        if state is State.ACCEPTED and 200 <= code < 300:
            return [ResponseReceived(response)]  # the TU acknowledges every 2xx (RFC 6026 8.4)
        if state is State.COMPLETED and code >= 300:
            return [SendMessage(self.make_ack(response))]
        return []

    def _non_invite_response(self, response: Response, now: float) -> list[Event]:
        if self._state not in (State.TRYING, State.PROCEEDING):
            return []
        self.last_response = response
        if response.status_code < 200:
            self._set_state(State.PROCEEDING)
            return [ResponseReceived(response)]
        self._set_state(State.COMPLETED)
        wait = 0.0 if self.reliable else self.timers.t4
        return [ResponseReceived(response), *self._wait_then_terminate("K", now, wait)]

    def _fire(self, name: str, deadline: float) -> list[Event]:
        if name in ("A", "E"):
            interval = self._intervals[name]
            if name == "A":
                interval *= 2
            elif self._state is State.PROCEEDING:
                interval = self.timers.t2
            else:
                interval = min(interval * 2, self.timers.t2)
            self._start_timer(name, deadline + interval, interval)
            return [SendMessage(self.request)]
        if name in ("B", "F"):
            return [TransactionTimeout(), *self._terminate()]
        if name == "C":
            return [TimerCFired()]
        return self._terminate()  # D, K, M

    def make_ack(self, response: Response) -> Request:
        """Build the ACK for a non-2xx final response (RFC 3261 17.1.1.3)."""
        request = self.request
        headers = Headers()
        headers.add("Via", request.headers.get_all("Via")[0])
        for name in ("Route",):
            for value in request.headers.get_all(name):
                headers.add(name, value)
        headers.add("Max-Forwards", "70")
        headers.add("From", _required(request.headers, "From"))
        headers.add("To", _required(response.headers, "To"))
        headers.add("Call-ID", request.call_id)
        headers.add("CSeq", f"{request.cseq.number} ACK")
        return Request("ACK", request.uri, headers)

    def make_cancel(self) -> Request:
        """Build a CANCEL for this INVITE (RFC 3261 9.1).

        Send it in its own client transaction, and only after a provisional
        response arrived (the state is then Proceeding).
        """
        request = self.request
        if not self.is_invite:
            raise SipUsageError(_("Only an INVITE can be cancelled; this transaction is {method}.")
                                .format(method=request.method))
        headers = Headers()
        headers.add("Via", request.headers.get_all("Via")[0])
        for value in request.headers.get_all("Route"):
            headers.add("Route", value)
        headers.add("Max-Forwards", "70")
        for name in ("From", "To", "Call-ID"):
            headers.add(name, _required(request.headers, name))
        headers.add("CSeq", f"{request.cseq.number} CANCEL")
        return Request("CANCEL", request.uri, headers)


def _required(headers: Headers, name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise SipUsageError(_("The message has no {name} header.").format(name=name))
    return value


class ServerTransaction(_Transaction):
    """An INVITE or non-INVITE server transaction (RFC 3261 17.2)."""

    def __init__(
        self, request: Request, *, reliable: bool, now: float,
        timers: TimerConfig = DEFAULT_TIMERS,
    ) -> None:
        if request.method == "ACK":
            raise SipUsageError(_("An ACK does not create a server transaction."))
        super().__init__(request, reliable, now, timers)
        self.key = server_key(request)
        self.last_response: Response | None = None
        self._state = State.PROCEEDING if self.is_invite else State.TRYING

    def start(self) -> list[Event]:
        """Return the event that hands the request to the transaction user.

        NOTE: the INVITE server transaction does not send 100 Trying by itself;
        the transaction user sends it at once (RFC 3261 17.2.1 allows 200 ms).
        """
        return [RequestReceived(self.request)]

    def receive_request(self, request: Request, now: float) -> list[Event]:
        """Handle a retransmission of the request, or the ACK of an INVITE."""
        if request.method == "ACK":
            if self._state is State.COMPLETED:
                self._set_state(State.CONFIRMED)
                wait = 0.0 if self.reliable else self.timers.t4
                return self._wait_then_terminate("I", now, wait)
            if self._state is State.ACCEPTED:
                return [AckReceived(request)]
            return []
        if self._state in (State.PROCEEDING, State.COMPLETED) and self.last_response is not None:
            return [SendMessage(self.last_response)]
        return []

    def send_response(self, response: Response, now: float) -> list[Event]:
        """Send a response from the transaction user and move the state machine.

        Raises:
            SipUsageError: when the state allows no response, e.g. after a final one.
        """
        code = response.status_code
        if self._state is State.ACCEPTED and self.is_invite and 200 <= code < 300:
            return [SendMessage(response)]  # the TU retransmits its 2xx (RFC 6026 8.5)
        if self._state not in (State.TRYING, State.PROCEEDING):
            raise SipUsageError(
                _("Cannot send {code} on the {method} server transaction {branch} in state "
                  "{state}; a final response was already sent.").format(
                    code=code, method=self.request.method, branch=self.branch,
                    state=self._state.value))
        self.last_response = response
        events: list[Event] = [SendMessage(response)]
        if code < 200:
            self._set_state(State.PROCEEDING)
            return events
        if self.is_invite and code < 300:
            self._set_state(State.ACCEPTED)
            self._start_timer("L", now + self.timers.timeout)
            return events
        self._set_state(State.COMPLETED)
        if self.is_invite:
            if not self.reliable:
                self._start_timer("G", now + self.timers.t1, self.timers.t1)
            self._start_timer("H", now + self.timers.timeout)
            return events
        wait = 0.0 if self.reliable else self.timers.timeout
        return events + self._wait_then_terminate("J", now, wait)

    def _fire(self, name: str, deadline: float) -> list[Event]:
        if name == "G":
            interval = min(self._intervals["G"] * 2, self.timers.t2)
            self._start_timer("G", deadline + interval, interval)
            assert self.last_response is not None
            return [SendMessage(self.last_response)]
        if name == "H":
            return [TransactionTimeout(), *self._terminate()]
        return self._terminate()  # I, J, L


def server_key(request: Request) -> tuple[str, str, str]:
    """Return the RFC 3261 17.2.3 matching key: branch, sent-by and method (ACK as INVITE)."""
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    return (via.branch or "", via.sent_by.lower(), method)


def _merge_key(request: Request) -> tuple[str, str, int, str] | None:
    if request.method in ("ACK", "CANCEL") or request.to.tag is not None:
        return None
    cseq = request.cseq
    return (request.from_.tag or "", request.call_id, cseq.number, cseq.method)


Transaction = ClientTransaction | ServerTransaction


class TransactionTable:
    """Client and server transactions indexed by their RFC 3261 matching keys."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], ClientTransaction] = {}
        self._servers: dict[tuple[str, str, str], ServerTransaction] = {}
        self._merge_keys: dict[tuple[str, str, int, str], ServerTransaction] = {}

    def add_client(self, transaction: ClientTransaction) -> None:
        """Register a client transaction.

        Raises:
            SipUsageError: when a transaction with the same branch and method exists.
        """
        if transaction.key in self._clients:
            raise SipUsageError(_("A client transaction with branch {branch} and method {method} "
                                  "already exists.").format(
                                      branch=transaction.key[0], method=transaction.key[1]))
        self._clients[transaction.key] = transaction

    def add_server(self, transaction: ServerTransaction) -> None:
        """Register a server transaction.

        Raises:
            SipUsageError: when a transaction with the same key exists.
        """
        if transaction.key in self._servers:
            raise SipUsageError(_("A server transaction with key {key} already exists.").format(
                key=transaction.key))
        self._servers[transaction.key] = transaction
        merge_key = _merge_key(transaction.request)
        if merge_key is not None:
            self._merge_keys.setdefault(merge_key, transaction)

    def find_merged(self, request: Request) -> ServerTransaction | None:
        """Find a live server transaction that ``request`` merges with (RFC 3261 8.2.2.2).

        A request without a To tag whose From tag, Call-ID and CSeq equal those of
        an ongoing transaction, but which does not match that transaction, arrived
        by another path (a forking loop); the UAS answers it with 482.
        """
        merge_key = _merge_key(request)
        if merge_key is None:
            return None
        other = self._merge_keys.get(merge_key)
        if other is None or other.terminated or other.key == server_key(request):
            return None
        return other

    def match_response(self, response: Response) -> ClientTransaction | None:
        """Find the client transaction of a response: top Via branch and CSeq method (17.1.3)."""
        branch = response.branch
        if branch is None:
            return None
        return self._clients.get((branch, response.cseq.method))

    def match_request(self, request: Request) -> ServerTransaction | None:
        """Find the server transaction of a retransmission, ACK or CANCEL (17.2.3).

        An ACK matches its INVITE transaction. A CANCEL matches only a CANCEL
        transaction; ``match_cancelled`` finds the INVITE that it cancels.

        NOTE: requests whose branch lacks the magic cookie (RFC 2543 peers) are
        not matched, so each retransmission from such a peer looks new.
        """
        branch = request.branch
        if branch is None or not branch.startswith(MAGIC_COOKIE):
            return None
        return self._servers.get(server_key(request))

    def match_cancelled(self, cancel: Request) -> ServerTransaction | None:
        """Find the INVITE server transaction that a CANCEL targets (RFC 3261 9.2)."""
        branch, sent_by, _method = server_key(cancel)
        return self._servers.get((branch, sent_by, "INVITE"))

    def remove(self, transaction: Transaction) -> None:
        """Drop ``transaction`` from the table, whatever its state."""
        if isinstance(transaction, ClientTransaction):
            if self._clients.get(transaction.key) is transaction:
                del self._clients[transaction.key]
            return
        if self._servers.get(transaction.key) is transaction:
            del self._servers[transaction.key]
        merge_key = _merge_key(transaction.request)
        if merge_key is not None and self._merge_keys.get(merge_key) is transaction:
            del self._merge_keys[merge_key]

    def remove_terminated(self) -> list[Transaction]:
        """Drop terminated transactions and return them."""
        removed: list[Transaction] = [t for t in self._clients.values() if t.terminated]
        removed += [t for t in self._servers.values() if t.terminated]
        self._clients = {k: t for k, t in self._clients.items() if not t.terminated}
        self._servers = {k: t for k, t in self._servers.items() if not t.terminated}
        self._merge_keys = {k: t for k, t in self._merge_keys.items() if not t.terminated}
        return removed

    def next_deadline(self) -> float | None:
        """Return the earliest deadline of any transaction, or None."""
        deadlines = [d for t in self for d in (t.next_deadline(),) if d is not None]
        return min(deadlines) if deadlines else None

    def handle_timers(self, now: float) -> list[tuple[Transaction, list[Event]]]:
        """Fire the due timers of every transaction; returns the events per transaction."""
        results: list[tuple[Transaction, list[Event]]] = []
        for transaction in list(self):
            deadline = transaction.next_deadline()
            if deadline is not None and deadline <= now:
                results.append((transaction, transaction.handle_timer(now)))
        return results

    def __iter__(self) -> Iterator[Transaction]:
        yield from self._clients.values()
        yield from self._servers.values()

    def __len__(self) -> int:
        return len(self._clients) + len(self._servers)
