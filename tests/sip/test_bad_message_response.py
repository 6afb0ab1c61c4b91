"""A request whose From or To does not parse still gets its 400 on a stream."""

from __future__ import annotations

from tlstrunk.sip.framing import BadMessage, StreamFramer


def _options(from_value: bytes, extra: bytes = b"") -> bytes:
    return (
        b"OPTIONS sip:9898@127.0.0.200 SIP/2.0\r\n"
        b"Via: SIP/2.0/TLS 127.0.0.203:5061;branch=z9hG4bK-latin1\r\n"
        b"Max-Forwards: 70\r\nFrom: " + from_value + b"\r\n"
        b"To: <sip:9898@127.0.0.200>\r\nCall-ID: latin1\r\nCSeq: 7 OPTIONS\r\n"
        + extra
        + b"Content-Length: 0\r\n\r\n"
    )


def test_latin1_display_name_answered() -> None:
    events = StreamFramer().feed(_options(b'"M\xfcller" <sip:m@127.0.0.203>;tag=1'))
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, BadMessage)
    response = event.try_make_response()
    assert response is not None
    assert response.status_code == 400
    data = response.to_bytes()
    assert b"Call-ID: latin1\r\n" in data
    assert b"CSeq: 7 OPTIONS\r\n" in data
    assert b"Via: SIP/2.0/TLS 127.0.0.203:5061;branch=z9hG4bK-latin1\r\n" in data


def test_missing_call_id_not_answered() -> None:
    data = _options(b"<sip:m@127.0.0.203>;tag=1").replace(b"Call-ID: latin1\r\n", b"")
    events = StreamFramer().feed(data)
    event = events[0]
    assert isinstance(event, BadMessage)
    assert event.try_make_response() is None
