"""The benchmark report: Markdown for people, JSON for tools, and the SVG plot beside them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tlstrunk.perf.handshakes import HandshakeResult
from tlstrunk.perf.memory import MemoryResult
from tlstrunk.perf.plot import Series, setup_time_svg
from tlstrunk.perf.stats import RunResult, SweepResult

REPORT_MD = "report.md"
REPORT_JSON = "report.json"
PLOT_SVG = "setup-time.svg"

#: Section headings, in order; the tests check that a report has each of them.
SECTIONS = (
    "## Machine",
    "## Calls per second",
    "## Setup time against offered rate",
    "## TLS handshakes",
    "## Memory per established call",
    "## Notes",
)


@dataclass
class BenchReport:
    """Everything one ``tlstrunk bench`` run measured."""

    command: str
    date: str
    machine: dict[str, Any]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    sweeps: list[SweepResult] = field(default_factory=list)
    handshakes: list[HandshakeResult] = field(default_factory=list)
    handshake_confirmed: int | None = None
    memory: MemoryResult | None = None
    notes: list[str] = field(default_factory=list)

    def ratio(self) -> float | None:
        """tlstrunk's highest passing rate divided by Kamailio's, when both have one."""
        ours = [s.best_rate for s in self.sweeps if s.system.startswith("tlstrunk")]
        theirs = [s.best_rate for s in self.sweeps if s.system.startswith("Kamailio")]
        if not ours or not theirs or not ours[0] or not theirs[0]:
            return None
        return round(ours[0] / theirs[0], 3)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "command": self.command,
            "date": self.date,
            "machine": self.machine,
            "load_before": self.load_before,
            "load_after": self.load_after,
            "sweeps": [s.to_dict() for s in self.sweeps],
            "ratio_tlstrunk_to_kamailio": self.ratio(),
            "handshakes": [
                {**h.__dict__, "rate": round(h.rate, 1), "server_cpu_ms": h.server_cpu_ms}
                for h in self.handshakes
            ],
            "handshakes_counted_by_node": self.handshake_confirmed,
            "memory": self.memory.to_dict() if self.memory else None,
            "notes": self.notes,
        }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _causes(run: RunResult) -> str:
    if not run.failures:
        return "none"
    return "; ".join(f"{cause}: {count}" for cause, count in sorted(run.failures.items()))


def _usage(run: RunResult) -> str:
    return "; ".join(
        f"{u.name} {u.cpu_seconds:.1f} s, {u.peak_rss_kib / 1024:.0f} MiB" for u in run.usage
    )


def _sweep_lines(sweep: SweepResult) -> list[str]:
    best = "none" if sweep.best_rate is None else f"{sweep.best_rate:g} calls/s"
    lines = [
        f"### {sweep.system}",
        "",
        f"Highest rate with at most 0.1% failed calls: **{best}**.",
        "",
        "| offered (calls/s) | attempted | connected | failed | p50 (ms) | p95 (ms) "
        "| p99 (ms) | failure causes | CPU seconds, peak RSS |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for run in sweep.runs:
        lines.append(
            f"| {run.offered_rate:g} | {run.attempted} | {run.connected} | {run.failed} "
            f"| {_ms(run.setup.p50)} | {_ms(run.setup.p95)} | {_ms(run.setup.p99)} "
            f"| {_causes(run)} | {_usage(run)} |"
        )
    return [*lines, ""]


def _machine_lines(report: BenchReport) -> list[str]:
    machine = report.machine
    return [
        "## Machine",
        "",
        f"- Cores: {machine.get('cores')}, CPU: {machine.get('cpu_model')}, "
        f"memory: {machine.get('memory_gib')} GiB, Linux {machine.get('kernel')}",
        f"- Python {machine.get('python')}; OpenSSL: {machine.get('openssl')}",
        f"- Kamailio: {machine.get('kamailio')}",
        "- Load average (1, 5, 15 min) before: {:.2f}, {:.2f}, {:.2f}; after: "
        "{:.2f}, {:.2f}, {:.2f}".format(*report.load_before, *report.load_after),
        "",
    ]


def _handshake_lines(report: BenchReport) -> list[str]:
    lines = [
        "## TLS handshakes",
        "",
        "Full mutual-TLS handshakes (client certificate, no resumption), then close.",
        "",
        "| server | TLS | handshakes | seconds | per second | server CPU ms per handshake "
        "| errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for item in report.handshakes:
        errors = ", ".join(f"{k}: {v}" for k, v in item.errors.items()) or "none"
        lines.append(
            f"| {item.server} | {item.tls_version} | {item.handshakes} | {item.seconds:.1f} "
            f"| {item.rate:.0f} | {_ms(item.server_cpu_ms)} | {errors} |"
        )
    if len(report.handshakes) == 2 and report.handshakes[1].rate:
        node, reference = report.handshakes
        lines.append("")
        lines.append(
            f"Node / openssl s_server, handshakes per second: {node.rate / reference.rate:.2f}."
        )
        if node.server_cpu_ms and reference.server_cpu_ms:
            lines.append(
                "Node / openssl s_server, server CPU per handshake: "
                f"{node.server_cpu_ms / reference.server_cpu_ms:.2f}."
            )
    if report.handshake_confirmed is not None:
        lines.append(f"The node's listener counted {report.handshake_confirmed} handshakes.")
    return [*lines, ""]


def _memory_lines(report: BenchReport) -> list[str]:
    lines = ["## Memory per established call", ""]
    memory = report.memory
    if memory is None:
        return [*lines, "Not measured in this run.", ""]
    lines += [
        f"{memory.system}: {memory.calls} calls set up at {memory.rate:g} calls/s and held; "
        f"{memory.held} were up at once, {memory.completed} ended with 200 to their BYE "
        f"({'all held' if memory.held_all else 'not all held'}).",
        "",
        "| node | RSS before (MiB) | RSS with calls held (MiB) | KiB per call "
        "| RSS after hang-up (MiB) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for node, before in memory.rss_before_kib.items():
        lines.append(
            f"| {node} | {before / 1024:.1f} | {memory.rss_held_kib[node] / 1024:.1f} "
            f"| {memory.kib_per_call(node)} | {memory.rss_after_kib[node] / 1024:.1f} |"
        )
    if memory.failures:
        causes = "; ".join(f"{k}: {v}" for k, v in memory.failures.items())
        lines += ["", f"Failed calls: {causes}."]
    return [*lines, ""]


def render_markdown(report: BenchReport) -> str:
    """Return the report as Markdown."""
    ratio = report.ratio()
    lines = [
        "# tlstrunk bench",
        "",
        f"Command: `{report.command}`  ",
        f"Date: {report.date}",
        "",
        *_machine_lines(report),
        "## Calls per second",
        "",
        "Each call: INVITE, 100, 180, 200, ACK, hold, BYE, 200. A rate passes when at most "
        "0.1% of its calls fail. Setup time runs from sending the INVITE to reading its 200.",
        "",
    ]
    for sweep in report.sweeps:
        lines += _sweep_lines(sweep)
    ratio_text = "not available" if ratio is None else f"{ratio:.3f}"
    lines += [
        f"tlstrunk's highest passing rate as a ratio of Kamailio's: **{ratio_text}**.",
        "",
        "## Setup time against offered rate",
        "",
        f"![setup time p50 and p99 against offered rate]({PLOT_SVG})",
        "",
        *_handshake_lines(report),
        *_memory_lines(report),
        "## Notes",
        "",
        *[f"- {note}" for note in report.notes],
        "",
    ]
    return "\n".join(lines)


def plot_series(sweeps: list[SweepResult]) -> list[Series]:
    """Return the plot's series: one per sweep."""
    return [
        Series(
            s.system,
            [r.offered_rate for r in s.runs],
            [r.setup.p50 for r in s.runs],
            [r.setup.p99 for r in s.runs],
        )
        for s in sweeps
    ]


def write_report(report: BenchReport, directory: Path) -> Path:
    """Write the Markdown report, its JSON and the plot into ``directory``; return the first."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / PLOT_SVG).write_text(
        setup_time_svg(plot_series(report.sweeps), "Call setup time against offered rate")
    )
    (directory / REPORT_JSON).write_text(json.dumps(report.to_dict(), indent=2, default=str))
    markdown = directory / REPORT_MD
    markdown.write_text(render_markdown(report))
    return markdown
