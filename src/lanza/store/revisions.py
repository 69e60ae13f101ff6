"""The head revisions of lanza's migration scripts, read as text, without Alembic.

Each script under ``migrations/versions`` names itself (``revision = "..."``) and its
parents (``down_revision``: a name, a tuple of names for a merge, or ``None``); the heads
are the revisions no script names as a parent, one per subsystem's branch. A script this
reader cannot follow (``depends_on`` set, a field that is not a literal) gives no heads,
and the caller then asks Alembic, which reads the scripts the full way. A test holds
these heads equal to Alembic's.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

VERSION_TABLE = "lanza_alembic_version"  # MLflow keeps its own alembic_version
FIELDS = ("revision", "down_revision", "depends_on")


@cache
def heads(folder: Path) -> frozenset[str]:
    """The revisions of ``folder``'s scripts that no script revises; empty when unsure."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(folder.glob("*.py")):
        fields = _fields(path)
        if fields is None or fields.get("depends_on") is not None:
            return frozenset()
        revision, down = fields.get("revision"), fields.get("down_revision")
        if not isinstance(revision, str):
            return frozenset()
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple) and all(isinstance(d, str) for d in down):
            parents.update(down)
        elif down is not None:
            return frozenset()
    return frozenset(revisions - parents)


def _fields(path: Path) -> dict[str, object] | None:
    """The revision fields one script assigns at module level, or ``None`` when one of
    them is not a literal."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name) or target.id not in FIELDS:
            continue
        try:
            found[target.id] = ast.literal_eval(value)
        except ValueError:
            return None
    return found
