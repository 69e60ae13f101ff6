"""API keys: created once and shown once, stored as SHA-256 hashes, revocable.

Roles are ordered: ``admin`` can do everything, ``predict`` can predict and read,
``read`` can only read. Keys are 32 random bytes, so a fast hash is enough: there is
nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from lanza.clock import utcnow
from lanza.errors import InvalidInputError, NotFoundError
from lanza.store import Database
from lanza.store.tables import ApiKey

Role = Literal["read", "predict", "admin"]
ROLES: tuple[Role, ...] = ("read", "predict", "admin")
PREFIX = "lz_"


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed: never the secret itself."""

    id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


def allows(role: str, needed: Role) -> bool:
    """Whether ``role`` is at least ``needed``."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def hash_key(secret: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    """Creates, checks, lists and revokes API keys in lanza's database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, name: str, role: str) -> tuple[KeyInfo, str]:
        """A new key; the secret is returned here and never again."""
        if role not in ROLES:
            raise InvalidInputError(f"Unknown role '{role}'; use one of {', '.join(ROLES)}.")
        key_id = secrets.token_hex(6)
        secret = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        row = ApiKey(id=key_id, name=name, role=role, hash=hash_key(secret), created_at=utcnow())
        with self._db.session() as session:
            session.add(row)
        return _info(row), secret

    def check(self, secret: str) -> KeyInfo | None:
        """The live key matching ``secret``, or ``None``."""
        with self._db.session() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.hash == hash_key(secret)))
            if row is None or row.revoked_at is not None:
                return None
            return _info(row)

    def list(self) -> list[KeyInfo]:
        """Every key, revoked ones included."""
        with self._db.session() as session:
            return [_info(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.created_at))]

    def active(self) -> dict[str, KeyInfo]:
        """Every live key by its stored hash: the whole set a server holds in memory."""
        with self._db.session() as session:
            rows = session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None)))
            return {r.hash: _info(r) for r in rows}

    def any_active(self) -> bool:
        """Whether at least one key is live (keys then become mandatory)."""
        with self._db.session() as session:
            return (
                session.scalar(select(ApiKey.id).where(ApiKey.revoked_at.is_(None)).limit(1))
                is not None
            )

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke a key by id."""
        with self._db.session() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise NotFoundError(f"There is no API key with id '{key_id}'.")
            row.revoked_at = row.revoked_at or utcnow()
            return _info(row)


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.role, row.created_at, row.revoked_at)  # type: ignore[arg-type]
