"""The ``ca`` and ``cert`` commands, run through Typer's test runner."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from typer.testing import CliRunner

from tlstrunk.admin import ca_cmd, cert_cmd
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.store import CertificateStore

runner = CliRunner()


def run_ca(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(ca_cmd.app, list(args))
    return result.exit_code, result.stdout, result.stderr


def run_cert(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(cert_cmd.app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_full_workflow(tmp_path: Path) -> None:
    ca_dir, node_dir = str(tmp_path / "ca"), str(tmp_path / "node")
    csr_file, cert_file = tmp_path / "node.csr", tmp_path / "CUCM10.cer"
    root_file = tmp_path / "root.der"

    code, out, err = run_ca("init", "--dir", ca_dir, "--cn", "Lab CA", "--key", "ecdsa-p256")
    assert (code, err) == (0, "")
    assert "Created CA CN=Lab CA" in out

    code, _out, err = run_cert(
        "generate-csr",
        "--node-dir",
        node_dir,
        "--cn",
        "CUCM10",
        "--san",
        "cucm10.lab",
        "--out",
        str(csr_file),
    )
    assert (code, err) == (0, "")
    assert x509.load_pem_x509_csr(csr_file.read_bytes()).is_signature_valid

    code, out, _err = run_cert("download-csr", "--node-dir", node_dir)
    assert code == 0
    assert out.encode() == csr_file.read_bytes()

    code, out, _err = run_ca("submit", "--dir", ca_dir, str(csr_file))
    assert (code, out) == (0, "Request ID: 1\n")

    code, out, _err = run_ca("pending", "--dir", ca_dir)
    assert code == 0
    assert "CN=CUCM10" in out
    assert "cucm10.lab" in out

    code, out, _err = run_ca("issue", "--dir", ca_dir, "1", "--out", str(cert_file))
    assert code == 0
    assert "Issued serial" in out

    code, out, _err = run_ca("issued", "--dir", ca_dir)
    assert code == 0
    assert "CN=CUCM10" in out

    code, _out, _err = run_ca(
        "export-root", "--dir", ca_dir, "--out", str(root_file), "--format", "der"
    )
    assert code == 0
    assert x509.load_der_x509_certificate(root_file.read_bytes()).subject.rfc4514_string() == (
        "CN=Lab CA"
    )

    code, out, _err = run_cert(
        "upload", "--node-dir", node_dir, "--purpose", "CallManager-trust", str(root_file)
    )
    assert (code, out) == (0, "Added CN=Lab CA to CallManager-trust.\n")

    code, out, err = run_cert(
        "upload", "--node-dir", node_dir, "--purpose", "CallManager", str(cert_file)
    )
    assert (code, err) == (0, "")
    assert out == "Installed CN=CUCM10 for CallManager, issued by CN=Lab CA.\n"

    code, out, _err = run_cert("show", "--node-dir", node_dir, "--purpose", "CallManager")
    assert code == 0
    assert "File Name: CallManager.pem" in out
    assert "Description: Certificate Signed by CA" in out
    assert "Subject Name: CN=CUCM10" in out

    code, out, _err = run_cert("list", "--node-dir", node_dir)
    assert code == 0
    assert "CallManager-trust" in out
    assert "CN=Lab CA" in out

    store = CertificateStore.open(Path(node_dir) / "certs")
    fingerprint = store.list_trust("CallManager-trust")[0]
    code, out, _err = run_cert(
        "show",
        "--node-dir",
        node_dir,
        "--purpose",
        "CallManager-trust",
        "--trust",
        fingerprint.fingerprint[:12],
    )
    assert code == 0
    assert "Subject Name: CN=Lab CA" in out


def test_deny_and_errors(tmp_path: Path) -> None:
    ca_dir = str(tmp_path / "ca")
    ca = CertificateAuthority.create(Path(ca_dir))
    node = CertificateStore.open(tmp_path / "node")
    csr = tmp_path / "node.csr"
    csr.write_bytes(node.generate_csr("CallManager", common_name="CUCMA").pem)
    request_id = ca.submit(csr.read_bytes())

    code, out, _err = run_ca("deny", "--dir", ca_dir, str(request_id), "--reason", "wrong name")
    assert (code, out) == (0, "Request 1 denied.\n")

    code, _out, err = run_ca("issue", "--dir", ca_dir, "1")
    assert code == 1
    assert "Request 1 is denied, not pending" in err

    code, _out, err = run_ca("init", "--dir", ca_dir)
    assert code == 1
    assert "already contains a certificate authority" in err

    code, _out, _err = run_ca("issue", "--dir", ca_dir, "1", "--format", "p7b")
    assert code == 2


def test_cert_errors(tmp_path: Path) -> None:
    node_dir = str(tmp_path / "node")
    code, _out, err = run_cert("download-csr", "--node-dir", node_dir)
    assert code == 1
    assert "No CSR for purpose CallManager" in err

    code, _out, err = run_cert(
        "generate-csr", "--node-dir", node_dir, "--cn", "CUCMA", "--hash", "sha1"
    )
    assert code == 1
    assert "SHA-1" in err

    code, _out, err = run_cert(
        "generate-csr", "--node-dir", node_dir, "--cn", "CUCMA", "--key", "rsa1024"
    )
    assert code == 1
    assert "1024 bits is too small" in err

    run_cert("generate-csr", "--node-dir", node_dir, "--cn", "CUCMA")
    code, _out, err = run_cert("generate-csr", "--node-dir", node_dir, "--cn", "CUCMA")
    assert code == 0
    assert "replaced the pending CSR" in err

    code, _out, err = run_cert("show", "--node-dir", node_dir)
    assert code == 1
    assert "No certificate is installed for CallManager" in err
