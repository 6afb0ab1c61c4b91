"""Provisioning a lab topology: the certificate procedure and the configuration of each node.

This is the procedure a voice engineer follows by hand, run as code on the
same building blocks the ``tlstrunk ca`` and ``tlstrunk cert`` commands use.
A CA is created and each node generates a ``CallManager`` CSR. The CA issues
each certificate, and the root is exported and uploaded as
``CallManager-trust`` on every node. Each node uploads its signed certificate
as ``CallManager``. Then security profiles, trunks, route patterns and
directory numbers are written to each node's database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tlstrunk.config.store import ConfigStore
from tlstrunk.config.topology import ClusterTopology, Topology, apply_cluster
from tlstrunk.i18n import _
from tlstrunk.paths import NodePaths
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.keys import KeySpec
from tlstrunk.pki.names import openssl_style_subject
from tlstrunk.pki.store import CertificateStore

PURPOSE = "CallManager"
TRUST = "CallManager-trust"
#: Common name of the second CA that a ``ca`` breakage signs one node's certificate with.
UNTRUSTED_CA_NAME = "Untrusted Demo CA"

Step = Callable[[str], None]


@dataclass(frozen=True)
class Breakage:
    """A deliberate misconfiguration for showing how failures look.

    ``name``: one node's X.509 subject name does not match the peer's CN.
    ``ca``: one node's certificate comes from a CA the other node does not trust.
    """

    kind: str
    #: The cluster whose configuration or certificate is broken.
    cluster: str


def create_ca(
    directory: Path, topology: Topology, step: Step, *, common_name: str | None = None
) -> CertificateAuthority:
    """Create the lab's certificate authority in ``directory``."""
    settings = topology.ca
    ca = CertificateAuthority.create(
        directory,
        common_name=common_name or settings.common_name,
        key=KeySpec.parse(settings.key),
        hash_name=settings.hash,
        days=settings.days,
    )
    root = ca.root_certificate
    step(
        _("Created CA {subject} ({key}, {hash}), valid until {until}").format(
            subject=openssl_style_subject(root.subject),
            key=settings.key,
            hash=settings.hash,
            until=root.not_valid_after_utc.date().isoformat(),
        )
    )
    return ca


def issue_node_certificate(
    ca: CertificateAuthority, store: CertificateStore, cluster: ClusterTopology, step: Step
) -> bytes:
    """Run CSR, submit, issue and export for one node; return the certificate as PEM."""
    certificate = cluster.certificate
    # The SANs repeat the CN as a DNS name and add the node's address, because
    # peers that check the name they dialled (pjsua2 does) dial the address.
    dns_names = (certificate.common_name,)
    ip_addresses = (cluster.address,)
    result = store.generate_csr(
        PURPOSE,
        common_name=certificate.common_name,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        key=KeySpec.parse(certificate.key),
        hash_name=certificate.hash,
    )
    sans = ", ".join([*dns_names, *ip_addresses])
    step(
        _("{node}: generated CSR for {purpose}: CN={cn}, SAN {sans}, {key}, {hash}").format(
            node=cluster.name,
            purpose=PURPOSE,
            cn=certificate.common_name,
            sans=sans,
            key=certificate.key,
            hash=certificate.hash,
        )
    )
    ca_name = openssl_style_subject(ca.root_certificate.subject)
    request_id = ca.submit(result.pem)
    pending = [record.id for record in ca.pending()]
    step(
        _("CA {ca}: request {id} from {node} submitted; pending requests: {pending}").format(
            ca=ca_name, id=request_id, node=cluster.name, pending=", ".join(map(str, pending))
        )
    )
    issued = ca.issue(request_id, days=certificate.days)
    step(
        _("CA {ca}: issued request {id} as serial {serial:x} to {subject}").format(
            ca=ca_name,
            id=request_id,
            serial=issued.serial_number,
            subject=openssl_style_subject(issued.subject),
        )
    )
    return ca.export_certificate(issued.serial_number, "pem")


def upload_identity(
    store: CertificateStore,
    cluster: ClusterTopology,
    roots: list[bytes],
    certificate: bytes,
    step: Step,
) -> None:
    """Upload the trusted roots as CallManager-trust and the node certificate as CallManager."""
    for root in roots:
        trusted = store.upload_trust(TRUST, root)
        step(
            _("{node}: uploaded {subject} as {trust}").format(
                node=cluster.name, subject=openssl_style_subject(trusted.subject), trust=TRUST
            )
        )
    result = store.upload_certificate(PURPOSE, certificate)
    step(
        _("{node}: uploaded its CA-signed certificate as {purpose} (issuer {issuer})").format(
            node=cluster.name,
            purpose=PURPOSE,
            issuer=openssl_style_subject(result.certificate.issuer),
        )
    )
    for warning in result.warnings:
        step(_("{node}: warning: {warning}").format(node=cluster.name, warning=warning))


def configure_node(paths: NodePaths, cluster: ClusterTopology, step: Step) -> None:
    """Write the cluster's profiles, trunks, route patterns and directory numbers."""
    store = ConfigStore(paths.config_db)
    apply_cluster(store, cluster)
    for profile in cluster.security_profiles:
        step(
            _(
                "{node}: security profile '{name}': {mode}, incoming {incoming} on port {port}, "
                "outgoing {outgoing}, X.509 subject name '{subject}'"
            ).format(
                node=cluster.name,
                name=profile.name,
                mode=profile.device_security_mode,
                incoming=profile.incoming_transport,
                port=profile.incoming_port,
                outgoing=profile.outgoing_transport,
                subject=profile.x509_subject_name,
            )
        )
    for trunk in cluster.trunks:
        destinations = ", ".join(str(d) for d in trunk.destinations)
        step(
            _(
                "{node}: SIP trunk {name} -> {destinations}, SRTP allowed: {srtp}, "
                "profile '{profile}'"
            ).format(
                node=cluster.name,
                name=trunk.name,
                destinations=destinations,
                srtp=_("yes") if trunk.srtp_allowed else _("no"),
                profile=trunk.security_profile,
            )
        )
    for pattern in cluster.route_patterns:
        step(
            _("{node}: route pattern {pattern} -> {target}").format(
                node=cluster.name,
                pattern=pattern.pattern,
                target=_("trunk {name}").format(name=pattern.trunk)
                if pattern.trunk
                else _("route list {name}").format(name=pattern.route_list),
            )
        )
    for number in cluster.directory_numbers:
        step(
            _("{node}: directory number {number} with a virtual phone ({mode})").format(
                node=cluster.name, number=number.number, mode=number.answer_mode
            )
        )


def node_paths(directory: Path, cluster: ClusterTopology) -> NodePaths:
    """Return where ``cluster``'s node keeps its files inside a lab directory."""
    return NodePaths(directory / cluster.name)


def provision_topology(
    topology: Topology,
    directory: Path,
    *,
    step: Step,
    section: Step,
    breakage: Breakage | None = None,
) -> None:
    """Run the whole certificate procedure and configure every cluster of ``topology``.

    With a ``ca`` breakage, the broken cluster's certificate comes from a second
    CA that only that cluster trusts.
    """
    section(_("Certificate authority"))
    ca = create_ca(directory / "ca", topology, step)
    root_pem = ca.export_root("pem")
    (directory / "ca-root.pem").write_bytes(root_pem)
    step(_("Exported the CA root certificate to {path}").format(path=directory / "ca-root.pem"))
    rogue = None
    if breakage is not None and breakage.kind == "ca":
        rogue = create_ca(directory / "rogue-ca", topology, step, common_name=UNTRUSTED_CA_NAME)
    for cluster in topology.clusters:
        section(_("Node {node} ({address})").format(node=cluster.name, address=cluster.address))
        paths = node_paths(directory, cluster)
        paths.root.mkdir(parents=True, exist_ok=True)
        store = CertificateStore.open(paths.certs)
        issuer = ca
        roots = [root_pem]
        if rogue is not None and breakage is not None and cluster.name == breakage.cluster:
            issuer = rogue
            roots = [root_pem, rogue.export_root("pem")]
            step(
                _("{node}: its CSR goes to '{ca}', which the other nodes do not trust").format(
                    node=cluster.name, ca=UNTRUSTED_CA_NAME
                )
            )
        certificate = issue_node_certificate(issuer, store, cluster, step)
        upload_identity(store, cluster, roots, certificate, step)
        configure_node(paths, cluster, step)
