"""The demo as a user runs it: ``tlstrunk demo`` in a subprocess, two node processes.

The demo binds port 5061 on 127.0.0.200 and 127.0.0.203, so these tests run
one at a time and fail if another program holds those ports.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DEMO_TIMEOUT = 180


def run_demo(directory: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tlstrunk",
            "demo",
            "--dir",
            str(directory),
            "--hold",
            "0.2",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_demo_connects_both_calls(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "lab")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 of 2 calls connected and cleared" in result.stdout
    assert "CUCMA saw peer certificate /CN=CUCM10" in result.stdout
    assert "CUCM10 saw peer certificate /CN=CUCMA" in result.stdout
    assert "secure: TLS signalling (Encrypted) and SRTP" in result.stdout
    assert "Media CUCMA -> CUCM10:" in result.stdout
    assert "Media CUCM10 -> CUCMA:" in result.stdout
    assert "decrypted and authenticated, 0 plain, 0 failed" in result.stdout
    trace = (tmp_path / "lab" / "CUCMA" / "traces" / "sdl.txt").read_text()
    assert "DialingPattern=9898" in trace
    assert "Certificate indication" in trace


def test_demo_rerun_starts_clean(tmp_path: Path) -> None:
    first = run_demo(tmp_path / "lab")
    second = run_demo(tmp_path / "lab")
    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0, second.stdout + second.stderr
    assert "request 1 from CUCMA" in second.stdout


def test_demo_refuses_foreign_directory(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    result = run_demo(target)
    assert result.returncode == 1
    assert "was not made by the demo" in result.stderr
    assert (target / "notes.txt").read_text() == "keep me"


def test_demo_break_name_names_check(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "lab", "--break", "name")
    assert result.returncode == 1, result.stdout
    assert "X.509 subject name check failed" in result.stdout
    assert "CUCMA-WRONG" in result.stdout
    assert "set the profile's X.509 subject name to CUCMA" in result.stdout
    trace = (tmp_path / "lab" / "CUCM10" / "traces" / "sdl.txt").read_text()
    assert "X.509 subject name failed" in trace


def test_demo_break_ca_names_check(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "lab", "--break", "ca")
    assert result.returncode == 1, result.stdout
    assert "certificate chain check failed" in result.stdout
    assert "Untrusted Demo CA" in result.stdout
    trace = (tmp_path / "lab" / "CUCM10" / "traces" / "sdl.txt").read_text()
    assert "certificate chain failed" in trace


def test_demo_rejects_bad_break_value(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "lab", "--break", "cert")
    assert result.returncode == 2
    assert "--break must be 'name' or 'ca'" in result.stderr


OPTIONS = (
    b"OPTIONS sip:9898@127.0.0.200 SIP/2.0\r\n"
    b"Via: SIP/2.0/TLS 127.0.0.203:5061;branch=z9hG4bKkeep1\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.203>;tag=1\r\nTo: <sip:9898@127.0.0.200>\r\n"
    b"Call-ID: keep-probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


def probe_without_certificate() -> bytes:
    """Connect to CUCM10 from CUCMA's address without a client certificate and send OPTIONS."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(
        ("127.0.0.200", 5061), timeout=10, source_address=("127.0.0.203", 0)
    ) as raw:
        try:
            with context.wrap_socket(raw) as tls:
                tls.sendall(OPTIONS)
                return tls.recv(4096)
        except (ssl.SSLError, ConnectionError):
            return b""


def test_demo_keep_refuses_peer_without_certificate(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tlstrunk",
            "demo",
            "--dir",
            str(tmp_path / "lab"),
            "--hold",
            "0.1",
            "--keep",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + DEMO_TIMEOUT
    try:
        for line in process.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line or time.monotonic() > deadline:
                break
        assert any("Press Ctrl-C" in line for line in lines), "".join(lines)
        answer = probe_without_certificate()
        assert b"SIP/2.0" not in answer
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, "".join(lines) + output


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark (apt-get install tshark)")
def test_demo_capture_decodes_in_tshark(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "lab", "--capture")
    assert result.returncode == 0, result.stdout + result.stderr
    capture = tmp_path / "lab" / "CUCMA" / "capture.pcapng"
    decoded = subprocess.run(
        ["tshark", "-r", str(capture), "-Y", "sip", "-T", "fields", "-e", "sip.Method",
         "-e", "sip.Status-Code"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    fields = [line.split("\t") for line in decoded.stdout.splitlines()]
    methods = [f[0] for f in fields if f[0]]
    statuses = [f[1] for f in fields if len(f) > 1 and f[1]]
    assert methods.count("INVITE") == 2, decoded.stdout
    assert methods.count("BYE") == 2, decoded.stdout
    assert "200" in statuses
    assert not (tmp_path / "lab" / "CUCMA" / "private" / "tls-keylog.txt").exists()
