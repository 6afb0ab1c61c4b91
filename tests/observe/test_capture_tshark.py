"""A real TLS exchange on loopback, captured by CaptureSession and decrypted by tshark.

The TLS secrets reach tshark only through the Decryption Secrets Block in the
file: no key log file is passed to it.  tshark decodes SIP inside TLS on port
5061 by default, so the server listens on 127.0.0.77:5061; when that port is
taken, the test uses a free port and passes tshark ``-d`` (decode as), which
carries no secrets.
"""

from __future__ import annotations

import asyncio
import datetime
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tlstrunk.observe.capture import CaptureSession, KeyLogFollower
from tlstrunk.observe.pcapng import PcapngWriter
from tlstrunk.observe.tap import StreamTap

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(
    TSHARK is None, reason="tshark is not installed (apt-get install tshark)"
)

HOST = "127.0.0.77"
TIMEOUT = 20.0  # guards against a hang only; nothing measures time

INVITE = (
    b"INVITE sip:1018@cluster-b.example;transport=tls SIP/2.0\r\n"
    b"Via: SIP/2.0/TLS 127.0.0.77:5061;branch=z9hG4bK-capture-1\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:9898@cluster-a.example>;tag=a1\r\n"
    b"To: <sip:1018@cluster-b.example>\r\n"
    b"Call-ID: capture-test-1@cluster-a.example\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:9898@127.0.0.77;transport=tls>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/TLS 127.0.0.77:5061;branch=z9hG4bK-capture-1\r\n"
    b"From: <sip:9898@cluster-a.example>;tag=a1\r\n"
    b"To: <sip:1018@cluster-b.example>;tag=b1\r\n"
    b"Call-ID: capture-test-1@cluster-a.example\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:1018@127.0.0.77;transport=tls>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


# -- a throwaway CA and contexts -------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(directory: Path) -> tuple[Path, Path, Path]:
    """Write a CA certificate and a server certificate and key; return their paths."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("capture test CA"))
        .issuer_name(_name("capture test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("cluster-b.example"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("cluster-b.example")]), False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


def contexts(directory: Path, version: ssl.TLSVersion) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca, cert, key = make_pki(directory)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cafile=ca)
    for context, side in ((server, "server"), (client, "client")):
        context.minimum_version = version
        context.maximum_version = version
        context.keylog_filename = str(directory / f"{side}.keys")
    return server, client


# -- one side's capture ----------------------------------------------------------


@dataclass
class Side:
    """One endpoint's capture: a session fed by its tap."""

    session: CaptureSession
    initiated_locally: bool
    conn_id: int = 1

    def tap(self, on_made: Callable[[asyncio.Transport], None] | None = None) -> StreamTap:
        def made(transport: asyncio.Transport) -> None:
            self.session.connection_opened(
                self.conn_id,
                transport.get_extra_info("sockname")[:2],
                transport.get_extra_info("peername")[:2],
                self.initiated_locally,
                time.time(),
            )
            if on_made is not None:
                on_made(transport)

        return StreamTap(
            on_data=lambda direction, data: self.session.data(
                self.conn_id, direction, data, time.time()
            ),
            after_receive=self.session.flush,
            on_connection_made=made,
            on_connection_lost=lambda exc: self.session.connection_closed(
                self.conn_id, time.time(), closed_locally=self.initiated_locally
            ),
        )


def make_side(path: Path, keylog: Path | None, initiated_locally: bool) -> Side:
    key_source = KeyLogFollower(keylog).read_new_lines if keylog is not None else None
    session = CaptureSession(PcapngWriter(path), key_source=key_source)
    return Side(session, initiated_locally)


@dataclass
class Collector(asyncio.Protocol):
    """Collects plaintext until a whole SIP message (no body) has arrived."""

    reply: bytes | None = None
    message: asyncio.Future[bytes] = field(default_factory=asyncio.Future)
    data: bytearray = field(default_factory=bytearray)
    transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data += data
        if b"\r\n\r\n" in self.data and not self.message.done():
            self.message.set_result(bytes(self.data))
            if self.reply is not None and self.transport is not None:
                self.transport.write(self.reply)


def bind_listener() -> tuple[socket.socket, int]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((HOST, 5061))
    except OSError:
        listener.bind((HOST, 0))
    listener.listen()
    return listener, listener.getsockname()[1]


async def exchange(
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    server_side: Side,
    client_side: Side,
    listener: socket.socket,
) -> tuple[bytes, bytes]:
    """Send an INVITE over TLS and reply 200 OK; return the INVITE and the reply as read."""
    loop = asyncio.get_running_loop()
    server_app = Collector(reply=OK)
    handshakes: list[asyncio.Task[asyncio.Transport | None]] = []

    def start_server_tls(transport: asyncio.Transport) -> None:
        upgrade = loop.start_tls(transport, server_app, server_context, server_side=True)
        handshakes.append(loop.create_task(upgrade))

    server = await loop.create_server(lambda: server_side.tap(start_server_tls), sock=listener)
    async with server:
        client_tap = client_side.tap()
        await loop.create_connection(lambda: client_tap, HOST, listener.getsockname()[1])
        assert client_tap.transport is not None
        client_app = Collector()
        tls = await loop.start_tls(
            client_tap.transport, client_app, client_context, server_hostname="cluster-b.example"
        )
        assert tls is not None
        client_app.connection_made(tls)
        server_tls = await handshakes[0]
        assert server_tls is not None
        server_app.connection_made(server_tls)
        tls.write(INVITE)
        invite = await server_app.message
        answer = await client_app.message
        tls.close()
        while not client_tap.transport.is_closing():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
    return invite, answer


def run_exchange(tmp_path: Path, version: ssl.TLSVersion, with_keys: bool) -> tuple[Path, Path]:
    server_context, client_context = contexts(tmp_path, version)
    server_capture = tmp_path / "server.pcapng"
    client_capture = tmp_path / "client.pcapng"
    server_side = make_side(server_capture, tmp_path / "server.keys" if with_keys else None, False)
    client_side = make_side(client_capture, tmp_path / "client.keys" if with_keys else None, True)
    listener, _port = bind_listener()

    invite, answer = asyncio.run(
        asyncio.wait_for(
            exchange(server_context, client_context, server_side, client_side, listener),
            TIMEOUT,
        )
    )
    server_side.session.close()
    client_side.session.close()

    assert invite == INVITE
    assert answer == OK
    return server_capture, client_capture


def tshark_sip(capture: Path, port: int) -> list[str]:
    """Return tshark's ``method,status`` lines for the SIP messages in ``capture``."""
    assert TSHARK is not None
    command = [TSHARK, "-n", "-r", str(capture), "-Y", "sip", "-T", "fields"]
    command += ["-e", "sip.Method", "-e", "sip.Status-Code", "-E", "separator=,"]
    if port != 5061:
        command += ["-d", f"tls.port=={port},sip"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=True)
    return [line for line in result.stdout.splitlines() if line.strip()]


def capture_port(capture: Path) -> int:
    assert TSHARK is not None
    command = [TSHARK, "-n", "-r", str(capture), "-c", "1", "-T", "fields", "-e", "tcp.dstport"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=True)
    return int(result.stdout.split()[0])


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_tshark_decrypts_sip(tmp_path: Path, version: ssl.TLSVersion) -> None:
    server_capture, client_capture = run_exchange(tmp_path, version, with_keys=True)

    for capture in (server_capture, client_capture):
        port = capture_port(capture)
        assert tshark_sip(capture, port) == ["INVITE,", ",200"], capture.name


def test_tshark_needs_secrets_block(tmp_path: Path) -> None:
    server_capture, client_capture = run_exchange(tmp_path, ssl.TLSVersion.TLSv1_3, with_keys=False)

    for capture in (server_capture, client_capture):
        assert tshark_sip(capture, capture_port(capture)) == [], capture.name
