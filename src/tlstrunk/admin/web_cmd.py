"""``tlstrunk web``: run the admin web server over HTTPS and manage its API tokens."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import hashes

from tlstrunk.i18n import _
from tlstrunk.paths import NodePaths
from tlstrunk.pki.errors import PkiError
from tlstrunk.pki.store import CertificateStore
from tlstrunk.web.accounts import ADMIN_USER, Accounts, AuthError, web_db_path

__all__ = ["app", "tls_files"]

logger = logging.getLogger(__name__)

app = typer.Typer(
    help=_("Admin web pages and REST API over HTTPS with the node's tomcat certificate."),
    no_args_is_help=True,
)
token_app = typer.Typer(help=_("Bearer tokens of the REST API."), no_args_is_help=True)
app.add_typer(token_app, name="token")

NodeDir = Annotated[Path, typer.Option("--node-dir", "--dir", help=_("The node's directory."))]
PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--store-passphrase-file",
        help=_("File whose first line is the passphrase of the store's private keys."),
    ),
]

PURPOSE = "tomcat"


def _fail(message: str) -> typer.Exit:
    typer.echo(_("Error: {message}").format(message=message), err=True)
    return typer.Exit(1)


def tls_files(node_dir: Path, passphrase: bytes | None) -> tuple[Path, Path, bytes | None]:
    """Return the tomcat certificate chain file, key file and key password of the node.

    Raises:
        CertificateStoreError: the node has no tomcat certificate, or its key is
            encrypted and no passphrase was given.
    """
    store = CertificateStore.open(NodePaths(node_dir).certs, passphrase=passphrase)
    cert_file, key_file = store.identity_files(PURPOSE)
    return cert_file, key_file, store.identity_password(PURPOSE)


def _read_passphrase(path: Path | None) -> bytes | None:
    if path is None:
        return None
    lines = path.read_bytes().splitlines()
    if not lines or not lines[0]:
        raise _fail(
            _(
                "The passphrase file {path} is empty; write the passphrase on its first line."
            ).format(path=path)
        )
    return lines[0]


@app.command("run")
def run(
    node_dir: NodeDir,
    address: Annotated[str, typer.Option(help=_("Address to listen on."))] = "127.0.0.1",
    port: Annotated[int, typer.Option(help=_("TCP port to listen on for HTTPS."))] = 8443,
    store_passphrase_file: PassphraseFile = None,
    self_signed: Annotated[
        bool,
        typer.Option(
            "--self-signed",
            help=_(
                "Without a tomcat certificate, make a self-signed one for ADDRESS first, as a "
                "call manager does at install; replace it later from the Certificate "
                "Management page."
            ),
        ),
    ] = False,
) -> None:
    """Serve the admin pages and the REST API over HTTPS until interrupted."""
    import uvicorn

    from tlstrunk.web.app import create_app

    passphrase = _read_passphrase(store_passphrase_file)
    if self_signed:
        _ensure_tomcat_certificate(node_dir, address, passphrase)
    try:
        cert_file, key_file, key_password = tls_files(node_dir, passphrase)
    except PkiError as exc:
        raise _fail(
            _(
                "The web server needs the node's tomcat certificate: {reason} For a quick "
                "start, add --self-signed; or generate a CSR with 'tlstrunk cert generate-csr "
                "--node-dir {node_dir} --purpose tomcat --cn HOST', sign it with your CA and "
                "upload it."
            ).format(reason=exc, node_dir=node_dir)
        ) from exc
    accounts = Accounts(web_db_path(node_dir))
    password = accounts.ensure_admin()
    accounts.close()
    if password is not None:
        typer.echo(
            _(
                "Created user {user}. Its one-time password, shown only now and to be "
                "changed at the first login, is:\n{password}"
            ).format(user=ADMIN_USER, password=password)
        )
    typer.echo(_("Serving https://{address}:{port}/").format(address=address, port=port))
    uvicorn.run(
        create_app(node_dir, store_passphrase=passphrase),
        host=address,
        port=port,
        ssl_certfile=str(cert_file),
        ssl_keyfile=str(key_file),
        ssl_keyfile_password=key_password.decode() if key_password else None,
        log_level="info",
    )


def _ensure_tomcat_certificate(node_dir: Path, address: str, passphrase: bytes | None) -> None:
    """Make a self-signed tomcat certificate when the node has none, and say so."""
    store = CertificateStore.open(NodePaths(node_dir).certs, passphrase=passphrase)
    if store.own_certificate(PURPOSE) is not None:
        return
    certificate = store.install_self_signed(PURPOSE, common_name=address, ip_addresses=[address])
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    typer.echo(
        _(
            "Made a self-signed tomcat certificate for {address}. Check that the browser "
            "shows this SHA-256 fingerprint before you log in:\n{fingerprint}"
        ).format(address=address, fingerprint=fingerprint)
    )


@token_app.command("create")
def token_create(
    node_dir: NodeDir, name: Annotated[str, typer.Argument(help=_("Name of the token."))]
) -> None:
    """Create an API token and print it once; only its hash is stored."""
    accounts = Accounts(web_db_path(node_dir))
    try:
        token = accounts.create_token(name)
    except AuthError as exc:
        raise _fail(str(exc)) from exc
    finally:
        accounts.close()
    typer.echo(token)


@token_app.command("list")
def token_list(node_dir: NodeDir) -> None:
    """List the names of the API tokens."""
    accounts = Accounts(web_db_path(node_dir))
    for name in accounts.list_tokens():
        typer.echo(name)
    accounts.close()


@token_app.command("delete")
def token_delete(
    node_dir: NodeDir, name: Annotated[str, typer.Argument(help=_("Name of the token."))]
) -> None:
    """Delete an API token; requests with it are rejected from then on."""
    accounts = Accounts(web_db_path(node_dir))
    try:
        accounts.delete_token(name)
    except AuthError as exc:
        raise _fail(str(exc)) from exc
    finally:
        accounts.close()
    typer.echo(_("Deleted token {name}.").format(name=name))
