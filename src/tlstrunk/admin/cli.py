"""The ``tlstrunk`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from tlstrunk import __version__
from tlstrunk.admin import (
    bench_cmd,
    ca_cmd,
    cdr_cmd,
    cert_cmd,
    config_cmd,
    doctor_cmd,
    export_cmd,
    node_cmd,
    phone_cmd,
    sip_cmd,
    trace_cmd,
    web_cmd,
)
from tlstrunk.i18n import set_language
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
# "node set" lives with the phone commands: it also sets the realm and phone ports.
node_cmd.app.command("set")(phone_cmd.node_set)
app.add_typer(node_cmd.app, name="node")
app.add_typer(sip_cmd.app, name="sip")
app.add_typer(doctor_cmd.app, name="doctor")
app.add_typer(trace_cmd.app, name="trace")
app.add_typer(cdr_cmd.app, name="cdr")
app.add_typer(phone_cmd.phone_app, name="phone")
app.add_typer(phone_cmd.digestuser_app, name="digestuser")
app.add_typer(web_cmd.app, name="web")
app.add_typer(export_cmd.app, name="config")
app.add_typer(bench_cmd.app, name="bench")
app.command("demo")(demo_cmd.demo)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def choose_language(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the tlstrunk version and exit.",
        ),
    ] = False,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="Language of messages: en or ja. The default follows TLSTRUNK_LANG or the locale.",
        ),
    ] = None,
) -> None:
    """Run SIP call control with mutually authenticated TLS trunks between clusters."""
    if lang is None:
        return
    try:
        set_language(lang)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


@app.command("version")
def version() -> None:
    """Print the tlstrunk version."""
    typer.echo(__version__)


def main() -> None:
    """Run the command line."""
    app()
