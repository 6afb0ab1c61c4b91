"""Header map, URIs and structured header values."""

from __future__ import annotations

import pytest

from tlstrunk.sip.address import CSeq, NameAddress, Via
from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.headers import Headers
from tlstrunk.sip.uri import SipUri


def test_headers_case_insensitive_and_ordered() -> None:
    headers = Headers([("via", "a"), ("X-Custom", "1"), ("VIA", "b")])
    assert headers.get("Via") == "a"
    assert headers.get_all("v") == ["a", "b"]
    assert list(headers) == [("Via", "a"), ("X-Custom", "1"), ("Via", "b")]
    assert "x-custom" in headers
    headers.set("via", "c")
    assert list(headers) == [("Via", "c"), ("X-Custom", "1")]
    headers.remove("X-CUSTOM")
    assert "X-Custom" not in headers


def test_headers_canonical_names() -> None:
    headers = Headers([("call-id", "1"), ("cseq", "1 A"), ("www-authenticate", "x"),
                       ("max-forwards", "70"), ("x-Odd-Name", "kept")])
    assert [name for name, _ in headers] == [
        "Call-ID", "CSeq", "WWW-Authenticate", "Max-Forwards", "x-Odd-Name"]


def test_headers_split_respects_quotes_and_brackets() -> None:
    headers = Headers([("Contact", '"Doe, John" <sip:a@b;x="1,2">, <sip:c@d?h=1,2>;q=0.5')])
    assert headers.get_all("Contact") == [
        '"Doe, John" <sip:a@b;x="1,2">', "<sip:c@d?h=1,2>;q=0.5"]


def test_headers_do_not_split_non_list_header() -> None:
    headers = Headers([("Subject", "a, b")])
    assert headers.get_all("Subject") == ["a, b"]


def test_headers_copy_is_independent() -> None:
    headers = Headers([("To", "a")])
    clone = headers.copy()
    clone.add("To", "b")
    assert headers.count("To") == 1


@pytest.mark.parametrize(
    "text",
    [
        "sip:alice@example.com",
        "sips:alice:secret@example.com:5061;transport=tls;lr",
        "sip:[2001:db8::1]:5060;maddr=239.255.255.1",
        "sip:+15551234567;phone-context=example.com@gw.example.com;user=phone",
        "sip:host.example.com?Subject=hi&Priority=urgent",
        "tel:+1-201-555-0123;ext=1234",
        "http://www.example.com",
    ],
)
def test_uri_round_trip(text: str) -> None:
    assert str(SipUri.parse(text)) == text


def test_uri_fields() -> None:
    uri = SipUri.parse("SIPS:bob@[::1]:5061;transport=TLS;lr")
    assert uri.scheme == "sips"
    assert uri.user == "bob"
    assert uri.host == "[::1]"
    assert uri.port == 5061
    assert uri.param("TRANSPORT") == "TLS"
    assert uri.param("lr") == ""
    assert uri.param("maddr") is None
    assert uri.with_param("transport", "udp").param("transport") == "udp"
    assert not uri.without_params("lr").has_param("lr")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("example.com",
         "Invalid URI 'example.com': it does not start with a scheme such as 'sip:'."),
        ("sip:a b@example.com",
         "Invalid URI 'sip:a b@example.com': it is empty or contains whitespace, quotes or "
         "angle brackets."),
        ("sip:alice@example.com:70000",
         "Invalid URI 'sip:alice@example.com:70000': the port '70000' is not a number from 0 "
         "to 65535."),
        ("sip:[::1:5060",
         "Invalid URI 'sip:[::1:5060': the IPv6 reference has no closing bracket."),
        ("sip:al%zzce@example.com",
         "Invalid URI 'sip:al%zzce@example.com': the user part 'al%zzce' is malformed."),
    ],
)
def test_uri_invalid(text: str, message: str) -> None:
    with pytest.raises(SipParseError) as caught:
        SipUri.parse(text)
    assert caught.value.status_code == 400
    assert str(caught.value) == message


def test_name_address_forms() -> None:
    quoted = NameAddress.parse('"A \\"B\\" Ünï" <sip:a@b.example>;tag=x1')
    tokens = NameAddress.parse("Alice Smith<sip:a@b.example>")
    bare = NameAddress.parse("sip:a@b.example;transport=tcp;tag=7")
    assert quoted.display_name == 'A "B" Ünï'
    assert quoted.tag == "x1"
    assert tokens.display_name == "Alice Smith"
    assert bare.uri.param("transport") is None
    assert bare.param("transport") == "tcp"
    assert bare.tag == "7"
    assert str(quoted) == '"A \\"B\\" Ünï" <sip:a@b.example>;tag=x1'
    assert str(bare.with_tag("8")) == "<sip:a@b.example>;transport=tcp;tag=8"


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ('"unterminated <sip:a@b>', "the quoted display name is not terminated"),
        ("Bell, Alexander <sip:a@b>", "the display name 'Bell, Alexander' must be quoted"),
        ("<sip:a@b", "the '<' has no matching '>'"),
        ("sip:a@b?x=1", "a URI with '?' or ',' must be enclosed in '<>'"),
    ],
)
def test_name_address_invalid(text: str, fault: str) -> None:
    with pytest.raises(SipParseError) as caught:
        NameAddress.parse(text, "From")
    assert caught.value.reason == "Invalid From header"
    assert fault in str(caught.value)


def test_via_parse_and_serialise() -> None:
    via = Via.parse(
        "SIP / 2.0 / tls  [2001:db8::9]:5061 ;branch=z9hG4bK1;received=10.0.0.1;rport=5")
    assert via.transport == "TLS"
    assert via.host == "[2001:db8::9]"
    assert via.port == 5061
    assert via.branch == "z9hG4bK1"
    assert via.received == "10.0.0.1"
    assert via.rport == 5
    assert str(via) == "SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bK1;received=10.0.0.1;rport=5"


@pytest.mark.parametrize("text", ["SIP/2.0/UDP", "SIP/3.0/UDP h", "SIP/2.0/UDP h;;", "SIP/2.0 h"])
def test_via_invalid(text: str) -> None:
    with pytest.raises(SipParseError):
        Via.parse(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0 INVITE", CSeq(0, "INVITE")), ("2147483647 BYE", CSeq(2**31 - 1, "BYE"))],
)
def test_cseq_bounds(text: str, expected: CSeq) -> None:
    assert CSeq.parse(text) == expected


@pytest.mark.parametrize("text", ["2147483648 BYE", "-1 BYE", "1", "x BYE"])
def test_cseq_invalid(text: str) -> None:
    with pytest.raises(SipParseError):
        CSeq.parse(text)
