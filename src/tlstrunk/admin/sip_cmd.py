"""``tlstrunk sip``: offline tools for SIP messages.

``sip check FILE...`` parses each file as one SIP message and prints a summary
or the reason it is invalid. Exit status: 0 when every file is valid, 1 when
any is invalid, 2 on usage errors (Typer's own status, also used for a file
that cannot be read).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tlstrunk.i18n import _
from tlstrunk.sip.check import Verdict, check_message
from tlstrunk.sip.errors import SipError
from tlstrunk.sip.message import Request

app = typer.Typer(help=_("Check SIP messages offline."), no_args_is_help=True)

USAGE_ERROR = 2


@app.callback()
def main() -> None:
    """Check SIP messages offline."""


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        typer.echo(_("Cannot read {file}: {error}. Give the path of a file that holds one SIP "
                     "message, or - for standard input.").format(file=name, error=exc.strerror),
                   err=True)
        raise typer.Exit(USAGE_ERROR) from exc


def _field(read: object) -> str:
    return str(read) if read is not None else "-"


def summary_lines(verdict: Verdict) -> list[str]:
    """Return the lines that describe one verdict, the first one saying valid or invalid."""
    if verdict.message is None or not verdict.valid:
        error = verdict.error
        assert error is not None
        return [_("invalid: {status} {reason}: {detail}").format(
            status=error.status_code, reason=error.reason, detail=str(error))]
    message = verdict.message
    lines = [_("valid")]
    if isinstance(message, Request):
        lines.append(_("  request: {method} {uri}").format(method=message.method, uri=message.uri))
    else:
        lines.append(_("  response: {code} {reason}").format(
            code=message.status_code, reason=message.reason))
    try:
        top_via = str(message.top_via)
    except SipError:
        top_via = "-"
    lines += [
        _("  Call-ID: {value}").format(value=message.call_id),
        _("  CSeq: {value}").format(value=message.cseq),
        _("  top Via: {value}").format(value=top_via),
        _("  body: {type}, {length} bytes").format(
            type=_field(message.headers.get("Content-Type")), length=len(message.body)),
    ]
    if verdict.response is not None:
        lines.append(_("  a server would answer: {code} {reason}").format(
            code=verdict.response[0], reason=verdict.response[1]))
    lines += [f"  {note}" for note in verdict.notes]
    return lines


@app.command("check")
def check_command(
    files: Annotated[list[str], typer.Argument(
        help=_("Files that each hold one SIP message; - reads standard input."))],
) -> None:
    """Parse each file as one SIP message and report whether it is valid."""
    invalid = 0
    for name in files:
        verdict = check_message(_read(name))
        lines = summary_lines(verdict)
        typer.echo(f"{name}: {lines[0]}")
        for line in lines[1:]:
            typer.echo(line)
        if not verdict.valid:
            invalid += 1
    if invalid:
        raise typer.Exit(1)
