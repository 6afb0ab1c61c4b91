"""Helpers for the web tests: a settable clock, logins, CSRF tokens and certificates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.testclient import TestClient

from tlstrunk.paths import NodePaths
from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.store import CertificateStore
from tlstrunk.web.accounts import ADMIN_USER

NEW_PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class FakeClock:
    """A clock the test moves by hand, in seconds since the epoch."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def csrf_token(page: httpx.Response) -> str:
    """Return the first CSRF token of an HTML page."""
    found = _CSRF.search(page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def login(client: TestClient, password: str, user: str = ADMIN_USER) -> httpx.Response:
    """Log in through the login form and return the response, without following redirects."""
    token = csrf_token(client.get("/login"))
    return client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def login_and_change_password(client: TestClient, one_time: str) -> None:
    """Log in with the one-time password and replace it with :data:`NEW_PASSWORD`."""
    assert login(client, one_time).status_code == 303
    page = client.get("/password")
    answer = client.post(
        "/password",
        data={
            "current_password": one_time,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
            "csrf_token": csrf_token(page),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def make_ca(directory: Path) -> CertificateAuthority:
    return CertificateAuthority.create(directory, common_name="Web Test CA", days=365)


def install_identity(
    node_dir: Path,
    ca: CertificateAuthority,
    purpose: str,
    common_name: str,
    ip_addresses: tuple[str, ...] = (),
) -> None:
    """Give the node a CA-signed certificate for ``purpose`` through the store's own steps."""
    store = CertificateStore.open(NodePaths(node_dir).certs)
    trust = {"CallManager": "CallManager-trust", "tomcat": "tomcat-trust"}[purpose]
    store.upload_trust(trust, ca.export_root())
    csr = store.generate_csr(purpose, common_name=common_name, ip_addresses=ip_addresses)
    serial = ca.issue(ca.submit(csr.pem)).serial_number
    store.upload_certificate(purpose, ca.export_certificate(serial))
