"""Who may call what: API keys with roles, required whenever keys exist or the server is public.

Routes declare the role they need with ``Depends(require("admin"))`` (or ``"predict"``,
``"read"``). Keys come as ``Authorization: Bearer <key>`` or ``x-api-key: <key>`` (what
the OpenAI and LangSmith SDKs send). Mutating admin calls are written to the audit log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lanza.errors import LanzaError
from lanza.llm.gateway.limits import RateLimiter
from lanza.security.keys import KeyInfo, KeyStore, Role, allows
from lanza.store import Database
from lanza.store.tables import AuditEntry, utcnow

CACHE_SECONDS = 2.0
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class UnauthorizedError(LanzaError):
    """No key, or a key that is wrong or revoked."""

    status_code = 401
    code = "unauthorized"


class ForbiddenError(LanzaError):
    """A valid key whose role is too low for the route."""

    status_code = 403
    code = "forbidden"


@dataclass
class Guard:
    """Checks keys against the store, with a short cache so predictions stay fast."""

    keys: KeyStore
    database: Database
    public: bool = False
    rpm: int = 0  # requests per minute per key, 0 for no limit
    limiter: RateLimiter = field(default_factory=RateLimiter)
    _required: tuple[float, bool] = (0.0, False)
    _seen: dict[str, tuple[float, KeyInfo | None]] = field(default_factory=dict)

    def keys_required(self) -> bool:
        """Keys are required on a public interface, or as soon as one key exists."""
        if self.public:
            return True
        checked_at, required = self._required
        if time.monotonic() - checked_at > CACHE_SECONDS:
            required = self.keys.any_active()
            self._required = (time.monotonic(), required)
        return required

    def identify(self, secret: str) -> KeyInfo | None:
        """The live key for a secret (cached briefly; revocation shows within seconds)."""
        cached = self._seen.get(secret)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        info = self.keys.check(secret)
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[secret] = (time.monotonic(), info)
        return info

    def admit(self, secret: str | None, role: Role) -> KeyInfo | None:
        """The key that may act as ``role`` (``None`` when keys are off); raises 401 for a
        missing or wrong key, 403 for a role too low, 429 past the key's rate."""
        if not self.keys_required():
            return None
        if secret is None:
            raise UnauthorizedError(
                "This route needs an API key: send 'Authorization: Bearer <key>'."
            )
        info = self.identify(secret)
        if info is None:
            raise UnauthorizedError("The API key is not valid or has been revoked.")
        if not allows(info.role, role):
            raise ForbiddenError(f"This route needs a '{role}' key; this key is '{info.role}'.")
        if self.rpm:
            self.limiter.acquire(f"key {info.name}", info.id, self.rpm)
        return info

    def audit(self, actor: str, action: str, path: str, status: int) -> None:
        """Record one mutating action."""
        with self.database.session() as session:
            session.add(
                AuditEntry(
                    actor=actor, action=action, path=path, status=status, created_at=utcnow()
                )
            )


def bearer(request: Request) -> str | None:
    """The key a request carries, if any."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or None


def require(
    role: Role, audit: bool | None = None
) -> Callable[[Request], Awaitable[KeyInfo | None]]:
    """A dependency that admits keys of at least ``role`` (or anyone, when keys are off).

    Admin routes are audited; so is any route that passes ``audit=True`` (ground truth
    and labels change what lanza reports). Predictions and trace ingest are not: they are
    recorded in the prediction log and the trace store, and must pay nothing here.
    """
    audited = role == "admin" if audit is None else audit

    async def dependency(request: Request) -> KeyInfo | None:
        guard: Guard = request.app.state.guard
        if audited:
            request.state.audit = "anonymous"
        if not guard.keys_required():
            return None
        secret = bearer(request)
        if secret is None:
            raise UnauthorizedError(
                "This route needs an API key: send 'Authorization: Bearer <key>'."
            )
        info = guard.identify(secret)
        if info is None:
            raise UnauthorizedError("The API key is not valid or has been revoked.")
        if audited:
            request.state.audit = f"{info.name} ({info.id})"
        if not allows(info.role, role):
            raise ForbiddenError(f"This route needs a '{role}' key; this key is '{info.role}'.")
        if guard.rpm:
            guard.limiter.acquire(f"key {info.name}", info.id, guard.rpm)
        return info

    return dependency


class AuditMiddleware:
    """Writes an audit entry for every request to an admin route, refused ones included.

    Plain ASGI rather than ``BaseHTTPMiddleware``: predictions pass through it too, and
    they should pay nothing for it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            actor = scope.get("state", {}).get("audit")
            if actor is not None:
                self._write(scope, actor, status)

    @staticmethod
    def _write(scope: Scope, actor: str, status: int) -> None:
        guard: Guard = scope["app"].state.guard
        try:
            guard.audit(actor, scope["method"], scope["path"], status)
        except Exception:  # the audit must never fail the request it records
            logging.getLogger("lanza.audit").exception("audit write failed")
