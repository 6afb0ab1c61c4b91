"""``tlstrunk doctor``: check a SIP trunk end to end, and list a node's rejected peers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from tlstrunk.control_client import ControlError
from tlstrunk.diag.doctor import DEFAULT_TIMEOUT, DoctorUsageError, run_doctor
from tlstrunk.diag.peer import group_inbound, node_rejections, render_groups
from tlstrunk.diag.results import failed, render
from tlstrunk.i18n import _

app = typer.Typer(
    help="Check a SIP trunk step by step and say what to change.", no_args_is_help=True
)

NodeDir = Annotated[Path, typer.Option("--node-dir", "--dir", help="The node's directory.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _passphrase(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        typer.echo(
            _("Cannot read the passphrase file {path}: {error}.").format(path=path, error=exc),
            err=True,
        )
        raise typer.Exit(2) from exc
    return lines[0].encode() if lines else None


@app.command("trunk")
def trunk(
    name: Annotated[str, typer.Argument(help="The trunk's name.")],
    node_dir: NodeDir,
    peer_node_dir: Annotated[
        Path | None,
        typer.Option(
            help="Directory of the far node, when it is a tlstrunk node running on this "
            "machine; its recorded rejections explain why it refused this node."
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for a connect, a handshake or a response.")
    ] = DEFAULT_TIMEOUT,
    store_passphrase_file: Annotated[
        Path | None,
        typer.Option(help="File whose first line is the passphrase of the node's private keys."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Check trunk NAME: configuration, certificates, TCP, TLS, names and an OPTIONS round trip.

    Exits with 0 when no step failed, 1 when a step failed and 2 on a usage error.
    """
    try:
        results = asyncio.run(
            run_doctor(
                node_dir,
                name,
                peer_node_dir=peer_node_dir,
                timeout=timeout,
                passphrase=_passphrase(store_passphrase_file),
            )
        )
    except DoctorUsageError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    if as_json:
        document = {
            "trunk": name,
            "ok": not failed(results),
            "steps": [result.to_dict() for result in results],
        }
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        typer.echo(render(results))
    raise typer.Exit(1 if failed(results) else 0)


@app.command("inbound")
def inbound(node_dir: NodeDir, as_json: AsJson = False) -> None:
    """List the peers a running node recently rejected, by port and reason."""
    try:
        rejections = asyncio.run(node_rejections(node_dir))
    except ControlError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    groups = group_inbound(rejections)
    if as_json:
        typer.echo(json.dumps([group.to_dict() for group in groups], ensure_ascii=False, indent=2))
    else:
        typer.echo(render_groups(groups))
