"""SRTP contexts against RFC 3711 appendix B and libsrtp known answers."""

from __future__ import annotations

import os
import struct
from base64 import b64encode
from typing import Any

import pytest
import srtp_reference as ref
from media_samples import load

from tlstrunk.media.sdes import SUITES
from tlstrunk.media.srtp import SrtpContext, SrtpError
from tlstrunk.sip.sdp import CryptoAttribute, KeyParam

RFC: dict[str, Any] = load("rfc3711_appendix_b.json")
KAT: dict[str, Any] = load("libsrtp_kat.json")
RUNNABLE = {suite.name for suite in SUITES}
PACKETS = [k for k in KAT["srtp_packet_kat"] if k["profile"] in RUNNABLE]
NOT_RUNNABLE = [k for k in KAT["srtp_packet_kat"] if k["profile"] not in RUNNABLE]


def test_rfc3711_b2_keystream() -> None:
    vector = RFC["B.2_aes_cm"]
    key = bytes.fromhex(vector["session_key"])
    for block in vector["blocks"]:
        counter = bytes.fromhex(block["counter"])
        assert ref.aes_cm_keystream(key, counter, 16).hex() == block["keystream"].lower()
    icm = KAT["cipher_kat"][0]
    assert icm["id"] == "aes_icm_128_test_case_0"
    key_salt = bytes.fromhex(icm["key_with_salt"])
    offset = (int.from_bytes(key_salt[16:], "big") << 16).to_bytes(16, "big")
    assert ref.aes_cm_keystream(key_salt[:16], offset, 32).hex() == icm["ciphertext"]


def test_rfc3711_b3_key_derivation() -> None:
    vector = RFC["B.3_key_derivation"]
    key, salt = bytes.fromhex(vector["master_key"]), bytes.fromhex(vector["master_salt"])
    assert ref.derive(key, salt, 0, 16).hex() == vector["srtp_cipher_key_label_00"].lower()
    assert ref.derive(key, salt, 2, 14).hex() == vector["srtp_cipher_salt_label_02"].lower()
    assert (ref.derive(key, salt, 1, 94).hex()
            == vector["srtp_auth_key_label_01_full94_computed"].lower())
    extra = RFC["extra_not_in_rfc"]
    assert ref.derive(key, salt, 3, 16).hex() == extra["srtcp_cipher_key_label_03"].lower()
    assert ref.derive(key, salt, 5, 14).hex() == extra["srtcp_cipher_salt_label_05"].lower()


@pytest.mark.parametrize(("suite", "tag_bytes"),
                         [("AES_CM_128_HMAC_SHA1_80", 10), ("AES_CM_128_HMAC_SHA1_32", 4)])
def test_libsrtp_matches_rfc3711_reference(suite: str, tag_bytes: int) -> None:
    """The B.3 master key, then random keys: libsrtp and the reference agree packet by packet."""
    vector = RFC["B.3_key_derivation"]
    keys = [bytes.fromhex(vector["master_key"] + vector["master_salt"]), os.urandom(30)]
    for key_salt in keys:
        sender = SrtpContext.for_outbound(suite, key_salt)
        receiver = SrtpContext.for_inbound(suite, key_salt)
        for sequence in range(1000, 1005):
            packet = struct.pack("!BBHII", 0x80, 0, sequence, 160 * sequence, 0xCAFEBABE)
            packet += os.urandom(160)
            expected = ref.protect(packet, key_salt, tag_bytes)
            assert sender.protect(packet) == expected
            assert receiver.unprotect(expected) == packet


@pytest.mark.parametrize("kat", PACKETS, ids=lambda k: k["id"])
def test_libsrtp_packet_known_answers(kat: dict[str, Any]) -> None:
    key_salt = bytes.fromhex(kat["master_key_and_salt"])
    plain = bytes.fromhex(kat["plaintext_packet"])
    protected = bytes.fromhex(kat["protected_packet"])
    sender = SrtpContext.for_outbound(kat["profile"], key_salt)
    receiver = SrtpContext.for_inbound(kat["profile"], key_salt)
    if kat["packet_type"] == "rtp":
        assert sender.protect(plain) == protected
        assert receiver.unprotect(protected) == plain
        with pytest.raises(SrtpError, match="replay") as replay:
            receiver.unprotect(protected)
    else:
        assert sender.protect_rtcp(plain) == protected
        assert receiver.unprotect_rtcp(protected) == plain
        with pytest.raises(SrtpError, match="replay") as replay:
            receiver.unprotect_rtcp(protected)
    assert replay.value.kind == "replay"


@pytest.mark.parametrize("kat", NOT_RUNNABLE, ids=lambda k: k["id"])
def test_unsupported_suites_rejected(kat: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="pylibsrtp has no profile"):
        SrtpContext.for_outbound(kat["profile"], bytes.fromhex(kat["master_key_and_salt"]))


@pytest.mark.parametrize("suite", sorted(RUNNABLE))
def test_tampering_and_wrong_key_fail_authentication(suite: str) -> None:
    size = next(s.key_salt_bytes for s in SUITES if s.name == suite)
    key = os.urandom(size)
    packet = struct.pack("!BBHII", 0x80, 8, 7, 1120, 0x1234) + bytes(160)
    protected = SrtpContext.for_outbound(suite, key).protect(packet)
    tampered = bytearray(protected)
    tampered[20] ^= 1
    with pytest.raises(SrtpError) as failure:
        SrtpContext.for_inbound(suite, key).unprotect(bytes(tampered))
    assert failure.value.kind == "auth"
    with pytest.raises(SrtpError) as failure:
        SrtpContext.for_inbound(suite, os.urandom(size)).unprotect(protected)
    assert failure.value.kind == "auth"
    with pytest.raises(SrtpError) as failure:
        SrtpContext.for_inbound(suite, key).unprotect(b"\x80\x00")
    assert failure.value.kind == "malformed"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="must be 30 bytes, not 29"):
        SrtpContext.for_outbound("AES_CM_128_HMAC_SHA1_80", bytes(29))
    with pytest.raises(ValueError, match="NULL_HMAC_SHA1_80 cannot be used"):
        SrtpContext.for_outbound("NULL_HMAC_SHA1_80", bytes(30))
    with pytest.raises(TypeError):
        SrtpContext.for_inbound("AES_CM_128_HMAC_SHA1_80", bytes(30)).protect(bytes(20))


def test_pair_from_offer_and_answer_lines() -> None:
    offer = CryptoAttribute(1, "AEAD_AES_128_GCM", (KeyParam(b64encode(bytes(28)).decode()),))
    answer = CryptoAttribute(1, "AEAD_AES_128_GCM", (KeyParam(b64encode(b"k" * 28).decode()),))
    offerer_out, offerer_in = SrtpContext.pair(offer, answer)
    answerer_out, answerer_in = SrtpContext.pair(answer, offer)
    packet = struct.pack("!BBHII", 0x80, 0, 1, 160, 99) + b"hello"
    assert answerer_in.unprotect(offerer_out.protect(packet)) == packet
    assert offerer_in.unprotect(answerer_out.protect(packet)) == packet
    mismatch = CryptoAttribute(1, "AES_CM_128_HMAC_SHA1_80", offer.key_params)
    with pytest.raises(ValueError, match="differ"):
        SrtpContext.pair(mismatch, answer)
