"""Find and List, add, edit and delete pages for every configuration entity.

Forms are built from the value dataclasses (see :mod:`tlstrunk.web.fields`).
A rejected form is shown again with the store's message, which is the text the
command line prints for the same input. The phone list also shows the running
node's live registrations, and the trunk list each trunk's OPTIONS status.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from tlstrunk.config.errors import ConfigError
from tlstrunk.control_client import ControlError, control_request
from tlstrunk.web.accounts import SessionInfo
from tlstrunk.web.entities import Entity, Key, find_entity
from tlstrunk.web.fields import build_value, field_specs, form_text
from tlstrunk.web.language import _
from tlstrunk.web.state import check_csrf, page_session, web_state

__all__ = ["registrations", "router", "trunk_statuses"]

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

Session = Annotated[SessionInfo, Depends(page_session)]

#: Seconds to wait for a running node's status on the trunk list.
STATUS_TIMEOUT = 2.0


def trunk_statuses(request: Request) -> dict[str, str]:
    """Return each trunk's OPTIONS ping status from the running node, or {} when it is down."""
    state = web_state(request)
    try:
        status = control_request(
            state.paths.control_socket, {"op": "status"}, timeout=STATUS_TIMEOUT
        )
    except ControlError as exc:
        logger.debug("no trunk status from the node: %s", exc)
        return {}
    return {str(item["name"]): str(item["status"]) for item in status.get("trunks", [])}


def registrations(request: Request) -> list[dict[str, Any]] | None:
    """Return the running node's phone registrations, or None when it is down."""
    state = web_state(request)
    try:
        found = control_request(
            state.paths.control_socket, {"op": "registrations"}, timeout=STATUS_TIMEOUT
        )
    except ControlError as exc:
        logger.debug("no registrations from the node: %s", exc)
        return None
    return list(found) if isinstance(found, list) else []


def _key_from_query(entity: Entity, request: Request) -> dict[str, str | None]:
    return {name: request.query_params.get(name) or None for name in entity.key_fields}


def _key_query(entity: Entity, key: Key) -> str:
    return urlencode({name: key.get(name) or "" for name in entity.key_fields})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, tuple):
        return ", ".join(str(item) for item in value)
    return str(getattr(value, "value", value))


def _matches(text: str, query: str, operator: str) -> bool:
    if not query:
        return True
    if operator == "contains":
        return query.casefold() in text.casefold()
    return text.casefold().startswith(query.casefold())


@router.get("/config/{slug}")
def find_and_list(request: Request, slug: str, session: Session) -> Any:
    entity = find_entity(slug)
    state = web_state(request)
    column = request.query_params.get("field") or entity.columns[0]
    if column not in entity.columns:
        column = entity.columns[0]
    operator = request.query_params.get("op", "begins")
    query = request.query_params.get("q", "")
    with state.config() as store:
        values = entity.list_values(store)
    rows = []
    for value in values:
        if not _matches(_cell(getattr(value, column)), query, operator):
            continue
        rows.append(
            {
                "cells": [_cell(getattr(value, name)) for name in entity.columns],
                "key": _key_query(entity, entity.key_of(value)),
                "name": _cell(getattr(value, entity.key_fields[0])),
            }
        )
    statuses = trunk_statuses(request) if entity.slug == "trunks" else None
    phones = entity.slug == "phones"
    return state.render(
        request,
        "list.html",
        {
            "entity": entity,
            "rows": rows,
            "column": column,
            "operator": operator,
            "query": query,
            "statuses": statuses,
            "registrations": registrations(request) if phones else None,
            "show_registrations": phones,
            "total": len(values),
        },
    )


def _form_page(
    request: Request,
    entity: Entity,
    values: dict[str, str],
    checked: set[str],
    *,
    action: str,
    error: str = "",
    status: int = 200,
) -> Any:
    return web_state(request).render(
        request,
        "form.html",
        {
            "entity": entity,
            "specs": field_specs(entity.value_type),
            "values": values,
            "checked": checked,
            "action": action,
            "error": error,
        },
        status,
    )


def _defaults(entity: Entity, value: Any | None = None) -> tuple[dict[str, str], set[str]]:
    values: dict[str, str] = {}
    checked: set[str] = set()
    for spec in field_specs(entity.value_type):
        current = spec.default if value is None else getattr(value, spec.name)
        if spec.kind == "bool":
            if current:
                checked.add(spec.name)
            continue
        values[spec.name] = form_text(spec, current)
    return values, checked


def _submitted(entity: Entity, form: FormData) -> tuple[dict[str, str], set[str]]:
    names = {spec.name for spec in field_specs(entity.value_type)}
    values = {k: str(v) for k, v in form.items() if k in names}
    checked = {k for k in values if k in form and values[k] == "on"}
    return values, checked


@router.get("/config/{slug}/new")
def new_form(request: Request, slug: str, session: Session) -> Any:
    entity = find_entity(slug)
    values, checked = _defaults(entity)
    return _form_page(request, entity, values, checked, action=f"/config/{slug}/new")


@router.post("/config/{slug}/new")
async def create(request: Request, slug: str, session: Session) -> Any:
    entity = find_entity(slug)
    form = await request.form()
    check_csrf(session, form.get("csrf_token"))
    values, checked = _submitted(entity, form)
    try:
        value = build_value(entity.value_type, values, unchecked_is_false=True)
        with web_state(request).config() as store:
            entity.create(store, value)
    except ConfigError as exc:
        action = f"/config/{slug}/new"
        return _form_page(
            request, entity, values, checked, action=action, error=str(exc), status=422
        )
    logger.info("web user %s added %s %s", session.user, entity.singular, entity.key_of(value))
    return RedirectResponse(f"/config/{slug}?added=1", status_code=303)


@router.get("/config/{slug}/edit")
def edit_form(request: Request, slug: str, session: Session) -> Any:
    entity = find_entity(slug)
    key = _key_from_query(entity, request)
    with web_state(request).config() as store:
        value = entity.find(store, key)
    values, checked = _defaults(entity, value)
    action = f"/config/{slug}/edit?{_key_query(entity, key)}"
    return _form_page(request, entity, values, checked, action=action)


@router.post("/config/{slug}/edit")
async def update(request: Request, slug: str, session: Session) -> Any:
    entity = find_entity(slug)
    key = _key_from_query(entity, request)
    form = await request.form()
    check_csrf(session, form.get("csrf_token"))
    values, checked = _submitted(entity, form)
    try:
        value = build_value(entity.value_type, values, unchecked_is_false=True)
        with web_state(request).config() as store:
            entity.replace(store, key, value)
    except ConfigError as exc:
        action = f"/config/{slug}/edit?{_key_query(entity, key)}"
        return _form_page(
            request, entity, values, checked, action=action, error=str(exc), status=422
        )
    logger.info("web user %s changed %s %s", session.user, entity.singular, key)
    return RedirectResponse(f"/config/{slug}", status_code=303)


@router.post("/config/{slug}/delete")
async def delete(request: Request, slug: str, session: Session) -> Any:
    entity = find_entity(slug)
    key = _key_from_query(entity, request)
    form = await request.form()
    check_csrf(session, form.get("csrf_token"))
    try:
        with web_state(request).config() as store:
            entity.remove(store, key)
    except ConfigError as exc:
        return web_state(request).render(
            request, "message.html", {"title": _(entity.title), "error": str(exc)}, 422
        )
    logger.info("web user %s deleted %s %s", session.user, entity.singular, key)
    return RedirectResponse(f"/config/{slug}", status_code=303)
