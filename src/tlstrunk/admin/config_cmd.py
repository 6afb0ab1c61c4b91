"""Configuration commands: ``profile``, ``trunk``, ``routegroup``, ``routelist``, ``route``,
``dn``, ``partition``, ``css``.

Phones, digest users and the node's phone settings are in ``phone_cmd``.

Each command takes ``--node-dir DIR`` and works on ``DIR/config.db``. A running
node picks up changes when it reloads its configuration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tlstrunk.callcontrol.digits import AnalysisResult, partition_label, transform_called
from tlstrunk.config.enums import (
    AnswerMode,
    ConsiderTrafficSecure,
    DeviceSecurityMode,
    DiscardDigits,
    Distribution,
    IncomingTransport,
    TlsPolicy,
    Transport,
)
from tlstrunk.config.errors import ConfigError
from tlstrunk.config.snapshot import ConfigSnapshot, RouteTarget
from tlstrunk.config.store import ConfigStore
from tlstrunk.config.validate import legacy_policy_warning
from tlstrunk.config.values import (
    DEFAULT_NO_ANSWER_TIMEOUT,
    DEFAULT_SIP_PORT,
    DEFAULT_SIP_TLS_PORT,
    Destination,
    DirectoryNumberConfig,
    RouteGroupConfig,
    RouteListConfig,
    RoutePatternConfig,
    SecurityProfileConfig,
    TrunkConfig,
    TrunkSpec,
)
from tlstrunk.i18n import _, ngettext
from tlstrunk.paths import NodePaths

__all__ = [
    "css_app",
    "dn_app",
    "partition_app",
    "profile_app",
    "route_app",
    "routegroup_app",
    "routelist_app",
    "trunk_app",
]

profile_app = typer.Typer(help="SIP trunk security profiles.", no_args_is_help=True)
trunk_app = typer.Typer(help="SIP trunks.", no_args_is_help=True)
route_app = typer.Typer(help="Route patterns and digit analysis.", no_args_is_help=True)
routegroup_app = typer.Typer(help="Route groups: ordered lists of trunks.", no_args_is_help=True)
routelist_app = typer.Typer(
    help="Route lists: ordered lists of route groups.", no_args_is_help=True
)
dn_app = typer.Typer(help="Directory numbers (virtual phones).", no_args_is_help=True)
partition_app = typer.Typer(help="Route partitions.", no_args_is_help=True)
css_app = typer.Typer(help="Calling search spaces.", no_args_is_help=True)

console = Console()
err_console = Console(stderr=True)

NodeDir = Annotated[
    Path,
    typer.Option("--node-dir", "--dir", help="The node's directory, which contains config.db."),
]
Description = Annotated[str, typer.Option(help="Free text display in lists.")]
PartitionOption = Annotated[
    str | None, typer.Option("--partition", help="Partition; omit for <None>.")
]
CssOption = Annotated[str | None, typer.Option("--css", help="Calling search space name.")]
SrvOption = Annotated[
    bool,
    typer.Option(
        "--srv/--no-srv",
        help="Look the destinations up as DNS SRV domains; a domain without :PORT takes "
        "its port from the SRV records.",
    ),
]
InboundDigestUser = Annotated[
    str | None,
    typer.Option(
        help="Digest user the far end must authenticate as, when the profile enables digest "
        "authentication."
    ),
]
OutboundDigestUser = Annotated[
    str | None,
    typer.Option(help="Digest user that responds to the far end's 401 or 407 challenges."),
]
NoAnswerTimeout = Annotated[
    int, typer.Option(help="Seconds the phones ring before the call fails with 480, 1 to 300.")
]


def _fail(message: str) -> NoReturn:
    err_console.print(f"[red]{_('Error')}:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(1)


@contextmanager
def _open_store(node_dir: Path, *, create: bool = False) -> Iterator[ConfigStore]:
    """Open the node's store; turn configuration errors into a message and exit code 1."""
    path = NodePaths(node_dir).config_db
    if not create and not path.exists():
        _fail(
            _(
                "No configuration database at {path}; check --node-dir or add "
                "configuration to that node first."
            ).format(path=path)
        )
    store = ConfigStore(path)
    try:
        yield store
    except ConfigError as error:
        _fail(str(error))
    finally:
        store.close()


def _add_row(table: Table, *cells: str) -> None:
    # Text cells are display as typed: a partition named "[bold]" stays literal
    table.add_row(*(Text(cell) for cell in cells))


def _yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


# --- profile --------------------------------------------------------------


@profile_app.command("add")
def profile_add(
    node_dir: NodeDir,
    name: Annotated[str, typer.Argument(help="Profile name.")],
    device_security_mode: Annotated[
        DeviceSecurityMode, typer.Option("--mode", case_sensitive=False)
    ] = DeviceSecurityMode.NON_SECURE,
    incoming_transport: Annotated[
        IncomingTransport, typer.Option("--incoming-transport", case_sensitive=False)
    ] = IncomingTransport.TCP_UDP,
    outgoing_transport: Annotated[
        Transport, typer.Option("--outgoing-transport", case_sensitive=False)
    ] = Transport.TCP,
    x509_subject_name: Annotated[
        str, typer.Option(help="Peer certificate names, separated by spaces, commas or ';'.")
    ] = "",
    incoming_port: Annotated[int, typer.Option(help="Port to listen on (5061 for TLS).")] = 5060,
    transmit_security_status: Annotated[bool, typer.Option()] = False,
    digest_authentication: Annotated[bool, typer.Option()] = False,
    nonce_validity_time: Annotated[
        int, typer.Option(help="Digest nonce validity in minutes.")
    ] = 600,
    application_level_authorization: Annotated[bool, typer.Option()] = False,
    accept_presence_subscription: Annotated[bool, typer.Option()] = False,
    accept_out_of_dialog_refer: Annotated[bool, typer.Option()] = False,
    accept_unsolicited_notification: Annotated[bool, typer.Option()] = False,
    accept_replaces_header: Annotated[bool, typer.Option()] = False,
    allow_charging_header: Annotated[bool, typer.Option()] = False,
    sdp_offer_filtering: Annotated[
        str, typer.Option(help="SIP V.150 outbound SDP offer filtering.")
    ] = "Use Default Filter",
    tls_policy: Annotated[
        TlsPolicy,
        typer.Option(
            case_sensitive=False,
            help="modern (TLS 1.2+, RSA 2048+, SHA-256+) or legacy (adds TLS 1.0, RSA 1024, "
            "SHA-1; only for old clusters).",
        ),
    ] = TlsPolicy.MODERN,
    description: Description = "",
) -> None:
    """Add a SIP trunk security profile."""
    profile = SecurityProfileConfig(
        name=name,
        description=description,
        device_security_mode=device_security_mode,
        incoming_transport=incoming_transport,
        outgoing_transport=outgoing_transport,
        enable_digest_authentication=digest_authentication,
        nonce_validity_time=nonce_validity_time,
        x509_subject_name=x509_subject_name,
        incoming_port=incoming_port,
        transmit_security_status=transmit_security_status,
        enable_application_level_authorization=application_level_authorization,
        accept_presence_subscription=accept_presence_subscription,
        accept_out_of_dialog_refer=accept_out_of_dialog_refer,
        accept_unsolicited_notification=accept_unsolicited_notification,
        accept_replaces_header=accept_replaces_header,
        allow_charging_header=allow_charging_header,
        sip_v150_outbound_sdp_offer_filtering=sdp_offer_filtering,
        tls_policy=tls_policy,
    )
    with _open_store(node_dir, create=True) as store:
        store.add_security_profile(profile)
    console.print(_("Added security profile {name}.").format(name=name), highlight=False)
    _warn_legacy(profile)


@profile_app.command("list")
def profile_list(node_dir: NodeDir) -> None:
    """List the security profiles."""
    with _open_store(node_dir) as store:
        profiles = store.list_security_profiles()
    table = Table(title=_("SIP trunk security profiles"))
    for column in (_("Name"), _("Mode"), _("In"), _("Out"), _("Port"), _("X.509 subject name")):
        table.add_column(column)
    for profile in profiles:
        _add_row(
            table,
            profile.name,
            profile.device_security_mode.value,
            profile.incoming_transport.value,
            profile.outgoing_transport.value,
            str(profile.incoming_port),
            profile.x509_subject_name,
        )
    console.print(table)


@profile_app.command("show")
def profile_show(node_dir: NodeDir, name: str) -> None:
    """Show every setting of one security profile."""
    with _open_store(node_dir) as store:
        profile = store.get_security_profile(name)
    table = Table(title=_("Security profile {name}").format(name=name), show_header=False)
    table.add_column(_("Setting"))
    table.add_column(_("Value"))
    for key, value in vars(profile).items():
        display = _yes_no(value) if isinstance(value, bool) else str(value)
        _add_row(table, key.replace("_", " "), display)
    console.print(table)
    _warn_legacy(profile)


def _warn_legacy(profile: SecurityProfileConfig) -> None:
    if profile.tls_policy is TlsPolicy.LEGACY:
        err_console.print(legacy_policy_warning(profile.name), highlight=False)


@profile_app.command("delete")
def profile_delete(node_dir: NodeDir, name: str) -> None:
    """Delete a security profile that no trunk uses."""
    with _open_store(node_dir) as store:
        store.delete_security_profile(name)
    console.print(_("Deleted security profile {name}.").format(name=name), highlight=False)


# --- trunk ----------------------------------------------------------------


def parse_destination(
    text: str, *, srv: bool = False, default_port: int = DEFAULT_SIP_PORT
) -> Destination:
    """Parse "ADDRESS:PORT", "[IPv6]:PORT" or a bare address (``default_port``, or 0 with ``srv``).

    Port 0 on an SRV trunk means "take the port from the SRV records".
    """
    host, port_text = text, ""
    if text.startswith("["):
        host, _sep, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _sep, port_text = text.partition(":")
    # more than one colon without brackets is a bare IPv6 address
    if not port_text:
        return Destination(host, 0 if srv else default_port)
    if not port_text.isdigit():
        raise ConfigError(
            _(
                "Destination {text!r} has port {port!r}, which is not a number; write "
                "ADDRESS:PORT, for example 127.0.0.200:5061."
            ).format(text=text, port=port_text)
        )
    return Destination(host, int(port_text))


def _default_port(store: ConfigStore, profile: str) -> int:
    """Return the port a destination without one gets: 5061 when the profile sends over TLS."""
    try:
        outgoing = store.get_security_profile(profile).outgoing_transport
    except ConfigError:
        return DEFAULT_SIP_PORT  # the writer names the missing profile
    return DEFAULT_SIP_TLS_PORT if outgoing is Transport.TLS else DEFAULT_SIP_PORT


@trunk_app.command("add")
def trunk_add(
    node_dir: NodeDir,
    name: Annotated[str, typer.Argument(help="Trunk (device) name.")],
    profile: Annotated[str, typer.Option("--profile", help="Security profile name.")],
    destination: Annotated[
        list[str], typer.Option("--destination", help="ADDRESS:PORT; repeat for up to 16.")
    ],
    srtp_allowed: Annotated[bool, typer.Option(help="Allow SRTP keys in SDP.")] = False,
    consider_traffic_secure: Annotated[
        ConsiderTrafficSecure, typer.Option(case_sensitive=False)
    ] = ConsiderTrafficSecure.SRTP_AND_TLS,
    css: Annotated[
        str | None, typer.Option("--css", help="Calling search space for inbound calls.")
    ] = None,
    options_ping: Annotated[
        bool, typer.Option(help="Send SIP OPTIONS to the destinations to see whether they are up.")
    ] = False,
    options_ping_interval: Annotated[
        int, typer.Option(help="Seconds between OPTIONS requests, from 5 to 3600.")
    ] = 60,
    srv: SrvOption = False,
    inbound_digest_user: InboundDigestUser = None,
    outbound_digest_user: OutboundDigestUser = None,
    device_pool: str = "Default",
    location: str = "Hub_None",
    description: Description = "",
) -> None:
    """Add a SIP trunk."""
    with _open_store(node_dir, create=True) as store:
        port = _default_port(store, profile)
        spec = TrunkSpec(
            name=name,
            security_profile=profile,
            destinations=tuple(
                parse_destination(text, srv=srv, default_port=port) for text in destination
            ),
            description=description,
            device_pool=device_pool,
            location=location,
            srtp_allowed=srtp_allowed,
            consider_traffic_secure=consider_traffic_secure,
            css=css,
            options_ping=options_ping,
            options_ping_interval=options_ping_interval,
            destination_is_srv=srv,
            inbound_digest_user=inbound_digest_user,
            outbound_digest_user=outbound_digest_user,
        )
        store.add_trunk(spec)
    console.print(_("Added trunk {name}.").format(name=name), highlight=False)


def _changed(value: str | None, current: str | None) -> str | None:
    """Return the new value of an option where "" clears the setting and None keeps it."""
    if value is None:
        return current
    return value or None


@trunk_app.command("set")
def trunk_set(
    node_dir: NodeDir,
    name: Annotated[str, typer.Argument(help="Name of the trunk to change.")],
    profile: Annotated[str | None, typer.Option("--profile", help="Security profile name.")] = None,
    destination: Annotated[
        list[str] | None,
        typer.Option("--destination", help="ADDRESS:PORT; repeat for up to 16. Replaces all."),
    ] = None,
    srtp_allowed: Annotated[
        bool | None, typer.Option("--srtp-allowed/--no-srtp-allowed", help="Allow SRTP keys.")
    ] = None,
    consider_traffic_secure: Annotated[
        ConsiderTrafficSecure | None, typer.Option(case_sensitive=False)
    ] = None,
    css: Annotated[
        str | None,
        typer.Option("--css", help='Calling search space for inbound calls; "" for none.'),
    ] = None,
    options_ping: Annotated[
        bool | None,
        typer.Option(
            "--options-ping/--no-options-ping",
            help="Send SIP OPTIONS to the destinations, or stop.",
        ),
    ] = None,
    options_ping_interval: Annotated[
        int | None, typer.Option(help="Seconds between OPTIONS requests, from 5 to 3600.")
    ] = None,
    srv: Annotated[
        bool | None,
        typer.Option("--srv/--no-srv", help="Look the destinations up as DNS SRV domains, or not."),
    ] = None,
    inbound_digest_user: Annotated[
        str | None,
        typer.Option(help='Digest user the far end must authenticate as; "" for none.'),
    ] = None,
    outbound_digest_user: Annotated[
        str | None,
        typer.Option(help='Digest user that responds to the far end\'s challenges; "" for none.'),
    ] = None,
    device_pool: Annotated[str | None, typer.Option()] = None,
    location: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option(help="Free text shown in lists.")] = None,
) -> None:
    """Change settings of a SIP trunk; options left out keep their values."""
    with _open_store(node_dir) as store:
        old = store.get_trunk(name).to_spec()
        is_srv = old.destination_is_srv if srv is None else srv
        destinations = old.destinations
        if destination:
            port = _default_port(store, profile or old.security_profile)
            destinations = tuple(
                parse_destination(text, srv=is_srv, default_port=port) for text in destination
            )
        spec = dataclasses.replace(
            old,
            security_profile=profile or old.security_profile,
            destinations=destinations,
            srtp_allowed=old.srtp_allowed if srtp_allowed is None else srtp_allowed,
            consider_traffic_secure=consider_traffic_secure or old.consider_traffic_secure,
            css=_changed(css, old.css),
            options_ping=old.options_ping if options_ping is None else options_ping,
            options_ping_interval=old.options_ping_interval
            if options_ping_interval is None
            else options_ping_interval,
            destination_is_srv=is_srv,
            inbound_digest_user=_changed(inbound_digest_user, old.inbound_digest_user),
            outbound_digest_user=_changed(outbound_digest_user, old.outbound_digest_user),
            device_pool=device_pool or old.device_pool,
            location=location or old.location,
            description=old.description if description is None else description,
        )
        store.update_trunk(spec)
    console.print(_("Changed trunk {name}.").format(name=name), highlight=False)


@trunk_app.command("list")
def trunk_list(node_dir: NodeDir) -> None:
    """List the SIP trunks."""
    with _open_store(node_dir) as store:
        trunks = store.list_trunks()
    table = Table(title=_("SIP trunks"))
    for column in (
        _("Name"),
        _("Destinations"),
        _("Security profile"),
        _("SRTP allowed"),
        _("OPTIONS ping"),
    ):
        table.add_column(column)
    for trunk in trunks:
        _add_row(
            table,
            trunk.name,
            ", ".join(str(d) for d in trunk.destinations),
            trunk.profile.name,
            _yes_no(trunk.srtp_allowed),
            _options_ping_label(trunk),
        )
    console.print(table)


def _options_ping_label(trunk: TrunkConfig) -> str:
    if not trunk.options_ping:
        return _("off")
    return _("every {seconds} s").format(seconds=trunk.options_ping_interval)


@trunk_app.command("show")
def trunk_show(node_dir: NodeDir, name: str) -> None:
    """Show every setting of one trunk."""
    with _open_store(node_dir) as store:
        trunk = store.get_trunk(name)
    table = Table(title=_("Trunk {name}").format(name=name), show_header=False)
    table.add_column(_("Setting"))
    table.add_column(_("Value"))
    for key, value in vars(trunk.to_spec()).items():
        if key == "destinations":
            display = ", ".join(str(d) for d in trunk.destinations)
        elif key == "options_ping_interval":
            display = _("{seconds} s").format(seconds=value)
        elif isinstance(value, bool):
            display = _yes_no(value)
        else:
            display = "" if value is None else str(value)
        _add_row(table, key.replace("_", " "), display)
    _add_row(table, _("sends SRTP keys"), _yes_no(trunk.sends_srtp_keys))
    console.print(table)


@trunk_app.command("delete")
def trunk_delete(node_dir: NodeDir, name: str) -> None:
    """Delete a trunk that no route pattern points at."""
    with _open_store(node_dir) as store:
        store.delete_trunk(name)
    console.print(_("Deleted trunk {name}.").format(name=name), highlight=False)


# --- route groups and route lists ------------------------------------------


@routegroup_app.command("add")
def routegroup_add(
    node_dir: NodeDir,
    name: Annotated[str, typer.Argument(help="Route group name.")],
    trunk: Annotated[
        list[str], typer.Option("--trunk", help="Trunk; repeat in the order calls try them.")
    ],
    distribution: Annotated[
        Distribution, typer.Option(case_sensitive=False, help="Top Down or Circular.")
    ] = Distribution.TOP_DOWN,
    description: Description = "",
) -> None:
    """Add a route group of existing trunks."""
    group = RouteGroupConfig(name, tuple(trunk), distribution, description)
    with _open_store(node_dir, create=True) as store:
        store.add_route_group(group)
    console.print(
        _("Added route group {name} with trunks {trunks}.").format(
            name=name, trunks=", ".join(trunk)
        ),
        markup=False,
        highlight=False,
    )


@routegroup_app.command("list")
def routegroup_list(node_dir: NodeDir) -> None:
    """List the route groups with their trunks in order."""
    with _open_store(node_dir) as store:
        groups = store.list_route_groups()
    table = Table(title=_("Route groups"))
    for column in (_("Name"), _("Distribution"), _("Trunks"), _("Description")):
        table.add_column(column)
    for group in groups:
        _add_row(
            table, group.name, group.distribution.value, ", ".join(group.trunks), group.description
        )
    console.print(table, markup=False)


@routegroup_app.command("delete")
def routegroup_delete(node_dir: NodeDir, name: str) -> None:
    """Delete a route group that no route list contains."""
    with _open_store(node_dir) as store:
        store.delete_route_group(name)
    console.print(_("Deleted route group {name}.").format(name=name), markup=False)


@routelist_app.command("add")
def routelist_add(
    node_dir: NodeDir,
    name: Annotated[str, typer.Argument(help="Route list name.")],
    route_group: Annotated[
        list[str],
        typer.Option("--route-group", help="Route group; repeat in the order calls try them."),
    ],
    description: Description = "",
) -> None:
    """Add a route list of existing route groups."""
    with _open_store(node_dir, create=True) as store:
        store.add_route_list(RouteListConfig(name, tuple(route_group), description))
    console.print(
        _("Added route list {name} with route groups {groups}.").format(
            name=name, groups=", ".join(route_group)
        ),
        markup=False,
        highlight=False,
    )


@routelist_app.command("list")
def routelist_list(node_dir: NodeDir) -> None:
    """List the route lists with their route groups in order."""
    with _open_store(node_dir) as store:
        lists = store.list_route_lists()
    table = Table(title=_("Route lists"))
    for column in (_("Name"), _("Route groups"), _("Description")):
        table.add_column(column)
    for route_list in lists:
        _add_row(table, route_list.name, ", ".join(route_list.route_groups), route_list.description)
    console.print(table, markup=False)


@routelist_app.command("delete")
def routelist_delete(node_dir: NodeDir, name: str) -> None:
    """Delete a route list that no route pattern points at."""
    with _open_store(node_dir) as store:
        store.delete_route_list(name)
    console.print(_("Deleted route list {name}.").format(name=name), markup=False)


# --- route ----------------------------------------------------------------


@route_app.command("add")
def route_add(
    node_dir: NodeDir,
    pattern: Annotated[str, typer.Argument(help="Route pattern, such as 9898 or 9.1[2-9]XX.")],
    trunk: Annotated[
        str | None, typer.Option("--trunk", help="Trunk that matching calls leave by.")
    ] = None,
    route_list: Annotated[
        str | None,
        typer.Option("--route-list", help="Route list whose trunks matching calls try in order."),
    ] = None,
    partition: PartitionOption = None,
    discard_digits: Annotated[
        DiscardDigits,
        typer.Option(
            case_sensitive=False,
            help="PreDot removes the digits before the pattern's '.'; None keeps them.",
        ),
    ] = DiscardDigits.NONE,
    prefix_digits: Annotated[
        str, typer.Option(help="Digits to prepend to the called number.")
    ] = "",
    called_party_mask: Annotated[
        str, typer.Option(help="Right-aligned mask such as 972XXXX; X keeps a dialled digit.")
    ] = "",
    description: Description = "",
) -> None:
    """Add a route pattern pointing at a trunk or a route list."""
    with _open_store(node_dir, create=True) as store:
        store.add_route_pattern(
            pattern,
            trunk,
            partition,
            description,
            route_list=route_list,
            discard_digits=discard_digits,
            prefix_digits=prefix_digits,
            called_party_mask=called_party_mask,
        )
    target = (
        _("trunk {name}").format(name=trunk)
        if route_list is None
        else _("route list {name}").format(name=route_list)
    )
    console.print(
        _("Added route pattern {pattern} in partition {partition} to {target}.").format(
            pattern=pattern, partition=partition_label(partition), target=target
        ),
        highlight=False,
        markup=False,
    )


@route_app.command("list")
def route_list_command(node_dir: NodeDir) -> None:
    """List the route patterns."""
    with _open_store(node_dir) as store:
        routes = store.list_route_patterns()
    table = Table(title=_("Route patterns"))
    for column in (
        _("Pattern"),
        _("Partition"),
        _("Target"),
        _("Called party"),
        _("Description"),
    ):
        table.add_column(column)
    for route in routes:
        _add_row(
            table,
            route.pattern,
            partition_label(route.partition),
            _route_target_label(route),
            _transform_label(route),
            route.description,
        )
    console.print(table, markup=False)


def _route_target_label(route: RoutePatternConfig) -> str:
    if route.route_list is not None:
        return _("route list {name}").format(name=route.route_list)
    return _("trunk {name}").format(name=route.trunk)


def _transform_label(route: RoutePatternConfig) -> str:
    parts = []
    if route.discard_digits is not DiscardDigits.NONE:
        parts.append(_("discard {instruction}").format(instruction=route.discard_digits.value))
    if route.called_party_mask:
        parts.append(_("mask {mask}").format(mask=route.called_party_mask))
    if route.prefix_digits:
        parts.append(_("prefix {digits}").format(digits=route.prefix_digits))
    return ", ".join(parts)


@route_app.command("delete")
def route_delete(node_dir: NodeDir, pattern: str, partition: PartitionOption = None) -> None:
    """Delete a route pattern."""
    with _open_store(node_dir) as store:
        store.delete_route_pattern(pattern, partition)
    console.print(_("Deleted route pattern {pattern}.").format(pattern=pattern), markup=False)


@route_app.command("analyze")
def route_analyze(
    node_dir: NodeDir,
    digits: Annotated[str, typer.Argument(help="The dialled digits.")],
    css: CssOption = None,
) -> None:
    """Show which pattern dialled digits match, the other candidates, and where the call goes."""
    with _open_store(node_dir) as store:
        snapshot = store.load_snapshot()
        result = snapshot.analyze(digits, css)
    _print_analysis(snapshot, result, css)
    if result.matched is None:
        raise typer.Exit(1)


def _print_analysis(
    snapshot: ConfigSnapshot, result: AnalysisResult[RouteTarget], css: str | None
) -> None:
    searched = ", ".join(partition_label(p) for p in result.css)
    console.print(
        _("Digits {digits}, calling search space {css} (searches {partitions}).").format(
            digits=result.digits, css=css or _("none"), partitions=searched
        ),
        markup=False,
        highlight=False,
    )
    winner = result.matched
    if winner is None:
        console.print(_("No pattern matches these digits."), markup=False)
    else:
        console.print(
            ngettext(
                "Matched pattern {pattern} in partition {partition}: it matches {count} "
                "string of {length} digits.",
                "Matched pattern {pattern} in partition {partition}: it matches {count} "
                "strings of {length} digits.",
                winner.match_count,
            ).format(
                pattern=winner.pattern.text,
                partition=partition_label(winner.partition),
                count=winner.match_count,
                length=len(result.digits),
            ),
            markup=False,
            highlight=False,
        )
        called = transform_called(winner, result.digits)
        if called != result.digits:
            console.print(
                _("Called number after transformations: {called}.").format(called=called),
                markup=False,
                highlight=False,
            )
        console.print(_describe_target(snapshot, winner.target), markup=False, highlight=False)
    losers = result.candidates[1:]
    if losers:
        table = Table(title=_("Other candidates"))
        for column in (_("Pattern"), _("Partition"), _("Matches"), _("Why it lost")):
            table.add_column(column)
        for match in losers:
            _add_row(
                table,
                match.pattern.text,
                partition_label(match.partition),
                str(match.match_count),
                result.loss_reason(match),
            )
        console.print(table, markup=False)
    if result.could_match_more:
        console.print(
            _("More digits could still match a longer pattern."), markup=False, highlight=False
        )


def _describe_target(snapshot: ConfigSnapshot, target: RouteTarget) -> str:
    kind, name = target
    if kind == "dn":
        return _("The call goes to directory number {number} on this node.").format(number=name)
    if kind == "route_list":
        lines = [
            _("The call goes to route list {name}, which tries these trunks in order:").format(
                name=name
            )
        ]
        for position, trunk in enumerate(snapshot.route_list_trunks(name), start=1):
            lines.append(f"  {position}. {_describe_trunk(trunk)}")
        return "\n".join(lines)
    return _describe_trunk(snapshot.trunks[name])


def _describe_trunk(trunk: TrunkConfig) -> str:
    return _(
        "The call leaves by trunk {trunk} to {destinations} over {transport} "
        "(profile {profile}, {mode})."
    ).format(
        trunk=trunk.name,
        destinations=", ".join(str(d) for d in trunk.destinations),
        transport=trunk.profile.outgoing_transport.value,
        profile=trunk.profile.name,
        mode=trunk.profile.device_security_mode.value,
    )


# --- dn -------------------------------------------------------------------


@dn_app.command("add")
def dn_add(
    node_dir: NodeDir,
    number: Annotated[str, typer.Argument(help="The directory number, such as 1018.")],
    partition: PartitionOption = None,
    answer_mode: Annotated[AnswerMode, typer.Option(case_sensitive=False)] = AnswerMode.AUTO,
    css: CssOption = None,
    no_answer_timeout: NoAnswerTimeout = DEFAULT_NO_ANSWER_TIMEOUT,
    description: Description = "",
) -> None:
    """Add a directory number with a virtual phone."""
    with _open_store(node_dir, create=True) as store:
        store.add_directory_number(
            number, partition, description, answer_mode, css, no_answer_timeout
        )
    console.print(_("Added directory number {number}.").format(number=number), markup=False)


@dn_app.command("set")
def dn_set(
    node_dir: NodeDir,
    number: Annotated[str, typer.Argument(help="The directory number to change.")],
    partition: PartitionOption = None,
    answer_mode: Annotated[AnswerMode | None, typer.Option(case_sensitive=False)] = None,
    css: Annotated[
        str | None, typer.Option("--css", help='Calling search space; "" for none.')
    ] = None,
    no_answer_timeout: Annotated[
        int | None,
        typer.Option(help="Seconds the phones ring before the call fails with 480, 1 to 300."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="Free text shown in lists.")] = None,
) -> None:
    """Change settings of a directory number; options left out keep their values."""
    with _open_store(node_dir) as store:
        old = _find_number(store, number, partition)
        store.update_directory_number(
            dataclasses.replace(
                old,
                answer_mode=answer_mode or old.answer_mode,
                css=_changed(css, old.css),
                no_answer_timeout=old.no_answer_timeout
                if no_answer_timeout is None
                else no_answer_timeout,
                description=old.description if description is None else description,
            )
        )
    console.print(_("Changed directory number {number}.").format(number=number), markup=False)


def _find_number(store: ConfigStore, number: str, partition: str | None) -> DirectoryNumberConfig:
    for entry in store.list_directory_numbers():
        if entry.number == number and entry.partition == partition:
            return entry
    raise ConfigError(
        _(
            "Directory number {number} in partition {partition} does not exist; check the "
            "number and --partition."
        ).format(number=number, partition=partition_label(partition))
    )


@dn_app.command("list")
def dn_list(node_dir: NodeDir) -> None:
    """List the directory numbers."""
    with _open_store(node_dir) as store:
        numbers = store.list_directory_numbers()
    table = Table(title=_("Directory numbers"))
    for column in (
        _("Number"),
        _("Partition"),
        _("Answer"),
        _("CSS"),
        _("No answer"),
        _("Description"),
    ):
        table.add_column(column)
    for entry in numbers:
        _add_row(
            table,
            entry.number,
            partition_label(entry.partition),
            entry.answer_mode.value,
            entry.css or "",
            _("{seconds} s").format(seconds=entry.no_answer_timeout),
            entry.description,
        )
    console.print(table, markup=False)


@dn_app.command("delete")
def dn_delete(node_dir: NodeDir, number: str, partition: PartitionOption = None) -> None:
    """Delete a directory number."""
    with _open_store(node_dir) as store:
        store.delete_directory_number(number, partition)
    console.print(_("Deleted directory number {number}.").format(number=number), markup=False)


# --- partition and css ----------------------------------------------------


@partition_app.command("add")
def partition_add(node_dir: NodeDir, name: str, description: Description = "") -> None:
    """Add a route partition."""
    with _open_store(node_dir, create=True) as store:
        store.add_partition(name, description)
    console.print(_("Added partition {name}.").format(name=name), markup=False)


@partition_app.command("list")
def partition_list(node_dir: NodeDir) -> None:
    """List the route partitions."""
    with _open_store(node_dir) as store:
        partitions = store.list_partitions()
    table = Table(title=_("Partitions"))
    table.add_column(_("Name"))
    table.add_column(_("Description"))
    for partition in partitions:
        _add_row(table, partition.name, partition.description)
    console.print(table, markup=False)


@css_app.command("add")
def css_add(
    node_dir: NodeDir,
    name: str,
    partition: Annotated[
        list[str] | None, typer.Option("--partition", help="Partition; repeat in search order.")
    ] = None,
    description: Description = "",
) -> None:
    """Add a calling search space."""
    with _open_store(node_dir, create=True) as store:
        store.add_css(name, partition or [], description)
    console.print(_("Added calling search space {name}.").format(name=name), markup=False)


@css_app.command("list")
def css_list(node_dir: NodeDir) -> None:
    """List the calling search spaces with their partitions in search order."""
    with _open_store(node_dir) as store:
        spaces = store.list_css()
    table = Table(title=_("Calling search spaces"))
    table.add_column(_("Name"))
    table.add_column(_("Partitions"))
    table.add_column(_("Description"))
    for space in spaces:
        _add_row(table, space.name, ", ".join(space.partitions), space.description)
    console.print(table, markup=False)
