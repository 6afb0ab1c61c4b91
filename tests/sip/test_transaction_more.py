"""INVITE transactions with lost provisional and 2xx responses, timer C and merged requests."""

from __future__ import annotations

from test_transaction import Network, _request

from tlstrunk.sip.dialog import loop_detected_response, no_dialog_response
from tlstrunk.sip.message import Request, make_response, parse_message
from tlstrunk.sip.transaction import (
    ClientTransaction,
    ResponseReceived,
    SendMessage,
    ServerTransaction,
    State,
    TimerCFired,
    TimerConfig,
    TransactionTable,
    TransactionTimeout,
    new_branch,
)


def test_invite_lost_180_and_lost_200() -> None:
    network = Network(_request("INVITE"))
    network.drop = {1, 4}  # the first 180 and the first 200 are lost
    network.from_client(network.client.start())
    network.respond(180)
    assert network.client.state is State.CALLING
    network.advance(0.5)  # timer A: the retransmitted INVITE draws the 180 again
    assert network.client.state is State.PROCEEDING
    network.advance(2.0)  # no more INVITE retransmissions once a 1xx arrived
    network.respond(200)
    assert network.server is not None
    assert network.server.state is State.ACCEPTED
    assert network.client.state is State.PROCEEDING
    # the transaction user retransmits its 2xx T1 later (RFC 3261 13.3.1.4)
    network.advance(2.5)
    ok = network.server.last_response
    assert ok is not None
    network.from_server(network.server.send_response(ok, network.now))
    assert network.log == [
        (0.0, "client", "INVITE"),
        (0.0, "server", "180"),
        (0.5, "client", "INVITE"),
        (0.5, "server", "180"),
        (2.0, "server", "200"),
        (2.5, "server", "200"),
    ]
    assert network.client.state is State.ACCEPTED
    codes = [e.response.status_code for e in network.client_events
             if isinstance(e, ResponseReceived)]
    assert codes == [180, 200]
    # a late INVITE retransmission is absorbed in Accepted (RFC 6026 8.7)
    assert network.server.receive_request(network.client.request, 3.0) == []


def test_invite_lost_100_then_final_reliable_timeout() -> None:
    network = Network(_request("INVITE"), reliable=True)
    network.drop = {1}
    network.from_client(network.client.start())
    network.respond(100)
    network.advance(31.9)
    assert not network.client.terminated
    network.advance(32.0)  # timer B still runs: no provisional response arrived
    assert TransactionTimeout() in network.client_events


def test_timer_c_restarts_on_provisional() -> None:
    timers = TimerConfig(c=181.0)
    client = ClientTransaction(_request("INVITE"), reliable=True, now=0.0, timers=timers,
                               use_timer_c=True)
    client.start()
    ringing = make_response(client.request, 180, to_tag="t")
    client.receive_response(ringing, 10.0)
    assert client.next_deadline() == 191.0
    assert client.handle_timer(190.9) == []
    assert client.handle_timer(191.0) == [TimerCFired()]
    assert client.state is State.PROCEEDING
    cancel = client.make_cancel()
    assert cancel.method == "CANCEL"
    assert cancel.branch == client.branch


def test_timer_c_off_by_default_and_for_non_invite() -> None:
    client = ClientTransaction(_request("INVITE"), reliable=True, now=0.0)
    client.start()
    assert client.next_deadline() == 32.0
    options = ClientTransaction(_request("OPTIONS"), reliable=True, now=0.0, use_timer_c=True)
    options.start()
    assert options.next_deadline() == 32.0


def _with_branch(request: Request, branch: str) -> Request:
    copy = parse_message(request.to_bytes())
    assert isinstance(copy, Request)
    copy.headers.set("Via", str(copy.top_via.with_param("branch", branch)))
    return copy


def test_merged_request_detected() -> None:
    first = _request("INVITE")
    table = TransactionTable()
    table.add_server(ServerTransaction(first, reliable=True, now=0.0))
    assert table.find_merged(first) is None  # a retransmission is not a merge
    other_path = _with_branch(first, new_branch())
    merged = table.find_merged(other_path)
    assert merged is not None and merged.request is first
    response = loop_detected_response(other_path, to_tag="x")
    assert (response.status_code, response.reason) == (482, "Loop Detected")
    in_dialog = _with_branch(first, new_branch())
    in_dialog.headers.set("To", str(in_dialog.to.with_tag("abc")))
    assert table.find_merged(in_dialog) is None


def test_merged_request_forgotten_after_termination() -> None:
    first = _request("OPTIONS")
    server = ServerTransaction(first, reliable=True, now=0.0)
    table = TransactionTable()
    table.add_server(server)
    events = server.send_response(make_response(first, 200, to_tag="x"), 0.0)
    assert SendMessage in {type(e) for e in events}
    assert server.terminated
    table.remove_terminated()
    assert table.find_merged(_with_branch(first, new_branch())) is None


def test_no_dialog_response() -> None:
    bye = _request("BYE")
    response = no_dialog_response(bye, to_tag="gone")
    assert response.status_code == 481
    assert response.reason == "Call/Transaction Does Not Exist"
    assert response.cseq == bye.cseq
