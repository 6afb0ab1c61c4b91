"""Per-application state of the admin web server, and the checks every request passes.

Browser pages use a server-side session: the cookie carries a random id
(Secure, HttpOnly, SameSite=Strict) and the session row contains the CSRF token
that every form must send back. The REST API uses bearer tokens instead.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from tlstrunk.config.store import ConfigStore
from tlstrunk.paths import NodePaths
from tlstrunk.pki.store import CertificateStore
from tlstrunk.web.accounts import Accounts, Clock, SessionInfo
from tlstrunk.web.language import _

__all__ = [
    "COOKIE_NAME",
    "ApiAuthError",
    "LoginRequired",
    "PasswordChangeRequired",
    "WebState",
    "check_csrf",
    "page_session",
    "require_token",
    "web_state",
]

logger = logging.getLogger(__name__)

COOKIE_NAME = "tlstrunk_session"
TEMPLATES = Path(__file__).parent / "templates"


class LoginRequired(Exception):
    """The request has no live session; the page handler redirects to the login page."""


class PasswordChangeRequired(Exception):
    """The user still has the one-time password; the page handler redirects to /password."""


class ApiAuthError(Exception):
    """An API request lacks a valid bearer token or a form lacks its CSRF token."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class WebState:
    """Shared state of the request handlers: the node's files, accounts and templates."""

    paths: NodePaths
    accounts: Accounts
    templates: Jinja2Templates
    clock: Clock = time.time
    #: Passphrase of the node's private keys, when the certificate store has one.
    store_passphrase: bytes | None = None

    @contextmanager
    def config(self) -> Iterator[ConfigStore]:
        """Open the node's configuration store for one request."""
        store = ConfigStore(self.paths.config_db)
        try:
            yield store
        finally:
            store.close()

    def certificates(self) -> CertificateStore:
        return CertificateStore.open(self.paths.certs, passphrase=self.store_passphrase)

    def render(
        self, request: Request, template: str, context: dict[str, Any], status: int = 200
    ) -> Any:
        session = getattr(request.state, "session", None)
        context = {"session": session, "csrf_token": session.csrf_token if session else ""} | (
            context
        )
        return self.templates.TemplateResponse(request, template, context, status_code=status)


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def page_session(request: Request) -> SessionInfo:
    """Return the request's session; raise when there is none or the password must change."""
    state = web_state(request)
    session_id = request.cookies.get(COOKIE_NAME)
    session = state.accounts.session(session_id) if session_id else None
    if session is None:
        raise LoginRequired()
    request.state.session = session
    if session.must_change_password and request.url.path != "/password":
        raise PasswordChangeRequired()
    return session


def check_csrf(session: SessionInfo, submitted: object) -> None:
    """Raise ``ApiAuthError`` 403 unless ``submitted`` equals the session's CSRF token."""
    if not isinstance(submitted, str) or not hmac.compare_digest(
        submitted.encode(), session.csrf_token.encode()
    ):
        logger.warning("rejected a form of user %s without a valid CSRF token", session.user)
        raise ApiAuthError(
            403,
            "csrf_rejected",
            _("The form's security token is missing or stale; reload the page and submit again."),
        )


def require_token(request: Request) -> str:
    """Return the name of the request's API token; raise ``ApiAuthError`` 401 without one."""
    header = request.headers.get("authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.casefold() != "bearer" or not token.strip():
        raise ApiAuthError(
            401,
            "unauthorized",
            _(
                "The request has no bearer token; create one with 'tlstrunk web token create "
                "--node-dir DIR NAME' and send 'Authorization: Bearer TOKEN'."
            ),
        )
    name = web_state(request).accounts.token_name(token.strip())
    if name is None:
        raise ApiAuthError(
            401, "unauthorized", _("The bearer token is unknown or was deleted; create a new one.")
        )
    return name
