"""SDES suite table, offer lines, and choosing the line to answer."""

from __future__ import annotations

import base64
from typing import Any

import pylibsrtp
import pytest
from media_samples import load

from tlstrunk.media.sdes import (
    ALL_SUITES,
    STRONGEST_FIRST,
    SUITES,
    UNSUPPORTED,
    accepted_crypto,
    answer_crypto,
    choose_crypto,
    offer_crypto,
    parse_crypto_lines,
    rejection_reason,
    suite_by_name,
)
from tlstrunk.media.srtp import LIBSRTP_PROFILES
from tlstrunk.sip.errors import SipParseError
from tlstrunk.sip.sdp import (
    KEY_SALT_LENGTHS,
    Attribute,
    CryptoAttribute,
    KeyParam,
    SessionDescription,
)

CASES: dict[str, Any] = load("sdes_crypto_cases.json")
KEY30 = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
KEY46 = "d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj/Jl+xZQ4qrEUAzDN67dOAQ=="
KEY44 = base64.b64encode(bytes(range(44))).decode()
KEY28 = base64.b64encode(bytes(range(28))).decode()


def _offer(*lines: str) -> SessionDescription:
    body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    body += "m=audio 4000 RTP/SAVP 0\r\n" + "".join(f"a=crypto:{line}\r\n" for line in lines)
    return SessionDescription.parse(body)


def test_suite_table_matches_sdp_lengths_and_libsrtp() -> None:
    assert {s.name for s in ALL_SUITES} == set(STRONGEST_FIRST)
    for suite in ALL_SUITES:
        assert KEY_SALT_LENGTHS[suite.name] == suite.key_salt_bytes
    for suite in SUITES:
        # pylibsrtp refuses a key shorter than the profile's master key and salt.
        profile = LIBSRTP_PROFILES[suite.name]
        pylibsrtp.Policy(key=bytes(suite.key_salt_bytes), srtp_profile=profile)
        with pytest.raises(ValueError, match=f"at least {suite.key_salt_bytes} bytes"):
            pylibsrtp.Policy(key=bytes(suite.key_salt_bytes - 1), srtp_profile=profile)
    assert {s.name for s in SUITES} == {
        "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32",
        "AEAD_AES_128_GCM", "AEAD_AES_256_GCM"}
    assert set(UNSUPPORTED) == {s.name for s in ALL_SUITES} - {s.name for s in SUITES}
    assert SUITES[0].name == "AES_CM_128_HMAC_SHA1_80"
    assert suite_by_name("AES_256_CM_HMAC_SHA1_80") is None


def test_three_lines_with_lifetimes_and_session_parameter() -> None:
    offer = _offer(
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^31",
        f"2 AEAD_AES_128_GCM inline:{KEY28}|2^48 UNENCRYPTED_SRTCP",
        f"3 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}",
    )
    lines, reasons = parse_crypto_lines(offer.media[0])
    assert reasons == []
    assert [line.key_params[0].lifetime for line in lines] == [2**31, 2**48, None]
    assert lines[1].session_params == ("UNENCRYPTED_SRTCP",)
    reason = rejection_reason(lines[1])
    assert reason is not None and "UNENCRYPTED_SRTCP" in reason
    chosen = choose_crypto(lines)
    assert chosen is lines[0]
    answer = answer_crypto(chosen)
    assert (answer.tag, answer.suite) == (1, "AES_CM_128_HMAC_SHA1_80")
    assert answer.key_params[0].key_salt != chosen.key_params[0].key_salt
    assert len(answer.key_params[0].key_salt) == 30
    assert answer.session_params == ()
    assert CryptoAttribute.parse(str(answer)) == answer
    assert choose_crypto(lines, ["AES_CM_128_HMAC_SHA1_32"]) is lines[2]


def test_256_bit_suites() -> None:
    assert len(KEY46) == 64
    assert len(base64.b64decode(KEY46)) == 46
    offer = _offer(f"1 AES_256_CM_HMAC_SHA1_80 inline:{KEY46}",
                   f"2 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}",
                   f"3 AEAD_AES_256_GCM inline:{KEY44}")
    lines, reasons = parse_crypto_lines(offer.media[0])
    assert reasons == []
    assert len(lines) == 3
    # AES-256 counter mode parses but pylibsrtp cannot run it.
    reason = rejection_reason(lines[0])
    assert reason is not None and "pylibsrtp" in reason
    chosen = choose_crypto(lines[:2], ["AES_256_CM_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_80"])
    assert chosen is lines[1]
    # The 256-bit GCM suite wins when it is preferred, and loses when it is not.
    assert choose_crypto(lines) is lines[2]
    assert choose_crypto(lines, ["AES_CM_128_HMAC_SHA1_80", "AEAD_AES_256_GCM"]) is lines[1]
    assert choose_crypto(lines, ["AES_CM_128_HMAC_SHA1_32"]) is None


def test_wrong_256_bit_key_length() -> None:
    offer = _offer(f"1 AES_256_CM_HMAC_SHA1_80 inline:{KEY30}",
                   f"2 AEAD_AES_256_GCM inline:{KEY30}",
                   f"3 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}")
    with pytest.raises(SipParseError, match="30 octets instead of 46"):
        offer.media[0].crypto()
    lines, reasons = parse_crypto_lines(offer.media[0])
    assert [line.tag for line in lines] == [3]
    assert len(reasons) == 2
    assert "AES_256_CM_HMAC_SHA1_80" in reasons[0]
    assert "instead of 46" in reasons[0]
    assert "AEAD_AES_256_GCM" in reasons[1]
    assert "instead of 44" in reasons[1]
    assert choose_crypto(lines) is lines[0]
    built = CryptoAttribute(1, "AEAD_AES_256_GCM", (KeyParam(KEY30),))
    reason = rejection_reason(built)
    assert reason is not None and "30 octets instead of 44" in reason
    with pytest.raises(ValueError, match="30 octets instead of 44"):
        answer_crypto(built)


ACCEPTABLE = {"c4", "c5", "c9", "c11", "c15", "c16"}
PARSE_ERRORS = {"c8", "c17", "r1", "r2", "r3", "r4", "r7", "r8", "r9"}


def _single(case: dict[str, Any]) -> SessionDescription:
    line: str = case["line"]
    value = line.removeprefix("a=crypto:") if line.startswith("a=crypto:") else line
    offer = _offer()
    offer.media[0].attributes.append(Attribute("crypto", value))
    return offer


@pytest.mark.parametrize("case", CASES["crypto_attribute_lines"], ids=lambda c: c["id"])
def test_selection_on_sipsorcery_cases(case: dict[str, Any]) -> None:
    lines, reasons = parse_crypto_lines(_single(case).media[0])
    if case["id"] in PARSE_ERRORS:
        assert lines == []
        assert len(reasons) == 1
        return
    assert reasons == []
    assert len(lines) == 1
    chosen = choose_crypto(lines)
    if case["id"] in ACCEPTABLE:
        assert chosen is lines[0]
        assert rejection_reason(answer_crypto(chosen)) is None
    else:
        assert chosen is None
        assert rejection_reason(lines[0]) is not None


def test_whole_case_file_as_one_offer() -> None:
    offer = _offer()
    for case in CASES["crypto_attribute_lines"]:
        offer.media[0].attributes.extend(_single(case).media[0].attributes)
    lines, reasons = parse_crypto_lines(offer.media[0])
    assert len(reasons) == len(PARSE_ERRORS)
    chosen = choose_crypto(lines)
    assert chosen is not None
    # Ties go to the first acceptable line: c4 comes before the other AES_CM_128 lines.
    assert str(chosen) == CASES["crypto_attribute_lines"][3]["line"].removeprefix("a=crypto:")


def test_offer_crypto_and_matching_the_answer() -> None:
    offered = offer_crypto()
    assert [(line.tag, line.suite) for line in offered] == [
        (1, "AES_CM_128_HMAC_SHA1_80"), (2, "AEAD_AES_256_GCM")]
    assert all(rejection_reason(line) is None for line in offered)
    answer = answer_crypto(offered[1])
    assert accepted_crypto(offered, [answer]) == (offered[1], answer)
    wrong_suite = CryptoAttribute(2, "AES_CM_128_HMAC_SHA1_80", (KeyParam(KEY30),))
    assert accepted_crypto(offered, [wrong_suite]) is None
    with pytest.raises(ValueError, match="AES_256_CM_HMAC_SHA1_80 cannot be offered"):
        offer_crypto(["AES_256_CM_HMAC_SHA1_80"])


def test_mki_and_multiple_keys_are_skipped() -> None:
    mki = CryptoAttribute.parse(f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^20|1:4")
    two = CryptoAttribute.parse(f"2 AES_CM_128_HMAC_SHA1_80 inline:{KEY30};inline:{KEY30}")
    optional = CryptoAttribute.parse(f"3 AES_CM_128_HMAC_SHA1_80 inline:{KEY30} -X=1 WSH=64")
    assert "MKI" in (rejection_reason(mki) or "")
    assert "2 master keys" in (rejection_reason(two) or "")
    assert choose_crypto([mki, two, optional]) is optional
