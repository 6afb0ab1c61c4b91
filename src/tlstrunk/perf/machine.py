"""The machine a benchmark ran on, as the report states it."""

from __future__ import annotations

import os
import platform
import ssl
import subprocess
from pathlib import Path
from typing import Any

from tlstrunk.perf.kamailio import kamailio_version


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """Return the CPU model name from ``/proc/cpuinfo``, or "unknown"."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return "unknown"
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def load_average() -> tuple[float, float, float]:
    """Return the 1, 5 and 15 minute load averages."""
    return os.getloadavg()


def openssl_version() -> str:
    """Return the ``openssl`` command's version, and the one Python's ssl module links."""
    try:
        run = subprocess.run(
            ["openssl", "version"], capture_output=True, text=True, timeout=10, check=False
        )
        command = run.stdout.strip() or "unknown"
    except OSError:
        command = "not installed"
    if ssl.OPENSSL_VERSION in command:
        return command
    return f"{command}; Python's ssl module: {ssl.OPENSSL_VERSION}"


def describe_machine() -> dict[str, Any]:
    """Return cores, CPU model, memory, Python, OpenSSL and Kamailio versions."""
    memory_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "openssl": openssl_version(),
        "kamailio": kamailio_version(),
    }
