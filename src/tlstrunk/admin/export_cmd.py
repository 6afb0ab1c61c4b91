"""Configuration as code: ``config export`` and ``config import``.

``export`` writes a node's whole configuration, and its certificates as PEM,
to one YAML file. ``import`` shows what a file would add, change and remove,
asks, and then applies it in one transaction. A second import of the same
file finds no changes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from tlstrunk.config.errors import ConfigError
from tlstrunk.config.export import (
    CertificateChanges,
    ConfigDiff,
    apply_certificates,
    apply_diff,
    check_diff,
    diff_certificates,
    diff_configuration,
    export_certificates,
    export_configuration,
    parse_configuration,
)
from tlstrunk.config.store import ConfigStore
from tlstrunk.i18n import _
from tlstrunk.paths import NodePaths
from tlstrunk.pki.errors import PkiError
from tlstrunk.pki.names import rfc4514_subject
from tlstrunk.pki.store import CertificateStore

__all__ = ["app"]

app = typer.Typer(
    help=_("Export a node's configuration as YAML, or import it from YAML."),
    no_args_is_help=True,
)

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

NodeDir = Annotated[
    Path,
    typer.Option("--node-dir", "--dir", help=_("The node's directory, which contains config.db.")),
]
KeyPassphrase = Annotated[
    Path | None,
    typer.Option(
        "--key-passphrase-file",
        help=_("File whose first line is the passphrase that encrypts the exported keys."),
    ),
]
StorePassphrase = Annotated[
    Path | None,
    typer.Option(
        "--store-passphrase-file",
        help=_("File whose first line is the passphrase of the node's stored private keys."),
    ),
]


def _fail(message: str) -> NoReturn:
    err_console.print(Text.assemble((_("Error") + ": ", "red"), message))
    raise typer.Exit(1)


def _read_passphrase(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        lines = path.read_bytes().splitlines()
    except OSError as error:
        _fail(
            _("The passphrase file {path} cannot be read ({error}); check the path.").format(
                path=path, error=error.strerror
            )
        )
    if not lines or not lines[0]:
        _fail(
            _(
                "The passphrase file {path} is empty; write the passphrase on its first line."
            ).format(path=path)
        )
    return lines[0]


@app.command("export")
def export_command(
    node_dir: NodeDir,
    out: Annotated[
        Path | None,
        typer.Option("--out", help=_("YAML file to write; without it, standard output.")),
    ] = None,
    with_keys: Annotated[
        bool,
        typer.Option(
            "--with-keys",
            help=_(
                "Also export the private keys, encrypted with --key-passphrase-file, and "
                "the digest users' password hashes."
            ),
        ),
    ] = False,
    key_passphrase_file: KeyPassphrase = None,
    store_passphrase_file: StorePassphrase = None,
) -> None:
    """Write the node's configuration and certificates as YAML."""
    if with_keys and key_passphrase_file is None:
        _fail(_("--with-keys needs --key-passphrase-file, the passphrase that encrypts the keys."))
    paths = NodePaths(node_dir)
    if not paths.config_db.exists():
        _fail(
            _("No configuration database at {path}; check --node-dir.").format(path=paths.config_db)
        )
    key_passphrase = _read_passphrase(key_passphrase_file) if with_keys else None
    certificates = CertificateStore.open(
        paths.certs, passphrase=_read_passphrase(store_passphrase_file)
    )
    try:
        with ConfigStore(paths.config_db) as store:
            snapshot = store.load_snapshot()
        document = export_configuration(
            snapshot, export_certificates(certificates, key_passphrase), with_secrets=with_keys
        )
    except (ConfigError, PkiError) as error:
        _fail(str(error))
    if out is None:
        typer.echo(document, nl=False)
        return
    _write_private(out, document, secret=with_keys)
    err_console.print(
        Text(_("Wrote the configuration of {node} to {path}.").format(node=node_dir, path=out))
    )


def _write_private(path: Path, text: str, *, secret: bool) -> None:
    """Write ``text`` to ``path``, readable by the owner only when it contains keys."""
    mode = 0o600 if secret else 0o644
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)
    if secret:
        os.chmod(path, mode)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help=_("YAML file written by 'tlstrunk config export'."))],
    node_dir: NodeDir,
    yes: Annotated[bool, typer.Option("--yes", help=_("Apply without asking."))] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help=_("Show and check the changes, apply nothing."))
    ] = False,
    key_passphrase_file: KeyPassphrase = None,
    store_passphrase_file: StorePassphrase = None,
) -> None:
    """Show what FILE changes in the node's configuration, ask, and apply it."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _fail(_("The file {path} cannot be read ({error}).").format(path=file, error=error))
    paths = NodePaths(node_dir)
    certificates = CertificateStore.open(
        paths.certs, passphrase=_read_passphrase(store_passphrase_file)
    )
    try:
        parsed = parse_configuration(text)
        with ConfigStore(paths.config_db) as store:
            diff = diff_configuration(store.load_snapshot(), parsed)
            certificate_changes = diff_certificates(certificates, parsed.certificates)
            _print_diff(diff, certificate_changes)
            if diff.empty and certificate_changes.empty:
                return
            check_diff(store, diff)
            if dry_run:
                console.print(Text(_("Dry run: nothing was changed.")))
                return
            if not yes and not typer.confirm(_("Apply these changes?")):
                console.print(Text(_("Nothing was changed.")))
                raise typer.Exit(1)
            apply_certificates(
                certificates, certificate_changes, _read_passphrase(key_passphrase_file)
            )
            apply_diff(store, diff)
    except (ConfigError, PkiError) as error:
        _fail(str(error))
    console.print(Text(_("The configuration was imported.")))


def _print_diff(diff: ConfigDiff, certificates: CertificateChanges) -> None:
    if diff.empty and certificates.empty:
        console.print(Text(_("No changes: the node already has this configuration.")))
    for change in diff.added:
        console.print(Text.assemble(("+ ", "green"), f"{change.section}: {change.label}"))
    for change in diff.changed:
        console.print(Text.assemble(("~ ", "yellow"), f"{change.section}: {change.label}"))
        for name, old, new in change.field_changes():
            console.print(Text(f"    {name}: {_shown(old)} -> {_shown(new)}"))
    for change in diff.removed:
        console.print(Text.assemble(("- ", "red"), f"{change.section}: {change.label}"))
    for trust_name, certificate in certificates.trust_added:
        subject = rfc4514_subject(certificate.subject)
        console.print(Text.assemble(("+ ", "green"), f"{trust_name}: {subject}"))
    for trust_name, certificate in certificates.trust_removed:
        subject = rfc4514_subject(certificate.subject)
        console.print(Text.assemble(("- ", "red"), f"{trust_name}: {subject}"))
    for purpose, chain, _key in certificates.own_installed:
        subject = rfc4514_subject(chain[0].subject)
        console.print(Text.assemble(("~ ", "yellow"), f"{purpose}: {subject}"))
    for purpose in certificates.own_skipped:
        console.print(
            Text(
                _(
                    "The {purpose} certificate in the file differs from the node's, but the "
                    "file has no key for it, so it is not installed; export with --with-keys."
                ).format(purpose=purpose)
            )
        )


def _shown(value: Any) -> str:
    if value is None:
        return "<None>"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)
