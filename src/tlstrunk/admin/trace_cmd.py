"""``tlstrunk trace``: read node traces offline and draw call ladders.

``trace get`` prints the events of one or more node directories, filtered by
Call-ID, time, level and component.  ``trace ladder`` draws the SIP messages of
one call as text, and optionally as SVG and HTML files.  Exit status: 0 on
success, 1 when the traces hold nothing for the requested call, 2 on bad input.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from tlstrunk.control_client import ControlError, control_request
from tlstrunk.diag.ladder import build_ladder, render_html, render_svg, render_text
from tlstrunk.i18n import _
from tlstrunk.observe.trace import TraceEvent, level_rank, trace_files
from tlstrunk.observe.trace_reader import TraceFilter, read_events
from tlstrunk.paths import NodePaths

app = typer.Typer(help=_("Read node traces and draw call ladders."), no_args_is_help=True)

NOT_FOUND = 1
USAGE_ERROR = 2

NodeDirs = Annotated[
    list[Path],
    typer.Option("--node-dir", help=_("Node directory whose traces to read; repeat for more.")),
]


@app.callback()
def main() -> None:
    """Read node traces and draw call ladders."""


def _fail(message: str, status: int = USAGE_ERROR) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(status)


def _check_dirs(node_dirs: list[Path]) -> None:
    for root in node_dirs:
        if not trace_files(NodePaths(root).trace_json):
            raise _fail(
                _(
                    "No trace files in {dir}; give the directory a node runs in "
                    "(it holds traces/sdl.jsonl)."
                ).format(dir=root / "traces")
            )


@app.command("get")
def get(
    node_dirs: NodeDirs,
    call_id: Annotated[str | None, typer.Option(help=_("Only events of this SIP Call-ID."))] = None,
    since: Annotated[str | None, typer.Option(help=_("Earliest time, ISO 8601."))] = None,
    until: Annotated[str | None, typer.Option(help=_("Latest time, ISO 8601."))] = None,
    level: Annotated[str | None, typer.Option(help=_("Lowest level to show."))] = None,
    component: Annotated[
        list[str] | None, typer.Option(help=_("Only this component; repeat for more."))
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON lines."))] = False,
    out: Annotated[Path | None, typer.Option(help=_("Write to this file."))] = None,
) -> None:
    """Print trace events as SDL-style lines or JSON lines."""
    _check_dirs(node_dirs)
    try:
        where = TraceFilter.build(
            call_id=call_id, since=since, until=until, level=level, components=component
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    lines = (_format(event, as_json, node) for event, node in _merged(node_dirs, where))
    written = 0
    if out is None:
        for line in lines:
            typer.echo(line)
            written += 1
        if not written:
            raise _no_events(call_id)
        return
    try:
        with out.open("w", encoding="utf-8") as stream:
            for line in lines:
                stream.write(line + "\n")
    except OSError as exc:
        raise _fail(
            _("Cannot write {file}: {error}. Give a path in a writable directory.").format(
                file=out, error=exc.strerror
            )
        ) from exc


def _no_events(call_id: str | None) -> typer.Exit:
    """Say that nothing matched, and return the exit status 1 to raise."""
    if call_id:
        message = _(
            "No trace event mentions Call-ID {call_id}; check the Call-ID in the call report "
            "or in 'tlstrunk cdr list', and the node directory."
        ).format(call_id=call_id)
    else:
        message = _("No trace event matches; widen the time range, level or components.")
    typer.echo(message, err=True)
    return typer.Exit(1)


def _merged(node_dirs: list[Path], where: TraceFilter) -> Iterator[tuple[TraceEvent, str | None]]:
    """Merge the nodes' events by time, tagging each with its node when there are several."""

    def tagged(root: Path) -> Iterator[tuple[TraceEvent, str | None]]:
        name = root.name if len(node_dirs) > 1 else None
        return ((event, name) for event in read_events(NodePaths(root).trace_json, where))

    return heapq.merge(*(tagged(root) for root in node_dirs), key=lambda pair: pair[0].timestamp)


def _format(event: TraceEvent, as_json: bool, node: str | None) -> str:
    line = event.to_json() if as_json else event.to_text()
    if node is None:
        return line
    if as_json:
        return '{"node": ' + json.dumps(node, ensure_ascii=False) + ", " + line[1:]
    return f"[{node}] {line}"


@app.command("ladder")
def ladder(
    node_dirs: NodeDirs,
    call_id: Annotated[str, typer.Option(help=_("SIP Call-ID of the call to draw."))],
    svg: Annotated[Path | None, typer.Option(help=_("Also write the ladder as SVG."))] = None,
    html: Annotated[Path | None, typer.Option(help=_("Also write the ladder as HTML."))] = None,
) -> None:
    """Draw the SIP messages of one call between the nodes whose traces hold them."""
    _check_dirs(node_dirs)
    try:
        drawn = build_ladder(node_dirs, call_id)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    if not drawn.messages:
        raise _fail(
            _(
                "No SIP messages with Call-ID {call_id} in the traces of {dirs}; check the "
                "Call-ID with `tlstrunk trace get`, and that the node traced at level Detailed."
            ).format(call_id=call_id, dirs=", ".join(str(d) for d in node_dirs)),
            NOT_FOUND,
        )
    typer.echo(render_text(drawn), nl=False)
    for path, text in ((svg, render_svg), (html, render_html)):
        if path is None:
            continue
        try:
            path.write_text(text(drawn), encoding="utf-8")
        except OSError as exc:
            raise _fail(
                _("Cannot write {file}: {error}. Give a path in a writable directory.").format(
                    file=path, error=exc.strerror
                )
            ) from exc
        typer.echo(_("Wrote {file}").format(file=path))


# NOTE: `trace level --node-dir DIR LEVEL` needs a control-socket command that
# calls TraceWriter.set_level on the running node; it is not built yet.


@app.command("level")
def level(
    node_dir: Annotated[Path, typer.Option("--node-dir", help=_("Directory of the running node."))],
    new_level: Annotated[
        str | None,
        typer.Argument(
            metavar="LEVEL",
            help=_("Detailed, AppInfo, Warning or Error; without it, show the current level."),
        ),
    ] = None,
) -> None:
    """Show or change the trace level of a running node, from its next event on."""
    if new_level is not None:
        try:
            level_rank(new_level)
        except ValueError as exc:
            raise _fail(str(exc)) from exc
    request: dict[str, object] = {"op": "trace-level"}
    if new_level is not None:
        request["level"] = new_level
    try:
        result = control_request(NodePaths(node_dir).control_socket, request)
    except ControlError as exc:
        raise _fail(str(exc), NOT_FOUND) from exc
    typer.echo(_("Trace level: {level}").format(level=result))
