"""Starting and stopping node processes for a lab on one machine."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tlstrunk.control_client import ControlError, control_request
from tlstrunk.i18n import _
from tlstrunk.paths import NodePaths

#: Seconds a node gets to start listening before the lab gives up on it.
START_TIMEOUT = 30.0
#: Seconds a node gets to stop after a shutdown request before it is killed.
STOP_TIMEOUT = 10.0


class NodeProcessError(Exception):
    """Raised when a node process fails to start; the message carries its log."""


@dataclass
class NodeProcess:
    """A node running as its own OS process."""

    name: str
    paths: NodePaths
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def request(self, request: dict[str, Any], *, timeout: float = 60.0) -> Any:
        """Send one control request to the node."""
        return control_request(self.paths.control_socket, request, timeout=timeout)

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the node's log."""
        try:
            text = self.paths.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Ask the node to stop, and kill it if it does not."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ControlError):
            self.request({"op": "shutdown"}, timeout=5)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_node(name: str, paths: NodePaths, *, capture: Path | None = None) -> NodeProcess:
    """Start ``tlstrunk node run`` for ``paths`` and wait until it answers ``status``.

    With ``capture`` the node writes its SIP traffic, TLS secrets embedded, to that file.
    """
    extra = ["--capture", str(capture)] if capture is not None else []
    log = paths.log.open("ab")
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    process = subprocess.Popen(
        [sys.executable, "-m", "tlstrunk", "node", "run", "--node-dir", str(paths.root), *extra],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    log.close()
    node = NodeProcess(name, paths, process)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NodeProcessError(
                _("Node {name} exited with status {code} while starting:\n{log}").format(
                    name=name, code=process.returncode, log=node.log_tail()
                )
            )
        if paths.control_socket.exists():
            with contextlib.suppress(ControlError):
                node.request({"op": "status"}, timeout=5)
                return node
        time.sleep(0.1)
    node.stop()
    raise NodeProcessError(
        _("Node {name} did not start within {seconds:.0f} s:\n{log}").format(
            name=name, seconds=START_TIMEOUT, log=node.log_tail()
        )
    )
