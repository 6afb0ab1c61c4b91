"""Every configuration form shows the command line's validation message for the same input."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner
from web_helpers import csrf_token

from tlstrunk.admin.cli import app as cli
from tlstrunk.config.store import ConfigStore
from tlstrunk.paths import NodePaths

_ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)

#: slug, form fields, the equivalent command line (after "--node-dir DIR").
CASES = [
    (
        "security-profiles",
        {"name": "Secure", "device_security_mode": "Encrypted", "incoming_transport": "TLS",
         "outgoing_transport": "TLS", "incoming_port": "5061"},
        ["profile", "add", "Secure", "--mode", "Encrypted", "--incoming-transport", "TLS",
         "--outgoing-transport", "TLS", "--incoming-port", "5061"],
    ),
    (
        "trunks",
        {"name": "CUCM10", "security_profile": "Missing", "destinations": "127.0.0.200:5061"},
        ["trunk", "add", "CUCM10", "--profile", "Missing", "--destination", "127.0.0.200:5061"],
    ),
    (
        "trunks",
        {"name": "CUCM10", "security_profile": "Missing", "destinations": "127.0.0.200:x"},
        ["trunk", "add", "CUCM10", "--profile", "Missing", "--destination", "127.0.0.200:x"],
    ),
    (
        "route-patterns",
        {"pattern": "98Z8", "trunk": "CUCM10"},
        ["route", "add", "98Z8", "--trunk", "CUCM10"],
    ),
    (
        "route-patterns",
        {"pattern": "9898"},
        ["route", "add", "9898"],
    ),
    (
        "partitions",
        {"name": "<None>"},
        ["partition", "add", "<None>"],
    ),
    (
        "calling-search-spaces",
        {"name": "Phones", "partitions": "Nowhere"},
        ["css", "add", "Phones", "--partition", "Nowhere"],
    ),
    (
        "route-groups",
        {"name": "RG", "trunks": "Nowhere", "distribution": "Top Down"},
        ["routegroup", "add", "RG", "--trunk", "Nowhere"],
    ),
    (
        "route-lists",
        {"name": "RL", "route_groups": "Nowhere"},
        ["routelist", "add", "RL", "--route-group", "Nowhere"],
    ),
    (
        "directory-numbers",
        {"number": "10a8", "answer_mode": "auto"},
        ["dn", "add", "10a8"],
    ),
]  # fmt: skip


def _squash(text: str) -> str:
    return " ".join(text.split())


def _cli_message(tmp_path: Path, args: list[str]) -> str:
    node = tmp_path / "cli-node"
    with ConfigStore(NodePaths(node).config_db) as store:
        store.set_node("CUCMA", "127.0.8.3")
    result = CliRunner().invoke(cli, [args[0], args[1], "--node-dir", str(node), *args[2:]])
    assert result.exit_code != 0, result.output
    return _squash(result.output)


def _form_error(client: TestClient, slug: str, fields: dict[str, str]) -> str:
    page = client.get(f"/config/{slug}/new")
    answer = client.post(f"/config/{slug}/new", data=fields | {"csrf_token": csrf_token(page)})
    assert answer.status_code == 422, answer.text[:300]
    found = _ERROR.search(answer.text)
    assert found is not None
    return _squash(html.unescape(found.group(1)))


@pytest.mark.parametrize(
    ("slug", "fields", "args"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_form_shows_cli_message(
    admin: TestClient, tmp_path: Path, slug: str, fields: dict[str, str], args: list[str]
) -> None:
    message = _form_error(admin, slug, fields)
    assert message
    assert message in _cli_message(tmp_path, args)


def test_form_keeps_typed_values(admin: TestClient) -> None:
    page = admin.get("/config/partitions/new")
    answer = admin.post(
        "/config/partitions/new",
        data={"name": "<None>", "description": "kept", "csrf_token": csrf_token(page)},
    )
    assert 'value="kept"' in answer.text


def test_bad_number_field_message(admin: TestClient) -> None:
    fields = {"name": "P", "incoming_port": "abc"}
    assert _form_error(admin, "security-profiles", fields) == (
        "Incoming Port must be a whole number, not 'abc'."
    )


def test_missing_required_field_message(admin: TestClient) -> None:
    assert _form_error(admin, "partitions", {"description": "x"}) == "Name is missing; fill it in."


def test_find_and_list_filters(admin: TestClient) -> None:
    for name in ("Internal", "External", "Lobby"):
        page = admin.get("/config/partitions/new")
        admin.post("/config/partitions/new", data={"name": name, "csrf_token": csrf_token(page)})
    begins = admin.get("/config/partitions?field=name&op=begins&q=in").text
    contains = admin.get("/config/partitions?field=name&op=contains&q=ern").text
    assert "Internal" in begins
    assert "External" not in begins
    assert "Internal" in contains
    assert "External" in contains
    assert "Lobby" not in contains


def test_edit_replaces_item(admin: TestClient, node_dir: Path) -> None:
    page = admin.get("/config/partitions/new")
    admin.post("/config/partitions/new", data={"name": "Internal", "csrf_token": csrf_token(page)})
    form = admin.get("/config/partitions/edit?name=Internal")
    answer = admin.post(
        "/config/partitions/edit?name=Internal",
        data={"name": "Internal", "description": "phones", "csrf_token": csrf_token(form)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    with ConfigStore(NodePaths(node_dir).config_db) as store:
        assert [p.description for p in store.list_partitions()] == ["phones"]


def test_delete_in_use_shows_message(admin: TestClient) -> None:
    for slug, fields in (
        ("partitions", {"name": "Internal"}),
        ("directory-numbers", {"number": "1018", "partition": "Internal", "answer_mode": "auto"}),
    ):
        page = admin.get(f"/config/{slug}/new")
        admin.post(f"/config/{slug}/new", data=fields | {"csrf_token": csrf_token(page)})
    page = admin.get("/config/partitions")
    answer = admin.post(
        "/config/partitions/delete?name=Internal", data={"csrf_token": csrf_token(page)}
    )
    assert answer.status_code == 422
    assert "Partition &#39;Internal&#39; is still used" in answer.text


def test_csr_form_requires_common_name(admin: TestClient) -> None:
    page = admin.get("/certificates/csr")
    answer = admin.post(
        "/certificates/csr", data={"purpose": "CallManager", "csrf_token": csrf_token(page)}
    )
    assert answer.status_code == 422
    assert "Common name is missing" in answer.text


def test_upload_form_without_file(admin: TestClient) -> None:
    page = admin.get("/certificates/upload")
    answer = admin.post(
        "/certificates/upload",
        data={"purpose": "CallManager", "policy": "modern", "csrf_token": csrf_token(page)},
    )
    assert answer.status_code == 422
    assert "No certificate file was chosen" in answer.text


def test_troubleshooting_without_node(admin: TestClient) -> None:
    page = admin.get("/troubleshooting")
    assert page.status_code == 200
    assert "Cannot reach the node&#39;s control socket" in page.text


def test_ladder_without_call_id(admin: TestClient) -> None:
    answer = admin.get("/troubleshooting/ladder?call_id=")
    assert answer.status_code == 422
    assert "Give the Call-ID of the call to draw" in answer.text


def test_doctor_unknown_trunk(admin: TestClient) -> None:
    answer = admin.get("/troubleshooting/doctor?trunk=Nowhere")
    assert answer.status_code == 422
    assert "Nowhere" in answer.text


def test_trace_download(admin: TestClient, node_dir: Path) -> None:
    trace = NodePaths(node_dir).trace_text
    trace.parent.mkdir(parents=True)
    trace.write_text("12:00:00.000 |SIPHandler| INVITE\n")
    answer = admin.get(f"/troubleshooting/files/{trace.name}")
    assert answer.status_code == 200
    assert answer.text == "12:00:00.000 |SIPHandler| INVITE\n"
    assert admin.get("/troubleshooting/files/config.db").status_code == 404
