"""Call detail record commands: ``cdr list`` and ``cdr export``.

Both read the CDR table of ``DIR/config.db``; a running node adds a row there
after each call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tlstrunk.config.cdr import CdrRecord, export_cdrs_csv
from tlstrunk.config.errors import ConfigError
from tlstrunk.config.store import ConfigStore
from tlstrunk.i18n import _
from tlstrunk.paths import NodePaths

__all__ = ["app"]

app = typer.Typer(help="Call detail records.", no_args_is_help=True)

console = Console()
err_console = Console(stderr=True)

NodeDir = Annotated[
    Path,
    typer.Option("--node-dir", "--dir", help="The node's directory, which contains config.db."),
]
Since = Annotated[
    str | None,
    typer.Option(
        help="Only calls that started at or after this ISO 8601 time, such as "
        "2026-12-05T10:00:00+01:00; a time without an offset is UTC."
    ),
]
Until = Annotated[
    str | None,
    typer.Option(help="Only calls that started before this ISO 8601 time; UTC without an offset."),
]


def _fail(message: str) -> NoReturn:
    err_console.print(f"[red]{_('Error')}:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(1)


def _parse_time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        _fail(
            _(
                "{option} {text!r} is not an ISO 8601 time; write it as "
                "2026-12-05T10:00:00 (UTC) or 2026-12-05T10:00:00+01:00."
            ).format(option=option, text=text)
        )
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@contextmanager
def _open_store(node_dir: Path) -> Iterator[ConfigStore]:
    path = NodePaths(node_dir).config_db
    if not path.exists():
        _fail(_("No configuration database at {path}; check --node-dir.").format(path=path))
    try:
        store = ConfigStore(path)
    except ConfigError as error:
        _fail(str(error))
    try:
        yield store
    except ConfigError as error:
        _fail(str(error))
    finally:
        store.close()


def _load(
    node_dir: Path, since: str | None, until: str | None, limit: int | None
) -> list[CdrRecord]:
    start = _parse_time(since, "--since")
    end = _parse_time(until, "--until")
    with _open_store(node_dir) as store:
        return store.list_cdrs(since=start, until=end, limit=limit)


def _short_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _packets(record: CdrRecord) -> str:
    if record.packets_sent is None and record.packets_received is None:
        return ""
    return _("{sent} sent, {received} received").format(
        sent=record.packets_sent or 0, received=record.packets_received or 0
    )


@app.command("list")
def cdr_list(
    node_dir: NodeDir,
    since: Since = None,
    until: Until = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Show only the newest N records.")
    ] = None,
) -> None:
    """List call detail records, oldest first."""
    records = _load(node_dir, since, until, limit)
    table = Table(title=_("Call detail records (times in UTC)"))
    for column in (
        _("Start"),
        _("Direction"),
        _("Calling"),
        _("Called"),
        _("Trunk"),
        _("Duration (s)"),
        _("State"),
        _("Cause"),
        _("Secure"),
        _("SRTP suite"),
        _("Packets"),
        _("Call-ID"),
    ):
        table.add_column(column, overflow="fold")
    for record in records:
        duration = "" if record.duration is None else f"{record.duration:.1f}"
        cells = (
            _short_time(record.start),
            record.direction,
            record.calling,
            record.called,
            record.trunk or "",
            duration,
            record.state,
            record.cause,
            _("yes") if record.secure else _("no"),
            record.srtp_suite or "",
            _packets(record),
            record.call_id,
        )
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)


@app.command("export")
def cdr_export(
    node_dir: NodeDir,
    out: Annotated[Path, typer.Option("--out", help="CSV file to write; it is replaced.")],
    since: Since = None,
    until: Until = None,
) -> None:
    """Write call detail records to a CSV file with a header row, oldest first."""
    records = _load(node_dir, since, until, None)
    try:
        with out.open("w", encoding="utf-8", newline="") as stream:
            count = export_cdrs_csv(records, stream)
    except OSError as error:
        _fail(
            _("Cannot write {path}: {error}; choose another --out file.").format(
                path=out, error=error.strerror
            )
        )
    console.print(
        _("Wrote {count} call detail records to {path}.").format(count=count, path=out),
        markup=False,
        highlight=False,
    )
