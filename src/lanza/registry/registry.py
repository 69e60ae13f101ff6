"""The model registry: MLflow's, through an explicit ``MlflowClient``, with aliases only.

MLflow stages are deprecated; lanza uses aliases (``champion`` serves production,
``challenger`` waits for its chance) and records every alias move in its own history,
because MLflow keeps none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from lanza.errors import ConflictError, LanzaError, NotFoundError, RegistryUnavailableError
from lanza.registry.history import AliasHistory, AliasMove, new_move, previous_version
from lanza.registry.references import ModelReference, parse_reference
from lanza.registry.versions import ARCHIVED_TAG, ModelVersionInfo

CHAMPION = "champion"
CHALLENGER = "challenger"

T = TypeVar("T")

__all__ = ["ARCHIVED_TAG", "CHALLENGER", "CHAMPION", "ModelInfo", "ModelVersionInfo", "Registry"]


@dataclass(frozen=True)
class ModelInfo:
    """A registered model with its aliases."""

    name: str
    description: str
    aliases: dict[str, str]
    latest_version: str | None
    tags: dict[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None


class Registry:
    """Register, look up and move aliases of models in MLflow's registry."""

    def __init__(self, client: MlflowClient, history: AliasHistory, actor: str) -> None:
        self.client = client
        self.history = history
        self.actor = actor

    # -- reading ---------------------------------------------------------------

    def check(self) -> None:
        """Fail fast with one sentence when the tracking server cannot be reached."""
        uri = str(self.client.tracking_uri)
        if uri.startswith(("http://", "https://")):
            try:
                httpx.get(uri.rstrip("/") + "/health", timeout=5.0).raise_for_status()
            except httpx.HTTPError as exc:
                raise RegistryUnavailableError(
                    f"The MLflow registry at {uri} cannot be reached ({exc.__class__.__name__})."
                ) from exc
        with self._mlflow():
            self.client.search_registered_models(max_results=1)

    def list_models(self) -> list[ModelInfo]:
        """Every registered model, by name."""
        with self._mlflow():
            found = list(self._paged(self.client.search_registered_models))
        return sorted((self._model_info(m) for m in found), key=lambda m: m.name)

    def get_model(self, name: str) -> ModelInfo:
        """One registered model."""
        with self._mlflow(f"There is no registered model named '{name}'."):
            return self._model_info(self.client.get_registered_model(name))

    def list_versions(self, name: str) -> list[ModelVersionInfo]:
        """The versions of a model, newest first."""
        model = self.get_model(name)
        with self._mlflow():
            found = list(
                self._paged(
                    lambda **kw: self.client.search_model_versions(f"name = '{name}'", **kw)
                )
            )
        # Searches leave aliases out; the model itself knows where each alias points.
        by_version: dict[str, list[str]] = {}
        for alias, version in model.aliases.items():
            by_version.setdefault(str(version), []).append(alias)
        versions = [
            replace(self._version_info(v), aliases=sorted(by_version.get(str(v.version), [])))
            for v in found
        ]
        return sorted(versions, key=lambda v: int(v.version), reverse=True)

    def get_version(self, name: str, version: str) -> ModelVersionInfo:
        """One model version."""
        with self._mlflow(f"Model '{name}' has no version {version}."):
            return self._version_info(self.client.get_model_version(name, str(version)))

    def resolve(self, reference: str | ModelReference) -> ModelVersionInfo:
        """The version a reference points to now (aliases are followed)."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        if ref.name is None:
            raise NotFoundError(f"'{ref}' is not a registered model reference.")
        if ref.alias is not None:
            self.get_model(ref.name)
            with self._mlflow(f"Model '{ref.name}' has no alias '{ref.alias}'."):
                found = self.client.get_model_version_by_alias(ref.name, ref.alias)
            return self._version_info(found)
        assert ref.version is not None
        return self.get_version(ref.name, ref.version)

    def alias_history(self, name: str) -> list[AliasMove]:
        """Every recorded alias move of a model, oldest first."""
        return self.history.moves(name)

    # -- writing ---------------------------------------------------------------

    def register(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: dict[str, str] | None = None,
        description: str = "",
    ) -> ModelVersionInfo:
        """Create a new version of ``name`` (and the model itself when it is new)."""
        with self._mlflow():
            try:
                self.client.get_registered_model(name)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
                self.client.create_registered_model(name)
            created = self.client.create_model_version(
                name, source, run_id=run_id, tags=tags or {}, description=description
            )
        return self._version_info(created)

    def set_alias(
        self,
        name: str,
        alias: str,
        version: str,
        action: str = "promote",
        reason: str | None = None,
    ) -> AliasMove:
        """Point ``alias`` at ``version`` and record the move."""
        target = self.get_version(name, version)
        if target.archived:
            raise ConflictError(
                f"{target.ref} is archived; promote another version or unarchive it first."
            )
        current = self._alias_target(name, alias)
        with self._mlflow():
            self.client.set_registered_model_alias(name, alias, str(version))
        move = new_move(name, alias, current, str(version), action, self.actor, reason)
        self.history.record(move)
        return move

    def remove_alias(self, name: str, alias: str, reason: str | None = None) -> AliasMove | None:
        """Delete an alias, if set, and record it."""
        current = self._alias_target(name, alias)
        if current is None:
            return None
        with self._mlflow():
            self.client.delete_registered_model_alias(name, alias)
        move = new_move(name, alias, current, None, "remove", self.actor, reason)
        self.history.record(move)
        return move

    def promote(
        self, name: str, version: str, alias: str = CHAMPION, reason: str | None = None
    ) -> AliasMove:
        """Move ``alias`` to ``version``; a challenger promoted to champion stops being one."""
        move = self.set_alias(name, alias, version, "promote", reason)
        if alias == CHAMPION and self._alias_target(name, CHALLENGER) == str(version):
            self.remove_alias(name, CHALLENGER, f"promoted to {CHAMPION}")
        return move

    def rollback(self, name: str, alias: str = CHAMPION) -> AliasMove:
        """Move ``alias`` back to the version it held before, from lanza's history."""
        target = previous_version(self.history.moves(name, alias))
        if target is None:
            raise ConflictError(
                f"Model '{name}' has no earlier '{alias}' version in lanza's history "
                "to roll back to."
            )
        self.get_version(name, target)
        return self.set_alias(name, alias, target, "rollback", "rollback")

    def archive(self, name: str, version: str, force: bool = False) -> ModelVersionInfo:
        """Take a version out of service: drop its aliases and tag it archived."""
        info = self.get_version(name, version)
        if CHAMPION in info.aliases and not force:
            raise ConflictError(
                f"{info.ref} is the {CHAMPION}; promote or roll back first, or pass --force."
            )
        for alias in info.aliases:
            self.remove_alias(name, alias, "archived")
        with self._mlflow():
            self.client.set_model_version_tag(name, str(version), ARCHIVED_TAG, "true")
        return self.get_version(name, version)

    def delete(self, name: str, version: str | None = None, force: bool = False) -> None:
        """Delete one version, or the whole model; refuses to delete the champion unforced."""
        if version is not None:
            info = self.get_version(name, version)
            if CHAMPION in info.aliases and not force:
                raise ConflictError(
                    f"{info.ref} is the {CHAMPION}; promote another version first, or pass --force."
                )
            for alias in info.aliases:
                self.remove_alias(name, alias, "deleted")
            with self._mlflow():
                self.client.delete_model_version(name, str(version))
            return
        model = self.get_model(name)
        if CHAMPION in model.aliases and not force:
            raise ConflictError(
                f"Model '{name}' has a {CHAMPION} serving; pass --force to delete it all."
            )
        with self._mlflow():
            self.client.delete_registered_model(name)
        self.history.forget(name)

    def set_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        """Set tags on a model version."""
        with self._mlflow():
            for key, value in tags.items():
                self.client.set_model_version_tag(name, str(version), key, value)

    # -- helpers ---------------------------------------------------------------

    def _alias_target(self, name: str, alias: str) -> str | None:
        return self.get_model(name).aliases.get(alias)

    @contextmanager
    def _mlflow(self, not_found: str | None = None) -> Iterator[None]:
        """Translate MLflow's exceptions into lanza's error tree."""
        try:
            yield
        except LanzaError:
            raise
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or (
                "not found" in str(exc).lower() and not_found
            ):
                raise NotFoundError(not_found or exc.message) from exc
            if exc.error_code == "RESOURCE_ALREADY_EXISTS":
                raise ConflictError(exc.message) from exc
            if exc.error_code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST"):
                raise ConflictError(exc.message) from exc
            raise RegistryUnavailableError(
                f"The MLflow registry at {self.client.tracking_uri} failed: {exc.message}"
            ) from exc
        except (OSError, httpx.HTTPError) as exc:
            raise RegistryUnavailableError(
                f"The MLflow registry at {self.client.tracking_uri} cannot be reached: {exc}."
            ) from exc

    @staticmethod
    def _paged(search: Callable[..., Any]) -> Iterator[Any]:
        token = None
        while True:
            page = search(max_results=200, page_token=token)
            yield from page
            token = page.token
            if not token:
                return

    @staticmethod
    def _model_info(model: Any) -> ModelInfo:
        latest = max((int(v.version) for v in model.latest_versions or []), default=None)
        return ModelInfo(
            name=model.name,
            description=model.description or "",
            aliases={k: str(v) for k, v in (model.aliases or {}).items()},
            latest_version=str(latest) if latest is not None else None,
            tags=dict(model.tags or {}),
            updated_at=_from_millis(model.last_updated_timestamp),
        )

    @staticmethod
    def _version_info(version: Any) -> ModelVersionInfo:
        return ModelVersionInfo(
            name=version.name,
            version=str(version.version),
            aliases=list(version.aliases or []),
            source=version.source,
            run_id=version.run_id,
            status=version.status,
            description=version.description or "",
            tags=dict(version.tags or {}),
            created_at=_from_millis(version.creation_timestamp) or datetime.now(UTC),
        )


def _from_millis(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, UTC) if value else None
