"""Generator processes: the UAC and the UAS each run in their own process with uvloop.

Keeping them out of the process that orchestrates the benchmark lets the
report show the generator's own CPU time and peak RSS, and lets the UAC and
the UAS use both cores. Processes start with the ``spawn`` method, so they
share nothing with the orchestrator but what the pipe carries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import multiprocessing.connection
from dataclasses import dataclass
from typing import Any

from tlstrunk.perf.procstat import own_cpu, own_usage
from tlstrunk.perf.sipload import LoadSpec, UacResult, run_uac
from tlstrunk.perf.stats import ProcessUsage, merge_failures
from tlstrunk.perf.uas import UasCounters, start_uas
from tlstrunk.transport.tls import TlsIdentity, build_client_context, build_server_context

#: Seconds a worker gets to start and report that it is ready.
START_TIMEOUT = 30.0

_SPAWN = multiprocessing.get_context("spawn")


class WorkerError(RuntimeError):
    """Raised when a generator process fails; the message carries its error."""


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# -- UAS ----------------------------------------------------------------------


def _uas_main(
    conn: multiprocessing.connection.Connection,
    address: str,
    transport: str,
    identity: TlsIdentity | None,
) -> None:
    _install_uvloop()
    cpu_before = own_cpu()

    async def serve() -> UasCounters:
        context = build_server_context(identity) if identity is not None else None
        uas, server = await start_uas(address, 0, transport, context)
        conn.send(("ready", server.sockets[0].getsockname()[1]))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(conn.fileno(), stop.set)
        await stop.wait()
        loop.remove_reader(conn.fileno())
        conn.recv()
        server.close()
        return uas.counters

    try:
        counters = asyncio.run(serve())
    except Exception as exc:  # report any failure to the parent, which raises it
        conn.send(("error", repr(exc)))
        return
    conn.send(("done", (counters, own_usage("generator UAS", cpu_before))))


class UasWorker:
    """The UAS in a process of its own; ``start`` returns once it listens."""

    def __init__(self, address: str, transport: str = "TCP", identity: TlsIdentity | None = None):
        self.address = address
        self.transport = transport
        self._identity = identity
        self._conn: multiprocessing.connection.Connection | None = None
        self._process: Any = None
        self.port = 0

    def start(self) -> int:
        """Start the process and return the port it listens on."""
        parent, child = _SPAWN.Pipe()
        self._process = _SPAWN.Process(
            target=_uas_main,
            args=(child, self.address, self.transport, self._identity),
            daemon=True,
        )
        self._process.start()
        self._conn = parent
        _kind, value = _receive(parent, START_TIMEOUT, "UAS", self._process)
        self.port = int(value)
        return self.port

    @property
    def pid(self) -> int:
        """The UAS process id."""
        return int(self._process.pid)

    def stop(self) -> tuple[UasCounters, ProcessUsage]:
        """Stop the UAS and return its counters and its own CPU time and peak RSS."""
        assert self._conn is not None
        self._conn.send("stop")
        _kind, value = _receive(self._conn, START_TIMEOUT, "UAS", self._process)
        self._process.join(5)
        counters, usage = value
        return counters, usage

    def kill(self) -> None:
        """End the process if it still runs (after an error)."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(5)


# -- UAC ----------------------------------------------------------------------


def _uac_main(
    conn: multiprocessing.connection.Connection, spec: LoadSpec, identity: TlsIdentity | None
) -> None:
    _install_uvloop()
    cpu_before = own_cpu()
    context = build_client_context(identity) if identity is not None else None
    try:
        result = asyncio.run(run_uac(spec, context))
    except Exception as exc:  # report any failure to the parent, which raises it
        conn.send(("error", repr(exc)))
        return
    conn.send(("done", (result, own_usage("generator UAC", cpu_before))))


def split_spec(spec: LoadSpec, processes: int) -> list[LoadSpec]:
    """Share the calls, rate and concurrency of ``spec`` among ``processes`` UACs."""
    if processes < 1:
        raise ValueError(f"The UAC process count {processes} must be 1 or more.")
    specs = []
    for index in range(processes):
        calls = spec.calls // processes + (1 if index < spec.calls % processes else 0)
        specs.append(
            dataclasses.replace(
                spec,
                calls=calls,
                rate=spec.rate / processes,
                max_concurrent=max(1, spec.max_concurrent // processes),
            )
        )
    return specs


@dataclass
class UacRun:
    """The merged result of every UAC process and their usage."""

    result: UacResult
    usage: list[ProcessUsage]


def run_uac_processes(
    spec: LoadSpec, *, processes: int = 1, identity: TlsIdentity | None = None
) -> UacRun:
    """Run ``spec`` split over ``processes`` UAC processes and merge their results."""
    workers = []
    for part in split_spec(spec, processes):
        parent, child = _SPAWN.Pipe()
        process = _SPAWN.Process(target=_uac_main, args=(child, part, identity), daemon=True)
        process.start()
        workers.append((parent, process))
    merged = UacResult()
    usage: list[ProcessUsage] = []
    try:
        for parent, process in workers:
            timeout = spec.max_seconds + START_TIMEOUT + 30
            _kind, value = _receive(parent, timeout, "UAC", process)
            result, process_usage = value
            _merge_into(merged, result)
            usage.append(process_usage)
    finally:
        for _parent, process in workers:
            process.join(5)
            if process.is_alive():
                process.kill()
    return UacRun(merged, usage)


def _merge_into(total: UacResult, part: UacResult) -> None:
    total.attempted += part.attempted
    total.connected += part.connected
    total.completed += part.completed
    total.failures = merge_failures(total.failures, part.failures)
    total.setup_times.extend(part.setup_times)
    total.elapsed = max(total.elapsed, part.elapsed)
    total.peak_open += part.peak_open


def _receive(
    conn: multiprocessing.connection.Connection, timeout: float, what: str, process: Any
) -> tuple[str, Any]:
    waited = 0.0
    while not conn.poll(0.5):
        waited += 0.5
        if not process.is_alive() and not conn.poll(0):
            raise WorkerError(
                f"The generator {what} process exited with status {process.exitcode} "
                "before it reported; its error is on standard error above."
            )
        if waited >= timeout:
            raise WorkerError(f"The generator {what} process sent nothing within {timeout:.0f} s.")
    kind, value = conn.recv()
    if kind == "error":
        raise WorkerError(f"The generator {what} process failed: {value}")
    return str(kind), value
