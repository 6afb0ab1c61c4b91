"""Login, lockout, forced password change, CSRF, session expiry and bearer tokens."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient
from web_helpers import NEW_PASSWORD, FakeClock, csrf_token, login

from tlstrunk.web.accounts import (
    LOCKOUT_SECONDS,
    MAX_FAILED_LOGINS,
    SESSION_IDLE_SECONDS,
    Accounts,
    web_db_path,
)


def test_pages_redirect_to_login(client: TestClient) -> None:
    answer = client.get("/config/trunks", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"


def test_login_sets_strict_session_cookie(client: TestClient, one_time_password: str) -> None:
    answer = login(client, one_time_password)
    cookie = answer.headers["set-cookie"]
    assert answer.status_code == 303
    assert "tlstrunk_session=" in cookie
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=strict" in cookie


def test_wrong_password_rejected(client: TestClient) -> None:
    answer = login(client, "not the password")
    assert answer.status_code == 401
    assert "Invalid user name or password." in answer.text


def test_first_login_forces_password_change(client: TestClient, one_time_password: str) -> None:
    login(client, one_time_password)
    answer = client.get("/certificates", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/password"


def test_short_new_password_rejected(client: TestClient, one_time_password: str) -> None:
    login(client, one_time_password)
    page = client.get("/password")
    answer = client.post(
        "/password",
        data={
            "current_password": one_time_password,
            "new_password": "short",
            "confirm_password": "short",
            "csrf_token": csrf_token(page),
        },
    )
    assert answer.status_code == 400
    assert "The new password has 5 characters; use at least 12." in answer.text


def test_changed_password_opens_pages(admin: TestClient) -> None:
    assert admin.get("/certificates").status_code == 200


def test_lockout_after_five_failures(client: TestClient, clock: FakeClock, node_dir: Path) -> None:
    accounts = Accounts(web_db_path(node_dir), clock)
    for _attempt in range(MAX_FAILED_LOGINS):
        assert login(client, "wrong password").status_code == 401
    answer = login(client, "still wrong")
    assert "User admin is locked after 5 failed logins; try again in 5 minutes." in answer.text
    accounts.close()


def test_lockout_rejects_right_password(client: TestClient, one_time_password: str) -> None:
    for _attempt in range(MAX_FAILED_LOGINS):
        login(client, "wrong password")
    answer = login(client, one_time_password)
    assert answer.status_code == 401
    assert "locked" in answer.text


def test_lockout_ends_after_five_minutes(
    client: TestClient, clock: FakeClock, one_time_password: str
) -> None:
    for _attempt in range(MAX_FAILED_LOGINS):
        login(client, "wrong password")
    clock.now += LOCKOUT_SECONDS - 1
    assert login(client, one_time_password).status_code == 401
    clock.now += 1
    assert login(client, one_time_password).status_code == 303


def test_login_without_csrf_token_rejected(client: TestClient, one_time_password: str) -> None:
    client.get("/login")
    answer = client.post(
        "/login", data={"username": "admin", "password": one_time_password, "csrf_token": "x"}
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "csrf_rejected"


def test_form_without_csrf_token_rejected(admin: TestClient) -> None:
    answer = admin.post("/config/partitions/new", data={"name": "Internal"})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "csrf_rejected"
    assert "security token is missing or stale" in answer.json()["error"]["message"]


def test_form_with_wrong_csrf_token_rejected(admin: TestClient) -> None:
    answer = admin.post("/config/partitions/new", data={"name": "Internal", "csrf_token": "forged"})
    assert answer.status_code == 403


def test_session_expires_when_idle(admin: TestClient, clock: FakeClock) -> None:
    clock.now += SESSION_IDLE_SECONDS - 1
    assert admin.get("/certificates", follow_redirects=False).status_code == 200
    clock.now += SESSION_IDLE_SECONDS
    answer = admin.get("/certificates", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"


def test_logout_ends_session(admin: TestClient) -> None:
    page = admin.get("/")
    answer = admin.post("/logout", data={"csrf_token": csrf_token(page)}, follow_redirects=False)
    assert answer.status_code == 303
    assert admin.get("/", follow_redirects=False).headers["location"] == "/login"


def test_new_password_works_after_logout(admin: TestClient) -> None:
    page = admin.get("/")
    admin.post("/logout", data={"csrf_token": csrf_token(page)})
    assert login(admin, NEW_PASSWORD).status_code == 303


def test_api_without_token_rejected(client: TestClient) -> None:
    answer = client.get("/api/v1/trunks")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_api_with_unknown_token_rejected(client: TestClient) -> None:
    answer = client.get("/api/v1/trunks", headers={"Authorization": "Bearer nonsense"})
    assert answer.status_code == 401
    assert "unknown" in answer.json()["error"]["message"]


def test_api_session_cookie_not_enough(admin: TestClient) -> None:
    assert admin.get("/api/v1/trunks").status_code == 401


def test_api_with_token_accepted(api: TestClient) -> None:
    answer = api.get("/api/v1/trunks")
    assert answer.status_code == 200
    assert answer.json() == []


def test_deleted_token_rejected(api: TestClient, node_dir: Path) -> None:
    accounts = Accounts(web_db_path(node_dir))
    accounts.delete_token("tests")
    accounts.close()
    assert api.get("/api/v1/trunks").status_code == 401


def test_token_stored_hashed(node_dir: Path) -> None:
    accounts = Accounts(web_db_path(node_dir))
    token = accounts.create_token("probe")
    accounts.close()
    assert token.encode() not in web_db_path(node_dir).read_bytes()


def test_admin_created_once(node_dir: Path, one_time_password: str) -> None:
    accounts = Accounts(web_db_path(node_dir))
    assert accounts.ensure_admin() is None
    accounts.close()
