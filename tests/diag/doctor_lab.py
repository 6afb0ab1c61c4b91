"""A two-node lab for the trunk doctor: CUCMA checks its trunk CUCM10 to the far node.

The lab is the example topology on free ports, provisioned with the demo's
code. Helpers replace the far node's certificate with one from another CA,
an expired one or one sent without its intermediate, using the store API.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from lab_support import example_topology_on_free_ports, provision_lab
from tlstrunk.admin.control import ControlServer
from tlstrunk.callcontrol.node import Node
from tlstrunk.config.topology import Topology
from tlstrunk.diag.results import StepResult, Verdict
from tlstrunk.lab.provision import Breakage
from tlstrunk.paths import NodePaths
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.store import CertificateStore

NEAR = "CUCMA"
FAR = "CUCM10"
TRUNK = "CUCM10"
FAR_ADDRESS = "127.0.0.200"
TRUST = "CallManager-trust"


@dataclass(frozen=True)
class DoctorLab:
    """The provisioned lab: node directories and the lab CA."""

    root: Path
    topology: Topology
    nodes: dict[str, NodePaths]

    @property
    def near(self) -> NodePaths:
        return self.nodes[NEAR]

    @property
    def far(self) -> NodePaths:
        return self.nodes[FAR]

    @property
    def ca(self) -> CertificateAuthority:
        return CertificateAuthority.open(self.root / "ca")

    def far_certificate(self) -> x509.Certificate:
        certificate = CertificateStore.open(self.far.certs).own_certificate("CallManager")
        assert certificate is not None
        return certificate


def provision(
    tmp_path: Path, topology: Topology | None = None, breakage: Breakage | None = None
) -> DoctorLab:
    """Provision the lab under ``tmp_path``."""
    topology = topology or example_topology_on_free_ports()
    nodes = provision_lab(tmp_path, topology, breakage)
    return DoctorLab(tmp_path, topology, nodes)


def reissue_far(
    lab: DoctorLab,
    ca: CertificateAuthority,
    *,
    trust: tuple[bytes, ...] = (),
    days: int = 730,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """Give the far node a new CallManager certificate from ``ca``, issued at ``now``.

    ``trust`` is uploaded to the far node's CallManager-trust first; the far
    node sends every certificate of its chain below the trust anchor it ends in.
    """
    store = CertificateStore.open(lab.far.certs)
    for pem in trust:
        store.upload_trust(TRUST, pem)
    store.generate_csr("CallManager", common_name=FAR, dns_names=[FAR], ip_addresses=[FAR_ADDRESS])
    certificate = ca.issue(ca.submit(store.csr_pem("CallManager"), now=now), days=days, now=now)
    upload_at = None if now is None else now + dt.timedelta(minutes=1)
    store.upload_certificate(
        "CallManager", ca.export_certificate(certificate.serial_number), now=upload_at
    )
    return certificate


def trust_on_near(lab: DoctorLab, pem: bytes) -> None:
    """Upload ``pem`` to the near node's CallManager-trust."""
    CertificateStore.open(lab.near.certs).upload_trust(TRUST, pem)


@contextlib.asynccontextmanager
async def running(*paths: NodePaths) -> AsyncIterator[list[Node]]:
    """Run nodes with their control sockets in the current event loop."""
    nodes: list[Node] = []
    controls: list[ControlServer] = []
    try:
        for node_paths in paths:
            node = Node(node_paths)
            await node.start()
            nodes.append(node)
            control = ControlServer(node, node_paths.control_socket)
            await control.start()
            controls.append(control)
        yield nodes
    finally:
        for control in controls:
            await control.stop()
        for node in nodes:
            await node.stop()


@contextlib.contextmanager
def running_in_thread(*paths: NodePaths) -> Iterator[None]:
    """Run nodes in an event loop on another thread, for tests of the command line."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Event | None = None
    failure: list[BaseException] = []

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        try:
            async with running(*paths):
                ready.set()
                await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),))
    thread.start()
    ready.wait()
    try:
        if failure:
            raise failure[0]
        yield
    finally:
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join()
        loop.close()


def by_step(results: list[StepResult], step: str) -> list[StepResult]:
    """Return the results of ``step``."""
    return [result for result in results if result.step == step]


def one(results: list[StepResult], step: str, verdict: Verdict | None = None) -> StepResult:
    """Return the result of ``step`` with ``verdict`` (any verdict when None); there must be one."""
    found = [r for r in by_step(results, step) if verdict is None or r.verdict is verdict]
    assert len(found) == 1, [r.lines() for r in results]
    return found[0]


def verdicts(results: list[StepResult]) -> dict[str, set[str]]:
    """Return the verdicts of each step, for assertion messages."""
    table: dict[str, set[str]] = {}
    for result in results:
        table.setdefault(result.step, set()).add(result.verdict.value)
    return table
