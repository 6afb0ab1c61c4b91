"""The ``tlstrunk`` command."""

from __future__ import annotations

import typer

from tlstrunk import __version__
from tlstrunk.admin import (
    ca_cmd,
    cdr_cmd,
    cert_cmd,
    config_cmd,
    doctor_cmd,
    node_cmd,
    sip_cmd,
    trace_cmd,
)
from tlstrunk.lab import demo_cmd

app = typer.Typer(
    help="SIP call control with mutually authenticated TLS trunks between clusters.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(ca_cmd.app, name="ca")
app.add_typer(cert_cmd.app, name="cert")
app.add_typer(config_cmd.profile_app, name="profile")
app.add_typer(config_cmd.trunk_app, name="trunk")
app.add_typer(config_cmd.routegroup_app, name="routegroup")
app.add_typer(config_cmd.routelist_app, name="routelist")
app.add_typer(config_cmd.route_app, name="route")
app.add_typer(config_cmd.dn_app, name="dn")
app.add_typer(config_cmd.partition_app, name="partition")
app.add_typer(config_cmd.css_app, name="css")
app.add_typer(node_cmd.app, name="node")
app.add_typer(sip_cmd.app, name="sip")
app.add_typer(doctor_cmd.app, name="doctor")
app.add_typer(trace_cmd.app, name="trace")
app.add_typer(cdr_cmd.app, name="cdr")
app.command("demo")(demo_cmd.demo)


@app.command("version")
def version() -> None:
    """Print the tlstrunk version."""
    typer.echo(__version__)


def main() -> None:
    """Run the command line."""
    app()
