"""``tlstrunk bench``: calls per second, handshakes and memory, beside Kamailio."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tlstrunk.i18n import _
from tlstrunk.lab.processes import NodeProcessError
from tlstrunk.observe.trace import level_rank
from tlstrunk.perf.bench import BenchSettings, run_bench
from tlstrunk.perf.kamailio import KamailioError
from tlstrunk.perf.workers import WorkerError
from tlstrunk.pki.errors import PkiError

app = typer.Typer(
    help="Measure calls per second, TLS handshakes and memory per call, beside Kamailio.",
    invoke_without_command=True,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


@app.callback()
def bench(
    quick: Annotated[
        bool,
        typer.Option(help="Run two low rates per system and a small memory test (about a minute)."),
    ] = False,
    out: Annotated[
        Path, typer.Option(help="Directory for report.md, report.json and setup-time.svg.")
    ] = Path("bench-report"),
    keep: Annotated[
        Path | None,
        typer.Option(help="Keep node directories, traces and logs under this directory."),
    ] = None,
    memory_calls: Annotated[
        int | None,
        typer.Option(min=1, help="Calls to hold for the memory test (default 10,000; 200 quick)."),
    ] = None,
    memory_rate: Annotated[
        float | None,
        typer.Option(min=1.0, help="Calls per second at which the memory test sets calls up."),
    ] = None,
    trace_level: Annotated[
        str,
        typer.Option(
            help="Trace level of the nodes during the sweep: Detailed, AppInfo, Warning or Error."
        ),
    ] = "Detailed",
) -> None:
    """Run the comparison on loopback (127.0.7.0/24) and write a Markdown and JSON report."""
    settings = BenchSettings.quick() if quick else BenchSettings.full()
    if memory_calls is not None:
        settings = dataclasses.replace(settings, memory_calls=memory_calls)
    if memory_rate is not None:
        settings = dataclasses.replace(settings, memory_rate=memory_rate)
    try:
        level_rank(trace_level)
    except ValueError as exc:
        err_console.print(f"[red]{_('Error')}:[/red] {exc}")
        raise typer.Exit(2) from exc
    settings = dataclasses.replace(settings, trace_level=trace_level)
    try:
        report = run_bench(
            settings,
            out,
            command=shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            keep=keep,
            progress=lambda line: console.print(f"  {line}"),
        )
    except (NodeProcessError, KamailioError, WorkerError, PkiError, OSError) as exc:
        err_console.print(f"[red]{_('Error')}:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(_("Report written to {path}").format(path=report))
