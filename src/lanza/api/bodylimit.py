"""The request body limit, shared by the app's middleware and the lean path."""

from __future__ import annotations

from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lanza.api.errors import error_response
from lanza.errors import PayloadTooLargeError


class BodyLimitMiddleware:
    """413 for a body over the limit: judged by Content-Length, and counted while streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = self.declared(scope)
        if declared is not None and declared > self.limit:
            await self.refusal(Request(scope, receive), declared, self.limit)(scope, receive, send)
            return
        await self.app(scope, self.counted(receive, self.limit), send)

    @staticmethod
    def declared(scope: Scope) -> int | None:
        """The request's Content-Length, when it declares one."""
        declared = dict(scope["headers"]).get(b"content-length", b"")
        return int(declared) if declared.isdigit() else None

    @staticmethod
    def counted(receive: Receive, limit: int) -> Receive:
        """``receive`` that raises a 413 once the body streamed passes ``limit``."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLargeError(
                    f"The request body is over the limit of {limit:,} bytes."
                )
            return message

        return counted

    @staticmethod
    def refusal(request: Request, size: int, limit: int) -> Response:
        """The 413 for a declared size over the limit."""
        return error_response(
            request,
            413,
            "payload_too_large",
            f"The request body is {size:,} bytes; the limit is {limit:,}.",
        )
