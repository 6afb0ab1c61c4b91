"""The trunk doctor: check one SIP trunk end to end and report what to change.

:func:`run_doctor` works from the node's own configuration and certificates;
the node need not run, but the far end must. For each destination it connects
from the node's address, runs one handshake with the node's real client
context, sends an OPTIONS request on that connection, and then probes the TLS
versions the far end accepts. The TCP connection of the TCP step carries the
handshake, so the doctor never leaves a bare TCP connection that a far
tlstrunk node would record as a failed handshake.

The steps are reported in this order: configuration, own certificate, address,
TCP connect, TLS versions, handshake, server chain, names, server certificate,
client certificate, OPTIONS, record.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from tlstrunk.config.enums import Transport
from tlstrunk.config.store import ConfigStore
from tlstrunk.config.values import Destination, TrunkConfig
from tlstrunk.control_client import ControlError
from tlstrunk.diag import local, peer, probes, server_cert
from tlstrunk.diag.results import StepResult, Verdict
from tlstrunk.i18n import _
from tlstrunk.paths import NodePaths
from tlstrunk.pki.errors import PkiError
from tlstrunk.pki.explain import explain_ssl_error
from tlstrunk.pki.names import rfc4514_subject
from tlstrunk.pki.store import CertificateStore
from tlstrunk.sip.message import Request
from tlstrunk.transport.tls import (
    PROBE_VERSIONS,
    TlsConfigurationError,
    TlsIdentity,
    build_client_context,
    build_probe_context,
    build_version_probe_context,
)

logger = logging.getLogger(__name__)

PURPOSE = "CallManager"
TRUST = "CallManager-trust"

TCP_CONNECT = "TCP connect"
TLS_VERSIONS = "TLS versions"
HANDSHAKE = "handshake"
CLIENT_CERTIFICATE = "client certificate"
OPTIONS = "OPTIONS"

#: Seconds the doctor waits for a TCP connect, a handshake or a response.
DEFAULT_TIMEOUT = 5.0


class DoctorUsageError(Exception):
    """Raised for a wrong node directory or trunk name; the message lists what exists."""


@dataclass(frozen=True)
class _Node:
    """Configuration and certificate files the doctor loaded from the node directory."""

    paths: NodePaths
    address: str
    trunk: TrunkConfig
    own_chain: tuple[x509.Certificate, ...]
    trusted: tuple[x509.Certificate, ...]
    identity: TlsIdentity | None


async def run_doctor(
    node_dir: Path,
    trunk: str,
    *,
    peer_node_dir: Path | None = None,
    now: dt.datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    passphrase: bytes | None = None,
) -> list[StepResult]:
    """Check trunk ``trunk`` of the node in ``node_dir`` and return every step's result.

    ``peer_node_dir`` is the directory of a local tlstrunk node at the far end,
    whose recorded rejections explain why it refused this node. ``now`` is the
    time certificates are checked at (default: the current time).

    Raises:
        DoctorUsageError: the directory contains no node configuration or no such trunk.
    """
    moment = now or dt.datetime.now(dt.UTC)
    node, results = _load(NodePaths(node_dir), trunk, moment, passphrase)
    profile = node.trunk.profile
    for destination in node.trunk.destinations:
        where = str(destination)
        address_result, address = local.resolve_destination(destination)
        results.append(address_result)
        if address is None:
            continue
        if profile.outgoing_transport is Transport.UDP:
            results.append(_skip(TCP_CONNECT, _("the trunk sends over UDP"), where))
            continue
        check = _DestinationCheck(node, destination, address, moment, timeout, peer_node_dir)
        results += await check.run()
    return results


def _load(
    paths: NodePaths, name: str, now: dt.datetime, passphrase: bytes | None
) -> tuple[_Node, list[StepResult]]:
    if not paths.config_db.is_file():
        raise DoctorUsageError(
            _("No node configuration at {path}; give the node's directory with --node-dir.").format(
                path=paths.config_db
            )
        )
    snapshot = ConfigStore(paths.config_db).load_snapshot()
    trunk = snapshot.trunks.get(name)
    if trunk is None:
        known = ", ".join(sorted(snapshot.trunks)) or _("none")
        raise DoctorUsageError(
            _("Trunk {name!r} does not exist on this node; its trunks are: {known}.").format(
                name=name, known=known
            )
        )
    if snapshot.node is None:
        raise DoctorUsageError(
            _("The configuration at {path} names no node; set the node's name and address.").format(
                path=paths.config_db
            )
        )

    results = local.check_configuration(trunk)
    store = CertificateStore.open(paths.certs, passphrase=passphrase)
    own = store.own_certificate(PURPOSE)
    trusted = tuple(store.trust_certificates(TRUST))
    results += local.check_own_certificate(own, len(trusted), trunk.profile.tls_policy, now)

    identity: TlsIdentity | None = None
    own_chain: tuple[x509.Certificate, ...] = ()
    if own is not None and trusted:
        try:
            chain_file, key_file = store.identity_files(PURPOSE)
            own_chain = tuple(store.own_chain(PURPOSE))
            identity = TlsIdentity(
                chain_file,
                key_file,
                store.trust_bundle_path(TRUST),
                store.identity_password(PURPOSE),
            )
        except PkiError as exc:
            results.append(
                StepResult(
                    local.OWN_CERTIFICATE,
                    Verdict.FAIL,
                    str(exc),
                    _("give the store's passphrase with --store-passphrase-file"),
                )
            )
    node = _Node(paths, snapshot.node.address, trunk, own_chain, trusted, identity)
    return node, results


def _skip(step: str, reason: str, where: str) -> StepResult:
    return StepResult(step, Verdict.SKIP, reason, destination=where)


class _DestinationCheck:
    """The network steps for one destination of the trunk."""

    def __init__(
        self,
        node: _Node,
        destination: Destination,
        address: str,
        now: dt.datetime,
        timeout: float,
        peer_node_dir: Path | None,
    ) -> None:
        self.node = node
        self.host = address
        self.port = destination.port
        self.where = str(destination)
        self.now = now
        self.timeout = timeout
        self.peer_node_dir = peer_node_dir
        self.tls = node.trunk.profile.outgoing_transport is Transport.TLS

    async def run(self) -> list[StepResult]:
        try:
            sock = await probes.tcp_connect(
                self.host, self.port, local_address=self.node.address, timeout=self.timeout
            )
        except (OSError, TimeoutError) as exc:
            return [self._connect_failed(exc)] + [
                _skip(step, _("TCP connect failed"), self.where)
                for step in (TLS_VERSIONS, HANDSHAKE, OPTIONS)
            ]
        local_port = int(sock.getsockname()[1])
        connected = StepResult(
            TCP_CONNECT,
            Verdict.PASS,
            _("connected from {local}:{port} to {host}:{remote}").format(
                local=self.node.address, port=local_port, host=self.host, remote=self.port
            ),
            destination=self.where,
        )
        if not self.tls:
            return [connected, *await self._plain(sock)]
        if self.node.identity is None:
            sock.close()
            reason = _("this node's CallManager certificate or trust store is not usable")
            return [connected] + [
                _skip(step, reason, self.where) for step in (TLS_VERSIONS, HANDSHAKE, OPTIONS)
            ]
        tls_results = await self._tls(sock, local_port)
        versions = await self._versions()
        return [connected, versions, *tls_results]

    def _connect_failed(self, exc: BaseException) -> StepResult:
        if isinstance(exc, TimeoutError):
            seen = _("no answer from {host}:{port} within {seconds:.0f} s").format(
                host=self.host, port=self.port, seconds=self.timeout
            )
        else:
            seen = _("connecting from {local} to {host}:{port} failed: {error}").format(
                local=self.node.address, host=self.host, port=self.port, error=exc
            )
        fix = _(
            "start the far node, check that it listens for SIP on {host}:{port}, and that no "
            "firewall blocks the port"
        ).format(host=self.host, port=self.port)
        return StepResult(TCP_CONNECT, Verdict.FAIL, seen, fix, self.where)

    # -- plain TCP --------------------------------------------------------------

    async def _plain(self, sock: socket.socket) -> list[StepResult]:
        stream = await probes.open_sip_stream(sock, None, timeout=self.timeout)
        try:
            outcome = await probes.exchange_options(stream, self._options("TCP"), self.timeout)
        finally:
            stream.close()
        return [self._options_result(outcome)]

    # -- TLS --------------------------------------------------------------------

    async def _tls(self, sock: socket.socket, local_port: int) -> list[StepResult]:
        identity = self.node.identity
        assert identity is not None
        policy = str(self.node.trunk.profile.tls_policy)
        try:
            context = build_client_context(identity, policy)
        except TlsConfigurationError as exc:
            sock.close()
            fix = _("upload a usable CallManager certificate on this node")
            return [StepResult(HANDSHAKE, Verdict.FAIL, str(exc), fix, self.where)]
        try:
            stream = await probes.open_sip_stream(sock, context, timeout=self.timeout)
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            return await self._handshake_failed(exc, local_port)

        session = stream.session
        assert session is not None
        try:
            outcome = await probes.exchange_options(stream, self._options("TLS"), self.timeout)
        finally:
            stream.close()
        seen = _("{version}, cipher {cipher}, server presented {subject}").format(
            version=session.version,
            cipher=session.cipher,
            subject=rfc4514_subject(session.chain[0].subject) if session.chain else _("nothing"),
        )
        results = [StepResult(HANDSHAKE, Verdict.PASS, seen, destination=self.where)]
        results += self._certificate_steps(session.chain)
        if outcome.response is not None:
            results.append(self._client_certificate_accepted())
        else:
            results.append(await self._client_certificate_rejected(outcome, session, local_port))
        options = self._options_result(outcome)
        if options.verdict is Verdict.PASS and any(
            r.step in (server_cert.SERVER_CHAIN, server_cert.NAMES) and r.verdict is Verdict.FAIL
            for r in results
        ):
            # The probe skips the checks the node makes, and the node itself would
            # close this connection before any call, so warn instead of passing.
            options = StepResult(
                OPTIONS,
                Verdict.WARN,
                _("{seen}, but only because the doctor skips the failed checks above").format(
                    seen=options.seen
                ),
                _("calls on this trunk fail until the failed steps above are fixed"),
                self.where,
            )
        results.append(options)
        results.append(self._record_step(session.chain))
        return results

    async def _handshake_failed(self, exc: BaseException, local_port: int) -> list[StepResult]:
        if isinstance(exc, ssl.SSLError):
            seen = explain_ssl_error(exc, side="client")
        else:
            seen = _("the handshake failed: {error}").format(error=exc or type(exc).__name__)
        verify_failed = isinstance(exc, ssl.SSLCertVerificationError)
        chain = await probes.fetch_presented_chain(
            self.host,
            self.port,
            local_address=self.node.address,
            context=build_probe_context(self.node.identity),
            timeout=self.timeout,
        )
        if chain:
            seen = _("{seen} The server presented {subject}, issued by {issuer}.").format(
                seen=seen,
                subject=rfc4514_subject(chain[0].subject),
                issuer=rfc4514_subject(chain[0].issuer),
            )
        fix = _("see the steps below") if verify_failed else _("see the client certificate step")
        results = [StepResult(HANDSHAKE, Verdict.FAIL, seen, fix, self.where)]
        results += self._certificate_steps(chain)
        if verify_failed:
            results.append(_skip(CLIENT_CERTIFICATE, _("the handshake failed"), self.where))
        else:
            results.append(await self._rejected_by_peer(seen, local_port))
        results.append(_skip(OPTIONS, _("the handshake failed"), self.where))
        results.append(self._record_step(chain))
        return results

    def _certificate_steps(self, chain: tuple[x509.Certificate, ...]) -> list[StepResult]:
        if not chain:
            reason = _("the server's certificate could not be read")
            return [
                _skip(step, reason, self.where)
                for step in (server_cert.SERVER_CHAIN, server_cert.NAMES)
            ]
        return server_cert.check_server_chain(
            chain,
            self.node.trusted,
            self.node.own_chain,
            self.node.trunk.profile,
            self.now,
            self.where,
        )

    def _record_step(self, chain: tuple[x509.Certificate, ...]) -> StepResult:
        if not chain:
            return _skip(
                server_cert.RECORD, _("the server's certificate could not be read"), self.where
            )
        return server_cert.check_record(
            self.node.paths.certs, self.node.trunk.name, chain[0], self.where
        )

    def _client_certificate_accepted(self) -> StepResult:
        subject = rfc4514_subject(self.node.own_chain[0].subject) if self.node.own_chain else ""
        # NOTE: Python's ssl module does not show whether the server sent a
        # CertificateRequest, so a far end that requests no certificate is reported the same way.
        seen = _(
            "the far end answered SIP on the connection that carried this node's certificate "
            "{subject}, so it accepted it"
        ).format(subject=subject)
        return StepResult(CLIENT_CERTIFICATE, Verdict.PASS, seen, destination=self.where)

    async def _client_certificate_rejected(
        self, outcome: probes.OptionsOutcome, session: probes.TlsSession, local_port: int
    ) -> StepResult:
        if outcome.timed_out:
            seen = _("the far end kept the connection open but sent no response within {s:.0f} s")
            return StepResult(
                CLIENT_CERTIFICATE,
                Verdict.WARN,
                seen.format(s=self.timeout),
                _("read the far end's trace for the OPTIONS request"),
                self.where,
            )
        if isinstance(outcome.closed_by, ssl.SSLError):
            seen = explain_ssl_error(outcome.closed_by, side="client")
        elif session.version == "TLSv1.3":
            seen = _(
                "the far end closed the connection right after the TLS 1.3 handshake without "
                "a response, which usually means it rejected this node's certificate"
            )
        else:
            seen = _("the far end closed the connection after the handshake without a response")
        return await self._rejected_by_peer(seen, local_port)

    async def _rejected_by_peer(self, seen: str, local_port: int) -> StepResult:
        fix = _(
            "read the far end's trace for the rejected connection from {address}, or run the "
            "doctor with --peer-node-dir for a local tlstrunk far node"
        ).format(address=self.node.address)
        if self.peer_node_dir is not None:
            try:
                rejection = await peer.rejection_of(
                    self.peer_node_dir, self.node.address, self.port, source_port=local_port
                )
            except ControlError as exc:
                seen = _("{seen}; the far node's status could not be read: {error}").format(
                    seen=seen, error=exc
                )
            else:
                if rejection is not None:
                    seen = _("{seen}; the far node rejected it: {check} failed: {detail}").format(
                        seen=seen, check=rejection.get("check"), detail=rejection.get("detail")
                    )
                    fix = _("change what the far node's reason names (see above)")
        return StepResult(CLIENT_CERTIFICATE, Verdict.FAIL, seen, fix, self.where)

    def _options(self, transport: str) -> Request:
        return probes.build_options(
            node_address=self.node.address,
            via_port=self.node.trunk.profile.incoming_port,
            host=self.host,
            port=self.port,
            transport=transport,
        )

    def _options_result(self, outcome: probes.OptionsOutcome) -> StepResult:
        response = outcome.response
        if response is None:
            reason = (
                _("no response within {s:.0f} s").format(s=self.timeout)
                if outcome.timed_out
                else _("the connection closed without a response")
            )
            fix = _("see the client certificate step, and read the far end's trace")
            return StepResult(OPTIONS, Verdict.FAIL, reason, fix, self.where)
        seen = _("{code} {reason} in {ms:.1f} ms").format(
            code=response.status_code, reason=response.reason, ms=outcome.elapsed * 1000
        )
        if 200 <= response.status_code < 300:
            return StepResult(OPTIONS, Verdict.PASS, seen, destination=self.where)
        fix = _("the far end is reachable but refused OPTIONS; read its trace for the reason")
        return StepResult(OPTIONS, Verdict.WARN, seen, fix, self.where)

    # -- TLS versions -------------------------------------------------------------

    async def _versions(self) -> StepResult:
        accepted: list[str] = []
        refused: list[str] = []
        unknown: list[str] = []
        for version in PROBE_VERSIONS:
            context = build_version_probe_context(version, self.node.identity)
            outcome = await probes.version_accepted(
                self.host,
                self.port,
                local_address=self.node.address,
                context=context,
                timeout=self.timeout,
            )
            {True: accepted, False: refused, None: unknown}[outcome].append(version)
        seen = _("accepts: {accepted}; refuses: {refused}").format(
            accepted=", ".join(accepted) or _("none"), refused=", ".join(refused) or _("none")
        )
        if unknown:
            seen += _("; no answer for: {unknown}").format(unknown=", ".join(unknown))
        if accepted:
            return StepResult(TLS_VERSIONS, Verdict.PASS, seen, destination=self.where)
        fix = _("enable TLS 1.2 or 1.3 on the far end, or check that it speaks TLS on this port")
        verdict = Verdict.FAIL if refused else Verdict.WARN
        return StepResult(TLS_VERSIONS, verdict, seen, fix, self.where)
