"""The trunk procedure done through the web pages alone, in Debian's chromium via Playwright.

The browser logs in with the one-time password, changes it, uploads the CA
root as CallManager-trust, generates and downloads a CSR, uploads the
certificate the test's CA signed, and creates the security profile, trunk,
route pattern and directory number. The result must equal what the command
line writes for the same values.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from https_server import serve_https
from typer.testing import CliRunner
from web_helpers import NEW_PASSWORD, install_identity, make_ca

from lab_support import free_port
from tlstrunk.admin.cli import app as cli
from tlstrunk.config.store import ConfigStore
from tlstrunk.paths import NodePaths
from tlstrunk.pki.store import CertificateStore
from tlstrunk.web.accounts import Accounts, web_db_path

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.interop

CHROMIUM = Path("/usr/bin/chromium")
ADDRESS = "127.0.8.11"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PROFILE_FORM = {
    "name": "Secure SIP Trunk Profile TLS",
    "device_security_mode": "Encrypted",
    "incoming_transport": "TLS",
    "outgoing_transport": "TLS",
    "x509_subject_name": "CUCM10",
    "incoming_port": "5061",
}
TRUNK_FORM = {
    "name": "CUCM10",
    "security_profile": "Secure SIP Trunk Profile TLS",
    "destinations": "127.0.0.200:5061",
}


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium")
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            ignore_https_errors=True,
            accept_downloads=True,
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def _submit_form(page: Any, url: str, fields: dict[str, str], checks: tuple[str, ...]) -> None:
    page.goto(url)
    for name, value in fields.items():
        field = page.locator(f"#{name}")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    for name in checks:
        page.check(f"#{name}")
    page.click("button[type=submit] >> text=Save")


def _cli_reference(tmp_path: Path) -> Path:
    """Write the same configuration with the command line and return its node directory."""
    node = tmp_path / "cli-node"
    runner = CliRunner()
    commands = [
        ["profile", "add", "--node-dir", str(node), "Secure SIP Trunk Profile TLS",
         "--mode", "Encrypted", "--incoming-transport", "TLS", "--outgoing-transport", "TLS",
         "--x509-subject-name", "CUCM10", "--incoming-port", "5061",
         "--transmit-security-status"],
        ["trunk", "add", "--node-dir", str(node), "CUCM10",
         "--profile", "Secure SIP Trunk Profile TLS", "--destination", "127.0.0.200:5061",
         "--srtp-allowed"],
        ["route", "add", "--node-dir", str(node), "9898", "--trunk", "CUCM10"],
        ["dn", "add", "--node-dir", str(node), "1018"],
    ]  # fmt: skip
    for command in commands:
        result = runner.invoke(cli, command)
        assert result.exit_code == 0, result.output
    return node


def test_trunk_procedure_in_browser(tmp_path: Path, browser_page: Any) -> None:
    node_dir = tmp_path / "node"
    with ConfigStore(NodePaths(node_dir).config_db) as store:
        store.set_node("CUCMA", "127.0.0.203")
    ca = make_ca(tmp_path / "ca")
    install_identity(node_dir, ca, "tomcat", "CUCMA", (ADDRESS,))
    root_file = tmp_path / "root.cer"
    root_file.write_bytes(ca.export_root())
    accounts = Accounts(web_db_path(node_dir))
    one_time = accounts.ensure_admin()
    accounts.close()
    assert one_time is not None
    page = browser_page

    with serve_https(node_dir, ADDRESS, free_port(ADDRESS)) as base:
        # log in and replace the one-time password
        page.goto(f"{base}/")
        page.fill("#username", "admin")
        page.fill("#password", one_time)
        page.click("text=Log in >> nth=-1")
        assert page.url == f"{base}/password"
        page.fill("#current_password", one_time)
        page.fill("#new_password", NEW_PASSWORD)
        page.fill("#confirm_password", NEW_PASSWORD)
        page.click("button[type=submit] >> text=Save")
        assert page.url == f"{base}/"

        # CA root as CallManager-trust
        page.goto(f"{base}/certificates/upload")
        page.select_option("#purpose", "CallManager-trust")
        page.set_input_files("#file", str(root_file))
        page.click("button[type=submit] >> text=Upload")
        assert "Added CN=Web Test CA to CallManager-trust." in page.inner_text("main")

        # CSR, downloaded, signed by the CA, uploaded as CallManager
        page.goto(f"{base}/certificates/csr")
        page.select_option("#purpose", "CallManager")
        page.fill("#common_name", "CUCMA")
        page.click("button[type=submit] >> text=Generate")
        with page.expect_download() as download_info:
            page.click("#download-csr")
        csr_file = tmp_path / "CallManager.csr"
        download_info.value.save_as(str(csr_file))
        serial = ca.issue(ca.submit(csr_file.read_bytes())).serial_number
        signed_file = tmp_path / "CUCMA.cer"
        signed_file.write_bytes(ca.export_certificate(serial))
        page.goto(f"{base}/certificates/upload")
        page.select_option("#purpose", "CallManager")
        page.set_input_files("#file", str(signed_file))
        page.click("button[type=submit] >> text=Upload")
        assert "Installed CN=CUCMA for CallManager" in page.inner_text("main")

        # security profile, trunk, route pattern, directory number
        _submit_form(
            page,
            f"{base}/config/security-profiles/new",
            PROFILE_FORM,
            ("transmit_security_status",),
        )
        assert page.url.startswith(f"{base}/config/security-profiles")
        _submit_form(page, f"{base}/config/trunks/new", TRUNK_FORM, ("srtp_allowed",))
        assert "Unknown - node not running" in page.inner_text("table")
        _submit_form(
            page, f"{base}/config/route-patterns/new", {"pattern": "9898", "trunk": "CUCM10"}, ()
        )
        _submit_form(page, f"{base}/config/directory-numbers/new", {"number": "1018"}, ())
        assert "1018" in page.inner_text("table")

    certificates = CertificateStore.open(NodePaths(node_dir).certs)
    own = certificates.own_certificate("CallManager")
    assert own is not None
    assert own.issuer == ca.root_certificate.subject
    reference = _cli_reference(tmp_path)
    with (
        ConfigStore(NodePaths(node_dir).config_db) as web,
        ConfigStore(NodePaths(reference).config_db) as command_line,
    ):
        assert web.list_security_profiles() == command_line.list_security_profiles()
        assert web.list_trunks() == command_line.list_trunks()
        assert web.list_route_patterns() == command_line.list_route_patterns()
        assert web.list_directory_numbers() == command_line.list_directory_numbers()
