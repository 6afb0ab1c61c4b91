"""Run nodes as ``tlstrunk node run`` processes and place calls with ``tlstrunk node call``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Seconds a node process may take to start, and to stop before it is killed.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def tlstrunk(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tlstrunk", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def running_nodes(*node_dirs: Path) -> Iterator[None]:
    """Start one ``node run`` process per directory, wait until each is ready, stop them all."""
    # the output goes to a file: a pipe nobody reads would block a chatty node
    logs = [node_dir / "node-run.log" for node_dir in node_dirs]
    processes = []
    for node_dir, log in zip(node_dirs, logs, strict=True):
        with log.open("w") as output:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tlstrunk", "node", "run", "--node-dir", str(node_dir)],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
    try:
        for process, log in zip(processes, logs, strict=True):
            _wait_ready(process, log)
        yield
    finally:
        for node_dir in node_dirs:
            tlstrunk("node", "stop", "--node-dir", str(node_dir), timeout=30)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while '"event": "ready"' not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the node did not start:\n{log.read_text()}")
        time.sleep(0.1)


def place_call(node_dir: Path, calling: str, dialled: str, hold: float = 0.2) -> dict[str, Any]:
    """Place a call from ``node_dir``'s virtual phone and return the call report."""
    result = tlstrunk(
        "node", "call", "--node-dir", str(node_dir), "--from", calling, "--to", dialled,
        "--hold", str(hold),
    )  # fmt: skip
    assert result.stdout.strip(), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report
