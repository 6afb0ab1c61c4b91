"""Check the pjsua2 peer against itself before it is used against a node.

One peer answers on 127.0.0.60 and another calls from 127.0.0.50, both over
mutual TLS with certificates from a CA made here. If these tests fail, an
interop failure against the node says nothing about the node.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pjsua_runner import PeerRun, free_tcp_port, run_pjsua_peer, start_pjsua_peer

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("pjsua2_peer")]

CALLER_ADDRESS = "127.0.0.50"
ANSWER_ADDRESS = "127.0.0.60"


@dataclass(frozen=True)
class Issued:
    """A certificate and its key as PEM files, with the CA file that trusts it."""

    cert: Path
    key: Path
    ca: Path


@dataclass(frozen=True)
class ThrowawayCa:
    """A throwaway root CA that issues leaf certificates into a folder."""

    name: str
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    ca_file: Path

    @classmethod
    def create(cls, folder: Path, name: str) -> ThrowawayCa:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        ca_file = folder / f"{name}.ca.pem"
        ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(name=name, key=key, cert=cert, ca_file=ca_file)

    def issue(self, folder: Path, common_name: str, address: str) -> Issued:
        """Issue a serverAuth+clientAuth leaf for ``common_name`` with an IP SAN of ``address``."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName(common_name),
                        x509.IPAddress(ipaddress.ip_address(address)),
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_file = folder / f"{common_name}.pem"
        key_file = folder / f"{common_name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return Issued(cert=cert_file, key=key_file, ca=self.ca_file)


def tls_args(issued: Issued) -> list[str]:
    return ["--cert", str(issued.cert), "--key", str(issued.key), "--ca", str(issued.ca)]


def answer_args(peer: Issued, port: int, timeout: float) -> list[str]:
    return [
        "answer", "--listen", ANSWER_ADDRESS, "--port", str(port),
        "--calls", "1", "--timeout", str(timeout), *tls_args(peer),
    ]  # fmt: skip


def call_args(peer: Issued, port: int) -> list[str]:
    target = f"sip:9898@{ANSWER_ADDRESS}:{port};transport=tls"
    return [
        "call", "--local-address", CALLER_ADDRESS, "--target", target,
        "--from-user", "2000", "--hold", "0.5", "--timeout", "15", *tls_args(peer),
    ]  # fmt: skip


def tls_events_from(run: PeerRun, remote_ip: str) -> list[dict[str, Any]]:
    return [e for e in run.named("tls") if str(e.get("remote_addr", "")).startswith(remote_ip)]


def test_call_confirmed_over_mutual_tls(tmp_path: Path) -> None:
    ca = ThrowawayCa.create(tmp_path, "Interop Test CA")
    caller = ca.issue(tmp_path, "PEER-A", CALLER_ADDRESS)
    callee = ca.issue(tmp_path, "PEER-B", ANSWER_ADDRESS)
    port = free_tcp_port(ANSWER_ADDRESS)

    with start_pjsua_peer(answer_args(callee, port, timeout=30)) as answering:
        calling = run_pjsua_peer(call_args(caller, port), timeout=40)
        answered = answering.wait(timeout=40)

    assert calling.ok, calling.describe()
    assert "CONFIRMED" in calling.call_states, calling.describe()
    assert calling.call_states[-1] == "DISCONNECTED", calling.describe()
    assert calling.named("call_state")[-1]["last_status"] == 200, calling.describe()
    assert calling.named("hangup") == [{"event": "hangup", "by": "local"}], calling.describe()

    caller_tls = tls_events_from(calling, ANSWER_ADDRESS)
    assert caller_tls, calling.describe()
    assert caller_tls[0]["established"] is True, calling.describe()
    assert caller_tls[0]["verified"] is True, calling.describe()
    assert caller_tls[0]["peer_cn"] == "PEER-B", calling.describe()

    assert answered.ok, answered.describe()
    incoming = answered.named("incoming_call")
    assert len(incoming) == 1, answered.describe()
    assert incoming[0]["tls"] is True, answered.describe()
    assert incoming[0]["src_address"].startswith(CALLER_ADDRESS + ":"), answered.describe()
    assert "sip:2000@127.0.0.50" in incoming[0]["remote_uri"], answered.describe()
    assert "CONFIRMED" in answered.call_states, answered.describe()
    assert answered.call_states[-1] == "DISCONNECTED", answered.describe()

    answer_tls = tls_events_from(answered, CALLER_ADDRESS)
    assert answer_tls, answered.describe()
    assert answer_tls[0]["peer_cn"] == "PEER-A", answered.describe()
    assert answer_tls[0]["verified"] is True, answered.describe()


def test_caller_from_foreign_ca_rejected(tmp_path: Path) -> None:
    trusted_ca = ThrowawayCa.create(tmp_path, "Interop Test CA")
    foreign_ca = ThrowawayCa.create(tmp_path, "Foreign CA")
    callee = trusted_ca.issue(tmp_path, "PEER-B", ANSWER_ADDRESS)
    foreign_caller = foreign_ca.issue(tmp_path, "PEER-X", CALLER_ADDRESS)
    # the caller trusts the callee's CA, so only the callee's check can refuse the handshake
    caller = Issued(cert=foreign_caller.cert, key=foreign_caller.key, ca=trusted_ca.ca_file)
    port = free_tcp_port(ANSWER_ADDRESS)

    with start_pjsua_peer(answer_args(callee, port, timeout=30)) as answering:
        calling = run_pjsua_peer(call_args(caller, port), timeout=40)
        answering.stop()
        answered = answering.wait(timeout=20)

    assert not calling.ok, calling.describe()
    assert calling.returncode == 1, calling.describe()
    assert "CONFIRMED" not in calling.call_states, calling.describe()
    assert calling.call_states[-1:] == ["DISCONNECTED"], calling.describe()
    assert calling.named("call_state")[-1]["last_status"] >= 400, calling.describe()

    assert not answered.ok, answered.describe()
    assert answered.named("incoming_call") == [], answered.describe()
    assert answered.call_states == [], answered.describe()

    refused = tls_events_from(answered, CALLER_ADDRESS)
    assert refused, answered.describe()
    assert refused[0]["peer_cn"] == "PEER-X", answered.describe()
    assert refused[0]["verified"] is False, answered.describe()
    assert "The certificate is untrusted" in refused[0]["verify_messages"], answered.describe()
