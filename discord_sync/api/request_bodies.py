"""What the API accepts as a request body: JSON only, at most `API_MAX_BODY_BYTES`, declared or chunked.

A declared `Content-Length` over the limit and a body that is not `application/json` are refused before a byte
is read (`body_refusal`); `BodyLimit` counts the bytes of every body as they arrive, so a chunked body is cut off
at the limit too. Both answer in the API's one error shape.
"""

from __future__ import annotations

from email.message import Message

from fastapi import Request, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from discord_sync.api.errors import error_response

WITH_BODY = ("POST", "PUT", "PATCH", "DELETE")


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _declared_length(request: Request) -> int:
    length = request.headers.get("content-length", "").strip()
    return int(length) if length.isdigit() else 0


def _has_body(request: Request) -> bool:
    return _declared_length(request) > 0 or "transfer-encoding" in request.headers


def body_refusal(request: Request, max_bytes: int) -> Response | None:
    """413 for a declared length over the limit, 415 for a body that is not JSON; None if the body may be read."""
    if _declared_length(request) > max_bytes:
        return error_response(413, "body_too_large", f"the request body is larger than {max_bytes} bytes")
    if request.method in WITH_BODY and _has_body(request) and not _is_json(request.headers.get("content-type")):
        return error_response(
            415, "unsupported_media_type", "send the body as JSON with `Content-Type: application/json`"
        )
    return None


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

        async def counted() -> AsgiMessage:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413)
            return message

        await self.app(scope, counted, send)
