"""lanza's database migrates on sqlite and on Postgres, and migrating twice is harmless."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from lanza.errors import UnavailableError
from lanza.store import Database


def _check(url: str) -> None:
    db = Database(url)
    db.migrate()
    db.migrate()
    tables = set(inspect(db.engine).get_table_names())
    assert {"alias_events", "lanza_alembic_version"} <= tables
    db.dispose()


def test_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path}/nested/lanza.db")


@pytest.mark.postgres
def test_postgres(postgres_url: str) -> None:
    _check(postgres_url)


def test_unreachable_database_is_one_sentence() -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(UnavailableError, match="cannot be used"):
        db.migrate()
