"""The lean path: prediction routes answered without the framework's per-request layers.

Every request to FastAPI passes through a stack of ASGI layers (server errors, body
limits, audit, exception handling, FastAPI's own body limit and telemetry hooks, the
router's scan of a few hundred routes, dependency injection) that together cost more
than a small model's prediction. The predict routes of every face, the ones called per
row in production, are matched here first by one regular expression per route and
answered by the same handler functions the FastAPI routes call, with the same checks in
the same order:

1. a declared ``Content-Length`` over ``server.max_body_bytes`` is a 413;
2. the route's role is admitted by the same dependency (``require``): keys, roles, rates;
3. the body is read and counted against the same limit while it streams (a 413);
4. the handler answers; any exception becomes the response the app's exception handlers
   give it, in the face's error shape.

The FastAPI routes stay registered, so the OpenAPI document lists them and a request the
lean path does not take (another method, a ``root_path``, FastAPI's native telemetry
switched on) is answered by them as before. Nothing is audited on these routes: predictions
are recorded in the prediction log, not the audit log (see ``lanza.api.auth.require``).
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.types import Receive, Scope, Send

from lanza.api.auth import require
from lanza.api.bodylimit import BodyLimitMiddleware
from lanza.security.keys import Role

Handler = Callable[..., Awaitable[Response]]
TELEMETRY_RECHECK_S = 1.0


@dataclass(frozen=True)
class LeanRoute:
    """One POST route of the lean path: its pattern, role and handler."""

    pattern: re.Pattern[str]
    role: Role
    handler: Handler  # called as handler(request, **path parameters)
    admit: Callable[[Request], Awaitable[Any]]


class LeanApp(FastAPI):
    """FastAPI, with the prediction routes of ``lean_routes`` answered before its stack."""

    lean_routes: list[LeanRoute]
    body_limit: int = 0
    _telemetry_on: bool = False
    _telemetry_checked: float = -1e9

    def lean(self, path: str, role: Role, handler: Handler) -> None:
        """Answer ``POST path`` (FastAPI's ``{param}`` syntax) on the lean path."""
        if not hasattr(self, "lean_routes"):
            self.lean_routes = []
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
        self.lean_routes.append(LeanRoute(re.compile(f"^{regex}$"), role, handler, require(role)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and not self.root_path
        ):
            path: str = scope["path"]
            for route in getattr(self, "lean_routes", ()):
                found = route.pattern.match(path)
                if found is not None and not self._observed():
                    scope["app"] = self
                    await self._answer(route, found.groupdict(), scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    def _observed(self) -> bool:
        """Whether FastAPI's native telemetry is on (its check reads the environment, so it
        is made once a second): requests then take the full path, which it observes."""
        now = time.monotonic()
        if now - self._telemetry_checked > TELEMETRY_RECHECK_S:
            telemetry = getattr(self, "_native_telemetry", None)  # newer FastAPI only
            self._telemetry_on = telemetry is not None and bool(telemetry.enabled())
            self._telemetry_checked = now
        return self._telemetry_on

    async def _answer(
        self, route: LeanRoute, params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        limit = self.body_limit
        request = Request(scope, receive)
        try:
            declared = BodyLimitMiddleware.declared(scope)
            if declared is not None and declared > limit:
                response: Response = BodyLimitMiddleware.refusal(request, declared, limit)
            else:
                await route.admit(request)
                request = Request(scope, BodyLimitMiddleware.counted(receive, limit))
                response = await route.handler(request, **params)
        except Exception as exc:
            response = await self._handled(request, exc)
        await response(scope, receive, send)

    async def _handled(self, request: Request, exc: Exception) -> Response:
        """The response the app's exception handlers give ``exc`` (most specific first)."""
        handlers = self.exception_handlers
        for kind in type(exc).__mro__:
            handler = handlers.get(kind)
            if handler is not None:
                answer = handler(request, exc)
                return await answer if inspect.isawaitable(answer) else answer
        raise exc


def lean(app: FastAPI, path: str, role: Role, handler: Handler) -> None:
    """Answer ``POST path`` on the lean path when ``app`` has one (the FastAPI route a face
    also declares answers otherwise, and is what the OpenAPI document lists)."""
    if isinstance(app, LeanApp):
        app.lean(path, role, handler)
