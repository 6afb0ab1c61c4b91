"""REST API under /api/v1: the configuration entities, certificates and node status as JSON.

Every route needs a bearer token. Errors are JSON objects
``{"error": {"code": ..., "message": ...}}`` whose message is the command
line's text; the codes are listed in :data:`tlstrunk.web.app.ERROR_CODES`.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tlstrunk.control_client import control_request
from tlstrunk.pki.keys import CryptoPolicy
from tlstrunk.web import certs
from tlstrunk.web.entities import ENTITIES, Entity
from tlstrunk.web.fields import InputError, build_value, value_to_json
from tlstrunk.web.language import _
from tlstrunk.web.state import require_token, web_state

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)])

#: Seconds to wait for the running node's control socket.
CONTROL_TIMEOUT = 2.0

JsonObject = Annotated[dict[str, Any], Body()]


def _key(request: Request, entity: Entity, first: str) -> dict[str, str | None]:
    """Return the item key: ``first`` from the path, the other key fields from the query."""
    key: dict[str, str | None] = {entity.key_fields[0]: first}
    for name in entity.key_fields[1:]:
        key[name] = request.query_params.get(name) or None
    return key


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputError("", _("The request body must be a JSON object."))
    return data


def _register(entity: Entity) -> None:
    base = f"/{entity.slug}"
    item = f"{base}/{{name}}"
    tag: list[str | Enum] = [entity.title]

    @router.get(base, tags=tag, summary=f"List {entity.title}")
    def list_items(request: Request) -> list[dict[str, Any]]:
        with web_state(request).config() as store:
            return [value_to_json(value) for value in entity.list_values(store)]

    @router.get(item, tags=tag, summary=f"Get one {entity.singular}")
    def get_item(request: Request, name: str) -> dict[str, Any]:
        with web_state(request).config() as store:
            return value_to_json(entity.find(store, _key(request, entity, name)))

    @router.post(base, tags=tag, status_code=201, summary=f"Add a {entity.singular}")
    def add_item(request: Request, body: JsonObject) -> dict[str, Any]:
        value = build_value(entity.value_type, _object(body))
        with web_state(request).config() as store:
            entity.create(store, value)
        logger.info("API added %s %s", entity.singular, entity.key_of(value))
        return value_to_json(value)

    @router.put(item, tags=tag, summary=f"Replace a {entity.singular}")
    def replace_item(request: Request, name: str, body: JsonObject) -> dict[str, Any]:
        value = build_value(entity.value_type, _object(body))
        with web_state(request).config() as store:
            entity.replace(store, _key(request, entity, name), value)
        return value_to_json(value)

    @router.delete(item, tags=tag, status_code=204, summary=f"Delete a {entity.singular}")
    def delete_item(request: Request, name: str) -> Response:
        with web_state(request).config() as store:
            entity.remove(store, _key(request, entity, name))
        logger.info("API deleted %s %s", entity.singular, name)
        return Response(status_code=204)


for _entity in ENTITIES:
    _register(_entity)


# --- certificates -------------------------------------------------------------


@router.get("/certificates", tags=["Certificates"])
def list_certificates(request: Request) -> list[dict[str, Any]]:
    rows = certs.certificate_rows(web_state(request).certificates())
    return [vars(row) for row in rows]


@router.post("/certificates/csr", tags=["Certificates"], status_code=201)
def generate_csr(request: Request, body: JsonObject) -> dict[str, Any]:
    """Generate a key and CSR; the fields are those of ``tlstrunk cert generate-csr``."""
    purpose, result = certs.generate_csr(web_state(request).certificates(), _object(body))
    return {
        "purpose": purpose,
        "pem": result.pem.decode(),
        "replaced_existing": result.replaced_existing,
    }


@router.get("/certificates/csr/{purpose}", tags=["Certificates"], response_class=PlainTextResponse)
def download_csr(request: Request, purpose: str) -> Response:
    pem = web_state(request).certificates().csr_pem(purpose)
    return PlainTextResponse(pem, media_type="application/pkcs10")


@router.get("/certificates/own/{purpose}", tags=["Certificates"], response_class=PlainTextResponse)
def show_own(request: Request, purpose: str) -> Response:
    return PlainTextResponse(certs.render_own(web_state(request).certificates(), purpose))


@router.post("/certificates/upload/{purpose}", tags=["Certificates"])
async def upload_certificate(
    request: Request, purpose: str, policy: str = "modern"
) -> dict[str, Any]:
    """Upload the request body (PEM, DER or PKCS#7) as ``purpose`` or into a trust store."""
    data = await request.body()
    try:
        crypto_policy = CryptoPolicy(policy)
    except ValueError:
        raise InputError(
            "policy",
            _("Crypto policy {value!r} is not one of: modern, legacy.").format(value=policy),
        ) from None
    message, warnings = certs.upload(
        web_state(request).certificates(), purpose, data, crypto_policy
    )
    return {"message": message, "warnings": warnings}


@router.delete("/certificates/trust/{trust}/{selector}", tags=["Certificates"], status_code=204)
def delete_trust(request: Request, trust: str, selector: str) -> Response:
    web_state(request).certificates().delete_trust(trust, selector)
    return Response(status_code=204)


# --- node ---------------------------------------------------------------------


@router.get("/node/status", tags=["Node"])
def node_status(request: Request) -> Any:
    """Return the running node's status: listeners, trunks with OPTIONS ping status."""
    return control_request(
        web_state(request).paths.control_socket, {"op": "status"}, timeout=CONTROL_TIMEOUT
    )


@router.get("/node/calls", tags=["Node"])
def node_calls(request: Request) -> JSONResponse:
    reports = control_request(
        web_state(request).paths.control_socket, {"op": "calls"}, timeout=CONTROL_TIMEOUT
    )
    return JSONResponse(reports)
