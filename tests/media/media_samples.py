"""Shared helpers for the media tests: vendored vectors, SDP builders, event loops."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import uvloop

from tlstrunk.sip.sdp import (
    Attribute,
    Connection,
    CryptoAttribute,
    MediaDescription,
    Origin,
    SessionDescription,
)

DATA = Path(__file__).parent / "data"
T = TypeVar("T")
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def load(name: str) -> Any:
    """Return a vendored JSON file from tests/media/data."""
    return json.loads((DATA / name).read_text("utf-8"))


def run_on(loop_name: str, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on a fresh loop of the named kind."""
    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as runner:
        return runner.run(coroutine)


def audio_sdp(
    port: int,
    crypto: Sequence[CryptoAttribute] = (),
    *,
    formats: Sequence[str] = ("0", "8", "101"),
    address: str = "127.0.0.1",
) -> bytes:
    """An SDP body with one audio line, RTP/SAVP when ``crypto`` is given."""
    attributes = [line.to_attribute() for line in crypto]
    attributes.append(Attribute("sendrecv"))
    media = MediaDescription("audio", port, "RTP/SAVP" if crypto else "RTP/AVP",
                             list(formats), attributes=attributes)
    return SessionDescription(
        origin=Origin("test", "1", "1", "IN", "IP4", address),
        connection=Connection("IN", "IP4", address),
        media=[media],
    ).to_bytes()
