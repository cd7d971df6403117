"""Request bodies larger than `API_MAX_BODY_BYTES` are refused with 413, whether declared or chunked.

A declared `Content-Length` over the limit is refused before a byte is read (in the app's middleware); this ASGI
middleware counts the bytes of every body as they arrive, so a chunked body is cut off at the limit too.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """Raises a 413 `HTTPException` (rendered in the API's error shape) once a body passes `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413)
            return message

        await self.app(scope, counted, send)
