"""RFC 3261 grammar corners: names, folding, lists, quoting, URIs and IPv6 references."""

from __future__ import annotations

import pytest
from sip_samples import sample

from tlstrunk.sip.address import NameAddress, Via
from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.framing import KeepAlivePing, MessageReceived, StreamFramer
from tlstrunk.sip.message import Request, Response, parse_message
from tlstrunk.sip.peek import peek_routing
from tlstrunk.sip.uri import SipUri

MIXED = (
    b"MESSAGE sips:bob@[2001:db8::1]:5061;transport=tls SIP/2.0\r\n"
    b"v: SIP/2.0/TLS [2001:db8::2]:5061;branch=z9hG4bKmix;received=[2001:db8::2]\r\n"
    b"VIA: SIP/2.0/TLS proxy.example.com;branch=z9hG4bKp1,\r\n"
    b"  SIP/2.0/TLS edge.example.com;branch=z9hG4bKp0\r\n"
    b"max-forwards: 70\r\n"
    b'F: "Bob \\"the\\" Builder" <sips:bob@example.com>;tag=a1;note="x;y,z"\r\n'
    b"t: <tel:+1-201-555-0123;phone-context=example.com>\r\n"
    b"I: mix-1\r\n"
    b"cseq: 7 MESSAGE\r\n"
    b"Route: <sips:p1.example.com;lr>\r\n"
    b"Route: <sips:p2.example.com;lr>, <sips:p3.example.com;lr>\r\n"
    b"Subject: a long subject\r\n"
    b"\tfolded with a tab\r\n"
    b"C: text/plain;charset=utf-8\r\n"
    b"L: 5\r\n\r\nhello"
)


def test_mixed_grammar_message() -> None:
    message = parse_message(MIXED)
    assert isinstance(message, Request)
    assert message.uri.host == "[2001:db8::1]"
    assert message.uri.port == 5061
    assert message.top_via.host == "[2001:db8::2]"
    assert message.top_via.received == "[2001:db8::2]"
    assert len(message.headers.get_all("Via")) == 3
    assert message.from_.display_name == 'Bob "the" Builder'
    assert message.from_.param("note") == '"x;y,z"'
    assert message.to.uri.scheme == "tel"
    assert message.to.uri.param("phone-context") == "example.com"
    assert message.headers.get_all("Route") == [
        "<sips:p1.example.com;lr>", "<sips:p2.example.com;lr>", "<sips:p3.example.com;lr>"]
    assert message.headers.get("subject") == "a long subject folded with a tab"
    assert message.headers.get("Content-Type") == "text/plain;charset=utf-8"
    assert message.body == b"hello"
    info = peek_routing(MIXED)
    assert (info.method, info.call_id, info.cseq_number, info.branch) == (
        "MESSAGE", "mix-1", 7, "z9hG4bKmix")
    reparsed = parse_message(message.to_bytes())
    assert reparsed == message


@pytest.mark.parametrize("text", [
    "sip:alice%40home@example.com;maddr=239.255.255.1;ttl=15?subject=hi%20there&priority=urgent",
    "sips:[2001:db8::10]:5061;transport=tls",
    "sip:[::ffff:192.0.2.2]",
    "tel:+358-555-1234567;postd=pp22",
    "sip:user;par=u%40example.net@example.com",
])
def test_uri_forms_round_trip(text: str) -> None:
    assert str(SipUri.parse(text)) == text


@pytest.mark.parametrize("text", [
    "sip:[2001:db8::10", "sip:[2001:db8::zz]", "sip:[1::2::3]", "sip:user@exa mple.com",
    "sip:2001:db8::10", "sip:us%4Ger@example.com",
])
def test_uri_forms_rejected(text: str) -> None:
    with pytest.raises(SipParseError) as caught:
        SipUri.parse(text)
    assert caught.value.status_code == 400
    assert caught.value.reason == "Invalid URI"


def test_three_colon_ipv6_tolerated() -> None:
    assert SipUri.parse("sip:user@[2001:db8:::192.0.2.1]").host == "[2001:db8:::192.0.2.1]"


def test_name_address_escapes_and_utf8() -> None:
    parsed = NameAddress.parse('"Ünïcode \\\\ 東京" <sip:u@example.com>;tag=1')
    assert parsed.display_name == "Ünïcode \\ 東京"
    assert NameAddress.parse(str(parsed)) == parsed


def test_via_ipv6_and_params() -> None:
    via = Via.parse("SIP/2.0/UDP [2001:db8::9:1]:5060;received=2001:db8::9:255;rport=5070")
    assert via.host == "[2001:db8::9:1]"
    assert via.port == 5060
    assert via.rport == 5070


def test_utf8_reason_phrase_round_trip() -> None:
    data = sample("trying_100.sip").replace(b"100 Trying", "100 Versuch läuft".encode())
    message = parse_message(data)
    assert isinstance(message, Response)
    assert message.reason == "Versuch läuft"
    assert message.to_bytes() == data


def test_invalid_date_is_400() -> None:
    data = sample("bye.sip").replace(b"Max-Forwards", b"Date: Sat, 13 Nov 2010 23:29:00 EST\r\n"
                                     b"Max-Forwards")
    with pytest.raises(SipParseError) as caught:
        parse_message(data)
    assert caught.value.reason == "Invalid Date"
    good = data.replace(b"EST", b"GMT")
    assert parse_message(good).headers.get("Date") == "Sat, 13 Nov 2010 23:29:00 GMT"


def test_unknown_scheme_parsed_on_request() -> None:
    data = sample("bye.sip").replace(b"BYE sip:1018@127.0.0.203:5061;transport=tls",
                                     b"BYE urn:service:sos")
    message = parse_message(data, reject_unknown_schemes=False)
    assert isinstance(message, Request)
    assert message.uri.scheme == "urn"


SAMPLES = ["invite_sdp.sip", "ok_200_sdp.sip", "bye.sip", "unauthorized_401_folded.sip"]


@pytest.mark.parametrize("name", SAMPLES)
def test_parsers_whole_byte_by_byte_and_trailing(name: str) -> None:
    data = sample(name)
    whole = parse_message(data)
    assert parse_message(data + b"trailing octets") == whole
    framer = StreamFramer()
    events = [event for i in range(len(data)) for event in framer.feed(data[i : i + 1])]
    assert [e.message for e in events if isinstance(e, MessageReceived)] == [whole]
    events = StreamFramer().feed(data + b"\r\n\r\n" + data[:10])
    assert [type(e) for e in events] == [MessageReceived, KeepAlivePing]
    assert peek_routing(data + b"trailing").call_id == whole.call_id
