"""SDP parsing and serialisation, and RFC 4568 crypto attributes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sip_samples import DATA, sample

from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.message import parse_message
from tlstrunk.sip.sdp import CryptoAttribute, KeyParam, SessionDescription, strip_crypto

CASES: dict[str, Any] = json.loads((DATA / "sdes_crypto_cases.json").read_text("utf-8"))

# Cases where this parser decides differently from sipsorcery, on purpose:
# c8 and c17 carry keys of the wrong length for their suite, and k4 puts the MKI
# before the lifetime, which the RFC 4568 grammar does not allow. r5 and r6 name
# unknown suites, which parse so that the caller can ignore them (RFC 4568 6.2).
# kr3 (lifetime 2^0) matches the grammar. kr1 is two key parameters, which an
# a=crypto line may carry.
STRICTER = {"c8", "c17", "k4"}
LOOSER = {"r5", "r6", "kr3", "kr1"}


def _body() -> bytes:
    return parse_message(sample("invite_sdp.sip")).body


def test_sdp_round_trip_exact() -> None:
    body = _body()
    assert SessionDescription.parse(body).to_bytes() == body


def test_sdp_fields() -> None:
    session = SessionDescription.parse(_body())
    assert session.origin.username == "CUCMA"
    assert session.origin.address == "127.0.0.203"
    assert session.session_name == "SIP Call"
    assert session.connection is not None
    assert session.connection.address == "127.0.0.203"
    audio = session.media[0]
    assert (audio.media, audio.port, audio.proto, audio.formats) == (
        "audio", 24580, "RTP/SAVP", ["0", "101"])
    assert audio.attribute("rtpmap") == "0 PCMU/8000"
    assert audio.attribute("sendrecv") == ""
    crypto = audio.crypto()
    assert [c.suite for c in crypto] == ["AES_CM_128_HMAC_SHA1_80"]
    assert crypto[0].key_params[0].lifetime == 2**31


def test_strip_crypto() -> None:
    session = SessionDescription.parse(_body())
    stripped = strip_crypto(session)
    assert b"a=crypto" not in stripped.to_bytes()
    assert b"a=crypto" in session.to_bytes()
    assert stripped.media[0].attribute("rtpmap") == "0 PCMU/8000"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"v=1\r\n", "The SDP does not start with 'v=0'."),
        (b"v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\n", "The SDP lacks one of the mandatory o=, s= and "
         "t= lines."),
        (b"v=0\r\no=a 1 1 IN IP4\r\n", "The SDP origin 'a 1 1 IN IP4' does not have six fields."),
        (b"v=0\r\nbad line\r\n", "The SDP line 'bad line' is not 'x=value'."),
        (b"v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n",
         "The SDP media port 'x' is invalid."),
    ],
)
def test_sdp_invalid(body: bytes, text: str) -> None:
    with pytest.raises(SipParseError) as caught:
        SessionDescription.parse(body)
    assert caught.value.reason == "Invalid SDP"
    assert str(caught.value) == text


@pytest.mark.parametrize("case", CASES["crypto_attribute_lines"], ids=lambda case: case["id"])
def test_crypto_line_cases(case: dict[str, Any]) -> None:
    accept = (case["expect"] == "accept") != (case["id"] in STRICTER | LOOSER)
    if not accept:
        with pytest.raises(SipParseError):
            CryptoAttribute.parse(case["line"])
        return
    crypto = CryptoAttribute.parse(case["line"])
    fields = case.get("fields", {})
    if "tag" in fields:
        assert crypto.tag == fields["tag"]
    if "suite" in fields:
        assert crypto.suite == fields["suite"]
    for key, expected in zip(crypto.key_params, fields.get("keys", []), strict=False):
        for name in ("key_salt_b64", "lifetime", "mki_value", "mki_length"):
            if name in expected:
                assert getattr(key, name) == expected[name], name
    if "session_params" in fields:
        assert list(crypto.session_params) == fields["session_params"]
    if "canonical" in case:
        assert f"a=crypto:{crypto}" == case["canonical"]
    assert [len(k.key_salt) for k in crypto.key_params] == case["decoded_key_lengths"] or (
        case["id"] in LOOSER)


@pytest.mark.parametrize("case", CASES["key_params"], ids=lambda case: case["id"])
def test_key_param_cases(case: dict[str, Any]) -> None:
    accept = (case["expect"] == "accept") != (case["id"] in STRICTER | LOOSER)
    items = case["text"].split(";")
    if not accept:
        with pytest.raises(SipParseError):
            for item in items:
                KeyParam.parse(item)
        return
    keys = [KeyParam.parse(item) for item in items]
    assert [len(key.key_salt) for key in keys] == case["decoded_key_lengths"]
    for name, expected in case.get("fields", {}).items():
        assert getattr(keys[0], name) == expected, name


def test_crypto_unknown_suite_is_flagged() -> None:
    crypto = CryptoAttribute.parse(
        "1 AES_CM_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR")
    assert not crypto.known_suite
    assert crypto.to_attribute().name == "crypto"


def test_crypto_error_text() -> None:
    with pytest.raises(SipParseError) as caught:
        CryptoAttribute.parse("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA")
    assert str(caught.value) == (
        "The key of crypto suite AES_CM_128_HMAC_SHA1_80 decodes to 3 octets instead of 30.")
