"""The pjsua2 and baresip phone harnesses against Kamailio as registrar and proxy.

Both phones register over TLS with a client certificate from a test CA and
digest credentials, then call each other through Kamailio. Kamailio is a
third-party registrar, so passing here shows that the harnesses
follow a standard registrar and can be pointed at tlstrunk's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from baresip_peer import BaresipAccount, BaresipError, BaresipPhone, baresip_binary
from kamailio_peer import kamailio_binary
from kamailio_registrar import (
    Identity,
    KamailioRegistrar,
    RegistrarSettings,
    TestPki,
)
from pjsua_runner import PeerRun, phone_args, run_pjsua_peer, start_pjsua_peer

from lab_support import free_port

pytestmark = [
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.usefixtures("pjsua2_peer"),
    pytest.mark.skipif(
        kamailio_binary() is None,
        reason="kamailio is not on PATH; install the Debian packages kamailio and "
        "kamailio-tls-modules to run the phone interop tests.",
    ),
    pytest.mark.skipif(
        baresip_binary() is None,
        reason="baresip is not on PATH; install the Debian package baresip-core "
        "to run the phone interop tests.",
    ),
]

REGISTRAR_ADDRESS = "127.0.6.1"
PJSUA_ADDRESS = "127.0.6.11"
BARESIP_ADDRESS = "127.0.6.21"
PASSWORD = "phone-lab-secret"
PJSUA_USER = "1001"
BARESIP_USER = "1002"
RUN_TIMEOUT = 30.0


@dataclass
class PhoneLab:
    """A running Kamailio registrar and the certificates of both phones."""

    directory: Path
    registrar: KamailioRegistrar
    pjsua: Identity
    baresip: Identity

    @property
    def settings(self) -> RegistrarSettings:
        return self.registrar.settings

    def pjsua_args(self, *action: str, password: str = PASSWORD) -> list[str]:
        """Return ``pjsua_peer.py phone`` arguments for user 1001 over TLS."""
        return phone_args(
            PJSUA_USER,
            password,
            REGISTRAR_ADDRESS,
            self.settings.tls_port,
            PJSUA_ADDRESS,
            "--timeout",
            str(RUN_TIMEOUT - 5),
            *action,
            cert=self.pjsua.certificate,
            key=self.pjsua.private_key,
            ca=self.pjsua.ca,
            log=self.directory / "pjsua.log",
        )

    def baresip_phone(self, password: str = PASSWORD, **options: Any) -> BaresipPhone:
        """Return a baresip phone for user 1002 over TLS, not yet started."""
        account = BaresipAccount(
            BARESIP_USER,
            password,
            REGISTRAR_ADDRESS,
            self.settings.tls_port,
            certificate=self.baresip.combined,
            ca_file=self.baresip.ca,
            **options,
        )
        return BaresipPhone(self.directory / "baresip", account, BARESIP_ADDRESS)

    def explain(self, *parts: str) -> str:
        """Join failure details with the registrar's log tail."""
        return "\n".join([*parts, self.registrar.log_tail()])


@pytest.fixture
def phone_lab(tmp_path: Path) -> Iterator[PhoneLab]:
    pki = TestPki(tmp_path / "pki")
    settings = RegistrarSettings(
        address=REGISTRAR_ADDRESS,
        port=free_port(REGISTRAR_ADDRESS),
        tls_port=free_port(REGISTRAR_ADDRESS),
        identity=pki.issue("REGISTRAR", (REGISTRAR_ADDRESS,)),
        password=PASSWORD,
    )
    with KamailioRegistrar(settings, tmp_path / "kamailio") as registrar:
        yield PhoneLab(
            tmp_path,
            registrar,
            pki.issue("PJSUA-PHONE"),
            pki.issue("BARESIP-PHONE"),
        )


def last_media(run: PeerRun) -> dict[str, Any]:
    media = run.named("media")
    assert media, run.describe()
    return media[-1]


def rtp_counts(run: PeerRun) -> dict[str, Any]:
    rtp = run.named("rtp")
    assert rtp, run.describe()
    return rtp[-1]


def test_pjsua_calls_baresip_with_srtp(phone_lab: PhoneLab) -> None:
    with phone_lab.baresip_phone(answer="auto", srtp="optional") as baresip:
        baresip.wait_registered()
        run = run_pjsua_peer(phone_lab.pjsua_args("--dial", BARESIP_USER, "--hold", "2"), 40)
        closed = baresip.wait_for_event("CALL_CLOSED", 10)
    detail = phone_lab.explain(run.describe(), baresip.describe())

    assert run.ok, detail
    assert "CONFIRMED" in run.call_states, detail
    assert run.named("registration")[0]["code"] == 200, detail
    assert last_media(run)["audio_active"] is True, detail
    assert last_media(run)["srtp"] is True, detail
    assert rtp_counts(run)["rx_packets"] > 0, detail
    assert rtp_counts(run)["tx_packets"] > 0, detail
    assert "CALL_ESTABLISHED" in baresip.call_events(), detail
    assert closed["direction"] == "incoming", detail
    assert baresip.rtp_packet_counts()[-1][1] > 0, detail
    assert run.named("unregistered")[0]["code"] == 200, detail


def test_baresip_calls_pjsua(phone_lab: PhoneLab) -> None:
    args = phone_lab.pjsua_args("--answer", "auto", "--srtp", "off")
    with start_pjsua_peer(args) as pjsua, phone_lab.baresip_phone() as baresip:
        pjsua.wait_for_event("registration", 10)
        baresip.wait_registered()
        baresip.dial(PJSUA_USER)
        baresip.wait_for_event("CALL_ESTABLISHED", 10)
        pjsua.wait_for_event("media", 10)
        # let RTP run for a moment before hanging up
        baresip.wait_for_event("CALL_RTCP", 10)
        baresip.hangup()
        baresip.wait_for_event("CALL_CLOSED", 10)
        run = pjsua.wait(timeout=15)
    detail = phone_lab.explain(run.describe(), baresip.describe())

    assert run.ok, detail
    assert run.named("incoming_call")[0]["via_transport"] == "TLS", detail
    assert last_media(run)["srtp"] is False, detail
    assert rtp_counts(run)["rx_packets"] > 0, detail
    assert baresip.rtp_packet_counts()[-1][0] > 0, detail
    assert baresip.rtp_packet_counts()[-1][1] > 0, detail


def test_busy_phone_gives_486(phone_lab: PhoneLab) -> None:
    with phone_lab.baresip_phone(answer="busy") as baresip:
        baresip.wait_registered()
        run = run_pjsua_peer(phone_lab.pjsua_args("--dial", BARESIP_USER, "--expect", "486"), 40)
    detail = phone_lab.explain(run.describe(), baresip.describe())

    assert run.ok, detail
    assert "CONFIRMED" not in run.call_states, detail
    assert run.named("call_state")[-1]["last_status"] == 486, detail
    assert "CALL_INCOMING" in baresip.call_events(), detail


def test_pjsua_cancels_ringing_call(phone_lab: PhoneLab) -> None:
    with phone_lab.baresip_phone(answer="manual") as baresip:
        baresip.wait_registered()
        args = phone_lab.pjsua_args(
            "--dial", BARESIP_USER, "--cancel-after", "0.5", "--expect", "487"
        )
        run = run_pjsua_peer(args, 40)
        closed = baresip.wait_for_event("CALL_CLOSED", 10)
    detail = phone_lab.explain(run.describe(), baresip.describe())

    assert run.ok, detail
    assert "EARLY" in run.call_states, detail
    assert run.named("call_state")[-1]["last_status"] == 487, detail
    assert closed["direction"] == "incoming", detail


def test_baresip_answers_pjsua_busy_phone(phone_lab: PhoneLab) -> None:
    args = phone_lab.pjsua_args("--answer", "busy")
    with start_pjsua_peer(args) as pjsua, phone_lab.baresip_phone() as baresip:
        pjsua.wait_for_event("registration", 10)
        baresip.wait_registered()
        baresip.dial(PJSUA_USER)
        closed = baresip.wait_for_event("CALL_CLOSED", 10)
        run = pjsua.wait(timeout=15)
    detail = phone_lab.explain(run.describe(), baresip.describe())

    assert run.ok, detail
    assert "486" in str(closed.get("param")), detail


def test_pjsua_wrong_password_fails_registration(phone_lab: PhoneLab) -> None:
    run = run_pjsua_peer(phone_lab.pjsua_args("--answer", "auto", password="wrong"), 40)
    detail = phone_lab.explain(run.describe())
    result = run.result or {}

    assert not run.ok, detail
    assert str(result.get("detail", "")).startswith("registration failed: 401"), detail
    assert run.named("registration")[-1]["code"] == 401, detail


def test_baresip_wrong_password_fails_registration(phone_lab: PhoneLab) -> None:
    with phone_lab.baresip_phone(password="wrong") as baresip:
        reason = baresip.registration_failure()
    detail = phone_lab.explain(reason, baresip.describe())

    assert "401" in reason, detail


def test_baresip_rejects_untrusted_registrar(phone_lab: PhoneLab, tmp_path: Path) -> None:
    foreign = TestPki(tmp_path / "foreign-pki").issue("BARESIP-PHONE")
    account = BaresipAccount(
        BARESIP_USER,
        PASSWORD,
        REGISTRAR_ADDRESS,
        phone_lab.settings.tls_port,
        certificate=foreign.combined,
        ca_file=foreign.ca,
    )
    phone = BaresipPhone(tmp_path / "foreign-baresip", account, BARESIP_ADDRESS)

    with pytest.raises(BaresipError, match="failed the TLS check"):
        phone.start()
    phone.stop()
