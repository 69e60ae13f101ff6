"""LLM deployments kept in lanza's database, so they survive a restart."""

from __future__ import annotations

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from lanza.clock import utcnow
from lanza.errors import ConflictError, InvalidInputError, NotFoundError
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.tables import LLMDeploymentRow
from lanza.store import Database


class LLMDeploymentStore:
    """Create, read, replace and delete LLM deployments."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, spec: LLMDeploymentSpec) -> LLMDeploymentSpec:
        """Add a deployment; 409 if the name is taken."""
        with self.database.session() as session:
            if session.get(LLMDeploymentRow, spec.name) is not None:
                raise ConflictError(f"LLM deployment '{spec.name}' exists already.")
            self._check_fallback(session, spec)
            now = utcnow()
            session.add(
                LLMDeploymentRow(
                    name=spec.name, spec=spec.model_dump(), created_at=now, updated_at=now
                )
            )
        return spec

    def replace(self, spec: LLMDeploymentSpec) -> LLMDeploymentSpec:
        """Replace an existing deployment's spec."""
        with self.database.session() as session:
            row = session.get(LLMDeploymentRow, spec.name)
            if row is None:
                raise NotFoundError(f"There is no LLM deployment named '{spec.name}'.")
            self._check_fallback(session, spec)
            row.spec = spec.model_dump()
            row.updated_at = utcnow()
        return spec

    def get(self, name: str) -> LLMDeploymentSpec:
        """One deployment; 404 if missing."""
        with self.database.session() as session:
            row = session.get(LLMDeploymentRow, name)
            if row is None:
                raise NotFoundError(f"There is no LLM deployment named '{name}'.")
            return _spec(row)

    def list(self) -> list[LLMDeploymentSpec]:
        """Every deployment, by name."""
        with self.database.session() as session:
            rows = session.scalars(select(LLMDeploymentRow).order_by(LLMDeploymentRow.name))
            return [_spec(row) for row in rows]

    def delete(self, name: str) -> None:
        """Remove a deployment; 404 if missing, 409 if another falls back to it."""
        with self.database.session() as session:
            row = session.get(LLMDeploymentRow, name)
            if row is None:
                raise NotFoundError(f"There is no LLM deployment named '{name}'.")
            for other in session.scalars(select(LLMDeploymentRow)):
                if other.spec.get("fallback") == name:
                    raise ConflictError(
                        f"LLM deployment '{other.name}' falls back to '{name}'; change it first."
                    )
            session.delete(row)

    @staticmethod
    def _check_fallback(session: Session, spec: LLMDeploymentSpec) -> None:
        if spec.fallback and session.get(LLMDeploymentRow, spec.fallback) is None:
            raise InvalidInputError(
                f"The fallback '{spec.fallback}' is not an LLM deployment; create it first."
            )


def parse_spec(payload: dict[str, object]) -> LLMDeploymentSpec:
    """A spec from user input, with a one-sentence error naming the field."""
    try:
        return LLMDeploymentSpec.model_validate(payload)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        message = message[:1].upper() + message[1:] if not where else message
        raise InvalidInputError(
            f"LLM deployment field '{where}': {message}." if where else f"{message}."
        ) from exc


def _spec(row: LLMDeploymentRow) -> LLMDeploymentSpec:
    return LLMDeploymentSpec.model_validate(row.spec)
