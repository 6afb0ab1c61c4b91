"""A node directory without a node row: the home page asks for the name and address first."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient
from web_helpers import csrf_token

from tlstrunk.config.store import ConfigStore
from tlstrunk.paths import NodePaths


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    """An empty node directory, as ``tlstrunk web run`` meets it on a fresh install."""
    root = tmp_path / "empty-node"
    root.mkdir()
    return root


def test_first_start_asks_for_name_and_address(admin: TestClient, node_dir: Path) -> None:
    home = admin.get("/", follow_redirects=False)
    assert home.status_code == 303
    assert home.headers["location"] == "/node"
    form = admin.get("/node")
    assert 'id="first-start"' in form.text
    answer = admin.post(
        "/node",
        data={"name": "CUCM10", "address": "127.0.8.72", "csrf_token": csrf_token(form)},
    )
    assert answer.status_code == 200
    assert "Next, upload the CA root as CallManager-trust" in answer.text
    with ConfigStore(NodePaths(node_dir).config_db) as store:
        node = store.get_node()
    assert node is not None
    assert (node.name, node.address) == ("CUCM10", "127.0.8.72")
    assert admin.get("/").status_code == 200
