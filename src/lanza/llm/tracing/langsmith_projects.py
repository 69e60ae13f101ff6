"""Changing and deleting LangSmith projects: ``PATCH`` and ``DELETE /sessions/{id}``.

A change takes the fields the SDK's ``update_project`` sends (``name``, ``description``,
``extra``, ``end_time``); a field sent as null is left as it was. A project that exists
by its runs alone is recorded on its first change, with the id it had. Runs carry their
project's name, so a rename rewrites it in each of the project's runs; runs posted later
under the old name make a new project of that name, as they do in LangSmith.

Deleting a project deletes its runs, as LangSmith does (there the delete answers 202 and
the project's traces are removed in the background): here, before the answer, the
project's runs, the feedback on them, and the summaries and feedback of traces left with
no run. The answer counts the runs deleted. Traces already exported to MLflow stay
there. The project ``default`` holds what lanza's own SDK, OTLP and the gateway trace,
so it is neither deleted nor renamed (409).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select

from lanza.errors import ConflictError, InvalidInputError
from lanza.llm.tracing.langsmith_read import (
    LangSmithReader,
    _in_project,
    _project_of,
    _project_stats,
)
from lanza.llm.tracing.langsmith_views import DEFAULT_PROJECT
from lanza.llm.tracing.records import dumps
from lanza.llm.tracing.store import TraceStore
from lanza.llm.tracing.tables import TraceProject, TraceSpan


class ProjectChange(BaseModel):
    """The body of ``PATCH /sessions/{id}``; None leaves a field as it is."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    description: str | None = None
    extra: dict[str, Any] | None = None
    end_time: datetime | None = None


class ProjectEditor:
    """Renames, describes, ends and deletes projects, in LangSmith's shapes."""

    def __init__(self, reader: LangSmithReader, store: TraceStore) -> None:
        self.reader = reader
        self.store = store

    def update(self, project: str, body: Any) -> dict[str, Any]:
        """Change a project by id; 404 when none has it, 409 when the new name is taken."""
        change = _change(body)
        found = self.reader.project(project)
        old, made_id = found["name"], found["id"]
        new = change.name if change.name is not None and change.name != old else None
        if new is not None and old == DEFAULT_PROJECT:
            raise ConflictError(
                f"The project '{DEFAULT_PROJECT}' holds the traces lanza's SDK, OTLP and the "
                "gateway write; it cannot be renamed."
            )
        with self.reader.database.session() as session:
            if new is not None and (
                new == DEFAULT_PROJECT
                or session.scalar(select(TraceProject.id).where(TraceProject.name == new))
                or new in _project_stats(session, new)
            ):
                raise ConflictError(f"The project '{new}' exists already.")
            row = session.get(TraceProject, made_id)
            if row is None:
                row = TraceProject(
                    id=made_id, name=old, extra="{}", created_at=_epoch(found["start_time"])
                )
                session.add(row)
            if new is not None:
                row.name = new
            if change.description is not None:
                row.description = change.description
            if change.extra is not None:
                row.extra = dumps(change.extra)
            if change.end_time is not None:
                moment = change.end_time
                row.end_time = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
        if new is not None:
            self.store.set_metadata(self._renamed(old, new))
            self.reader.forget(made_id)
        return self.reader.project(made_id)

    def delete(self, project: str) -> dict[str, Any]:
        """Delete a project by id and every run in it; 404 when none has it."""
        found = self.reader.project(project)
        name = found["name"]
        if name == DEFAULT_PROJECT:
            raise ConflictError(
                f"The project '{DEFAULT_PROJECT}' holds the traces lanza's SDK, OTLP and the "
                "gateway write; it cannot be deleted."
            )
        with self.reader.database.session() as session:
            stmt = select(TraceSpan.id, TraceSpan.meta).where(_in_project(name))
            runs = [span_id for span_id, meta in session.execute(stmt) if _project_of(meta) == name]
        deleted = self.store.delete(runs)
        with self.reader.database.session() as session:
            row = session.get(TraceProject, found["id"])
            if row is not None:
                session.delete(row)
        self.reader.forget(found["id"])
        return {"id": found["id"], "name": name, "runs_deleted": deleted}

    def _renamed(self, old: str, new: str) -> dict[str, str]:
        """The new metadata of every run of project ``old``, by run id."""
        renamed: dict[str, str] = {}
        with self.reader.database.session() as session:
            stmt = select(TraceSpan.id, TraceSpan.meta).where(_in_project(old))
            for span_id, meta in session.execute(stmt):
                values = json.loads(meta)
                if values.get("project") == old:
                    renamed[span_id] = dumps({**values, "project": new})
        return renamed


def _change(body: Any) -> ProjectChange:
    if not isinstance(body, dict):
        raise InvalidInputError("A project change is a JSON object.")
    try:
        change = ProjectChange.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"A project's '{field}' is not valid: {first['msg']}.") from exc
    if change.name is not None and (not change.name.strip() or len(change.name) > 256):
        raise InvalidInputError("A project's 'name' is a text of 1 to 256 characters.")
    return change


def _epoch(text: str | None) -> float:
    if not text:
        return time.time()
    moment = datetime.fromisoformat(text)
    return moment.timestamp() if moment.timestamp() > 0 else time.time()
