"""Call paths under test and bounded runs through them at a set rate.

A :class:`CallPath` is a running system between the generator's UAC and its
UAS: one node answering with its virtual phone, two nodes joined by a
mutual-TLS trunk, or Kamailio. Each opener is a context manager that
provisions into a directory, starts the processes, and stops them on exit.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tlstrunk.lab.processes import NodeProcess, start_node
from tlstrunk.perf import labs
from tlstrunk.perf.kamailio import KamailioRelay, RelaySettings
from tlstrunk.perf.procstat import UsageMeter
from tlstrunk.perf.sipload import LoadSpec
from tlstrunk.perf.stats import RunResult, SetupTimes, SweepResult, sweep
from tlstrunk.perf.workers import UasWorker, run_uac_processes
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.transport.tls import TlsIdentity

#: Seconds the systems get to settle between two rates of a sweep.
SETTLE_SECONDS = 1.0

SINGLE_NODE = "tlstrunk, one node (virtual phone answers)"
TWO_NODES = "tlstrunk, two nodes over a mutual-TLS trunk"
KAMAILIO = "Kamailio, stateful TLS relay"


@dataclass
class CallPath:
    """A running system under test: where the UAC sends calls and what to measure."""

    name: str
    target: tuple[str, int]
    transport: str
    uac_identity: TlsIdentity | None = None
    meters: list[UsageMeter] = field(default_factory=list)
    nodes: dict[str, NodeProcess] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunSettings:
    """The shape of each bounded run at one rate."""

    #: Seconds of call starts per rate; the call count is rate times this.
    seconds: float = 10.0
    hold: float = 2.0
    invite_timeout: float = 5.0
    uac_processes: int = 1


def run_rate(path: CallPath, rate: float, settings: RunSettings) -> RunResult:
    """Place ``rate * settings.seconds`` calls through ``path`` and return what happened."""
    calls = max(1, round(rate * settings.seconds))
    spec = LoadSpec(
        target=path.target,
        local_address=labs.GENERATOR_UAC,
        transport=path.transport,
        called=labs.CALLED,
        rate=rate,
        calls=calls,
        hold=settings.hold,
        invite_timeout=settings.invite_timeout,
        bye_timeout=settings.invite_timeout,
        max_seconds=settings.seconds + settings.hold + 2 * settings.invite_timeout + 5,
    )
    for meter in path.meters:
        meter.start()
    run = run_uac_processes(spec, processes=settings.uac_processes, identity=path.uac_identity)
    usage = [meter.finish() for meter in path.meters] + run.usage
    result = run.result
    return RunResult(
        system=path.name,
        offered_rate=rate,
        attempted=result.attempted,
        connected=result.connected,
        completed=result.completed,
        failures=result.failures,
        setup=SetupTimes.from_seconds(result.setup_times),
        elapsed=round(result.elapsed, 2),
        usage=usage,
    )


def sweep_path(path: CallPath, rates: list[float], settings: RunSettings) -> SweepResult:
    """Step the rate up through ``rates`` and find the highest with at most 0.1% failures."""

    def one(rate: float) -> RunResult:
        result = run_rate(path, rate, settings)
        time.sleep(SETTLE_SECONDS)
        return result

    return sweep(rates, one)


@contextlib.contextmanager
def _nodes_running(path: CallPath, lab: labs.NodeLab) -> Iterator[None]:
    try:
        for name, node_paths in lab.nodes.items():
            node = start_node(name, node_paths)
            path.nodes[name] = node
            path.meters.append(UsageMeter(f"node {name}", node.pid))
        yield
    finally:
        for node in path.nodes.values():
            node.stop()


@contextlib.contextmanager
def open_single_node(directory: Path) -> Iterator[CallPath]:
    """Run node A alone; calls reach its virtual phone over the generator's TCP trunk."""
    lab = labs.provision_single_node(directory)
    path = CallPath(SINGLE_NODE, (labs.NODE_A, lab.generator_port), "TCP")
    path.notes.append(
        "The generator's UAC reaches node A over TCP (trunk 'from-generator', profile "
        "'Non Secure TCP'); the virtual phone of 9898 rings for 0.2 s and answers, so the "
        "setup times include that ring delay. No RTP flows: the offer's address is 0.0.0.0."
    )
    with _nodes_running(path, lab):
        yield path


@contextlib.contextmanager
def open_two_nodes(directory: Path) -> Iterator[CallPath]:
    """Run UAC -> A (TCP) -> A to B (mutual TLS, Encrypted) -> B -> UAS (TCP).

    Needs tandem routing on node B: a call that arrives on a trunk and matches a
    route pattern leaves on another trunk.
    """
    uas = UasWorker(labs.GENERATOR_UAS, "TCP")
    uas_port = uas.start()
    try:
        lab = labs.provision_two_nodes(directory, uas_port)
        path = CallPath(TWO_NODES, (labs.NODE_A, lab.generator_port), "TCP")
        path.meters.append(UsageMeter("generator UAS", uas.pid))
        path.notes.append(
            "UAC -> node BENCHA over TCP -> trunk BENCHB on mutual TLS (Encrypted, X.509 "
            "names checked) -> node BENCHB -> trunk 'to-uas' over TCP -> the generator's UAS."
        )
        with _nodes_running(path, lab):
            yield path
    finally:
        with contextlib.suppress(Exception):
            uas.stop()
        uas.kill()


@contextlib.contextmanager
def open_kamailio(directory: Path) -> Iterator[CallPath]:
    """Run Kamailio between the UAC and a TLS UAS; both hops use persistent mutual TLS."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.create(directory / "ca", common_name="tlstrunk Bench Root CA")
    (directory / "ca-root.pem").write_bytes(ca.export_root("pem"))
    kamailio_identity = labs.issue_identity(directory, "KAMAILIO", labs.KAMAILIO)
    uac_identity = labs.issue_identity(directory, "UAC", labs.GENERATOR_UAC)
    uas_identity = labs.issue_identity(directory, "UAS", labs.GENERATOR_UAS)

    uas = UasWorker(labs.GENERATOR_UAS, "TLS", uas_identity)
    uas_port = uas.start()
    settings = RelaySettings(
        labs.KAMAILIO,
        labs.free_port(labs.KAMAILIO),
        kamailio_identity,
        (labs.GENERATOR_UAS, uas_port),
    )
    relay = KamailioRelay(settings, directory / "kamailio")

    try:
        relay.start()
        path = CallPath(KAMAILIO, (settings.address, settings.port), "TLS", uac_identity)
        path.meters.append(UsageMeter("kamailio", relay.pid))
        path.meters.append(UsageMeter("generator UAS", uas.pid))
        path.notes.append(
            "UAC -> Kamailio over mutual TLS -> the generator's UAS over mutual TLS; Kamailio "
            "relays statefully (tm), record-routes, and verifies both peers' certificates."
        )
        yield path
    finally:
        relay.stop()
        with contextlib.suppress(Exception):
            uas.stop()
        uas.kill()
