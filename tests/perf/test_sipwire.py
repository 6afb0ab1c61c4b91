"""The generator's framing, response heads and 2xx reading."""

from __future__ import annotations

import pytest

from tlstrunk.perf.sipwire import (
    MAX_HEAD,
    FramingError,
    StreamFramer,
    UacTemplates,
    content_length,
    read_dialog_target,
    response_head,
    route_lines,
)
from tlstrunk.sip.message import parse_message
from tlstrunk.sip.peek import peek_routing

OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/TLS 127.0.7.10:40000;branch=z9hG4bK1;rport=40000\r\n"
    b"Record-Route: <sip:127.0.7.3:5061;transport=tls;lr>\r\n"
    b"Record-Route: <sip:127.0.7.30;lr>, <sip:127.0.7.31;lr>\r\n"
    b"From: <sip:bench@127.0.7.10>;tag=1\r\n"
    b"t: <sip:9898@127.0.7.3>;tag=abc\r\n"
    b"Call-ID: c1\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"m: <sip:uas@127.0.7.11:5062;transport=tls>\r\n"
    b"l: 4\r\n\r\nbody"
)


def collect() -> tuple[StreamFramer, list[bytes]]:
    messages: list[bytes] = []
    return StreamFramer(messages.append), messages


def test_framer_whole_and_byte_by_byte() -> None:
    stream = b"\r\n\r\n" + OK + OK
    whole, whole_messages = collect()
    whole.feed(stream)
    assert whole_messages == [OK, OK]
    single, single_messages = collect()
    for index in range(len(stream)):
        single.feed(stream[index : index + 1])
    assert single_messages == [OK, OK]


def test_framer_keeps_trailing_partial_message() -> None:
    framer, messages = collect()
    framer.feed(OK + OK[:30])
    assert messages == [OK]
    framer.feed(OK[30:])
    assert messages == [OK, OK]


def test_framer_rejects_oversize_head() -> None:
    framer, _messages = collect()
    with pytest.raises(FramingError, match="longer than"):
        framer.feed(b"X" * (MAX_HEAD + 1))


def test_content_length_forms() -> None:
    assert content_length(b"INVITE x SIP/2.0\r\nContent-Length: 12") == 12
    assert content_length(b"INVITE x SIP/2.0\r\ncontent-length:7\r\nVia: x") == 7
    assert content_length(b"INVITE x SIP/2.0\r\nl: 3") == 3
    assert content_length(b"INVITE x SIP/2.0\r\nVia: x") == 0
    with pytest.raises(FramingError, match="not a number"):
        content_length(b"INVITE x SIP/2.0\r\nContent-Length: ten")


def test_dialog_target_from_2xx() -> None:
    target = read_dialog_target(OK)
    assert target.to == b"<sip:9898@127.0.7.3>;tag=abc"
    assert target.contact == b"sip:uas@127.0.7.11:5062;transport=tls"
    assert target.routes == (
        b"<sip:127.0.7.31;lr>",
        b"<sip:127.0.7.30;lr>",
        b"<sip:127.0.7.3:5061;transport=tls;lr>",
    )
    assert route_lines(target.routes).startswith(b"Route: <sip:127.0.7.31;lr>, ")
    assert route_lines(()) == b""


def test_templates_build_valid_requests() -> None:
    templates = UacTemplates.build(
        transport="TLS", local=("127.0.7.10", 40000), target=("127.0.7.3", 5061), called="9898"
    )
    invite = templates.invite % (b"b1", b"t1", b"cid-1")
    parsed = parse_message(invite)
    assert parsed.call_id == "cid-1"
    assert b"Via: SIP/2.0/TLS 127.0.7.10:40000;branch=z9hG4bKb1;rport" in invite
    target = read_dialog_target(OK)
    bye = templates.bye % (
        target.contact,
        b"b2",
        route_lines(target.routes),
        b"t1",
        target.to,
        b"cid-1",
    )
    info = peek_routing(bye)
    assert info.method == "BYE"
    assert info.cseq_number == 2
    assert info.request_uri == "sip:uas@127.0.7.11:5062;transport=tls"
    assert parse_message(bye).call_id == "cid-1"


def test_response_head_copies_and_tags() -> None:
    templates = UacTemplates.build(
        transport="TCP", local=("127.0.7.10", 40000), target=("127.0.7.1", 5060), called="9898"
    )
    invite = templates.invite % (b"b1", b"t1", b"cid-2")
    head = response_head(invite, 180, "Ringing", b"uas1")
    assert head[0] == b"SIP/2.0 180 Ringing"
    assert b"To: <sip:9898@127.0.7.1>;tag=uas1" in head
    assert not any(line.startswith(b"Contact") for line in head)
    assert sum(line.startswith(b"Via:") for line in head) == 1
