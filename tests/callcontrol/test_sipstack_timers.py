"""The stack's loop timer: transactions whose connection closed must not keep it firing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tlstrunk.callcontrol.sipstack import SipStack
from tlstrunk.observe.trace import TraceWriter
from tlstrunk.sip.message import Request, parse_message

OPTIONS = (
    b"OPTIONS sip:9898@127.0.9.2 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.9.1:5060;branch=z9hG4bK-timer-1\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:ping@127.0.9.1>;tag=1\r\nTo: <sip:9898@127.0.9.2>\r\n"
    b"Call-ID: timer-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


@dataclass
class SilentChannel:
    """An unreliable channel that swallows what is sent, like a peer that never answers."""

    transport: str = "UDP"
    remote: tuple[str, int] = ("127.0.9.2", 5060)
    local: tuple[str, int] = ("127.0.9.1", 5060)
    tls: None = None
    trunk_name: str | None = None
    phone_listener: bool = False
    is_open: bool = True
    reliable: bool = False
    id: int = 1
    direction: str = "outbound"
    close_reason: str | None = None
    sent: int = 0

    def send(self, message: object) -> None:
        self.sent += 1

    def close(self, reason: str) -> None:
        self.is_open = False


def test_closed_connection_does_not_spin_the_timer() -> None:
    async def scenario() -> int:
        stack = SipStack(trace=TraceWriter(), on_request=lambda *args: None)
        fired = 0
        original = stack._on_timer

        def counting() -> None:
            nonlocal fired
            fired += 1
            original()

        stack._on_timer = counting  # type: ignore[method-assign]
        request = parse_message(OPTIONS)
        assert isinstance(request, Request)
        channel = SilentChannel()
        future = stack.send_request(request, channel)  # type: ignore[arg-type]
        stack.connection_closed(channel, "closed by the test")  # type: ignore[arg-type]
        assert future.done()
        # Timer E (500 ms) of the orphaned transaction comes due within this wait.
        await asyncio.sleep(1.2)
        return fired

    fired = asyncio.run(scenario())
    # A timer that cannot be handled would fire on every loop pass: thousands of times.
    assert fired < 20
