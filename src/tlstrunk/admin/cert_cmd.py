"""``tlstrunk cert``: manage a node's certificates (CSR, upload, trust stores, show)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tlstrunk.admin.ca_cmd import Out, report_errors, write_output
from tlstrunk.i18n import _
from tlstrunk.pki.keys import KeySpec
from tlstrunk.pki.names import rfc4514_subject
from tlstrunk.pki.render import render_certificate
from tlstrunk.pki.store import CertificateStore, find_purpose, find_trust_purpose
from tlstrunk.pki.validate import is_self_signed

app = typer.Typer(
    help=_("Manage a node's certificates: CSRs, signed certificates and trust stores."),
    no_args_is_help=True,
)

NodeDir = Annotated[
    Path, typer.Option("--node-dir", help=_("Directory of the node's certificate store."))
]
PurposeOption = Annotated[
    str,
    typer.Option(
        "--purpose", help=_("Certificate purpose, such as CallManager, or a trust store name.")
    ),
]


def _split(values: list[str] | None) -> list[str]:
    return [item for value in values or [] for item in value.replace(",", " ").split()]


@app.command("generate-csr")
def generate_csr_command(
    node_dir: NodeDir,
    cn: Annotated[str, typer.Option("--cn", help=_("Common name: the node's host name."))],
    purpose: PurposeOption = "CallManager",
    san: Annotated[
        list[str] | None, typer.Option("--san", help=_("DNS name for the SAN; repeatable."))
    ] = None,
    ip: Annotated[
        list[str] | None, typer.Option("--ip", help=_("IP address for the SAN; repeatable."))
    ] = None,
    key: Annotated[
        str, typer.Option(help=_("Key type: rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384."))
    ] = "rsa2048",
    hash_name: Annotated[
        str, typer.Option("--hash", help=_("Signature hash: sha256, sha384 or sha512."))
    ] = "sha256",
    organization: Annotated[str | None, typer.Option("--org", help=_("Organization (O)."))] = None,
    unit: Annotated[str | None, typer.Option("--ou", help=_("Organizational unit (OU)."))] = None,
    locality: Annotated[str | None, typer.Option(help=_("Locality (L)."))] = None,
    state: Annotated[str | None, typer.Option(help=_("State or province (ST)."))] = None,
    country: Annotated[str | None, typer.Option(help=_("Two-letter country code (C)."))] = None,
    out: Out = None,
) -> None:
    """Generate a key and CSR for a purpose; a new CSR replaces the pending one."""
    with report_errors():
        store = CertificateStore.open(node_dir)
        result = store.generate_csr(
            purpose,
            common_name=cn,
            dns_names=_split(san),
            ip_addresses=_split(ip),
            key=KeySpec.parse(key),
            hash_name=hash_name,
            organization=organization,
            organizational_unit=unit,
            locality=locality,
            state=state,
            country=country,
        )
        if result.replaced_existing:
            typer.echo(
                _("Warning: the new CSR replaced the pending CSR for {purpose}.").format(
                    purpose=purpose
                ),
                err=True,
            )
        write_output(result.pem, out)


@app.command("download-csr")
def download_csr_command(
    node_dir: NodeDir, purpose: PurposeOption = "CallManager", out: Out = None
) -> None:
    """Print or save the pending CSR of a purpose."""
    with report_errors():
        write_output(CertificateStore.open(node_dir).csr_pem(purpose), out)


@app.command("upload")
def upload_command(
    node_dir: NodeDir,
    purpose: PurposeOption,
    file: Annotated[Path, typer.Argument(help=_("PEM, DER or PKCS#7 certificate file."))],
) -> None:
    """Upload a signed certificate (CallManager) or a trust certificate (CallManager-trust)."""
    with report_errors():
        store = CertificateStore.open(node_dir)
        data = file.read_bytes()
        if purpose.casefold().endswith("-trust"):
            certificate = store.upload_trust(purpose, data)
            typer.echo(
                _("Added {subject} to {trust}.").format(
                    subject=rfc4514_subject(certificate.subject),
                    trust=find_trust_purpose(purpose).trust_name,
                )
            )
            return
        result = store.upload_certificate(purpose, data)
        for warning in result.warnings:
            typer.echo(_("Warning: {message}").format(message=warning), err=True)
        typer.echo(
            _("Installed {subject} for {purpose}, issued by {issuer}.").format(
                subject=rfc4514_subject(result.certificate.subject),
                purpose=find_purpose(purpose).name,
                issuer=rfc4514_subject(result.certificate.issuer),
            )
        )


@app.command("list")
def list_command(node_dir: NodeDir) -> None:
    """List the node's own certificates and its trust stores."""
    with report_errors():
        store = CertificateStore.open(node_dir)
        own = store.list_own()
        trusted = [
            entry
            for item in own
            for entry in store.list_trust(find_purpose(item.purpose).trust_name)
        ]
    table = Table(
        _("Purpose"), _("Subject"), _("Issuer"), _("Expires"), _("CSR pending"), title=_("Own")
    )
    for item in own:
        cert = item.certificate
        table.add_row(
            item.purpose,
            rfc4514_subject(cert.subject) if cert else _("(none)"),
            rfc4514_subject(cert.issuer) if cert else "",
            cert.not_valid_after_utc.date().isoformat() if cert else "",
            _("yes") if item.csr_pending else _("no"),
        )
    trust_table = Table(
        _("Trust store"), _("Subject"), _("SHA-256 (start)"), _("Expires"), title=_("Trust")
    )
    for entry in trusted:
        trust_table.add_row(
            entry.trust_name,
            rfc4514_subject(entry.certificate.subject),
            entry.fingerprint[:16],
            entry.certificate.not_valid_after_utc.date().isoformat(),
        )
    console = Console()
    console.print(table)
    console.print(trust_table)


@app.command("show")
def show_command(
    node_dir: NodeDir,
    purpose: PurposeOption = "CallManager",
    trust: Annotated[
        str | None,
        typer.Option(help=_("Fingerprint (or its start) of one trust certificate to show.")),
    ] = None,
) -> None:
    """Show a certificate in the familiar 'show cert' layout."""
    with report_errors():
        store = CertificateStore.open(node_dir)
        if purpose.casefold().endswith("-trust"):
            _show_trust(store, purpose, trust)
            return
        info = find_purpose(purpose)
        certificate = store.own_certificate(info.name)
        if certificate is None:
            store.identity_files(info.name)  # raises the "no certificate installed" error
            return
        description = (
            _("Self-signed certificate")
            if is_self_signed(certificate)
            else _("Certificate Signed by CA")
        )
        typer.echo(
            render_certificate(
                certificate,
                file_name=f"{info.name}.pem",
                purpose=info.name,
                description=description,
            ),
            nl=False,
        )


@app.command("delete-trust")
def delete_trust_command(
    node_dir: NodeDir,
    purpose: PurposeOption,
    selector: Annotated[str, typer.Argument(help=_("SHA-256 fingerprint, subject or CN."))],
) -> None:
    """Remove a certificate from a trust store."""
    with report_errors():
        certificate = CertificateStore.open(node_dir).delete_trust(purpose, selector)
        typer.echo(_("Removed {subject}.").format(subject=rfc4514_subject(certificate.subject)))


def _show_trust(store: CertificateStore, trust_name: str, selector: str | None) -> None:
    info = find_trust_purpose(trust_name)
    entries = store.list_trust(info.trust_name)
    if selector is not None:
        wanted = selector.replace(":", "").casefold()
        entries = [e for e in entries if e.fingerprint.startswith(wanted)]
    if not entries:
        raise ValueError(
            _("No certificate in {trust} matches; list them with 'tlstrunk cert list'.").format(
                trust=info.trust_name
            )
        )
    for entry in entries:
        cn = rfc4514_subject(entry.certificate.subject)
        typer.echo(
            render_certificate(
                entry.certificate,
                file_name=f"{entry.fingerprint[:16]}.pem",
                purpose=info.trust_name,
                description=_("Trust certificate {subject}").format(subject=cn),
            ),
            nl=False,
        )
