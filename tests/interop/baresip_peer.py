"""Run baresip as a registering SIP phone in a subprocess and follow its events.

``BaresipPhone`` writes a private configuration directory (``config`` and
``accounts``), starts ``baresip -f DIR`` bound to one loopback address, and
talks to baresip's ``ctrl_tcp`` module: commands go out and events come back
as netstring-framed JSON. Written for baresip 1.0.0 (Debian 12 package
baresip-core), which ships the modules used here: ``ctrl_tcp`` and ``menu``
for control, ``g711`` as codec, ``ausine`` as a sine-wave audio source (no
sound card), ``srtp`` for SDES-SRTP, and ``account`` to read the accounts file.

Events are the dictionaries baresip sends, for example
``{"event": true, "class": "register", "type": "REGISTER_OK",
"accountaor": "sip:1002@...", "param": "200 OK"}`` or ``{"class": "call",
"type": "CALL_ESTABLISHED", "peeruri": "sip:1001@...", "id": "..."}``.
Every wait is bounded, and ``stop()`` always ends the process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)

MODULE_PATH = Path("/usr/lib/baresip/modules")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
LOG_TAIL_LINES = 80
MAX_NETSTRING = 1 << 20

TRANSPORTS = ("udp", "tcp", "tls")
#: ``srtp`` option value to the account's ``mediaenc`` parameter.
MEDIA_ENCRYPTION = {"off": None, "optional": "srtp", "mandatory": "srtp-mand"}
#: ``answer`` option value to the account's ``answermode``; busy rejects each call.
ANSWER_MODES = {"manual": "manual", "auto": "auto", "busy": "manual"}

Event = dict[str, Any]


class BaresipError(RuntimeError):
    """baresip could not start, rejected a command, or an expected event did not come."""


def baresip_binary() -> str | None:
    """Return the path of the ``baresip`` executable, or None when it is not installed."""
    return shutil.which("baresip")


@dataclass(frozen=True)
class BaresipAccount:
    """The one SIP account a phone registers.

    ``certificate`` is a PEM file with the client certificate chain followed
    by its private key. ``srtp`` is ``off``, ``optional`` or ``mandatory``;
    ``answer`` is ``manual`` (call :meth:`BaresipPhone.answer`), ``auto`` or
    ``busy`` (reject each incoming call, which baresip does with 486).
    """

    user: str
    password: str
    registrar_address: str
    registrar_port: int
    transport: str = "tls"
    auth_user: str | None = None
    certificate: Path | None = None
    ca_file: Path | None = None
    srtp: str = "off"
    answer: str = "manual"
    register_interval: int = 600

    def check(self) -> None:
        """Raise ValueError naming the first invalid field."""
        if self.transport not in TRANSPORTS:
            raise ValueError(
                f"Transport {self.transport!r} is not supported; use one of {TRANSPORTS}."
            )
        if self.srtp not in MEDIA_ENCRYPTION:
            raise ValueError(
                f"SRTP mode {self.srtp!r} is not supported; use one of {tuple(MEDIA_ENCRYPTION)}."
            )
        if self.answer not in ANSWER_MODES:
            raise ValueError(
                f"Answer mode {self.answer!r} is not supported; use one of {tuple(ANSWER_MODES)}."
            )
        if self.transport == "tls" and (self.certificate is None or self.ca_file is None):
            raise ValueError(
                "A TLS account needs both a client certificate file and a CA file; "
                "pass certificate= and ca_file=."
            )

    @property
    def registrar_uri(self) -> str:
        """The registrar's SIP URI, which is also the outbound proxy."""
        return f"sip:{self.registrar_address}:{self.registrar_port};transport={self.transport}"

    def uri_for(self, number: str) -> str:
        """Return the request URI that dials ``number`` at the registrar's domain.

        baresip 1.0 appends the account's ``transport`` parameter itself, and the
        INVITE goes through the outbound proxy whatever the URI's host.
        """
        if number.startswith(("sip:", "sips:")):
            return number
        return f"sip:{number}@{self.registrar_address}:{self.registrar_port}"

    def accounts_line(self) -> str:
        """Return the line of baresip's ``accounts`` file for this account."""
        host = f"{self.registrar_address}:{self.registrar_port}"
        params = [
            f"auth_pass={self.password}",
            f"auth_user={self.auth_user or self.user}",
            f"answermode={ANSWER_MODES[self.answer]}",
            f'outbound="{self.registrar_uri}"',
            f"regint={self.register_interval}",
            "pubint=0",
            "mwi=no",
        ]
        encryption = MEDIA_ENCRYPTION[self.srtp]
        if encryption:
            params.append(f"mediaenc={encryption}")
        return f"<sip:{self.user}@{host};transport={self.transport}>;" + ";".join(params)


def config_text(local_address: str, sip_port: int, ctrl_port: int, account: BaresipAccount) -> str:
    """Return baresip's ``config`` file: loopback only, sine source, no sound card."""
    lines = [
        "poll_method epoll",
        f"sip_listen {local_address}:{sip_port}",
        f"net_interface {local_address}",
        "call_local_timeout 120",
        "call_max_calls 4",
        "audio_source ausine,440",
        "audio_alert ausine,440",
        # ausine in baresip 1.0 produces 48 kHz stereo only; baresip resamples for G.711
        "ausrc_srate 48000",
        "ausrc_channels 2",
        "rtp_stats yes",
        "statmode_default off",
        f"module_path {MODULE_PATH}",
        "module g711.so",
        "module ausine.so",
        "module srtp.so",
        "module_tmp account.so",
        "module_app menu.so",
        "module_app ctrl_tcp.so",
        f"ctrl_tcp_listen {local_address}:{ctrl_port}",
    ]
    if account.certificate is not None:
        lines.append(f"sip_certificate {account.certificate}")
    if account.ca_file is not None:
        lines.append(f"sip_cafile {account.ca_file}")
    return "\n".join(lines) + "\n"


def encode_netstring(payload: bytes) -> bytes:
    """Frame ``payload`` as a netstring: ``LENGTH:PAYLOAD,``."""
    return str(len(payload)).encode() + b":" + payload + b","


def split_netstrings(buffer: bytearray) -> list[bytes]:
    """Remove every complete netstring from the front of ``buffer`` and return the payloads.

    Raises:
        BaresipError: the buffer does not start with a valid netstring.
    """
    payloads: list[bytes] = []
    while True:
        colon = buffer.find(b":")
        if colon < 0:
            if len(buffer) > 10:
                raise BaresipError(
                    f"ctrl_tcp sent a frame without a length: {bytes(buffer[:40])!r}"
                )
            return payloads
        length_text = bytes(buffer[:colon])
        if not length_text.isdigit() or int(length_text) > MAX_NETSTRING:
            raise BaresipError(f"ctrl_tcp sent an invalid netstring length {length_text!r}.")
        end = colon + 1 + int(length_text)
        if len(buffer) <= end:
            return payloads
        if buffer[end : end + 1] != b",":
            raise BaresipError("ctrl_tcp sent a netstring that does not end with a comma.")
        payloads.append(bytes(buffer[colon + 1 : end]))
        del buffer[: end + 1]


def check_server_certificate(account: BaresipAccount, timeout: float = 5.0) -> None:
    """Verify the registrar's certificate chain against ``account.ca_file`` with a test handshake.

    NOTE: baresip 1.0 with libre 1.1 registers even when the server certificate
    does not chain to ``sip_cafile`` (checked against Kamailio with a foreign
    CA), so the harness checks the chain itself before baresip starts. The
    server name is not checked.

    Raises:
        BaresipError: the handshake failed or the chain is not trusted.
    """
    assert account.ca_file is not None and account.certificate is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(cafile=account.ca_file)
    context.load_cert_chain(account.certificate)
    where = (account.registrar_address, account.registrar_port)
    try:
        with (
            socket.create_connection(where, timeout=timeout) as raw,
            context.wrap_socket(raw) as tls,
        ):
            tls.getpeercert()
    except (OSError, ssl.SSLError) as exc:
        raise BaresipError(
            f"The registrar at {where[0]}:{where[1]} failed the TLS check against CA file "
            f"{account.ca_file}: {exc}. Give the registrar a certificate from that CA."
        ) from exc


def free_port(address: str, kind: int = socket.SOCK_STREAM) -> int:
    """Return a port that is free on ``address`` for ``kind`` right now."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def free_sip_port(address: str) -> int:
    """Return a port P with UDP P, TCP P and TCP P+1 free: baresip puts TLS on P+1."""
    for _attempt in range(50):
        port = free_port(address)
        if port >= 65535:
            continue
        try:
            for number, kind in ((port, socket.SOCK_DGRAM), (port + 1, socket.SOCK_STREAM)):
                with socket.socket(socket.AF_INET, kind) as probe:
                    probe.bind((address, number))
        except OSError:
            continue
        return port
    raise BaresipError(f"No free SIP port pair was found on {address} after 50 attempts.")


class BaresipPhone:
    """One baresip process with one account, controlled over ``ctrl_tcp``.

    With ``sip_trace`` baresip prints every SIP message it sends and receives
    into its log (``-s``), which :meth:`describe` shows on failure.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The
    event list grows from a reader thread; the ``wait_for_*`` methods block
    until a matching event arrives or their timeout passes.
    """

    def __init__(
        self,
        directory: Path,
        account: BaresipAccount,
        local_address: str,
        *,
        sip_port: int | None = None,
        ctrl_port: int | None = None,
        sip_trace: bool = True,
    ) -> None:
        account.check()
        self.sip_trace = sip_trace
        self.directory = directory
        self.account = account
        self.local_address = local_address
        self.sip_port = sip_port or free_sip_port(local_address)
        self.ctrl_port = ctrl_port or free_port(local_address)
        self.log_path = directory / "baresip.log"
        self.events: list[Event] = []
        self._responses: dict[str, Event] = {}
        self._changed = threading.Condition()
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._token = 0
        self._closed = False

    @property
    def contact_port(self) -> int:
        """The port baresip listens on for the account's transport (TLS is one above)."""
        return self.sip_port + 1 if self.account.transport == "tls" else self.sip_port

    def write_config(self) -> None:
        """Write ``config`` and ``accounts`` into the phone's directory."""
        self.directory.mkdir(parents=True, exist_ok=True)
        text = config_text(self.local_address, self.sip_port, self.ctrl_port, self.account)
        (self.directory / "config").write_text(text)
        # the account is added with "uanew" once the control connection is up, so
        # that no registration event goes out before anyone listens
        (self.directory / "accounts").write_text("")
        (self.directory / "contacts").write_text("")

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start baresip, connect to its control port and add the account, which registers.

        Raises:
            BaresipError: baresip is not installed, exited, or its control port stayed closed.
        """
        binary = baresip_binary()
        if binary is None:
            raise BaresipError("baresip is not on PATH; install the Debian package baresip-core.")
        if self.account.transport == "tls":
            check_server_certificate(self.account)
        self.write_config()
        command = [binary, "-f", str(self.directory)]
        if self.sip_trace:
            command.append("-s")
        logger.info("starting %s", " ".join(command))
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self._control = self._connect_control(timeout)
        self._reader = threading.Thread(target=self._read_control, daemon=True)
        self._reader.start()
        self.command("uanew", self.account.accounts_line())

    def _connect_control(self, timeout: float) -> socket.socket:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BaresipError(
                    f"baresip exited with status {self._process.returncode} at start.\n"
                    f"{self.log_tail()}"
                )
            try:
                return socket.create_connection((self.local_address, self.ctrl_port), timeout=1)
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BaresipError(
            f"baresip did not open its control port {self.local_address}:{self.ctrl_port} "
            f"within {timeout} s.\n{self.log_tail()}"
        )

    def _read_control(self) -> None:
        assert self._control is not None
        self._control.settimeout(None)
        buffer = bytearray()
        try:
            while chunk := self._control.recv(65536):
                buffer += chunk
                for payload in split_netstrings(buffer):
                    self._dispatch(payload)
        except (OSError, BaresipError) as exc:
            if not self._closed:
                logger.warning("baresip control connection failed: %s", exc)
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _dispatch(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
        except json.JSONDecodeError:
            logger.warning("baresip sent a control message that is not JSON: %r", payload)
            return
        if not isinstance(message, dict):
            return
        with self._changed:
            if message.get("response"):
                self._responses[str(message.get("token", ""))] = message
            elif message.get("event"):
                self.events.append(message)
            self._changed.notify_all()
        if message.get("event"):
            logger.info("baresip %s: %s %s", self.account.user, message.get("type"), message)
            self._react(message)

    def _react(self, event: Event) -> None:
        if self.account.answer == "busy" and event.get("type") == "CALL_INCOMING":
            # baresip 1.0 rejects a ringing incoming call with 486 Busy Here on hangup
            self.send_command("hangup")

    def send_command(self, command: str, params: str = "") -> str:
        """Send ``command`` with ``params`` and return its token, without waiting."""
        if self._control is None:
            raise BaresipError("baresip is not running; call start() first.")
        self._token += 1
        token = f"t{self._token}"
        message = {"command": command, "params": params, "token": token}
        self._control.sendall(encode_netstring(json.dumps(message).encode()))
        return token

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> Event:
        """Run a baresip command and return its response ``{"ok": ..., "data": ...}``.

        Raises:
            BaresipError: no response came within ``timeout`` seconds, or the response is not ok.
        """
        token = self.send_command(command, params)
        response = self._wait(lambda: self._responses.pop(token, None), timeout)
        if not isinstance(response, dict):
            raise BaresipError(
                f"baresip sent no response to {command!r} within {timeout} s.\n{self.describe()}"
            )
        if not response.get("ok"):
            raise BaresipError(
                f"baresip rejected {command} {params!r}: {response.get('data')}\n{self.describe()}"
            )
        return response

    def _wait(self, probe: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = probe()
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return None
                self._changed.wait(min(remaining, 0.2))

    def wait_for_event(self, types: str | Iterable[str], timeout: float, start: int = 0) -> Event:
        """Return the first event from index ``start`` on whose ``type`` is in ``types``.

        Raises:
            BaresipError: no such event came within ``timeout`` seconds.
        """
        wanted = {types} if isinstance(types, str) else set(types)

        def find() -> Event | None:
            return next((e for e in self.events[start:] if e.get("type") in wanted), None)

        event = self._wait(find, timeout)
        if event is None:
            raise BaresipError(
                f"baresip sent no {sorted(wanted)} event within {timeout} s.\n{self.describe()}"
            )
        return dict(event)

    def wait_registered(self, timeout: float = 10.0) -> Event:
        """Return the REGISTER_OK event.

        Raises:
            BaresipError: registration failed (the message carries baresip's
                status, such as ``401 Unauthorized``) or did not finish in time.
        """
        event = self.wait_for_event(("REGISTER_OK", "REGISTER_FAIL"), timeout)
        if event["type"] == "REGISTER_FAIL":
            raise BaresipError(
                f"baresip account {self.account.user} failed to register at "
                f"{self.account.registrar_uri}: {event.get('param')}"
            )
        return event

    def registration_failure(self, timeout: float = 10.0) -> str:
        """Wait for a REGISTER_FAIL event and return its reason, such as ``403 Forbidden``.

        Raises:
            BaresipError: the account registered, or nothing happened within ``timeout``.
        """
        event = self.wait_for_event(("REGISTER_OK", "REGISTER_FAIL"), timeout)
        if event["type"] == "REGISTER_OK":
            raise BaresipError(f"baresip account {self.account.user} registered unexpectedly.")
        return str(event.get("param", ""))

    def dial(self, number: str) -> None:
        """Call ``number`` (a user part or a full SIP URI) through the registrar."""
        self.command("dial", self.account.uri_for(number))

    def answer(self) -> None:
        """Answer the ringing incoming call."""
        self.command("accept")

    def hangup(self) -> None:
        """Hang up the current call, or reject it while it rings."""
        self.command("hangup")

    def call_statistics(self) -> str:
        """Return baresip's text report of the current call and its RTP streams."""
        return str(self.command("callstat").get("data", ""))

    def rtp_packet_counts(self) -> list[tuple[int, int]]:
        """Return (transmitted, received) RTP packets of each ended call, from baresip's log.

        baresip prints these counters when a call ends because the config sets
        ``rtp_stats yes``.
        """
        counts = []
        for line in self.log().splitlines():
            fields = line.split()
            if (
                len(fields) == 3
                and fields[0] == "packets:"
                and all(f.isdigit() for f in fields[1:])
            ):
                counts.append((int(fields[1]), int(fields[2])))
        return counts

    def call_events(self) -> list[str]:
        """Return the ``type`` of every call event so far, in order."""
        return [str(e.get("type")) for e in self.events if e.get("class") == "call"]

    def stop(self) -> None:
        """Unregister and quit when possible, then kill baresip if it is still running."""
        process = self._process
        if process is None:
            return
        if process.poll() is None and self._control is not None and not self._closed:
            with contextlib.suppress(OSError):
                self.send_command("quit")
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                logger.warning("baresip pid %s did not quit; killing it", process.pid)
        if process.poll() is None:
            process.kill()
        process.wait(STOP_TIMEOUT)
        self._closed = True
        if self._control is not None:
            self._control.close()
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT)
        self._process = None

    def log(self) -> str:
        """Return everything baresip has printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of baresip's output, headed by its path."""
        tail = self.log().splitlines()[-lines:]
        return "\n".join([f"--- {self.log_path} (last {len(tail)} lines)", *tail])

    def describe(self) -> str:
        """Return the events so far and the output tail, for assertion messages."""
        with self._changed:
            events = [json.dumps(e) for e in self.events]
        return "\n".join([f"baresip phone {self.account.user}:", *events, self.log_tail()])

    def __enter__(self) -> BaresipPhone:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
