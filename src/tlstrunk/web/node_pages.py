"""Node settings page (name, address, realm, phone ports) and the language switch.

A node directory made by ``tlstrunk web run`` alone has no node row yet. The
home page then sends the user here first, as the first-start form: the node's
name and address are what its certificates and trunks refer to.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from tlstrunk.config.errors import ConfigError
from tlstrunk.config.values import NodeConfig
from tlstrunk.web.accounts import SessionInfo
from tlstrunk.web.fields import build_value, field_specs, form_text
from tlstrunk.web.language import LANGUAGE_COOKIE, LANGUAGE_NAMES, _
from tlstrunk.web.state import check_csrf, page_session, web_state

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

Session = Annotated[SessionInfo, Depends(page_session)]

#: Seconds the language cookie lasts: a year.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600


def _node_page(
    request: Request,
    values: dict[str, str],
    *,
    first_start: bool,
    error: str = "",
    notice: str = "",
    status: int = 200,
) -> Any:
    return web_state(request).render(
        request,
        "node.html",
        {
            "specs": field_specs(NodeConfig),
            "values": values,
            "first_start": first_start,
            "error": error,
            "notice": notice,
        },
        status,
    )


@router.get("/node")
def node_form(request: Request, session: Session) -> Any:
    with web_state(request).config() as store:
        node = store.get_node()
    values = {
        spec.name: form_text(spec, getattr(node, spec.name) if node else spec.default)
        for spec in field_specs(NodeConfig)
    }
    return _node_page(request, values, first_start=node is None)


@router.post("/node")
async def node_save(request: Request, session: Session) -> Any:
    form = await request.form()
    check_csrf(session, form.get("csrf_token"))
    names = {spec.name for spec in field_specs(NodeConfig)}
    values = {k: str(v) for k, v in form.items() if k in names}
    state = web_state(request)
    try:
        node = build_value(NodeConfig, values)
        with state.config() as store:
            first_start = store.get_node() is None
            moved = store.save_node(node)
    except ConfigError as exc:
        logger.info("web user %s: node settings rejected: %s", session.user, exc)
        with state.config() as store:
            first_start = store.get_node() is None
        return _node_page(request, values, first_start=first_start, error=str(exc), status=422)
    logger.info("web user %s set the node to %s at %s", session.user, node.name, node.address)
    notice = _("The node settings were saved.")
    if moved:
        notice += " " + _(
            "The realm changed; set the passwords of these digest users again: {users}."
        ).format(users=", ".join(moved))
    elif first_start:
        notice += " " + _(
            "Next, upload the CA root as CallManager-trust and generate the CallManager CSR."
        )
    return _node_page(request, values, first_start=False, notice=notice)


def _local_path(target: str) -> str:
    """Return ``target`` when it is a path on this server, else "/" (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/language/{code}")
def switch_language(request: Request, code: str) -> Any:
    """Remember the language ``code`` in a cookie and go back to the page the user was on."""
    target = _local_path(request.query_params.get("next", "/"))
    response = RedirectResponse(target, status_code=303)
    if code in LANGUAGE_NAMES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            code,
            max_age=LANGUAGE_COOKIE_AGE,
            secure=True,
            httponly=True,
            samesite="lax",
            path="/",
        )
    return response
