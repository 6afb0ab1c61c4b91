"""The legacy policy: RSA 1024 and SHA-1 certificates made by the openssl command.

cryptography refuses to sign with SHA-1, so the fixtures are made at test
time with the ``openssl`` command line, as an old cluster's CA would make them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner

from tlstrunk.admin import cert_cmd
from tlstrunk.pki.ca import utc_now
from tlstrunk.pki.errors import CertificateUploadError
from tlstrunk.pki.keys import CryptoPolicy, KeySpec
from tlstrunk.pki.store import CertificateStore
from tlstrunk.pki.verify import CheckStatus, is_valid, verify_peer

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

LEAF_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
"""


def openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def legacy_root(directory: Path) -> tuple[Path, Path]:
    """A self-signed RSA 1024 root CA signed with SHA-1."""
    key, cert = directory / "root.key", directory / "root.pem"
    openssl(
        "req",
        "-x509",
        "-sha1",
        "-newkey",
        "rsa:1024",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-subj",
        "/CN=Legacy Root",
        "-days",
        "365",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    return key, cert


@pytest.fixture
def legacy_node(tmp_path: Path) -> tuple[CertificateStore, Path, Path]:
    """A node with a pending RSA 1024 CSR, the SHA-1 certificate for it, and the root."""
    root_key, root = legacy_root(tmp_path)
    node = CertificateStore.open(tmp_path / "node" / "certs")
    node.upload_trust("CallManager-trust", root.read_bytes())
    node.generate_csr(
        "CallManager", common_name="CUCMA", key=KeySpec.parse("rsa1024"), policy=CryptoPolicy.LEGACY
    )
    csr = tmp_path / "node.csr"
    csr.write_bytes(node.csr_pem("CallManager"))
    extensions = tmp_path / "leaf.cnf"
    extensions.write_text(LEAF_EXTENSIONS)
    leaf = tmp_path / "leaf.pem"
    openssl(
        "x509",
        "-req",
        "-sha1",
        "-in",
        csr,
        "-CA",
        root,
        "-CAkey",
        root_key,
        "-set_serial",
        "4660",
        "-days",
        "200",
        "-extfile",
        extensions,
        "-out",
        leaf,
    )
    return node, leaf, root


def test_fixture_is_sha1_rsa1024(legacy_node: tuple[CertificateStore, Path, Path]) -> None:
    _node, leaf_file, _root = legacy_node
    leaf = x509.load_pem_x509_certificate(leaf_file.read_bytes())
    assert leaf.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.5"  # sha1WithRSA
    assert leaf.public_key().key_size == 1024  # type: ignore[union-attr]


def test_modern_upload_rejects_with_reason(
    legacy_node: tuple[CertificateStore, Path, Path],
) -> None:
    node, leaf, _root = legacy_node
    with pytest.raises(CertificateUploadError) as info:
        node.upload_certificate("CallManager", leaf.read_bytes())
    message = str(info.value)
    assert "An RSA key of 1024 bits is too small for the modern policy" in message
    assert "'ee key too small'" in message
    assert node.own_certificate("CallManager") is None


def test_modern_rejects_sha1_signature_with_reason(tmp_path: Path) -> None:
    _key, root = legacy_root(tmp_path)
    results = verify_peer(
        [x509.load_pem_x509_certificate(root.read_bytes())],
        [x509.load_pem_x509_certificate(root.read_bytes())],
        role="server",
        now=utc_now(),
    )
    policy = next(r for r in results if r.check == "policy")
    assert policy.status is CheckStatus.FAILED
    assert "1024 bits" in policy.detail


def test_legacy_upload_accepts_and_warns(
    legacy_node: tuple[CertificateStore, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    node, leaf, root = legacy_node
    result = node.upload_certificate("CallManager", leaf.read_bytes(), policy=CryptoPolicy.LEGACY)
    assert result.certificate.serial_number == 4660
    assert result.chain[-1] == x509.load_pem_x509_certificate(root.read_bytes())
    assert node.own_certificate("CallManager") == result.certificate
    assert "legacy crypto policy in use" in caplog.text


def test_legacy_upload_still_checks_issuer(
    legacy_node: tuple[CertificateStore, Path, Path], tmp_path: Path
) -> None:
    node, leaf, _root = legacy_node
    node.delete_trust("CallManager-trust", "Legacy Root")
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    _key, other_root = legacy_root(other_dir)
    node.upload_trust("CallManager-trust", other_root.read_bytes())
    with pytest.raises(CertificateUploadError, match="OpenSSL rejected the chain under the legacy"):
        node.upload_certificate("CallManager", leaf.read_bytes(), policy=CryptoPolicy.LEGACY)


def test_legacy_verify_peer(legacy_node: tuple[CertificateStore, Path, Path]) -> None:
    _node, leaf_file, root_file = legacy_node
    leaf = x509.load_pem_x509_certificate(leaf_file.read_bytes())
    root = x509.load_pem_x509_certificate(root_file.read_bytes())
    modern = verify_peer([leaf], [root], role="client", now=utc_now(), names=["CUCMA"])
    assert not is_valid(modern)
    legacy = verify_peer(
        [leaf], [root], role="client", now=utc_now(), names=["cucma"], policy=CryptoPolicy.LEGACY
    )
    assert is_valid(legacy), legacy


def test_cli_upload_legacy(legacy_node: tuple[CertificateStore, Path, Path]) -> None:
    node, leaf, _root = legacy_node
    runner = CliRunner()
    node_dir = str(node.directory.parent)
    args = ["upload", "--node-dir", node_dir, "--purpose", "CallManager", str(leaf)]
    refused = runner.invoke(cert_cmd.app, args)
    assert refused.exit_code == 1
    assert "too small for the modern policy" in refused.stderr
    accepted = runner.invoke(cert_cmd.app, [*args, "--policy", "legacy"])
    assert accepted.exit_code == 0, accepted.stderr
    assert "Installed CN=CUCMA for CallManager" in accepted.stdout
