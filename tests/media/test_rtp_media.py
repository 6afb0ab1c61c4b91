"""MediaStream on loopback: G.711 tone, RTP headers, SRTP keyed by a real offer/answer."""

from __future__ import annotations

import asyncio
import socket
import struct
import warnings
from base64 import b64encode

import pytest
from media_samples import LOOPS, audio_sdp, run_on

from tlstrunk.media.call import plan_media, stream_from_sdp
from tlstrunk.media.rtp import (
    PCMA,
    PCMU,
    MediaStats,
    MediaStream,
    alaw_encode,
    tone_payload,
    ulaw_encode,
)
from tlstrunk.media.sdes import answer_crypto, choose_crypto, offer_crypto, parse_crypto_lines
from tlstrunk.sip.sdp import CryptoAttribute, KeyParam, SessionDescription

PACKETS = 10
DURATION = PACKETS * 0.020


@pytest.fixture(params=sorted(LOOPS))
def loop_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def _udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_g711_encoders_match_reference() -> None:
    assert (ulaw_encode(0), alaw_encode(0)) == (0xFF, 0xD5)
    assert (ulaw_encode(32767), ulaw_encode(-32768)) == (0x80, 0x00)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    samples = range(-32768, 32768, 7)
    linear = struct.pack(f"<{len(samples)}h", *samples)
    assert audioop.lin2ulaw(linear, 2) == bytes(ulaw_encode(s) for s in samples)
    assert audioop.lin2alaw(linear, 2) == bytes(alaw_encode(s) for s in samples)


def test_tone_is_one_packet_of_1khz() -> None:
    payload = tone_payload(PCMU)
    assert len(payload) == 160
    assert payload[:8] * 20 == payload  # 8 samples per period at 8 kHz
    assert tone_payload(PCMA) != payload


def test_rtp_headers(loop_name: str) -> None:
    peer = _udp()
    peer.settimeout(5)

    async def scenario() -> MediaStats:
        stream = MediaStream(peer.getsockname(), payload_type=PCMA)
        try:
            return await stream.start(0.1, quiet=0.05)
        finally:
            stream.close()

    stats = run_on(loop_name, scenario())
    packets = [peer.recv(2048) for _ in range(stats.sent)]
    peer.close()
    assert stats.sent == 5
    assert stats.sent_bytes == 5 * 172
    headers = [struct.unpack("!BBHII", packet[:12]) for packet in packets]
    assert all(first == 0x80 for first, *_rest in headers)
    assert [second for _f, second, *_rest in headers] == [0x80 | PCMA] + [PCMA] * 4
    first_seq, first_ts, ssrc = headers[0][2], headers[0][3], headers[0][4]
    for index, (_f, _s, seq, ts, packet_ssrc) in enumerate(headers):
        assert seq == (first_seq + index) & 0xFFFF
        assert ts == (first_ts + 160 * index) & 0xFFFFFFFF
        assert packet_ssrc == ssrc
    assert all(packet[12:] == tone_payload(PCMA) for packet in packets)


async def _call(offer: bytes, answer: bytes, offerer: socket.socket,
                answerer: socket.socket) -> tuple[MediaStats, MediaStats]:
    caller = stream_from_sdp(offer, answer, sock=offerer)
    callee = stream_from_sdp(answer, offer, sock=answerer)
    try:
        await asyncio.gather(caller.open(), callee.open())
        first, second = await asyncio.gather(caller.start(DURATION), callee.start(DURATION))
        return first, second
    finally:
        caller.close()
        callee.close()


def _answer(offer: bytes, port: int, preference: tuple[str, ...] | None) -> bytes:
    audio = SessionDescription.parse(offer).media[0]
    lines, reasons = parse_crypto_lines(audio)
    assert reasons == []
    chosen = choose_crypto(lines) if preference is None else choose_crypto(lines, preference)
    assert chosen is not None
    return audio_sdp(port, [answer_crypto(chosen)], formats=("8", "101"))


@pytest.mark.parametrize(("preference", "suite"), [
    (None, "AEAD_AES_256_GCM"),
    (("AES_CM_128_HMAC_SHA1_80",), "AES_CM_128_HMAC_SHA1_80"),
])
def test_srtp_call_both_directions(loop_name: str, preference: tuple[str, ...] | None,
                                   suite: str) -> None:
    offerer, answerer = _udp(), _udp()
    offer = audio_sdp(offerer.getsockname()[1], offer_crypto())
    answer = _answer(offer, answerer.getsockname()[1], preference)
    plan = plan_media(offer, answer)
    assert (plan.suite, plan.payload_type) == (suite, PCMA)
    assert plan.remote == answerer.getsockname()
    first, second = run_on(loop_name, _call(offer, answer, offerer, answerer))
    for mine, theirs in ((first, second), (second, first)):
        assert mine.sent == PACKETS
        assert theirs.received == theirs.decrypted == PACKETS
        assert theirs.received_bytes == mine.sent_bytes
        assert (theirs.failed, theirs.plain) == (0, 0)
    # The phones' own sockets stay usable after the streams close.
    assert offerer.getsockname()[1]
    assert answerer.getsockname()[1]
    offerer.close()
    answerer.close()


def test_wrong_key_fails_every_packet(loop_name: str) -> None:
    offerer, answerer = _udp(), _udp()
    offer = audio_sdp(offerer.getsockname()[1], offer_crypto())
    answer = _answer(offer, answerer.getsockname()[1], None)
    # The offerer gets an answer whose key differs from the one the answerer sends with.
    real = SessionDescription.parse(answer).media[0].crypto()[0]
    fake_key = KeyParam(b64encode(bytes(44)).decode())
    forged = audio_sdp(answerer.getsockname()[1],
                       [CryptoAttribute(real.tag, real.suite, (fake_key,))], formats=("8",))

    async def scenario() -> tuple[MediaStats, MediaStats]:
        caller = stream_from_sdp(offer, forged, sock=offerer)
        callee = stream_from_sdp(answer, offer, sock=answerer)
        try:
            first, second = await asyncio.gather(caller.start(DURATION), callee.start(DURATION))
            return first, second
        finally:
            caller.close()
            callee.close()

    caller_stats, callee_stats = run_on(loop_name, scenario())
    offerer.close()
    answerer.close()
    assert caller_stats.received == caller_stats.failed == PACKETS
    assert caller_stats.failures == {"auth": PACKETS}
    assert caller_stats.decrypted == 0
    assert callee_stats.received == callee_stats.decrypted == PACKETS


def test_plain_rtp_call(loop_name: str) -> None:
    offerer, answerer = _udp(), _udp()
    offer = audio_sdp(offerer.getsockname()[1])
    answer = audio_sdp(answerer.getsockname()[1], formats=("0",))
    assert plan_media(answer, offer).suite is None
    first, second = run_on(loop_name, _call(offer, answer, offerer, answerer))
    offerer.close()
    answerer.close()
    for stats in (first, second):
        assert stats.sent == PACKETS
        assert stats.received == stats.plain == PACKETS
        assert (stats.decrypted, stats.failed) == (0, 0)


def test_srtp_receiver_counts_plain_packets_as_failed(loop_name: str) -> None:
    offerer, answerer = _udp(), _udp()
    offer = audio_sdp(offerer.getsockname()[1], offer_crypto())
    answer = _answer(offer, answerer.getsockname()[1], None)

    async def scenario() -> MediaStats:
        plain = MediaStream(answerer.getsockname(), sock=offerer)
        secure = stream_from_sdp(answer, offer, sock=answerer)
        try:
            await secure.open()
            await plain.start(DURATION, quiet=0.05)
            return await secure.start(0.02)
        finally:
            plain.close()
            secure.close()

    stats = run_on(loop_name, scenario())
    offerer.close()
    answerer.close()
    assert stats.received == stats.failed == PACKETS
    assert stats.decrypted == 0


def test_bounds_and_loopback_only(loop_name: str) -> None:
    peer = _udp()

    async def scenario() -> MediaStats:
        stream = MediaStream(peer.getsockname(), max_packets=3)
        try:
            return await stream.start(30.0, quiet=0.01)
        finally:
            stream.close()

    assert run_on(loop_name, scenario()).sent == 3
    peer.close()
    with pytest.raises(ValueError, match=r"192\.0\.2\.1 is not a loopback address"):
        MediaStream(("192.0.2.1", 4000))
    with pytest.raises(ValueError, match="payload type 18"):
        MediaStream(("127.0.0.1", 4000), payload_type=18)


def test_plan_errors() -> None:
    offer = audio_sdp(4000, offer_crypto())
    with pytest.raises(ValueError, match="no a=crypto line"):
        plan_media(offer, audio_sdp(4002))
    with pytest.raises(ValueError, match="neither PCMU"):
        plan_media(audio_sdp(4000, formats=("0",)), audio_sdp(4002, formats=("8",)))
