"""SIP trunk connections: outbound reuse and inbound acceptance.

An outbound trunk keeps one persistent TLS connection to its destination and
reuses it for every call.  An inbound TLS connection is matched to a trunk by
its source address and then checked against that trunk's security profile.
Both directions accept the peer only when its certificate carries one of the
profile's X.509 subject names.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509

from tlstrunk.config.enums import Transport
from tlstrunk.config.snapshot import ConfigSnapshot
from tlstrunk.config.values import TrunkConfig
from tlstrunk.i18n import _
from tlstrunk.observe.trace import TraceWriter
from tlstrunk.pki.explain import explain_ssl_error
from tlstrunk.pki.names import (
    SubjectNameMismatch,
    certificate_names,
    check_subject_name,
    openssl_style_subject,
    parse_subject_names,
)
from tlstrunk.transport.capture import NodeCapture
from tlstrunk.transport.connection import SipChannel, SipConnection
from tlstrunk.transport.listener import (
    ConnectionRejected,
    Rejection,
    fetch_server_certificate,
    open_stream_connection,
)
from tlstrunk.transport.srv import SrvLookupError, nameservers_from_env, resolve_srv
from tlstrunk.transport.udp import UdpEndpoint

logger = logging.getLogger(__name__)


class TrunkUnavailable(Exception):
    """Raised when no connection to a trunk's destinations can be opened and accepted.

    Attributes:
        check: the check that failed, e.g. ``"TLS handshake"`` or ``"X.509 subject name"``.
    """

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class PeerCertificate:
    """The peer certificate as a node saw it on one connection."""

    subject: str
    issuer: str
    serial: str
    common_names: tuple[str, ...]
    dns_names: tuple[str, ...]
    matched_name: str


def describe_peer(der: bytes, matched_name: str) -> PeerCertificate:
    """Summarise a DER certificate for traces and call reports."""
    certificate = x509.load_der_x509_certificate(der)
    names = certificate_names(certificate)
    return PeerCertificate(
        subject=openssl_style_subject(certificate.subject),
        issuer=openssl_style_subject(certificate.issuer),
        serial=f"{certificate.serial_number:x}",
        common_names=names.common_names,
        dns_names=names.dns_names,
        matched_name=matched_name,
    )


class TrunkConnections:
    """Opens, checks and reuses the TLS connections of a node's trunks.

    Args:
        node_address: the address outbound connections are bound to, so the far
            end can match them to its trunk by source address.
        snapshot: returns the configuration snapshot in force.
        client_context: returns the client ``SSLContext`` in force for a trunk.
        make_connection: builds a fresh :class:`SipConnection`.
        on_rejected: called with every rejected connection.
        record_peer: called with the trunk name and the peer certificate of every
            accepted connection, for the expiry monitor.
        trace: the node's trace writer.
    """

    def __init__(
        self,
        *,
        node_address: str,
        snapshot: Callable[[], ConfigSnapshot],
        client_context: Callable[[TrunkConfig], ssl.SSLContext],
        make_connection: Callable[[str], SipConnection],
        on_rejected: Callable[[Rejection], None],
        record_peer: Callable[[str, x509.Certificate], None],
        udp_endpoint: Callable[[], UdpEndpoint | None],
        probe_context: Callable[[], ssl.SSLContext],
        trace: TraceWriter,
        capture: NodeCapture | None = None,
    ) -> None:
        self._capture = capture
        self._probe_context = probe_context
        self._udp_endpoint = udp_endpoint
        self._node_address = node_address
        self._record_peer = record_peer
        self._snapshot = snapshot
        self._client_context = client_context
        self._make_connection = make_connection
        self._on_rejected = on_rejected
        self._trace = trace
        self._outbound: dict[str, SipChannel] = {}
        #: Addresses found through DNS SRV, by address: the trunk they belong to.
        self._srv_sources: dict[str, str] = {}
        #: The latest SRV lookup result of each SRV trunk: (address, port) pairs in order.
        self._srv_targets: dict[str, list[tuple[str, int]]] = {}
        self._nameservers = nameservers_from_env()
        #: Which destination (by position) each trunk's open connection goes to.
        self._destination_index: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.peers: dict[int, PeerCertificate] = {}
        self.handshakes = 0

    # -- outbound -------------------------------------------------------------

    async def connection_for(self, trunk: TrunkConfig) -> SipChannel:
        """Return the trunk's open connection, opening one if none is open.

        A UDP trunk gets the channel to its first destination through the
        node's UDP socket.
        """
        if trunk.profile.outgoing_transport is Transport.UDP:
            return self._udp_channel(trunk)
        existing = self._outbound.get(trunk.name)
        if existing is not None and existing.is_open:
            return existing
        lock = self._locks.setdefault(trunk.name, asyncio.Lock())
        async with lock:
            existing = self._outbound.get(trunk.name)
            if existing is not None and existing.is_open:
                return existing
            connection = await self._open(trunk)
            self._outbound[trunk.name] = connection
            return connection

    async def fail_back(self, trunk: TrunkConfig) -> bool:
        """Move the trunk back to an earlier destination that is reachable again, if any.

        Calls already up keep the connection they run on; new calls and pings
        take the new one. Returns whether the trunk moved.
        """
        if trunk.profile.outgoing_transport is Transport.UDP:
            return False
        current = self._outbound.get(trunk.name)
        index = self._destination_index.get(trunk.name, 0)
        if current is None or not current.is_open or index == 0:
            return False
        lock = self._locks.setdefault(trunk.name, asyncio.Lock())
        async with lock:
            for earlier, (address, port) in enumerate((await self.resolve(trunk))[:index]):
                try:
                    connection = await self._open_destination(trunk, address, port)
                except TrunkUnavailable:
                    continue
                self._outbound[trunk.name] = connection
                self._destination_index[trunk.name] = earlier
                self._trace.info(
                    "SIPHandler",
                    "Trunk %s: destination %s:%d answers again; new calls use it",
                    trunk.name,
                    address,
                    port,
                )
                return True
        return False

    def _udp_channel(self, trunk: TrunkConfig) -> SipChannel:
        endpoint = self._udp_endpoint()
        if endpoint is None or not endpoint.is_open:
            raise TrunkUnavailable(
                "outgoing transport",
                _(
                    "Trunk {trunk} sends over UDP but the node has no UDP socket; give its "
                    "profile '{profile}' an incoming transport of UDP or TCP+UDP."
                ).format(trunk=trunk.name, profile=trunk.profile.name),
            )
        if trunk.destination_is_srv:
            targets = self._srv_targets.get(trunk.name)
            if not targets:
                raise TrunkUnavailable(
                    "DNS SRV",
                    _(
                        "Trunk {trunk} sends over UDP to an SRV name that has not been "
                        "resolved; check 'tlstrunk doctor trunk {trunk}' for the DNS answer."
                    ).format(trunk=trunk.name),
                )
            address = targets[0]
        else:
            address = (trunk.destinations[0].address, trunk.destinations[0].port)
        channel = endpoint.channel(address)
        channel.trunk_name = trunk.name
        return channel

    async def resolve(self, trunk: TrunkConfig) -> list[tuple[str, int]]:
        """Return the (address, port) pairs of a trunk, in the order to try them.

        For an SRV trunk each destination is a domain whose SRV records are
        looked up (RFC 3263); the addresses found also identify the far end
        when it connects to this node.
        """
        if not trunk.destination_is_srv:
            return [(d.address, d.port) for d in trunk.destinations]
        transport = str(trunk.profile.outgoing_transport)
        found: list[tuple[str, int]] = []
        errors: list[str] = []
        for destination in trunk.destinations:
            try:
                targets = await resolve_srv(
                    destination.address, transport, nameservers=self._nameservers
                )
            except SrvLookupError as exc:
                errors.append(str(exc))
                continue
            for target in targets:
                found += [(address, target.port) for address in target.addresses]
        if not found:
            raise TrunkUnavailable(
                "DNS SRV",
                _("Trunk {trunk}: no SRV destination could be resolved. {errors}").format(
                    trunk=trunk.name, errors=" ".join(errors)
                ),
            )
        for address, _port in found:
            self._srv_sources[_address_key(address)] = trunk.name
        self._srv_targets[trunk.name] = found
        self._trace.info(
            "SIPHandler",
            "Trunk %s: SRV resolved to %s",
            trunk.name,
            ", ".join(f"{a}:{p}" for a, p in found),
        )
        return found

    async def _open(self, trunk: TrunkConfig) -> SipConnection:
        failures: list[TrunkUnavailable] = []
        for index, (address, port) in enumerate(await self.resolve(trunk)):
            try:
                connection = await self._open_destination(trunk, address, port)
            except TrunkUnavailable as exc:
                failures.append(exc)
                continue
            self._destination_index[trunk.name] = index
            return connection
        if not failures:
            raise TrunkUnavailable(
                "destination",
                _("Trunk {trunk} has no destination; add its far end's address and port.").format(
                    trunk=trunk.name
                ),
            )
        raise failures[-1]

    async def _open_destination(self, trunk: TrunkConfig, host: str, port: int) -> SipConnection:
        secure = trunk.profile.outgoing_transport is Transport.TLS
        self._trace.info(
            "SIPHandler",
            "Trunk %s: creating %s connection from %s to %s:%d",
            trunk.name,
            "TLS" if secure else "TCP",
            self._node_address,
            host,
            port,
        )
        connection = self._make_connection("outbound")
        if secure:
            self.handshakes += 1
        try:
            await open_stream_connection(
                host=host,
                port=port,
                local_address=self._node_address,
                context=self._client_context(trunk) if secure else None,
                connection=connection,
                capture=self._capture,
            )
        except ssl.SSLError as exc:
            detail = explain_ssl_error(exc, side="client")
            check = "TLS handshake"
            if isinstance(exc, ssl.SSLCertVerificationError):
                check = "certificate chain"
                detail += " " + await self._describe_refused_server(host, port)
            self._report_outbound_rejection(host, port, check, detail)
            raise TrunkUnavailable(
                check,
                _("TLS handshake with {host}:{port} for trunk {trunk} failed: {detail}").format(
                    host=host, port=port, trunk=trunk.name, detail=detail
                ),
            ) from exc
        except (OSError, TimeoutError) as exc:
            raise TrunkUnavailable(
                "TCP connect",
                _(
                    "Cannot connect to {host}:{port} for trunk {trunk}: {error}. Check that "
                    "the far node is running and listens for TLS on that address and port."
                ).format(host=host, port=port, trunk=trunk.name, error=exc),
            ) from exc
        connection.trunk_name = trunk.name
        if secure:
            try:
                peer = self._check_peer_name(connection, trunk)
            except ConnectionRejected as rejected:
                connection.close(f"rejected: {rejected.check}")
                self._report_outbound_rejection(host, port, rejected.check, rejected.detail)
                raise TrunkUnavailable(rejected.check, rejected.detail) from rejected
            self.peers[connection.id] = peer
            self._trace_certificate(connection, peer)
        self._trace_connection(connection, trunk)
        connection.accept()
        return connection

    async def _describe_refused_server(self, host: str, port: int) -> str:
        der = await fetch_server_certificate(
            host=host, port=port, local_address=self._node_address, context=self._probe_context()
        )
        if der is None:
            return ""
        certificate = x509.load_der_x509_certificate(der)
        return _("The server presented {subject}, issued by {issuer}.").format(
            subject=openssl_style_subject(certificate.subject),
            issuer=openssl_style_subject(certificate.issuer),
        )

    def _report_outbound_rejection(self, host: str, port: int, check: str, detail: str) -> None:
        self._trace.error(
            "SIPHandler",
            "Rejected TLS connection to %s:%d: %s failed: %s",
            host,
            port,
            check,
            detail,
        )
        rejection = Rejection("outbound", (self._node_address, 0), (host, port), check, detail)
        self._on_rejected(rejection)

    # -- inbound --------------------------------------------------------------

    def check_inbound(self, connection: SipConnection) -> None:
        """Accept an inbound TLS or TCP connection for the trunk its source address belongs to.

        Raises:
            ConnectionRejected: no trunk has that address, the trunk's profile does
                not take this transport on this port, or (TLS) the certificate name
                does not match.
        """
        trunk = self._inbound_trunk(connection.remote, connection.local[1], connection.transport)
        connection.trunk_name = trunk.name
        if connection.transport == "TLS":
            peer = self._check_peer_name(connection, trunk)
            self.peers[connection.id] = peer
            self._trace_certificate(connection, peer)
        self._trace_connection(connection, trunk)

    def check_udp(self, channel: SipChannel) -> str | None:
        """Return why a new UDP peer is not accepted, or ``None`` to accept it."""
        try:
            trunk = self._inbound_trunk(channel.remote, channel.local[1], "UDP")
        except ConnectionRejected as rejected:
            rejection = Rejection(
                "inbound", channel.local, channel.remote, rejected.check, rejected.detail
            )
            self._on_rejected(rejection)
            return rejected.detail
        channel.trunk_name = trunk.name
        return None

    def _inbound_trunk(self, remote: tuple[str, int], port: int, transport: str) -> TrunkConfig:
        source = remote[0]
        snapshot = self._snapshot()
        trunk = snapshot.trunk_for_source(source)
        srv_trunk = self._srv_sources.get(_address_key(source))
        if trunk is None and srv_trunk is not None:
            trunk = snapshot.trunks.get(srv_trunk)
        if trunk is None:
            raise ConnectionRejected(
                "source address",
                _(
                    "No SIP trunk has destination address {source}; add a trunk whose "
                    "destination is {source}, or connect from the address of a configured trunk."
                ).format(source=source),
            )
        profile = trunk.profile
        accepted = {str(t) for t in profile.incoming_transport.transports}
        if transport not in accepted or profile.incoming_port != port:
            raise ConnectionRejected(
                "incoming transport",
                _(
                    "Trunk {trunk} uses profile '{profile}', which takes {incoming} on port "
                    "{port}, not {transport} on port {local}; set its incoming transport and "
                    "incoming port to match, or send to the port it listens on."
                ).format(
                    trunk=trunk.name,
                    profile=profile.name,
                    incoming=profile.incoming_transport,
                    port=profile.incoming_port,
                    transport=transport,
                    local=port,
                ),
            )
        return trunk

    # -- shared ---------------------------------------------------------------

    def _check_peer_name(self, connection: SipConnection, trunk: TrunkConfig) -> PeerCertificate:
        der = connection.tls.peer_certificate_der if connection.tls else None
        if der is None:
            raise ConnectionRejected(
                "client certificate",
                _("The peer presented no certificate; trunk {trunk} requires one.").format(
                    trunk=trunk.name
                ),
            )
        certificate = x509.load_der_x509_certificate(der)
        if _is_ca_certificate(certificate):
            raise ConnectionRejected(
                "client certificate",
                _(
                    "Trunk {trunk}: the peer presented a CA certificate ({subject}) as its own; "
                    "a node must present its CallManager certificate, issued by the CA."
                ).format(trunk=trunk.name, subject=openssl_style_subject(certificate.subject)),
            )
        profile = trunk.profile
        try:
            allowed = parse_subject_names(profile.x509_subject_name)
            matched = check_subject_name(certificate, allowed)
        except SubjectNameMismatch as exc:
            raise ConnectionRejected(
                "X.509 subject name",
                _("Trunk {trunk}: {detail}").format(
                    trunk=trunk.name, detail=exc.message_for_profile(profile.name)
                ),
            ) from exc
        except ValueError as exc:
            raise ConnectionRejected(
                "X.509 subject name",
                _("Trunk {trunk}, profile '{profile}': {detail}").format(
                    trunk=trunk.name, profile=profile.name, detail=exc
                ),
            ) from exc
        self._record_peer(trunk.name, certificate)
        return describe_peer(der, matched)

    def _trace_connection(self, connection: SipConnection, trunk: TrunkConfig) -> None:
        self._trace.info(
            "SIPHandler",
            "Connection created: index=%d trunk=%s local=%s:%d remote=%s:%d transport=%s",
            connection.id,
            trunk.name,
            connection.local[0],
            connection.local[1],
            connection.remote[0],
            connection.remote[1],
            "TLS over TCP" if connection.transport == "TLS" else connection.transport,
        )

    def _trace_certificate(self, connection: SipConnection, peer: PeerCertificate) -> None:
        tls = connection.tls
        self._trace.info(
            "SIPHandler",
            "Certificate indication: remote=%s:%d subject=%s SAN=%s issuer=%s cipher=%s "
            "version=%s matched X.509 subject name %s",
            connection.remote[0],
            connection.remote[1],
            peer.subject,
            ",".join(peer.dns_names) or "none",
            peer.issuer,
            tls.cipher if tls else "none",
            tls.version if tls else "none",
            peer.matched_name,
        )

    def forget(self, connection: SipChannel) -> None:
        """Drop a closed connection from the tables."""
        self.peers.pop(connection.id, None)
        for name, known in list(self._outbound.items()):
            if known is connection:
                del self._outbound[name]

    def outbound_connections(self) -> dict[str, SipChannel]:
        """Return the open outbound connection of each trunk, by trunk name."""
        return {name: conn for name, conn in self._outbound.items() if conn.is_open}


def _address_key(address: str) -> str:
    """Return ``address`` in one spelling, so IPv6 forms compare equal."""
    try:
        return str(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        return address.lower()


def _is_ca_certificate(certificate: x509.Certificate) -> bool:
    """Return whether ``certificate`` is a CA certificate (basicConstraints cA=TRUE)."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca
