"""New mutual-TLS connections per second: a node's TLS listener against ``openssl s_server``.

The client runs in several processes. Each opens a TCP connection from a set
source address, runs a full handshake with a client certificate (no session
is offered for resumption), and closes. The node matches the source address
to a trunk before the handshake and checks the certificate name after it, so
the client binds to the address of the node's TLS trunk. ``openssl
s_server`` gets the same certificates and the same client.

A TLS 1.3 client finishes its handshake before the server has checked the
client certificate, so the count on the client side is confirmed against
the node's own handshake counter after the run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tlstrunk.perf.procstat import UsageMeter
from tlstrunk.perf.stats import ProcessUsage
from tlstrunk.transport.tls import TlsIdentity, build_client_context

#: Linux socket option that defers the source port choice to connect(), so many
#: short connections from one address do not run out of ports bound in advance.
IP_BIND_ADDRESS_NO_PORT = 24
CONNECT_TIMEOUT = 5.0

_SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class HandshakeResult:
    """Handshakes completed by the client against one server."""

    server: str
    handshakes: int
    errors: dict[str, int]
    seconds: float
    usage: list[ProcessUsage]
    #: What the server itself counted, when it counts (a node does).
    server_count: int | None = None
    tls_version: str = ""

    @property
    def rate(self) -> float:
        """Handshakes per second."""
        return self.handshakes / self.seconds if self.seconds > 0 else 0.0

    @property
    def server_cpu_ms(self) -> float | None:
        """Server CPU milliseconds per handshake, valid even when the client limits the rate."""
        if not self.handshakes or not self.usage:
            return None
        return round(self.usage[0].cpu_seconds * 1000.0 / self.handshakes, 3)


def _handshake_once(context: ssl.SSLContext, source: str, target: tuple[str, int]) -> str:
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with contextlib.suppress(OSError):
        raw.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    raw.settimeout(CONNECT_TIMEOUT)
    try:
        raw.bind((source, 0))
        raw.connect(target)
        with context.wrap_socket(raw, server_hostname=None) as tls:
            return str(tls.version())
    finally:
        raw.close()


def _client_main(
    conn: multiprocessing.connection.Connection,
    identity: TlsIdentity,
    source: str,
    target: tuple[str, int],
    seconds: float,
    limit: int,
) -> None:
    context = build_client_context(identity)
    done = 0
    errors: dict[str, int] = {}
    version = ""
    conn.recv()  # start together with the other client processes
    begin = time.monotonic()
    deadline = begin + seconds
    while time.monotonic() < deadline and done < limit:
        try:
            version = _handshake_once(context, source, target)
            done += 1
        except (OSError, ssl.SSLError) as exc:
            name = type(exc).__name__
            errors[name] = errors.get(name, 0) + 1
    conn.send((done, errors, version, time.monotonic() - begin))


def run_clients(
    identity: TlsIdentity,
    source: str,
    target: tuple[str, int],
    *,
    processes: int,
    seconds: float,
    limit: int = 1_000_000,
) -> tuple[int, dict[str, int], float, str]:
    """Run ``processes`` handshake clients for ``seconds``.

    Returns the handshakes completed, errors by exception name, the longest
    time one client ran, and the TLS version negotiated.
    """
    workers: list[tuple[multiprocessing.connection.Connection, Any]] = []
    for _index in range(processes):
        parent, child = _SPAWN.Pipe()
        process = _SPAWN.Process(
            target=_client_main,
            args=(child, identity, source, target, seconds, limit // processes),
            daemon=True,
        )
        process.start()
        workers.append((parent, process))
    time.sleep(1.0)  # let every process import and build its context
    for parent, _process in workers:
        parent.send("go")
    total = 0
    errors: dict[str, int] = {}
    version = ""
    elapsed = 0.0
    for parent, process in workers:
        if not parent.poll(seconds + 30):
            process.kill()
            continue
        done, failed, seen, spent = parent.recv()
        total += done
        elapsed = max(elapsed, spent)
        version = version or seen
        for name, count in failed.items():
            errors[name] = errors.get(name, 0) + count
        process.join(5)
    return total, errors, elapsed, version


def node_handshake_count(status: dict[str, Any], port: int) -> int:
    """Return the handshake counter of the node's listener on ``port`` from its status."""
    for listener in status.get("listeners", []):
        if listener.get("port") == port and listener.get("transport") == "TLS":
            return int(listener.get("handshakes", 0))
    return 0


class OpenSslServer:
    """``openssl s_server`` with the given identity, demanding a client certificate."""

    def __init__(self, identity: TlsIdentity, address: str, port: int, log: Path) -> None:
        self.identity = identity
        self.address = address
        self.port = port
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server process id."""
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        """Start the server and wait until it accepts TCP connections."""
        command = [
            "openssl", "s_server", "-quiet",
            "-accept", f"{self.address}:{self.port}",
            "-cert", str(self.identity.certificate_chain),
            "-key", str(self.identity.private_key),
            "-CAfile", str(self.identity.trust_bundle),
            "-Verify", "3",
        ]  # fmt: skip
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"openssl s_server exited with status {self._process.returncode}: "
                    f"{self.log.read_text(errors='replace')[-2000:]}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.address, self.port), timeout=1),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError(f"openssl s_server did not listen on {self.address}:{self.port}.")

    def stop(self) -> None:
        """Stop the server."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


def measure(
    server: str,
    pid: int,
    identity: TlsIdentity,
    source: str,
    target: tuple[str, int],
    *,
    processes: int,
    seconds: float,
) -> HandshakeResult:
    """Run the clients against one server and measure its CPU time and peak RSS."""
    meter = UsageMeter(server, pid)
    meter.start()
    count, errors, elapsed, version = run_clients(
        identity, source, target, processes=processes, seconds=seconds
    )
    return HandshakeResult(
        server, count, errors, round(elapsed, 2), [meter.finish()], tls_version=version
    )
