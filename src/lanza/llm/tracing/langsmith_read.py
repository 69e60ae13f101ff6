"""The read side of the LangSmith face: runs, projects (sessions) and feedback queries.

A project is the ``session_name`` runs were posted with (kept in their metadata as
``project``); spans that came another way (lanza's SDK, OTLP, the gateway without a
caller's project) are in the project ``default``. Filters are LangSmith's language
(``langsmith_filter.py``); answers are LangSmith's shapes (``langsmith_views.py``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from lanza.errors import ConflictError, InvalidInputError, NotFoundError
from lanza.llm.tracing.langsmith_filter import Call, matches, parse
from lanza.llm.tracing.langsmith_views import (
    DEFAULT_PROJECT,
    as_uuid,
    feedback_view,
    iso,
    project_id,
    project_view,
    run_view,
    stored_ids,
)
from lanza.llm.tracing.records import dumps
from lanza.llm.tracing.tables import TraceFeedback, TraceProject, TraceSpan
from lanza.store import Database

_EDITABLE = {"score", "value", "correction", "comment"}


class LangSmithReader:
    """Queries over the trace tables, answered in LangSmith's shapes."""

    def __init__(self, database: Database) -> None:
        self.database = database
        # Project ids seen in answers, by id: the SDK reads a project before querying its
        # runs, so a query's ids are found here without scanning every span for names.
        self._names: dict[str, str] = {}

    def run(self, run_id: str) -> dict[str, Any]:
        """One run; 404 when it is not stored."""
        with self.database.session() as session:
            row = session.scalar(select(TraceSpan).where(TraceSpan.id.in_(stored_ids(run_id))))
            if row is None:
                raise NotFoundError(f"There is no run '{run_id}'.")
            children = session.scalars(select(TraceSpan.id).where(TraceSpan.parent_id == row.id))
            view = run_view(row, _made_ids(session))
            view["child_run_ids"] = [as_uuid(c) for c in children]
            _with_dotted_order(session, [view])
            _with_feedback_stats(session, [view])
        return view

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /runs/query``: a page of runs, newest first, and the next cursor."""
        limit = _int(body.get("limit"), 100, "limit")
        offset = _int(body.get("cursor"), 0, "cursor")
        filters = {
            k: parse(str(body[k])) for k in ("filter", "trace_filter", "tree_filter") if body.get(k)
        }
        with self.database.session() as session:
            names = self._project_names(session, body.get("session"))
            rows = list(session.scalars(_run_statement(body, names)))
            made = _made_ids(session)
            runs = [run_view(r, made) for r in rows if names is None or _project(r) in names]
            if filters:
                runs = _filtered(session, runs, filters)
            runs.sort(key=lambda r: r["start_time"], reverse=True)
            page = runs[offset : offset + limit]
            _with_dotted_order(session, page)
            _with_feedback_stats(session, page)
        more = offset + limit < len(runs)
        return {"runs": page, "cursors": {"next": str(offset + limit) if more else None}}

    def projects(
        self,
        name: str | None = None,
        name_contains: str | None = None,
        ids: list[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Projects with their run counts, tokens and cost, by name: made ones and run ones."""
        with self.database.session() as session:
            stats = _project_stats(session, name)
            made = _made_projects(session, name)
            made_ids = _made_ids(session)
        wanted = {str(_uuid(i, "project id")) for i in ids or []}
        found = []
        for project in sorted(stats.keys() | made.keys()):
            view = project_view(project, stats.get(project) or _no_runs(), made_ids)
            if project in made:
                view.update(made[project])
            self._names[view["id"]] = project
            if (
                (name is None or project == name)
                and (name_contains is None or name_contains.lower() in project.lower())
                and (not wanted or view["id"] in wanted)
            ):
                found.append(view)
        return found[offset : offset + limit]

    def project(self, project: str) -> dict[str, Any]:
        """One project by id; 404 when none has it."""
        for found in self.projects():
            if found["id"] == str(_uuid(project, "project id")):
                return found
        raise NotFoundError(f"There is no project '{project}'.")

    def create_project(self, body: Any, upsert: bool = False) -> dict[str, Any]:
        """``POST /sessions``: a project by name, with the id its maker gave (or a new one).

        409 when the name is taken (by a made project or by runs), unless ``upsert``: then
        a made project takes the new description and extra, and one that exists by its
        runs is recorded with the id it had.
        """
        name, made_id, description, extra = _project_body(body)
        with self.database.session() as session:
            row = session.scalar(select(TraceProject).where(TraceProject.name == name))
            taken = row is not None or bool(_project_stats(session, name))
            if taken and not upsert:
                raise ConflictError(f"The project '{name}' exists already.")
            if row is None:
                if taken or made_id is None:
                    made_id = project_id(name, _made_ids(session)) if taken else str(uuid.uuid4())
                elif session.get(TraceProject, made_id) is not None:
                    raise ConflictError(f"A project with id '{made_id}' exists already.")
                row = TraceProject(id=made_id, name=name, extra="{}", created_at=time.time())
                session.add(row)
            row.description = description
            row.extra = dumps(extra or {})
        return next(iter(self.projects(name=name)))

    def project_name(self, session_id: str) -> str | None:
        """The name of the project with this id (made or by runs), None when unknown."""
        try:
            _uuid(session_id, "project id")
        except InvalidInputError:
            return None
        with self.database.session() as session:
            names = self._project_names(session, [session_id]) or set()
        return next(iter(names), None)

    def forget(self, project_id: str) -> None:
        """Drop a changed or deleted project's id from the ids seen in answers."""
        self._names.pop(project_id, None)

    def feedback(
        self, run_ids: list[str], keys: list[str], limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Feedback on the given runs (all when none), with the given keys, oldest first."""
        stmt = select(TraceFeedback)
        if run_ids:
            stmt = stmt.where(TraceFeedback.run_id.in_([f for r in run_ids for f in stored_ids(r)]))
        if keys:
            stmt = stmt.where(TraceFeedback.key.in_(keys))
        stmt = stmt.order_by(TraceFeedback.created_at).offset(offset).limit(limit)
        with self.database.session() as session:
            return [feedback_view(row) for row in session.scalars(stmt)]

    def feedback_item(self, feedback_id: str) -> dict[str, Any]:
        """One feedback by id; 404 when it is not stored."""
        with self.database.session() as session:
            return feedback_view(self._feedback_row(session, feedback_id))

    def update_feedback(self, feedback_id: str, changes: Any) -> dict[str, Any]:
        """Change a feedback's score, value, correction or comment (``None`` clears one)."""
        if not isinstance(changes, dict) or not changes.keys() <= _EDITABLE:
            raise InvalidInputError(
                "A feedback update is an object of 'score', 'value', 'correction', 'comment'."
            )
        score = changes.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            raise InvalidInputError(f"'score' is a number, not {score!r}.")
        with self.database.session() as session:
            row = self._feedback_row(session, feedback_id)
            if "score" in changes:
                row.score = None if score is None else float(score)
            for key in ("value", "correction"):
                if key in changes:
                    setattr(row, key, None if changes[key] is None else dumps(changes[key]))
            if "comment" in changes:
                row.comment = None if changes["comment"] is None else str(changes["comment"])
            return feedback_view(row)

    def delete_feedback(self, feedback_id: str) -> None:
        """Remove one feedback; 404 when it is not stored."""
        with self.database.session() as session:
            session.delete(self._feedback_row(session, feedback_id))

    def _feedback_row(self, session: Session, feedback_id: str) -> TraceFeedback:
        stmt = select(TraceFeedback).where(TraceFeedback.id.in_(stored_ids(feedback_id)))
        row = session.scalar(stmt)
        if row is None:
            raise NotFoundError(f"There is no feedback '{feedback_id}'.")
        return row

    def _project_names(self, session: Session, ids: Any) -> set[str] | None:
        if not ids:
            return None
        wanted = {str(_uuid(i, "session id")) for i in (ids if isinstance(ids, list) else [ids])}
        # A made (or renamed) project's name is read by its id, never from what was seen.
        stmt = select(TraceProject.id, TraceProject.name).where(TraceProject.id.in_(wanted))
        made: dict[str, str] = dict(session.execute(stmt).tuples().all())
        wanted -= made.keys()
        if not wanted <= self._names.keys():
            made_ids = _made_ids(session)
            stats = _project_stats(session, None)
            self._names.update({project_id(n, made_ids): n for n in stats})
            self._names.update({v["id"]: n for n, v in _made_projects(session, None).items()})
        return {self._names[i] for i in wanted if i in self._names} | set(made.values())


def _run_statement(body: dict[str, Any], names: set[str] | None) -> Any:
    stmt = select(TraceSpan)
    for key, column in (("id", TraceSpan.id), ("trace", TraceSpan.trace_id)):
        if body.get(key):
            given = body[key] if isinstance(body[key], list) else [body[key]]
            stmt = stmt.where(column.in_([f for g in given for f in stored_ids(str(g))]))
    if body.get("parent_run"):
        stmt = stmt.where(TraceSpan.parent_id.in_(stored_ids(str(body["parent_run"]))))
    if body.get("run_type"):
        stmt = stmt.where(TraceSpan.run_type == str(body["run_type"]))
    if body.get("is_root") is not None:
        root = TraceSpan.parent_id.is_(None)
        stmt = stmt.where(root if body["is_root"] else ~root)
    if body.get("error") is not None:
        failed = TraceSpan.status == "error"
        stmt = stmt.where(failed if body["error"] else ~failed)
    if body.get("start_time"):
        stmt = stmt.where(TraceSpan.start_time >= _epoch(str(body["start_time"])))
    if names is not None:
        stmt = stmt.where(or_(*[_in_project(n) for n in names] or [TraceSpan.id.is_(None)]))
    return stmt


def _in_project(name: str) -> ColumnElement[bool]:
    """A cheap superset of a project's spans, checked exactly afterwards."""
    clause = TraceSpan.meta.contains(f'"project":{dumps(name)}', autoescape=True)
    if name == DEFAULT_PROJECT:
        return or_(clause, ~TraceSpan.meta.contains('"project":', autoescape=True))
    return clause


def _filtered(
    session: Session, runs: list[dict[str, Any]], filters: dict[str, Call]
) -> list[dict[str, Any]]:
    """Runs passing ``filter`` (the run), ``trace_filter`` (its root), ``tree_filter`` (any run)."""
    traces = {r["trace_id"] for r in runs}
    made = _made_ids(session)
    trace_rows = [run_view(r, made) for r in _spans_of(session, traces)]
    feedback = _feedback_by_run(session, traces)
    roots = {r["trace_id"]: r for r in trace_rows if r["parent_run_id"] is None}
    trees: dict[str, list[dict[str, Any]]] = {}
    for row in trace_rows:
        trees.setdefault(row["trace_id"], []).append(row)

    def passes(run: dict[str, Any]) -> bool:
        if "filter" in filters and not matches(filters["filter"], run, feedback.get(run["id"], [])):
            return False
        if "trace_filter" in filters:
            root = roots.get(run["trace_id"])
            if root is None or not matches(
                filters["trace_filter"], root, feedback.get(root["id"], [])
            ):
                return False
        if "tree_filter" in filters:
            tree = trees.get(run["trace_id"], [])
            return any(matches(filters["tree_filter"], t, feedback.get(t["id"], [])) for t in tree)
        return True

    return [r for r in runs if passes(r)]


def _with_dotted_order(session: Session, runs: list[dict[str, Any]]) -> None:
    """Each run's ``dotted_order``: start time and id of every ancestor, root first.

    The SDK sorts and nests child runs by it (``read_run(load_child_runs=True)``).
    """
    spans = _spans_of(session, {r["trace_id"] for r in runs})
    by_id = {view["id"]: view for view in map(run_view, spans)}
    for run in runs:
        parts: list[str] = []
        seen: set[str] = set()
        node: dict[str, Any] | None = run
        while node is not None and node["id"] not in seen:
            seen.add(node["id"])
            moment = datetime.fromisoformat(node["start_time"])
            parts.append(moment.strftime("%Y%m%dT%H%M%S%fZ") + node["id"])
            parent = node["parent_run_id"]
            node = by_id.get(parent) if parent else None
        run["dotted_order"] = ".".join(reversed(parts))


def _with_feedback_stats(session: Session, runs: list[dict[str, Any]]) -> None:
    """Each run's ``feedback_stats``: per key, how many and the mean score."""
    by_run = _feedback_by_run(session, {r["trace_id"] for r in runs})
    for run in runs:
        stats: dict[str, dict[str, Any]] = {}
        for item in by_run.get(run["id"], []):
            entry = stats.setdefault(item["key"], {"n": 0, "scores": []})
            entry["n"] += 1
            if item["score"] is not None:
                entry["scores"].append(item["score"])
        run["feedback_stats"] = {
            key: {"n": e["n"], "avg": sum(e["scores"]) / len(e["scores"]) if e["scores"] else None}
            for key, e in stats.items()
        }


def _spans_of(session: Session, traces: Iterable[str]) -> list[TraceSpan]:
    forms = [f for t in traces for f in stored_ids(t)]
    found: list[TraceSpan] = []
    for start in range(0, len(forms), 500):
        chunk = forms[start : start + 500]
        found.extend(session.scalars(select(TraceSpan).where(TraceSpan.trace_id.in_(chunk))))
    return found


def _feedback_by_run(session: Session, traces: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    forms = [f for t in traces for f in stored_ids(t)]
    by_run: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(forms), 500):
        chunk = forms[start : start + 500]
        for row in session.scalars(select(TraceFeedback).where(TraceFeedback.trace_id.in_(chunk))):
            run = as_uuid(row.run_id or row.trace_id) or ""
            by_run.setdefault(run, []).append(feedback_view(row))
    return by_run


def _project_stats(session: Session, name: str | None) -> dict[str, dict[str, Any]]:
    columns = (
        TraceSpan.meta,
        TraceSpan.start_time,
        TraceSpan.prompt_tokens,
        TraceSpan.completion_tokens,
        TraceSpan.cost_usd,
    )
    stmt = select(*columns)
    if name is not None:
        stmt = stmt.where(_in_project(name))
    stats: dict[str, dict[str, Any]] = {}
    for meta, start, prompt, completion, cost in session.execute(stmt):
        project = _project_of(meta)
        entry = stats.setdefault(project, _no_runs())
        entry["runs"] += 1
        entry["prompt_tokens"] += prompt or 0
        entry["completion_tokens"] += completion or 0
        if cost is not None:
            entry["cost"] = (entry["cost"] or 0.0) + cost
        if start is not None:
            entry["first"] = start if entry["first"] is None else min(entry["first"], start)
            entry["last"] = start if entry["last"] is None else max(entry["last"], start)
    return stats


def _no_runs() -> dict[str, Any]:
    return {
        "runs": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost": None,
        "first": None,
        "last": None,
    }


def _made_projects(session: Session, name: str | None) -> dict[str, dict[str, Any]]:
    """Made projects by name: what their views take from the row."""
    stmt = select(TraceProject)
    if name is not None:
        stmt = stmt.where(TraceProject.name == name)
    return {
        row.name: {
            "id": row.id,
            "description": row.description,
            "extra": json.loads(row.extra),
            "start_time": datetime.fromtimestamp(row.created_at, UTC).isoformat(),
            "end_time": iso(row.end_time),
        }
        for row in session.scalars(stmt)
    }


def _made_ids(session: Session) -> dict[str, str]:
    """The ids of made (or changed) projects, by name."""
    stmt = select(TraceProject.name, TraceProject.id)
    return dict(session.execute(stmt).tuples().all())


def _project_body(body: Any) -> tuple[str, str | None, str | None, dict[str, Any] | None]:
    """Name, id, description and extra of a ``POST /sessions`` body; 400 naming a bad one."""
    if not isinstance(body, dict):
        raise InvalidInputError("A project is a JSON object with a 'name'.")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise InvalidInputError("A project's 'name' is a text of 1 to 256 characters.")
    given = body.get("id")
    made_id = None if given is None else str(_uuid(given, "project id"))
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidInputError("A project's 'description' is a text.")
    extra = body.get("extra")
    if extra is not None and not isinstance(extra, dict):
        raise InvalidInputError("A project's 'extra' is an object.")
    return name, made_id, description, extra


def _project(row: TraceSpan) -> str:
    return _project_of(row.meta)


def _project_of(meta: str) -> str:
    return str(json.loads(meta).get("project") or DEFAULT_PROJECT)


def _uuid(value: Any, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise InvalidInputError(f"The {what} {value!r} is not a UUID.") from exc


def _int(value: Any, default: int, what: str) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"'{what}' is a whole number, not {value!r}.") from exc
    if number < 0:
        raise InvalidInputError(f"'{what}' cannot be negative.")
    return number


def _epoch(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInputError(f"'start_time' is not an ISO 8601 time: {text!r}.") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
