"""Transaction state machines, driven by an injected clock over a simulated network."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sip_samples import sample

from tlstrunk.sip.errors import SipUsageError
from tlstrunk.sip.message import Request, Response, make_response, parse_message
from tlstrunk.sip.transaction import (
    AckReceived,
    ClientTransaction,
    Event,
    RequestReceived,
    ResponseReceived,
    SendMessage,
    ServerTransaction,
    State,
    TransactionTable,
    TransactionTerminated,
    TransactionTimeout,
    TransportError,
    new_branch,
)


def _request(method: str, branch: str | None = None) -> Request:
    data = sample("options.sip").replace(b"63104 OPTIONS", b"63104 " + method.encode())
    message = parse_message(data.replace(b"OPTIONS sip:", method.encode() + b" sip:"))
    assert isinstance(message, Request)
    via = message.top_via.with_param("branch", branch or new_branch())
    message.headers.set("Via", str(via))
    message.headers.add("Contact", "<sip:ping@127.0.0.203:5061;transport=tls>")
    return message


def _sent(events: list[Event]) -> list[Request | Response]:
    return [e.message for e in events if isinstance(e, SendMessage)]


def _run_timers(
    transaction: ClientTransaction | ServerTransaction, until: float,
    on_event: Callable[[float, Event], None],
) -> None:
    while (deadline := transaction.next_deadline()) is not None and deadline <= until:
        for event in transaction.handle_timer(deadline):
            on_event(deadline, event)


def _send_times(transaction: ClientTransaction | ServerTransaction, until: float) -> tuple[
        list[float], list[tuple[float, Event]]]:
    times: list[float] = []
    others: list[tuple[float, Event]] = []

    def record(now: float, event: Event) -> None:
        if isinstance(event, SendMessage):
            times.append(now)
        else:
            others.append((now, event))

    _run_timers(transaction, until, record)
    return times, others


def test_invite_client_retransmits_then_times_out() -> None:
    client = ClientTransaction(_request("INVITE"), reliable=False, now=100.0)
    assert len(_sent(client.start())) == 1
    times, others = _send_times(client, 200.0)
    assert times == [100.5, 101.5, 103.5, 107.5, 115.5, 131.5]
    assert others == [(132.0, TransactionTimeout()), (132.0, TransactionTerminated())]
    assert client.terminated
    assert client.next_deadline() is None


def test_non_invite_client_caps_interval_at_t2() -> None:
    client = ClientTransaction(_request("OPTIONS"), reliable=False, now=0.0)
    client.start()
    times, others = _send_times(client, 100.0)
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert others == [(32.0, TransactionTimeout()), (32.0, TransactionTerminated())]


def test_non_invite_client_proceeding_uses_t2() -> None:
    request = _request("OPTIONS")
    client = ClientTransaction(request, reliable=False, now=0.0)
    client.start()
    events = client.receive_response(make_response(request, 100), 0.2)
    assert [type(e) for e in events] == [ResponseReceived]
    assert client.state is State.PROCEEDING
    times, _ = _send_times(client, 10.0)
    assert times == [0.5, 4.5, 8.5]


def test_reliable_client_never_retransmits() -> None:
    client = ClientTransaction(_request("INVITE"), reliable=True, now=0.0)
    client.start()
    assert client.next_deadline() == 32.0
    times, others = _send_times(client, 100.0)
    assert times == []
    assert others == [(32.0, TransactionTimeout()), (32.0, TransactionTerminated())]


def test_reliable_non_invite_terminates_on_final() -> None:
    request = _request("OPTIONS")
    client = ClientTransaction(request, reliable=True, now=0.0)
    client.start()
    events = client.receive_response(make_response(request, 200), 0.1)
    assert events == [ResponseReceived(make_response(request, 200)), TransactionTerminated()]
    server = ServerTransaction(request, reliable=True, now=0.0)
    events = server.send_response(make_response(request, 200), 0.1)
    assert [type(e) for e in events] == [SendMessage, TransactionTerminated]


class Network:
    """Two in-memory endpoints joined by a lossy datagram path."""

    def __init__(self, request: Request, reliable: bool = False) -> None:
        self.now = 0.0
        self.client = ClientTransaction(request, reliable=reliable, now=0.0)
        self.server: ServerTransaction | None = None
        self.reliable = reliable
        self.drop: set[int] = set()  # indexes of datagrams to lose, counted in sending order
        self.sent = 0
        self.log: list[tuple[float, str, str]] = []
        self.client_events: list[Event] = []
        self.server_events: list[Event] = []

    def from_client(self, events: list[Event]) -> None:
        self.client_events += events
        for message in _sent(events):
            if self._deliver("client", message) and isinstance(message, Request):
                self._to_server(message)

    def from_server(self, events: list[Event]) -> None:
        self.server_events += events
        for message in _sent(events):
            if self._deliver("server", message) and isinstance(message, Response):
                self.from_client(self.client.receive_response(message, self.now))

    def _deliver(self, side: str, message: Request | Response) -> bool:
        index = self.sent
        self.sent += 1
        label = message.method if isinstance(message, Request) else str(message.status_code)
        self.log.append((self.now, side, label))
        return index not in self.drop

    def _to_server(self, request: Request) -> None:
        request = parse_message(request.to_bytes())  # type: ignore[assignment]
        if self.server is None:
            self.server = ServerTransaction(request, reliable=self.reliable, now=self.now)
            self.from_server(self.server.start())
        else:
            self.from_server(self.server.receive_request(request, self.now))

    def respond(self, code: int) -> None:
        assert self.server is not None
        response = make_response(self.server.request, code, to_tag="srv")
        self.from_server(self.server.send_response(response, self.now))

    def advance(self, until: float) -> None:
        while True:
            pending = [t for t in (self.client, self.server) if t is not None]
            deadlines = [(d, t) for t in pending if (d := t.next_deadline()) is not None]
            if not deadlines:
                break
            deadline, transaction = min(deadlines, key=lambda item: item[0])
            if deadline > until:
                break
            self.now = deadline
            events = transaction.handle_timer(deadline)
            if transaction is self.client:
                self.from_client(events)
            else:
                self.from_server(events)
        self.now = until


def test_invite_non_2xx_final_lost() -> None:
    network = Network(_request("INVITE"))
    network.drop = {0, 2}  # the first INVITE and the first 486 are lost
    network.from_client(network.client.start())
    network.advance(0.6)
    assert network.server is not None
    assert network.server_events == [RequestReceived(network.server.request)]
    network.respond(486)
    assert network.server.state.value == "Completed"
    network.advance(1.2)
    assert network.log == [
        (0.0, "client", "INVITE"),
        (0.5, "client", "INVITE"),  # timer A
        (0.6, "server", "486"),
        (1.1, "server", "486"),  # timer G
        (1.1, "client", "ACK"),
    ]
    assert network.client.state is State.COMPLETED
    assert network.server.state is State.CONFIRMED
    finals = [e.response.status_code for e in network.client_events
              if isinstance(e, ResponseReceived)]
    assert finals == [486]
    network.advance(6.0)
    assert not network.server.terminated
    network.advance(6.1)
    assert network.server.terminated  # timer I: T4 after the ACK at 1.1
    assert not network.client.terminated
    network.advance(33.0)
    assert not network.client.terminated
    network.advance(33.1)
    assert network.client.terminated  # timer D: 32 s after the 486 at 1.1
    assert TransactionTimeout() not in network.client_events + network.server_events


def test_invite_ack_lost_is_resent() -> None:
    network = Network(_request("INVITE"))
    network.drop = {0, 3}  # the first INVITE and the first ACK are lost
    network.from_client(network.client.start())
    network.advance(0.6)
    network.respond(486)
    network.advance(40.0)
    assert network.log == [
        (0.0, "client", "INVITE"),
        (0.5, "client", "INVITE"),
        (0.6, "server", "486"),
        (0.6, "client", "ACK"),
        (1.1, "server", "486"),
        (1.1, "client", "ACK"),
    ]
    assert network.server is not None
    assert network.server.terminated
    assert network.client.terminated


def test_invite_2xx_accepted_states() -> None:
    request = _request("INVITE")
    network = Network(request)
    network.from_client(network.client.start())
    network.respond(180)
    network.respond(200)
    assert network.client.state is State.ACCEPTED
    assert network.server is not None
    assert network.server.state is State.ACCEPTED
    ok = make_response(network.server.request, 200, to_tag="srv")
    assert network.client.receive_response(ok, 1.0) == [ResponseReceived(ok)]
    assert network.server.send_response(ok, 1.0) == [SendMessage(ok)]
    ack = network.client.make_ack(ok)
    assert network.server.receive_request(ack, 1.0) == [AckReceived(ack)]
    network.advance(31.9)
    assert not network.client.terminated
    network.advance(32.0)
    assert network.client.terminated
    assert network.server.terminated


def test_invite_server_timer_h_without_ack() -> None:
    request = _request("INVITE")
    server = ServerTransaction(request, reliable=False, now=0.0)
    server.send_response(make_response(request, 404, to_tag="x"), 0.0)
    times, others = _send_times(server, 100.0)
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert others == [(32.0, TransactionTimeout()), (32.0, TransactionTerminated())]


def test_server_resends_last_provisional() -> None:
    request = _request("INVITE")
    server = ServerTransaction(request, reliable=False, now=0.0)
    assert server.receive_request(request, 0.1) == []
    ringing = make_response(request, 180, to_tag="x")
    server.send_response(ringing, 0.2)
    assert server.receive_request(request, 0.3) == [SendMessage(ringing)]


def test_send_after_final_is_usage_error() -> None:
    request = _request("OPTIONS")
    server = ServerTransaction(request, reliable=False, now=0.0)
    server.send_response(make_response(request, 200), 0.0)
    with pytest.raises(SipUsageError):
        server.send_response(make_response(request, 500), 0.1)


def test_client_absorbs_retransmitted_final() -> None:
    request = _request("OPTIONS")
    client = ClientTransaction(request, reliable=False, now=0.0)
    client.start()
    ok = make_response(request, 200)
    assert client.receive_response(ok, 0.1) == [ResponseReceived(ok)]
    assert client.receive_response(ok, 0.2) == []
    assert client.next_deadline() == pytest.approx(5.1)


def test_invite_client_acks_each_non_2xx_retransmission() -> None:
    request = _request("INVITE")
    client = ClientTransaction(request, reliable=False, now=0.0)
    client.start()
    busy = make_response(request, 486, to_tag="b")
    first = client.receive_response(busy, 0.1)
    again = client.receive_response(busy, 0.2)
    ack = _sent(first)[0]
    assert isinstance(ack, Request)
    assert ack.method == "ACK"
    assert ack.cseq.method == "ACK"
    assert ack.cseq.number == request.cseq.number
    assert ack.to.tag == "b"
    assert ack.branch == request.branch
    assert ack.uri == request.uri
    assert _sent(again) == [ack]


def test_make_cancel_copies_invite() -> None:
    request = _request("INVITE")
    request.headers.add("Route", "<sip:proxy.example.com;lr>")
    cancel = ClientTransaction(request, reliable=True, now=0.0).make_cancel()
    assert cancel.method == "CANCEL"
    assert cancel.uri == request.uri
    assert cancel.branch == request.branch
    assert cancel.cseq.number == request.cseq.number
    assert cancel.cseq.method == "CANCEL"
    assert cancel.headers.get("To") == request.headers.get("To")
    assert cancel.headers.get("Route") == "<sip:proxy.example.com;lr>"
    with pytest.raises(SipUsageError):
        ClientTransaction(_request("OPTIONS"), reliable=True, now=0.0).make_cancel()


def test_transport_error_terminates() -> None:
    client = ClientTransaction(_request("INVITE"), reliable=True, now=0.0)
    client.start()
    assert client.handle_transport_error(1.0) == [TransportError(), TransactionTerminated()]
    assert client.handle_transport_error(1.0) == []


def test_table_matching() -> None:
    table = TransactionTable()
    invite = _request("INVITE")
    client = ClientTransaction(invite, reliable=True, now=0.0)
    server = ServerTransaction(invite, reliable=True, now=0.0)
    table.add_client(client)
    table.add_server(server)
    assert table.match_response(make_response(invite, 180)) is client
    other = make_response(invite, 180)
    other.headers.set("CSeq", f"{invite.cseq.number} CANCEL")
    assert table.match_response(other) is None
    assert table.match_request(invite) is server
    ack = client.make_ack(make_response(invite, 486, to_tag="t"))
    assert table.match_request(ack) is server
    cancel = client.make_cancel()
    assert table.match_request(cancel) is None
    assert table.match_cancelled(cancel) is server
    assert table.match_request(_request("INVITE")) is None
    with pytest.raises(SipUsageError):
        table.add_client(client)
    client.start(5.0)
    assert table.next_deadline() == 37.0
    client.handle_transport_error(0.0)
    assert table.remove_terminated() == [client]
    assert list(table) == [server]


def test_table_handle_timers() -> None:
    table = TransactionTable()
    client = ClientTransaction(_request("OPTIONS"), reliable=False, now=0.0)
    client.start()
    table.add_client(client)
    results = table.handle_timers(0.5)
    assert [(t, [type(e) for e in events]) for t, events in results] == [(client, [SendMessage])]


def test_client_requires_magic_cookie_branch() -> None:
    with pytest.raises(SipUsageError):
        ClientTransaction(_request("OPTIONS", branch="old-style"), reliable=True, now=0.0)
