"""The demo: two clusters, CA-signed certificates, calls over a mutual-TLS SIP trunk.

Every step is real: a CA on disk, CSRs and certificates made with
``cryptography``, one OS process per node, TLS handshakes on loopback.  With
a ``Breakage`` the demo misconfigures one side on purpose, so the user sees
how a subject-name mismatch or an untrusted CA looks and what to change.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tlstrunk.config.topology import ClusterTopology, Topology
from tlstrunk.i18n import _
from tlstrunk.lab.processes import NodeProcess, start_node
from tlstrunk.lab.provision import Breakage, node_paths, provision_topology
from tlstrunk.paths import NodePaths

#: File that marks a directory as made by the demo, so a rerun may delete it.
MARKER = ".tlstrunk-demo"


class DemoError(Exception):
    """Raised when the demo cannot run; the message gives the reason and the fix."""


@dataclasses.dataclass
class CallOutcome:
    """One demo call: the caller's report and the far node's view of it."""

    cluster: str
    report: dict[str, Any]
    far: dict[str, dict[str, Any]]
    rejections: dict[str, list[dict[str, Any]]]

    @property
    def cleared(self) -> bool:
        """Whether the call connected and was cleared by BYE."""
        return self.report.get("state") == "cleared" and self.report.get("answered") is not None

    def failure(self) -> tuple[str, str]:
        """Return the check that failed and why, preferring what a rejecting node recorded."""
        for refused in self.rejections.values():
            for item in refused:
                return str(item["check"]), str(item["detail"])
        check = self.report.get("failed_check") or _("call")
        return str(check), str(self.report.get("reason") or _("no reason recorded"))


def prepare_directory(directory: Path) -> None:
    """Empty ``directory`` for a new run, refusing to touch anything the demo did not make."""
    if directory.exists():
        _refuse_running_nodes(directory)
        if not directory.is_dir():
            raise DemoError(
                _("{path} exists and is not a directory; choose another --dir.").format(
                    path=directory
                )
            )
        if any(directory.iterdir()) and not (directory / MARKER).exists():
            raise DemoError(
                _(
                    "{path} is not empty and was not made by the demo; choose an empty or new "
                    "directory with --dir."
                ).format(path=directory)
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / MARKER).write_text("made by tlstrunk demo; a rerun deletes this directory\n")


def _refuse_running_nodes(directory: Path) -> None:
    """Raise DemoError when a node process from an earlier run still uses ``directory``."""
    if not directory.is_dir():
        return
    for pid_file in sorted(directory.glob("*/node.pid")):
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)
        except (ValueError, OSError):
            continue
        raise DemoError(
            _(
                "A node from an earlier demo still runs in {dir} (process {pid}); stop it with "
                "'tlstrunk node stop --node-dir {dir}' or Ctrl-C in the demo that keeps it, "
                "then run the demo again."
            ).format(dir=pid_file.parent, pid=pid)
        )


def apply_breakage(topology: Topology, breakage: Breakage | None) -> Topology:
    """Return ``topology`` with the X.509 subject name broken on one cluster, if asked."""
    if breakage is None or breakage.kind != "name":
        return topology
    clusters = []
    for cluster in topology.clusters:
        if cluster.name == breakage.cluster:
            profiles = tuple(
                dataclasses.replace(p, x509_subject_name=f"{p.x509_subject_name}-WRONG")
                for p in cluster.security_profiles
            )
            cluster = dataclasses.replace(cluster, security_profiles=profiles)
        clusters.append(cluster)
    return dataclasses.replace(topology, clusters=tuple(clusters))


class Demo:
    """Runs the demo in a directory and reports through ``step`` and ``show_call``."""

    def __init__(
        self,
        topology: Topology,
        directory: Path,
        *,
        step: Callable[[str], None],
        section: Callable[[str], None],
        breakage: Breakage | None = None,
        hold: float = 1.0,
        capture: bool = False,
    ) -> None:
        self.topology = apply_breakage(topology, breakage)
        self.directory = directory
        self.step = step
        self.section = section
        self.breakage = breakage
        self.hold = hold
        self.capture = capture
        self.nodes: dict[str, NodeProcess] = {}

    def node_paths(self, cluster: ClusterTopology) -> NodePaths:
        """Return where ``cluster``'s node keeps its files."""
        return node_paths(self.directory, cluster)

    def provision(self) -> None:
        """Create the CA, certificates and configuration of every node."""
        prepare_directory(self.directory)
        provision_topology(
            self.topology,
            self.directory,
            step=self.step,
            section=self.section,
            breakage=self.breakage,
        )

    def start(self) -> None:
        """Start one process per node."""
        self.section(_("Starting nodes"))
        for cluster in self.topology.clusters:
            paths = self.node_paths(cluster)
            capture = paths.root / "capture.pcapng" if self.capture else None
            node = start_node(cluster.name, paths, capture=capture)
            self.nodes[cluster.name] = node
            status = node.request({"op": "status"})
            listeners = ", ".join(
                f"{item['transport']} {item['address']}:{item['port']}"
                for item in status["listeners"]
            )
            self.step(
                _("{node} running as process {pid}, listening on {listeners}").format(
                    node=cluster.name, pid=node.pid, listeners=listeners or _("nothing")
                )
            )

    def place_calls(self) -> list[CallOutcome]:
        """Place every call of the topology and collect both nodes' views."""
        outcomes = []
        for call in self.topology.calls:
            node = self.nodes[call.from_cluster]
            seen_before = {
                name: len(other.request({"op": "status"})["rejections"])
                for name, other in self.nodes.items()
            }
            self.section(
                _("Call {calling} on {node} -> {called}").format(
                    calling=call.from_number, node=call.from_cluster, called=call.to
                )
            )
            report = node.request(
                {"op": "call", "from": call.from_number, "to": call.to, "hold": self.hold},
                timeout=self.hold + 90,
            )
            time.sleep(0.2)
            far: dict[str, dict[str, Any]] = {}
            rejections: dict[str, list[dict[str, Any]]] = {}
            for name, other in self.nodes.items():
                if name != call.from_cluster:
                    seen = other.request({"op": "calls", "call_id": report["call_id"]})
                    if seen:
                        far[name] = seen[0]
                refused = other.request({"op": "status"})["rejections"][seen_before[name] :]
                if refused:
                    rejections[name] = refused
            outcomes.append(CallOutcome(call.from_cluster, report, far, rejections))
        return outcomes

    def stop(self) -> None:
        """Stop every node process."""
        for node in self.nodes.values():
            node.stop()
