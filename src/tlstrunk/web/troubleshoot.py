"""Troubleshooting pages: calls, a call's ladder, the trunk doctor, trace and capture files.

Active calls are the running node's call reports without an end time, read
from its control socket. Recent calls are the call detail records in the
configuration database, so they show even when the node is stopped.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse

from tlstrunk.control_client import ControlError, control_request
from tlstrunk.diag.doctor import DoctorUsageError, run_doctor
from tlstrunk.diag.ladder import build_ladder, render_html
from tlstrunk.web.accounts import SessionInfo
from tlstrunk.web.language import _
from tlstrunk.web.state import WebState, page_session, web_state

__all__ = ["downloadable_files", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

Session = Annotated[SessionInfo, Depends(page_session)]

#: Number of call detail records on the troubleshooting page.
RECENT_CALLS = 50
CONTROL_TIMEOUT = 2.0


def downloadable_files(state: WebState) -> dict[str, Path]:
    """Return the node's trace files and the pcapng captures in its directory, by name."""
    files = {
        path.name: path
        for path in (state.paths.trace_text, state.paths.trace_json)
        if path.is_file()
    }
    for path in sorted(state.paths.root.glob("*.pcapng")):
        files[path.name] = path
    return files


def active_calls(state: WebState) -> tuple[list[dict[str, Any]], str]:
    """Return the node's calls that have not ended, and an error text when it is unreachable."""
    try:
        reports = control_request(
            state.paths.control_socket, {"op": "calls"}, timeout=CONTROL_TIMEOUT
        )
    except ControlError as exc:
        return [], str(exc)
    return [report for report in reports if report.get("ended") is None], ""


@router.get("/troubleshooting")
def overview(request: Request, session: Session) -> Any:
    state = web_state(request)
    calls, node_error = active_calls(state)
    with state.config() as store:
        recent = list(reversed(store.list_cdrs(limit=RECENT_CALLS)))
        trunks = [trunk.name for trunk in store.list_trunks()]
    return state.render(
        request,
        "troubleshooting.html",
        {
            "calls": calls,
            "node_error": node_error,
            "recent": recent,
            "trunks": trunks,
            "files": sorted(downloadable_files(state)),
        },
    )


@router.get("/troubleshooting/ladder")
def ladder(request: Request, session: Session) -> Any:
    state = web_state(request)
    call_id = request.query_params.get("call_id", "")
    try:
        page = render_html(build_ladder([state.paths.root], call_id))
    except ValueError as exc:
        return state.render(request, "message.html", {"title": _("Ladder"), "error": str(exc)}, 422)
    return HTMLResponse(page)


@router.get("/troubleshooting/doctor")
async def doctor(request: Request, session: Session) -> Any:
    state = web_state(request)
    trunk = request.query_params.get("trunk", "")
    try:
        results = await run_doctor(state.paths.root, trunk, passphrase=state.store_passphrase)
    except DoctorUsageError as exc:
        return state.render(request, "message.html", {"title": _("Doctor"), "error": str(exc)}, 422)
    logger.info("web user %s ran the doctor on trunk %s", session.user, trunk)
    return state.render(request, "doctor.html", {"trunk": trunk, "results": results})


@router.get("/troubleshooting/files/{name}")
def download(request: Request, name: str, session: Session) -> Any:
    state = web_state(request)
    path = downloadable_files(state).get(name)
    if path is None:
        error = _("There is no trace or capture file {name!r} on this node.").format(name=name)
        return state.render(request, "message.html", {"title": name, "error": error}, 404)
    return FileResponse(path, filename=name, media_type="application/octet-stream")
