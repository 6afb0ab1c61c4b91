"""Kamailio as a TLS proxy hop between tlstrunk nodes, run in a subprocess for tests.

``write_config`` fills the templates in ``data/kamailio`` (a routing script and
the tls module's profiles) for one lab. ``KamailioProcess`` runs Kamailio in
the foreground with its own runtime directory and pid file, waits until its TLS
port accepts connections, and stops the whole process group it started.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Generic, Self, TypeVar

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("data") / "kamailio"
PLACEHOLDER = re.compile(r"%%[A-Z_]+%%")

#: Seconds to wait for the TLS port to open, and for Kamailio to exit after SIGTERM.
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
LOG_TAIL_LINES = 120


#: The settings type of one kind of Kamailio run.
SettingsT = TypeVar("SettingsT")


class KamailioError(RuntimeError):
    """Kamailio could not be configured or did not start."""


@dataclass(frozen=True)
class NextHop:
    """Where Kamailio sends initial requests that arrive from ``source``."""

    source: str
    address: str
    port: int


@dataclass(frozen=True)
class KamailioSettings:
    """One Kamailio instance: its TLS socket, its identity, the CA it trusts, its next hops."""

    address: str
    port: int
    certificate: Path
    private_key: Path
    ca_list: Path
    next_hops: tuple[NextHop, ...]


def kamailio_binary() -> str | None:
    """Return the path of the ``kamailio`` executable, or None when it is not on PATH."""
    return shutil.which("kamailio") or shutil.which("kamailio", path="/usr/sbin:/sbin")


def _fill(template: str, values: dict[str, str]) -> str:
    text = template
    for name, value in values.items():
        text = text.replace(f"%%{name}%%", value)
    left = PLACEHOLDER.findall(text)
    if left:
        raise KamailioError(
            f"The Kamailio template still contains placeholders {left}. Pass values for them."
        )
    return text


def _forward_block(next_hops: tuple[NextHop, ...]) -> str:
    lines = []
    for hop in next_hops:
        lines += [
            f'    if ($si == "{hop.source}") {{',
            f'        $du = "sip:{hop.address}:{hop.port};transport=tls";',
            "        route(RELAY);",
            "    }",
        ]
    return "\n".join(lines)


def write_config(settings: KamailioSettings, directory: Path) -> Path:
    """Write ``kamailio.cfg`` and ``tls.cfg`` for ``settings`` into ``directory``.

    Returns the path of ``kamailio.cfg``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    tls_config = directory / "tls.cfg"
    tls_config.write_text(
        _fill(
            (TEMPLATES / "tls.cfg").read_text(),
            {
                "CERTIFICATE": str(settings.certificate),
                "PRIVATE_KEY": str(settings.private_key),
                "CA_LIST": str(settings.ca_list),
            },
        )
    )
    config = directory / "kamailio.cfg"
    config.write_text(
        _fill(
            (TEMPLATES / "kamailio.cfg").read_text(),
            {
                "ADDRESS": settings.address,
                "PORT": str(settings.port),
                "TLS_CONFIG": str(tls_config),
                "FORWARDS": _forward_block(settings.next_hops),
            },
        )
    )
    return config


class KamailioRunner(Generic[SettingsT]):
    """A Kamailio process in the foreground (``-DD -E``), logging to a file.

    Use as a context manager: entering starts Kamailio and waits for its TLS
    port, leaving stops it. Kamailio forks workers, so it runs in a session of
    its own and a late stop kills that process group. Subclasses write the
    configuration and name the port to wait for.
    """

    def __init__(self, settings: SettingsT, directory: Path) -> None:
        self.settings = settings
        self.directory = directory
        self.log_path = directory / "kamailio.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start Kamailio and wait until its TLS port accepts TCP connections.

        Raises:
            KamailioError: ``kamailio`` is not installed, exited, or the port stayed closed.
        """
        binary = kamailio_binary()
        if binary is None:
            raise KamailioError("kamailio is not on PATH; install the Debian package kamailio.")
        config = self._write_config()
        runtime = self.directory / "run"
        runtime.mkdir(exist_ok=True)
        command = [
            binary,
            "-DD",
            "-E",
            "-f",
            str(config),
            "-Y",
            str(runtime),
            "-P",
            str(self.directory / "kamailio.pid"),
            "-m",
            "64",
            "-M",
            "8",
        ]
        logger.info("starting %s", " ".join(command))
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_for_port(timeout)

    def _write_config(self) -> Path:
        """Write Kamailio's configuration into the directory and return its path."""
        raise NotImplementedError

    def _listen_address(self) -> tuple[str, int]:
        """Return the address and port whose opening means Kamailio is ready."""
        raise NotImplementedError

    def _wait_for_port(self, timeout: float) -> None:
        assert self._process is not None
        address, port = self._listen_address()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise KamailioError(
                    f"kamailio exited with status {self._process.returncode} before it "
                    f"listened on {address}:{port} (is the package kamailio-tls-modules "
                    f"installed?).\n{self.log_tail()}"
                )
            try:
                with socket.create_connection((address, port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise KamailioError(
            f"Timed out after {timeout} s waiting for kamailio to listen on "
            f"{address}:{port}.\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Send SIGTERM, then SIGKILL to Kamailio's process group if it is still running."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                logger.warning("kamailio pid %s ignored SIGTERM; killing its group", process.pid)
        # Workers left behind by a killed or crashed main process share its process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)
        self._process = None

    def log(self) -> str:
        """Return everything Kamailio has logged so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str, timeout: float = 5.0) -> bool:
        """Return whether ``text`` shows up in Kamailio's log within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of Kamailio's log, headed by the log's path."""
        tail = self.log().splitlines()[-lines:]
        return "\n".join([f"--- {self.log_path} (last {len(tail)} lines)", *tail])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class KamailioProcess(KamailioRunner[KamailioSettings]):
    """Kamailio as a TLS hop that relays to its next hops."""

    def _write_config(self) -> Path:
        return write_config(self.settings, self.directory)

    def _listen_address(self) -> tuple[str, int]:
        return self.settings.address, self.settings.port
