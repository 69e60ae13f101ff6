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


def test_the_heads_read_as_text_are_alembics() -> None:
    """The check that lets a migrated database skip Alembic reads the same heads it does."""
    from alembic.script import ScriptDirectory

    from lanza.store.database import MIGRATIONS
    from lanza.store.revisions import heads

    assert heads(MIGRATIONS / "versions") == set(ScriptDirectory(str(MIGRATIONS)).get_heads())


def test_a_database_behind_the_scripts_is_migrated(tmp_path: Path) -> None:
    """A database whose recorded revisions differ from the heads still reaches them."""
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path}/lanza.db")
    db.migrate()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE trace_projects"))
        connection.execute(
            text(
                "UPDATE lanza_alembic_version SET version_num = '0004' "
                "WHERE version_num = '0015_trace_project_end'"
            )
        )
    db.migrate()
    assert "trace_projects" in inspect(db.engine).get_table_names()
    db.dispose()


def test_a_script_the_text_reader_cannot_follow_leaves_it_to_alembic(tmp_path: Path) -> None:
    from lanza.store.revisions import heads

    (tmp_path / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (tmp_path / "b.py").write_text('revision = "b"\ndown_revision = ("a",)\n')
    assert heads(tmp_path) == {"b"}
    (tmp_path / "c.py").write_text('revision = "c"\ndown_revision = "b"\ndepends_on = "a"\n')
    heads.cache_clear()
    assert heads(tmp_path) == frozenset()
