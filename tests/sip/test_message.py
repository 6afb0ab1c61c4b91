"""Parsing, validation and serialisation of whole SIP messages."""

from __future__ import annotations

import pytest
from sip_samples import DATA, sample

from tlstrunk.sip.address import CSeq
from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.message import Request, Response, make_response, parse_message

CANONICAL_SAMPLES = [
    "invite_sdp.sip", "trying_100.sip", "ringing_180.sip", "ok_200_sdp.sip", "ack.sip",
    "bye.sip", "options.sip",
]


@pytest.mark.parametrize("name", CANONICAL_SAMPLES)
def test_sample_round_trip_exact(name: str) -> None:
    data = sample(name)
    assert parse_message(data).to_bytes() == data


def test_invite_fields() -> None:
    message = parse_message(sample("invite_sdp.sip"))
    assert isinstance(message, Request)
    assert message.method == "INVITE"
    assert str(message.uri) == "sip:9898@127.0.0.200:5061;transport=tls"
    assert message.uri.param("transport") == "tls"
    assert message.call_id == "3c26700a-1018@127.0.0.203"
    assert message.cseq == CSeq(101, "INVITE")
    assert message.from_.display_name == 'Alice "A" Müller'
    assert message.from_.tag == "a73kszlfl"
    assert message.to.tag is None
    assert message.top_via.transport == "TLS"
    assert message.top_via.port == 5061
    assert message.branch == "z9hG4bK1d2a3b4c5"
    assert message.headers.get_all("Allow") == ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"]
    assert message.headers.get_all("Supported") == ["timer", "replaces"]
    assert message.body.startswith(b"v=0\r\n")
    assert message.headers.get("content-length") == str(len(message.body))


@pytest.mark.parametrize(
    ("name", "code", "reason"),
    [("trying_100.sip", 100, "Trying"), ("ringing_180.sip", 180, "Ringing"),
     ("ok_200_sdp.sip", 200, "OK"), ("unauthorized_401_folded.sip", 401, "Unauthorized")],
)
def test_response_status_line(name: str, code: int, reason: str) -> None:
    message = parse_message(sample(name))
    assert isinstance(message, Response)
    assert message.status_code == code
    assert message.reason == reason


def test_ringing_has_dialog_fields() -> None:
    message = parse_message(sample("ringing_180.sip"))
    assert message.to.tag == "8321234356"
    assert message.headers.get_all("Record-Route") == ["<sip:127.0.0.200:5061;transport=tls;lr>"]


def test_folded_header_unfolded() -> None:
    message = parse_message(sample("unauthorized_401_folded.sip"))
    value = message.headers.get("www-authenticate")
    assert value == (
        'Digest realm="atlanta.example.com", qop="auth", '
        'nonce="ea9c8e88df84f1cec4341ae6cbe5a359", opaque="", stale=FALSE, algorithm=MD5'
    )
    assert next(name for name, _ in message.headers if name.lower() == "www-authenticate") == (
        "WWW-Authenticate")
    assert message.top_via.received == "127.0.0.203"


def test_ack_and_bye_fields() -> None:
    ack = parse_message(sample("ack.sip"))
    bye = parse_message(sample("bye.sip"))
    assert ack.cseq == CSeq(101, "ACK")
    assert ack.headers.get("Route") == "<sip:127.0.0.200:5061;transport=tls;lr>"
    assert bye.cseq == CSeq(231, "BYE")
    assert bye.from_.tag == "8321234356"


def test_options_rport_flag() -> None:
    options = parse_message(sample("options.sip"))
    assert options.top_via.wants_rport
    assert options.top_via.rport is None


def test_compact_forms_canonicalised() -> None:
    data = (
        b"OPTIONS sip:a@example.com SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
        b"f: <sip:b@example.com>;tag=1\r\nt: sip:a@example.com\r\ni: c1\r\n"
        b"CSeq: 1 OPTIONS\r\nl: 0\r\n\r\n"
    )
    message = parse_message(data)
    assert [name for name, _ in message.headers] == [
        "Via", "From", "To", "Call-ID", "CSeq", "Content-Length"]
    assert message.call_id == "c1"


def _mutate(name: str, old: bytes, new: bytes) -> bytes:
    data = sample(name)
    assert old in data
    return data.replace(old, new, 1)


INVALID = [
    ("missing_call_id", _mutate("bye.sip", b"Call-ID: 3c26700a-1018@127.0.0.203\r\n", b""),
     400, "Missing Call-ID", "The mandatory Call-ID header is missing."),
    ("duplicate_to", _mutate("bye.sip", b"CSeq: 231", b"To: <sip:x@y>\r\nCSeq: 231"),
     400, "Duplicate To", "The To header appears more than once."),
    ("cseq_mismatch", _mutate("bye.sip", b"CSeq: 231 BYE", b"CSeq: 231 INVITE"),
     400, "CSeq Method Mismatch",
     "The CSeq method 'INVITE' differs from the request method 'BYE'."),
    ("cseq_too_large", _mutate("bye.sip", b"CSeq: 231 BYE", b"CSeq: 2147483648 BYE"),
     400, "Invalid CSeq header",
     "Invalid CSeq header '2147483648 BYE': the sequence number is larger than 2**31-1."),
    ("bad_version", _mutate("bye.sip", b"tls SIP/2.0", b"tls SIP/3.0"),
     505, "Version Not Supported", "The SIP version 'SIP/3.0' is not supported; only SIP/2.0 is."),
    ("unsupported_scheme", _mutate("bye.sip", b"BYE sip:1018@127.0.0.203:5061;transport=tls",
                                   b"BYE urn:x"),
     416, "Unsupported URI Scheme",
     "The Request-URI scheme 'urn' is not supported; use sip, sips or tel."),
    ("max_forwards_range", _mutate("bye.sip", b"Max-Forwards: 70", b"Max-Forwards: 256"),
     400, "Invalid Max-Forwards", "Max-Forwards '256' is not a number from 0 to 255."),
    ("body_shorter_than_length", _mutate("bye.sip", b"Content-Length: 0", b"Content-Length: 5"),
     400, "Content-Length Larger Than Message",
     "Content-Length is 5 but only 0 body bytes follow."),
    ("reason_not_utf8", _mutate("trying_100.sip", b"100 Trying", b"100 Tr\xffying"),
     400, "Invalid Reason", "The reason phrase is not valid UTF-8."),
    ("display_name_not_utf8", _mutate("bye.sip", b'"Alice', b'"\xc3Alice'),
     400, "Invalid To header", None),
    ("truncated_in_line", sample("bye.sip")[:60],
     400, "Truncated Message",
     "The message has no empty line after its header fields; it may be truncated."),
    ("header_without_colon", _mutate("bye.sip", b"Max-Forwards: 70", b"Max-Forwards 70"),
     400, "Malformed Header Line", "The header line 'Max-Forwards 70' is not 'Name: value'."),
    ("status_code_range", _mutate("trying_100.sip", b"100 Trying", b"700 Odd"),
     400, "Invalid Status Code", "The status code '700' is not a number from 100 to 699."),
]


@pytest.mark.parametrize(
    ("data", "status", "reason", "text"), [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_message(data: bytes, status: int, reason: str, text: str | None) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_message(data)
    assert caught.value.status_code == status
    assert caught.value.reason == reason
    if text is not None:
        assert str(caught.value) == text


def test_datagram_trailing_octets_discarded() -> None:
    data = sample("bye.sip") + b"garbage after the message"
    assert parse_message(data).body == b""


def test_datagram_without_content_length() -> None:
    data = _mutate("bye.sip", b"Content-Length: 0\r\n", b"") + b"body"
    assert parse_message(data).body == b"body"


def test_to_bytes_rewrites_content_length() -> None:
    message = parse_message(sample("bye.sip"))
    message.body = b"hello"
    assert b"Content-Length: 5\r\n\r\nhello" in message.to_bytes()


def test_make_response_copies_headers() -> None:
    request = parse_message(sample("invite_sdp.sip"))
    assert isinstance(request, Request)
    request.headers.add("Record-Route", "<sip:p1.example.com;lr>")
    request.headers.add("Via", "SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1")
    response = make_response(request, 180, to_tag="t1")
    assert response.reason == "Ringing"
    assert response.headers.get_all("Via") == request.headers.get_all("Via")
    assert response.to.tag == "t1"
    assert response.headers.get("From") == request.headers.get("From")
    assert response.headers.get("Record-Route") == "<sip:p1.example.com;lr>"
    assert response.cseq == request.cseq
    assert response.body == b""


def test_make_response_keeps_existing_tag() -> None:
    request = parse_message(sample("bye.sip"))
    assert isinstance(request, Request)
    response = make_response(request, 481, to_tag="other", body=b"x", content_type="text/plain")
    assert response.to.tag == "a73kszlfl"
    assert response.reason == "Call/Transaction Does Not Exist"
    assert response.headers.get("Content-Type") == "text/plain"
    assert "Record-Route" not in response.headers
    data = response.to_bytes()
    assert parse_message(data).to_bytes() == data


RFC4475_VALID = ["wsinv", "intmeth", "esc01", "semiuri", "dblreq", "unreason", "noreason",
                 "unksm2", "cparam01"]
RFC4475_INVALID = {
    "badinv01": 400, "clerr": 400, "ncl": 400, "scalar02": 400, "quotbal": 400,
    "ltgtruri": 400, "lwsruri": 400, "lwsstart": 400, "trws": 400, "escruri": 400,
    "regbadct": 400, "badaspec": 400, "baddn": 400, "badvers": 505, "mismatch01": 400,
    "bigcode": 400, "insuf": 400, "unkscm": 416, "multi01": 400, "mcl01": 400,
}


@pytest.mark.parametrize("name", RFC4475_VALID)
def test_rfc4475_valid(name: str) -> None:
    message = parse_message((DATA / "rfc4475" / f"{name}.sip").read_bytes())
    reparsed = parse_message(message.to_bytes())
    assert reparsed.headers == message.headers
    assert reparsed.body == message.body


@pytest.mark.parametrize(("name", "status"), sorted(RFC4475_INVALID.items()))
def test_rfc4475_invalid(name: str, status: int) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_message((DATA / "rfc4475" / f"{name}.sip").read_bytes())
    assert caught.value.status_code == status


def test_rfc4475_unusual_reasons() -> None:
    unusual = parse_message((DATA / "rfc4475" / "unreason.sip").read_bytes())
    empty = parse_message((DATA / "rfc4475" / "noreason.sip").read_bytes())
    assert isinstance(unusual, Response)
    assert isinstance(empty, Response)
    assert unusual.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    assert empty.reason == ""
    assert empty.status_code == 100
