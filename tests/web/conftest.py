"""Fixtures of the web tests: a node directory, the app with a settable clock, clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from web_helpers import FakeClock, login_and_change_password

from tlstrunk.config.store import ConfigStore
from tlstrunk.paths import NodePaths
from tlstrunk.web.accounts import Accounts, web_db_path
from tlstrunk.web.app import create_app


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    root = tmp_path / "node"
    with ConfigStore(NodePaths(root).config_db) as store:
        store.set_node("CUCMA", "127.0.8.3")
    return root


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def one_time_password(node_dir: Path) -> str:
    accounts = Accounts(web_db_path(node_dir))
    password = accounts.ensure_admin()
    accounts.close()
    assert password is not None
    return password


@pytest.fixture
def client(node_dir: Path, clock: FakeClock, one_time_password: str) -> Iterator[TestClient]:
    """A browser-like client that has not logged in yet."""
    app = create_app(node_dir, clock=clock)
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient, one_time_password: str) -> TestClient:
    """The client, logged in as admin with the one-time password already changed."""
    login_and_change_password(client, one_time_password)
    return client


@pytest.fixture
def api(node_dir: Path, client: TestClient) -> TestClient:
    """A client that sends a valid bearer token and no cookies."""
    accounts = Accounts(web_db_path(node_dir))
    token = accounts.create_token("tests")
    accounts.close()
    client.headers["Authorization"] = f"Bearer {token}"
    return client
