"""Call reports: what one node saw of one call, for the demo, the CLI and traces."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from tlstrunk.sip.message import Message, Request


@dataclass
class LadderEntry:
    """One SIP message on a call's trunk leg."""

    time: float
    direction: str
    local: str
    remote: str
    summary: str


@dataclass
class CallReport:
    """One node's record of one call, serialised to JSON for the control socket."""

    node: str
    call_id: str
    direction: str
    calling: str
    called: str
    started: float = field(default_factory=time.time)
    state: str = "setup"
    digit_analysis: dict[str, Any] | None = None
    trunk: str | None = None
    connection: dict[str, Any] | None = None
    peer_certificate: dict[str, Any] | None = None
    ladder: list[LadderEntry] = field(default_factory=list)
    signalling_encrypted: bool = False
    srtp_suite: str | None = None
    #: RTP packet counts of this node's leg: sent, received, decrypted, plain, failed.
    media: dict[str, Any] | None = None
    secure: bool = False
    security: str = ""
    status: int | None = None
    reason: str | None = None
    failed_check: str | None = None
    answered: float | None = None
    ended: float | None = None
    #: One entry per trunk tried, in order, for calls routed through a route list.
    attempts: list[dict[str, Any]] = field(default_factory=list)
    #: Both legs of a bridged call (phone or trunk on each side), as the node saw them.
    legs: list[dict[str, Any]] = field(default_factory=list)
    #: The security status the far end reported in Call-Info, when it sent one.
    far_security: str | None = None
    #: Whether the call detail record of this call was handed over.
    recorded: bool = False

    def record(self, direction: str, local: str, remote: str, message: Message) -> None:
        """Add ``message`` to the ladder."""
        if isinstance(message, Request):
            summary = f"{message.method} {message.uri}"
        else:
            summary = f"{message.status_code} {message.reason} ({message.cseq.method})"
        self.ladder.append(LadderEntry(time.time(), direction, local, remote, summary))

    def finish(self, state: str, *, status: int | None = None, reason: str | None = None) -> None:
        """Mark the call as ended in ``state``."""
        self.state = state
        if status is not None:
            self.status = status
        if reason is not None:
            self.reason = reason
        self.ended = time.time()

    def restart(self) -> None:
        """Clear the outcome of a failed trunk before the next trunk of a route list tries."""
        self.state = "setup"
        self.status = None
        self.reason = None
        self.failed_check = None
        self.ended = None
        self.connection = None
        self.peer_certificate = None

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        return asdict(self)
