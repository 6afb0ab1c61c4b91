"""The node's control socket (server side): JSON lines over a Unix socket in the node directory.

Each request is one JSON object on one line with an ``op`` field; the node
answers with one JSON object on one line carrying ``ok`` and either the
result or an ``error`` message.  Operations: ``status``, ``call`` (``from``,
``to``, ``hold``), ``calls`` (optional ``call_id``) and ``shutdown``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from pathlib import Path
from typing import Any

from tlstrunk.callcontrol.node import Node

logger = logging.getLogger(__name__)

#: Maximum length of one request line, in bytes.
MAX_REQUEST = 65536
#: Maximum hold time of a ``call`` request, in seconds.
MAX_HOLD = 3600.0


class ControlServer:
    """Serves control requests for one node."""

    def __init__(self, node: Node, path: Path) -> None:
        self._node = node
        self._path = path
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Listen on the socket path, replacing a stale socket file."""
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self._path), limit=MAX_REQUEST
        )
        self._path.chmod(0o600)

    async def stop(self) -> None:
        """Stop listening and remove the socket file."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                response = await self._dispatch(line)
                writer.write(json.dumps(response, ensure_ascii=False).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError) as exc:
            logger.info("control connection ended: %s", exc)
        except asyncio.CancelledError:
            # The node is stopping; end this connection without a traceback.
            logger.debug("control connection closed because the node stops")
        finally:
            writer.close()

    async def _dispatch(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request must be a JSON object")
            result = await self._run(request)
        except (ValueError, KeyError, TypeError) as exc:
            return {"ok": False, "error": f"invalid control request: {exc}"}
        except Exception as exc:  # the node must keep serving after a failed operation
            logger.exception("control request failed")
            return {"ok": False, "error": f"the operation failed inside the node: {exc!r}"}
        return {"ok": True, "result": result}

    async def _run(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        node = self._node
        if op == "status":
            return node.status()
        if op == "call":
            hold = float(request.get("hold", 1.0))
            if not math.isfinite(hold) or not 0 <= hold <= MAX_HOLD:
                raise ValueError(f"hold {hold} is outside 0 to {MAX_HOLD:.0f} seconds")
            report = await node.place_call(str(request["from"]), str(request["to"]), hold)
            return report.to_dict()
        if op == "calls":
            call_id = request.get("call_id")
            return [report.to_dict() for report in node.reports(call_id)]
        if op == "trace-level":
            level = request.get("level")
            if level is not None:
                node.trace.set_level(str(level))
            return node.trace.level
        if op == "registrations":
            return node.registrations()
        if op == "shutdown":
            asyncio.get_running_loop().call_soon(node.stopped.set)
            return "stopping"
        raise ValueError(
            f"unknown op {op!r}; use status, call, calls, registrations, trace-level or shutdown"
        )
