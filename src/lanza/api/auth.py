"""Who may call what: API keys with roles, required whenever keys exist or the server is public.

Routes declare the role they need with ``Depends(require("admin"))`` (or ``"predict"``,
``"read"``). Keys come as ``Authorization: Bearer <key>`` or ``x-api-key: <key>`` (what
the OpenAI and LangSmith SDKs send). Mutating admin calls are written to the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lanza.clock import utcnow
from lanza.errors import ForbiddenError, UnauthorizedError, UnavailableError
from lanza.security.keys import KeyInfo, KeyStore, Role, allows, hash_key
from lanza.security.limits import RateLimiter
from lanza.store import Database
from lanza.store.tables import AuditEntry

REFRESH_S = 2.0  # how stale the in-memory keys may be while the database answers
MISS_REFRESH_S = 0.5  # an unknown secret re-reads the keys at most this often
MISS_WAIT_S = 1.0  # and waits this long for that read
log = logging.getLogger("lanza.auth")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Guard:
    """Checks keys against an in-memory copy of the live keys, refreshed in the background.

    No request waits on the database: every ``REFRESH_S`` a thread re-reads the live keys
    and replaces the copy, so a new key or a revocation shows within that bound while the
    database answers. While it does not, the last copy stands (keys only change through
    the database, so nothing newer exists to miss) and predictions go on: an outage never
    turns a keyed or open request into a 5xx. An unknown secret triggers at most one early
    refresh per ``MISS_REFRESH_S``, so a key created a moment ago works at once while a
    flood of wrong keys costs the database nothing.
    """

    keys: KeyStore
    database: Database
    public: bool = False
    rpm: int = 0  # requests per minute per key, 0 for no limit
    limiter: RateLimiter = field(default_factory=RateLimiter)
    _active: dict[str, KeyInfo] | None = None
    _loaded_at: float = -1e9
    _missed_at: float = -1e9
    _refresh: asyncio.Task[None] | None = None
    _failing: bool = False

    async def start(self) -> None:
        """Read the live keys once before the first request (a failure is logged)."""
        await self._refreshed(wait=5.0)

    async def keys_required(self) -> bool:
        """Keys are required on a public interface, or as soon as one key exists."""
        if self.public:
            return True
        return bool(await self._snapshot())

    async def identify(self, secret: str) -> KeyInfo | None:
        """The live key for a secret, from memory."""
        digest = hash_key(secret)
        active = await self._snapshot()
        if digest in active:
            return active[digest]
        now = time.monotonic()
        if now - self._missed_at < MISS_REFRESH_S or self._failing:
            return None
        self._missed_at = now
        await self._refreshed(wait=MISS_WAIT_S)
        return (self._active or {}).get(digest)

    async def _snapshot(self) -> dict[str, KeyInfo]:
        if self._active is None:
            # Nothing known yet: the first request waits for the first read (once).
            await self._refreshed(wait=None)
            if self._active is None:
                raise UnavailableError(
                    "lanza cannot check API keys: its database has not answered since the "
                    "server started. Try again."
                )
        elif time.monotonic() - self._loaded_at > REFRESH_S:
            self._start_refresh()
        return self._active

    def _start_refresh(self) -> asyncio.Task[None]:
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.get_running_loop().create_task(self._load())
        return self._refresh

    async def _refreshed(self, wait: float | None) -> None:
        task = self._start_refresh()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), wait)

    async def _load(self) -> None:
        try:
            active = await asyncio.to_thread(self.keys.active)
        except Exception as exc:  # keep serving the last copy; say so once per outage
            self._loaded_at = time.monotonic()  # retry after REFRESH_S, not per request
            if not self._failing:
                log.error("API keys cannot be re-read (%s); the last copy stays in use", exc)
            self._failing = True
            return
        if self._failing:
            log.warning("API keys re-read again after a database outage")
        self._active, self._loaded_at, self._failing = active, time.monotonic(), False

    async def admit(self, secret: str | None, role: Role) -> KeyInfo | None:
        """The key that may act as ``role`` (``None`` when keys are off); raises 401 for a
        missing or wrong key, 403 for a role too low, 429 past the key's rate."""
        if not await self.keys_required():
            return None
        if secret is None:
            raise UnauthorizedError(
                "This route needs an API key: send 'Authorization: Bearer <key>'."
            )
        info = await self.identify(secret)
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


async def identified(request: Request) -> bool:
    """Whether the caller may learn what exists: keys are off, or it sent a live key."""
    guard: Guard = request.app.state.guard
    if not await guard.keys_required():
        return True
    secret = bearer(request)
    return secret is not None and await guard.identify(secret) is not None


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
        if not await guard.keys_required():
            return None
        secret = bearer(request)
        if secret is None:
            raise UnauthorizedError(
                "This route needs an API key: send 'Authorization: Bearer <key>'."
            )
        info = await guard.identify(secret)
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
