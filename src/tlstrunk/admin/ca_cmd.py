"""``tlstrunk ca``: run a certificate authority kept in a directory.

The commands follow an enterprise CA's workflow: ``init`` once (optionally
with an intermediate CA), then ``submit`` a node's CSR, look at ``pending``
requests, ``issue`` or ``deny`` them, list what was ``issued``, ``revoke`` and
publish a ``crl``, and ``export-root`` or ``export-chain`` for the nodes' trust
stores.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tlstrunk.i18n import _
from tlstrunk.pki._certbuild import DEFAULT_USAGES, REASONS
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.errors import PkiError
from tlstrunk.pki.keys import CryptoPolicy, KeySpec
from tlstrunk.pki.names import rfc4514_subject

app = typer.Typer(
    help=_("Run a certificate authority: submit, issue, deny and export certificates."),
    no_args_is_help=True,
)


class OutputFormat(enum.StrEnum):
    """Certificate file encodings offered by the export commands."""

    pem = "pem"
    der = "der"


CaDir = Annotated[
    Path,
    typer.Option("--dir", help=_("Directory of the CA's key, root certificate and request queue.")),
]
Out = Annotated[
    Path | None,
    typer.Option("--out", help=_("File to write; without it PEM goes to standard output.")),
]
Format = Annotated[OutputFormat, typer.Option("--format", help=_("pem (Base-64) or der (binary)."))]
KEY_HELP = _("Key type: rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384.")
HASH_HELP = _("Signature hash: sha256, sha384 or sha512.")


class PolicyChoice(enum.StrEnum):
    """Crypto policies offered on the command line."""

    modern = "modern"
    legacy = "legacy"


PolicyOption = Annotated[
    PolicyChoice,
    typer.Option(
        "--policy",
        help=_("modern (default), or legacy to accept RSA 1024 and SHA-1 from old clusters."),
    ),
]


@contextmanager
def report_errors() -> Iterator[None]:
    """Print a PKI, input or file error on standard error and exit with status 1."""
    try:
        yield
    except OSError as exc:
        typer.echo(_("Error: {message}").format(message=describe_os_error(exc)), err=True)
        raise typer.Exit(1) from exc
    except (PkiError, ValueError) as exc:
        typer.echo(_("Error: {message}").format(message=exc), err=True)
        raise typer.Exit(1) from exc


def describe_os_error(exc: OSError) -> str:
    """Describe a file error in a sentence that names the file and the fix."""
    name = exc.filename or _("the file")
    if isinstance(exc, FileNotFoundError):
        return _("{name} does not exist; check the path.").format(name=name)
    if isinstance(exc, IsADirectoryError):
        return _("{name} is a directory; give a file.").format(name=name)
    if isinstance(exc, FileExistsError):
        return _("{name} already exists; choose another path.").format(name=name)
    if isinstance(exc, PermissionError):
        return _("Permission denied on {name}; check its owner and mode.").format(name=name)
    return _("{name}: {reason}").format(name=name, reason=exc.strerror or exc)


def write_output(data: bytes, out: Path | None, encoding: str = "pem") -> None:
    """Write ``data`` to ``out``, or PEM text to standard output when ``out`` is None."""
    if out is not None:
        out.write_bytes(data)
        return
    if encoding != "pem":
        raise ValueError(_("DER output is binary; give a file with --out."))
    typer.echo(data.decode("ascii"), nl=False)


@app.command("init")
def init_command(
    directory: CaDir,
    cn: Annotated[str, typer.Option("--cn", help=_("Common name of the root."))] = (
        "tlstrunk Root CA"
    ),
    key: Annotated[str, typer.Option(help=KEY_HELP)] = "rsa2048",
    hash_name: Annotated[str, typer.Option("--hash", help=HASH_HELP)] = "sha256",
    days: Annotated[int, typer.Option(help=_("Validity of the root in days."))] = 3650,
    intermediate_cn: Annotated[
        str | None,
        typer.Option(
            "--intermediate-cn",
            help=_("Common name of an intermediate CA that issues the node certificates."),
        ),
    ] = None,
    intermediate_key: Annotated[
        str | None, typer.Option(help=_("Intermediate key type; the root's by default."))
    ] = None,
    intermediate_hash: Annotated[
        str | None, typer.Option(help=_("Hash the intermediate signs with; the root's by default."))
    ] = None,
    intermediate_days: Annotated[
        int | None, typer.Option(help=_("Validity of the intermediate in days."))
    ] = None,
    policy: PolicyOption = PolicyChoice.modern,
) -> None:
    """Create a new root CA, optionally with an intermediate CA, in an empty directory."""
    with report_errors():
        ca = CertificateAuthority.create(
            directory,
            common_name=cn,
            key=KeySpec.parse(key),
            hash_name=hash_name,
            days=days,
            intermediate_common_name=intermediate_cn,
            intermediate_key=KeySpec.parse(intermediate_key) if intermediate_key else None,
            intermediate_hash_name=intermediate_hash,
            intermediate_days=intermediate_days,
            policy=CryptoPolicy(policy.value),
        )
        typer.echo(
            _("Created CA {subject} in {path}.").format(
                subject=rfc4514_subject(ca.root_certificate.subject), path=directory
            )
        )
        if ca.intermediate_certificate is not None:
            typer.echo(
                _("Intermediate CA {subject} issues the node certificates.").format(
                    subject=rfc4514_subject(ca.intermediate_certificate.subject)
                )
            )


@app.command("submit")
def submit_command(
    directory: CaDir,
    csr_file: Annotated[Path, typer.Argument(help=_("CSR file downloaded from the node."))],
) -> None:
    """Queue a CSR and print its request id."""
    with report_errors():
        request_id = CertificateAuthority.open(directory).submit(csr_file.read_bytes())
        typer.echo(_("Request ID: {id}").format(id=request_id))


@app.command("pending")
def pending_command(directory: CaDir) -> None:
    """List the requests waiting to be issued or denied."""
    with report_errors():
        records = CertificateAuthority.open(directory).pending()
    table = Table(_("ID"), _("Subject"), _("SAN"), _("Submitted"), title=_("Pending requests"))
    for record in records:
        sans = ", ".join([*record.dns_names, *record.ip_addresses])
        table.add_row(str(record.id), record.subject, sans, record.submitted_at.isoformat())
    Console().print(table)


@app.command("issue")
def issue_command(
    directory: CaDir,
    request_id: Annotated[int, typer.Argument(help=_("Request id from 'ca pending'."))],
    days: Annotated[int, typer.Option(help=_("Validity of the certificate in days."))] = 730,
    usage: Annotated[
        list[str] | None,
        typer.Option(
            "--usage",
            help=_(
                "Extended key usage: serverAuth, clientAuth or ipsecEndSystem; repeatable. "
                "Default: serverAuth and clientAuth, which a trunk needs."
            ),
        ),
    ] = None,
    out: Out = None,
    output_format: Format = OutputFormat.pem,
) -> None:
    """Issue the certificate for a pending request; PEM output carries the intermediate."""
    with report_errors():
        ca = CertificateAuthority.open(directory)
        usages = [item for value in usage or [] for item in value.replace(",", " ").split()]
        certificate = ca.issue(request_id, days=days, usages=usages or DEFAULT_USAGES)
        data = ca.export_certificate(certificate.serial_number, output_format.value)
        write_output(data, out, output_format.value)
        if out is not None:
            typer.echo(
                _("Issued serial {serial:X} to {path}.").format(
                    serial=certificate.serial_number, path=out
                )
            )


@app.command("deny")
def deny_command(
    directory: CaDir,
    request_id: Annotated[int, typer.Argument(help=_("Request id from 'ca pending'."))],
    reason: Annotated[str, typer.Option(help=_("Why the request is denied."))],
) -> None:
    """Deny a pending request."""
    with report_errors():
        CertificateAuthority.open(directory).deny(request_id, reason)
        typer.echo(_("Request {id} denied.").format(id=request_id))


@app.command("issued")
def issued_command(directory: CaDir) -> None:
    """List the certificates this CA has issued."""
    with report_errors():
        records = CertificateAuthority.open(directory).issued()
    table = Table(
        _("Serial"),
        _("Request"),
        _("Subject"),
        _("Valid from"),
        _("Valid to"),
        _("Revoked"),
        title=_("Issued"),
    )
    for record in records:
        revoked = (
            f"{record.revoked_at.isoformat()} ({record.revocation_reason})"
            if record.revoked_at is not None
            else _("no")
        )
        table.add_row(
            f"{record.serial:X}",
            str(record.request_id),
            record.subject,
            record.not_before.isoformat(),
            record.not_after.isoformat(),
            revoked,
        )
    Console(width=200).print(table)


@app.command("export-root")
def export_root_command(
    directory: CaDir, out: Out = None, output_format: Format = OutputFormat.pem
) -> None:
    """Export the root certificate, to upload as CallManager-trust on every node."""
    with report_errors():
        data = CertificateAuthority.open(directory).export_root(output_format.value)
        write_output(data, out, output_format.value)


@app.command("export-chain")
def export_chain_command(directory: CaDir, out: Out = None) -> None:
    """Export the intermediate (if any) and the root as one PEM file."""
    with report_errors():
        write_output(CertificateAuthority.open(directory).export_chain("pem"), out)


@app.command("revoke")
def revoke_command(
    directory: CaDir,
    serial: Annotated[str, typer.Argument(help=_("Serial in hex, as 'ca issued' lists it."))],
    reason: Annotated[
        str, typer.Option(help=_("Revocation reason: {known}.").format(known=", ".join(REASONS)))
    ] = "unspecified",
) -> None:
    """Revoke an issued certificate; publish a new CRL with 'ca crl' afterwards."""
    with report_errors():
        number = _parse_serial(serial)
        record = CertificateAuthority.open(directory).revoke(number, reason)
        typer.echo(
            _("Revoked serial {serial:X} ({subject}): {reason}.").format(
                serial=record.serial, subject=record.subject, reason=record.revocation_reason
            )
        )


@app.command("crl")
def crl_command(
    directory: CaDir,
    out: Out = None,
    output_format: Format = OutputFormat.pem,
    days: Annotated[int, typer.Option(help=_("Days until the CRL's next update."))] = 7,
) -> None:
    """Publish a CRL signed by the issuing CA; it is also kept in the CA directory."""
    with report_errors():
        data = CertificateAuthority.open(directory).publish_crl(
            days=days, encoding=output_format.value
        )
        write_output(data, out, output_format.value)


def _parse_serial(text: str) -> int:
    try:
        return int(text.replace(":", ""), 16)
    except ValueError:
        raise ValueError(
            _("Invalid serial {value!r}; give it in hex, as 'tlstrunk ca issued' lists it.").format(
                value=text
            )
        ) from None
