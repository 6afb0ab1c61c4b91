"""``tlstrunk bench``: the whole comparison in one bounded run.

Steps: a rate sweep through the tlstrunk path (two nodes over a mutual-TLS
trunk, or one node answering with its virtual phone when the two-node path
does not carry calls), the same sweep through Kamailio, handshakes per second
against a node and against ``openssl s_server``, and memory per held call.
Each step runs in its own temporary directory with fresh processes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tlstrunk.lab.processes import start_node
from tlstrunk.perf import labs
from tlstrunk.perf.calls import (
    KAMAILIO,
    CallPath,
    RunSettings,
    open_kamailio,
    open_single_node,
    open_two_nodes,
    run_rate,
    sweep_path,
)
from tlstrunk.perf.handshakes import OpenSslServer, measure, node_handshake_count
from tlstrunk.perf.kamailio import kamailio_binary
from tlstrunk.perf.machine import describe_machine, load_average
from tlstrunk.perf.memory import measure_memory
from tlstrunk.perf.report import BenchReport, write_report
from tlstrunk.perf.stats import SweepResult

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

#: Share of the highest passing call rate at which the memory test sets calls up.
MEMORY_RATE_SHARE = 0.6


@dataclass(frozen=True)
class BenchSettings:
    """The size of one bench run."""

    tlstrunk_rates: tuple[float, ...]
    kamailio_rates: tuple[float, ...]
    #: Runs through the nodes last longer than a node keeps a finished INVITE transaction
    #: (64*T1 = 32 s, RFC 6026), so each rate is measured with its steady transaction load.
    tlstrunk_run: RunSettings
    #: Kamailio's tm keeps a finished transaction for its wait timer (5 s by default).
    kamailio_run: RunSettings
    handshake_seconds: float
    handshake_processes: int
    memory_calls: int
    memory_rate: float
    #: Trace level of the nodes during the calls-per-second sweep.
    trace_level: str = "Detailed"

    @classmethod
    def quick(cls) -> BenchSettings:
        """Return settings for a run of under about a minute: two low rates, a small memory test."""
        return cls(
            tlstrunk_rates=(10.0, 20.0),
            kamailio_rates=(10.0, 20.0),
            tlstrunk_run=RunSettings(seconds=2.0, hold=0.3, invite_timeout=5.0),
            kamailio_run=RunSettings(seconds=2.0, hold=0.3, invite_timeout=5.0),
            handshake_seconds=2.0,
            handshake_processes=2,
            memory_calls=200,
            memory_rate=50.0,
        )

    @classmethod
    def full(cls) -> BenchSettings:
        """Return settings for the comparison on the benchmarks page: about a minute per system."""
        return cls(
            tlstrunk_rates=(
                25.0,
                50.0,
                100.0,
                150.0,
                200.0,
                300.0,
                400.0,
                600.0,
                800.0,
                1200.0,
                1600.0,
                2000.0,
            ),
            kamailio_rates=(50.0, 100.0, 200.0, 400.0, 800.0, 1200.0, 1600.0, 2400.0),
            tlstrunk_run=RunSettings(seconds=40.0, hold=1.0, invite_timeout=5.0),
            kamailio_run=RunSettings(seconds=10.0, hold=1.0, invite_timeout=5.0),
            handshake_seconds=8.0,
            handshake_processes=2,
            memory_calls=10_000,
            memory_rate=100.0,
        )


@contextlib.contextmanager
def _workspace(root: Path | None, name: str) -> Iterator[Path]:
    if root is not None:
        directory = root / name
        directory.mkdir(parents=True, exist_ok=True)
        yield directory
        return
    with tempfile.TemporaryDirectory(prefix=f"tlstrunk-bench-{name}-") as temporary:
        yield Path(temporary)


@contextlib.contextmanager
def open_tlstrunk_path(directory: Path, notes: list[str]) -> Iterator[CallPath]:
    """Open the two-node path if a probe call gets through, else the one-node path."""
    with open_two_nodes(directory / "two-nodes") as path:
        probe = run_rate(path, 5.0, RunSettings(seconds=0.6, hold=0.1, invite_timeout=5.0))
        if probe.completed == probe.attempted:
            notes.extend(path.notes)
            yield path
            return
        causes = ", ".join(f"{k}: {v}" for k, v in probe.failures.items()) or "none"
        notes.append(
            "The two-node path did not carry the probe calls (failures: "
            f"{causes}), so the tlstrunk figures come from one node answering itself."
        )
    with open_single_node(directory / "one-node") as path:
        notes.extend(path.notes)
        yield path


def _sweep_tlstrunk(
    settings: BenchSettings, root: Path | None, notes: list[str], progress: Progress
) -> SweepResult:
    with _workspace(root, "tlstrunk") as directory, open_tlstrunk_path(directory, notes) as path:
        for node in path.nodes.values():
            node.request({"op": "trace-level", "level": settings.trace_level}, timeout=10)
        notes.append(
            f"During the calls-per-second sweep the nodes traced at level {settings.trace_level} "
            "(Detailed writes every SIP message to the text and JSON traces)."
        )
        progress(
            f"sweeping {path.name}: {', '.join(f'{r:g}' for r in settings.tlstrunk_rates)} calls/s"
        )
        return sweep_path(path, list(settings.tlstrunk_rates), settings.tlstrunk_run)


def _sweep_kamailio(
    settings: BenchSettings, root: Path | None, notes: list[str], progress: Progress
) -> SweepResult | None:
    if kamailio_binary() is None:
        notes.append("Kamailio is not installed, so the comparison has no reference figures.")
        return None
    with _workspace(root, "kamailio") as directory, open_kamailio(directory) as path:
        notes.extend(path.notes)
        progress(
            f"sweeping {KAMAILIO}: {', '.join(f'{r:g}' for r in settings.kamailio_rates)} calls/s"
        )
        return sweep_path(path, list(settings.kamailio_rates), settings.kamailio_run)


def _handshakes(
    settings: BenchSettings, root: Path | None, report: BenchReport, progress: Progress
) -> None:
    with _workspace(root, "handshakes") as directory:
        lab = labs.provision_single_node(directory)
        client = labs.issue_identity(directory, labs.TLS_PEER_NAME, labs.TLS_PEER)
        server_identity = labs.issue_identity(directory, "OPENSSL", labs.OPENSSL_SERVER)
        port = lab.tls_ports["BENCHA"]
        node = start_node("BENCHA", lab.nodes["BENCHA"])
        progress("handshakes against the node's TLS listener")
        try:
            before = node_handshake_count(node.request({"op": "status"}), port)
            result = measure(
                "tlstrunk node",
                node.pid,
                client,
                labs.TLS_PEER,
                (labs.NODE_A, port),
                processes=settings.handshake_processes,
                seconds=settings.handshake_seconds,
            )
            report.handshake_confirmed = (
                node_handshake_count(node.request({"op": "status"}), port) - before
            )
            report.handshakes.append(result)
        finally:
            node.stop()
        progress("handshakes against openssl s_server")
        server = OpenSslServer(
            server_identity,
            labs.OPENSSL_SERVER,
            labs.free_port(labs.OPENSSL_SERVER),
            directory / "s_server.log",
        )
        server.start()
        try:
            report.handshakes.append(
                measure(
                    "openssl s_server",
                    server.pid,
                    client,
                    labs.TLS_PEER,
                    (server.address, server.port),
                    processes=settings.handshake_processes,
                    seconds=settings.handshake_seconds,
                )
            )
        finally:
            server.stop()


def memory_rate(settings: BenchSettings, best_rate: float | None) -> float:
    """Return the setup rate for the memory test: the set rate, capped below the sweep's best.

    Setting calls up faster than the nodes sustain would measure overload, not
    memory, so the rate stays at :data:`MEMORY_RATE_SHARE` of the highest passing rate.
    """
    if best_rate is None:
        return settings.memory_rate
    return max(1.0, min(settings.memory_rate, round(best_rate * MEMORY_RATE_SHARE)))


def _memory(
    settings: BenchSettings,
    root: Path | None,
    report: BenchReport,
    progress: Progress,
    best_rate: float | None,
) -> None:
    notes: list[str] = []
    rate = memory_rate(settings, best_rate)
    with _workspace(root, "memory") as directory, open_tlstrunk_path(directory, notes) as path:
        progress(f"holding {settings.memory_calls} calls through {path.name}, {rate:g} calls/s")
        report.memory = measure_memory(path, settings.memory_calls, rate)


def run_bench(
    settings: BenchSettings,
    out: Path,
    *,
    command: str | None = None,
    keep: Path | None = None,
    progress: Progress = lambda _line: None,
) -> Path:
    """Run every step and write the report into ``out``; return the Markdown file.

    With ``keep``, node directories, logs and traces stay under that directory.
    """
    report = BenchReport(
        command=command or shlex.join(["tlstrunk", *sys.argv[1:]]),
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        machine=describe_machine(),
        load_before=load_average(),
    )
    ours = _sweep_tlstrunk(settings, keep, report.notes, progress)
    report.sweeps.append(ours)
    theirs = _sweep_kamailio(settings, keep, report.notes, progress)
    if theirs is not None:
        report.sweeps.append(theirs)
    _handshakes(settings, keep, report, progress)
    _memory(settings, keep, report, progress, ours.best_rate)
    report.load_after = load_average()
    report.notes.append(
        "Figures from a loaded machine are noisy; compare runs taken under the same load "
        "average, shown under Machine."
    )
    return write_report(report, out)
