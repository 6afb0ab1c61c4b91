"""A node captures its own trunk call; tshark decodes the SIP inside the TLS from that file alone.

The TLS secrets reach tshark only through the Decryption Secrets Block the
node writes into the pcapng file. The trunk runs on a free port, so tshark is
told to decode TLS on that port as SIP (``-d``), which carries no secrets.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from lab_support import example_topology_on_free_ports, profile_port, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.transport.capture import CaptureSettings

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="needs tshark (apt-get install tshark)")


def test_capture_of_trunk_call_decodes(tmp_path: Path) -> None:
    topology = example_topology_on_free_ports()
    paths = provision_lab(tmp_path / "lab", topology)
    capture_file = tmp_path / "cucm10.pcapng"
    port = profile_port(topology, "CUCM10")

    async def scenario() -> str:
        a = Node(paths["CUCMA"])
        b = Node(paths["CUCM10"], capture=CaptureSettings(capture_file, port=port))
        await a.start()
        await b.start()
        try:
            report = await a.place_call("1018", "9898", 0.1)
        finally:
            await a.stop()
            await b.stop()
        return report.state

    assert asyncio.run(scenario()) == "cleared"
    assert capture_file.stat().st_size > 0
    assert not paths["CUCM10"].keylog.exists()
    assert TSHARK is not None
    result = subprocess.run(
        [
            TSHARK, "-r", str(capture_file), "-d", f"tls.port=={port},sip", "-Y", "sip",
            "-T", "fields", "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.CSeq",
        ],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = result.stdout.splitlines()
    assert any(line.startswith("INVITE") for line in lines), result.stdout + result.stderr
    assert any("\t200\t" in line and "INVITE" in line for line in lines), result.stdout
    assert any(line.startswith("BYE") for line in lines), result.stdout
    raw = capture_file.read_bytes()
    assert b"INVITE sip:" not in raw
