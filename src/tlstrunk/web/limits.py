"""A cap on request bodies, so a client cannot make the server read megabytes it will refuse."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from tlstrunk.web.language import _

#: The largest request body accepted; certificates, CSRs and forms are a few KiB.
MAX_BODY_BYTES = 1_048_576


class BodyLimitMiddleware:
    """Respond 413 before reading a body whose Content-Length exceeds ``MAX_BODY_BYTES``.

    NOTE: a chunked body has no Content-Length and is not checked here.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = dict(scope.get("headers") or []).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.limit:
                await self._reject(send, int(length))
                return
        await self.app(scope, receive, send)

    async def _reject(self, send: Send, length: int) -> None:
        message = _(
            "The request body of {length} bytes exceeds the limit of {limit} bytes; send "
            "a smaller file."
        ).format(length=length, limit=self.limit)
        body = json.dumps({"error": {"code": "too_large", "message": message}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
