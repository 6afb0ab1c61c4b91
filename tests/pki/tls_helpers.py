"""Test-only TLS contexts and a one-connection loopback server, for real handshakes."""

from __future__ import annotations

import socket
import ssl
import threading

from cryptography import x509

from tlstrunk.pki.store import CertificateStore

SOCKET_TIMEOUT = 10.0  # guards against a hang only; nothing measures time


def context(
    node: CertificateStore, side: ssl._SSLMethod, purpose: str = "CallManager"
) -> ssl.SSLContext:
    """A mutual-TLS context from the node's identity and its trust store for ``purpose``."""
    ctx = ssl.SSLContext(side)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    cert_file, key_file = node.identity_files(purpose)
    ctx.load_cert_chain(cert_file, key_file, password=node.identity_password(purpose))
    trust = "CallManager-trust" if purpose == "CallManager" else f"{purpose}-trust"
    ctx.load_verify_locations(cafile=node.trust_bundle_path(trust))
    ctx.verify_mode = ssl.CERT_REQUIRED
    if side == ssl.PROTOCOL_TLS_CLIENT:
        ctx.check_hostname = False  # names are checked with check_subject_name
    return ctx


def drain_and_close(raw: socket.socket) -> None:
    """Close after reading what the peer sent, so that it gets the alert and not a reset."""
    with raw:
        raw.settimeout(SOCKET_TIMEOUT)
        raw.shutdown(socket.SHUT_WR)
        while raw.recv(4096):
            pass


class Server(threading.Thread):
    """Accepts one TLS connection on 127.0.0.1, echoes 64 bytes and records the peer."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        super().__init__(daemon=True)
        self.ctx = ctx
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(SOCKET_TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.peer: x509.Certificate | None = None
        self.error: ssl.SSLError | None = None

    def run(self) -> None:
        with self.listener:
            raw, _address = self.listener.accept()
            raw.settimeout(SOCKET_TIMEOUT)
            tls = self.ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            try:
                tls.do_handshake()
            except ssl.SSLError as exc:
                self.error = exc
                drain_and_close(socket.socket(fileno=tls.detach()))
                return
            with tls:
                der = tls.getpeercert(binary_form=True)
                assert der is not None
                self.peer = x509.load_der_x509_certificate(der)
                tls.sendall(tls.recv(64))


def connect(ctx: ssl.SSLContext, port: int) -> tuple[x509.Certificate, bytes]:
    """Connect, send OPTIONS, and return the server certificate and the echo."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as raw,
        ctx.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        tls.sendall(b"OPTIONS")
        return x509.load_der_x509_certificate(der), tls.recv(64)
