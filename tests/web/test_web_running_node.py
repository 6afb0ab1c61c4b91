"""Troubleshooting and phone pages of a running node: calls, ladder, doctor, registrations.

Two nodes (127.0.8.81 and 127.0.8.82) are provisioned with the store's own
operations and a CA made in the test, run as ``tlstrunk node run`` processes
for the whole module, and joined by real calls over their TLS trunk.
"""

from __future__ import annotations

import html
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from node_processes import place_call, running_nodes
from starlette.testclient import TestClient
from web_helpers import make_ca

from lab_support import free_port
from tlstrunk.config.enums import DeviceSecurityMode, IncomingTransport, Transport
from tlstrunk.config.store import ConfigStore
from tlstrunk.config.values import (
    Destination,
    NodeConfig,
    PhoneConfig,
    SecurityProfileConfig,
    TrunkSpec,
)
from tlstrunk.paths import NodePaths
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.store import CertificateStore

pytestmark = pytest.mark.slow

A, B = "127.0.8.81", "127.0.8.82"
PROFILE = "Secure SIP Trunk Profile TLS"
PHONE_NUMBER = "2000"
#: Seconds a test waits for something the running node does in the background.
WAIT = 30.0


def _provision(
    node_dir: Path, name: str, address: str, ports: dict[str, int], peer: tuple[str, str, str]
) -> None:
    peer_name, peer_address, peer_number = peer
    ca = CertificateAuthority.open(node_dir.parent / "ca")
    certificates = CertificateStore.open(NodePaths(node_dir).certs)
    certificates.upload_trust("CallManager-trust", ca.export_root())
    csr = certificates.generate_csr("CallManager", common_name=name, ip_addresses=(address,))
    certificates.upload_certificate(
        "CallManager", ca.export_certificate(ca.issue(ca.submit(csr.pem)).serial_number)
    )
    with ConfigStore(NodePaths(node_dir).config_db) as store:
        store.save_node(NodeConfig(name, address, phone_port=free_port(address)))
        store.add_security_profile(
            SecurityProfileConfig(
                PROFILE,
                device_security_mode=DeviceSecurityMode.ENCRYPTED,
                incoming_transport=IncomingTransport.TLS,
                outgoing_transport=Transport.TLS,
                x509_subject_name=peer_name,
                incoming_port=ports[address],
            )
        )
        store.add_trunk(
            TrunkSpec(
                peer_name,
                PROFILE,
                (Destination(peer_address, ports[peer_address]),),
                srtp_allowed=True,
            )
        )
        store.add_route_pattern(peer_number, peer_name)
        own_number = "1018" if name == "CUCMA" else "9898"
        store.add_directory_number(own_number)
        # the phone has its own line: a line with a phone rings the phone, not the virtual one
        store.add_directory_number(PHONE_NUMBER)
        store.add_phone(PhoneConfig("SEP00AABBCCDDEE", PHONE_NUMBER))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("running")
    make_ca(root / "ca")
    ports = {A: free_port(A), B: free_port(B)}
    node_a, node_b = root / "CUCMA", root / "CUCM10"
    _provision(node_a, "CUCMA", A, ports, ("CUCM10", B, "9898"))
    _provision(node_b, "CUCM10", B, ports, ("CUCMA", A, "1018"))
    with running_nodes(node_a, node_b):
        yield node_a, node_b


@pytest.fixture
def node_dir(pair: tuple[Path, Path]) -> Path:
    """Node CUCMA, with a fresh admin account for each test."""
    web_db = pair[0] / "web.db"
    web_db.unlink(missing_ok=True)
    return pair[0]


def _wait_for(admin: TestClient, url: str, text: str) -> str:
    deadline = time.monotonic() + WAIT
    while True:
        page = html.unescape(admin.get(url).text)
        if text in page or time.monotonic() > deadline:
            return page
        time.sleep(0.2)


def test_active_call_then_recent_call(admin: TestClient, node_dir: Path) -> None:
    reports: list[dict[str, Any]] = []
    caller = threading.Thread(
        target=lambda: reports.append(place_call(node_dir, "1018", "9898", 4))
    )
    caller.start()
    try:
        page = _wait_for(admin, "/troubleshooting", "<td>9898</td>")
        active = page.split("<h2>", 3)[1]
        assert "<td>1018</td><td>9898</td><td>CUCM10</td>" in active, active
    finally:
        caller.join()
    (report,) = reports
    assert report["state"] == "cleared", report
    page = _wait_for(admin, "/troubleshooting", report["call_id"])
    recent = page.split("<h2>", 3)[2]
    assert report["call_id"] in recent
    assert "<td>1018</td><td>9898</td><td>CUCM10</td>" in recent


def test_ladder_of_real_call(admin: TestClient, node_dir: Path) -> None:
    report = place_call(node_dir, "1018", "9898")
    assert report["state"] == "cleared", report
    answer = admin.get("/troubleshooting/ladder", params={"call_id": report["call_id"]})
    assert answer.status_code == 200
    for step in ("INVITE", "200 OK", "ACK", "BYE"):
        assert step in answer.text


def test_doctor_of_real_trunk(admin: TestClient, node_dir: Path) -> None:
    answer = admin.get("/troubleshooting/doctor?trunk=CUCM10")
    assert answer.status_code == 200
    verdicts = answer.text.count('class="verdict-pass"')
    assert verdicts >= 3, answer.text
    assert 'class="verdict-fail"' not in answer.text


def test_trunk_list_shows_live_status(admin: TestClient, node_dir: Path) -> None:
    page = admin.get("/config/trunks").text
    assert '<td class="status">Unknown - OPTIONS Ping not enabled</td>' in page


def _register(address: str, port: int, number: str) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind((address, 0))
        phone.settimeout(WAIT)
        own = phone.getsockname()[1]
        request = (
            f"REGISTER sip:{address}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {address}:{own};branch=z9hG4bK-web-reg\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:{number}@{address}>;tag=web1\r\nTo: <sip:{number}@{address}>\r\n"
            "Call-ID: web-registration-1\r\nCSeq: 1 REGISTER\r\n"
            f"Contact: <sip:{number}@{address}:{own}>\r\nExpires: 600\r\n"
            "User-Agent: web-test-phone\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        phone.sendto(request, (address, port))
        answer, _sender = phone.recvfrom(65535)
        return answer


def test_phone_list_shows_live_registration(admin: TestClient, node_dir: Path) -> None:
    with ConfigStore(NodePaths(node_dir).config_db) as store:
        node = store.get_node()
    assert node is not None and node.phone_port is not None
    answer = _register(A, node.phone_port, PHONE_NUMBER)
    assert answer.startswith(b"SIP/2.0 200"), answer
    page = admin.get("/config/phones").text
    assert 'id="registrations"' in page
    assert "web-test-phone" in page
    assert f"<td>{PHONE_NUMBER}</td><td>SEP00AABBCCDDEE</td>" in page
