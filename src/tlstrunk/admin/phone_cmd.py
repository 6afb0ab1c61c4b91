"""Commands for SIP phones: ``digestuser``, ``phone`` and the node's realm and phone ports.

Each command takes ``--node-dir DIR`` and works on ``DIR/config.db``, like the
other configuration commands. Passwords are hashed before they are stored and
are never printed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tlstrunk.admin.config_cmd import NodeDir, _changed, _fail, _open_store
from tlstrunk.callcontrol.digits import partition_label
from tlstrunk.config.enums import DeviceSecurityMode, IncomingTransport
from tlstrunk.config.store import ConfigStore
from tlstrunk.config.values import NodeConfig, PhoneConfig
from tlstrunk.i18n import _

__all__ = ["digestuser_app", "node_set", "phone_app"]

digestuser_app = typer.Typer(
    help="Digest users that phones and trunks authenticate as.", no_args_is_help=True
)
phone_app = typer.Typer(help="SIP phones that register with this node.", no_args_is_help=True)

console = Console()
err_console = Console(stderr=True)

RealmOption = Annotated[
    str | None,
    typer.Option("--realm", help="Digest realm; omit for the node's realm."),
]
PasswordFile = Annotated[
    Path | None,
    typer.Option(help="File whose first line is the password.", dir_okay=False),
]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        help="The password; prefer --password-file, because other local users can read "
        "command lines."
    ),
]


def _print(message: str) -> None:
    console.print(Text(message))


def _warn(message: str) -> None:
    err_console.print(Text(_("Warning: {message}").format(message=message)))


# --- digestuser -----------------------------------------------------------


def _read_password(password: str | None, password_file: Path | None, user: str) -> str:
    """Return the password from --password, --password-file or a hidden prompt, asked twice."""
    if password is not None and password_file is not None:
        _fail(_("Give --password or --password-file, not both."))
    if password is not None:
        return password
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            _fail(
                _("Cannot read the password file {path}: {error}.").format(
                    path=password_file, error=error.strerror
                )
            )
        return lines[0] if lines else ""
    text: str = typer.prompt(
        _("Password for digest user {user}").format(user=user),
        hide_input=True,
        confirmation_prompt=True,
    )
    return text


@digestuser_app.command("add")
def digestuser_add(
    node_dir: NodeDir,
    name: Annotated[str, typer.Argument(help="Digest user name.")],
    realm: RealmOption = None,
    password_file: PasswordFile = None,
    password: PasswordOption = None,
    description: Annotated[str, typer.Option(help="Free text shown in lists.")] = "",
) -> None:
    """Add a digest user; without --password or --password-file, ask for the password."""
    secret = _read_password(password, password_file, name)
    with _open_store(node_dir, create=True) as store:
        store.add_digest_user(name, secret, realm, description)
    _print(_("Added digest user {name}.").format(name=name))


@digestuser_app.command("set")
def digestuser_set(
    node_dir: NodeDir,
    name: Annotated[str, typer.Argument(help="Digest user name.")],
    realm: Annotated[
        str | None, typer.Option("--realm", help="Realm, when the name exists in several.")
    ] = None,
    password_file: PasswordFile = None,
    password: PasswordOption = None,
    description: Annotated[str | None, typer.Option(help="Free text shown in lists.")] = None,
) -> None:
    """Set a digest user's password or description; with neither, ask for the password."""
    secret = None
    if password is not None or password_file is not None or description is None:
        secret = _read_password(password, password_file, name)
    with _open_store(node_dir) as store:
        store.set_digest_user(name, realm=realm, password=secret, description=description)
    _print(_("Changed digest user {name}.").format(name=name))


@digestuser_app.command("list")
def digestuser_list(node_dir: NodeDir) -> None:
    """List the digest users; passwords and their hashes are never shown."""
    with _open_store(node_dir) as store:
        users = store.list_digest_users()
    table = Table(title=_("Digest users"))
    for column in (_("Name"), _("Realm"), _("Password"), _("Description")):
        table.add_column(column)
    for user in users:
        state = _("set") if user.has_password else _("must be set again")
        table.add_row(*(Text(cell) for cell in (user.name, user.realm, state, user.description)))
    console.print(table)


@digestuser_app.command("remove")
def digestuser_remove(
    node_dir: NodeDir,
    name: Annotated[str, typer.Argument(help="Digest user name.")],
    realm: Annotated[
        str | None, typer.Option("--realm", help="Realm, when the name exists in several.")
    ] = None,
) -> None:
    """Remove a digest user that no phone and no trunk uses."""
    with _open_store(node_dir) as store:
        store.delete_digest_user(name, realm)
    _print(_("Removed digest user {name}.").format(name=name))


# --- phone ----------------------------------------------------------------

SecurityModeOption = Annotated[
    DeviceSecurityMode | None,
    typer.Option(
        "--security-mode",
        case_sensitive=False,
        help="Non Secure, Authenticated or Encrypted; the last two need --transport TLS.",
    ),
]
TransportOption = Annotated[
    IncomingTransport | None,
    typer.Option("--transport", case_sensitive=False, help="TCP+UDP, TCP, UDP or TLS."),
]


@phone_app.command("add")
def phone_add(
    node_dir: NodeDir,
    name: Annotated[str, typer.Argument(help="Device name, such as SEP00AABBCCDDEE.")],
    dn: Annotated[str, typer.Option("--dn", help="Directory number of the phone's line.")],
    partition: Annotated[
        str | None, typer.Option(help="Partition of the directory number; omit for <None>.")
    ] = None,
    digest_user: Annotated[
        str | None,
        typer.Option(help="Digest user the phone authenticates as; omit for no authentication."),
    ] = None,
    security_mode: SecurityModeOption = None,
    transport: TransportOption = None,
    description: Annotated[str, typer.Option(help="Free text shown in lists.")] = "",
) -> None:
    """Add a SIP phone on an existing directory number."""
    phone = PhoneConfig(
        name=name,
        directory_number=dn,
        partition=partition,
        digest_user=digest_user,
        device_security_mode=security_mode or DeviceSecurityMode.NON_SECURE,
        transport=transport or IncomingTransport.TCP_UDP,
        description=description,
    )
    with _open_store(node_dir, create=True) as store:
        store.add_phone(phone)
        _warn_missing_listener(store, phone)
    _print(_("Added phone {name} on directory number {dn}.").format(name=name, dn=dn))


@phone_app.command("set")
def phone_set(
    node_dir: NodeDir,
    name: Annotated[str, typer.Argument(help="Device name of the phone to change.")],
    dn: Annotated[str | None, typer.Option("--dn", help="Directory number of the line.")] = None,
    partition: Annotated[
        str | None, typer.Option(help='Partition of the directory number; "" for <None>.')
    ] = None,
    digest_user: Annotated[
        str | None,
        typer.Option(help='Digest user the phone authenticates as; "" for no authentication.'),
    ] = None,
    security_mode: SecurityModeOption = None,
    transport: TransportOption = None,
    description: Annotated[str | None, typer.Option(help="Free text shown in lists.")] = None,
) -> None:
    """Change settings of a phone; options left out keep their values."""
    with _open_store(node_dir) as store:
        old = store.get_phone(name)
        phone = dataclasses.replace(
            old,
            directory_number=dn or old.directory_number,
            partition=_changed(partition, old.partition),
            digest_user=_changed(digest_user, old.digest_user),
            device_security_mode=security_mode or old.device_security_mode,
            transport=transport or old.transport,
            description=old.description if description is None else description,
        )
        store.update_phone(phone)
        _warn_missing_listener(store, phone)
    _print(_("Changed phone {name}.").format(name=name))


def _warn_missing_listener(store: ConfigStore, phone: PhoneConfig) -> None:
    node = store.get_node()
    if node is None:
        return
    secure = phone.transport is IncomingTransport.TLS
    port = node.phone_secure_port if secure else node.phone_port
    if port is None:
        option = "--phone-secure-port" if secure else "--phone-port"
        _warn(
            _(
                "node {node} has no phone port for {transport}, so phone {name} cannot "
                "register yet; set one with tlstrunk node set {option}."
            ).format(
                node=node.name, transport=phone.transport.value, name=phone.name, option=option
            )
        )


@phone_app.command("list")
def phone_list(node_dir: NodeDir) -> None:
    """List the configured phones (configuration only, not registration state)."""
    with _open_store(node_dir) as store:
        phones = store.list_phones()
    table = Table(title=_("SIP phones"))
    for column in (
        _("Name"),
        _("Directory number"),
        _("Partition"),
        _("Digest user"),
        _("Security mode"),
        _("Transport"),
        _("Description"),
    ):
        table.add_column(column)
    for phone in phones:
        cells = (
            phone.name,
            phone.directory_number,
            partition_label(phone.partition),
            phone.digest_user or _("(none)"),
            phone.device_security_mode.value,
            phone.transport.value,
            phone.description,
        )
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)


@phone_app.command("remove")
def phone_remove(
    node_dir: NodeDir, name: Annotated[str, typer.Argument(help="Device name.")]
) -> None:
    """Remove a phone."""
    with _open_store(node_dir) as store:
        store.delete_phone(name)
    _print(_("Removed phone {name}.").format(name=name))


# --- node -----------------------------------------------------------------


def _port_setting(value: int | None, current: int | None) -> int | None:
    # 0 clears the port, None keeps it
    if value is None:
        return current
    return value or None


def node_set(
    node_dir: NodeDir,
    name: Annotated[
        str | None, typer.Option(help="Node name, e.g. CUCMA; peers expect it as CN.")
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="IP address the node listens and connects on.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    realm: Annotated[
        str | None,
        typer.Option(help='Realm of the node\'s digest challenges; "" for the node name.'),
    ] = None,
    phone_port: Annotated[
        int | None,
        typer.Option(help="Port for SIP phones over UDP and TCP, such as 5060; 0 for none."),
    ] = None,
    phone_secure_port: Annotated[
        int | None,
        typer.Option(help="Port for SIP phones over TLS, such as 5062; 0 for none."),
    ] = None,
) -> None:
    """Set the node's name, address, realm and phone ports; options left out keep their values."""
    with _open_store(node_dir, create=True) as store:
        old = store.get_node()
        if old is None:
            if name is None or address is None:
                _fail(_("The node is not set yet; give both --name and --address."))
            old = NodeConfig(name, address)
        node = dataclasses.replace(
            old,
            name=name or old.name,
            address=address or old.address,
            description=old.description if description is None else description,
            sip_realm=old.sip_realm if realm is None else realm,
            phone_port=_port_setting(phone_port, old.phone_port),
            phone_secure_port=_port_setting(phone_secure_port, old.phone_secure_port),
        )
        moved = store.save_node(node)
    _print(
        _("Node {name} at {address} set in {path}.").format(
            name=node.name, address=node.address, path=store.path
        )
    )
    if moved:
        _warn(
            _(
                "the realm changed from {old!r} to {new!r}, so digest users {users} cannot "
                "authenticate until their passwords are set again with tlstrunk digestuser set."
            ).format(old=old.realm, new=node.realm, users=", ".join(moved))
        )
