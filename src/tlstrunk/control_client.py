"""Client of a node's control socket: one JSON request line, one JSON response line.

Kept apart from the server in :mod:`tlstrunk.admin.control` so that the lab
and the diagnostics can talk to a running node without importing the
command line.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from tlstrunk.i18n import _


class ControlError(Exception):
    """Raised by the client when the node reports an error or cannot be reached."""


def _connect(path: Path, timeout: float, wait: float) -> socket.socket:
    """Connect to the socket, waiting up to ``wait`` seconds for a starting node to open it."""
    deadline = time.monotonic() + wait
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)
        except OSError:
            sock.close()
            raise


def control_request(
    path: Path, request: dict[str, Any], *, timeout: float = 60.0, wait: float = 0.0
) -> Any:
    """Send one request to a node's control socket and return its result.

    ``wait`` is how many seconds to keep trying while the socket does not
    exist yet or refuses connections, as it does while a node starts.

    Raises:
        ControlError: the node is not reachable or reported an error.
    """
    try:
        with _connect(path, timeout, wait) as sock:
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise ControlError(
            _(
                "Cannot reach the node's control socket {path}: {error}. Is the node running?"
            ).format(path=path, error=exc)
        ) from exc
    if not data:
        raise ControlError(_("The node closed its control socket without a response."))
    response = json.loads(data)
    if not response.get("ok"):
        raise ControlError(str(response.get("error")))
    return response.get("result")
