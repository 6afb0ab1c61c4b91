"""Login, logout and password change pages.

The login form has no session yet, so its CSRF token is a double-submit
cookie: a random value in a SameSite=Strict cookie that the form must repeat.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from tlstrunk.web.accounts import AuthError, SessionInfo
from tlstrunk.web.language import _
from tlstrunk.web.state import COOKIE_NAME, ApiAuthError, check_csrf, page_session, web_state

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "tlstrunk_login_csrf"


def _set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, secure=True, httponly=True, samesite="strict", path="/"
    )


def _login_page(request: Request, error: str = "", status: int = 200) -> Any:
    token = secrets.token_urlsafe(32)
    response = web_state(request).render(
        request, "login.html", {"error": error, "login_csrf": token}, status
    )
    _set_cookie(response, LOGIN_CSRF_COOKIE, token)
    return response


@router.get("/login")
def login_form(request: Request) -> Any:
    return _login_page(request)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Any:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        raise ApiAuthError(
            403,
            "csrf_rejected",
            _("The login form's security token is missing or stale; reload the page."),
        )
    state = web_state(request)
    try:
        state.accounts.authenticate(username, password)
    except AuthError as exc:
        logger.info("failed web login for user %r", username)
        return _login_page(request, str(exc), 401)
    session_id = state.accounts.open_session(username)
    logger.info("web user %s logged in", username)
    response = RedirectResponse("/", status_code=303)
    # a browser-session cookie: the server ends the session after SESSION_IDLE_SECONDS idle
    _set_cookie(response, COOKIE_NAME, session_id)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(
    request: Request,
    session: Annotated[SessionInfo, Depends(page_session)],
    csrf_token: Annotated[str, Form()] = "",
) -> Any:
    check_csrf(session, csrf_token)
    web_state(request).accounts.close_session(request.cookies.get(COOKIE_NAME, ""))
    logger.info("web user %s logged out", session.user)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/password")
def password_form(request: Request, session: Annotated[SessionInfo, Depends(page_session)]) -> Any:
    return web_state(request).render(request, "password.html", {"error": ""})


@router.post("/password")
def change_password(
    request: Request,
    session: Annotated[SessionInfo, Depends(page_session)],
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Any:
    check_csrf(session, csrf_token)
    state = web_state(request)
    if new_password != confirm_password:
        error = _("The new password and its confirmation differ; type them again.")
        return state.render(request, "password.html", {"error": error}, 400)
    try:
        state.accounts.change_password(session.user, current_password, new_password)
    except AuthError as exc:
        return state.render(request, "password.html", {"error": str(exc)}, 400)
    return RedirectResponse("/", status_code=303)
