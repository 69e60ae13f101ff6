"""Deployments persisted in lanza's database, shared by every server worker and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lanza.clock import utcnow
from lanza.errors import ConflictError, NotFoundError
from lanza.serving.spec import DeploymentSpec
from lanza.serving.tables import DeploymentRow
from lanza.store import Database


@dataclass(frozen=True)
class StoredDeployment:
    """A spec with its bookkeeping."""

    spec: DeploymentSpec
    generation: int
    created_at: datetime
    updated_at: datetime


class DeploymentStore:
    """CRUD on deployments with REST semantics: create conflicts, update needs existence."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, spec: DeploymentSpec) -> StoredDeployment:
        """Persist a new deployment; 409 if the name is taken."""
        now = utcnow()
        row = DeploymentRow(
            name=spec.name, spec=spec.model_dump(), generation=1, created_at=now, updated_at=now
        )
        try:
            with self._db.session() as session:
                session.add(row)
        except IntegrityError as exc:
            raise ConflictError(f"Deployment '{spec.name}' already exists.") from exc
        return _stored(row)

    def get(self, name: str) -> StoredDeployment:
        """One deployment; 404 if missing."""
        with self._db.session() as session:
            row = session.get(DeploymentRow, name)
            if row is None:
                raise NotFoundError(f"There is no deployment named '{name}'.")
            return _stored(row)

    def list(self) -> list[StoredDeployment]:
        """Every deployment by name."""
        with self._db.session() as session:
            rows = session.scalars(select(DeploymentRow).order_by(DeploymentRow.name)).all()
            return [_stored(r) for r in rows]

    def update(self, spec: DeploymentSpec) -> StoredDeployment:
        """Replace a deployment's spec and bump its generation."""
        with self._db.session() as session:
            row = session.get(DeploymentRow, spec.name, with_for_update=True)
            if row is None:
                raise NotFoundError(f"There is no deployment named '{spec.name}'.")
            row.spec = spec.model_dump()
            row.generation += 1
            row.updated_at = utcnow()
            return _stored(row)

    def delete(self, name: str) -> None:
        """Remove a deployment; 404 if missing."""
        with self._db.session() as session:
            row = session.get(DeploymentRow, name)
            if row is None:
                raise NotFoundError(f"There is no deployment named '{name}'.")
            session.delete(row)


def _stored(row: DeploymentRow) -> StoredDeployment:
    return StoredDeployment(
        DeploymentSpec.model_validate(row.spec), row.generation, row.created_at, row.updated_at
    )
