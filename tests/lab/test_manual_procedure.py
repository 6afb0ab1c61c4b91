"""The procedure done by hand with the tlstrunk command only, as docs/manual-procedure.md shows.

Two nodes on 127.0.0.60 and 127.0.0.61 (free ports) are built step by step
with the ca, cert, node, profile, trunk, route and dn commands, run as
processes with 'node run', and joined by a call over their TLS trunk.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab_support import free_port

pytestmark = pytest.mark.slow

A, B = "127.0.0.60", "127.0.0.61"
PROFILE = "Secure SIP Trunk Profile TLS"


def tlstrunk(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tlstrunk", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"tlstrunk {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def build_node(
    lab: Path, directory: str, name: str, port: int, request_id: int, peer: tuple[str, str, int]
) -> None:
    peer_name, peer_address, peer_port = peer
    tlstrunk("cert", "upload", "--node-dir", directory, "--purpose", "CallManager-trust",
             "ca-root.cer", cwd=lab)  # fmt: skip
    tlstrunk("ca", "issue", "--dir", "ca", str(request_id), "--out", f"{name}.cer", cwd=lab)
    tlstrunk("cert", "upload", "--node-dir", directory, "--purpose", "CallManager",
             f"{name}.cer", cwd=lab)  # fmt: skip
    tlstrunk("profile", "add", "--node-dir", directory, PROFILE, "--mode", "Encrypted",
             "--incoming-transport", "TLS", "--outgoing-transport", "TLS",
             "--x509-subject-name", peer_name, "--incoming-port", str(port),
             "--transmit-security-status", cwd=lab)  # fmt: skip
    tlstrunk("trunk", "add", "--node-dir", directory, peer_name, "--profile", PROFILE,
             "--destination", f"{peer_address}:{peer_port}", "--srtp-allowed", cwd=lab)  # fmt: skip


def test_manual_procedure_call(tmp_path: Path) -> None:
    ports = {A: free_port(A), B: free_port(B)}
    lab = tmp_path
    tlstrunk("ca", "init", "--dir", "ca", "--cn", "Lab Root CA", cwd=lab)
    tlstrunk("ca", "export-root", "--dir", "ca", "--out", "ca-root.cer", cwd=lab)
    for directory, name, address in (("nodeA", "CUCMA", A), ("nodeB", "CUCM10", B)):
        tlstrunk("node", "set", "--node-dir", directory, "--name", name, "--address", address,
                 cwd=lab)  # fmt: skip
        tlstrunk("cert", "generate-csr", "--node-dir", directory, "--purpose", "CallManager",
                 "--cn", name, "--san", name, "--ip", address, "--out", f"{name}.csr",
                 cwd=lab)  # fmt: skip
        tlstrunk("ca", "submit", "--dir", "ca", f"{name}.csr", cwd=lab)
    pending = tlstrunk("ca", "pending", "--dir", "ca", cwd=lab)
    assert "CUCMA" in pending
    assert "CUCM10" in pending
    build_node(lab, "nodeA", "CUCMA", ports[A], 1, ("CUCM10", B, ports[B]))
    build_node(lab, "nodeB", "CUCM10", ports[B], 2, ("CUCMA", A, ports[A]))
    tlstrunk("route", "add", "--node-dir", "nodeA", "9898", "--trunk", "CUCM10", cwd=lab)
    tlstrunk("dn", "add", "--node-dir", "nodeA", "1018", cwd=lab)
    tlstrunk("route", "add", "--node-dir", "nodeB", "1018", "--trunk", "CUCMA", cwd=lab)
    tlstrunk("dn", "add", "--node-dir", "nodeB", "9898", cwd=lab)
    shown = tlstrunk("cert", "show", "--node-dir", "nodeA", "--purpose", "CallManager", cwd=lab)
    assert "CN=CUCMA" in shown

    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tlstrunk", "node", "run", "--node-dir", directory],
            cwd=lab,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for directory in ("nodeA", "nodeB")
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert '"event": "ready"' in line, line
        output = tlstrunk(
            "node", "call", "--node-dir", "nodeA", "--from", "1018", "--to", "9898",
            "--hold", "0.2", cwd=lab,
        )  # fmt: skip
        report = json.loads(output)
        assert report["state"] == "cleared", report
        assert report["secure"] is True
        assert report["peer_certificate"]["subject"] == "/CN=CUCM10"
        shown = tlstrunk("trace", "level", "--node-dir", "nodeA", cwd=lab)
        assert "Detailed" in shown
        changed = tlstrunk("trace", "level", "--node-dir", "nodeA", "Error", cwd=lab)
        assert "Error" in changed
        registered = tlstrunk("node", "registrations", "--node-dir", "nodeA", cwd=lab)
        assert "No phone is registered" in registered
    finally:
        for directory in ("nodeA", "nodeB"):
            subprocess.run(
                [sys.executable, "-m", "tlstrunk", "node", "stop", "--node-dir", directory],
                cwd=lab,
                capture_output=True,
                timeout=30,
            )
        deadline = time.monotonic() + 20
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
