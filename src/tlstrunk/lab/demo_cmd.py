"""``tlstrunk demo``: the command and how it prints each step."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from tlstrunk.config.errors import ConfigError
from tlstrunk.config.topology import load_topology
from tlstrunk.control_client import ControlError
from tlstrunk.i18n import _
from tlstrunk.lab.demo import CallOutcome, Demo, DemoError
from tlstrunk.lab.processes import NodeProcessError
from tlstrunk.lab.provision import Breakage
from tlstrunk.pki.errors import PkiError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

#: The example topology; examples/two-clusters.yaml in the source tree links to it.
DEFAULT_TOPOLOGY = Path(__file__).with_name("two-clusters.yaml")


def _step(text: str) -> None:
    console.print(f"  [green]\u2713[/green] {text}", soft_wrap=True)


def _section(title: str) -> None:
    console.print(f"\n[bold]{title}[/bold]")


def _ladder(report: dict[str, Any], far_name: str) -> list[str]:
    node = report["node"]
    width = 46
    lines = [f"    {node:<10}{'':{width - 10}}{far_name}"]
    for entry in report["ladder"]:
        summary = entry["summary"]
        if len(summary) > width - 8:
            summary = summary[: width - 11] + "..."
        if entry["direction"] == "out":
            lines.append(f"    |--- {summary} {'-' * max(1, width - len(summary) - 9)}>|")
        else:
            lines.append(f"    |<-- {summary} {'-' * max(1, width - len(summary) - 9)}-|")
    return lines


def _peer_line(node: str, report: dict[str, Any]) -> str:
    peer = report.get("peer_certificate")
    if not peer:
        return _("{node} saw no peer certificate").format(node=node)
    return _(
        "{node} saw peer certificate {subject} (issuer {issuer}, serial {serial}), "
        "matched X.509 subject name '{name}'"
    ).format(
        node=node,
        subject=peer["subject"],
        issuer=peer["issuer"],
        serial=peer["serial"],
        name=peer["matched_name"],
    )


def _media_line(sender: str, sent: dict[str, Any], receiver: str, received: dict[str, Any]) -> None:
    """Print what one direction of the call's media did: sent, received, decrypted, failed."""
    out, into = sent.get("media"), received.get("media")
    if not out or not into:
        return
    kind = _("SRTP ({suite})").format(suite=sent["srtp_suite"]) if sent.get("srtp_suite") else "RTP"
    text = _(
        "Media {sender} -> {receiver}: {sent} {kind} packets sent, {received} received, "
        "{decrypted} decrypted and authenticated, {plain} plain, {failed} failed"
    ).format(
        sender=sender,
        receiver=receiver,
        sent=out["sent"],
        kind=kind,
        received=into["received"],
        decrypted=into["decrypted"],
        plain=into["plain"],
        failed=into["failed"],
    )
    if into["failed"] or not into["received"]:
        console.print(f"  [red]\u2717[/red] {text}", soft_wrap=True)
    else:
        _step(text)


def show_call(outcome: CallOutcome) -> None:
    """Print one call's digit analysis, connection, certificates, ladder and result."""
    report = outcome.report
    analysis = report.get("digit_analysis")
    if analysis:
        target = ":".join(analysis["target"]) if analysis["target"] else _("none")
        _step(
            _(
                "Digit analysis on {node}: calling {calling}, dialled {dialed} -> pattern "
                "{pattern} (partition {partition}) -> {target}"
            ).format(
                node=report["node"],
                calling=analysis["calling"],
                dialed=analysis["dialed"],
                pattern=analysis["pattern"] or _("none"),
                partition=analysis["partition"] or "<None>",
                target=target,
            )
        )
    connection = report.get("connection")
    if connection:
        _step(
            _("TLS connection {local} -> {remote}, {version}, cipher {cipher}").format(
                local=connection["local"],
                remote=connection["remote"],
                version=connection["tls_version"],
                cipher=connection["cipher"],
            )
        )
        _step(_peer_line(report["node"], report))
    for name, far in outcome.far.items():
        _step(_peer_line(name, far))
    if report["ladder"]:
        far_name = next(iter(outcome.far), _("peer"))
        console.print(
            _("  SIP ladder (as {node} saw it on the trunk):").format(node=report["node"])
        )
        for line in _ladder(report, far_name):
            console.print(line, markup=False)
    if report.get("security"):
        _step(_("Security: {security}").format(security=report["security"]))
    for far_name, far in outcome.far.items():
        _media_line(report["node"], report, far_name, far)
        _media_line(far_name, far, report["node"], report)
    for name, refused in outcome.rejections.items():
        for item in refused:
            if item["direction"] == "outbound":
                text = _(
                    "  [red]\u2717[/red] {node} refused {remote} on the connection it opened: "
                    "{check} check failed."
                ).format(node=name, remote=item["remote"], check=item["check"])
            else:
                text = _(
                    "  [red]\u2717[/red] {node} refused the TLS connection from {remote} to "
                    "{local}: {check} check failed."
                ).format(node=name, remote=item["remote"], local=item["local"], check=item["check"])
            console.print(text, soft_wrap=True)
            console.print(f"      {item['detail']}", markup=False, soft_wrap=True)
    if outcome.cleared:
        _step(_("Call connected, held and cleared with BYE / 200 OK"))
    else:
        console.print(
            _("  [red]\u2717 Call failed[/red]{status}: {reason}").format(
                status=f" (SIP {report['status']})" if report.get("status") else "",
                reason=report.get("reason") or _("no reason recorded"),
            ),
            soft_wrap=True,
        )
        if report.get("failed_check"):
            console.print(_("    Failed check: {check}").format(check=report["failed_check"]))


def _wait_until_interrupted(demo: Demo) -> None:
    first = demo.directory / demo.topology.clusters[0].name
    console.print(
        _(
            "\nNodes keep running. Try: tlstrunk node call --node-dir {dir} --from 1018 --to 9898"
        ).format(dir=first)
    )
    console.print(
        _(
            "Press Ctrl-C here (or send SIGTERM to process {pid}) to stop every node. "
            "'tlstrunk node stop --node-dir DIR' stops one node."
        ).format(pid=os.getpid())
    )
    stop = False

    def _request_stop(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _request_stop)
    try:
        # A node stopped on its own (say with 'node stop') leaves the others running.
        while not stop and any(node.process.poll() is None for node in demo.nodes.values()):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Directory for the clusters' files; a rerun empties it.")
    ] = Path("tlstrunk-demo"),
    topology_file: Annotated[
        Path, typer.Option("--topology", help="Topology file (YAML).")
    ] = DEFAULT_TOPOLOGY,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep both nodes running after the calls until interrupted."),
    ] = False,
    breakage: Annotated[
        str | None,
        typer.Option(
            "--break",
            help=(
                "Misconfigure on purpose: 'name' (X.509 subject name mismatch) or "
                "'ca' (untrusted CA)."
            ),
        ),
    ] = None,
    hold: Annotated[float, typer.Option(help="Seconds each call stays connected.")] = 1.0,
    capture: Annotated[
        bool,
        typer.Option(
            "--capture",
            help="Each node writes capture.pcapng in its directory, with the TLS secrets "
            "embedded, for Wireshark or tshark.",
        ),
    ] = False,
) -> None:
    """Run two clusters with CA-signed certificates and place calls over their TLS trunk."""
    if breakage not in (None, "name", "ca"):
        err_console.print(
            _("--break must be 'name' or 'ca', not {value!r}.").format(value=breakage)
        )
        raise typer.Exit(2)
    if not 0 <= hold <= 600:
        err_console.print(
            _("--hold must be between 0 and 600 seconds, not {value}.").format(value=hold)
        )
        raise typer.Exit(2)
    try:
        topology = load_topology(topology_file)
    except (ConfigError, OSError) as exc:
        err_console.print(f"[red]{_('Error')}:[/red] {exc}")
        raise typer.Exit(2) from exc
    if len(topology.clusters) < 2:
        err_console.print(
            _("The topology {path} needs at least two clusters.").format(path=topology_file)
        )
        raise typer.Exit(2)
    broken = None
    if breakage is not None:
        broken = Breakage(
            breakage, topology.clusters[1].name if breakage == "name" else topology.clusters[0].name
        )
    runner = Demo(
        topology,
        directory.resolve(),
        step=_step,
        section=_section,
        breakage=broken,
        hold=hold,
        capture=capture,
    )
    console.print(_("tlstrunk demo in {dir}").format(dir=runner.directory))
    try:
        runner.provision()
        runner.start()
        outcomes = runner.place_calls()
        for outcome in outcomes:
            _section(
                _("Result of call {calling} on {node} -> {called}").format(
                    calling=outcome.report["calling"],
                    node=outcome.cluster,
                    called=outcome.report["called"],
                )
            )
            show_call(outcome)
        if keep:
            _wait_until_interrupted(runner)
    except (DemoError, NodeProcessError, ControlError, PkiError, ConfigError) as exc:
        err_console.print(f"[red]{_('Error')}:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        runner.stop()
    failed = [o for o in outcomes if not o.cleared]
    _section(_("Summary"))
    console.print(
        _(
            "{ok} of {total} calls connected and cleared. Files, keys, certificates and "
            "traces are in {dir}"
        ).format(ok=len(outcomes) - len(failed), total=len(outcomes), dir=runner.directory)
    )
    if failed:
        check, reason = failed[0].failure()
        console.print(
            _("[red]Demo failed[/red]: {check} check: {reason}").format(check=check, reason=reason),
            soft_wrap=True,
        )
        raise typer.Exit(1)
