"""The whole procedure for two nodes through their web pages alone, then a secure call.

Each node directory starts empty; its web server makes itself a self-signed
tomcat certificate, as `tlstrunk web run --self-signed` does, the way a call
manager starts out at install. Through that node's own pages, in
Debian's chromium, the test logs in, replaces the one-time password, sets the
node's name and address, uploads the CA root as CallManager-trust, generates
and downloads the CallManager CSR, has the test's CA sign it (the CA is
outside the product), uploads the certificate, and adds the secure profile,
the trunk to the other node, a route pattern and a directory number. The two
nodes then run as processes, a call crosses the trunk with TLS and SRTP, and
the trunk page shows the trunk's status from the running node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import chromium_page
from https_server import serve_https
from node_processes import place_call, running_nodes
from web_helpers import NEW_PASSWORD, make_ca

from lab_support import free_port
from tlstrunk.admin.web_cmd import _ensure_tomcat_certificate
from tlstrunk.callcontrol.b2bua import PING_NOT_ENABLED
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.web.accounts import Accounts, web_db_path

pytestmark = [pytest.mark.interop, pytest.mark.slow]

PROFILE = "Secure SIP Trunk Profile TLS"


class Node:
    """One node of the test: its name, address, SIP TLS port and directory number."""

    def __init__(self, root: Path, name: str, address: str, number: str) -> None:
        self.dir = root / name
        self.name = name
        self.address = address
        self.number = number
        self.port = free_port(address)


def _fill(page: Any, fields: dict[str, str]) -> None:
    for name, value in fields.items():
        field = page.locator(f"#{name}")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def _save(page: Any, url: str, fields: dict[str, str], checks: tuple[str, ...] = ()) -> None:
    page.goto(url)
    _fill(page, fields)
    for name in checks:
        page.check(f"#{name}")
    page.click("button[type=submit] >> text=Save")
    assert page.locator("p.error").count() == 0, page.inner_text("main")


def _log_in(page: Any, base: str, one_time: str) -> None:
    page.goto(f"{base}/")
    page.fill("#username", "admin")
    page.fill("#password", one_time)
    page.click("text=Log in >> nth=-1")
    assert page.url == f"{base}/password"
    _fill(
        page,
        {
            "current_password": one_time,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    page.click("button[type=submit] >> text=Save")
    # a node directory without a node row starts on the node settings page
    assert page.url == f"{base}/node"
    assert page.locator("#first-start").count() == 1


def _certificates(page: Any, base: str, node: Node, ca: CertificateAuthority, work: Path) -> None:
    root_file = work / "root.cer"
    root_file.write_bytes(ca.export_root())
    page.goto(f"{base}/certificates/upload")
    page.select_option("#purpose", "CallManager-trust")
    page.set_input_files("#file", str(root_file))
    page.click("button[type=submit] >> text=Upload")
    assert "to CallManager-trust." in page.inner_text("main")

    page.goto(f"{base}/certificates/csr")
    _fill(page, {"purpose": "CallManager", "common_name": node.name, "ip_addresses": node.address})
    page.click("button[type=submit] >> text=Generate")
    with page.expect_download() as download_info:
        page.click("#download-csr")
    csr_file = work / f"{node.name}.csr"
    download_info.value.save_as(str(csr_file))
    serial = ca.issue(ca.submit(csr_file.read_bytes())).serial_number
    signed_file = work / f"{node.name}.cer"
    signed_file.write_bytes(ca.export_certificate(serial))

    page.goto(f"{base}/certificates/upload")
    page.select_option("#purpose", "CallManager")
    page.set_input_files("#file", str(signed_file))
    page.click("button[type=submit] >> text=Upload")
    assert f"Installed CN={node.name} for CallManager" in page.inner_text("main")


def _configure(page: Any, base: str, node: Node, peer: Node) -> None:
    _save(
        page,
        f"{base}/config/security-profiles/new",
        {
            "name": PROFILE,
            "device_security_mode": "Encrypted",
            "incoming_transport": "TLS",
            "outgoing_transport": "TLS",
            "x509_subject_name": peer.name,
            "incoming_port": str(node.port),
        },
        ("transmit_security_status",),
    )
    _save(
        page,
        f"{base}/config/trunks/new",
        {
            "name": peer.name,
            "security_profile": PROFILE,
            "destinations": f"{peer.address}:{peer.port}",
        },
        ("srtp_allowed",),
    )
    _save(page, f"{base}/config/route-patterns/new", {"pattern": peer.number, "trunk": peer.name})
    _save(page, f"{base}/config/directory-numbers/new", {"number": node.number})


def _provision_through_pages(
    page: Any, node: Node, peer: Node, ca: CertificateAuthority, work: Path
) -> None:
    _ensure_tomcat_certificate(node.dir, node.address, None)
    accounts = Accounts(web_db_path(node.dir))
    one_time = accounts.ensure_admin()
    accounts.close()
    assert one_time is not None
    with serve_https(node.dir, node.address, free_port(node.address)) as base:
        page.context.clear_cookies()
        _log_in(page, base, one_time)
        _save(page, f"{base}/node", {"name": node.name, "address": node.address})
        _certificates(page, base, node, ca, work)
        _configure(page, base, node, peer)


def test_two_nodes_configured_in_browser_call_securely(tmp_path: Path) -> None:
    a = Node(tmp_path, "CUCMA", "127.0.8.71", "1018")
    b = Node(tmp_path, "CUCM10", "127.0.8.72", "9898")
    ca = make_ca(tmp_path / "ca")
    with chromium_page(tmp_path / "chromium-profile") as page:
        _provision_through_pages(page, a, b, ca, tmp_path)
        _provision_through_pages(page, b, a, ca, tmp_path)

        with running_nodes(a.dir, b.dir):
            report = place_call(a.dir, a.number, b.number)
            assert report["state"] == "cleared", report
            assert report["trunk"] == "CUCM10"
            assert report["signalling_encrypted"] is True
            assert report["srtp_suite"], report
            assert report["secure"] is True
            assert report["peer_certificate"]["subject"] == "/CN=CUCM10"

            with serve_https(a.dir, a.address, free_port(a.address)) as base:
                page.goto(f"{base}/config/trunks")
                if page.url.endswith("/login"):
                    page.fill("#username", "admin")
                    page.fill("#password", NEW_PASSWORD)
                    page.click("text=Log in >> nth=-1")
                    page.goto(f"{base}/config/trunks")
                assert page.inner_text("td.status") == PING_NOT_ENABLED
