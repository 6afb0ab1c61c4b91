"""Peer verification step by step, the serverAuth-only case, expiry and the CLI commands."""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from pki_helpers import NOW, build_certificate, ca_private_key, issue_for_store, pem
from tls_helpers import SOCKET_TIMEOUT, Server, context
from typer.testing import CliRunner

from tlstrunk.admin import ca_cmd, cert_cmd
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.errors import CertificateStoreError
from tlstrunk.pki.expiry import (
    expiring_certificates,
    peer_certificates,
    record_peer_certificate,
)
from tlstrunk.pki.explain import explain_ssl_error
from tlstrunk.pki.keys import KeySpec
from tlstrunk.pki.store import CertificateStore
from tlstrunk.pki.verify import CheckStatus, is_valid, verify_peer

runner = CliRunner()
SECOND = dt.timedelta(seconds=1)


def statuses(results: list) -> dict[str, CheckStatus]:  # type: ignore[type-arg]
    return {result.check: result.status for result in results}


@pytest.fixture
def leaf(store: CertificateStore, ca: CertificateAuthority) -> x509.Certificate:
    return issue_for_store(ca, store)


def test_verify_valid_peer(leaf: x509.Certificate, ca: CertificateAuthority) -> None:
    results = verify_peer(
        [leaf], [ca.root_certificate], role="server", now=NOW, names=["x", "cucm10"]
    )
    assert statuses(results) == {
        "chain": CheckStatus.PASSED,
        "validity": CheckStatus.PASSED,
        "key usage": CheckStatus.PASSED,
        "policy": CheckStatus.PASSED,
        "name": CheckStatus.PASSED,
        "revocation": CheckStatus.SKIPPED,
    }
    assert results[4].detail == "matches cucm10"
    assert is_valid(results)


@pytest.mark.parametrize(
    ("offset", "valid"), [(-SECOND, True), (dt.timedelta(0), True), (SECOND, False)]
)
def test_verify_expiry_boundary(
    leaf: x509.Certificate, ca: CertificateAuthority, offset: dt.timedelta, valid: bool
) -> None:
    moment = leaf.not_valid_after_utc + offset
    results = verify_peer([leaf], [ca.root_certificate], role="client", now=moment)
    assert (statuses(results)["validity"] is CheckStatus.PASSED) is valid
    assert is_valid(results) is valid


def test_verify_untrusted_and_wrong_name(
    leaf: x509.Certificate, other_ca: CertificateAuthority
) -> None:
    results = verify_peer(
        [leaf], [other_ca.root_certificate], role="server", now=NOW, names=["CUCMA"]
    )
    assert statuses(results)["chain"] is CheckStatus.FAILED
    assert "issued by CN=tlstrunk Test CA, which is not in CallManager-trust" in results[0].detail
    assert statuses(results)["name"] is CheckStatus.FAILED
    assert "does not match the X.509 subject name 'CUCMA'" in results[4].detail


def test_verify_revoked(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path / "ca", intermediate_common_name="Issuing", now=NOW)
    node = CertificateStore.open(tmp_path / "node")
    node.generate_csr("CallManager", common_name="CUCM10")
    leaf = ca.issue(ca.submit(node.csr_pem("CallManager"), now=NOW), now=NOW)
    chain = x509.load_pem_x509_certificates(ca.export_certificate(leaf.serial_number))
    crl = x509.load_pem_x509_crl(ca.publish_crl(now=NOW))
    good = verify_peer(chain, [ca.root_certificate], role="server", now=NOW, crls=[crl])
    assert statuses(good)["revocation"] is CheckStatus.PASSED
    ca.revoke(leaf.serial_number, "superseded", now=NOW)
    crl = x509.load_pem_x509_crl(ca.publish_crl(now=NOW))
    bad = verify_peer(chain, [ca.root_certificate], role="server", now=NOW, crls=[crl])
    assert statuses(bad)["revocation"] is CheckStatus.FAILED
    assert "was revoked by CN=Issuing" in bad[5].detail


def test_server_auth_only_certificate(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # real clock: OpenSSL checks validity against it during the handshake
    ca = CertificateAuthority.create(
        tmp_path / "ca",
        key=KeySpec.parse("ecdsa-p256"),
    )
    client = CertificateStore.open(tmp_path / "cucma")
    client.upload_trust("CallManager-trust", ca.export_root())
    client.generate_csr("CallManager", common_name="CUCMA")
    request_id = ca.submit(client.csr_pem("CallManager"))
    certificate = ca.issue(request_id, usages=("serverAuth",))
    result = client.upload_certificate("CallManager", pem(certificate))
    assert len(result.warnings) == 1
    assert "lacks clientAuth" in result.warnings[0]
    assert "outgoing trunk connections" in result.warnings[0]
    assert "lacks clientAuth" in caplog.text

    checks = verify_peer(
        [certificate], [ca.root_certificate], role="client", now=dt.datetime.now(dt.UTC)
    )
    assert statuses(checks)["key usage"] is CheckStatus.FAILED
    assert "lacks clientAuth" in checks[2].detail

    server_node = CertificateStore.open(tmp_path / "cucm10")
    server_node.upload_trust("CallManager-trust", ca.export_root())
    server_node.generate_csr("CallManager", common_name="CUCM10")
    server_node.upload_certificate(
        "CallManager", pem(ca.issue(ca.submit(server_node.csr_pem("CallManager"))))
    )
    server = Server(context(server_node, ssl.PROTOCOL_TLS_SERVER))
    server.start()
    client_ctx = context(client, ssl.PROTOCOL_TLS_CLIENT)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as raw,
        pytest.raises(ssl.SSLError),
        client_ctx.wrap_socket(raw) as tls,
    ):
        tls.sendall(b"OPTIONS")
        tls.recv(64)
    server.join(SOCKET_TIMEOUT)
    assert isinstance(server.error, ssl.SSLCertVerificationError)
    assert server.error.verify_code == 26  # X509_V_ERR_INVALID_PURPOSE
    text = explain_ssl_error(server.error, side="server")
    assert "lacks clientAuth" in text


def test_expiring_certificates(
    store: CertificateStore, ca: CertificateAuthority, tmp_path: Path
) -> None:
    certificate = issue_for_store(ca, store, days=20)
    store.upload_certificate("CallManager", pem(certificate), now=NOW)
    peer_key = ec.generate_private_key(ec.SECP256R1())
    peer = build_certificate(
        subject="CUCMA",
        public_key=peer_key.public_key(),
        issuer=ca.root_certificate,
        issuer_key=ca_private_key(ca),
        days=5,
    )
    assert record_peer_certificate(store.directory, "CUCMA", peer, now=NOW)
    assert not record_peer_certificate(store.directory, "CUCMA", peer, now=NOW)
    stored = json.loads((store.directory / "peers.json").read_text())
    assert stored["CUCMA"]["subject"] == "CN=CUCMA"
    assert stored["CUCMA"]["serial"] == f"{peer.serial_number:X}"
    assert peer_certificates(store.directory)[0].not_after == peer.not_valid_after_utc

    soon = expiring_certificates(store, 30, NOW)
    assert [(e.kind, e.name, e.days_left) for e in soon] == [
        ("peer", "CUCMA", 5),
        ("own", "CallManager", 20),
    ]
    assert expiring_certificates(store, 4, NOW) == []
    everything = expiring_certificates(store, 4000, NOW)
    assert ("trust", "CallManager-trust") in [(e.kind, e.name) for e in everything]

    (store.directory / "peers.json").write_text("[1]")
    with pytest.raises(CertificateStoreError, match="not a valid peer certificate record"):
        expiring_certificates(store, 30, NOW)


def test_cli_expiring(store: CertificateStore, ca: CertificateAuthority) -> None:
    store.upload_certificate("CallManager", pem(issue_for_store(ca, store, days=10, now=None)))
    result = runner.invoke(
        cert_cmd.app, ["expiring", "--node-dir", str(store.directory.parent), "--days", "30"]
    )
    assert result.exit_code == 0, result.stderr
    assert "CallManager" in result.stdout
    assert "CN=CUCM10" in result.stdout
    result = runner.invoke(
        cert_cmd.app, ["expiring", "--node-dir", str(store.directory.parent), "--days", "1"]
    )
    assert result.exit_code == 0
    assert "No certificate expires within 1 days." in result.stdout


def test_cli_verify(tmp_path: Path, store: CertificateStore, ca: CertificateAuthority) -> None:
    leaf = issue_for_store(ca, store, now=None)
    peer = tmp_path / "peer.pem"
    peer.write_bytes(pem(leaf))
    root = tmp_path / "trust"
    root.mkdir()
    (root / "root.pem").write_bytes(ca.export_root())
    base = ["verify", "--peer", str(peer), "--trust", str(root)]

    ok = runner.invoke(cert_cmd.app, [*base, "--purpose", "client", "--name", "CUCMA;CUCM10"])
    assert ok.exit_code == 0, ok.stderr
    for check in ("chain", "validity", "key usage", "policy", "name"):
        assert any(line.startswith(check) and "PASS" in line for line in ok.stdout.splitlines())
    assert ok.stdout.endswith("Valid.\n")

    later = (leaf.not_valid_after_utc + SECOND).isoformat()
    bad = runner.invoke(cert_cmd.app, [*base, "--at", later, "--name", "CUCMA"])
    assert bad.exit_code == 1
    assert "Invalid: validity:" in bad.stderr
    assert "Invalid: name:" in bad.stderr

    usage = runner.invoke(cert_cmd.app, [*base, "--purpose", "peer"])
    assert usage.exit_code == 2
    missing = runner.invoke(
        cert_cmd.app, ["verify", "--peer", str(tmp_path / "none.pem"), "--trust", str(root)]
    )
    assert missing.exit_code == 2
    assert "Error:" in missing.stderr
    bad_time = runner.invoke(cert_cmd.app, [*base, "--at", "yesterday"])
    assert bad_time.exit_code == 2
    assert "Invalid time 'yesterday'" in bad_time.stderr


def test_cli_intermediate_revoke_crl(tmp_path: Path) -> None:
    ca_dir = str(tmp_path / "ca")
    result = runner.invoke(
        ca_cmd.app,
        ["init", "--dir", ca_dir, "--key", "ecdsa-p256", "--intermediate-cn", "Issuing CA"],
    )
    assert result.exit_code == 0, result.stderr
    assert "Intermediate CA CN=Issuing CA issues the node certificates." in result.stdout

    node_dir = tmp_path / "node"
    csr = tmp_path / "node.csr"
    result = runner.invoke(
        cert_cmd.app,
        [
            "generate-csr",
            "--node-dir",
            str(node_dir),
            "--cn",
            "cluster-ms",
            "--distribution",
            "multi-server",
            "--node",
            "sub1",
            "--node",
            "sub2",
            "--out",
            str(csr),
        ],
    )
    assert result.exit_code == 0, result.stderr
    request = runner.invoke(ca_cmd.app, ["submit", "--dir", ca_dir, str(csr)])
    assert request.exit_code == 0
    cert_file = tmp_path / "leaf.pem"
    issued = runner.invoke(
        ca_cmd.app,
        [
            "issue",
            "--dir",
            ca_dir,
            "1",
            "--usage",
            "serverAuth,clientAuth",
            "--out",
            str(cert_file),
        ],
    )
    assert issued.exit_code == 0, issued.stderr
    chain = x509.load_pem_x509_certificates(cert_file.read_bytes())
    assert [c.subject.rfc4514_string() for c in chain] == ["CN=cluster-ms", "CN=Issuing CA"]
    san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["sub1", "sub2"]
    ekus = list(chain[0].extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ekus == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]

    serial = f"{chain[0].serial_number:X}"
    revoked = runner.invoke(
        ca_cmd.app, ["revoke", "--dir", ca_dir, serial, "--reason", "keyCompromise"]
    )
    assert revoked.exit_code == 0, revoked.stderr
    assert f"Revoked serial {serial}" in revoked.stdout
    listing = runner.invoke(ca_cmd.app, ["issued", "--dir", ca_dir])
    assert "keyCompromise" in listing.stdout
    crl_file = tmp_path / "crl.der"
    crl = runner.invoke(
        ca_cmd.app, ["crl", "--dir", ca_dir, "--out", str(crl_file), "--format", "der"]
    )
    assert crl.exit_code == 0, crl.stderr
    loaded = x509.load_der_x509_crl(crl_file.read_bytes())
    assert loaded.get_revoked_certificate_by_serial_number(chain[0].serial_number) is not None
    bad = runner.invoke(ca_cmd.app, ["revoke", "--dir", ca_dir, "zz"])
    assert bad.exit_code == 1
    assert "Invalid serial 'zz'" in bad.stderr


def test_cli_pkcs12(tmp_path: Path, ca: CertificateAuthority) -> None:
    node = CertificateStore.open(tmp_path / "a" / "certs")
    node.upload_trust("CallManager-trust", ca.export_root())
    node.generate_csr("CallManager", common_name="CUCMA")
    node.upload_certificate("CallManager", pem(issue_for_store(ca, node, now=None)))
    secret = tmp_path / "p12.pass"
    secret.write_text("pw\n")
    p12 = tmp_path / "a.p12"
    exported = runner.invoke(
        cert_cmd.app,
        [
            "export-pkcs12",
            "--node-dir",
            str(node.directory.parent),
            "--out",
            str(p12),
            "--passphrase-file",
            str(secret),
        ],
    )
    assert exported.exit_code == 0, exported.stderr
    other = CertificateStore.open(tmp_path / "b" / "certs")
    other.upload_trust("CallManager-trust", ca.export_root())
    store_secret = tmp_path / "store.pass"
    store_secret.write_text("store\n")
    imported = runner.invoke(
        cert_cmd.app,
        [
            "import-pkcs12",
            "--node-dir",
            str(other.directory.parent),
            str(p12),
            "--passphrase-file",
            str(secret),
            "--store-passphrase-file",
            str(store_secret),
        ],
    )
    assert imported.exit_code == 0, imported.stderr
    assert "Installed CN=CUCMA for CallManager" in imported.stdout
    reopened = CertificateStore.open(other.directory, passphrase="store")
    assert reopened.identity_password("CallManager") == b"store"


def test_server_auth_only_tomcat_certificate_has_no_warning(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path / "ca", key=KeySpec.parse("ecdsa-p256"))
    store = CertificateStore.open(tmp_path / "cucma")
    store.upload_trust("tomcat-trust", ca.export_root())
    store.generate_csr("tomcat", common_name="cucma.example.test")
    certificate = ca.issue(ca.submit(store.csr_pem("tomcat")), usages=("serverAuth",))
    result = store.upload_certificate("tomcat", pem(certificate))
    assert result.warnings == []
