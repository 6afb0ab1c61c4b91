"""``tlstrunk cert``: manage a node's certificates (CSR, upload, trust stores, show).

Also PKCS#12 import and export, the expiry report and ``verify``, which checks
a peer chain the way a trunk does and prints every check.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from rich.console import Console
from rich.table import Table

from tlstrunk.admin.ca_cmd import Out, PolicyChoice, PolicyOption, report_errors, write_output
from tlstrunk.i18n import _
from tlstrunk.paths import NodePaths
from tlstrunk.pki import _files
from tlstrunk.pki.ca import utc_now
from tlstrunk.pki.errors import PkiError
from tlstrunk.pki.expiry import expiring_certificates
from tlstrunk.pki.keys import CryptoPolicy, KeySpec
from tlstrunk.pki.names import parse_subject_names, rfc4514_subject
from tlstrunk.pki.render import render_certificate
from tlstrunk.pki.store import CertificateStore, UploadResult, find_purpose, find_trust_purpose
from tlstrunk.pki.validate import is_self_signed, parse_certificates
from tlstrunk.pki.verify import verify_peer

app = typer.Typer(
    help=_("Manage a node's certificates: CSRs, signed certificates and trust stores."),
    no_args_is_help=True,
)

NodeDir = Annotated[
    Path,
    typer.Option(
        "--node-dir",
        help=_("The node's directory; its certificate store is the certs folder inside it."),
    ),
]
StorePassphrase = Annotated[
    Path | None,
    typer.Option(
        "--store-passphrase-file",
        help=_("File whose first line is the passphrase of the store's private keys."),
    ),
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
    distribution: Annotated[
        str,
        typer.Option(
            help=_(
                "this-node (the default), or multi-server for one certificate that every "
                "node of the cluster presents."
            )
        ),
    ] = "this-node",
    node: Annotated[
        list[str] | None,
        typer.Option(
            "--node", help=_("Name of a cluster node, for a multi-server CSR; repeatable.")
        ),
    ] = None,
    policy: PolicyOption = PolicyChoice.modern,
    store_passphrase_file: StorePassphrase = None,
    out: Out = None,
) -> None:
    """Generate a key and CSR for a purpose; a new CSR replaces the pending one."""
    with report_errors():
        store = _open_store(node_dir, store_passphrase_file)
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
            policy=CryptoPolicy(policy.value),
            distribution=distribution,
            cluster_nodes=_split(node),
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
        write_output(CertificateStore.open(_store_dir(node_dir)).csr_pem(purpose), out)


@app.command("upload")
def upload_command(
    node_dir: NodeDir,
    purpose: PurposeOption,
    file: Annotated[Path, typer.Argument(help=_("PEM, DER or PKCS#7 certificate file."))],
    policy: PolicyOption = PolicyChoice.modern,
    store_passphrase_file: StorePassphrase = None,
) -> None:
    """Upload a signed certificate (CallManager) or a trust certificate (CallManager-trust)."""
    with report_errors():
        store = _open_store(node_dir, store_passphrase_file)
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
        result = store.upload_certificate(purpose, data, policy=CryptoPolicy(policy.value))
        _print_installed(purpose, result)


def _print_installed(purpose: str, result: UploadResult) -> None:
    for warning in result.warnings:
        typer.echo(_("Warning: {message}").format(message=warning), err=True)
    typer.echo(
        _("Installed {subject} for {purpose}, issued by {issuer}.").format(
            subject=rfc4514_subject(result.certificate.subject),
            purpose=find_purpose(purpose).name,
            issuer=rfc4514_subject(result.certificate.issuer),
        )
    )


def _store_dir(node_dir: Path) -> Path:
    return NodePaths(node_dir).certs


def _open_store(node_dir: Path, passphrase_file: Path | None) -> CertificateStore:
    passphrase = _read_passphrase(passphrase_file) if passphrase_file else None
    return CertificateStore.open(_store_dir(node_dir), passphrase=passphrase)


def _read_passphrase(path: Path) -> bytes:
    lines = path.read_bytes().splitlines()
    if not lines or not lines[0]:
        raise ValueError(
            _(
                "The passphrase file {path} is empty; write the passphrase on its first line."
            ).format(path=path)
        )
    return lines[0]


@app.command("list")
def list_command(node_dir: NodeDir) -> None:
    """List the node's own certificates and its trust stores."""
    with report_errors():
        store = CertificateStore.open(_store_dir(node_dir))
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
        store = CertificateStore.open(_store_dir(node_dir))
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
        certificate = CertificateStore.open(_store_dir(node_dir)).delete_trust(purpose, selector)
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


PassphraseFile = Annotated[
    Path,
    typer.Option(
        "--passphrase-file", help=_("File whose first line is the PKCS#12 file's passphrase.")
    ),
]


@app.command("import-pkcs12")
def import_pkcs12_command(
    node_dir: NodeDir,
    file: Annotated[Path, typer.Argument(help=_("PKCS#12 (.p12 or .pfx) file with key."))],
    passphrase_file: PassphraseFile,
    purpose: PurposeOption = "CallManager",
    policy: PolicyOption = PolicyChoice.modern,
    store_passphrase_file: StorePassphrase = None,
) -> None:
    """Install a key and certificate from a PKCS#12 file, such as a multi-server certificate."""
    with report_errors():
        store = _open_store(node_dir, store_passphrase_file)
        result = store.import_pkcs12(
            purpose,
            file.read_bytes(),
            _read_passphrase(passphrase_file),
            policy=CryptoPolicy(policy.value),
        )
        _print_installed(purpose, result)


@app.command("export-pkcs12")
def export_pkcs12_command(
    node_dir: NodeDir,
    out: Annotated[Path, typer.Option("--out", help=_("PKCS#12 file to write."))],
    passphrase_file: PassphraseFile,
    purpose: PurposeOption = "CallManager",
    store_passphrase_file: StorePassphrase = None,
) -> None:
    """Export a purpose's key, certificate and intermediates as a PKCS#12 file."""
    with report_errors():
        store = _open_store(node_dir, store_passphrase_file)
        data = store.export_pkcs12(purpose, _read_passphrase(passphrase_file))
        _files.write_atomic(out, data, mode=_files.PRIVATE_FILE_MODE)
        typer.echo(
            _("Wrote {purpose} key and certificate to {path}.").format(
                purpose=find_purpose(purpose).name, path=out
            )
        )


@app.command("expiring")
def expiring_command(
    node_dir: NodeDir,
    days: Annotated[
        int, typer.Option(help=_("List certificates that expire within this many days."))
    ] = 30,
) -> None:
    """List own, trusted and peer certificates that expire soon (peers from peers.json)."""
    with report_errors():
        items = expiring_certificates(CertificateStore.open(_store_dir(node_dir)), days)
    if not items:
        typer.echo(_("No certificate expires within {days} days.").format(days=days))
        return
    table = Table(
        _("Kind"),
        _("Name"),
        _("Subject"),
        _("Serial"),
        _("Expires"),
        _("Days left"),
        title=_("Certificates expiring within {days} days").format(days=days),
    )
    for item in items:
        table.add_row(
            item.kind,
            item.name,
            item.subject,
            item.serial,
            item.not_after.isoformat(),
            str(item.days_left),
        )
    Console(width=200).print(table)


@app.command("verify")
def verify_command(
    peer: Annotated[
        Path,
        typer.Option("--peer", help=_("Peer certificate, followed by the intermediates it sends.")),
    ],
    trust: Annotated[
        Path,
        typer.Option(
            "--trust", help=_("Trusted CA certificates: a PEM file or a directory of them.")
        ),
    ],
    purpose: Annotated[
        str, typer.Option("--purpose", help=_("The peer's TLS role: client or server."))
    ] = "server",
    untrusted: Annotated[
        Path | None, typer.Option("--untrusted", help=_("Extra intermediate certificates."))
    ] = None,
    name: Annotated[
        list[str] | None, typer.Option("--name", help=_("Expected X.509 subject name; repeatable."))
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help=_("Time to check at, ISO 8601 (default: now)."))
    ] = None,
    policy: PolicyOption = PolicyChoice.modern,
    crl: Annotated[
        list[Path] | None, typer.Option("--crl", help=_("CRL file (PEM or DER); repeatable."))
    ] = None,
) -> None:
    """Check a peer chain as a trunk would and print each check; exit 1 if invalid."""
    try:
        if purpose not in ("client", "server"):
            raise typer.BadParameter(_("use client or server"), param_hint="--purpose")
        moment = _parse_time(at)
        peer_chain = parse_certificates(peer.read_bytes())
        trusted = _load_trust(trust)
        extra = parse_certificates(untrusted.read_bytes()) if untrusted else []
        crls = [_load_crl(path) for path in crl or []]
        names = [item for value in name or [] for item in parse_subject_names(value)]
    except (PkiError, ValueError, OSError) as exc:
        typer.echo(_("Error: {message}").format(message=exc), err=True)
        raise typer.Exit(2) from exc
    results = verify_peer(
        peer_chain,
        trusted,
        role=purpose,
        now=moment,
        names=names,
        untrusted=extra,
        policy=CryptoPolicy(policy.value),
        crls=crls,
        trust_name=str(trust),
    )
    for result in results:
        typer.echo(f"{result.check:<11} {result.status.value.upper():<5} {result.detail}")
    failed = [r for r in results if not r.passed]
    if failed:
        for result in failed:
            typer.echo(
                _("Invalid: {check}: {detail}").format(check=result.check, detail=result.detail),
                err=True,
            )
        raise typer.Exit(1)
    typer.echo(_("Valid."))


def _parse_time(text: str | None) -> dt.datetime:
    if text is None:
        return utc_now()
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            _("Invalid time {value!r}; use ISO 8601, such as 2025-03-01T12:00:00Z.").format(
                value=text
            )
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return utc_now(value)


def _load_trust(path: Path) -> list[x509.Certificate]:
    files = (
        sorted(p for p in path.iterdir() if p.suffix.lower() in (".pem", ".crt", ".cer", ".der"))
        if path.is_dir()
        else [path]
    )
    certificates = [c for file in files for c in parse_certificates(file.read_bytes())]
    if not certificates:
        raise ValueError(
            _("No certificate found in {path}; give a PEM file or a directory of them.").format(
                path=path
            )
        )
    return certificates


def _load_crl(path: Path) -> x509.CertificateRevocationList:
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise ValueError(_("{path} is not a CRL in PEM or DER form.").format(path=path)) from exc
