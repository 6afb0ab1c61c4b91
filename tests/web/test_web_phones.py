"""Phones, digest users and node settings pages, and edits that keep references intact."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
from starlette.testclient import TestClient
from web_helpers import csrf_token

from tlstrunk.config.store import ConfigStore
from tlstrunk.config.values import Destination
from tlstrunk.paths import NodePaths

_ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)
PASSWORD = "phone-secret-1018"


def _post(client: TestClient, url: str, form_url: str, fields: dict[str, str]) -> httpx.Response:
    page = client.get(form_url)
    return client.post(url, data=fields | {"csrf_token": csrf_token(page)}, follow_redirects=False)


def _add(client: TestClient, slug: str, fields: dict[str, str]) -> httpx.Response:
    url = f"/config/{slug}/new"
    return _post(client, url, url, fields)


def _edit(client: TestClient, slug: str, query: str, fields: dict[str, str]) -> httpx.Response:
    url = f"/config/{slug}/edit?{query}"
    return _post(client, url, url, fields)


def _error(page: httpx.Response) -> str:
    found = _ERROR.search(page.text)
    assert found is not None, page.text[:500]
    return html.unescape(found.group(1))


def _store(node_dir: Path) -> ConfigStore:
    return ConfigStore(NodePaths(node_dir).config_db)


def _digest_user(client: TestClient, password: str = PASSWORD) -> httpx.Response:
    return _add(
        client,
        "digest-users",
        {"name": "phone1018", "realm": "", "password": password, "confirm_password": password},
    )


# --- node settings ------------------------------------------------------------------


def test_node_settings_save_realm_and_phone_ports(admin: TestClient, node_dir: Path) -> None:
    answer = _post(
        admin,
        "/node",
        "/node",
        {
            "name": "CUCMA",
            "address": "127.0.8.3",
            "sip_realm": "lab.example",
            "phone_port": "15060",
            "phone_secure_port": "15061",
        },
    )
    assert answer.status_code == 200
    assert "The node settings were saved." in answer.text
    with _store(node_dir) as store:
        node = store.get_node()
    assert node is not None
    assert (node.realm, node.phone_port, node.phone_secure_port) == ("lab.example", 15060, 15061)


def test_node_settings_reject_bad_address(admin: TestClient) -> None:
    answer = _post(admin, "/node", "/node", {"name": "CUCMA", "address": "not an address"})
    assert answer.status_code == 422
    assert "not an address" in _error(answer)


def test_realm_change_names_users_to_reset(admin: TestClient) -> None:
    assert _digest_user(admin).status_code == 303
    answer = _post(
        admin, "/node", "/node", {"name": "CUCMA", "address": "127.0.8.3", "sip_realm": "new"}
    )
    assert "set the passwords of these digest users again: phone1018" in answer.text
    assert "<td>no</td>" in admin.get("/config/digest-users").text


# --- digest users -------------------------------------------------------------------


def test_digest_user_password_is_hashed_and_never_shown(admin: TestClient, node_dir: Path) -> None:
    assert _digest_user(admin).status_code == 303
    with _store(node_dir) as store:
        (user,) = store.list_digest_users()
    assert user.realm == "CUCMA"
    assert user.has_password
    pages = [
        admin.get("/config/digest-users").text,
        admin.get("/config/digest-users/edit?name=phone1018&realm=CUCMA").text,
    ]
    for page in pages:
        assert user.ha1_md5 not in page
        assert user.ha1_sha256 not in page
        assert PASSWORD not in page
    assert "<td>yes</td>" in pages[0]


def test_digest_user_passwords_must_match(admin: TestClient, node_dir: Path) -> None:
    answer = _add(
        admin,
        "digest-users",
        {"name": "phone1018", "password": PASSWORD, "confirm_password": PASSWORD + "x"},
    )
    assert answer.status_code == 422
    assert _error(answer) == "The password and its confirmation differ; type them again."
    with _store(node_dir) as store:
        assert store.list_digest_users() == []


def test_digest_user_short_password_gets_store_message(admin: TestClient) -> None:
    answer = _digest_user(admin, "short")
    assert answer.status_code == 422
    assert _error(answer) == (
        "The password of digest user 'phone1018' has 5 characters; use at least 8."
    )


def test_digest_user_edit_keeps_or_sets_password(admin: TestClient, node_dir: Path) -> None:
    _digest_user(admin)
    with _store(node_dir) as store:
        (before,) = store.list_digest_users()
    query = "name=phone1018&realm=CUCMA"
    fields = {"name": "phone1018", "realm": "CUCMA", "description": "lobby"}
    assert _edit(admin, "digest-users", query, fields).status_code == 303
    with _store(node_dir) as store:
        (kept,) = store.list_digest_users()
    assert (kept.description, kept.ha1_sha256) == ("lobby", before.ha1_sha256)
    new = "another-secret-99"
    answer = _edit(
        admin, "digest-users", query, fields | {"password": new, "confirm_password": new}
    )
    assert answer.status_code == 303
    with _store(node_dir) as store:
        (changed,) = store.list_digest_users()
    assert changed.ha1_sha256 not in ("", before.ha1_sha256)


def test_digest_user_api_hides_secrets(api: TestClient) -> None:
    created = api.post(
        "/api/v1/digest-users",
        json={"name": "phone1018", "password": PASSWORD, "confirm_password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    listed = api.get("/api/v1/digest-users").json()
    assert listed == [
        {"name": "phone1018", "realm": "CUCMA", "description": "", "password_set": True}
    ]
    assert api.delete("/api/v1/digest-users/phone1018?realm=CUCMA").status_code == 204


# --- phones -------------------------------------------------------------------------


def _phone_setup(client: TestClient) -> None:
    assert (
        _add(client, "directory-numbers", {"number": "1018", "answer_mode": "auto"}).status_code
        == 303
    )
    assert _digest_user(client).status_code == 303


def test_phone_add_and_edit_in_place(admin: TestClient, node_dir: Path) -> None:
    _phone_setup(admin)
    fields = {
        "name": "SEP00AABBCCDDEE",
        "directory_number": "1018",
        "digest_user": "phone1018",
        "device_security_mode": "Non Secure",
        "transport": "TCP+UDP",
    }
    assert _add(admin, "phones", fields).status_code == 303
    listing = admin.get("/config/phones").text
    assert "SEP00AABBCCDDEE" in listing
    assert "The node is not running, so no registration is shown." in listing
    answer = _edit(admin, "phones", "name=SEP00AABBCCDDEE", fields | {"description": "desk"})
    assert answer.status_code == 303
    with _store(node_dir) as store:
        phone = store.get_phone("SEP00AABBCCDDEE")
    assert (phone.description, phone.digest_user) == ("desk", "phone1018")


def test_phone_on_missing_number_gets_store_message(admin: TestClient) -> None:
    answer = _add(admin, "phones", {"name": "SEP1", "directory_number": "4444"})
    assert answer.status_code == 422
    assert "directory number 4444 in partition <None>, which does not exist" in _error(answer)


def test_directory_number_with_phone_edits_in_place(admin: TestClient, node_dir: Path) -> None:
    # delete plus add would fail here: the phone refers to the number
    _phone_setup(admin)
    _add(admin, "phones", {"name": "SEP1", "directory_number": "1018"})
    answer = _edit(
        admin,
        "directory-numbers",
        "number=1018&partition=",
        {"number": "1018", "answer_mode": "manual", "no_answer_timeout": "30"},
    )
    assert answer.status_code == 303, _error(answer)
    with _store(node_dir) as store:
        (number,) = store.list_directory_numbers()
    assert (str(number.answer_mode), number.no_answer_timeout) == ("manual", 30)


# --- trunks -------------------------------------------------------------------------


def test_trunk_with_route_pattern_edits_in_place(admin: TestClient, node_dir: Path) -> None:
    _add(
        admin,
        "security-profiles",
        {"name": "Secure", "device_security_mode": "Encrypted", "incoming_transport": "TLS",
         "outgoing_transport": "TLS", "x509_subject_name": "CUCM10", "incoming_port": "5061"},
    )  # fmt: skip
    trunk = {"name": "CUCM10", "security_profile": "Secure", "destinations": "127.0.8.4:5061"}
    assert _add(admin, "trunks", trunk).status_code == 303
    assert _add(admin, "route-patterns", {"pattern": "9898", "trunk": "CUCM10"}).status_code == 303
    changed = trunk | {"destinations": "127.0.8.5:5062", "srtp_allowed": "on"}
    answer = _edit(admin, "trunks", "name=CUCM10", changed)
    assert answer.status_code == 303, _error(answer)
    with _store(node_dir) as store:
        stored = store.get_trunk("CUCM10")
        (route,) = store.list_route_patterns()
    assert stored.destinations == (Destination("127.0.8.5", 5062),)
    assert stored.srtp_allowed
    assert route.trunk == "CUCM10"


def test_renaming_referenced_trunk_gets_store_message(admin: TestClient) -> None:
    _add(admin, "security-profiles", {"name": "Plain"})
    trunk = {"name": "CUCM10", "security_profile": "Plain", "destinations": "127.0.8.4:5060"}
    _add(admin, "trunks", trunk)
    _add(admin, "route-patterns", {"pattern": "9898", "trunk": "CUCM10"})
    answer = _edit(admin, "trunks", "name=CUCM10", trunk | {"name": "CUCM11"})
    assert answer.status_code == 422
    assert "9898" in _error(answer)
