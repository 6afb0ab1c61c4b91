"""Splitting TCP/TLS byte streams into messages."""

from __future__ import annotations

import pytest
from sip_samples import sample

from tlstrunk.sip.errors import FramingError
from tlstrunk.sip.framing import (
    BadMessage,
    FramerEvent,
    KeepAlivePing,
    KeepAlivePong,
    MessageReceived,
    StreamFramer,
)
from tlstrunk.sip.message import Request, Response

INVITE = sample("invite_sdp.sip")
OK = sample("ok_200_sdp.sip")
STREAM = INVITE + OK


def _feed_all(framer: StreamFramer, chunks: list[bytes]) -> list[FramerEvent]:
    events: list[FramerEvent] = []
    for chunk in chunks:
        events.extend(framer.feed(chunk))
    return events


def _messages(events: list[FramerEvent]) -> list[bytes]:
    return [e.message.to_bytes() for e in events if isinstance(e, MessageReceived)]


def test_framer_whole_stream() -> None:
    events = StreamFramer().feed(STREAM)
    assert _messages(events) == [INVITE, OK]
    assert isinstance(events[0], MessageReceived)
    assert isinstance(events[0].message, Request)
    assert isinstance(events[1], MessageReceived)
    assert isinstance(events[1].message, Response)


def test_framer_byte_by_byte() -> None:
    framer = StreamFramer()
    events = _feed_all(framer, [STREAM[i : i + 1] for i in range(len(STREAM))])
    assert _messages(events) == [INVITE, OK]


def test_framer_split_at_every_offset() -> None:
    for offset in range(len(STREAM) + 1):
        events = _feed_all(StreamFramer(), [STREAM[:offset], STREAM[offset:]])
        assert _messages(events) == [INVITE, OK], offset


def test_framer_keeps_partial_trailing_data() -> None:
    framer = StreamFramer()
    events = framer.feed(INVITE + OK[:100])
    assert _messages(events) == [INVITE]
    assert _messages(framer.feed(OK[100:])) == [OK]


def test_framer_keepalive_ping_and_pong() -> None:
    framer = StreamFramer()
    events = framer.feed(b"\r\n\r\n" + INVITE + b"\r\n")
    assert events[0] == KeepAlivePing()
    assert isinstance(events[1], MessageReceived)
    # the lone CRLF waits for the next byte, which shows it is not a ping
    assert len(events) == 2
    assert framer.feed(OK[:1]) == [KeepAlivePong()]


def test_framer_expected_pong_reported_at_once() -> None:
    framer = StreamFramer()
    framer.expect_pong()
    assert framer.feed(b"\r\n") == [KeepAlivePong()]
    assert framer.feed(b"\r\n") == []


def test_framer_ping_split_across_reads() -> None:
    framer = StreamFramer()
    events = _feed_all(framer, [b"\r", b"\n", b"\r", b"\n"])
    assert events == [KeepAlivePing()]


def test_framer_missing_content_length() -> None:
    message = INVITE.split(b"Content-Length")[0] + b"\r\n"
    framer = StreamFramer()
    events = framer.feed(sample("bye.sip").replace(b"Content-Length: 0\r\n", b""))
    assert len(events) == 1
    assert isinstance(events[0], BadMessage)
    assert events[0].error.status_code == 400
    assert events[0].error.reason == "Missing Content-Length"
    response = events[0].try_make_response()
    assert response is not None
    assert response.status_code == 400
    assert response.reason == "Missing Content-Length"
    assert response.call_id == "3c26700a-1018@127.0.0.203"
    # a message follows, so the stream goes on
    assert _messages(framer.feed(OK)) == [OK]
    # a body left behind by a message without Content-Length cannot be framed
    broken = StreamFramer()
    broken.feed(message)
    with pytest.raises(FramingError) as caught:
        broken.feed(b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\n")
    assert caught.value.reason == "Missing Content-Length"


def test_framer_bad_message_keeps_stream() -> None:
    bad = sample("bye.sip").replace(b"CSeq: 231 BYE", b"CSeq: 231 INVITE")
    events = StreamFramer().feed(bad + OK)
    assert isinstance(events[0], BadMessage)
    assert events[0].error.reason == "CSeq Method Mismatch"
    assert _messages(events) == [OK]


def test_bad_response_gets_no_response() -> None:
    bad = OK.replace(b"CSeq: 101 INVITE", b"CSeq: x INVITE")
    events = StreamFramer().feed(bad)
    assert isinstance(events[0], BadMessage)
    assert events[0].try_make_response() is None


def test_framer_oversized_header() -> None:
    framer = StreamFramer(max_header_bytes=256)
    with pytest.raises(FramingError) as caught:
        framer.feed(b"INVITE sip:a@b SIP/2.0\r\nSubject: " + b"x" * 300)
    assert caught.value.status_code == 513
    assert caught.value.reason == "Message Too Large"
    with pytest.raises(FramingError):
        framer.feed(b"\r\n\r\n")


def test_framer_oversized_body() -> None:
    framer = StreamFramer(max_body_bytes=100)
    with pytest.raises(FramingError) as caught:
        framer.feed(INVITE)
    assert caught.value.status_code == 513


def test_framer_negative_content_length() -> None:
    with pytest.raises(FramingError) as caught:
        StreamFramer().feed(sample("bye.sip").replace(b"Content-Length: 0", b"Content-Length: -9"))
    assert caught.value.reason == "Invalid Content-Length"
