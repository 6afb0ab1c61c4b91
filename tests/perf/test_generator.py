"""The load generator against UAS peers on loopback: every call counted under the right cause.

The first peer is written here on the project's full SIP parser and framer, so
the generator's shortcuts are checked against an independent implementation.
It answers some INVITEs with 486 and leaves others unanswered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from tlstrunk.perf.sipload import LoadSpec, UacResult, run_uac
from tlstrunk.perf.uas import UasCounters, start_uas
from tlstrunk.sip.framing import MessageReceived, StreamFramer
from tlstrunk.sip.message import Request, Response, make_response

UAC_ADDRESS = "127.0.7.21"
UAS_ADDRESS = "127.0.7.20"
#: Every BUSY_EVERY-th INVITE gets 486; every SILENT_EVERY-th gets no answer at all.
BUSY_EVERY = 5
SILENT_EVERY = 7


@dataclass
class PeerLog:
    invites: int = 0
    acks_for_2xx: int = 0
    acks_for_486: int = 0
    byes: int = 0
    bye_call_ids: set[str] = field(default_factory=set)


class ScriptedUas(asyncio.Protocol):
    """Answers INVITEs by their order of arrival: 486, silence or 100/180/200."""

    def __init__(self, log: PeerLog) -> None:
        self.log = log
        self.framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.busy: set[str] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        for event in self.framer.feed(data):
            assert isinstance(event, MessageReceived), event
            message = event.message
            assert isinstance(message, Request)
            self.handle(message)

    def send(self, message: Response) -> None:
        assert self.transport is not None
        self.transport.write(message.to_bytes())

    def handle(self, request: Request) -> None:
        if request.method == "INVITE":
            self.log.invites += 1
            if self.log.invites % BUSY_EVERY == 0:
                self.busy.add(request.call_id)
                self.send(make_response(request, 486, to_tag="busy"))
            elif self.log.invites % SILENT_EVERY != 0:
                self.send(make_response(request, 100))
                self.send(make_response(request, 180, to_tag="t"))
                ok = make_response(request, 200, to_tag="t")
                ok.headers.add("Contact", f"<sip:uas@{UAS_ADDRESS}>")
                self.send(ok)
        elif request.method == "ACK":
            if request.call_id in self.busy:
                self.log.acks_for_486 += 1
            else:
                self.log.acks_for_2xx += 1
        elif request.method == "BYE":
            self.log.byes += 1
            self.log.bye_call_ids.add(request.call_id)
            self.send(make_response(request, 200))


def expected_counts(calls: int) -> tuple[int, int, int]:
    busy = sum(1 for n in range(1, calls + 1) if n % BUSY_EVERY == 0)
    silent = sum(1 for n in range(1, calls + 1) if n % BUSY_EVERY and n % SILENT_EVERY == 0)
    return calls - busy - silent, busy, silent


def test_generator_counts_outcomes() -> None:
    calls = 70
    log = PeerLog()

    async def scenario() -> UacResult:
        server = await asyncio.get_running_loop().create_server(
            lambda: ScriptedUas(log), UAS_ADDRESS, 0
        )
        port = server.sockets[0].getsockname()[1]
        spec = LoadSpec(
            target=(UAS_ADDRESS, port),
            local_address=UAC_ADDRESS,
            rate=200.0,
            calls=calls,
            hold=0.05,
            invite_timeout=1.0,
            bye_timeout=1.0,
        )
        try:
            return await run_uac(spec)
        finally:
            server.close()

    result = asyncio.run(scenario())
    answered, busy, silent = expected_counts(calls)
    assert result.attempted == calls
    assert result.connected == answered
    assert result.completed == answered
    assert result.failures == {
        "INVITE answered 486": busy,
        "timeout: no final response to INVITE": silent,
    }
    assert len(result.setup_times) == answered
    assert log.invites == calls
    assert log.acks_for_2xx == answered
    assert log.acks_for_486 == busy
    assert log.byes == answered
    assert len(log.bye_call_ids) == answered


@pytest.mark.parametrize("connections", [1, 3])
def test_generator_against_bench_uas(connections: int) -> None:
    calls = 300

    async def scenario() -> tuple[UacResult, UasCounters]:
        uas, server = await start_uas(UAS_ADDRESS, 0)
        port = server.sockets[0].getsockname()[1]
        spec = LoadSpec(
            target=(UAS_ADDRESS, port),
            local_address=UAC_ADDRESS,
            rate=500.0,
            calls=calls,
            hold=0.1,
            connections=connections,
        )
        try:
            return await run_uac(spec), uas.counters
        finally:
            server.close()

    result, counters = asyncio.run(scenario())
    assert result.attempted == calls
    assert result.completed == calls
    assert result.failures == {}
    assert counters.invites == calls
    assert counters.acks == calls
    assert counters.byes == calls
    assert counters.connections == connections


def test_generator_counts_closed_connection() -> None:
    async def scenario() -> UacResult:
        async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.close()

        server = await asyncio.start_server(drop, UAS_ADDRESS, 0)
        port = server.sockets[0].getsockname()[1]
        spec = LoadSpec(target=(UAS_ADDRESS, port), local_address=UAC_ADDRESS, rate=50.0, calls=5)
        try:
            return await run_uac(spec)
        finally:
            server.close()

    result = asyncio.run(scenario())
    assert result.attempted == 5
    assert result.connected == 0
    assert result.failures == {"connection closed": 5}


class LateUas(ScriptedUas):
    """Answers the first INVITE only after the UAC gave up on it, the others at once."""

    def handle(self, request: Request) -> None:
        if request.method == "INVITE" and self.log.invites == 0:
            self.log.invites += 1
            ok = make_response(request, 200, to_tag="late")
            ok.headers.add("Contact", f"<sip:uas@{UAS_ADDRESS}>")
            asyncio.get_running_loop().call_later(LATE_ANSWER, self.send, ok)
            return
        super().handle(request)


#: The first call times out after INVITE_TIMEOUT and its 200 comes at LATE_ANSWER; the
#: second call starts at SECOND_CALL, so the connection is still open for the late 200.
INVITE_TIMEOUT, LATE_ANSWER, SECOND_CALL = 0.5, 1.5, 3.0


def test_late_answer_gets_ack_and_bye() -> None:
    log = PeerLog()

    async def scenario() -> UacResult:
        server = await asyncio.get_running_loop().create_server(
            lambda: LateUas(log), UAS_ADDRESS, 0
        )
        port = server.sockets[0].getsockname()[1]
        spec = LoadSpec(
            target=(UAS_ADDRESS, port),
            local_address=UAC_ADDRESS,
            rate=1 / SECOND_CALL,
            calls=2,
            hold=0.2,
            invite_timeout=INVITE_TIMEOUT,
        )
        try:
            return await run_uac(spec)
        finally:
            server.close()

    result = asyncio.run(scenario())
    assert result.failures == {"timeout: no final response to INVITE": 1}
    assert result.completed == 1
    assert log.acks_for_2xx == 2
    assert log.byes == 2
    assert len(log.bye_call_ids) == 2
