"""Certificate Management pages: list, generate and download a CSR, upload, show, delete."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from tlstrunk.pki.errors import PkiError
from tlstrunk.pki.keys import CryptoPolicy
from tlstrunk.pki.store import PURPOSES, find_purpose
from tlstrunk.web import certs
from tlstrunk.web.accounts import SessionInfo
from tlstrunk.web.language import _
from tlstrunk.web.state import check_csrf, page_session, web_state

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

Session = Annotated[SessionInfo, Depends(page_session)]

#: Largest certificate file the upload form accepts, in bytes.
MAX_UPLOAD = 256 * 1024

UPLOAD_PURPOSES = tuple(PURPOSES) + tuple(p.trust_name for p in PURPOSES.values())


@router.get("/certificates")
def certificate_list(request: Request, session: Session) -> Any:
    state = web_state(request)
    rows = certs.certificate_rows(state.certificates())
    return state.render(request, "certificates.html", {"rows": rows})


def _csr_page(request: Request, values: dict[str, str], error: str = "", status: int = 200) -> Any:
    return web_state(request).render(
        request,
        "csr.html",
        {"options": certs.CSR_OPTIONS, "values": values, "error": error},
        status,
    )


@router.get("/certificates/csr")
def csr_form(request: Request, session: Session) -> Any:
    return _csr_page(request, {"purpose": "CallManager", "key": "rsa2048", "hash": "sha256"})


@router.post("/certificates/csr")
async def csr_generate(request: Request, session: Session) -> Any:
    form = await request.form()
    check_csrf(session, form.get("csrf_token"))
    names = {option[0] for option in certs.CSR_OPTIONS}
    values = {k: str(v) for k, v in form.items() if k in names}
    try:
        purpose, result = certs.generate_csr(web_state(request).certificates(), values)
    except (PkiError, ValueError) as exc:
        return _csr_page(request, values, str(exc), 422)
    logger.info("web user %s generated a %s CSR", session.user, purpose)
    notice = (
        _("The new CSR replaced the pending CSR for {purpose}.").format(purpose=purpose)
        if result.replaced_existing
        else ""
    )
    return web_state(request).render(
        request, "csr_done.html", {"purpose": purpose, "pem": result.pem.decode(), "notice": notice}
    )


@router.get("/certificates/csr/{purpose}.pem")
def csr_download(request: Request, purpose: str, session: Session) -> Any:
    try:
        pem = web_state(request).certificates().csr_pem(purpose)
    except PkiError as exc:
        return web_state(request).render(
            request, "message.html", {"title": _("Download CSR"), "error": str(exc)}, 404
        )
    name = find_purpose(purpose).name
    return Response(
        pem,
        media_type="application/pkcs10",
        headers={"Content-Disposition": f'attachment; filename="{name}.csr"'},
    )


def _upload_page(
    request: Request, purpose: str, error: str = "", message: str = "", status: int = 200
) -> Any:
    return web_state(request).render(
        request,
        "upload.html",
        {
            "purposes": UPLOAD_PURPOSES,
            "policies": [p.value for p in CryptoPolicy],
            "purpose": purpose,
            "error": error,
            "message": message,
            "warnings": [],
        },
        status,
    )


@router.get("/certificates/upload")
def upload_form(request: Request, session: Session) -> Any:
    return _upload_page(request, request.query_params.get("purpose", "CallManager-trust"))


@router.post("/certificates/upload")
async def upload(request: Request, session: Session) -> Any:
    form = await request.form(max_part_size=MAX_UPLOAD)
    check_csrf(session, form.get("csrf_token"))
    purpose = str(form.get("purpose", ""))
    file = form.get("file")
    data = await file.read() if isinstance(file, UploadFile) else b""
    if not data:
        error = _("No certificate file was chosen; choose a PEM, DER or PKCS#7 file.")
        return _upload_page(request, purpose, error, status=422)
    try:
        policy = CryptoPolicy(str(form.get("policy", "modern")))
        message, warnings = certs.upload(web_state(request).certificates(), purpose, data, policy)
    except (PkiError, ValueError) as exc:
        return _upload_page(request, purpose, str(exc), status=422)
    logger.info("web user %s uploaded a certificate as %s", session.user, purpose)
    return web_state(request).render(
        request,
        "message.html",
        {"title": _("Upload Certificate"), "message": message, "warnings": warnings},
    )


@router.get("/certificates/own/{purpose}")
def show_own(request: Request, purpose: str, session: Session) -> Any:
    try:
        text = certs.render_own(web_state(request).certificates(), purpose)
    except PkiError as exc:
        return web_state(request).render(
            request, "message.html", {"title": purpose, "error": str(exc)}, 404
        )
    return web_state(request).render(request, "cert_show.html", {"title": purpose, "text": text})


@router.get("/certificates/trust/{trust}/{fingerprint}")
def show_trust(request: Request, trust: str, fingerprint: str, session: Session) -> Any:
    try:
        text = certs.render_trust(web_state(request).certificates(), trust, fingerprint)
    except PkiError as exc:
        return web_state(request).render(
            request, "message.html", {"title": trust, "error": str(exc)}, 404
        )
    return web_state(request).render(
        request,
        "cert_show.html",
        {"title": trust, "text": text, "delete": f"/certificates/trust/{trust}/{fingerprint}"},
    )


@router.post("/certificates/trust/{trust}/{fingerprint}/delete")
async def delete_trust(request: Request, trust: str, fingerprint: str, session: Session) -> Any:
    form = await request.form()
    check_csrf(session, form.get("csrf_token"))
    try:
        web_state(request).certificates().delete_trust(trust, fingerprint)
    except PkiError as exc:
        return web_state(request).render(
            request, "message.html", {"title": trust, "error": str(exc)}, 404
        )
    logger.info("web user %s removed %s from %s", session.user, fingerprint, trust)
    return RedirectResponse("/certificates", status_code=303)
