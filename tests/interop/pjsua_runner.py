"""Drive ``pjsua_peer.py`` in a subprocess and collect its JSON events.

pjsua2 keeps global library state and its own threads, so the tests never import
it: each peer runs as a separate Python process, and this module reads the JSON
lines that the peer prints on stdout.

``run_pjsua_peer`` runs a peer to completion (the calling side).
``start_pjsua_peer`` starts a peer, waits for its ``ready`` event and returns a
handle to wait on later (the answering side).
"""

from __future__ import annotations

import json
import logging
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

logger = logging.getLogger(__name__)

PEER_SCRIPT = Path(__file__).with_name("pjsua_peer.py")
STDERR_TAIL_LINES = 80

EXIT_IMPORT_FAILED = 2


class PeerStartError(RuntimeError):
    """The peer exited or went silent before it reported ``ready``."""


@dataclass
class PeerRun:
    """The events, exit status and stderr tail of one finished peer process."""

    args: list[str]
    events: list[dict[str, Any]]
    returncode: int
    stderr_tail: str
    timed_out: bool = False

    def named(self, event: str) -> list[dict[str, Any]]:
        """Return every event called ``event``, in the order they were printed."""
        return [e for e in self.events if e.get("event") == event]

    @property
    def result(self) -> dict[str, Any] | None:
        """The final ``result`` event, or None when the peer died before printing it."""
        results = self.named("result")
        return results[-1] if results else None

    @property
    def ok(self) -> bool:
        """True when the peer exited 0 and reported ``ok`` in its result."""
        result = self.result
        return self.returncode == 0 and result is not None and result.get("ok") is True

    @property
    def call_states(self) -> list[str]:
        """The ``state`` of each ``call_state`` event, in order."""
        return [str(e["state"]) for e in self.named("call_state")]

    def describe(self) -> str:
        """Return a multi-line summary to put in assertion messages."""
        lines = [f"pjsua peer {self.args} exited {self.returncode} (timed out: {self.timed_out})"]
        lines += [json.dumps(e) for e in self.events]
        lines += ["--- stderr tail ---", self.stderr_tail]
        return "\n".join(lines)


def peer_command(args: list[str]) -> list[str]:
    """Return the argv that runs the peer script with this interpreter."""
    return [sys.executable, str(PEER_SCRIPT), *args]


def parse_event(line: str) -> dict[str, Any] | None:
    """Parse one stdout line as an event, or return None for a non-JSON line."""
    line = line.strip()
    if not line:
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        logger.warning("pjsua peer printed a line that is not JSON: %r", line)
        return None
    return event if isinstance(event, dict) else None


def run_pjsua_peer(args: list[str], timeout: float) -> PeerRun:
    """Run the peer with ``args`` until it exits, killing it after ``timeout`` seconds.

    The peer bounds its own run with its ``--timeout`` option, so ``timeout``
    here is a backstop and should be a few seconds longer.
    """
    command = peer_command(args)
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        return PeerRun(
            args=args,
            events=parse_events(decode(exc.stdout)),
            returncode=-signal.SIGKILL,
            stderr_tail=tail(decode(exc.stderr)),
            timed_out=True,
        )
    return PeerRun(
        args=args,
        events=parse_events(completed.stdout),
        returncode=completed.returncode,
        stderr_tail=tail(completed.stderr),
    )


def decode(output: str | bytes | None) -> str:
    if output is None:
        return ""
    return output.decode("utf-8", "replace") if isinstance(output, bytes) else output


def parse_events(stdout: str) -> list[dict[str, Any]]:
    return [e for e in map(parse_event, stdout.splitlines()) if e is not None]


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class PeerHandle:
    """A running peer process whose stdout and stderr are read by two threads."""

    args: list[str]
    process: subprocess.Popen[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    _pending: queue.Queue[dict[str, Any] | None] = field(default_factory=queue.Queue)
    _stderr: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL_LINES))
    _readers: list[threading.Thread] = field(default_factory=list)
    _stdout_closed: bool = False

    def start_readers(self) -> None:
        assert self.process.stdout is not None and self.process.stderr is not None
        for target, stream in (
            (self._read_stdout, self.process.stdout),
            (self._read_stderr, self.process.stderr),
        ):
            reader = threading.Thread(target=target, args=(stream,), daemon=True)
            reader.start()
            self._readers.append(reader)

    def _read_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            event = parse_event(line)
            if event is not None:
                self._pending.put(event)
        self._pending.put(None)

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self._stderr.append(line.rstrip("\n"))

    def _drain(self) -> Iterator[dict[str, Any]]:
        while True:
            try:
                event = self._pending.get_nowait()
            except queue.Empty:
                return
            if event is None:
                self._stdout_closed = True
            else:
                self.events.append(event)
                yield event

    def wait_for_event(self, name: str, timeout: float) -> dict[str, Any]:
        """Return the first event called ``name`` that this handle has not read yet.

        Raises:
            PeerStartError: the peer exited, or ``timeout`` seconds passed, first.
        """
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        while True:
            for event in self.events[seen:]:
                if event.get("event") == name:
                    return event
            seen = len(self.events)
            if self._stdout_closed:
                self.process.wait()
                raise PeerStartError(f"peer exited before a {name!r} event\n{self.describe()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PeerStartError(f"no {name!r} event within {timeout} s\n{self.describe()}")
            try:
                item = self._pending.get(timeout=min(remaining, 0.1))
            except queue.Empty:
                continue
            if item is None:
                self._stdout_closed = True
            else:
                self.events.append(item)

    def stop(self) -> None:
        """Ask the peer to finish now (SIGTERM); it still reports and exits on its own."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> PeerRun:
        """Wait up to ``timeout`` seconds for the peer to exit, killing it after that."""
        timed_out = False
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.process.kill()
            self.process.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        list(self._drain())
        return PeerRun(
            args=self.args,
            events=list(self.events),
            returncode=self.process.returncode,
            stderr_tail="\n".join(self._stderr),
            timed_out=timed_out,
        )

    def describe(self) -> str:
        list(self._drain())
        lines = [f"pjsua peer {self.args}, exit status {self.process.poll()}"]
        lines += [json.dumps(e) for e in self.events]
        lines += ["--- stderr tail ---", *self._stderr]
        return "\n".join(lines)

    def __enter__(self) -> PeerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            self.stop()
            self.wait(timeout=10)


def start_pjsua_peer(args: list[str], ready_timeout: float = 15.0) -> PeerHandle:
    """Start the peer and return once it has printed its ``ready`` event.

    Raises:
        PeerStartError: the peer exited or printed no ``ready`` event within
            ``ready_timeout`` seconds; the process is killed in that case.
    """
    process = subprocess.Popen(
        peer_command(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    handle = PeerHandle(args=args, process=process)
    handle.start_readers()
    try:
        handle.wait_for_event("ready", ready_timeout)
    except PeerStartError:
        handle.stop()
        handle.wait(timeout=5)
        raise
    return handle


def phone_args(
    user: str,
    password: str,
    registrar: str,
    registrar_port: int,
    local_address: str,
    *action: str,
    transport: str = "tls",
    cert: Path | None = None,
    key: Path | None = None,
    ca: Path | None = None,
    log: Path | None = None,
) -> list[str]:
    """Return the arguments of ``pjsua_peer.py phone`` for one registering phone.

    ``action`` is the rest of the command line, such as ``("--dial", "1002")``
    or ``("--answer", "busy")``.
    """
    args = ["--log", str(log)] if log is not None else []
    args += ["phone", "--user", user, "--password", password]
    args += ["--registrar", registrar, "--registrar-port", str(registrar_port)]
    args += ["--transport", transport, "--local-address", local_address]
    for option, path in (("--cert", cert), ("--key", key), ("--ca", ca)):
        if path is not None:
            args += [option, str(path)]
    return [*args, *action]


def free_tcp_port(address: str) -> int:
    """Return a TCP port that is free on ``address`` at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port
