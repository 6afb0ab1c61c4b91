"""The admin web application: pages, REST API, and the mapping of errors to responses.

Errors are mapped to responses at this one boundary. API requests get a JSON
body with a stable code and the command line's message. Page requests get the
message on an HTML page, and a request without a session goes to the login page.

Each request is answered in its own language (see :mod:`tlstrunk.web.language`):
the templates get the request's gettext through Jinja2's i18n extension.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from tlstrunk import __version__
from tlstrunk.config.errors import ConfigError, ConfigNotFoundError
from tlstrunk.control_client import ControlError
from tlstrunk.paths import NodePaths
from tlstrunk.pki.errors import CertificateUploadError, PkiError
from tlstrunk.web import api, auth_pages, cert_pages, config_pages, node_pages, troubleshoot
from tlstrunk.web.accounts import Accounts, Clock, web_db_path
from tlstrunk.web.entities import ENTITIES
from tlstrunk.web.fields import InputError, label
from tlstrunk.web.language import (
    LANGUAGE_NAMES,
    LanguageMiddleware,
    _,
    ngettext,
    request_language,
)
from tlstrunk.web.limits import BodyLimitMiddleware
from tlstrunk.web.state import (
    TEMPLATES,
    ApiAuthError,
    LoginRequired,
    PasswordChangeRequired,
    WebState,
    page_session,
    web_state,
)

__all__ = ["ERROR_CODES", "create_app"]

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

#: API error codes and their HTTP status.
ERROR_CODES: dict[str, int] = {
    "unauthorized": 401,
    "csrf_rejected": 403,
    "not_found": 404,
    "invalid_input": 422,
    "invalid_config": 422,
    "certificate_rejected": 422,
    "certificate_error": 422,
    "node_unreachable": 503,
}


def _error_code(exc: Exception) -> str:
    if isinstance(exc, InputError):
        return "invalid_input"
    if isinstance(exc, ConfigNotFoundError):
        return "not_found"
    if isinstance(exc, ConfigError):
        return "invalid_config"
    if isinstance(exc, CertificateUploadError):
        return "certificate_rejected"
    if isinstance(exc, ControlError):
        return "node_unreachable"
    return "certificate_error"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _json_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _handle_error(request: Request, exc: Exception) -> Response:
    code = _error_code(exc)
    status = ERROR_CODES[code]
    logger.info("%s %s rejected (%s): %s", request.method, request.url.path, code, exc)
    if _is_api(request):
        return _json_error(status, code, str(exc))
    page: Response = web_state(request).render(
        request, "message.html", {"title": _("Error"), "error": str(exc)}, status
    )
    return page


async def _handle_auth(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiAuthError)
    # pages get JSON too: a rejected token or form means a broken client, not a typo
    return _json_error(exc.status, exc.code, str(exc))


async def _handle_login(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/login", status_code=303)


async def _handle_password(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/password", status_code=303)


async def _handle_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = _("Invalid request at {where}: {problem}.").format(
        where=where or _("body"), problem=first.get("msg", "")
    )
    return _json_error(422, "invalid_input", message)


def create_app(
    node_dir: Path, *, clock: Clock = time.time, store_passphrase: bytes | None = None
) -> FastAPI:
    """Build the web application for the node in ``node_dir``."""
    paths = NodePaths(node_dir)
    app = FastAPI(
        title="tlstrunk admin",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.add_extension("jinja2.ext.i18n")
    # the callables read the request's language on every call, so one environment serves all
    templates.env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_, ngettext=ngettext, newstyle=False
    )
    templates.env.globals.update(
        entities=ENTITIES,
        label=label,
        languages=LANGUAGE_NAMES,
        request_language=request_language,
    )
    app.state.web = WebState(
        paths=paths,
        accounts=Accounts(web_db_path(node_dir), clock),
        templates=templates,
        clock=clock,
        store_passphrase=store_passphrase,
    )
    # The last one added runs first: the language is chosen before a body is refused.
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(LanguageMiddleware)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for error in (ConfigError, PkiError, ControlError):
        app.add_exception_handler(error, _handle_error)
    app.add_exception_handler(ApiAuthError, _handle_auth)
    app.add_exception_handler(LoginRequired, _handle_login)
    app.add_exception_handler(PasswordChangeRequired, _handle_password)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_api_route("/", _home, methods=["GET"], include_in_schema=False)
    for router in (
        auth_pages.router,
        config_pages.router,
        node_pages.router,
        cert_pages.router,
        troubleshoot.router,
        api.router,
    ):
        app.include_router(router)
    return app


def _home(request: Request) -> Any:
    page_session(request)
    state = web_state(request)
    with state.config() as store:
        node = store.get_node()
    if node is None:
        # first start: the node needs its name and address before anything refers to them
        return RedirectResponse("/node", status_code=303)
    return state.render(request, "home.html", {"node": node})
