"""Kamailio as the reference: a stateful, record-routing relay with mutual TLS on both sides.

The configuration is written for Kamailio 5.6 as Debian 12 packages it
(``kamailio`` and ``kamailio-tls-modules``). Kamailio relays every initial
request from the generator's UAC to its UAS with ``t_relay`` (tm), adds a
Record-Route, and routes in-dialog requests by ``loose_route``. Its tls
module demands and verifies a client certificate from the lab's CA and
verifies the UAS's certificate. Nothing is logged per message, so the
comparison with a node is not skewed by logging.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tlstrunk.transport.tls import TlsIdentity

#: Seconds to wait for Kamailio's TLS port to open, and for it to stop.
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
#: Shared and per-process memory in MB. The shared pool contains the transactions and TLS
#: buffers. With 256 MB Kamailio 5.6 ran out at 2,400 calls per second and closed connections.
SHARED_MEMORY_MB = 1024
PRIVATE_MEMORY_MB = 16
#: TCP worker processes: the benchmark keeps one persistent connection on each side, and
#: Kamailio serves a connection from one worker at a time.
TCP_WORKERS = 2

_CONFIG = """#!KAMAILIO
# Written by tlstrunk bench: a stateful record-routing TLS relay for load tests.
debug=1
log_stderror=yes
fork=yes
children=1
tcp_children={workers}
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=no
disable_tcp=no
enable_tls=yes
listen=tls:{address}:{port}
tcp_source_ipv4={address}
tcp_connection_lifetime=3600
tcp_max_connections=4096

loadmodule "tls.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"

modparam("tls", "config", "{tls_config}")
modparam("tm", "fr_timer", 10000)
modparam("tm", "fr_inv_timer", 30000)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        if (loose_route()) {{
            route(RELAY);
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) {{
                route(RELAY);
            }}
            exit;
        }}
        sl_send_reply("404", "Not Here");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            route(RELAY);
        }}
        exit;
    }}
    if (is_method("INVITE")) {{
        record_route();
    }}
    $du = "sip:{uas_address}:{uas_port};transport=tls";
    route(RELAY);
}}

route[RELAY] {{
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}
"""

_TLS_CONFIG = """[server:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
verify_depth = 3
certificate = {certificate}
private_key = {private_key}
ca_list = {ca_list}

[client:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
verify_depth = 3
certificate = {certificate}
private_key = {private_key}
ca_list = {ca_list}
"""


class KamailioError(RuntimeError):
    """Raised when Kamailio is missing, exits or does not listen."""


def kamailio_binary() -> str | None:
    """Return the path of ``kamailio``, or None when it is not installed."""
    return shutil.which("kamailio") or shutil.which("kamailio", path="/usr/sbin:/sbin")


def kamailio_version() -> str:
    """Return Kamailio's version line, or "not installed"."""
    binary = kamailio_binary()
    if binary is None:
        return "not installed"
    run = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10, check=False)
    first = (run.stdout or run.stderr).splitlines()
    return first[0].removeprefix("version: ").strip() if first else "unknown"


@dataclass(frozen=True)
class RelaySettings:
    """Kamailio's listening address, its TLS identity, and the UAS it relays calls to."""

    address: str
    port: int
    identity: TlsIdentity
    uas: tuple[str, int]


def write_config(settings: RelaySettings, directory: Path) -> Path:
    """Write ``kamailio.cfg`` and ``tls.cfg`` into ``directory``; return the first."""
    directory.mkdir(parents=True, exist_ok=True)
    tls_config = directory / "tls.cfg"
    tls_config.write_text(
        _TLS_CONFIG.format(
            certificate=settings.identity.certificate_chain,
            private_key=settings.identity.private_key,
            ca_list=settings.identity.trust_bundle,
        )
    )
    config = directory / "kamailio.cfg"
    config.write_text(
        _CONFIG.format(
            workers=TCP_WORKERS,
            address=settings.address,
            port=settings.port,
            tls_config=tls_config,
            uas_address=settings.uas[0],
            uas_port=settings.uas[1],
        )
    )
    return config


class KamailioRelay:
    """Kamailio in the foreground in its own session; a context manager starts and stops it."""

    def __init__(self, settings: RelaySettings, directory: Path) -> None:
        self.settings = settings
        self.directory = directory
        self.log_path = directory / "kamailio.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The main Kamailio process id; its workers are its children."""
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        """Start Kamailio and wait until its TLS port accepts connections.

        Raises:
            KamailioError: Kamailio is not installed, exited, or did not listen in time.
        """
        binary = kamailio_binary()
        if binary is None:
            raise KamailioError(
                "kamailio is not installed; install the Debian packages kamailio and "
                "kamailio-tls-modules."
            )
        config = write_config(self.settings, self.directory)
        runtime = self.directory / "run"
        runtime.mkdir(exist_ok=True)
        command = [
            binary, "-DD", "-E", "-f", str(config), "-Y", str(runtime),
            "-P", str(self.directory / "kamailio.pid"),
            "-m", str(SHARED_MEMORY_MB), "-M", str(PRIVATE_MEMORY_MB),
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_for_port()

    def _wait_for_port(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        address = (self.settings.address, self.settings.port)
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise KamailioError(
                    f"kamailio exited with status {self._process.returncode} before it listened "
                    f"on {address[0]}:{address[1]}; its log:\n{self.log_tail()}"
                )
            try:
                with socket.create_connection(address, timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise KamailioError(
            f"kamailio did not listen on {address[0]}:{address[1]} within {START_TIMEOUT:.0f} s; "
            f"its log:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Send SIGTERM, then SIGKILL to the process group Kamailio and its workers share."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)
        self._process = None

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of Kamailio's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> KamailioRelay:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
