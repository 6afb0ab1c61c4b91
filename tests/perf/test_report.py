"""The bench report: every section, the plot, and one real quick run through the command."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tlstrunk.admin.bench_cmd import app
from tlstrunk.perf.handshakes import HandshakeResult
from tlstrunk.perf.kamailio import kamailio_binary
from tlstrunk.perf.memory import MemoryResult
from tlstrunk.perf.report import (
    PLOT_SVG,
    REPORT_JSON,
    SECTIONS,
    BenchReport,
    render_markdown,
    write_report,
)
from tlstrunk.perf.stats import ProcessUsage, RunResult, SetupTimes, SweepResult


def run(system: str, rate: float, failed: int = 0) -> RunResult:
    return RunResult(
        system=system,
        offered_rate=rate,
        attempted=100,
        connected=100 - failed,
        completed=100 - failed,
        failures={"INVITE answered 503": failed} if failed else {},
        setup=SetupTimes.from_seconds([0.002, 0.004, 0.050]),
        elapsed=5.0,
        usage=[ProcessUsage("node BENCHA", 1.5, 100_000)],
    )


def synthetic_report() -> BenchReport:
    ours = "tlstrunk, two nodes over a mutual-TLS trunk"
    theirs = "Kamailio, stateful TLS relay"
    report = BenchReport(
        command="tlstrunk bench --quick",
        date="2026-01-01T00:00:00+00:00",
        machine={"cores": 2, "cpu_model": "Test CPU", "python": "3.11.7"},
        load_before=(1.0, 1.0, 1.0),
        load_after=(2.0, 1.5, 1.0),
    )
    report.sweeps = [
        SweepResult(ours, [run(ours, 50), run(ours, 100, failed=5)], 50.0),
        SweepResult(theirs, [run(theirs, 100), run(theirs, 200)], 200.0),
    ]
    report.handshakes = [
        HandshakeResult("tlstrunk node", 400, {}, 2.0, [ProcessUsage("n", 0.8, 1)]),
        HandshakeResult("openssl s_server", 500, {}, 2.0, [ProcessUsage("o", 0.5, 1)]),
    ]
    report.memory = MemoryResult(
        ours, 100, 50.0, 100, 100, {}, {"BENCHA": 1000}, {"BENCHA": 3000}, {"BENCHA": 2500}
    )
    report.notes.append("synthetic")
    return report


def test_markdown_has_every_section() -> None:
    text = render_markdown(synthetic_report())
    for section in SECTIONS:
        assert section in text
    assert "ratio of Kamailio's: **0.250**" in text
    assert "| BENCHA | 1.0 | 2.9 | 20.0 | 2.4 |" in text
    assert "INVITE answered 503: 5" in text


def test_written_report_and_plot(tmp_path: Path) -> None:
    markdown = write_report(synthetic_report(), tmp_path)
    assert markdown.exists()
    data = json.loads((tmp_path / REPORT_JSON).read_text())
    assert data["ratio_tlstrunk_to_kamailio"] == 0.25
    assert data["memory"]["kib_per_call"] == {"BENCHA": 20.0}
    svg = ET.parse(tmp_path / PLOT_SVG).getroot()
    lines = svg.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 4


@pytest.mark.slow
@pytest.mark.skipif(kamailio_binary() is None, reason="kamailio is not installed")
def test_quick_bench_command(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = (out / "report.md").read_text()
    for section in SECTIONS:
        assert section in text, section
    data = json.loads((out / REPORT_JSON).read_text())
    assert [s["system"].split(",")[0] for s in data["sweeps"]] == ["tlstrunk", "Kamailio"]
    for sweep in data["sweeps"]:
        assert sweep["runs"][0]["failed"] == 0, sweep
    assert len(data["handshakes"]) == 2
    assert data["handshakes"][0]["handshakes"] > 0
    assert data["memory"]["held"] == data["memory"]["calls"]
    assert (out / PLOT_SVG).exists()
