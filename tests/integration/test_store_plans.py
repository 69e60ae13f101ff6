"""Postgres plans every statement afresh, so a plan made on a small table never outlives it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from lanza.store import Database


@pytest.mark.postgres
def test_postgres_sessions_never_keep_a_generic_plan(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        with database.session() as session:
            assert session.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    finally:
        database.dispose()
