"""Read one model version straight from a local MLflow store (sqlite), without MLflow.

Importing MLflow and its SQL stores costs a process about 1.6 s and 100 MB on a
2-core machine, more than ``lanza batch`` needs to score a million rows. A job that only
has to know which version ``NAME@ALIAS`` or ``NAME/VERSION`` means reads it here, with
the standard library's ``sqlite3``, read-only, in a millisecond.

This reads MLflow's tables, which MLflow may change: every query names its columns,
and any surprise (another database, a missing table or column, MLflow workspaces in
use, the ``latest`` pseudo-alias, no such model) answers ``None``, so the caller asks
MLflow itself, which also words the error. Tests hold the answers equal to MLflow's.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from lanza.registry.references import parse_reference
from lanza.registry.versions import ModelVersionInfo

DELETED = "Deleted_Internal"  # MLflow's stage for a version deleted from the registry
DEFAULT_WORKSPACE = "default"
_VERSION_COLUMNS = "name, version, source, run_id, status, description, creation_time"


def sqlite_path(tracking_uri: str) -> Path | None:
    """The file of a ``sqlite:///…`` URI (SQLAlchemy's form), or ``None`` for anything else."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    path = unquote(tracking_uri[len(prefix) :].split("?", 1)[0])
    return Path(path) if path and path != ":memory:" else None


def read_version(tracking_uri: str, reference: str) -> ModelVersionInfo | None:
    """The version ``reference`` points to now, when the store can say so plainly."""
    path = sqlite_path(tracking_uri)
    if path is None or not path.is_file() or _workspaces_in_use():
        return None
    try:
        ref = parse_reference(reference)
    except Exception:
        return None
    if ref.name is None or (ref.alias is not None and ref.alias.lower() == "latest"):
        return None
    try:
        with closing(_connect(path)) as connection:
            scope = _scope(connection)
            if ref.alias is not None:
                row = connection.execute(
                    "SELECT version FROM registered_model_aliases "
                    f"WHERE name = ? AND alias = ?{scope}",
                    (ref.name, ref.alias),
                ).fetchone()
                if row is None:
                    return None
                number = str(row[0])
            else:
                assert ref.version is not None
                number = ref.version
            return _version(connection, scope, ref.name, number)
    except (sqlite3.Error, ValueError, TypeError):
        return None


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)


def _workspaces_in_use() -> bool:
    enabled = os.environ.get("MLFLOW_ENABLE_WORKSPACES", "").strip().lower()
    return bool(os.environ.get("MLFLOW_WORKSPACE")) or enabled in {"1", "true", "yes"}


def _scope(connection: sqlite3.Connection) -> str:
    """The workspace filter, on an MLflow new enough to have workspaces."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(model_versions)")}
    if not columns:
        raise ValueError("no model_versions table")
    return f" AND workspace = '{DEFAULT_WORKSPACE}'" if "workspace" in columns else ""


def _version(
    connection: sqlite3.Connection, scope: str, name: str, number: str
) -> ModelVersionInfo | None:
    row = connection.execute(
        f"SELECT {_VERSION_COLUMNS}, current_stage FROM model_versions "
        f"WHERE name = ? AND version = ?{scope}",
        (name, int(number)),
    ).fetchone()
    if row is None or row[7] == DELETED:
        return None
    aliases = connection.execute(
        f"SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ?{scope}",
        (name, int(number)),
    ).fetchall()
    tags = connection.execute(
        f"SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?{scope}",
        (name, int(number)),
    ).fetchall()
    created = row[6]
    return ModelVersionInfo(
        name=str(row[0]),
        version=str(row[1]),
        aliases=sorted(str(a[0]) for a in aliases),
        source=str(row[2] or ""),
        run_id=row[3] or None,
        status=str(row[4]),
        description=str(row[5] or ""),
        tags={str(k): str(v) for k, v in tags},
        created_at=datetime.fromtimestamp(created / 1000, UTC) if created else datetime.now(UTC),
    )
