"""Real SIP phones register with each cluster over TLS and call each other across the trunk.

pjsua2 (PyPI) and baresip (Debian) are third-party SIP stacks.
Each registers with digest authentication on its cluster's secure phone port,
presenting a client certificate from the lab's CA. One dials the other's
directory number: the call leaves cluster A over the mutual-TLS trunk and
cluster B rings the registered phone. The nodes run in this process's event
loop; the phones run in subprocesses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
from pathlib import Path

import pytest
from baresip_peer import BaresipAccount, BaresipPhone, baresip_binary
from cryptography.hazmat.primitives import serialization
from pjsua_runner import phone_args, run_pjsua_peer, start_pjsua_peer

from lab_support import example_topology_on_free_ports, free_port, provision_lab
from tlstrunk.callcontrol.node import Node
from tlstrunk.config.enums import DeviceSecurityMode, IncomingTransport
from tlstrunk.config.topology import DigestUserSpec, Topology
from tlstrunk.config.values import DirectoryNumberConfig, PhoneConfig
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.store import CertificateStore

pytestmark = [pytest.mark.interop, pytest.mark.slow, pytest.mark.usefixtures("pjsua2_peer")]

PASSWORD = "phone-secret-1"
#: Loopback addresses of the phones: one per phone, away from the nodes'.
PHONE_ADDRESSES = {
    "1018": "127.0.0.71",
    "9898": "127.0.0.72",
    "1020": "127.0.0.73",
    "1021": "127.0.0.74",
}
USERS = {"1018": "alice", "9898": "bob", "1020": "carol", "1021": "dave"}
#: A phone on plain UDP and TCP, and a directory number served by a virtual phone only.
PLAIN_PHONE = "1021"
VIRTUAL_NUMBER = "1030"


def with_phones(topology: Topology) -> Topology:
    """Give each cluster a secure phone port, a digest user and a SIP phone on its number."""
    clusters = []
    for cluster in topology.clusters:
        number = cluster.directory_numbers[0].number
        numbers = [number] + (["1020", PLAIN_PHONE] if cluster.name == "CUCMA" else [])
        phones = tuple(
            PhoneConfig(
                name=f"SEP{USERS[n].upper()}",
                directory_number=n,
                digest_user=USERS[n],
                device_security_mode=DeviceSecurityMode.ENCRYPTED,
                transport=IncomingTransport.TLS,
            )
            if n != PLAIN_PHONE
            else PhoneConfig(
                name=f"SEP{USERS[n].upper()}", directory_number=n, digest_user=USERS[n]
            )
            for n in numbers
        )
        extra_numbers = tuple(DirectoryNumberConfig(n, no_answer_timeout=2) for n in numbers[1:])
        if cluster.name == "CUCMA":
            extra_numbers += (DirectoryNumberConfig(VIRTUAL_NUMBER),)
        clusters.append(
            dataclasses.replace(
                cluster,
                phone_port=free_port(cluster.address) if cluster.name == "CUCMA" else None,
                phone_secure_port=free_port(cluster.address),
                digest_users=tuple(DigestUserSpec(USERS[n], PASSWORD) for n in numbers),
                phones=phones,
                directory_numbers=(*cluster.directory_numbers, *extra_numbers),
            )
        )
    return dataclasses.replace(topology, clusters=tuple(clusters))


def issue_phone_identity(lab_dir: Path, name: str, address: str) -> tuple[Path, Path]:
    """Have the lab's CA issue a phone certificate; return its chain and key files."""
    ca = CertificateAuthority.open(lab_dir / "ca")
    store = CertificateStore.open(lab_dir / f"phone-{name}")
    store.upload_trust("CallManager-trust", ca.export_root("pem"))
    csr = store.generate_csr("CallManager", common_name=name, ip_addresses=[address])
    issued = ca.issue(ca.submit(csr.pem))
    store.upload_certificate("CallManager", issued.public_bytes(serialization.Encoding.PEM))
    return store.identity_files("CallManager")


class Lab:
    """Two running nodes with phone ports, and the files phones need to join them."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.topology = with_phones(example_topology_on_free_ports())
        self.paths = provision_lab(tmp_path, self.topology)
        self.nodes = {name: Node(paths) for name, paths in self.paths.items()}
        self.clusters = {c.name: c for c in self.topology.clusters}

    async def start(self) -> None:
        for node in self.nodes.values():
            await node.start()

    async def stop(self) -> None:
        for node in self.nodes.values():
            await node.stop()

    def pjsua_phone(
        self, cluster: str, number: str, *action: str, transport: str = "tls"
    ) -> list[str]:
        address = PHONE_ADDRESSES[number]
        target = self.clusters[cluster]
        if transport != "tls":
            assert target.phone_port is not None
            args = phone_args(
                number,
                PASSWORD,
                target.address,
                target.phone_port,
                address,
                *action,
                transport=transport,
            )
            return [*args, "--auth-user", USERS[number], "--timeout", "40"]
        chain, key = issue_phone_identity(self.dir, f"SEP{USERS[number].upper()}", address)
        port = target.phone_secure_port
        assert port is not None
        args = phone_args(
            number,
            PASSWORD,
            target.address,
            port,
            address,
            *action,
            cert=chain,
            key=key,
            ca=self.dir / "ca-root.pem",
        )
        return [*args, "--auth-user", USERS[number], "--timeout", "40"]

    async def wait_registered(self, cluster: str, number: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        node = self.nodes[cluster]
        while time.monotonic() < deadline:
            if any(r["number"] == number for r in node.registrations()):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{number} did not register on {cluster}: {node.registrations()}")


def test_pjsua2_phones_call_across_trunk(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = Lab(tmp_path)
        await lab.start()
        try:
            with start_pjsua_peer(lab.pjsua_phone("CUCM10", "9898", "--answer", "auto")) as callee:
                await lab.wait_registered("CUCM10", "9898")
                caller = await asyncio.to_thread(
                    run_pjsua_peer,
                    lab.pjsua_phone("CUCMA", "1018", "--dial", "9898", "--hold", "1"),
                    60,
                )
                answered = await asyncio.to_thread(callee.wait, 45)
        finally:
            await lab.stop()
        assert caller.ok, caller.describe()
        assert "CONFIRMED" in caller.call_states, caller.describe()
        assert "CONFIRMED" in answered.call_states, answered.describe()
        [registration] = [e for e in answered.named("registration") if e["code"] == 200][:1]
        assert registration["active"] is True
        a_calls = [r for r in lab.nodes["CUCMA"].reports() if r.called == "9898"]
        b_calls = [r for r in lab.nodes["CUCM10"].reports() if r.called == "9898"]
        assert len(a_calls) == 1
        assert len(b_calls) == 1
        outbound, inbound = a_calls[0], b_calls[0]
        assert outbound.direction == "outbound"
        assert outbound.trunk == "CUCM10"
        assert inbound.direction == "inbound"
        for report in (outbound, inbound):
            assert report.answered is not None, report.to_dict()
            assert report.state == "cleared", report.to_dict()
            assert [leg["transport"] for leg in report.legs] == ["TLS", "TLS"]
        assert outbound.calling == "1018"
        assert inbound.legs[1]["label"] == "phone SEPBOB (9898)"

    asyncio.run(scenario())


def test_busy_486_and_no_answer_480(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = Lab(tmp_path)
        await lab.start()
        try:
            with start_pjsua_peer(lab.pjsua_phone("CUCM10", "9898", "--answer", "busy")):
                await lab.wait_registered("CUCM10", "9898")
                busy = await asyncio.to_thread(
                    run_pjsua_peer,
                    lab.pjsua_phone("CUCMA", "1018", "--dial", "9898", "--expect", "486"),
                    60,
                )
            with start_pjsua_peer(lab.pjsua_phone("CUCMA", "1020", "--answer", "ignore")):
                await lab.wait_registered("CUCMA", "1020")
                unanswered = await asyncio.to_thread(
                    run_pjsua_peer,
                    lab.pjsua_phone("CUCMA", "1018", "--dial", "1020", "--expect", "480"),
                    60,
                )
        finally:
            await lab.stop()
        assert busy.ok, busy.describe()
        assert unanswered.ok, unanswered.describe()
        [report] = [r for r in lab.nodes["CUCMA"].reports() if r.called == "1020"]
        assert report.direction == "local"
        assert report.status == 480
        assert "did not answer" in (report.reason or "")

    asyncio.run(scenario())


def test_caller_cancel_reaches_the_ringing_phone(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = Lab(tmp_path)
        await lab.start()
        try:
            with start_pjsua_peer(
                lab.pjsua_phone("CUCM10", "9898", "--answer", "ignore")
            ) as callee:
                await lab.wait_registered("CUCM10", "9898")
                caller = await asyncio.to_thread(
                    run_pjsua_peer,
                    lab.pjsua_phone(
                        "CUCMA",
                        "1018",
                        "--dial",
                        "9898",
                        "--cancel-after",
                        "0.5",
                        "--expect",
                        "487",
                    ),
                    60,
                )
                callee.stop()
                await asyncio.to_thread(callee.wait, 20)
        finally:
            await lab.stop()
        assert caller.ok, caller.describe()
        [outbound] = [r for r in lab.nodes["CUCMA"].reports() if r.called == "9898"]
        assert outbound.state == "cancelled"
        [inbound] = [r for r in lab.nodes["CUCM10"].reports() if r.called == "9898"]
        assert inbound.status == 487, inbound.to_dict()

    asyncio.run(scenario())


def test_wrong_password_does_not_register(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = Lab(tmp_path)
        await lab.start()
        try:
            args = lab.pjsua_phone("CUCMA", "1018", "--answer", "auto")
            args[args.index(PASSWORD)] = "not-the-password"
            args[args.index("--timeout") + 1] = "8"
            run = await asyncio.to_thread(run_pjsua_peer, args, 30)
        finally:
            await lab.stop()
        codes = [e["code"] for e in run.named("registration")]
        assert codes and all(code != 200 for code in codes), run.describe()
        assert 403 in codes, run.describe()
        assert lab.nodes["CUCMA"].registrations() == []

    asyncio.run(scenario())


def baresip_account(lab: Lab, cluster: str, number: str, **options: str) -> BaresipAccount:
    """Return the baresip account of ``number``, with a client certificate from the lab's CA."""
    name = f"SEP{USERS[number].upper()}"
    chain, key = issue_phone_identity(lab.dir, name, PHONE_ADDRESSES[number])
    combined = lab.dir / f"{name}-combined.pem"
    combined.write_bytes(chain.read_bytes() + key.read_bytes())
    target = lab.clusters[cluster]
    assert target.phone_secure_port is not None
    return BaresipAccount(
        user=number,
        password=PASSWORD,
        registrar_address=target.address,
        registrar_port=target.phone_secure_port,
        auth_user=USERS[number],
        certificate=combined,
        ca_file=lab.dir / "ca-root.pem",
        **options,
    )


@pytest.mark.skipif(baresip_binary() is None, reason="baresip is not installed (baresip-core)")
def test_pjsua2_and_baresip_call_across_trunk(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = Lab(tmp_path)
        await lab.start()
        account = baresip_account(lab, "CUCM10", "9898", answer="auto", srtp="optional")
        phone = BaresipPhone(tmp_path / "baresip", account, PHONE_ADDRESSES["9898"])
        try:
            await asyncio.to_thread(phone.start)
            await asyncio.to_thread(phone.wait_registered)
            await lab.wait_registered("CUCM10", "9898")
            to_baresip = await asyncio.to_thread(
                run_pjsua_peer,
                lab.pjsua_phone("CUCMA", "1018", "--dial", "9898", "--hold", "2"),
                60,
            )
            await asyncio.to_thread(phone.wait_for_event, "CALL_CLOSED", 15)
            with start_pjsua_peer(
                lab.pjsua_phone("CUCMA", "1018", "--answer", "auto", "--srtp", "off")
            ) as pjsua:
                await lab.wait_registered("CUCMA", "1018")
                start = len(phone.events)
                await asyncio.to_thread(phone.dial, "1018")
                await asyncio.to_thread(phone.wait_for_event, "CALL_ESTABLISHED", 15, start)
                await asyncio.to_thread(phone.wait_for_event, "CALL_RTCP", 15, start)
                await asyncio.to_thread(phone.hangup)
                await asyncio.to_thread(phone.wait_for_event, "CALL_CLOSED", 15, start)
                from_baresip = await asyncio.to_thread(pjsua.wait, 20)
            detail = phone.describe()
        finally:
            await asyncio.to_thread(phone.stop)
            await lab.stop()
        assert to_baresip.ok, to_baresip.describe() + detail
        assert "CONFIRMED" in to_baresip.call_states, to_baresip.describe()
        assert to_baresip.named("rtp")[-1]["rx_packets"] > 0, to_baresip.describe()
        assert from_baresip.ok, from_baresip.describe() + detail
        assert from_baresip.named("incoming_call")[0]["via_transport"] == "TLS"
        assert from_baresip.named("rtp")[-1]["rx_packets"] > 0, from_baresip.describe()
        assert all(counts[1] > 0 for counts in phone.rtp_packet_counts()), detail
        reports = [r for r in lab.nodes["CUCM10"].reports() if r.state == "cleared"]
        assert {r.direction for r in reports} == {"inbound", "outbound"}
        # Both legs of every hop are TLS under Encrypted modes, so SDES keys may cross them.
        [inbound] = [r for r in reports if r.direction == "inbound"]
        assert inbound.signalling_encrypted

    asyncio.run(scenario())


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_plain_phone_registers_and_reaches_a_virtual_phone(tmp_path: Path, transport: str) -> None:
    async def scenario() -> None:
        lab = Lab(tmp_path)
        await lab.start()
        try:
            args = lab.pjsua_phone(
                "CUCMA",
                PLAIN_PHONE,
                "--dial",
                VIRTUAL_NUMBER,
                "--srtp",
                "off",
                transport=transport,
            )
            run = await asyncio.to_thread(run_pjsua_peer, args, 60)
            refused = await asyncio.to_thread(
                run_pjsua_peer,
                lab.pjsua_phone(
                    "CUCMA",
                    "1018",
                    "--answer",
                    "auto",
                    transport=transport,
                ),
                30,
            )
        finally:
            await lab.stop()
        assert run.ok, run.describe()
        assert run.named("registration")[0]["code"] == 200, run.describe()
        [report] = [r for r in lab.nodes["CUCMA"].reports() if r.called == VIRTUAL_NUMBER]
        assert report.direction == "local"
        assert report.state == "cleared", report.to_dict()
        assert report.legs == [] or report.legs[0]["transport"] == transport.upper()
        # An Encrypted phone may not register over a plain transport.
        codes = [e["code"] for e in refused.named("registration")]
        assert 403 in codes, refused.describe()

    asyncio.run(scenario())


def test_silent_phone_gives_480_after_its_ring_time(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = Lab(tmp_path)
        await lab.start()
        try:
            with start_pjsua_peer(lab.pjsua_phone("CUCMA", "1020", "--answer", "auto")) as callee:
                await lab.wait_registered("CUCMA", "1020")
                # A frozen phone keeps its registration but sends no response.
                os.kill(callee.process.pid, signal.SIGSTOP)
                try:
                    caller = await asyncio.to_thread(
                        run_pjsua_peer,
                        lab.pjsua_phone("CUCMA", "1018", "--dial", "1020", "--expect", "480"),
                        60,
                    )
                finally:
                    os.kill(callee.process.pid, signal.SIGCONT)
                callee.stop()
        finally:
            await lab.stop()
        assert caller.ok, caller.describe()
        [report] = [r for r in lab.nodes["CUCMA"].reports() if r.called == "1020"]
        assert report.status == 480
        assert "did not answer within 2 s" in (report.reason or "")

    asyncio.run(scenario())


def test_srtp_only_offer_to_plain_phone_gets_488(tmp_path: Path) -> None:
    async def scenario() -> None:
        lab = Lab(tmp_path)
        await lab.start()
        try:
            plain = lab.pjsua_phone("CUCMA", PLAIN_PHONE, "--answer", "auto", transport="udp")
            with start_pjsua_peer(plain) as callee:
                await lab.wait_registered("CUCMA", PLAIN_PHONE)
                caller = await asyncio.to_thread(
                    run_pjsua_peer,
                    lab.pjsua_phone(
                        "CUCMA",
                        "1018",
                        "--dial",
                        PLAIN_PHONE,
                        "--srtp",
                        "mandatory",
                        "--expect",
                        "488",
                    ),
                    60,
                )
                callee.stop()
        finally:
            await lab.stop()
        assert caller.ok, caller.describe()
        [report] = [r for r in lab.nodes["CUCMA"].reports() if r.called == PLAIN_PHONE]
        assert report.status == 488
        assert "SRTP only" in (report.reason or "")

    asyncio.run(scenario())
