"""``tlstrunk node``: run a node and talk to a running one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tlstrunk.admin.control import ControlServer
from tlstrunk.callcontrol.node import Node, NodeStartError
from tlstrunk.control_client import ControlError, control_request
from tlstrunk.i18n import _
from tlstrunk.paths import NodePaths
from tlstrunk.pki.errors import PkiError
from tlstrunk.transport.capture import CaptureSettings
from tlstrunk.transport.tls import TlsConfigurationError

app = typer.Typer(help="Run a call-control node and control a running one.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

#: Seconds 'node call' and 'node status' wait for a node that is still starting.
STARTUP_WAIT = 10.0

NodeDir = Annotated[Path, typer.Option("--node-dir", "--dir", help="The node's directory.")]


def _install_event_loop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def _serve(
    paths: NodePaths,
    passphrase: bytes | None,
    capture: CaptureSettings | None,
    trace_level: str = "Detailed",
) -> None:
    node = Node(paths, passphrase=passphrase, capture=capture)
    node.trace.set_level(trace_level)
    await node.start()
    control = ControlServer(node, paths.control_socket)
    await control.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, node.stopped.set)
    paths.pid_file.write_text(f"{os.getpid()}\n")
    status = node.status()
    print(
        json.dumps({"event": "ready", "node": status["node"], "listeners": status["listeners"]}),
        flush=True,
    )
    try:
        await node.stopped.wait()
    finally:
        node.stopped.clear()
        # Stop the node first: its calls end with BYE, so a pending 'node call'
        # still gets its report before the control socket closes.
        await node.stop()
        await asyncio.sleep(0.1)
        await control.stop()
        with contextlib.suppress(FileNotFoundError):
            paths.pid_file.unlink()


class TraceLevel(StrEnum):
    """The trace levels, lowest first."""

    DETAILED = "Detailed"
    APPINFO = "AppInfo"
    WARNING = "Warning"
    ERROR = "Error"


@app.command("run")
def run(
    node_dir: NodeDir,
    store_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            help="File whose first line is the passphrase of the node's encrypted private keys."
        ),
    ] = None,
    capture: Annotated[
        Path | None,
        typer.Option(
            help="Write the node's SIP traffic to this pcapng file, TLS secrets embedded, "
            "so Wireshark and tshark show the SIP inside the TLS."
        ),
    ] = None,
    capture_host: Annotated[
        str | None, typer.Option(help="Capture only packets to or from this IP address.")
    ] = None,
    capture_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Capture only this TCP or UDP port.")
    ] = None,
    capture_count: Annotated[
        int | None, typer.Option(min=1, help="Stop capturing after this many packets.")
    ] = None,
    trace_level: Annotated[
        TraceLevel,
        typer.Option(
            case_sensitive=False,
            help="Lowest trace level written; Detailed writes every SIP message.",
        ),
    ] = TraceLevel.DETAILED,
) -> None:
    """Run the node in the foreground until SIGTERM, SIGINT or a shutdown request."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic announces its SQLite context at INFO on every start; keep its warnings only.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = None
    if capture is not None:
        settings = CaptureSettings(capture, capture_host, capture_port, capture_count)
    else:
        # The capture tap needs the standard event loop; without capture, use uvloop.
        _install_event_loop()
    passphrase = None
    if store_passphrase_file is not None:
        try:
            lines = store_passphrase_file.read_text(encoding="utf-8").splitlines()
            passphrase = lines[0].encode()
        except (OSError, IndexError) as exc:
            err_console.print(
                _("Cannot read a passphrase from {path}: {error}").format(
                    path=store_passphrase_file, error=exc or "empty file"
                )
            )
            raise typer.Exit(2) from exc
    try:
        asyncio.run(_serve(NodePaths(node_dir), passphrase, settings, str(trace_level)))
    except (NodeStartError, TlsConfigurationError, PkiError) as exc:
        err_console.print(f"[red]{_('Error')}:[/red] {exc}")
        raise typer.Exit(1) from exc


@app.command("status")
def status(node_dir: NodeDir) -> None:
    """Show a running node's listeners, trunk connections and refused connections."""
    try:
        result = control_request(
            NodePaths(node_dir).control_socket, {"op": "status"}, wait=STARTUP_WAIT
        )
    except ControlError as exc:
        err_console.print(f"[red]{_('Error')}:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print_json(data=result)


@app.command("registrations")
def registrations(
    node_dir: NodeDir,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the SIP phones registered with a running node."""
    try:
        result = control_request(
            NodePaths(node_dir).control_socket, {"op": "registrations"}, wait=STARTUP_WAIT
        )
    except ControlError as exc:
        err_console.print(f"[red]{_('Error')}:[/red] {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        console.print_json(data=result)
        return
    if not result:
        console.print(_("No phone is registered."))
        return
    table = Table(title=_("Registered phones"))
    for column in (
        _("Number"),
        _("Phone"),
        _("Contact"),
        _("Transport"),
        _("From"),
        _("Expires in"),
        _("User agent"),
    ):
        table.add_column(column)
    for item in result:
        table.add_row(
            str(item["number"]),
            str(item["phone"]),
            str(item["contact"]),
            str(item["transport"]),
            str(item["source"]),
            f"{item['expires_in']} s",
            str(item["user_agent"]),
        )
    console.print(table)


@app.command("call")
def call(
    node_dir: NodeDir,
    calling: Annotated[str, typer.Option("--from", help="Local directory number that calls.")],
    dialled: Annotated[str, typer.Option("--to", help="Digits it dials.")],
    hold: Annotated[
        float, typer.Option(min=0, max=3600, help="Seconds the call stays up before BYE.")
    ] = 1.0,
) -> None:
    """Place a call from a running node's virtual phone and print its report as JSON."""
    try:
        result = control_request(
            NodePaths(node_dir).control_socket,
            {"op": "call", "from": calling, "to": dialled, "hold": hold},
            timeout=hold + 60,
            wait=STARTUP_WAIT,
        )
    except ControlError as exc:
        err_console.print(f"[red]{_('Error')}:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print_json(data=result)
    if result.get("state") != "cleared":
        raise typer.Exit(1)


@app.command("stop")
def stop(node_dir: NodeDir) -> None:
    """Ask a running node to stop."""
    try:
        control_request(NodePaths(node_dir).control_socket, {"op": "shutdown"})
    except ControlError as exc:
        err_console.print(f"[red]{_('Error')}:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(_("The node in {dir} is stopping.").format(dir=node_dir), highlight=False)
