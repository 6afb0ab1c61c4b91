"""The registrar: REGISTER with digest authentication, bindings, expiry and refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tlstrunk.callcontrol.registrar import (
    BLOCK_SECONDS,
    MAX_FAILURES,
    MIN_EXPIRES,
    PhoneAuthenticator,
    Registrar,
)
from tlstrunk.config.enums import DeviceSecurityMode, IncomingTransport
from tlstrunk.config.snapshot import ConfigSnapshot
from tlstrunk.config.values import (
    DigestUserConfig,
    DirectoryNumberConfig,
    NodeConfig,
    PhoneConfig,
)
from tlstrunk.observe.trace import TraceWriter
from tlstrunk.sip.digest import DigestClient, compute_ha1
from tlstrunk.sip.message import Request, Response, parse_message
from tlstrunk.transport.connection import TlsSessionInfo

REALM = "CUCMA"
PASSWORD = "s3cret-phone"


@dataclass
class FakeChannel:
    """What the registrar reads of a connection: no socket is needed for these checks."""

    transport: str = "TLS"
    remote: tuple[str, int] = ("127.0.9.10", 40000)
    local: tuple[str, int] = ("127.0.9.1", 5062)
    tls: TlsSessionInfo | None = None
    trunk_name: str | None = None
    phone_listener: bool = True
    is_open: bool = True
    reliable: bool = True
    id: int = 1
    direction: str = "inbound"
    close_reason: str | None = None
    sent: list[object] = field(default_factory=list)

    def send(self, message: object) -> None:
        self.sent.append(message)

    def close(self, reason: str) -> None:
        self.is_open = False


def digest_user(name: str) -> DigestUserConfig:
    return DigestUserConfig(
        name=name,
        realm=REALM,
        ha1_md5=compute_ha1(name, REALM, PASSWORD, "MD5"),
        ha1_sha256=compute_ha1(name, REALM, PASSWORD, "SHA-256"),
    )


def snapshot(*phones: PhoneConfig) -> ConfigSnapshot:
    return ConfigSnapshot.build(
        NodeConfig("CUCMA", "127.0.9.1", sip_realm=REALM),
        (),
        (),
        (),
        (),
        (),
        (DirectoryNumberConfig("1018"), DirectoryNumberConfig("1019")),
        digest_users=(digest_user("alice"), digest_user("bob")),
        phones=phones,
    )


ALICE = PhoneConfig(
    name="SEP001122334455",
    directory_number="1018",
    digest_user="alice",
    device_security_mode=DeviceSecurityMode.ENCRYPTED,
    transport=IncomingTransport.TLS,
)
OPEN_PHONE = PhoneConfig(name="LOBBY", directory_number="1019")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_registrar(*phones: PhoneConfig, clock: Clock | None = None) -> Registrar:
    config = snapshot(*phones)
    trace = TraceWriter()
    return Registrar(
        snapshot=lambda: config,
        authenticator=PhoneAuthenticator(lambda: config, trace),
        trace=trace,
        clock=clock or Clock(),
    )


def register(
    number: str,
    *,
    contact: str = "<sip:1018@127.0.9.10:40000;transport=tls>",
    expires: int | None = 600,
    cseq: int = 1,
    call_id: str = "reg-1",
) -> Request:
    extra = f"Expires: {expires}\r\n" if expires is not None else ""
    data = (
        f"REGISTER sip:127.0.9.1:5062;transport=tls SIP/2.0\r\n"
        "Via: SIP/2.0/TLS 127.0.9.10:40000;branch=z9hG4bK-reg\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{number}@127.0.9.1>;tag=f1\r\nTo: <sip:{number}@127.0.9.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: {contact}\r\n"
        f"{extra}User-Agent: test-phone\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def answer_challenge(request: Request, challenge: Response, user: str, password: str) -> Request:
    def ha1(realm: str, algorithm: str) -> str | None:
        return compute_ha1(user, realm, password, algorithm)

    authorized = DigestClient(user, ha1).authorize(request, challenge)
    assert authorized is not None
    return authorized


def test_register_with_digest_creates_a_binding() -> None:
    registrar = make_registrar(ALICE)
    channel = FakeChannel()
    request = register("1018")
    challenge = registrar.register(request, channel)
    assert challenge.status_code == 401
    [offered] = challenge.headers.get_all("WWW-Authenticate")
    assert "algorithm=MD5" in offered
    ok = registrar.register(answer_challenge(request, challenge, "alice", PASSWORD), channel)
    assert ok.status_code == 200
    assert "expires=600" in (ok.headers.get("Contact") or "")
    [binding] = registrar.bindings("1018")
    assert binding.phone == "SEP001122334455"
    assert binding.channel is channel
    assert registrar.describe()[0]["user_agent"] == "test-phone"


def test_wrong_password_is_refused_and_binds_nothing() -> None:
    registrar = make_registrar(ALICE)
    channel = FakeChannel()
    request = register("1018")
    challenge = registrar.register(request, channel)
    refused = registrar.register(answer_challenge(request, challenge, "alice", "wrong"), channel)
    assert refused.status_code == 403
    assert "does not match" in (refused.headers.get("Warning") or "")
    assert registrar.bindings("1018") == []


def test_another_phones_digest_user_is_refused() -> None:
    registrar = make_registrar(ALICE)
    channel = FakeChannel()
    request = register("1018")
    challenge = registrar.register(request, channel)
    refused = registrar.register(answer_challenge(request, challenge, "bob", PASSWORD), channel)
    assert refused.status_code == 403
    assert "bob" in (refused.headers.get("Warning") or "")


def test_unknown_number_gets_404_naming_it() -> None:
    registrar = make_registrar(ALICE)
    response = registrar.register(register("4444"), FakeChannel())
    assert response.status_code == 404
    assert "4444" in (response.headers.get("Warning") or "")


def test_encrypted_phone_over_tcp_is_refused() -> None:
    registrar = make_registrar(ALICE)
    channel = FakeChannel(transport="TCP")
    request = register("1018")
    challenge = registrar.register(request, channel)
    refused = registrar.register(answer_challenge(request, challenge, "alice", PASSWORD), channel)
    assert refused.status_code == 403
    warning = refused.headers.get("Warning") or ""
    assert "TLS" in warning
    assert "TCP" in warning


def test_phone_without_digest_registers_directly() -> None:
    registrar = make_registrar(OPEN_PHONE)
    channel = FakeChannel(transport="UDP")
    response = registrar.register(register("1019", contact="<sip:1019@127.0.9.10:40000>"), channel)
    assert response.status_code == 200
    assert registrar.binding_for_channel("1019", channel) is not None


def test_too_brief_expiry_gets_423_with_min_expires() -> None:
    registrar = make_registrar(OPEN_PHONE)
    response = registrar.register(
        register("1019", contact="<sip:1019@127.0.9.10>", expires=10), FakeChannel(transport="TCP")
    )
    assert response.status_code == 423
    assert response.headers.get("Min-Expires") == str(MIN_EXPIRES)


def test_binding_expires_and_unregister_removes_it() -> None:
    clock = Clock()
    registrar = make_registrar(OPEN_PHONE, clock=clock)
    channel = FakeChannel(transport="TCP")
    registrar.register(register("1019", contact="<sip:1019@127.0.9.10>", expires=120), channel)
    assert len(registrar.bindings("1019")) == 1
    clock.now += 121
    assert registrar.bindings("1019") == []
    registrar.register(
        register("1019", contact="<sip:1019@127.0.9.10>", cseq=2, expires=120), channel
    )
    registrar.register(
        register("1019", contact="<sip:1019@127.0.9.10>", cseq=3, expires=0), channel
    )
    assert registrar.bindings("1019") == []


def test_wildcard_unregister_needs_expires_zero() -> None:
    registrar = make_registrar(OPEN_PHONE)
    channel = FakeChannel(transport="TCP")
    registrar.register(register("1019", contact="<sip:1019@127.0.9.10>"), channel)
    refused = registrar.register(register("1019", contact="*", cseq=2), channel)
    assert refused.status_code == 400
    cleared = registrar.register(register("1019", contact="*", cseq=3, expires=0), channel)
    assert cleared.status_code == 200
    assert registrar.bindings("1019") == []


def test_older_register_is_ignored() -> None:
    registrar = make_registrar(OPEN_PHONE)
    channel = FakeChannel(transport="TCP")
    registrar.register(register("1019", contact="<sip:1019@127.0.9.10>", cseq=5), channel)
    registrar.register(
        register("1019", contact="<sip:1019@127.0.9.10>", cseq=4, expires=0), channel
    )
    assert len(registrar.bindings("1019")) == 1


def test_closed_connection_ends_its_bindings() -> None:
    registrar = make_registrar(OPEN_PHONE)
    channel = FakeChannel(transport="TCP")
    registrar.register(register("1019", contact="<sip:1019@127.0.9.10>"), channel)
    registrar.connection_closed(channel)  # type: ignore[arg-type]
    assert registrar.bindings("1019") == []


@pytest.mark.parametrize("expires", [None, 7200])
def test_expiry_defaults_and_is_capped(expires: int | None) -> None:
    registrar = make_registrar(OPEN_PHONE)
    response = registrar.register(
        register("1019", contact="<sip:1019@127.0.9.10>", expires=expires),
        FakeChannel(transport="TCP"),
    )
    assert "expires=3600" in (response.headers.get("Contact") or "")


def test_nonce_key_outlives_a_restart(tmp_path: Path) -> None:
    from tlstrunk.callcontrol.node import Node
    from tlstrunk.paths import NodePaths

    paths = NodePaths(tmp_path / "node")
    first = Node(paths)._digest_secret()
    second = Node(paths)._digest_secret()
    assert first == second
    assert len(first) == 32
    assert paths.digest_secret.stat().st_mode & 0o777 == 0o600


def test_wrong_passwords_block_source() -> None:
    clock = Clock()
    config = snapshot(ALICE)
    trace = TraceWriter()
    registrar = Registrar(
        snapshot=lambda: config,
        authenticator=PhoneAuthenticator(lambda: config, trace, clock=clock),
        trace=trace,
        clock=clock,
    )
    channel = FakeChannel()
    for attempt in range(MAX_FAILURES):
        request = register("1018", cseq=2 * attempt + 1)
        challenge = registrar.register(request, channel)
        refused = registrar.register(
            answer_challenge(request, challenge, "alice", "wrong"), channel
        )
        assert refused.status_code == 403
    request = register("1018", cseq=100)
    blocked = registrar.register(request, channel)
    assert blocked.status_code == 403
    assert "Too many failed digest checks" in (blocked.headers.get("Warning") or "")
    clock.now += BLOCK_SECONDS + 1
    challenge = registrar.register(request, channel)
    assert challenge.status_code == 401
    ok = registrar.register(answer_challenge(request, challenge, "alice", PASSWORD), channel)
    assert ok.status_code == 200
