"""File layout of a node directory."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Longest Unix socket path that every supported platform accepts.
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class NodePaths:
    """The files of one node: configuration, certificates, traces and control socket."""

    root: Path

    @property
    def config_db(self) -> Path:
        """The node's SQLite configuration database."""
        return self.root / "config.db"

    @property
    def certs(self) -> Path:
        """The node's certificate store."""
        return self.root / "certs"

    @property
    def trace_text(self) -> Path:
        """SDL-style trace lines."""
        return self.root / "traces" / "sdl.txt"

    @property
    def trace_json(self) -> Path:
        """The same trace as JSON lines."""
        return self.root / "traces" / "sdl.jsonl"

    @property
    def digest_secret(self) -> Path:
        """The key that signs digest nonces, kept so that nonces outlive a restart."""
        return self.root / "private" / "digest-nonce.key"

    @property
    def keylog(self) -> Path:
        """TLS secrets of a running capture; private to the node and deleted when it ends."""
        return self.root / "private" / "tls-keylog.txt"

    @property
    def log(self) -> Path:
        """The node process's standard output and error."""
        return self.root / "node.log"

    @property
    def pid_file(self) -> Path:
        """The running node's process id."""
        return self.root / "node.pid"

    @property
    def control_socket(self) -> Path:
        """The Unix socket the node takes control commands on.

        Unix socket paths are limited to about 100 bytes, so a node directory
        with a long path gets its socket in the temporary directory instead,
        under a name derived from the node directory.
        """
        path = self.root / "control.sock"
        if len(str(path.resolve())) <= _MAX_SOCKET_PATH:
            return path
        digest = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"tlstrunk-{digest}.sock"
