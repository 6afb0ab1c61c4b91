"""Cases that tripped other SIP stacks, each checked against ours."""

from __future__ import annotations

from sip_samples import sample

from tlstrunk.sip.address import Challenge
from tlstrunk.sip.framing import BadMessage, MessageReceived, StreamFramer
from tlstrunk.sip.message import Request, Response, make_response, parse_message
from tlstrunk.sip.transaction import ClientTransaction, TransactionTable, new_branch

CHALLENGE_401 = (
    b"SIP/2.0 401 Unauthorized\r\n"
    b"Via: SIP/2.0/TLS 127.0.0.203:5061;branch=z9hG4bK74bf9\r\n"
    b"From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    b"To: <sip:alice@atlanta.example.com>;tag=3flal12sf\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 REGISTER\r\n"
    b'WWW-Authenticate: Digest realm="atlanta.example.com",\r\n'
    b'    nonce="ea9c8e88df84f1cec4341ae6cbe5a359", qop="auth",\r\n'
    b"\talgorithm=MD5, stale=FALSE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_challenge_folded_with_spaces_and_tab() -> None:
    message = parse_message(CHALLENGE_401)
    assert isinstance(message, Response)
    values = message.headers.get_all("WWW-Authenticate")
    assert len(values) == 1
    challenge = Challenge.parse(values[0])
    assert challenge.scheme == "Digest"
    assert challenge.param("realm") == "atlanta.example.com"
    assert challenge.param("NONCE") == "ea9c8e88df84f1cec4341ae6cbe5a359"
    assert challenge.param("qop") == "auth"
    assert challenge.param("algorithm") == "MD5"
    assert challenge.param("stale") == "FALSE"


def test_two_via_values_on_one_line_match_client_transaction() -> None:
    request = parse_message(sample("options.sip"))
    assert isinstance(request, Request)
    branch = new_branch()
    request.headers.set("Via", str(request.top_via.with_param("branch", branch)))
    client = ClientTransaction(request, reliable=True, now=0.0)
    table = TransactionTable()
    table.add_client(client)
    top = request.headers.get("Via")
    data = make_response(request, 200, to_tag="x").to_bytes().replace(
        f"Via: {top}\r\n".encode(),
        f"Via: {top} , SIP/2.0/TLS 127.0.0.9:5061;branch=z9hG4bKsecond\r\n".encode())
    response = parse_message(data)
    assert response.headers.count("Via") == 1
    assert response.headers.get_all("Via")[1].endswith("z9hG4bKsecond")
    assert response.top_via.branch == branch
    assert isinstance(response, Response)
    assert table.match_response(response) is client


def test_ack_and_bye_in_one_write() -> None:
    ack, bye = sample("ack.sip"), sample("bye.sip")
    framer = StreamFramer()
    events = framer.feed(ack + bye)
    assert [e.message.to_bytes() for e in events if isinstance(e, MessageReceived)] == [ack, bye]
    assert framer.messages == 2


def test_invite_split_inside_header_and_body() -> None:
    invite = sample("invite_sdp.sip")
    in_header = invite.index(b"Call-ID") + 4
    in_body = invite.index(b"\r\n\r\n") + 40
    framer = StreamFramer()
    events = [*framer.feed(invite[:in_header]), *framer.feed(invite[in_header:in_body])]
    assert events == []
    events = framer.feed(invite[in_body:])
    assert len(events) == 1
    assert isinstance(events[0], MessageReceived)
    assert events[0].message.to_bytes() == invite


def test_options_without_content_length_on_stream() -> None:
    options = sample("options.sip").replace(b"Content-Length: 0\r\n", b"")
    framer = StreamFramer()
    events = framer.feed(options)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, BadMessage)
    response = event.try_make_response()
    assert response is not None
    assert (response.status_code, response.reason) == (400, "Missing Content-Length")
    assert framer.bad_messages == 1
    assert framer.dropped == 0


def test_utf8_display_name_with_sdp_body() -> None:
    invite = parse_message(sample("invite_sdp.sip"))
    assert isinstance(invite, Request)
    name = "Zoë Ångström 山田太郎"
    invite.headers.set("From", f'"{name}" <sip:zoe@127.0.0.203>;tag=utf8')
    data = invite.to_bytes()
    head, _separator, body = data.partition(b"\r\n\r\n")
    assert body == invite.body
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    assert length == len(invite.body) == len(body)
    events = StreamFramer().feed(data)
    assert isinstance(events[0], MessageReceived)
    received = events[0].message
    assert received.from_.display_name == name
    assert received.body == invite.body
    assert received.to_bytes() == data
