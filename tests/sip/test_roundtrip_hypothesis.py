"""Property test: a generated request survives serialise-then-parse unchanged."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tlstrunk.sip.headers import Headers
from tlstrunk.sip.message import Request, Response, parse_message
from tlstrunk.sip.uri import SipUri

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~",
                min_size=1, max_size=12).filter(lambda s: "%" not in s)
HOST = st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z][a-z0-9]{0,10}){0,2}", fullmatch=True)
URI_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*",
                    min_size=1, max_size=12)
DISPLAY = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\r\n"),
                  max_size=20)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method = draw(st.sampled_from(["INVITE", "OPTIONS", "BYE", "REGISTER", "MESSAGE"]))
    uri = SipUri(
        draw(st.sampled_from(["sip", "sips"])), draw(st.none() | URI_TOKEN), draw(HOST),
        draw(st.none() | st.integers(0, 65535)),
        tuple(draw(st.lists(st.tuples(URI_TOKEN, st.none() | URI_TOKEN), max_size=3))),
    )
    name = draw(DISPLAY).replace("\\", "\\\\").replace('"', '\\"')
    headers = Headers()
    headers.add("Via", f"SIP/2.0/TLS {draw(HOST)}:5061;branch=z9hG4bK{draw(TOKEN)}")
    headers.add("Max-Forwards", str(draw(st.integers(0, 255))))
    headers.add("From", f'"{name}" <sip:{draw(HOST)}>;tag={draw(TOKEN)}')
    headers.add("To", f"<{uri}>")
    headers.add("Call-ID", draw(TOKEN))
    headers.add("CSeq", f"{draw(st.integers(0, 2**31 - 1))} {method}")
    for extra_name, extra_value in draw(st.lists(st.tuples(
            st.sampled_from(["X-Note", "Subject", "User-Agent"]), TOKEN), max_size=3)):
        headers.add(extra_name, extra_value)
    body = draw(st.binary(max_size=64))
    headers.add("Content-Length", str(len(body)))
    return Request(method, uri, headers, body)


@settings(max_examples=200)
@given(requests())
def test_generated_request_round_trip(request: Request) -> None:
    assert parse_message(request.to_bytes()) == request


IPV6 = st.ip_addresses(v=6).map(lambda address: f"[{address}]")
ANY_HOST = HOST | IPV6
UTF8_NAME = st.text(st.characters(min_codepoint=0x20, blacklist_categories=("Cc", "Cs")),
                    max_size=16)
REASON = st.text(st.characters(min_codepoint=0x20, blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
                 max_size=20).map(str.strip)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def responses(draw: st.DrawFn) -> Response:
    code = draw(st.integers(100, 699))
    method = draw(st.sampled_from(["INVITE", "BYE", "OPTIONS", "UPDATE"]))
    headers = Headers()
    for _index in range(draw(st.integers(1, 3))):
        headers.add("Via", f"SIP/2.0/TLS {draw(ANY_HOST)}:5061;branch=z9hG4bK{draw(TOKEN)}")
    headers.add("From", f"{_quoted(draw(UTF8_NAME))} <sip:a@{draw(ANY_HOST)}>;tag={draw(TOKEN)}")
    headers.add("To", f"<sips:b@{draw(ANY_HOST)}>;tag={draw(TOKEN)}")
    headers.add("Call-ID", draw(TOKEN))
    headers.add("CSeq", f"{draw(st.integers(0, 2**31 - 1))} {method}")
    body = draw(st.binary(max_size=64))
    if body:
        headers.add("Content-Type", "application/sdp")
    headers.add("Content-Length", str(len(body)))
    return Response(code, draw(REASON), headers, body)


@st.composite
def ipv6_requests(draw: st.DrawFn) -> Request:
    request = draw(requests())
    port = draw(st.none() | st.integers(1, 65535))
    request.uri = SipUri("sips", draw(st.none() | URI_TOKEN), draw(IPV6), port)
    request.headers.set("From", f"{_quoted(draw(UTF8_NAME))} <sip:x@{draw(IPV6)}>;tag=t")
    return request


@settings(max_examples=200)
@given(responses())
def test_generated_response_round_trip(response: Response) -> None:
    data = response.to_bytes()
    parsed = parse_message(data)
    assert parsed == response
    assert parsed.to_bytes() == data


@settings(max_examples=200)
@given(ipv6_requests())
def test_generated_ipv6_utf8_request_round_trip(request: Request) -> None:
    parsed = parse_message(request.to_bytes())
    assert parsed == request
    assert parsed.from_.display_name == request.from_.display_name
