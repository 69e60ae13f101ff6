"""Connection to lanza's database, with migrations applied on first use.

Every process that opens the database migrates it first, and nearly always finds it at
its newest revision already. Alembic (its import, its scripts, its environment) costs a
server's start a few hundred milliseconds to learn that; so the revisions the database
records are read first, compared with the heads of the migration scripts (read as text,
``lanza.store.revisions``), and Alembic runs only when they differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lanza.errors import UnavailableError
from lanza.store.revisions import VERSION_TABLE, heads

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    """An engine and session factory for one database URL (sqlite or Postgres)."""

    def __init__(self, url: str) -> None:
        self.url = _normalise(url)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(
            self.url, pool_pre_ping=True, connect_args=_connect_args(self.url)
        )
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Bring every subsystem's schema branch to its newest revision (idempotent)."""
        try:
            newest = heads(MIGRATIONS / "versions")
            if newest and self.revisions() == newest:
                return
            from alembic import command
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "heads")
        except SQLAlchemyError as exc:
            raise UnavailableError(
                f"lanza's database at {self.safe_url} cannot be used: "
                f"{str(getattr(exc, 'orig', None) or exc).splitlines()[0]}."
            ) from exc

    def revisions(self) -> frozenset[str]:
        """The revisions the database records as applied; none in a new database."""
        with self.engine.connect() as connection:
            if not connection.dialect.has_table(connection, VERSION_TABLE):
                return frozenset()
            rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
            return frozenset(str(row[0]) for row in rows)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _normalise(url: str) -> str:
    # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _connect_args(url: str) -> dict[str, str]:
    # psycopg prepares a statement after five runs, and Postgres then keeps one generic plan
    # for it, made while the table was small: a seq scan that a growing, not yet analysed
    # table (trace ingest, prediction log) turns into seconds per lookup. Plan every run.
    if url.startswith("postgresql"):
        return {"options": "-c plan_cache_mode=force_custom_plan"}
    return {}


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # WAL lets readers go on while a writer commits; several processes share the file.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
